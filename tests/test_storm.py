"""Storm mode: many incidents, bounded memory, streamed records, percentiles."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import pytest
from helpers import XM_PATH, cli, install, sends

from bp_integrate import history
from bp_integrate.emulator import EmulatorServer
from bp_integrate.engine.pace import LatencyHistogram


def test_storm_200_incidents_streams_records(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch)
    result = cli("replay", "lifecycle", "--count", "200", "--concurrency", "20", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["incidents_done"] == 200 and doc["events"] == 1000 and doc["requests"] == 1000
    assert doc["ok"] == 1000 and doc["failed"] == 0
    assert doc["events_per_s"] > 0
    lat = doc["latency"]
    assert lat["count"] == 1000
    assert 0 < lat["p50_ms"] <= lat["p95_ms"] <= lat["p99_ms"] <= lat["max_ms"]
    received = sends(emu, XM_PATH)
    assert len(received) == 1000
    # 200 distinct incidents, each its own lifecycle
    [run] = history.list_runs()
    ids: dict[str, int] = {}
    for record in history.read_records(run.path):
        if record["type"] == "send":
            ids[record["incident_id"]] = ids.get(record["incident_id"], 0) + 1
    assert len(ids) == 200 and set(ids.values()) == {5}
    assert history.count_lines(run.path, "send") == 1000 == run.counts["sent"]
    assert history.count_lines(run.path, "event") == 0  # storm runs keep no bodies


def test_storm_human_summary_and_failures(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "pagerduty", monkeypatch)
    emu.state.add_fault("/v2/enqueue", status=400, times=3)
    result = cli("replay", "flapping", "--count", "5", "--concurrency", "2")
    assert result.exit_code == 7
    assert "throughput:" in result.stdout and "events/s" in result.stdout
    assert "latency: p50" in result.stdout and "p99" in result.stdout
    assert "ok 17, failed 3, skipped 0 (400: 3)" in result.stdout


def test_histogram_size_is_fixed_and_percentiles_are_close() -> None:
    small, big = LatencyHistogram(), LatencyHistogram()
    small.record(1.0)
    rng = random.Random(7)
    values = [rng.lognormvariate(1.5, 0.8) for _ in range(100_000)]
    for v in values:
        big.record(v)
    assert big.size == small.size < 2500
    values.sort()
    for q in (50, 95, 99):
        exact = values[int(len(values) * q / 100) - 1]
        assert big.percentile(q) == pytest.approx(exact, rel=0.02)
    assert big.count == 100_000 and big.max_ms == max(values)
    assert LatencyHistogram().percentile(99) == 0.0


class CountingSender:
    """A fake sender that answers 202 after a short sleep and counts concurrency."""

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0
        self.calls = 0

    async def request(self, *args: Any) -> Any:
        from bp_integrate.http import Response

        self.calls += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(0.001)
        self.active -= 1
        return Response(202, {}, b'{"requestId":"r"}')

    async def aclose(self) -> None:
        return None


def _loaded(redactor: Any = None) -> Any:
    from bp_integrate.config import Installed
    from bp_integrate.engine.plan import Loaded, Target, build_redactor
    from bp_integrate.integrations import get

    target = Target(
        get("incidentio"),
        {"callback_url": "http://127.0.0.1:9/x", "secret": "abcd1234"},
        Installed("x", {}),
    )
    return Loaded([target], redactor or build_redactor([target]), [target])


def _storm(
    monkeypatch: pytest.MonkeyPatch, count: int, concurrency: int, rate: float | None
) -> tuple[Any, CountingSender, list[int]]:
    from bp_integrate.engine.consumer import Consumer
    from bp_integrate.engine.plan import BodySpec
    from bp_integrate.engine.run import Engine, RunOptions
    from bp_integrate.http import RetryPolicy
    from bp_integrate.scenarios import builtin

    fake = CountingSender()
    loaded = _loaded()
    scenario = builtin("lifecycle")
    assert scenario is not None
    in_flight_peaks: list[int] = []

    class Peaks(Consumer):
        def incident_done(self, done: int) -> None:
            in_flight_peaks.append(len(engine.in_flight))

    engine = Engine(
        scenario,
        loaded,
        loaded.secrets,
        BodySpec(),
        RetryPolicy(),
        RunOptions(count, concurrency, rate, storm=True),
        [Peaks()],
        sender_factory=lambda _n, _timings: fake,
    )
    report = asyncio.run(engine.run())
    return report, fake, in_flight_peaks


def test_storm_work_is_bounded_by_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[int] = []
    real_create_task = asyncio.create_task

    def counting_create_task(coro: Any, **kwargs: Any) -> Any:
        created.append(1)
        return real_create_task(coro, **kwargs)

    monkeypatch.setattr(asyncio, "create_task", counting_create_task)
    report, fake, peaks = _storm(monkeypatch, count=300, concurrency=7, rate=None)
    assert report.requests == fake.calls == 1500 and report.ok == 1500
    assert len(created) == 7  # one task per worker, not one per incident
    assert fake.peak <= 7 and max(peaks) <= 7
    assert report.latency.count == 1500 and report.latency.size == LatencyHistogram().size


def test_storm_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.perf_counter()
    report, _fake, _ = _storm(monkeypatch, count=4, concurrency=4, rate=100.0)
    elapsed = time.perf_counter() - started
    assert report.events == 20
    assert elapsed >= 0.18  # 20 events at 100/s: at least 19 intervals of 10 ms


def test_storm_with_show_secrets_records_no_secret(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers import PD_KEY, state_dir

    install(emu, "pagerduty", monkeypatch)
    # A target that echoes the key back in its error: the run file keeps its answer.
    emu.state.add_fault("/v2/enqueue", status=400, body=f"bad routing key {PD_KEY}", times=2)
    result = cli("replay", "comment", "--count", "3", "--show-secrets", "--json")
    assert result.exit_code == 7
    [run] = history.list_runs()
    failed = [r for r in history.read_records(run.path) if r.get("outcome") == "rejected"]
    assert [r["response"] for r in failed] == ["bad routing key ****"] * 2
    recorded = "".join(p.read_text() for p in state_dir().rglob("*") if p.is_file())
    assert PD_KEY not in recorded


def test_storm_to_loopback_ignores_http_proxy(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers import closed_port

    install(emu, "xmatters", monkeypatch)
    dead = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    result = cli("replay", "lifecycle", "--count", "4", "--json")
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["ok"] == 20


def test_storm_history_reaches_the_file_within_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Buffered for speed, yet a storm killed mid-way keeps what it sent a second ago."""
    from bp_integrate.engine import run as run_module
    from bp_integrate.engine.plan import BodySpec
    from bp_integrate.http import RetryPolicy
    from bp_integrate.redact import Redactor
    from bp_integrate.scenarios import builtin

    recorder = history.RunRecorder("replay lifecycle --count 1", "default", Redactor()).open()
    assert recorder.path is not None
    seen_on_disk: list[str] = []

    class SlowThirdSend(CountingSender):
        async def request(self, *args: Any) -> Any:
            if self.calls == 2:  # the third send stalls, as a slow target would
                await asyncio.sleep(run_module.FLUSH_INTERVAL + 0.4)
                assert recorder.path is not None
                seen_on_disk.append(recorder.path.read_text())
            return await super().request(*args)

    loaded = _loaded()
    scenario = builtin("lifecycle")
    assert scenario is not None
    engine = run_module.Engine(
        scenario,
        loaded,
        loaded.secrets,
        BodySpec(),
        RetryPolicy(),
        run_module.RunOptions(1, 1, None, storm=True),
        [run_module.HistoryConsumer(recorder, compact=True)],
        sender_factory=lambda _n, _timings: SlowThirdSend(),
    )
    report = asyncio.run(engine.run())
    recorder.close("success")
    assert report.requests == 5
    [snapshot] = seen_on_disk
    assert snapshot.count('"type":"send"') == 2 and snapshot.startswith('{"type":"run"')
    assert recorder.flush_each_line is False  # storm mode buffers between flushes


def test_storm_makes_no_deep_copy_per_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bodies are rendered fresh from the simulator's state: nothing is deep-copied."""
    import copy

    def no_deepcopy(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a storm event was deep-copied")

    monkeypatch.setattr(copy, "deepcopy", no_deepcopy)
    report, fake, _ = _storm(monkeypatch, count=40, concurrency=5, rate=None)
    assert report.ok == fake.calls == 200


def test_worker_recorder_hands_over_redacted_lines() -> None:
    """A storm worker's recorder gathers lines in memory until taken (flat memory); the
    parent's recorder appends them, masking again what it knows."""
    from bp_integrate.redact import Redactor

    secret = "s3cr3t-api-key-123"
    worker = history.RunRecorder("", "", Redactor([secret])).in_memory()
    worker.send(1, {"integration": "x", "response": f"echo {secret}"}, False)
    worker.send(3, {"integration": "x", "url": "http://h/p?apiKey=other-key-456"}, True)
    text = worker.take()
    assert worker.take() == "" and worker.counts.sent == 2 and worker.counts.failed == 1
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["seq"] for line in lines] == [1, 3]
    assert lines[0]["response"] == "echo ****" and "other-key-456" not in text
    parent = history.RunRecorder("replay lifecycle --count 2", "default", Redactor([secret]))
    parent.open()
    parent.write_lines(text + json.dumps({"type": "note", "leak": secret}) + "\n")
    parent.close("success")
    assert parent.path is not None
    written = parent.path.read_text()
    assert secret not in written and written.count('"type":"send"') == 2
