"""Storm mode on W processes: incidents shared out, one history, exact merges, every
worker cleaned up on Ctrl-C/SIGTERM, a dead worker reported (not waited for)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from helpers import XM_PATH, cli, install, sends

from bp_integrate import history
from bp_integrate.emulator import EmulatorServer
from bp_integrate.engine.pace import LatencyHistogram
from bp_integrate.engine.run import RunOptions, RunReport
from bp_integrate.engine.workers import (
    MIN_EVENTS_FOR_WORKERS,
    PER_WORKER_RATE,
    available_cores,
    choose_workers,
    worker_options,
)


def test_two_workers_share_out_incidents_and_write_one_history(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch)
    result = cli(
        "replay", "lifecycle", "--count", "41", "--concurrency", "6", "--workers", "2", "--json"
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["workers"] == 2 and doc["concurrency"] == 6
    assert doc["incidents_done"] == 41 and doc["events"] == 205 and doc["ok"] == 205
    assert doc["latency"]["count"] == 205 and doc["failed"] == 0
    assert doc["cleanup"] == "nothing to clean up: no test incident is left open"
    assert len(sends(emu, XM_PATH)) == 205
    [run] = history.list_runs()
    records = list(history.read_records(run.path))
    assert records[0]["options"]["workers"] == 2
    sent = [r for r in records if r["type"] == "send"]
    assert len(sent) == 205 == run.counts["sent"] == run.counts["ok"]
    per_incident: dict[str, int] = {}
    for record in sent:
        per_incident[record["incident_id"]] = per_incident.get(record["incident_id"], 0) + 1
    assert len(per_incident) == 41 and set(per_incident.values()) == {5}
    seqs = [r["seq"] for r in sent]
    # Worker 0 numbers its steps 1, 3, 5, ... (105 of them), worker 1 2, 4, ... (100).
    assert sorted(seqs) == sorted([*range(1, 210, 2), *range(2, 201, 2)])
    assert records[-1]["type"] == "end" and records[-1]["storm"]["workers"] == 2


def test_one_worker_runs_in_this_process(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bp_integrate.engine import workers

    def no_process(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("W = 1 must not start a process")

    monkeypatch.setattr(workers.subprocess, "Popen", no_process)
    install(emu, "xmatters", monkeypatch)
    result = cli("replay", "lifecycle", "--count", "3", "--workers", "1", "--json")
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["workers"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "5", "--workers", "0"], "--workers must be between 1 and 64, got 0."),
        (["--count", "5", "--workers", "65"], "--workers must be between 1 and 64, got 65."),
        (["--workers", "2"], "--workers applies only to storm mode: add --count N."),
    ],
)
def test_workers_option_is_checked(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    install(emu, "xmatters", monkeypatch)
    result = cli("replay", "lifecycle", *args)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert sends(emu, XM_PATH) == []


def test_worker_options_share_out_without_overlap() -> None:
    options = RunOptions(count=11, concurrency=7, rate=300.0, incident_id="abc", storm=True)
    parts = [worker_options(options, i, 3) for i in range(3)]
    assert [p.count for p in parts] == [4, 4, 3]  # incidents 0,3,6,9 / 1,4,7,10 / 2,5,8
    assert [p.concurrency for p in parts] == [3, 2, 2]
    assert [p.rate for p in parts] == [100.0, 100.0, 100.0]
    assert [p.incident_id for p in parts] == ["abc", None, None]
    assert [(p.worker, p.workers) for p in parts] == [(0, 3), (1, 3), (2, 3)]
    assert worker_options(replace(options, rate=None), 1, 3).rate is None


def test_choose_workers() -> None:
    big = MIN_EVENTS_FOR_WORKERS
    cores = available_cores()
    assert choose_workers(None, big, 1000, None, 5) == cores
    assert choose_workers(None, big, 1000, PER_WORKER_RATE / 2, 5) == 1  # one keeps up
    assert choose_workers(None, 10, 1000, None, 5) == 1  # too small to pay for a process
    assert choose_workers(4, 3, 1000, None, 5) == 3  # no more workers than incidents
    assert choose_workers(4, big, 2, None, 5) == 2  # each keeps one incident in flight
    assert choose_workers(3, big, 50, 1.0, 5) == 3  # asked for: given


def test_reports_merge_exactly() -> None:
    rng = random.Random(3)
    whole, parts = RunReport("s"), [RunReport("s"), RunReport("s")]
    for n in range(5000):
        value = rng.lognormvariate(1.0, 1.0)
        whole.latency.record(value)
        parts[n % 2].latency.record(value)
        parts[n % 2].requests += 1
    parts[0].failures = {"400": 2}
    parts[1].failures = {"400": 1, "timeout": 4}
    merged = RunReport("s")
    for part in parts:
        merged.merge(part)
    assert merged.requests == 5000 and merged.failures == {"400": 3, "timeout": 4}
    assert merged.latency.to_json() == whole.latency.to_json()
    assert merged.latency.size == LatencyHistogram().size


# --------------------------------------------------------------------------- processes

SLOW = "name: slow\nsteps:\n  - new\n  - event: updated\n    delay: {delay}\n"


def _popen_storm(tmp_path: Path, delay: int, count: int) -> Any:
    """`bp-integrate replay slow.yaml --count N --workers 2 --json` in a subprocess:
    each incident's incident#new, then `delay` seconds, then incident#updated."""
    path = tmp_path / "slow.yaml"
    path.write_text(SLOW.format(delay=delay))
    storm = ["--count", str(count), "--concurrency", str(count), "--workers", "2", "--json"]
    return subprocess.Popen(
        [sys.executable, "-m", "bp_integrate", "replay", str(path), *storm],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _start_storm(tmp_path: Path, emu: EmulatorServer, delay: int, count: int) -> Any:
    """`_popen_storm`, once every incident#new reached PagerDuty."""
    process = _popen_storm(tmp_path, delay, count)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(emu.state.pagerduty_alerts()) == count:
            return process
        time.sleep(0.05)
    process.kill()
    raise AssertionError(
        "the storm's incidents never reached PagerDuty: " + str(process.communicate())
    )


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(n) for n in text.split()]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_sigterm_cleans_up_every_workers_incidents(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install(emu, "pagerduty", monkeypatch)
    process = _start_storm(tmp_path, emu, delay=60, count=6)
    assert len(_children(process.pid)) == 2
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 143, err  # 128 + SIGTERM, as a single replay
    alerts = emu.state.pagerduty_alerts()
    assert len(alerts) == 6
    assert all(a.actions == ["trigger", "resolve"] and a.status == "resolved" for a in alerts)
    doc = json.loads(out)
    assert doc["interrupted"] is True and doc["workers"] == 2
    assert doc["exit_code"] == 143  # the summary says what the process exits with
    assert doc["cleanup"] == "cleanup: closed 6 test incident(s) left open"
    assert "Traceback" not in err
    [run] = history.list_runs()
    assert run.outcome == "interrupted" and run.counts["sent"] == 12


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_worker_that_dies_is_reported_not_waited_for(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install(emu, "pagerduty", monkeypatch)
    process = _start_storm(tmp_path, emu, delay=2, count=4)
    victim = _children(process.pid)[0]
    os.kill(victim, signal.SIGKILL)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 7, err  # partial: the other worker's incidents passed
    doc = json.loads(out)
    assert doc["failures"] == {"worker died": 1} and doc["interrupted"] is False
    assert (
        "stopped (exit code -9); test incidents it had in flight may be left open"
        in (doc["cleanup"])
    )
    # The living worker's two incidents went through their scenario and were closed;
    # the dead one's stay as it left them (the note says so).
    actions = sorted(a.actions for a in emu.state.pagerduty_alerts())
    assert actions == [["trigger"]] * 2 + [["trigger", "trigger", "resolve"]] * 2


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_storm_stopped_while_workers_start_leaves_nothing_open(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install(emu, "pagerduty", monkeypatch)
    process = _popen_storm(tmp_path, delay=60, count=4)
    deadline = time.monotonic() + 20
    while len(_children(process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)  # the workers are still importing
    out, err = process.communicate(timeout=30)
    assert process.returncode == 143, err
    doc = json.loads(out)
    assert doc["interrupted"] is True and doc["failures"] == {}
    assert "Traceback" not in err
    # Whatever was opened before the stop reached a worker was closed again.
    assert all(a.status == "resolved" for a in emu.state.pagerduty_alerts())


def test_two_workers_human_summary(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    install(emu, "xmatters", monkeypatch)
    result = cli("replay", "lifecycle", "--count", "10", "--concurrency", "4", "--workers", "2")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "10 incidents x lifecycle (5 events each), 4 at a time from 2 processes, to " in (
        " ".join(result.stderr.split())
    )
    assert result.stdout.startswith("10 incidents, 50 events, 50 requests in ")
    assert "ok 50, failed 0, skipped 0\n" in result.stdout
    assert "nothing to clean up: no test incident is left open" in result.stdout
