"""replay end to end: scenarios, exit codes, expectations, Ctrl-C cleanup, over loopback HTTP."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import PD_KEY, XM_PATH, cli, closed_port, install, sends

from bp_integrate.emulator import EmulatorServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "scenarios"
ALL = ("xmatters", "pagerduty", "incidentio", "panopta")


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_lifecycle_success_keeps_one_incident_id(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ALL:
        install(emu, name, monkeypatch)
    result = cli("replay", "lifecycle", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = json_lines(result.stdout)
    steps = [line for line in lines if line["type"] == "step"]
    assert [s["event"] for s in steps] == [
        "incident#new",
        "incident#updated",
        "incident#closed",
        "incident#reopen",
        "incident#closed",
    ]
    ids = {s["incident_id"] for s in steps}
    assert len(ids) == 1
    [incident_id] = ids
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["outcome"] == "success"
    assert summary["cleanup"].startswith("nothing to clean up")
    # PagerDuty opens a new incident (same incident_key) for the trigger after a resolve.
    first, reopened = emu.state.pagerduty_alerts()
    assert first.dedup_key == reopened.dedup_key == incident_id
    assert (first.status, first.actions) == ("resolved", ["trigger", "trigger", "resolve"])
    assert (reopened.status, reopened.actions) == ("resolved", ["trigger", "resolve"])
    io = emu.state.incidentio_alert(incident_id)
    assert io is not None and io.status == "resolved" and io.fired_count == 2
    panopta_steps = [[r for r in s["results"] if r["integration"] == "panopta"] for s in steps]
    assert [len(p) for p in panopta_steps] == [1, 0, 1, 1, 1]  # updated is skipped


def test_plain_timeline_on_stderr_when_not_a_terminal(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch)
    result = cli("replay", "comment")
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("step")]
    assert len(lines) == 3 and "incident#commented" in lines[1] and "xmatters 202" in lines[1]
    assert "\x1b[" not in result.stderr
    # The run's summary is data: stdout, as in storm mode; the timeline is talk.
    from bp_integrate import history

    [run] = history.list_runs()
    incident_id = json.loads(run.path.read_text().splitlines()[1])["incident_id"]
    assert result.stdout == (
        f"success: 3 passed, 0 failed; incident {incident_id}; run {run.id}\n"
        "nothing to clean up: the test incident is not left open\n"
    )
    assert "step" not in result.stdout and "success" not in result.stderr


def test_partial_exit_code(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    install(emu, "xmatters", monkeypatch)
    emu.state.add_fault(XM_PATH, status=400, times=1)
    result = cli("replay", "lifecycle", "--json")
    assert result.exit_code == 7
    summary = json_lines(result.stdout)[-1]
    assert summary["outcome"] == "partial" and summary["failed"] == 1 and summary["passed"] == 4


def test_rejected_and_network_failure_exit_codes(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "pagerduty", monkeypatch)
    emu.state.add_fault("/v2/enqueue", status=403, times=100)
    assert cli("replay", "flapping").exit_code == 6
    emu.state.clear_faults()
    monkeypatch.setenv("BP_INTEGRATE_INCIDENTIO_SECRET", "s3cr3t-value")
    url = f"http://127.0.0.1:{closed_port()}/v2/alert_events/bigpanda/x"
    assert (
        cli(
            "install",
            "incidentio",
            "--no-input",
            "--no-verify",
            "--secret-store",
            "env",
            "--set",
            f"callback_url={url}",
        ).exit_code
        == 0
    )
    result = cli("replay", "comment", "--to", "incidentio", "--retries", "0")
    assert result.exit_code == 5
    assert result.stdout.startswith("failure: 0 passed, 3 failed; incident ")


def _interrupt_on_step(monkeypatch: pytest.MonkeyPatch, at: int) -> list[int]:
    """Make the runner raise KeyboardInterrupt as step `at` starts (a deterministic Ctrl-C)."""
    import asyncio
    import signal

    from bp_integrate.engine.run import Engine

    seen: list[int] = []
    original = Engine._step

    async def step(self: Any, sender: Any, flight: Any, index: int, *args: Any) -> Any:
        cleanup = len(args) > 1 and args[1] is not None
        if not cleanup:
            seen.append(index)
            if index == at:
                # A real Ctrl-C: the signal reaches the run's event loop, which cancels the
                # run before this step is sent.
                signal.raise_signal(signal.SIGINT)
                await asyncio.sleep(5)
        return await original(self, sender, flight, index, *args)

    monkeypatch.setattr(Engine, "_step", step)
    return seen


def test_ctrl_c_mid_scenario_closes_the_incident(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "pagerduty", monkeypatch)
    install(emu, "incidentio", monkeypatch)
    seen = _interrupt_on_step(monkeypatch, 3)
    result = cli("replay", "lifecycle")
    assert result.exit_code == 130
    assert seen == [1, 2, 3]
    [alert] = emu.state.pagerduty_alerts()
    assert alert.actions == ["trigger", "trigger", "resolve"]  # the resolve is the cleanup
    assert alert.status == "resolved"
    [io] = emu.state.incidentio_alerts()
    assert io.status == "resolved" and io.last_event_type == "incident#closed"
    assert "Interrupted" in result.stderr
    cleanup = result.stdout.splitlines()[-1]
    assert cleanup.startswith("cleanup: closed incident ") and "pagerduty" in cleanup


def test_ctrl_c_with_no_cleanup_leaves_it_open_and_says_so(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "pagerduty", monkeypatch)
    _interrupt_on_step(monkeypatch, 3)
    result = cli("replay", "lifecycle", "--no-cleanup", "--json")
    assert result.exit_code == 130
    [alert] = emu.state.pagerduty_alerts()
    assert alert.status == "triggered"
    summary = json_lines(result.stdout)[-1]
    assert summary["interrupted"] is True
    assert summary["cleanup"].startswith("--no-cleanup") and "pagerduty" in summary["cleanup"]


def test_rejected_step_then_recovery_is_partial(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "incidentio", monkeypatch)
    emu.state.add_fault("/v2/alert_events/", status=400, times=1, method="POST")
    result = cli("replay", "comment", "--json")  # new: 400 (not retried); commented, closed: 202
    assert result.exit_code == 7
    assert json_lines(result.stdout)[-1]["outcome"] == "partial"
    assert [r.status for r in sends(emu, "/v2/alert_events/")] == [400, 202, 202]


def test_example_scenarios_run_clean(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALL:
        install(emu, name, monkeypatch)
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert len(files) >= 3
    for path in files:
        result = cli("replay", str(path), "--json")
        assert result.exit_code == 0, (path.name, result.stdout)
        summary = json_lines(result.stdout)[-1]
        assert summary["outcome"] == "success"


def test_disk_full_overrides_reach_the_wire(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "incidentio", monkeypatch)
    result = cli("replay", str(EXAMPLES / "disk-full.yaml"), "--json")
    assert result.exit_code == 0
    records = sends(emu, "/v2/alert_events/")
    assert len(records) == 4
    from bp_integrate import history

    [run] = history.list_runs()
    events = [r for r in history.read_records(run.path) if r["type"] == "event"]
    first = events[0]["body"]["incident"]["alerts"][0]
    assert first["description"] == "[TEST] Disk usage of /var is 91% on db-3"
    later = {t["name"]: t["value"] for t in events[1]["body"]["incident"]["alerts"][0]["tags"]}
    assert later["priority"] == "P1" and later["service"] == "checkout"


def test_expectation_mismatch_fails(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install(emu, "xmatters", monkeypatch)
    path = tmp_path / "s.yaml"
    path.write_text(
        "steps:\n"
        "  - event: new\n    expect: {status: 200}\n"
        "  - event: closed\n    expect: skipped\n"
    )
    result = cli("replay", str(path), "--json")
    assert result.exit_code == 6
    steps = [line for line in json_lines(result.stdout) if line["type"] == "step"]
    assert steps[0]["problems"] == ["xmatters: expected status 200, got HTTP 202"]
    assert steps[1]["problems"] == ["xmatters: expected a skip, got HTTP 202"]
    # The incident was opened by step 1 and closed by step 2: nothing to clean up.
    assert "nothing to clean up" in json_lines(result.stdout)[-1]["cleanup"]


def test_bad_scenarios_are_explained(tmp_path: Path) -> None:
    result = cli("replay", "lifecycel")
    assert result.exit_code == 2 and "Did you mean 'lifecycle'" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - event: incident#nope\n")
    result = cli("replay", str(bad))
    assert result.exit_code == 2 and "Unknown BigPanda event" in result.stderr
    bad.write_text("steps:\n  - event: new\n    when: later\n")
    result = cli("replay", str(bad))
    assert result.exit_code == 2 and "unknown key(s) when" in result.stderr
    assert cli("replay").exit_code == 2


def test_tty_timeline_uses_rich(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from bp_integrate.commands import sending

    install(emu, "xmatters", monkeypatch)
    install(emu, "pagerduty", monkeypatch)
    monkeypatch.setattr(sending, "stderr_is_tty", lambda: True)
    timelines: list[Any] = []

    class Recorded(sending.Timeline):
        def __init__(self, json_output: bool) -> None:
            super().__init__(json_output)
            timelines.append(self)

    monkeypatch.setattr(sending, "Timeline", Recorded)
    result = cli("replay", "comment")
    assert result.exit_code == 0
    assert "incident#commented" in result.stderr and "step 1" not in result.stderr
    [timeline] = timelines
    # Each cell from the step's own fields; no re-parsed text ("ok │ ok pagerduty 202...").
    steps, events, marks, targets, problems = zip(*timeline.table_rows, strict=True)
    assert steps == ("1", "2", "3")
    assert events == ("incident#new", "incident#commented", "incident#closed")
    assert marks == ("ok", "ok", "ok")
    assert problems == ("", "", "")
    ms = r" \d+ ms"
    assert re.fullmatch(f"xmatters 202{ms}, pagerduty 202{ms}", targets[0]), targets[0]
    assert re.fullmatch(f"xmatters 202{ms}, pagerduty skipped", targets[1]), targets[1]
    assert re.fullmatch(f"xmatters 202{ms}, pagerduty 202{ms}", targets[2]), targets[2]


def test_failed_step_shows_the_answer_and_a_hint(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch)
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY", "a-wrong-api-key")
    result = cli("replay", "comment", "--retries", "0", "--json")
    assert result.exit_code == 6
    steps = [line for line in json_lines(result.stdout) if line["type"] == "step"]
    answer = (
        '{"code":401,"reason":"Unauthorized","message":"Authentication failed: provide '
        'a valid apiKey parameter or Basic credentials of the integration user."}'
    )
    fix = (
        "bp-integrate set xmatters password (or username, trigger_url, whichever this "
        "install uses); or install it again: bp-integrate install xmatters"
    )
    expected = f"xmatters: HTTP 401: {answer} (check the credentials: {fix})"
    assert [s["problems"] for s in steps] == [[expected]] * 3
    plain = cli("replay", "comment", "--retries", "0")
    first = next(line for line in plain.stderr.splitlines() if line.startswith("step 1"))
    assert first.endswith(f"  ({expected})")


def test_failed_step_shows_pagerduty_errors_and_404_hint(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "pagerduty", monkeypatch)
    errors = ["payload.severity: 'loud' is not one of critical, error, warning, info"]
    body = {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
    emu.state.add_fault("/v2/enqueue", status=400, body=body, times=1)
    emu.state.add_fault("/v2/enqueue", status=404, body="no such page", times=1)
    result = cli("replay", "comment", "--json")
    steps = [line for line in json_lines(result.stdout) if line["type"] == "step"]
    assert steps[0]["problems"] == ["pagerduty: HTTP 400: errors: " + errors[0]]
    assert steps[1]["problems"] == []  # comment: skipped by PagerDuty
    assert steps[2]["problems"] == [
        "pagerduty: HTTP 404: no such page (check the URL: bp-integrate show pagerduty)"
    ]


def test_scenario_file_errors_name_the_file(tmp_path: Path) -> None:
    raw = tmp_path / "s.yaml"
    raw.write_bytes(b"\xff\xfe")
    result = cli("replay", str(raw))
    assert result.exit_code == 2
    assert f"Error: Scenario file {raw} is not UTF-8 text (byte 0xff at offset 0)." in (
        result.stderr
    )
    result = cli("replay", str(tmp_path))
    assert result.exit_code == 2
    assert f"Error: {tmp_path} is a folder, not a scenario file." in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - new\n  - event: incident#nope\n")
    result = cli("replay", str(bad))
    assert result.exit_code == 2
    assert f"Error: {bad}: step 2: Unknown BigPanda event 'incident#nope'." in result.stderr
    bad.write_text("steps:\n  - new\n  - event: closed\n    expect: {pagerdoody: skipped}\n")
    result = cli("replay", str(bad))
    assert f"Error: {bad}: step 2: Unknown integration 'pagerdoody'." in result.stderr
    assert "Traceback" not in result.stderr


def test_closed_stdout_does_not_interrupt_the_run(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bp-integrate replay lifecycle --json | head -1`, with head already gone."""
    import os
    import subprocess
    import sys

    from bp_integrate import history

    install(emu, "pagerduty", monkeypatch)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has left before the first line
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bp_integrate", "replay", "lifecycle", "--json"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 0
    assert done.stderr == ""
    assert len(sends(emu, "/v2/enqueue")) == 5
    [run] = history.list_runs()
    assert run.outcome == "success" and run.counts["ok"] == 5


def test_dry_run_shows_every_step_and_sends_nothing(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ALL:
        install(emu, name, monkeypatch)
    result = cli("replay", "lifecycle", "--dry-run", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    steps = json_lines(result.stdout)
    assert [s["event"] for s in steps] == [
        "incident#new",
        "incident#updated",
        "incident#closed",
        "incident#reopen",
        "incident#closed",
    ]
    assert len({s["incident_id"] for s in steps}) == 1
    assert all(s["dry_run"] for s in steps)
    pd = [r for s in steps for r in s["requests"] if r["integration"] == "pagerduty"]
    assert [r["body"]["event_action"] for r in pd] == [
        "trigger",
        "trigger",
        "resolve",
        "trigger",
        "resolve",
    ]
    assert {r["body"]["routing_key"] for r in pd} == {"****"}
    assert [len(s["skipped"]) for s in steps] == [0, 1, 0, 0, 0]  # Panopta: no update
    assert PD_KEY not in result.stdout + result.stderr
    assert sends(emu) == []  # nothing reached any target
    assert not (Path(os.environ["BP_INTEGRATE_STATE_DIR"]) / "runs").exists()


def test_dry_run_does_not_take_count(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    install(emu, "pagerduty", monkeypatch)
    result = cli("replay", "lifecycle", "--dry-run", "--count", "5")
    assert result.exit_code == 2
    assert "--count does not apply" in result.stderr


# ------------------------------------------------------------- numbers, options, signals


@pytest.mark.parametrize(
    ("delay", "shown"), [(".nan", "nan"), (".inf", "inf"), ("1.0e+12", "1000000000000.0")]
)
def test_step_delay_out_of_bounds_is_refused_before_sending(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, delay: str, shown: str
) -> None:
    install(emu, "xmatters", monkeypatch)
    path = tmp_path / "s.yaml"
    path.write_text(f"steps:\n  - new\n  - event: closed\n    delay: {delay}\n")
    for extra in ((), ("--count", "2")):
        result = cli("replay", str(path), *extra)
        assert result.exit_code == 2
        if shown in ("nan", "inf"):  # YAML's .nan/.inf: refused by the one reader (loading)
            assert result.stderr == (
                f"Error: The scenario file {path}: steps.1.delay is the number {shown}, which "
                "JSON cannot carry.\n  The format is in docs/replay.md (examples: "
                "examples/scenarios/*.yaml).\n"
            )
            continue
        assert result.stderr == (
            f"Error: {path}: step 2: delay must be a number of seconds from 0 to 3600, "
            f"got {shown}.\n"
            "  e.g. delay: 1.5. The format is in docs/replay.md (examples: "
            "examples/scenarios/*.yaml).\n"
        )
    assert sends(emu) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--rate", "nan"),
            "--rate must be a number of events per second from 0.01 to 1,000,000, got nan.",
        ),
        (
            ("--rate", "1e-300"),
            "--rate must be a number of events per second from 0.01 to 1,000,000, got 1e-300.",
        ),
        (
            ("--rate", "0"),
            "--rate must be a number of events per second from 0.01 to 1,000,000, got 0.0.",
        ),
        (("--concurrency", "0"), "--concurrency must be between 1 and 1000, got 0."),
        (("--concurrency", "1001"), "--concurrency must be between 1 and 1000, got 1001."),
    ],
)
def test_storm_numbers_out_of_bounds_are_refused(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], message: str
) -> None:
    install(emu, "xmatters", monkeypatch)
    result = cli("replay", "lifecycle", "--count", "2", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {message}\n")
    assert sends(emu) == []


def test_storm_options_without_count_are_refused(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch)
    result = cli("replay", "lifecycle", "--concurrency", "-3")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --concurrency applies only to storm mode: add --count N.\n"
        "  e.g. bp-integrate replay lifecycle --count 100 --concurrency 10 --rate 50\n"
    )
    result = cli("replay", "lifecycle", "--rate", "0", "--concurrency", "5")
    assert result.exit_code == 2
    assert "Error: --concurrency and --rate apply only to storm mode: add --count N." in (
        result.stderr
    )
    assert sends(emu) == []


def test_one_step_scenario_says_1_step(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install(emu, "xmatters", monkeypatch)
    path = tmp_path / "one.yaml"
    path.write_text("name: one\nsteps:\n  - closed\n")
    result = cli("replay", str(path))
    assert result.exit_code == 0
    assert result.stderr.startswith("Replaying one (1 step) to xmatters (profile 'default')...\n")


def test_a_storm_of_one_incident_counts_in_the_singular(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install(emu, "xmatters", monkeypatch)
    path = tmp_path / "one.yaml"
    path.write_text("name: one\nsteps:\n  - closed\n")
    result = cli("replay", str(path), "--count", "1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("1 incident, 1 event, 1 request in ")


def test_disk_full_example_honours_no_test_marker(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "incidentio", monkeypatch)
    result = cli(
        "replay", str(EXAMPLES / "disk-full.yaml"), "--no-test-marker", "--dry-run", "--json"
    )
    assert result.exit_code == 0
    steps = json_lines(result.stdout)
    body = steps[0]["requests"][0]["body"]
    assert body["incident"]["alerts"][0]["description"] == "Disk usage of /var is 91% on db-3"
    assert steps[2]["requests"][0]["body"]["comment"] == "Cleaning up old WAL segments"
    assert "[TEST]" not in result.stdout and "bp_integrate_test" not in result.stdout
    marked = json_lines(
        cli("replay", str(EXAMPLES / "disk-full.yaml"), "--dry-run", "--json").stdout
    )
    assert marked[2]["requests"][0]["body"]["comment"] == "[TEST] Cleaning up old WAL segments"


def test_timed_out_opening_send_is_cleaned_up(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The target may have taken an incident#new that timed out: cleanup closes it."""
    install(emu, "incidentio", monkeypatch)
    path = tmp_path / "open.yaml"
    path.write_text("steps:\n  - new\n")
    emu.state.add_fault("/v2/alert_events/", status=None, delay=1.0, times=1)
    result = cli("replay", str(path), "--timeout", "0.3", "--retries", "0", "--json")
    assert result.exit_code == 5
    lines = json_lines(result.stdout)
    incident_id = lines[-1]["incident_id"]
    assert lines[-1]["cleanup"] == f"cleanup: closed incident {incident_id} on incidentio"
    assert [line["type"] for line in lines] == ["step", "cleanup", "summary"]


SLOW = "name: slow\nsteps:\n  - new\n  - event: updated\n    delay: 30\n"


def _start_slow_replay(tmp_path: Path, emu: EmulatorServer) -> Any:
    """`bp-integrate replay slow.yaml` in a subprocess, once step 1 reached PagerDuty."""
    import subprocess
    import sys

    path = tmp_path / "slow.yaml"
    path.write_text(SLOW)
    process = subprocess.Popen(
        [sys.executable, "-m", "bp_integrate", "replay", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if _first_send_recorded():
        return process
    process.kill()
    process.communicate()
    raise AssertionError("step 1 never reached the run file")


def _first_send_recorded(timeout: float = 20) -> bool:
    """Wait until the run's history file records its first send."""
    import time

    deadline = time.monotonic() + timeout
    runs = Path(os.environ["BP_INTEGRATE_STATE_DIR"]) / "runs"
    while time.monotonic() < deadline:
        files = list(runs.glob("*.jsonl")) if runs.is_dir() else []
        if files and '"type":"send"' in files[0].read_text():
            return True
        time.sleep(0.05)
    return False


def test_killed_run_keeps_what_it_sent_in_history(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bp_integrate import history

    install(emu, "pagerduty", monkeypatch)
    process = _start_slow_replay(tmp_path, emu)
    process.kill()  # SIGKILL: no cleanup, no end line
    process.communicate(timeout=10)
    [run] = history.list_runs()
    assert run.outcome == "incomplete" and run.command == "replay slow"
    kinds = [r["type"] for r in history.read_records(run.path)]
    assert kinds == ["run", "event", "send"]
    listing = cli("history")
    assert f"{run.id}" in listing.stdout and "incomplete" in listing.stdout


def test_sigterm_cleans_up_like_ctrl_c(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import signal

    from bp_integrate import history

    install(emu, "pagerduty", monkeypatch)
    process = _start_slow_replay(tmp_path, emu)
    process.send_signal(signal.SIGTERM)  # what `timeout 6 bp-integrate replay ...` sends
    out, err = process.communicate(timeout=20)
    assert process.returncode == 143, err  # 128 + SIGTERM; Ctrl-C's is 130
    [alert] = emu.state.pagerduty_alerts()
    assert alert.actions == ["trigger", "resolve"] and alert.status == "resolved"
    assert out.splitlines()[-1] == f"cleanup: closed incident {alert.dedup_key} on pagerduty"
    assert "Interrupted." in err and "Traceback" not in err
    [run] = history.list_runs()
    assert run.outcome == "interrupted" and run.counts["sent"] == 2


def test_sigterm_stops_a_replay_started_in_the_background(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`bp-integrate replay ... &` in a CI script has SIGINT ignored by its shell; SIGTERM
    used to act only as that Ctrl-C, so it was ignored too and the run went on."""
    from helpers import BackgroundJob

    from bp_integrate import history

    install(emu, "pagerduty", monkeypatch)
    path = tmp_path / "slow.yaml"
    path.write_text(SLOW)
    job = BackgroundJob(tmp_path / "job", "replay", str(path))
    try:
        assert _first_send_recorded(), job.err.read_text()
        code = job.terminate()
    finally:
        job.kill()
    err = job.err.read_text()
    assert code == 143, err
    [alert] = emu.state.pagerduty_alerts()
    assert alert.actions == ["trigger", "resolve"] and alert.status == "resolved"
    assert job.out.read_text().splitlines()[-1] == (
        f"cleanup: closed incident {alert.dedup_key} on pagerduty"
    )
    assert "Interrupted." in err and "Traceback" not in err
    [run] = history.list_runs()
    assert run.outcome == "interrupted"
