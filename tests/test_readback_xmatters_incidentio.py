"""xMatters and incident.io read-back as the vendors document it, against the emulator
held to the vendors' shapes: the query each integration sends, the records it reads
(with their creation times), answers of the wrong shape, and the stale record a
lifecycle leaves beside the newest one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bp_integrate.emulator import EmulatorConfig, EmulatorServer
from bp_integrate.emulator.incidentio import INCIDENTIO_SOURCE_ID
from bp_integrate.integrations import get
from bp_integrate.integrations.base import ReadQuery, TargetRecord

CFG = EmulatorConfig()
XM = get("xmatters")
IO = get("incidentio")
XM_REST = {"readback_username": CFG.xmatters_rest_username}
XM_REST["readback_password"] = CFG.xmatters_rest_password
IO_REST = {"readback_api_key": CFG.incidentio_api_key}
REST_AUTH = (CFG.xmatters_rest_username, CFG.xmatters_rest_password)


@pytest.fixture
def client(emu: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, timeout=5) as c:
        yield c


def share(event: str, incident_id: str = "inc-5", status: str = "critical") -> dict[str, Any]:
    return {"event_type": event, "incident": {"id": incident_id, "status": status}}


def trigger(emu: EmulatorServer, client: httpx.Client, event: str, incident_id: str) -> None:
    url = emu.urls["xmatters_trigger"] + f"?apiKey={CFG.xmatters_api_key}&recipients=ops"
    status = "ok" if event.endswith("closed") else "critical"
    assert client.post(url, json=share(event, incident_id, status)).status_code == 202


def fire(emu: EmulatorServer, client: httpx.Client, event: str, incident_id: str) -> None:
    status = "ok" if event.endswith("closed") else "critical"
    headers = {"Authorization": f"Bearer {CFG.incidentio_secret}"}
    answer = client.post(
        emu.urls["incidentio_callback"], json=share(event, incident_id, status), headers=headers
    )
    assert answer.status_code == 202


def read(query: ReadQuery) -> Any:
    answer = httpx.request(query.method, query.url, params=query.params, headers=query.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def xm_values(emu: EmulatorServer) -> dict[str, str]:
    return {"trigger_url": emu.urls["xmatters_trigger"]}


def io_values(emu: EmulatorServer) -> dict[str, str]:
    return {"callback_url": emu.urls["incidentio_callback"]}


# ------------------------------------------------------------------------ xMatters
def test_xmatters_query_asks_for_properties_by_the_guessed_or_given_name() -> None:
    values = {"trigger_url": "https://acme.xmatters.com/api/integration/1/functions/x/triggers"}
    query = XM.readback_query("inc-5", values, XM_REST)
    assert query is not None
    assert query.url == "https://acme.xmatters.com/api/xm/1/events"
    assert query.params == {
        "propertyName": "incident_id",
        "propertyValue": "inc-5",
        "embed": "properties",
    }
    named = XM.readback_query("inc-5", values, {**XM_REST, "readback_incident_property": "bp_id"})
    assert named is not None and named.params["propertyName"] == "bp_id"
    assert XM.readback_query("inc-5", values, {}) is None
    guessed = {f.name: f for f in XM.readback_fields}
    assert guessed["readback_incident_property"].confidence == "G"
    assert guessed["readback_event_property"].default == "event_type"


def test_xmatters_events_list_leaves_properties_out_unless_embedded(
    emu: EmulatorServer, client: httpx.Client
) -> None:
    trigger(emu, client, "incident#new", "inc-5")
    params = {"propertyName": "incident_id", "propertyValue": "inc-5"}
    plain = client.get("/api/xm/1/events", params=params, auth=REST_AUTH).json()
    assert set(plain) == {"count", "total", "data", "links"}
    [event] = plain["data"]
    assert "properties" not in event
    assert {"id", "eventId", "created", "status", "links"} <= set(event)
    assert event["status"] == "ACTIVE" and event["links"]["self"].endswith(event["id"])
    assert plain["links"]["self"].startswith("/api/xm/1/events?propertyName=incident_id")
    embedded = client.get(
        "/api/xm/1/events", params={**params, "embed": "properties"}, auth=REST_AUTH
    ).json()
    assert embedded["data"][0]["properties"] == {
        "incident_id": "inc-5",
        "event_type": "incident#new",
    }


def test_xmatters_events_list_filters_pages_and_refuses_as_xmatters_does(
    emu: EmulatorServer, client: httpx.Client
) -> None:
    for event in ("incident#new", "incident#updated", "incident#closed"):
        trigger(emu, client, event, "inc-5")
    trigger(emu, client, "incident#new", "inc-6")
    params: dict[str, Any] = {"propertyName": "incident_id", "propertyValue": "inc-5"}
    first = client.get("/api/xm/1/events", params={**params, "limit": 2}, auth=REST_AUTH).json()
    assert (first["count"], first["total"]) == (2, 3)
    assert "offset=2" in first["links"]["next"]
    rest = client.get("/api/xm/1/events" + first["links"]["next"].split("events", 1)[1])
    assert rest.status_code == 401  # the REST user's Basic auth is required
    rest = client.get(
        "/api/xm/1/events" + first["links"]["next"].split("events", 1)[1], auth=REST_AUTH
    ).json()
    assert rest["count"] == 1 and "next" not in rest["links"]
    created = [e["created"] for e in first["data"] + rest["data"]]
    assert created == sorted(created, reverse=True)  # newest first
    ended = first["data"][0]["id"]
    answer = client.post(
        "/api/xm/1/events", json={"id": ended, "status": "TERMINATED"}, auth=REST_AUTH
    )
    assert answer.status_code == 202
    done = client.get("/api/xm/1/events", params={"status": "TERMINATED"}, auth=REST_AUTH).json()
    assert [e["id"] for e in done["data"]] == [ended] and "terminated" in done["data"][0]
    for bad in ({"status": "DONE"}, {"limit": "0"}, {"offset": "-1"}, {"propertyName": "x"}):
        answer = client.get("/api/xm/1/events", params=bad, auth=REST_AUTH)
        assert answer.status_code == 400
        assert set(answer.json()) == {"code", "reason", "message"}


def test_xmatters_records_carry_their_creation_time_and_the_close(
    emu: EmulatorServer, client: httpx.Client
) -> None:
    started = time.time()
    trigger(emu, client, "incident#new", "inc-5")
    trigger(emu, client, "incident#closed", "inc-5")
    query = XM.readback_query("inc-5", xm_values(emu), XM_REST)
    assert query is not None
    records = XM.readback_records(read(query))
    assert [r.state for r in records] == ["resolved", "open"]  # the close's event, newest
    assert records[0].status == "ACTIVE (close received)"
    for record in records:
        assert record.created_at is not None and started - 1 <= record.created_at <= time.time()


def test_xmatters_stale_close_beside_a_newer_open_event(
    emu: EmulatorServer, client: httpx.Client
) -> None:
    """new, closed, reopen, then a close that never becomes an event (a fault answers
    202 in its place): the newest event is open, an older one is in the wanted state."""
    for event in ("incident#new", "incident#closed", "incident#reopen"):
        trigger(emu, client, event, "inc-5")
    fault = {"path_prefix": "/api/integration/1/functions/", "status": 202, "times": 1}
    assert client.post("/_faults", json={**fault, "body": {"requestId": "lost"}}).status_code == 201
    trigger(emu, client, "incident#closed", "inc-5")
    query = XM.readback_query("inc-5", xm_values(emu), XM_REST)
    assert query is not None
    records = XM.readback_records(read(query))
    assert len({r.created_at for r in records}) == len(records) == 3  # distinct times
    newest = max(records, key=lambda r: r.created_at or 0)
    assert newest.state == "open"
    assert any(r.state == "resolved" for r in records if r is not newest)


def test_xmatters_workflow_with_other_property_names() -> None:
    config = EmulatorConfig(
        xmatters_incident_property="BP Incident", xmatters_event_type_property="Kind"
    )
    with EmulatorServer(config=config) as emu, httpx.Client(base_url=emu.base_url) as c:
        trigger(emu, c, "incident#closed", "inc-5")
        guessed = XM.readback_query("inc-5", xm_values(emu), XM_REST)
        assert guessed is not None and XM.readback_records(read(guessed)) == []
        creds = {**XM_REST, "readback_incident_property": "BP Incident"}
        named = XM.readback_query("inc-5", xm_values(emu), creds)
        assert named is not None
        [record] = XM.readback_records(read(named))
    # No `event_type` property: a property holding BigPanda's close still tells it.
    assert record.state == "resolved"


@pytest.mark.parametrize(
    "answer",
    [
        None,
        [],
        "events",
        {"data": None},
        {"data": {"id": "x"}},
        {"data": 5},
        {"data": ["x", 3, None]},
        {"data": [{"id": "e1", "status": "ACTIVE", "properties": "not an object"}]},
        {"data": [{"id": "e1", "status": None, "properties": ["event_type"]}]},
    ],
)
def test_xmatters_answers_of_another_shape_are_no_records_or_open_ones(answer: Any) -> None:
    records = XM.readback_records(answer)
    assert all(isinstance(r, TargetRecord) and r.state == "open" for r in records)
    assert all(r.created_at is None for r in records)


def test_xmatters_close_is_read_from_the_property_or_the_status() -> None:
    answer = {
        "data": [
            {"id": "a", "status": "TERMINATED", "created": "2016-10-31T22:37:35.301+0000"},
            {"id": "b", "status": "ACTIVE", "properties": {"event_type": "incident#closed"}},
            {"id": "c", "status": "ACTIVE", "properties": {"event_type": "incident#reopen"}},
            {"id": "d", "status": "ACTIVE", "properties": {"Kind": "incident#closed"}},
        ]
    }
    records = XM.readback_records(answer)
    assert [(r.id, r.state) for r in records] == [
        ("a", "resolved"),
        ("b", "resolved"),
        ("c", "open"),
        ("d", "resolved"),
    ]
    assert records[0].created_at == 1477953455.301


# ---------------------------------------------------------------------- incident.io
def test_incidentio_query_sends_the_required_page_size() -> None:
    values = {
        "callback_url": f"https://api.incident.io/v2/alert_events/bigpanda/{INCIDENTIO_SOURCE_ID}"
    }
    query = IO.readback_query("inc-5", values, IO_REST)
    assert query is not None
    assert query.url == "https://api.incident.io/v2/alerts"
    assert query.params == {"page_size": "25", "deduplication_key[is]": "inc-5"}


def test_incidentio_records_carry_their_creation_time(
    emu: EmulatorServer, client: httpx.Client
) -> None:
    started = time.time()
    fire(emu, client, "incident#new", "inc-5")
    fire(emu, client, "incident#new", "inc-6")
    query = IO.readback_query("inc-5", io_values(emu), IO_REST)
    assert query is not None
    [record] = IO.readback_records(read(query))
    assert (record.state, record.status) == ("open", "firing")
    assert record.created_at is not None and started - 1 <= record.created_at <= time.time()


def test_incidentio_stale_resolved_alert_beside_a_newer_firing_one() -> None:
    """With `incidentio_refire="new"`: new, closed, reopen leave a resolved alert and a
    newer firing one with the same deduplication key."""
    with EmulatorServer(config=EmulatorConfig(incidentio_refire="new")) as emu:
        with httpx.Client(base_url=emu.base_url) as c:
            for event in ("incident#new", "incident#closed", "incident#reopen"):
                fire(emu, c, event, "inc-5")
        query = IO.readback_query("inc-5", io_values(emu), IO_REST)
        assert query is not None
        records = IO.readback_records(read(query))
    assert [r.state for r in records] == ["open", "resolved"]
    assert records[0].created_at is not None and records[1].created_at is not None
    assert records[0].created_at > records[1].created_at


@pytest.mark.parametrize(
    "answer",
    [None, [], "alerts", {"alerts": None}, {"alerts": 7}, {"alerts": "x"}, {"alerts": [1]}],
)
def test_incidentio_answers_of_another_shape_are_no_records(answer: Any) -> None:
    assert IO.readback_records(answer) == []


def test_incidentio_install_asks_for_an_admin_service_account() -> None:
    step = IO.install_steps[0]
    assert "service account" in step.title and "Admin" in step.title
    assert "close the BigPanda incident" in step.text
