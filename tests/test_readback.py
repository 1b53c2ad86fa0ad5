"""Read-back for direct sends: send-test --verify, replay --verify, target-side `expect:`
and replay --junit, against the emulator's target read APIs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import CFG, MemoryKeyring, cli, install
from junit_schema import validate

from bp_integrate.emulator import EmulatorServer


@pytest.fixture
def readback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_READBACK_API_KEY", CFG.pagerduty_rest_api_key)
    monkeypatch.setenv("BP_INTEGRATE_INCIDENTIO_READBACK_API_KEY", CFG.incidentio_api_key)
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_READBACK_USERNAME", CFG.xmatters_rest_username)
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_READBACK_PASSWORD", CFG.xmatters_rest_password)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_send_test_verify_finds_each_send_and_cleans_up(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    readback: None,
) -> None:
    for name in ("pagerduty", "incidentio", "xmatters"):
        install(emu, name, monkeypatch)
    result = cli("send-test", "new", "--verify")
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if "step 1" in line]
    assert len(lines) == 3 and all(line.startswith("✓") for line in lines), lines
    assert any("pagerduty" in line and "triggered" in line for line in lines)
    assert any("incidentio" in line and "firing" in line for line in lines)
    # What it opened, it closed.
    state = emu.state.snapshot()
    assert [a["status"] for a in state["pagerduty"]["alerts"]] == ["resolved"]
    assert [a["status"] for a in state["incidentio"]["alerts"]] == ["resolved"]


def test_send_test_verify_without_credentials_is_not_checked(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    install(emu, "pagerduty", monkeypatch)
    result = cli("send-test", "new", "--verify", "--json")
    assert result.exit_code == 0, result.stdout
    [line] = json.loads(result.stdout)["readback"]
    assert line["status"] == "not_checked"
    assert "BP_INTEGRATE_PAGERDUTY_READBACK_API_KEY" in line["detail"]


def test_a_send_that_does_not_land_fails_the_run(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    readback: None,
) -> None:
    install(emu, "pagerduty", monkeypatch)
    # PagerDuty answers 202, but the event is dropped before it is processed.
    fault = {"path_prefix": "/v2/enqueue", "status": 202, "body": {"status": "success"}}
    import httpx

    assert httpx.post(emu.base_url + "/_faults", json=fault).status_code == 201
    result = cli("send-test", "new", "--verify", "--verify-timeout", "2", "--json")
    assert result.exit_code == 1, result.stdout
    [line] = json.loads(result.stdout)["readback"]
    assert line["status"] == "failed"
    assert "shows nothing" in line["detail"]


def write_scenario(tmp_path: Path, expect: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: readback\nsteps:\n"
        "  - event: new\n"
        f"    expect: {{pagerduty: {{incident: triggered}}}}\n"
        "  - event: closed\n"
        f"    expect: {{pagerduty: {{incident: {expect}}}}}\n",
        "utf-8",
    )
    return path


def test_replay_verify_checks_target_side_expectations(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    readback: None,
    tmp_path: Path,
) -> None:
    install(emu, "pagerduty", monkeypatch)
    result = cli("replay", str(write_scenario(tmp_path, "resolved")), "--verify", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = [d for d in json_lines(result.stdout) if d.get("type") == "readback"]
    assert [(d["step"], d["status"]) for d in lines] == [(1, "passed"), (2, "passed")]
    assert lines[1]["records"][0]["status"] == "resolved"


def test_replay_verify_fails_when_the_target_state_differs(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    readback: None,
    tmp_path: Path,
) -> None:
    install(emu, "pagerduty", monkeypatch)
    report = tmp_path / "replay.xml"
    scenario = write_scenario(tmp_path, "acknowledged")
    result = cli(
        "replay",
        str(scenario),
        "--verify",
        "--verify-timeout",
        "1",
        "--json",
        "--junit",
        str(report),
    )
    assert result.exit_code == 1, result.stdout
    lines = [d for d in json_lines(result.stdout) if d.get("type") == "readback"]
    assert lines[1]["status"] == "failed"
    [incident] = [r for r in lines[1]["records"] if r["judged"] == "yes"]
    assert lines[1]["detail"] == f"expected acknowledged, PagerDuty shows {incident['id']} resolved"
    root = validate(report.read_text("utf-8"))
    cases = root.findall("./testsuite/testcase")
    names = [(c.get("classname"), c.get("name"), c.find("failure") is not None) for c in cases]
    assert names == [
        ("replay.pagerduty", "step 1: incident#new", False),
        ("replay.pagerduty", "step 2: incident#closed", False),
        ("replay.pagerduty", "step 1: incident#new: read back", False),
        ("replay.pagerduty", "step 2: incident#closed: read back", True),
    ]


def test_replay_junit_marks_a_rejected_send_failed(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    tmp_path: Path,
) -> None:
    install(emu, "pagerduty", monkeypatch)
    import httpx

    fault = {"path_prefix": "/v2/enqueue", "status": 400, "times": 10}
    assert httpx.post(emu.base_url + "/_faults", json=fault).status_code == 201
    report = tmp_path / "out.xml"
    result = cli("replay", "lifecycle", "--junit", str(report), "--retries", "0")
    assert result.exit_code != 0
    root = validate(report.read_text("utf-8"))
    suite = root.find("testsuite")
    assert suite is not None and int(suite.get("failures") or 0) >= 1


def test_storm_refuses_verify_and_junit(memory_keyring: MemoryKeyring) -> None:
    result = cli("replay", "lifecycle", "--count", "2", "--verify")
    assert result.exit_code == 2
    assert "not a storm" in result.stderr


def test_expect_target_state_is_parsed_and_checked(tmp_path: Path) -> None:
    from bp_integrate import scenarios

    path = tmp_path / "s.yaml"
    path.write_text("name: x\nsteps:\n  - event: new\n    expect: {incident: open}\n", "utf-8")
    step = scenarios.load(str(path)).steps[0]
    assert step.expect is not None and step.expect.target_state == "open"
    # A target-side expectation still wants the send itself accepted.
    assert step.expect.check(skipped=False, status=500, outcome="rejected") is not None
    path.write_text("name: x\nsteps:\n  - event: new\n    expect: {incident: 3}\n", "utf-8")
    with pytest.raises(Exception, match=r"expect\.incident is a state"):
        scenarios.load(str(path))


def test_a_stale_resolved_incident_beside_a_reopened_one_left_open_fails(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    readback: None,
    tmp_path: Path,
) -> None:
    """The false pass of issue 15: new -> closed -> reopen -> closed at PagerDuty, where
    the last resolve is answered 202 but never processed. PagerDuty then holds the first
    incident, resolved, and the reopen's new incident, still triggered. "Any incident
    resolved" passed this; the newest incident the run made fails it."""
    install(emu, "pagerduty", monkeypatch)
    path = tmp_path / "reopen.yaml"
    path.write_text(
        "name: reopen\nsteps:\n  - event: new\n  - event: closed\n"
        "  - event: reopen\n  - event: closed\n",
        "utf-8",
    )
    seen: list[str] = []

    def swallow_the_last_resolve(record: Any) -> None:
        if record.route != "pagerduty_events":
            return
        seen.append(record.action or "")
        if len(seen) == 3:  # after the reopen's trigger: the next event is lost silently
            body = {"status": "success", "message": "Event processed", "dedup_key": record.key}
            emu.state.add_fault("/v2/enqueue", method="POST", status=202, body=body)

    emu.state.on_record = swallow_the_last_resolve
    result = cli("replay", str(path), "--verify", "--verify-timeout", "1", "--json")
    assert result.exit_code == 1, result.stdout
    lines = [d for d in json_lines(result.stdout) if d.get("type") == "readback"]
    assert [line["status"] for line in lines] == ["passed", "passed", "passed", "failed"]
    last = lines[3]
    assert len(last["records"]) == 2  # the stale resolved incident is listed beside it...
    [judged] = [r for r in last["records"] if r["judged"] == "yes"]
    assert judged["status"] == "triggered"  # ...but the reopened one is judged
    assert last["detail"].startswith(f"expected resolved, PagerDuty shows {judged['id']} triggered")


@pytest.mark.parametrize(
    ("name", "route", "prefix", "answer"),
    [
        ("xmatters", "xmatters_trigger", "/api/integration/1/functions/", {"requestId": "lost"}),
        ("incidentio", "incidentio_alert_event", "/v2/alert_events/", {"status": "success"}),
    ],
)
def test_the_same_stale_record_fails_at_every_target(
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    readback: None,
    tmp_path: Path,
    name: str,
    route: str,
    prefix: str,
    answer: dict[str, str],
) -> None:
    """One per target of the same kind: after new -> closed -> reopen, the last close is
    answered 202 and lost. xMatters then holds the first close's event (resolved) beside
    the reopen's newer event (open); incident.io, where a re-fire after a resolve makes a
    new alert, its resolved alert beside a newer firing one. The newest fails the step."""
    from bp_integrate.emulator import EmulatorConfig

    with EmulatorServer(config=EmulatorConfig(incidentio_refire="new")) as emu:
        install(emu, name, monkeypatch)
        path = tmp_path / "reopen.yaml"
        path.write_text(
            "name: reopen\nsteps:\n  - event: new\n  - event: closed\n"
            "  - event: reopen\n  - event: closed\n",
            "utf-8",
        )
        seen: list[int] = []

        def swallow_the_last_close(record: Any) -> None:
            if record.route == route:
                seen.append(record.seq)
                if len(seen) == 3:
                    emu.state.add_fault(prefix, method="POST", status=202, body=answer)

        emu.state.on_record = swallow_the_last_close
        result = cli("replay", str(path), "--verify", "--verify-timeout", "1", "--json")
    assert result.exit_code == 1, result.stdout
    lines = [d for d in json_lines(result.stdout) if d.get("type") == "readback"]
    assert [line["status"] for line in lines] == ["passed", "passed", "passed", "failed"]
    last = lines[3]
    assert any(r["state"] == "resolved" for r in last["records"])  # a stale one is there
    [judged] = [r for r in last["records"] if r["judged"] == "yes"]
    assert judged["state"] == "open"
    assert last["detail"].startswith("expected resolved")
