"""The BigPanda body's homes: events, the simulated incident, envelopes, --set and --payload.

(bp_integrate.bigpanda.events / simulator / testmark / webhook and bp_integrate.jsonpath;
bp_integrate.payloads only re-exports them until the lead removes it.)
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from bp_integrate.bigpanda.events import (
    BUILTIN_SCENARIOS,
    EVENTS,
    LIFECYCLE_ORDER,
    resolve_event,
    severity_to_pagerduty,
)
from bp_integrate.bigpanda.simulator import IncidentSimulator, new_incident_id
from bp_integrate.bigpanda.testmark import TEST_MARKER_TAG, incident_tag_id
from bp_integrate.bigpanda.webhook import envelope, load_payload_file, summary
from bp_integrate.errors import ExitCode, UsageError
from bp_integrate.integrations.common import validate_tag_name
from bp_integrate.jsonpath import parse_assignment, set_path

RANK = {"ok": 0, "unknown": 1, "warning": 2, "critical": 3}
START = 1_700_000_000


def make(seed: int = 7, **kwargs: Any) -> IncidentSimulator:
    return IncidentSimulator(start=START, rng=random.Random(seed), **kwargs)


def alert_tags(alert: dict[str, Any]) -> dict[str, str]:
    return {t["name"]: t["value"] for t in alert["tags"]}


_TAG_NAMES = {incident_tag_id(n): n for n in (TEST_MARKER_TAG, "owner", "priority")}


def incident_tags(incident: dict[str, Any]) -> dict[str, str]:
    """Incident tags by name (ids are `itd-` + 10 hex digits, one per name)."""
    for tag in incident["incident_tags"]:
        assert re.fullmatch(r"itd-[0-9a-f]{10}", tag["tag_id"])
    return {_TAG_NAMES[t["tag_id"]]: t["tag_value"] for t in incident["incident_tags"]}


def check_consistent(incident: dict[str, Any], highest_seen: str) -> None:
    """The invariants every rendered incident must keep, whatever the event order."""
    alerts = incident["alerts"]
    assert alerts, "an incident always has at least one alert"
    for alert in alerts:
        assert alert["active"] == (alert["status"] != "ok")
        assert (alert["end"] is None) == alert["active"]
        assert alert["start"] <= alert["changed_at"] <= alert["updated_at"]
        assert alert["updated_at"] <= incident["updated_at"]
    active = [a["status"] for a in alerts if a["active"]]
    assert incident["active"] == bool(active)
    expected_status = max(active, key=RANK.__getitem__) if active else "ok"
    assert incident["status"] == expected_status
    assert (incident["end"] is None) == incident["active"]
    if incident["end"] is not None:
        assert incident["start"] <= incident["end"] <= incident["updated_at"]
    assert incident["severity"] == highest_seen


@pytest.mark.parametrize("scenario", sorted(BUILTIN_SCENARIOS))
def test_builtin_scenario_keeps_one_id_advancing_clock_and_consistent_state(
    scenario: str,
) -> None:
    sim = make()
    ids: set[str] = set()
    previous: tuple[int, int] | None = None
    highest = "ok"
    for event in BUILTIN_SCENARIOS[scenario]:
        incident = sim.apply(event)
        ids.add(incident["id"])
        assert incident["start"] == START
        stamps = (incident["changed_at"], incident["updated_at"])
        if previous is not None:
            assert stamps[0] > previous[0] and stamps[1] > previous[1]
        previous = stamps
        for status in [incident["status"]] + [a["status"] for a in incident["alerts"]]:
            highest = max(highest, status, key=RANK.__getitem__)
        check_consistent(incident, highest)
    assert ids == {sim.incident_id}
    assert re.fullmatch(r"[0-9a-f]{24}", sim.incident_id)


def test_lifecycle_event_by_event() -> None:
    sim = make()
    new = sim.apply("incident#new")
    assert (new["status"], new["active"], new["severity"], new["flapping"]) == (
        "critical",
        True,
        "critical",
        False,
    )
    assert len(new["alerts"]) == 1
    assert new["end"] is None

    updated = sim.apply("incident#updated")
    assert [a["status"] for a in updated["alerts"]] == ["critical", "warning"]
    assert updated["status"] == "critical"
    second = updated["alerts"][1]
    assert alert_tags(second)["host"] == alert_tags(updated["alerts"][0])["host"]
    [[entry]] = updated["correlation_matchers_log"]  # one list of matchers per change
    assert entry["alert_id"] == second["id"]
    assert 1 <= entry["time_window"] <= 4320  # minutes

    closed = sim.apply("incident#closed")
    assert closed["status"] == "ok"
    assert closed["active"] is False
    assert closed["severity"] == "critical"
    assert closed["end"] == closed["updated_at"]
    assert all(a["status"] == "ok" and a["end"] == closed["end"] for a in closed["alerts"])

    reopened = sim.apply("incident#reopen")
    assert (reopened["status"], reopened["active"], reopened["end"]) == ("critical", True, None)
    assert reopened["flapping"] is False
    assert reopened["alerts"][0]["end"] is None
    assert reopened["alerts"][1]["end"] == closed["end"]  # not re-fired, still resolved

    closed_again = sim.apply("incident#closed")
    assert closed_again["end"] is not None and closed_again["end"] > closed["end"]
    assert [e for e in LIFECYCLE_ORDER] == [
        "incident#new",
        "incident#updated",
        "incident#closed",
        "incident#reopen",
        "incident#closed",
    ]


def test_closing_twice_keeps_first_end_and_stays_consistent() -> None:
    sim = make()
    sim.apply("new")
    first = sim.apply("closed")
    second = sim.apply("closed")
    assert second["end"] == first["end"]
    assert second["updated_at"] > first["updated_at"]
    assert second["status"] == "ok" and second["active"] is False
    check_consistent(second, "critical")


def test_events_before_new_create_the_incident_first() -> None:
    sim = make()
    reopened = sim.apply("incident#reopen")
    assert reopened["active"] is True and reopened["status"] == "critical"
    assert len(reopened["alerts"]) == 1
    check_consistent(reopened, "critical")

    closed_first = make(seed=3).apply("incident#closed")
    assert closed_first["active"] is False and closed_first["status"] == "ok"
    assert closed_first["severity"] == "critical"
    check_consistent(closed_first, "critical")


def test_flapping_scenario() -> None:
    sim = make()
    sim.apply("incident#new")
    flapping = sim.apply("incident#become-flapping")
    assert flapping["flapping"] is True and flapping["active"] is True
    updated = sim.apply("incident#updated")
    assert updated["flapping"] is True
    closed = sim.apply("incident#closed")
    assert closed["active"] is False
    assert sim.apply("incident#reopen")["flapping"] is False


def test_flapping_on_closed_incident_reactivates_it() -> None:
    sim = make()
    sim.apply("new")
    sim.apply("closed")
    flapping = sim.apply("flapping")
    assert flapping["flapping"] is True and flapping["active"] is True
    assert flapping["end"] is None
    check_consistent(flapping, "critical")


def test_updates_add_warning_then_flip_status_and_severity_never_drops() -> None:
    sim = make()
    sim.apply("new")
    seen = []
    for _ in range(5):
        incident = sim.apply("updated")
        seen.append([a["status"] for a in incident["alerts"]])
        assert incident["severity"] == "critical"
        check_consistent(incident, "critical")
    assert seen[0] == ["critical", "warning"]
    assert seen[1] == ["critical", "warning", "warning"]
    assert seen[2] == ["critical", "warning", "critical"]
    assert seen[3] == ["critical", "warning", "warning"]


def test_update_after_close_changes_only_timestamps() -> None:
    sim = make()
    sim.apply("new")
    closed = sim.apply("closed")
    updated = sim.apply("updated")
    assert updated["alerts"] == closed["alerts"]
    assert updated["active"] is False and updated["end"] == closed["end"]
    assert updated["updated_at"] > closed["updated_at"]


def test_snooze_sets_future_end_time_and_auto_cancels() -> None:
    sim = make()
    sim.apply("new")
    snoozed = sim.apply("incident#snoozed")
    assert snoozed["snooze"]["snoozed"] is True
    assert snoozed["snooze"]["autoCancel"] is True
    assert snoozed["snooze"]["end_time"] > snoozed["updated_at"]
    assert snoozed["active"] is True
    commented = sim.apply("incident#commented")
    assert commented["snooze"] == snoozed["snooze"]
    closed = sim.apply("incident#closed")
    assert closed["snooze"] == {"snoozed": False, "end_time": None, "autoCancel": False}


def test_commented_changes_only_timestamps_and_keeps_comment() -> None:
    sim = make()
    before = sim.apply("new")
    after = sim.apply("incident#commented", comment="Looking into it")
    assert after["updated_at"] > before["updated_at"]
    for key in ("status", "active", "severity", "alerts", "incident_tags", "end"):
        assert after[key] == before[key]
    assert sim.last_comment == "Looking into it"
    sim.apply("commented")
    assert sim.last_comment is not None and sim.last_comment.startswith("[TEST] ")


def test_tag_events_upsert_and_remove_incident_tags() -> None:
    sim = make()
    sim.apply("new")
    upserted = sim.apply("incident-tag#upserted", tag=("owner", "dba-team"))
    assert incident_tags(upserted) == {TEST_MARKER_TAG: "true", "owner": "dba-team"}
    again = sim.apply("incident-tag#upserted", tag=("owner", "sre"))
    assert incident_tags(again) == {TEST_MARKER_TAG: "true", "owner": "sre"}
    assert len(again["incident_tags"]) == 2
    default = sim.apply("tag-upserted")
    assert incident_tags(default)["priority"] == "P2"
    removed = sim.apply("incident-tag#removed", tag=("owner", ""))
    assert "owner" not in incident_tags(removed)
    removed_last = sim.apply("incident-tag#removed")
    assert incident_tags(removed_last) == {TEST_MARKER_TAG: "true"}
    nothing_left = sim.apply("incident-tag#removed")
    assert incident_tags(nothing_left) == {TEST_MARKER_TAG: "true"}
    with pytest.raises(UsageError):
        sim.apply("incident-tag#upserted", tag=("Owner", "x"))


@pytest.mark.parametrize("event", ["manual", "default"])
def test_manual_and_default_only_advance_updated_at(event: str) -> None:
    sim = make()
    before = sim.apply("new")
    after = sim.apply(event)
    assert after["updated_at"] > before["updated_at"]
    assert {k: v for k, v in after.items() if k not in ("changed_at", "updated_at")} == {
        k: v for k, v in before.items() if k not in ("changed_at", "updated_at")
    }


def test_apply_returns_fresh_objects() -> None:
    sim = make()
    first = sim.apply("new")
    first["alerts"][0]["status"] = "ok"
    first["incident_tags"].clear()
    second = sim.apply("updated")
    assert second["alerts"][0]["status"] == "critical"
    assert incident_tags(second) == {TEST_MARKER_TAG: "true"}
    alert_id = second["alerts"][1]["id"]
    second["correlation_matchers_log"][0][0]["alert_id"] = "changed"
    second["correlation_matchers_log"][0][0]["tags"].append("check")
    second["correlation_matchers_log"][0][0]["matched_value"]["host"] = "elsewhere"
    second["snooze"]["snoozed"] = True
    second["environments"].append("x")
    second["alerts"][0]["maintenance_plans"].append("x")
    third = sim.apply("manual")
    assert third["correlation_matchers_log"][0][0]["alert_id"] == alert_id
    assert third["correlation_matchers_log"][0][0]["tags"] == ["host"]
    assert third["correlation_matchers_log"][0][0]["matched_value"]["host"] != "elsewhere"
    assert third["snooze"]["snoozed"] is False
    assert third["environments"] == [sim.environment_id]
    assert third["alerts"][0]["maintenance_plans"] == []


def test_alert_fields_are_realistic() -> None:
    incident = make(tags={"env": "prod", "service": "billing"}).apply("new")
    expected_keys = {
        "id",
        "status",
        "active",
        "resolved",
        "severity",
        "flapping",
        "snooze",
        "start",
        "changed_at",
        "updated_at",
        "end",
        "environments",
        "folders",
        "incident_tags",
        "correlation_matchers_log",
        "alerts",
    }
    assert set(incident) == expected_keys
    assert incident["snooze"] == {"snoozed": False, "end_time": None, "autoCancel": False}
    assert incident["resolved"] is False and incident["folders"] == ["active", "shared"]
    alert = incident["alerts"][0]
    assert set(alert) == {
        "id",
        "status",
        "start",
        "end",
        "changed_at",
        "updated_at",
        "last_event_at",
        "active",
        "primary_property",
        "secondary_property",
        "source_system",
        "incident_key",
        "description",
        "maintenance_plans",
        "tags",
    }
    assert alert["last_event_at"] == alert["start"] and alert["maintenance_plans"] == []
    assert alert["primary_property"] == "host"
    assert alert["secondary_property"] == "check"
    assert re.fullmatch(r"[a-z]+\.[a-z0-9_]+", alert["source_system"])
    tags = alert_tags(alert)
    assert re.fullmatch(r"prod-[a-z]+-\d\d\.example\.com", tags["host"])
    assert tags["env"] == "prod" and tags["service"] == "billing"
    assert alert["incident_key"] == f"{tags['host']}/{tags['check']}"
    assert tags["host"] in alert["description"] and alert["description"].startswith("[TEST] ")
    assert re.fullmatch(r"[0-9a-f]{24}", alert["id"])


def test_user_host_and_check_tags_drive_the_alert() -> None:
    sim = make(tags={"host": "db-1.corp.test", "check": "Disk usage /var"})
    incident = sim.apply("new")
    tags = alert_tags(incident["alerts"][0])
    assert tags["host"] == "db-1.corp.test" and tags["check"] == "Disk usage /var"
    assert re.fullmatch(
        r"\[TEST\] Disk usage of /var is 9\d% on db-1\.corp\.test",
        incident["alerts"][0]["description"],
    )
    second = sim.apply("updated")["alerts"][1]
    assert alert_tags(second)["host"] == "db-1.corp.test"
    assert alert_tags(second)["check"] != "Disk usage /var"


def test_bad_user_tag_is_refused_at_construction() -> None:
    with pytest.raises(UsageError, match="'Env' is not a BigPanda tag name: it must be lowercase"):
        IncidentSimulator(tags={"Env": "prod"})


def test_test_marker_on_and_off() -> None:
    marked = make(test_marker=True).apply("new")
    assert incident_tags(marked) == {TEST_MARKER_TAG: "true"}
    assert alert_tags(marked["alerts"][0])[TEST_MARKER_TAG] == "true"
    assert marked["alerts"][0]["description"].startswith("[TEST] ")

    plain = make(test_marker=False).apply("new")
    assert plain["incident_tags"] == []
    assert TEST_MARKER_TAG not in alert_tags(plain["alerts"][0])
    assert not plain["alerts"][0]["description"].startswith("[TEST]")
    assert marked["alerts"][0]["description"] == "[TEST] " + plain["alerts"][0]["description"]


def test_descriptions_stay_within_2048_characters() -> None:
    sim = make(tags={"check": "x" * 3000})
    incident = sim.apply("new")
    description = incident["alerts"][0]["description"]
    assert len(description) == 2048
    assert description.startswith("[TEST] ") and description.endswith("...")
    for event in LIFECYCLE_ORDER:
        for alert in sim.apply(event)["alerts"]:
            assert len(alert["description"]) <= 2048


def test_seeded_rng_is_deterministic_and_output_is_json() -> None:
    def run(seed: int) -> list[dict[str, Any]]:
        sim = make(seed=seed, tags={"env": "prod"})
        return [sim.apply(e) for e in BUILTIN_SCENARIOS["lifecycle"]]

    first, second = run(42), run(42)
    assert first == second
    assert json.loads(json.dumps(first)) == first
    assert run(43) != first


def test_explicit_incident_id_is_kept() -> None:
    sim = IncidentSimulator(incident_id="5f1e3c2a9b8d7e6f5a4b3c2d", start=START)
    assert {sim.apply(e)["id"] for e in LIFECYCLE_ORDER} == {"5f1e3c2a9b8d7e6f5a4b3c2d"}


def test_state_before_any_event_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        make().state()


def test_new_incident_id_looks_like_an_object_id() -> None:
    ident = new_incident_id()
    assert re.fullmatch(r"[0-9a-f]{24}", ident)
    assert new_incident_id() != ident
    seeded = new_incident_id(random.Random(1), at=0x5F1E3C2A)
    assert seeded.startswith("5f1e3c2a") and seeded == new_incident_id(random.Random(1), 0x5F1E3C2A)


# --------------------------------------------------------------------------- events


def test_events_list_is_complete_and_ordered() -> None:
    assert EVENTS == (
        "incident#new",
        "incident#updated",
        "incident#closed",
        "incident#reopen",
        "incident#snoozed",
        "incident#commented",
        "incident#become-flapping",
        "incident-tag#upserted",
        "incident-tag#removed",
        "manual",
        "default",
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("incident#new", "incident#new"),
        ("new", "incident#new"),
        ("NEW", "incident#new"),
        ("  Closed ", "incident#closed"),
        ("resolve", "incident#closed"),
        ("reopen", "incident#reopen"),
        ("incident#Reopen", "incident#reopen"),
        ("flapping", "incident#become-flapping"),
        ("become_flapping", "incident#become-flapping"),
        ("snooze", "incident#snoozed"),
        ("comment", "incident#commented"),
        ("tag-upserted", "incident-tag#upserted"),
        ("tag removed", "incident-tag#removed"),
        ("incident-new", "incident#new"),
        ("Manual", "manual"),
        ("default", "default"),
    ],
)
def test_resolve_event_forgiving_forms(given: str, expected: str) -> None:
    assert resolve_event(given) == expected


def test_resolve_event_suggests_nearest() -> None:
    with pytest.raises(UsageError) as caught:
        resolve_event("closd")
    assert caught.value.message == "Unknown BigPanda event 'closd'."
    assert caught.value.hint == (
        "Did you mean 'incident#closed'? `bp-integrate send-test --help` lists them."
    )
    assert caught.value.code == ExitCode.USAGE


def test_resolve_event_without_a_near_match_lists_events() -> None:
    with pytest.raises(UsageError) as caught:
        resolve_event("zzzzzz")
    assert caught.value.hint is not None
    assert "incident#become-flapping" in caught.value.hint
    assert "`bp-integrate send-test --help` lists them" in caught.value.hint
    assert "Did you mean" not in caught.value.hint


def test_builtin_scenarios() -> None:
    assert BUILTIN_SCENARIOS == {
        "lifecycle": (
            "incident#new",
            "incident#updated",
            "incident#closed",
            "incident#reopen",
            "incident#closed",
        ),
        "flapping": (
            "incident#new",
            "incident#become-flapping",
            "incident#updated",
            "incident#closed",
        ),
        "comment": ("incident#new", "incident#commented", "incident#closed"),
    }


# --------------------------------------------------------------------------- tag names


@pytest.mark.parametrize("name", ["env", "env_name-2", "a", "a" * 64, "bp_integrate_test"])
def test_tag_names_accepted(name: str) -> None:
    assert validate_tag_name(name) == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("Env", "must be lowercase"),
        ("1abc", "must start with a letter"),
        ("_env", "must start with a letter"),
        ("a" * 65, "is 65 characters long"),
        ("env name", "may only contain"),
        ("env.name", "may only contain"),
        ("env\n", "may only contain"),
        ("", "empty"),
    ],
)
def test_tag_names_refused(name: str, problem: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_tag_name(name)
    assert problem in caught.value.message
    assert caught.value.hint is not None


def test_tag_name_hint_offers_a_fixed_name() -> None:
    with pytest.raises(UsageError) as caught:
        validate_tag_name("Service Name")
    assert caught.value.hint is not None and caught.value.hint.endswith("try 'service_name'.")


# --------------------------------------------------------------------------- envelope


def test_envelope_shapes() -> None:
    sim = make()
    incident = sim.apply("new")
    body = envelope("incident#new", incident)
    assert body["incident"] is incident and set(body) == {"incident", "metadata"}
    assert body["metadata"] == {
        "environment_id": sim.environment_id,
        "event": "incident#new",
        "share_id": body["metadata"]["share_id"],
        "shared_at": incident["updated_at"],
    }
    assert re.fullmatch(r"[0-9a-f]{24}", body["metadata"]["share_id"])
    assert incident["environments"] == [sim.environment_id]
    assert (
        envelope("new", incident, "share", environment_id="env-1")["metadata"]["environment_id"]
        == "env-1"
    )
    assert envelope("incident#new", incident, "event") == {
        "event_type": "incident#new",
        "incident": incident,
    }
    assert envelope("new", incident, "event")["event_type"] == "incident#new"
    assert envelope("incident#new", incident, "incident") == {"incident": incident}
    assert envelope("incident#new", incident, "bare") is incident


def test_envelope_comment() -> None:
    incident = make().apply("new")
    body = envelope("incident#commented", incident, "event", comment="On it")
    assert body == {"event_type": "incident#commented", "incident": incident, "comment": "On it"}
    share = envelope("incident#commented", incident, comment="On it")
    assert share["comment"] == "On it" and share["metadata"]["event"] == "incident#commented"
    assert envelope("commented", incident, "incident", comment="x") == {
        "incident": incident,
        "comment": "x",
    }
    bare = envelope("commented", incident, "bare", comment="x")
    assert bare["comment"] == "x" and bare["id"] == incident["id"]
    assert "comment" not in incident


def test_envelope_refuses_unknown_shape_and_event() -> None:
    incident = make().apply("new")
    with pytest.raises(UsageError, match="Unknown envelope shape 'bar'"):
        envelope("incident#new", incident, "bar")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="Unknown BigPanda event"):
        envelope("incident#nope-nope", incident)


# --------------------------------------------------------------------------- summary / PD


def test_summary_uses_most_severe_active_alert() -> None:
    sim = make(tags={"host": "prod-db-03.example.com", "check": "CPU load"})
    incident = sim.apply("new")
    assert re.fullmatch(r"\[TEST\] CPU load is 9\d% on prod-db-03\.example\.com", summary(incident))
    updated = sim.apply("updated")
    assert summary(updated) == updated["alerts"][0]["description"] + " (+1 more alert)"


def test_summary_is_one_line_and_truncated() -> None:
    alert = {"active": True, "status": "critical", "description": "a\nb"}
    incident: dict[str, Any] = {"id": "x", "alerts": [alert]}
    assert summary(incident) == "a b"
    incident["alerts"][0]["description"] = "y" * 5000
    text = summary(incident)
    assert len(text) == 1024 and text.endswith("...")


def test_summary_tolerates_hand_edited_payloads() -> None:
    assert summary({"id": "abc", "status": "critical"}) == "BigPanda incident abc is critical"
    assert summary({"alerts": "oops"}) == "BigPanda incident ? is ?"
    tags = [{"name": "host", "value": "h"}, {"name": "check", "value": "Disk"}]
    alert = {"status": "warning", "active": True, "tags": tags}
    assert summary({"alerts": [alert]}) == "Disk is warning on h"


@pytest.mark.parametrize(
    ("status", "severity"),
    [
        ("critical", "critical"),
        ("warning", "warning"),
        ("unknown", "error"),
        ("ok", "info"),
        ("CRITICAL", "critical"),
    ],
)
def test_severity_to_pagerduty(status: str, severity: str) -> None:
    assert severity_to_pagerduty(status) == severity


def test_severity_to_pagerduty_refuses_unknown_status() -> None:
    with pytest.raises(UsageError, match="'major'"):
        severity_to_pagerduty("major")


# --------------------------------------------------------------------------- --set


def body() -> dict[str, Any]:
    return {
        "event_type": "incident#new",
        "incident": {
            "status": "critical",
            "alerts": [{"status": "critical", "tags": [{"name": "host", "value": "h"}]}],
        },
    }


@pytest.mark.parametrize(
    ("path", "raw", "read", "expected"),
    [
        ("incident.status", "warning", ("incident", "status"), "warning"),
        ("incident.status", '"ok"', ("incident", "status"), "ok"),
        ("incident.active", "true", ("incident", "active"), True),
        ("incident.start", "3", ("incident", "start"), 3),
        ("incident.end", "null", ("incident", "end"), None),
        ("incident.snooze", '{"snoozed": true}', ("incident", "snooze"), {"snoozed": True}),
        ("incident.alerts.0.status", "ok", ("incident", "alerts", 0, "status"), "ok"),
        ("incident.alerts[0].status", "ok", ("incident", "alerts", 0, "status"), "ok"),
        ("incident.alerts[-1].status", "unknown", ("incident", "alerts", 0, "status"), "unknown"),
        (
            "incident.alerts[0].tags[0].value",
            "db-9",
            ("incident", "alerts", 0, "tags", 0, "value"),
            "db-9",
        ),
        ("incident.alerts.0.description", "a=b", ("incident", "alerts", 0, "description"), "a=b"),
        ("incident.new.deep.key", "1", ("incident", "new", "deep", "key"), 1),
        ("event_type", "NaN", ("event_type",), "NaN"),
        ("incident.status", "", ("incident", "status"), ""),
    ],
)
def test_set_path(path: str, raw: str, read: tuple[str | int, ...], expected: Any) -> None:
    data = body()
    set_path(data, path, raw)
    found: Any = data
    for step in read:
        found = found[step]
    assert found == expected
    json.dumps(data)


def test_set_path_leaves_other_values_alone() -> None:
    data = body()
    set_path(data, "incident.alerts[0].status", "ok")
    expected = body()
    expected["incident"]["alerts"][0]["status"] = "ok"
    assert data == expected


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "incident.alerts.3.status",
            "--set incident.alerts.3.status: index 3 is out of range; "
            "incident.alerts has 1 item(s).",
        ),
        (
            "incident.alerts[1]",
            "--set incident.alerts[1]: index 1 is out of range; incident.alerts has 1 item(s).",
        ),
        (
            "incident.status.x",
            '--set incident.status.x: incident.status is a string "critical", '
            "so it has no 'x' inside.",
        ),
        (
            "incident.alerts.first.status",
            "--set incident.alerts.first.status: incident.alerts is a list, "
            "and 'first' is not an index.",
        ),
        (
            "incident[0]",
            "--set incident[0]: incident is an object, not a list; [0] does not apply.",
        ),
    ],
)
def test_set_path_errors_name_the_path_and_what_was_found(path: str, message: str) -> None:
    data = body()
    with pytest.raises(UsageError) as caught:
        set_path(data, path, "1")
    assert caught.value.message == message
    assert caught.value.hint
    assert data == body()


@pytest.mark.parametrize("path", ["", ".", "incident..status", "incident.[", "a]b"])
def test_set_path_refuses_malformed_paths(path: str) -> None:
    with pytest.raises(UsageError, match="Cannot read the path"):
        set_path(body(), path, "1")


def test_parse_assignment() -> None:
    assert parse_assignment("incident.status=warning") == ("incident.status", "warning")
    assert parse_assignment("a.b=x=y") == ("a.b", "x=y")
    assert parse_assignment("a=") == ("a", "")
    for bad in ("incident.status", "=value", ""):
        with pytest.raises(UsageError) as caught:
            parse_assignment(bad)
        assert caught.value.message == f"--set expects PATH=VALUE, got '{bad}'."
        assert caught.value.hint is not None
        assert "--set incident.status=warning" in caught.value.hint


# --------------------------------------------------------------------------- --payload


def test_load_payload_file(tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_text(json.dumps({"incident": {"id": "x"}}), encoding="utf-8")
    assert load_payload_file(path) == {"incident": {"id": "x"}}


def test_load_payload_file_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "incident": {\n    "id": "x",\n  }\n}\n', encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        load_payload_file(path)
    assert caught.value.message == (
        f"The payload file is not valid JSON at {path}:4:3: Expecting property name enclosed "
        "in double quotes."
    )


def test_load_payload_file_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_payload_file(tmp_path / "missing.json")
    with pytest.raises(UsageError, match="is a folder, not a file"):
        load_payload_file(tmp_path)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(UsageError, match="holds a JSON list, not an object"):
        load_payload_file(listing)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe{}")
    with pytest.raises(UsageError, match="not UTF-8"):
        load_payload_file(binary)


def piped(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    """Standard input as a pipe holding `data`."""
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_payload_dash_reads_the_body_from_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    piped(monkeypatch, json.dumps({"incident": {"id": "x"}}).encode())
    assert load_payload_file(Path("-")) == {"incident": {"id": "x"}}


@pytest.mark.parametrize(
    "data",
    [
        b"[1, 2]",  # not an object
        b'{\n  "incident": {\n    "id": "x",\n  }\n}\n',  # not JSON: line and column
        b'{"incident": {"id": "\xff"}}',  # not UTF-8
        b"[" * 70 + b"]" * 70,  # too deep
        b'{"incident": {"id": NaN}}',  # not what JSON carries
        b'{"incident": {"id": "\\ud800"}}',  # a lone surrogate
        b'{"incident": []}',  # the body's shape
        b" " * (4 * 1024 * 1024 + 1),  # over the size limit
    ],
    ids=["list", "syntax", "utf8", "depth", "nan", "surrogate", "shape", "size"],
)
def test_payload_from_standard_input_is_checked_and_told_as_a_file_is(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data: bytes
) -> None:
    """The same bounded reader (bp_integrate.loading): each refusal has the file's message,
    naming standard input where a file's message names its path."""
    path = tmp_path / "body.json"
    path.write_bytes(data)
    with pytest.raises(UsageError) as from_file:
        load_payload_file(path)
    piped(monkeypatch, data)
    with pytest.raises(UsageError) as from_stdin:
        load_payload_file(Path("-"))
    told = from_file.value.message.replace(str(path), "(standard input)")
    assert from_stdin.value.message == told.replace("ayload file", "ayload")
    assert "(standard input)" in from_stdin.value.message


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"", "--payload -: standard input is empty: nothing was piped in."),
        (None, "--payload -: standard input is closed or cannot be read."),
    ],
)
def test_payload_dash_with_nothing_piped_names_the_fix(
    monkeypatch: pytest.MonkeyPatch, data: bytes | None, said: str
) -> None:
    import sys

    if data is None:
        monkeypatch.setattr(sys, "stdin", None)  # started with stdin closed (`<&-`)
    else:
        piped(monkeypatch, data)
    with pytest.raises(UsageError) as caught:
        load_payload_file(Path("-"))
    assert caught.value.message == said
    assert caught.value.code == ExitCode.USAGE
    assert "--payload - < body.json" in (caught.value.hint or "")


def test_mark_as_test_marks_only_the_fields_a_body_has() -> None:
    from bp_integrate.bigpanda.testmark import mark_as_test

    body: dict[str, Any] = {
        "comment": "Looking",
        "id": "x",
        "alerts": [{"description": "d" * 2048, "tags": []}, "not an alert", {"status": "ok"}],
    }
    mark_as_test(body)
    once = json.loads(json.dumps(body))
    mark_as_test(body)  # twice is once
    assert body == once
    assert body["comment"] == "[TEST] Looking"
    first = body["alerts"][0]
    assert first["description"] == "[TEST] " + "d" * (2048 - 10) + "..."
    assert first["tags"] == [{"name": "bp_integrate_test", "value": "true"}]
    assert body["alerts"][1:] == ["not an alert", {"status": "ok"}]  # nothing added
    assert "incident_tags" not in body
    empty: dict[str, Any] = {"event": "x"}
    mark_as_test(empty)
    assert empty == {"event": "x"}
