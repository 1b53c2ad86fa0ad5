"""Run history: what is recorded, the listing, and replay --from-run."""

from __future__ import annotations

import json
import stat

import pytest
from test_send import CFG, PD_KEY, cli, emu, emulator, install, sends, state_dir

from bp_integrate import history
from bp_integrate.emulator import EmulatorServer

__all__ = ["emu", "emulator"]


def test_empty_history_says_where_runs_go() -> None:
    result = cli("history")
    assert result.exit_code == 0 and result.stdout == ""
    assert "No runs recorded yet" in result.stderr
    assert json.loads(cli("history", "--json").stdout)["runs"] == []


def test_every_send_is_recorded_and_listed(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch)
    install(emu, "pagerduty", monkeypatch)
    assert cli("send-test", "new").exit_code == 0
    assert cli("replay", "comment").exit_code == 0
    assert cli("send-test", "new", "--dry-run").exit_code == 0  # a dry run sends nothing

    runs = json.loads(cli("history", "--json").stdout)["runs"]
    assert [r["command"] for r in runs] == ["replay comment", "send-test incident#new"]
    replay_run, send_run = runs
    # comment: new (2 sends), commented (xmatters sends, pagerduty skips), closed (2 sends)
    assert replay_run["counts"] == {"events": 3, "sent": 5, "ok": 5, "failed": 0, "skipped": 1}
    assert send_run["counts"]["sent"] == 2 and send_run["outcome"] == "success"
    assert len(sends(emu)) == 2 + 5

    path = history.find_run(replay_run["id"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert history.count_lines(path, "send") == 5
    text = path.read_text()
    assert CFG.xmatters_api_key not in text and PD_KEY not in text
    assert "apiKey=****" in text and '"routing_key"' not in text

    listing = cli("history", "--limit", "1")
    assert listing.stdout.count("\n") == 1
    assert replay_run["id"] in listing.stdout and "replay comment" in listing.stdout
    assert "sent 5, ok 5, failed 0, skipped 1" in listing.stdout


def test_from_run_resends_the_recorded_events_with_current_secrets(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "incidentio", monkeypatch)
    assert cli("replay", "lifecycle", "--to", "incidentio").exit_code == 0
    [run] = history.list_runs()
    assert len(sends(emu)) == 5
    recorded = [r for r in history.read_records(run.path) if r["type"] == "event"]
    incident_id = recorded[0]["incident_id"]

    emu.state.reset()
    # The history holds no secret: re-sending uses the one loaded now.
    monkeypatch.setenv("BP_INTEGRATE_INCIDENTIO_SECRET", "a-wrong-secret")
    assert cli("replay", "--from-run", run.id).exit_code == 6
    emu.state.reset()
    monkeypatch.setenv("BP_INTEGRATE_INCIDENTIO_SECRET", CFG.incidentio_secret)
    result = cli("replay", "--from-run", run.id[:18], "--json")
    assert result.exit_code == 0, result.stdout
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [s["event"] for s in lines if s["type"] == "step"] == [r["event"] for r in recorded]
    assert {s["incident_id"] for s in lines if s["type"] == "step"} == {incident_id}
    alert = emu.state.incidentio_alert(incident_id)
    assert alert is not None and alert.event_count == 5 and alert.status == "resolved"
    newest = history.list_runs(1)[0]
    assert newest.command == f"replay --from-run {run.id[:18]}"


def test_unknown_run_id_says_how_to_list_ids() -> None:
    result = cli("replay", "--from-run", "nope")
    assert result.exit_code == 2
    assert "No run 'nope'" in result.stderr and "bp-integrate history" in result.stderr


def test_storm_runs_cannot_be_resent(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    install(emu, "xmatters", monkeypatch)
    assert cli("replay", "lifecycle", "--count", "2").exit_code == 0
    [run] = history.list_runs()
    result = cli("replay", "--from-run", run.id)
    assert result.exit_code == 2 and "storm runs keep no bodies" in result.stderr


def test_interrupted_run_is_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    from bp_integrate.redact import Redactor

    recorder = history.RunRecorder("replay x", "default", Redactor(["hunter22"]))
    with pytest.raises(KeyboardInterrupt), recorder:
        recorder.note("note", text="password hunter22")
        raise KeyboardInterrupt
    [run] = history.list_runs()
    assert run.outcome == "interrupted"
    assert "hunter22" not in run.path.read_text()
    assert run.path.parent == state_dir() / "runs"
