"""The webhook body as a receiver written against real BigPanda shares reads it.

Such receivers (rulebooks, internal services) read `incident` at the top level,
`incident.resolved`, `incident.active`, `metadata.environment_id`, and look alerts up by
their `host` tag; every event of every lifecycle must satisfy them, in the default shape
and in an adopted (calibrated) one.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest
from helpers import cli, install

from bp_integrate.bigpanda.events import EVENTS, OPENING_EVENTS
from bp_integrate.bigpanda.simulator import IncidentSimulator, generated_environment_id
from bp_integrate.bigpanda.testmark import TEST_MARKER_TAG, incident_tag_id
from bp_integrate.bigpanda.webhook import (
    DEFAULT_ENVELOPE,
    BodySpec,
    event_of,
    fill_shape,
    incident_of,
    profile_environment_id,
    render_body,
)
from bp_integrate.emulator import EmulatorServer
from bp_integrate.errors import UsageError

START = 1_700_000_000
HOST = "db-7.corp.test"


def simulator(seed: int = 3) -> IncidentSimulator:
    return IncidentSimulator(start=START, rng=random.Random(seed), tags={"host": HOST})


def receiver_reads(raw: bytes) -> dict[str, Any]:
    """What a receiver written against real shares takes from a body (it reads JSON bytes).

    Mirrors the conditions such receivers use: `incident is defined`, `incident.resolved`
    and `incident.active` booleans, `metadata.environment_id` present, and alerts found by
    `selectattr` on their `host` tag. Raises KeyError/AssertionError where a real one fails.
    """
    body = json.loads(raw)
    incident = body["incident"]
    assert isinstance(incident, dict)
    resolved, active = incident["resolved"], incident["active"]
    assert isinstance(resolved, bool) and isinstance(active, bool)
    environment = body["metadata"]["environment_id"]
    assert isinstance(environment, str) and environment
    by_host = [
        alert
        for alert in incident["alerts"]
        if any(t["name"] == "host" and t["value"] == HOST for t in alert["tags"])
    ]
    return {
        "id": incident["id"],
        "resolved": resolved,
        "active": active,
        "status": incident["status"],
        "environment_id": environment,
        "alerts_on_host": len(by_host),
    }


@pytest.mark.parametrize("first", EVENTS)
def test_every_event_reads_as_a_real_share(first: str) -> None:
    sim = simulator()
    spec = BodySpec(environment_id="env-prod-1")
    assert spec.envelope == DEFAULT_ENVELOPE == "share"
    seen_ids = set()
    # `first` on a fresh incident, then every event after it, closing and reopening.
    for event in [first, *EVENTS, "incident#reopen", *EVENTS]:
        body, incident = render_body(sim, event, spec)
        read = receiver_reads(json.dumps(body).encode())
        seen_ids.add(read["id"])
        assert read["environment_id"] == "env-prod-1" == incident["environments"][0]
        assert read["resolved"] is (not read["active"])
        assert read["resolved"] is (read["status"] == "ok")
        assert read["alerts_on_host"] == len(incident["alerts"]) >= 1
        assert body["metadata"]["event"] == event_of(body) == event
        if event in OPENING_EVENTS:
            assert read["resolved"] is False
        if event == "incident#closed":
            assert read["resolved"] is True and incident["folders"][0] == "resolved"
    assert len(seen_ids) == 1  # one incident id for the whole lifecycle


def test_metadata_environment_id_is_the_profile_setting_or_stable() -> None:
    assert profile_environment_id("prod", {"environment_id": " 5f2a "}) == "5f2a"
    assert profile_environment_id("prod", {}) == profile_environment_id("prod", None)
    assert profile_environment_id("prod", {}) == generated_environment_id("prod")
    assert profile_environment_id("prod", {}) != profile_environment_id("staging", {})
    body, _ = render_body(simulator(), "new", BodySpec())
    assert body["metadata"]["environment_id"] == generated_environment_id()


def test_share_id_is_stable_for_one_share_and_differs_between_events() -> None:
    sim = simulator()
    first, _ = render_body(sim, "new", BodySpec())
    second, _ = render_body(sim, "updated", BodySpec())
    assert first["metadata"]["share_id"] != second["metadata"]["share_id"]
    again, _ = render_body(simulator(), "new", BodySpec())
    assert again["metadata"]["share_id"] == first["metadata"]["share_id"]


@pytest.mark.parametrize(
    ("shape", "keys"),
    [
        ("share", {"incident", "metadata"}),
        ("event", {"event_type", "incident"}),
        ("incident", {"incident"}),
    ],
)
def test_named_shapes_stay_selectable(shape: Any, keys: set[str]) -> None:
    body, incident = render_body(simulator(), "new", BodySpec(envelope=shape))
    assert set(body) == keys and body["incident"] is incident
    bare, inner = render_body(simulator(), "new", BodySpec(envelope="bare"))
    assert bare is inner and bare["resolved"] is False


def test_commented_body_carries_the_comment_and_the_marks() -> None:
    sim = simulator()
    render_body(sim, "new", BodySpec())
    body, _ = render_body(sim, "commented", BodySpec(), comment="On it")
    assert body["comment"] == "[TEST] On it"
    ids = [t["tag_id"] for t in body["incident"]["incident_tags"]]
    assert ids == [incident_tag_id(TEST_MARKER_TAG)]
    plain = IncidentSimulator(start=START, rng=random.Random(3), test_marker=False)
    unmarked, _ = render_body(plain, "new", BodySpec(test_marker=False))
    assert unmarked["incident"]["incident_tags"] == []


def test_set_edits_apply_after_rendering_and_bad_ones_are_refused() -> None:
    sim = simulator()
    spec = BodySpec(sets=[("incident.alerts[0].description", "Disk full")])
    body, incident = render_body(sim, "new", spec, sets=[("metadata.environment_id", "e2")])
    assert incident["alerts"][0]["description"] == "[TEST] Disk full"
    assert body["metadata"]["environment_id"] == "e2"
    with pytest.raises(UsageError, match=r"incident\.alerts is a list"):
        render_body(sim, "updated", BodySpec(sets=[("incident.alerts", "5")]))


# --------------------------------------------------------------------------- adopted shapes

CAPTURED: dict[str, Any] = {
    "incident": {
        "id": "65f0c0ffee0000000000aaaa",
        "status": "critical",
        "active": True,
        "resolved": False,
        "number": 4711,  # only the capture has it: kept
        "alerts": [
            {
                "id": "x",
                "status": "critical",
                "runbook": "https://wiki.example/rb",  # kept on every alert
                "tags": [{"name": "host", "value": "old-host"}],
            }
        ],
    },
    "metadata": {"environment_id": "env-real", "trigger": "incident#new", "org": "acme"},
    "schema": 2,
}


def test_fill_shape_keeps_the_captured_keys_and_fills_ours() -> None:
    sim = simulator()
    render_body(sim, "new", BodySpec())
    incident = sim.apply("updated")
    body = fill_shape(CAPTURED, "incident#updated", incident, "env-mine")
    assert set(body) == {"incident", "metadata", "schema"} and body["schema"] == 2
    inner = body["incident"]
    assert set(inner) == set(CAPTURED["incident"])
    assert inner["id"] == incident["id"] and inner["number"] == 4711
    assert inner["resolved"] is False and inner["status"] == incident["status"]
    assert len(inner["alerts"]) == len(incident["alerts"]) == 2
    for ours, filled in zip(incident["alerts"], inner["alerts"], strict=True):
        assert set(filled) == {"id", "status", "runbook", "tags"}
        assert filled["id"] == ours["id"] and filled["runbook"] == "https://wiki.example/rb"
        assert filled["tags"] == ours["tags"]
    # metadata: our environment where the names match; the captured trigger follows the event
    assert body["metadata"] == {
        "environment_id": "env-mine",
        "trigger": "incident#updated",
        "org": "acme",
    }
    # the template itself is never changed
    assert CAPTURED["incident"]["alerts"][0]["tags"][0]["value"] == "old-host"


def test_render_body_with_an_adopted_shape_reads_as_a_real_share() -> None:
    sim = simulator()
    spec = BodySpec(calibrated=CAPTURED, environment_id="env-mine")
    for event in EVENTS:
        body, incident = render_body(sim, event, spec)
        assert incident is body["incident"] and body["schema"] == 2
        read = receiver_reads(json.dumps(body).encode())
        assert read["environment_id"] == "env-mine" and read["alerts_on_host"] >= 1
        assert any(t["name"] == TEST_MARKER_TAG for t in incident["alerts"][0]["tags"])
        body["incident"]["alerts"][0]["runbook"] = "edited"  # edits never leak to the next
    assert CAPTURED["incident"]["alerts"][0]["runbook"] == "https://wiki.example/rb"


def test_bare_adopted_shape() -> None:
    template = {"id": "x", "status": "ok", "active": False, "custom": {"team": "dba"}}
    body, incident = render_body(simulator(), "new", BodySpec(calibrated=template))
    assert body is incident and set(body) == set(template)
    assert body["active"] is True and body["custom"] == {"team": "dba"}
    assert body["custom"] is not template["custom"]


def test_incident_of_any_envelope() -> None:
    assert incident_of({"incident": {"id": "a"}, "metadata": {}}) == {"id": "a"}
    bare = {"id": "b", "incident": "not an object"}
    assert incident_of(bare) is bare
    assert event_of({"event_type": "incident#closed", "incident": {}}) == "incident#closed"
    assert event_of({"metadata": {"event": "bogus"}}) is None


def test_rendering_is_cheap_enough_for_storms() -> None:
    """Issue 11: no deep copy per event; 5,000 renders well under a second here."""
    sim = simulator()
    spec = BodySpec()
    began = time.perf_counter()
    for _ in range(5_000):
        render_body(sim, "updated", spec)
    assert time.perf_counter() - began < 2.0


@pytest.mark.parametrize("event", EVENTS)
def test_targets_that_get_the_webhook_body_get_a_readable_share(
    event: str, emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What xMatters and incident.io are sent, as a receiver of real shares reads it."""
    install(emu, "xmatters", monkeypatch)
    install(emu, "incidentio", monkeypatch)
    result = cli(
        "send-test", event, "--envelope", "share", "--tag", f"host={HOST}", "--dry-run", "--json"
    )
    assert result.exit_code == 0, result.stderr
    requests = json.loads(result.stdout)["requests"]
    assert {r["integration"] for r in requests} == {"xmatters", "incidentio"}
    for request in requests:
        read = receiver_reads(json.dumps(request["body"]).encode())
        assert read["alerts_on_host"] >= 1
        assert read["resolved"] is (event == "incident#closed")
        assert request["body"]["metadata"]["event"] == event
