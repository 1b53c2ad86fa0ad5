"""Run history: what is recorded, the listing, and replay --from-run."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from helpers import CFG, PD_KEY, cli, install, sends, state_dir

from bp_integrate import history
from bp_integrate.emulator import EmulatorServer


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


# ----------------------------------------------------------------------- secrets, failures


def state_files_text() -> str:
    return "".join(p.read_text(errors="replace") for p in state_dir().rglob("*") if p.is_file())


def test_show_secrets_shows_them_but_history_never_holds_them(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch)
    install(emu, "pagerduty", monkeypatch)
    sent = cli("send-test", "incident#new", "--show-secrets", "--json")
    assert sent.exit_code == 0, sent.stderr
    by_name = {r["integration"]: r for r in json.loads(sent.stdout)["results"]}
    assert f"apiKey={CFG.xmatters_api_key}" in by_name["xmatters"]["url"]
    replayed = cli("replay", "comment", "--show-secrets", "--json")
    assert replayed.exit_code == 0, replayed.stderr
    assert f"apiKey={CFG.xmatters_api_key}" in replayed.stdout

    runs = list((state_dir() / "runs").glob("*.jsonl"))
    assert len(runs) == 2
    recorded = state_files_text()
    assert CFG.xmatters_api_key not in recorded and PD_KEY not in recorded
    assert recorded.count("apiKey=****") == 1 + 3  # send-test: 1 xMatters send; comment: 3


def test_recorder_masks_even_with_a_disabled_redactor() -> None:
    from bp_integrate.redact import Redactor

    shown = Redactor(["hunter22-secret"], enabled=False)
    with history.RunRecorder("send-test x", "default", shown) as recorder:
        shown.add("learnt-later-secret")  # a view shares what is learnt later
        recorder.send(
            1,
            {"url": "https://x.example/t?apiKey=never-learnt", "response": "hunter22-secret"},
            True,
        )
        recorder.note("note", text="learnt-later-secret")
        recorder.outcome = "success"
    assert recorder.path is not None
    lines = [json.loads(line) for line in recorder.path.read_text().splitlines()]
    assert lines[1]["url"] == "https://x.example/t?apiKey=****"
    assert lines[1]["response"] == "****" and lines[2]["text"] == "****"
    assert shown.text("hunter22-secret") == "hunter22-secret"  # the display view is untouched


def test_unwritable_state_folder_is_a_config_error(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install(emu, "xmatters", monkeypatch)
    blocker = tmp_path / "afile"
    blocker.write_text("a file, not a folder")
    monkeypatch.setenv("BP_INTEGRATE_STATE_DIR", str(blocker / "st"))
    for args in (
        ("send-test", "new"),
        ("replay", "comment"),
        ("replay", "comment", "--count", "2"),
    ):
        result = cli(*args)
        assert result.exit_code == 3, args
        assert f"Error: Cannot record the run in {blocker / 'st' / 'runs'}: Not a directory." in (
            result.stderr
        )
        assert "Set BP_INTEGRATE_STATE_DIR to a writable folder" in result.stderr
    assert sends(emu) == []  # nothing is sent when it cannot be recorded


def test_disk_full_mid_run_does_not_stop_the_run(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch)
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")

    def full(path: Path) -> Any:
        path.touch(mode=0o600)
        return open("/dev/full", "w", encoding="utf-8", buffering=1)

    monkeypatch.setattr(history, "open_run_file", full)
    result = cli("replay", "comment")
    assert result.exit_code == 0
    assert len(sends(emu)) == 3
    assert result.stdout.startswith("success: 3 passed, 0 failed")
    assert "warning: the history of run " in result.stderr
    assert "(No space left on device). Free some space or set BP_INTEGRATE_STATE_DIR" in (
        result.stderr
    )
    sent = cli("send-test", "new", "--json")
    assert sent.exit_code == 0 and json.loads(sent.stdout)["outcome"] == "success"
    assert "No space left on device" in sent.stderr


# ----------------------------------------------------------------------------- retention


def fake_runs(count: int) -> list[str]:
    """`count` finished run files, oldest first."""
    from bp_integrate.redact import Redactor

    ids = []
    for n in range(count):
        run_id = f"20240101T0000{n:02d}000Z-{n:06x}"
        with history.RunRecorder("send-test x", "default", Redactor(), run_id=run_id) as rec:
            rec.outcome = "success"
        ids.append(run_id)
    return ids


def test_a_new_run_prunes_past_the_keep_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BP_INTEGRATE_HISTORY_KEEP", "3")
    ids = fake_runs(5)
    (state_dir() / "runs" / "notes.txt").write_text("mine")  # not a run file: left alone
    assert [r.id for r in history.list_runs()] == ids[-1:-4:-1]
    assert (state_dir() / "runs" / "notes.txt").exists()
    monkeypatch.delenv("BP_INTEGRATE_HISTORY_KEEP")
    assert history.keep_runs() == 50


def test_history_prune_reports_what_it_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = fake_runs(4)
    sizes = {i: (state_dir() / "runs" / f"{i}.jsonl").stat().st_size for i in ids}
    result = cli("history", "--prune", "--keep", "2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"removed {ids[1]}\nremoved {ids[0]}\n"
    assert f"Removed 2 runs ({sizes[ids[0]] + sizes[ids[1]]} B); kept the newest 2." in (
        result.stderr
    )
    assert [r.id for r in history.list_runs()] == [ids[3], ids[2]]

    doc = json.loads(cli("history", "--prune", "--keep", "1", "--json").stdout)
    runs = state_dir() / "runs"
    assert doc == {
        "runs_dir": str(runs),
        "keep": 1,
        "removed": [{"id": ids[2], "path": str(runs / f"{ids[2]}.jsonl"), "bytes": sizes[ids[2]]}],
        "kept": 1,
    }
    again = cli("history", "--prune", "--keep", "1")
    assert again.stdout == "" and "Nothing to remove: 1 run, keeping the newest 1." in again.stderr


def test_history_prune_of_one_run_says_1_run() -> None:
    fake_runs(2)
    result = cli("history", "--prune", "--keep", "1")
    assert result.exit_code == 0, result.stderr
    assert "Removed 1 run (" in result.stderr


def test_history_header_is_one_line_when_only_stderr_is_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`bp-integrate history | head` on an 80-column terminal: the rows (stdout, a pipe)
    are whole lines, and so is the header above them (stderr, the terminal)."""
    from functools import cache

    from rich.console import Console

    from bp_integrate import ui

    @cache
    def terminal() -> Console:
        return Console(
            stderr=True, force_terminal=True, width=80, markup=False, highlight=False,
            soft_wrap=True,
        )  # fmt: skip

    monkeypatch.setattr(ui, "err", terminal)
    fake_runs(2)
    result = cli("history")
    assert result.exit_code == 0, result.stderr
    header, *_ = result.stderr.splitlines()
    assert header.split() == [
        "run", "started", "(UTC)", "profile", "targets", "outcome", "counts", "command",
    ]  # fmt: skip
    assert len(header) > 80  # as long as the rows' columns make it
    assert len(result.stdout.splitlines()) == 2


def test_history_prune_defaults_and_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_runs(3)
    monkeypatch.setenv("BP_INTEGRATE_HISTORY_KEEP", "2")
    assert json.loads(cli("history", "--prune", "--json").stdout)["keep"] == 2
    assert len(history.list_runs()) == 2
    monkeypatch.setenv("BP_INTEGRATE_HISTORY_KEEP", "lots")
    result = cli("history", "--prune")
    assert result.exit_code == 3
    assert "Error: BP_INTEGRATE_HISTORY_KEEP='lots' is not a number of runs." in result.stderr
    monkeypatch.delenv("BP_INTEGRATE_HISTORY_KEEP")
    result = cli("history", "--prune", "--keep", "0")
    assert result.exit_code == 2 and "--keep must be 1 or more" in result.stderr
    result = cli("history", "--keep", "3")
    assert result.exit_code == 2 and "--keep goes with --prune" in result.stderr


# ------------------------------------------------------------------ --from-run, carefully


def _recorded_open_run(emu: EmulatorServer, tmp_path: Path) -> history.RunSummary:
    """A run that opened an incident on PagerDuty and left it open (new, updated)."""
    path = tmp_path / "open.yaml"
    path.write_text("name: open\nsteps:\n  - new\n  - updated\n")
    assert cli("replay", str(path), "--no-cleanup").exit_code == 0
    emu.state.reset()
    [run] = history.list_runs()
    return run


def test_from_run_incident_id_rewrites_every_body_and_the_cleanup(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install(emu, "pagerduty", monkeypatch)
    run = _recorded_open_run(emu, tmp_path)
    result = cli(
        "replay", "--from-run", run.id, "--incident-id", "65f1c0de9a1b2c3d4e5f6a7b", "--json"
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["type"], line.get("incident_id")) for line in lines[:3]] == [
        ("step", "65f1c0de9a1b2c3d4e5f6a7b"),
        ("step", "65f1c0de9a1b2c3d4e5f6a7b"),
        ("cleanup", "65f1c0de9a1b2c3d4e5f6a7b"),
    ]
    [alert] = emu.state.pagerduty_alerts()  # one incident: the one named, opened and closed
    assert alert.dedup_key == "65f1c0de9a1b2c3d4e5f6a7b"
    assert alert.actions == ["trigger", "trigger", "resolve"] and alert.status == "resolved"
    shown = cli("replay", "--from-run", run.id, "--incident-id", "abc", "--dry-run", "--json")
    bodies = [json.loads(line)["requests"][0]["body"] for line in shown.stdout.splitlines()]
    assert [b["dedup_key"] for b in bodies] == ["abc", "abc"]


@pytest.mark.parametrize(
    ("args", "flags"),
    [
        (("--set", "incident.status=warning"), "--set"),
        (("--tag", "team=ops"), "--tag"),
        (("--envelope", "bare"), "--envelope"),
        (("--envelope", "event"), "--envelope"),
        (("--no-test-marker",), "--no-test-marker"),
        (("--set", "a=1", "--no-test-marker"), "--set, --no-test-marker"),
        (("--count", "3"), "--count"),
    ],
)
def test_from_run_refuses_options_that_shape_a_new_body(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: tuple[str, ...],
    flags: str,
) -> None:
    install(emu, "pagerduty", monkeypatch)
    run = _recorded_open_run(emu, tmp_path)
    result = cli("replay", "--from-run", run.id, *args)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {flags} cannot be used with --from-run: a recorded run is sent again with "
        "the bodies it recorded.\n"
        "  Drop them, or replay the scenario itself with them (e.g. bp-integrate replay "
        "lifecycle --set PATH=VALUE). With --from-run, --incident-id, --to, --timeout and "
        "--retries apply.\n"
    )
    assert sends(emu) == []


def test_from_run_refuses_a_body_that_held_a_secret(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PagerDuty's override tag holds another integration key: history keeps it as ****."""
    other_key = "fedcba9876543210fedcba9876543210"
    install(emu, "pagerduty", monkeypatch, override_tag="pd_route")
    sent = cli("send-test", "new", "--tag", f"pd_route={other_key}")
    assert sent.exit_code == 0, sent.stdout + sent.stderr
    [run] = history.list_runs()
    assert other_key not in run.path.read_text()
    emu.state.reset()
    for extra in ((), ("--dry-run", "--show-secrets"), ("--as-curl",)):
        result = cli("replay", "--from-run", run.id, *extra)
        assert result.exit_code == 2, extra
        assert result.stdout == ""  # no **** shown as if it were the key
        assert result.stderr.startswith(
            f"Error: Run {run.id} cannot be sent again: its step 1 (incident#new) held a "
            "secret at incident.alerts[0].tags["
        )
        assert (
            "].value, and history keeps secrets only as ****: sending that would not be the "
            "same event (a routing key of **** is refused by the target).\n"
            "  Run the original command again with the secret (it was: bp-integrate "
            "send-test incident#new, with its --tag or --set), or pick another run from "
            "`bp-integrate history`.\n"
        ) in result.stderr
    assert sends(emu) == []


def test_from_run_takes_the_id_literally(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch)
    assert cli("send-test", "new").exit_code == 0
    emu.state.reset()
    for pattern in ("*", "2*", "[0-9]*", "../runs/x"):
        result = cli("replay", "--from-run", pattern)
        assert result.exit_code == 2, pattern
        assert result.stderr.startswith(
            f"Error: No run {pattern!r}: that is not a run id (run ids look like "
            "20240501T101502123Z-3fa1c2; the start of one is enough).\n"
        )
    assert sends(emu) == []


def test_a_huge_body_is_cut_in_history_and_not_resent(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install(emu, "xmatters", monkeypatch)
    big = {"incident": {"id": "big-1", "alerts": [], "notes": "x" * 400_000}}
    (tmp_path / "big.json").write_text(json.dumps(big))
    result = cli("send-test", "new", "--payload", str(tmp_path / "big.json"))
    assert result.exit_code == 0, result.stdout + result.stderr
    [run] = history.list_runs()
    [event] = [r for r in history.read_records(run.path) if r["type"] == "event"]
    assert "body" not in event and event["body_truncated"] is True
    full = len(json.dumps(big, separators=(",", ":")).encode())
    assert event["body_bytes"] == full
    assert len(event["body_preview"].encode()) == history.BODY_MAX == 256 * 1024
    assert run.path.stat().st_size < 300_000
    emu.state.reset()
    again = cli("replay", "--from-run", run.id)
    assert again.exit_code == 2
    assert again.stderr == (
        f"Error: Run {run.id} cannot be sent again: the body of its step 1 (incident#new) "
        f"was {full} bytes, and history keeps at most 262144 bytes of a body.\n"
        "  Send that body from its file again: bp-integrate send-test incident#new "
        "--payload FILE.\n"
    )
    assert sends(emu) == []
