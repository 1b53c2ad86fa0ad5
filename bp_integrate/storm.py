"""Storm mode: N distinct incidents, each through its own scenario, C at a time.

Memory does not grow with N: C workers pull the next incident number from a shared
counter (no list of N tasks), each record goes straight to the run's history file
(streamed, buffered, flushed about once a second so a killed storm keeps what it sent),
and latencies go into a fixed-size log-bucket histogram
(`LatencyHistogram`, HDR-like: 1 % relative precision from 10 µs to 10 min) instead
of a list of N floats. An optional rate limit spaces the events evenly.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bp_integrate import payloads
from bp_integrate.history import RunRecorder
from bp_integrate.http import AsyncSender, RetryPolicy, SenderKind, async_sender
from bp_integrate.integrations.base import PlannedRequest, Skipped
from bp_integrate.redact import Redactor
from bp_integrate.scenarios import Scenario
from bp_integrate.sender import (
    CLOSING_EVENTS,
    OPENING_EVENTS,
    BodySpec,
    Target,
    deliver,
    plan_event,
    render_body,
)


class LatencyHistogram:
    """Latencies in logarithmic buckets: fixed memory, ~1 % error on any percentile."""

    def __init__(
        self, lowest_ms: float = 0.01, highest_ms: float = 600_000.0, precision: float = 0.01
    ) -> None:
        self.lowest_ms = lowest_ms
        self._log_base = math.log1p(precision)
        self._buckets = [0] * (int(math.log(highest_ms / lowest_ms) / self._log_base) + 2)
        self.count = 0
        self.total_ms = 0.0
        self.min_ms = math.inf
        self.max_ms = 0.0

    @property
    def size(self) -> int:
        """How many buckets it holds: fixed at creation, whatever is recorded."""
        return len(self._buckets)

    def _index(self, value_ms: float) -> int:
        if value_ms <= self.lowest_ms:
            return 0
        index = int(math.log(value_ms / self.lowest_ms) / self._log_base) + 1
        return min(index, len(self._buckets) - 1)

    def _value(self, index: int) -> float:
        if index == 0:
            return self.lowest_ms
        # The middle of the bucket, geometrically.
        return self.lowest_ms * math.exp((index - 0.5) * self._log_base)

    def record(self, value_ms: float) -> None:
        self._buckets[self._index(value_ms)] += 1
        self.count += 1
        self.total_ms += value_ms
        self.min_ms = min(self.min_ms, value_ms)
        self.max_ms = max(self.max_ms, value_ms)

    def percentile(self, q: float) -> float:
        """The q-th percentile (0-100) in ms; 0 when empty."""
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(self.count * q / 100.0))
        seen = 0
        for index, n in enumerate(self._buckets):
            seen += n
            if seen >= rank:
                return min(max(self._value(index), self.min_ms), self.max_ms)
        return self.max_ms

    def to_json(self) -> dict[str, float | int]:
        return {
            "count": self.count,
            "min_ms": round(self.min_ms, 3) if self.count else 0.0,
            "mean_ms": round(self.total_ms / self.count, 3) if self.count else 0.0,
            "p50_ms": round(self.percentile(50), 3),
            "p95_ms": round(self.percentile(95), 3),
            "p99_ms": round(self.percentile(99), 3),
            "max_ms": round(self.max_ms, 3),
        }


#: How often a storm pushes its buffered history lines to the run file (seconds).
FLUSH_INTERVAL = 1.0


class RateLimiter:
    """Spaces acquisitions `1/rate` seconds apart (shared by every worker)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = time.monotonic()

    async def acquire(self) -> None:
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass
class StormConfig:
    count: int
    concurrency: int
    rate: float | None = None
    sender: SenderKind = "httpx"
    cleanup: bool = True


@dataclass
class StormReport:
    scenario: str
    count: int
    concurrency: int
    incidents_done: int = 0
    events: int = 0
    requests: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    interrupted: bool = False
    cleanup_note: str = ""
    sender: str = "httpx"

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "count": self.count,
            "concurrency": self.concurrency,
            "incidents_done": self.incidents_done,
            "events": self.events,
            "requests": self.requests,
            "ok": self.ok,
            "failed": self.failed,
            "skipped": self.skipped,
            "failures": dict(self.failures),
            "elapsed_s": round(self.elapsed_s, 3),
            "events_per_s": round(self.events_per_s, 1),
            "requests_per_s": round(self.requests_per_s, 1),
            "latency": self.latency.to_json(),
            "interrupted": self.interrupted,
            "cleanup": self.cleanup_note,
            "sender": self.sender,
        }


Progress = Callable[[int], None]


@dataclass
class _InFlight:
    simulator: payloads.IncidentSimulator
    open: set[str] = field(default_factory=set)


class Storm:
    """Drives `config.count` incidents through `scenario`, `config.concurrency` at a time."""

    def __init__(
        self,
        scenario: Scenario,
        targets: Sequence[Target],
        redactor: Redactor,
        body_spec: BodySpec,
        policy: RetryPolicy,
        config: StormConfig,
        recorder: RunRecorder | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.scenario = scenario
        self.targets = list(targets)
        self.redactor = redactor
        self.body_spec = body_spec
        self.policy = policy
        self.config = config
        self.recorder = recorder
        self.progress = progress
        self.report = StormReport(
            scenario.name, config.count, config.concurrency, sender=config.sender
        )
        self._next = 0
        self._seq = 0
        self._limiter = RateLimiter(config.rate) if config.rate else None
        #: At most `concurrency` entries: the incidents being worked on right now.
        self.in_flight: dict[int, _InFlight] = {}

    async def run(self) -> StormReport:
        sender = async_sender(self.config.sender, max_connections=self.config.concurrency)
        started = time.perf_counter()
        flusher: asyncio.Task[None] | None = None
        if self.recorder is not None:
            # Buffered for speed, but never more than about a second behind the sends.
            self.recorder.flush_each_line = False
            flusher = asyncio.create_task(self._flush_history(self.recorder))
        try:
            workers = [
                asyncio.create_task(self._worker(sender, n))
                for n in range(max(1, self.config.concurrency))
            ]
            try:
                await asyncio.gather(*workers)
            except asyncio.CancelledError:
                self.report.interrupted = True
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
            self.report.elapsed_s = time.perf_counter() - started
            await self._cleanup(sender)
        finally:
            if flusher is not None:
                flusher.cancel()
                await asyncio.gather(flusher, return_exceptions=True)
            await sender.aclose()
        return self.report

    @staticmethod
    async def _flush_history(recorder: RunRecorder) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            recorder.flush()

    async def _worker(self, sender: AsyncSender, worker_id: int) -> None:
        while self._next < self.config.count:
            self._next += 1
            flight = _InFlight(
                payloads.IncidentSimulator(
                    tags=self.scenario.tags, test_marker=self.body_spec.test_marker
                )
            )
            self.in_flight[worker_id] = flight
            for step in self.scenario.steps:
                if step.delay:
                    await asyncio.sleep(step.delay)
                if self._limiter is not None:
                    await self._limiter.acquire()
                await self._send(sender, flight, step.event, step.sets, dict(step.tags))
            del self.in_flight[worker_id]
            self.report.incidents_done += 1
            if self.progress is not None:
                self.progress(self.report.incidents_done)

    async def _send(
        self,
        sender: AsyncSender,
        flight: _InFlight,
        event: str,
        sets: Sequence[tuple[str, str]] = (),
        tags: dict[str, str] | None = None,
        cleanup: bool = False,
        only: Sequence[Target] | None = None,
    ) -> None:
        body, incident = render_body(flight.simulator, event, self.body_spec, sets, tags or None)
        targets = only if only is not None else self.targets
        planned = plan_event(
            targets, event, incident, body, self.body_spec.send_options(), self.redactor
        )
        self._seq += 1
        seq = self._seq
        report = self.report
        report.events += 1
        if event in OPENING_EVENTS:
            flight.open.update(p.integration for p in planned if isinstance(p, PlannedRequest))
        results = await deliver(sender, planned, self.policy, self.redactor, keep_response=False)
        incident_id = flight.simulator.incident_id
        for result in results:
            report.requests += 1
            report.latency.record(result.latency_ms)
            if result.ok:
                report.ok += 1
                if event in CLOSING_EVENTS:
                    flight.open.discard(result.integration)
            else:
                report.failed += 1
                key = result.error_kind or str(result.status)
                report.failures[key] = report.failures.get(key, 0) + 1
            if self.recorder is not None:
                record = {
                    "integration": result.integration,
                    "event": event,
                    "incident_id": incident_id,
                    "status": result.status,
                    "outcome": result.outcome,
                    "latency_ms": round(result.latency_ms, 2),
                    "attempts": result.attempts,
                }
                if not result.ok:
                    record["error"] = result.error
                    record["response"] = result.response
                if cleanup:
                    record["cleanup"] = True
                self.recorder.send(seq, record, result.ok)
        skipped = [p for p in planned if isinstance(p, Skipped)]
        report.skipped += len(skipped)
        if self.recorder is not None:
            self.recorder.counts.events += 1
            self.recorder.counts.skipped += len(skipped)

    async def _cleanup(self, sender: AsyncSender) -> None:
        left = [(n, f) for n, f in self.in_flight.items() if f.open]
        if not left:
            self.report.cleanup_note = "nothing to clean up: no test incident is left open"
            return
        if not self.config.cleanup:
            self.report.cleanup_note = f"--no-cleanup: {len(left)} test incident(s) are left open"
            return
        closed = 0
        for _n, flight in left:
            group = [t for t in self.targets if t.name in flight.open]
            by_event: dict[str, list[Target]] = {}
            for target in group:
                by_event.setdefault(target.integration.close_event, []).append(target)
            for event, only in by_event.items():
                await self._send(sender, flight, event, cleanup=True, only=only)
            closed += 1
        still = sum(1 for _n, f in left if f.open)
        self.report.cleanup_note = (
            f"cleanup: closed {closed - still} interrupted test incident(s)"
            + (f"; {still} could not be closed: close them by hand" if still else "")
        )
        self.in_flight.clear()
