"""The run engine: N test incidents through a scenario, C at a time, at most R events/s.

One producer, many consumers: the engine sends, judges each step against the scenario's
expectations, and hands a `StepReport` to its consumers (the replay timeline, JSON lines,
the storm progress bar, the history recorder); none of them sends. send-test is a
one-step scenario without cleanup; replay is N = 1; storm mode is N > 1 with compact
records. Memory does not grow with N: C workers pull the next incident number from a
counter (no list of N tasks), step reports are kept only when N = 1, and latencies go
into a fixed-size histogram.

While a run goes on, Ctrl-C (and SIGTERM, through `run_sync`) cancels the sends in
flight; every test incident left open on a target (or maybe open: a send cut short) is
then closed there, unless cleanup is off, and the report says so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bp_integrate.bigpanda.events import CLOSING_EVENTS, OPENING_EVENTS
from bp_integrate.bigpanda.webhook import BodySpec
from bp_integrate.engine.consumer import Consumer, StepReport
from bp_integrate.engine.outcome import failure_detail, verdict
from bp_integrate.engine.pace import LatencyHistogram, RateLimiter
from bp_integrate.engine.plan import IncidentPlan, Loaded, Target
from bp_integrate.engine.send import SendResult, deliver
from bp_integrate.errors import ExitCode
from bp_integrate.http import AsyncSender, RetryPolicy, async_sender
from bp_integrate.integrations.base import Skipped
from bp_integrate.loop import new_event_loop
from bp_integrate.redact import Redactor
from bp_integrate.scenarios import Scenario, ScenarioStep
from bp_integrate.signals import sigterm_as_ctrl_c

#: The most distinct skip reasons a run's summary keeps (the count is always whole).
SKIP_REASONS_KEPT = 8
#: How often consumers that buffer (the storm's history) are asked to flush (seconds).
FLUSH_INTERVAL = 1.0


@dataclass(frozen=True)
class RunOptions:
    count: int = 1
    concurrency: int = 1
    rate: float | None = None
    cleanup: bool = True
    #: The incident id of a single-incident run (default: a new one).
    incident_id: str | None = None
    #: Storm mode: answers are not kept for good sends, reports are not kept in memory,
    #: and the history gets compact lines.
    storm: bool = False
    #: Storm mode on W processes (engine.workers): this engine is worker `worker` of
    #: `workers`, so its `seq` numbers are worker+1, worker+1+W, ... (none shared).
    worker: int = 0
    workers: int = 1
    #: The profile the run sends for, so hints name it (`--profile P`) when not the default.
    profile: str | None = None


@dataclass
class RunReport:
    """The whole run: counts, latency, the steps (single incident), cleanup, outcome."""

    scenario: str
    count: int = 1
    concurrency: int = 1
    incident_id: str = ""
    steps: list[StepReport] = field(default_factory=list)
    cleanup: list[StepReport] = field(default_factory=list)
    cleanup_note: str = ""
    interrupted: bool = False
    passed_units: int = 0
    failed_units: int = 0
    #: Target steps skipped with no expectation saying so (neither passed nor failed),
    #: and why: "panopta: ..." -> how many times (at most SKIP_REASONS_KEPT reasons).
    skipped_units: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    failure_kinds: set[str] = field(default_factory=set)
    incidents_done: int = 0
    events: int = 0
    requests: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    #: Processes the storm ran on (engine.workers); 1: this process.
    workers: int = 1

    #: The plain counts of a run, which a storm's workers add up.
    COUNTERS: ClassVar[tuple[str, ...]] = (
        "incidents_done", "events", "requests", "ok", "failed", "skipped"
    )  # fmt: skip

    def counters(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTERS}

    def add_counters(self, counters: dict[str, int]) -> None:
        for name, n in counters.items():
            setattr(self, name, getattr(self, name) + n)

    def merge(self, other: RunReport) -> None:
        """Add a storm worker's report: counts summed, latency merged exactly (the whole
        run's percentiles, not an average of workers')."""
        self.add_counters(other.counters())
        self.passed_units += other.passed_units
        self.failed_units += other.failed_units
        self.skipped_units += other.skipped_units
        for reason, n in other.skip_reasons.items():
            self.note_skip(reason, n)
        self.failure_kinds |= other.failure_kinds
        for key, n in other.failures.items():
            self.failures[key] = self.failures.get(key, 0) + n
        self.latency.merge(other.latency)
        self.interrupted = self.interrupted or other.interrupted

    def note_skip(self, reason: str, n: int = 1) -> None:
        if reason in self.skip_reasons or len(self.skip_reasons) < SKIP_REASONS_KEPT:
            self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + n

    def units_line(self) -> str:
        """`4 passed, 0 failed, 1 skipped (panopta: why)`: counts that add up to the
        target steps of the run, each skip with its reason."""
        line = f"{self.passed_units} passed, {self.failed_units} failed"
        if self.skipped_units:
            reasons = "; ".join(self.skip_reasons)
            line += f", {self.skipped_units} skipped" + (f" ({reasons})" if reasons else "")
        return line

    def outcome(self) -> tuple[str, ExitCode]:
        return verdict(self.passed_units, self.failed_units, self.failure_kinds, self.interrupted)

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary_json(self) -> dict[str, Any]:
        """A single-incident run's closing JSON line."""
        outcome, code = self.outcome()
        return {
            "type": "summary",
            "scenario": self.scenario,
            "incident_id": self.incident_id,
            "outcome": outcome,
            "exit_code": int(code),
            "steps": len(self.steps),
            "passed": self.passed_units,
            "failed": self.failed_units,
            "skipped": self.skipped_units,
            "interrupted": self.interrupted,
            "cleanup": self.cleanup_note,
        }

    def storm_json(self) -> dict[str, Any]:
        """A storm's figures (its JSON document, and what its history's end line keeps)."""
        return {
            "scenario": self.scenario,
            "count": self.count,
            "concurrency": self.concurrency,
            "workers": self.workers,
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
        }


class HistoryConsumer(Consumer):
    """Writes the run to its history file as it goes (redacted by the recorder).

    A single incident's run keeps each body and each answer; a storm keeps compact send
    lines, buffered and flushed about once a second (a killed storm keeps what it sent
    a second ago).
    """

    def __init__(self, recorder: Any, compact: bool) -> None:
        self.recorder = recorder
        self.compact = compact
        self.wants_ticks = compact
        if compact:
            recorder.flush_each_line = False

    def started(self, seq: int, event: str, incident_id: str, body: dict[str, Any]) -> None:
        if self.compact:
            self.recorder.counts.events += 1
        else:
            self.recorder.event(seq, event, incident_id, body)

    def step(self, report: StepReport) -> None:
        recorder = self.recorder
        for result in report.results:
            if self.compact:
                record: dict[str, Any] = {
                    "integration": result.integration,
                    "event": report.event,
                    "incident_id": report.incident_id,
                    "status": result.status,
                    "outcome": result.outcome,
                    "latency_ms": round(result.latency_ms, 2),
                    "attempts": result.attempts,
                }
                if not result.ok:
                    record["error"] = result.error
                    record["response"] = result.response
            else:
                record = result.to_json()
            if report.cleanup:
                record["cleanup"] = True
            recorder.send(report.seq, record, result.ok)
        if self.compact:
            recorder.counts.skipped += len(report.skipped)
        elif not report.cleanup:
            for skip in report.skipped:
                recorder.skipped(report.seq, skip.integration, skip.event, skip.reason)

    def tick(self) -> None:
        self.recorder.flush()


@dataclass
class _Flight:
    """One incident being worked on: its plan, and the targets where it may be open."""

    plan: IncidentPlan
    open: set[str] = field(default_factory=set)


#: (most connections, timings wanted) -> the sender: `http.async_sender` unless a test's.
SenderFactory = Callable[[int, bool], AsyncSender]


class Engine:
    """Drives `options.count` incidents through `scenario`, `options.concurrency` at a time."""

    def __init__(
        self,
        scenario: Scenario,
        loaded: Loaded,
        redactor: Redactor,
        spec: BodySpec,
        policy: RetryPolicy,
        options: RunOptions,
        consumers: Sequence[Consumer] = (),
        sender_factory: SenderFactory = async_sender,
    ) -> None:
        self.scenario = scenario
        self.targets: list[Target] = list(loaded.targets)
        self.sources = loaded.sources
        self.redactor = redactor
        self.spec = spec
        self.policy = policy
        self.options = options
        self.consumers = list(consumers)
        self.sender_factory = sender_factory
        self.report = RunReport(scenario.name, options.count, options.concurrency)
        self._next = 0
        self._seq = 0
        self._limiter = RateLimiter(options.rate) if options.rate else None
        #: At most `concurrency` entries: the incidents being worked on right now.
        self.in_flight: dict[int, _Flight] = {}
        #: The first incident is planned up front, so its id is known before a send.
        self._first: IncidentPlan | None = IncidentPlan(scenario, spec, options.incident_id)
        self.report.incident_id = self._first.incident_id
        self.tally = CleanupTally()

    @property
    def incident_id(self) -> str:
        return self.report.incident_id

    async def run(self) -> RunReport:
        options = self.options
        # A storm records each send's latency only: no connect/response split to measure.
        storm = options.storm
        sender = self.sender_factory(options.concurrency if storm else 100, not storm)
        started = time.perf_counter()
        ticker = None
        if any(c.wants_ticks for c in self.consumers):
            ticker = asyncio.create_task(self._tick())
        try:
            workers = [
                asyncio.create_task(self._worker(sender, n))
                for n in range(max(1, min(options.concurrency, options.count)))
            ]
            try:
                await asyncio.gather(*workers)
            except BaseException as exc:
                # Ctrl-C, or anything else (a read-back that broke): stop the other
                # workers, close what is open, then let it go on (clean-up is a guarantee).
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                if not isinstance(exc, asyncio.CancelledError):
                    await self._cleanup(sender)
                    raise
                self.report.interrupted = True
            self.report.elapsed_s = time.perf_counter() - started
            await self._cleanup(sender)
        finally:
            if ticker is not None:
                ticker.cancel()
                await asyncio.gather(ticker, return_exceptions=True)
            await sender.aclose()
        return self.report

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            for consumer in self.consumers:
                if consumer.wants_ticks:
                    consumer.tick()

    def _new_plan(self) -> IncidentPlan:
        first, self._first = self._first, None
        return first or IncidentPlan(self.scenario, self.spec)

    async def _worker(self, sender: AsyncSender, worker_id: int) -> None:
        while self._next < self.options.count:
            self._next += 1
            flight = _Flight(self._new_plan())
            self.in_flight[worker_id] = flight
            for index, step in enumerate(self.scenario.steps, start=1):
                if step.delay:
                    await asyncio.sleep(step.delay)
                if self._limiter is not None:
                    await self._limiter.acquire()
                await self._step(sender, flight, index, step)
            del self.in_flight[worker_id]
            await self._finish(sender, flight)
            self.report.incidents_done += 1
            for consumer in self.consumers:
                consumer.incident_done(self.report.incidents_done)

    async def _step(
        self,
        sender: AsyncSender,
        flight: _Flight,
        index: int,
        step: ScenarioStep,
        only: Sequence[Target] | None = None,
    ) -> StepReport:
        cleanup = only is not None
        targets = only if only is not None else self.targets
        planned = flight.plan.plan(step, targets, self.redactor, self.sources)
        self._seq += 1
        seq = (self._seq - 1) * self.options.workers + self.options.worker + 1
        report = self.report
        report.events += 1
        for consumer in self.consumers:
            consumer.started(seq, step.event, planned.incident_id, planned.body)
        requests = planned.requests
        opening = step.event in OPENING_EVENTS
        try:
            results = await deliver(
                sender, requests, self.policy, self.redactor, keep_response=not self.options.storm
            )
        except asyncio.CancelledError:
            if opening:  # sent or in flight: the target may have it open now
                flight.open.update(r.integration for r in requests)
            raise
        for result in results:
            if opening and (result.ok or result.maybe_received):
                # A timed-out opening send may have been taken: clean it up as if open.
                flight.open.add(result.integration)
            elif step.event in CLOSING_EVENTS and result.ok:
                flight.open.discard(result.integration)
            report.requests += 1
            report.latency.record(result.latency_ms)
            if result.ok:
                report.ok += 1
            else:
                report.failed += 1
                key = result.error_kind or str(result.status)
                report.failures[key] = report.failures.get(key, 0) + 1
        skipped = planned.skipped
        report.skipped += len(skipped)
        if cleanup:
            profile = self.options.profile
            problems = [
                f"{r.integration}: {failure_detail(r, profile)}" for r in results if not r.ok
            ]
        else:
            problems = self._judge(step, targets, results, skipped)
        step_report = StepReport(
            index, step.event, planned.incident_id, results, skipped, problems, cleanup, seq
        )
        if not self.options.storm:
            (report.cleanup if cleanup else report.steps).append(step_report)
        for consumer in self.consumers:
            consumer.step(step_report)
            if consumer.awaits_steps:
                await consumer.after_step(step_report)
        return step_report

    def _judge(
        self,
        step: ScenarioStep,
        targets: Sequence[Target],
        results: Sequence[SendResult],
        skipped: Sequence[Skipped],
    ) -> list[str]:
        """Each target's part of a step passes or fails (a unit); the problems in words."""
        report = self.report
        problems: list[str] = []
        for target in targets:
            name = target.name
            mine = [r for r in results if r.integration == name]
            skips = [s for s in skipped if s.integration == name]
            if not mine and not skips:
                continue
            expectation = step.expectation_for(name)
            if expectation is None:
                bad = [r for r in mine if not r.ok]
                for r in bad:
                    problems.append(f"{name}: {failure_detail(r, self.options.profile)}")
                    report.failure_kinds.add(r.outcome)
                if bad:
                    report.failed_units += 1
                elif mine:
                    report.passed_units += 1
                else:  # skipped, and nothing said it would be: counted, with why
                    report.skipped_units += 1
                    report.note_skip(f"{name}: {skips[0].reason}")
                continue
            checks = (
                [expectation.check(skipped=True, status=None, outcome=None)]
                if skips and not mine
                else [
                    expectation.check(skipped=False, status=r.status, outcome=r.outcome)
                    for r in mine
                ]
            )
            failures = [c for c in checks if c is not None]
            if failures:
                problems.extend(f"{name}: {c}" for c in failures)
                report.failed_units += 1
                kinds = {r.outcome for r in mine if not r.ok}
                report.failure_kinds |= kinds or {"expectation"}
            else:
                report.passed_units += 1
        return problems

    # ---- cleanup

    async def _finish(self, sender: AsyncSender, flight: _Flight) -> None:
        """An incident done with its scenario (or interrupted): close it where it is
        left open, unless cleanup is off."""
        if not flight.open:
            return
        tally = self.tally
        if not self.options.cleanup:
            tally.leave(flight)
            return
        by_event: dict[str, list[Target]] = {}
        for target in self.targets:
            if target.name in flight.open:
                by_event.setdefault(target.integration.close_event, []).append(target)
        failed = False
        tally.first_closed = tally.first_closed or flight.plan.incident_id
        for event, group in by_event.items():
            index = len(self.report.steps) + len(self.report.cleanup) + 1
            step_report = await self._step(sender, flight, index, ScenarioStep(event), group)
            bad = [r.integration for r in step_report.results if not r.ok]
            bad += [s.integration for s in step_report.skipped]
            # Target names, each once: bounded by the targets, whatever N is.
            tally.closed_on += [
                r.integration
                for r in step_report.results
                if r.ok and r.integration not in tally.closed_on
            ]
            tally.failed_on += [name for name in bad if name not in tally.failed_on]
            failed = failed or bool(bad)
        if failed:
            tally.unclosed += 1
        else:
            tally.closed += 1

    async def _cleanup(self, sender: AsyncSender) -> None:
        """After the run (or its interruption): close what the interrupted incidents left
        open, and say what was cleaned up."""
        for flight in list(self.in_flight.values()):
            await self._finish(sender, flight)
        self.in_flight.clear()
        self.report.cleanup_note = self.tally.note(self.options.count == 1, self.targets)


@dataclass
class CleanupTally:
    """What cleanup did, for the report's one line."""

    closed: int = 0
    unclosed: int = 0
    closed_on: list[str] = field(default_factory=list)
    failed_on: list[str] = field(default_factory=list)
    #: The id of the (first) incident cleanup closed, to name in a single run's note.
    first_closed: str = ""
    #: Incidents left open because cleanup is off (counted; the first one kept to name).
    left: int = 0
    first_left: _Flight | None = None

    def merge(self, other: CleanupTally) -> None:
        """Add a storm worker's cleanup (a storm's note counts; it names no incident)."""
        self.closed += other.closed
        self.unclosed += other.unclosed
        self.left += other.left
        self.first_left = self.first_left or other.first_left
        self.closed_on += [n for n in other.closed_on if n not in self.closed_on]
        self.failed_on += [n for n in other.failed_on if n not in self.failed_on]
        self.first_closed = self.first_closed or other.first_closed

    def leave(self, flight: _Flight) -> None:
        self.left += 1
        self.first_left = self.first_left or flight

    def note(self, single: bool, targets: Sequence[Target]) -> str:
        if self.first_left is not None:
            if single:
                flight = self.first_left
                names = ", ".join(t.name for t in targets if t.name in flight.open)
                return f"--no-cleanup: incident {flight.plan.incident_id} is left open on {names}"
            return f"--no-cleanup: {self.left} test incident(s) are left open"
        if not self.closed and not self.unclosed:
            if single:
                return "nothing to clean up: the test incident is not left open"
            return "nothing to clean up: no test incident is left open"
        if single:
            parts = []
            if self.closed_on:
                incident = self.first_closed
                parts.append(f"closed incident {incident} on {', '.join(self.closed_on)}")
            if self.failed_on:
                parts.append(
                    f"could NOT close it on {', '.join(self.failed_on)}: close it there by hand"
                )
            return "cleanup: " + "; ".join(parts)
        return f"cleanup: closed {self.closed} test incident(s) left open" + (
            f"; {self.unclosed} could not be closed: close them by hand" if self.unclosed else ""
        )


def run_sync(engine: Engine) -> RunReport:
    """Run the engine on a new event loop; Ctrl-C and SIGTERM stop it and clean up."""
    with sigterm_as_ctrl_c(), asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(engine.run())
