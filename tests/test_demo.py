"""`bp-integrate demo`: the README's first command, with no account and no network."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import MemoryKeyring, invoke
from typer.testing import CliRunner


def test_demo_runs_the_lifecycle_on_all_four_and_touches_nothing_of_the_user(
    runner: CliRunner,
    isolated: Path,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A user's own secret variable must neither leak into nor be changed by the demo.
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_PASSWORD", "users-own-password")
    before = os.environ.copy()
    result = invoke(runner, "demo", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc["demo"] == "success"
    assert [i["integration"] for i in doc["installed"]] == [
        "xmatters",
        "pagerduty",
        "incidentio",
        "panopta",
        "webhook",  # the fifth joins the demo with no change here: one module each
    ]
    steps = doc["steps"]
    assert all(s["passed"] for s in steps)
    assert [s["event"] for s in steps] == [
        "incident#new",
        "incident#updated",
        "incident#closed",
        "incident#reopen",
        "incident#closed",
    ]
    targets = doc["targets"]
    # The reopen opened a second PagerDuty incident with the same key; both closed.
    pd_first, pd_reopened = targets["pagerduty"]["alerts"]
    assert [pd_first["status"], pd_reopened["status"]] == ["resolved", "resolved"]
    assert pd_first["dedup_key"] == pd_reopened["dedup_key"] == doc["scenario"]["incident_id"]
    (io_alert,) = targets["incidentio"]["alerts"]
    assert io_alert["status"] == "resolved"
    assert io_alert["fired_count"] == 2  # new, then reopen re-fires the same alert
    assert len(targets["xmatters"]["events"]) == 5
    assert len(targets["panopta"]["clears"]) == 2
    # Nothing reached the user's config folder or keyring; env restored as it was.
    assert not isolated.exists()
    assert memory_keyring.entries == {}
    assert os.environ == before
    assert "demo-xmatters-api-key" not in result.stdout
    assert "demo-incidentio-secret" not in result.stdout


def test_demo_plain_output_names_what_each_target_ended_with(runner: CliRunner) -> None:
    result = invoke(runner, "demo")
    assert result.exit_code == 0, result.stderr
    assert "PagerDuty: alert" in result.stdout and "is resolved" in result.stdout
    assert "incident.io: alert" in result.stdout and "fired 2 time(s)" in result.stdout
    assert "Demo success" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_unknown_scenario_suggests(runner: CliRunner) -> None:
    result = invoke(runner, "demo", "--scenario", "lifecycel")
    assert result.exit_code == 2
    assert "lifecycle" in result.stderr
