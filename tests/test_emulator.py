"""Tests of the embedded emulator (bp_integrate.emulator), over real loopback HTTP."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import pagerduty
import pytest

from bp_integrate.emulator import (
    INCIDENTIO_SOURCE_ID,
    PANOPTA_CLEAR_FUNCTION_ID,
    PANOPTA_OUTAGE_FUNCTION_ID,
    XMATTERS_BIGPANDA_FUNCTION_ID,
    EmulatorBindError,
    EmulatorConfig,
    EmulatorServer,
    ReceivedRecord,
    demo_function_ids,
    endpoint_urls,
    events_schema,
    is_loopback_host,
    serve_forever,
    xmatters_trigger_url,
)

CFG = EmulatorConfig()
ROUTING_KEY = "0123456789abcdef0123456789abcdef"
ENV_ID = CFG.bigpanda_environments[0][0]
XM_PATH = f"/api/integration/1/functions/{XMATTERS_BIGPANDA_FUNCTION_ID}/triggers"
OUTAGE_PATH = f"/api/integration/1/functions/{PANOPTA_OUTAGE_FUNCTION_ID}/triggers"
CLEAR_PATH = f"/api/integration/1/functions/{PANOPTA_CLEAR_FUNCTION_ID}/triggers"
IO_PATH = f"/v2/alert_events/bigpanda/{INCIDENTIO_SOURCE_ID}"
INVALID = {"status": "Unrecognized object", "message": "Event object is invalid"}


@pytest.fixture
def client(emu: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, timeout=5.0) as c:
        yield c


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def trigger_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "bp-incident-1",
        "payload": {"summary": "CPU high on db-1", "source": "db-1", "severity": "critical"},
    }
    event.update(overrides)
    return event


def bp_incident(incident_id: str = "inc-42", **fields: Any) -> dict[str, Any]:
    incident = {"id": incident_id, "status": "critical", "active": True, "severity": "critical"}
    incident.update(fields)
    return incident


# ----------------------------------------------------------------------- config
def test_endpoint_urls_and_demo_ids() -> None:
    ids = demo_function_ids()
    assert ids == {
        "xmatters_bigpanda": XMATTERS_BIGPANDA_FUNCTION_ID,
        "panopta_outage": PANOPTA_OUTAGE_FUNCTION_ID,
        "panopta_clear": PANOPTA_CLEAR_FUNCTION_ID,
        "incidentio_source": INCIDENTIO_SOURCE_ID,
    }
    for value in list(ids.values())[:3]:
        uuid.UUID(value)
    urls = endpoint_urls("http://127.0.0.1:9/")
    assert urls["xmatters_trigger"] == "http://127.0.0.1:9" + XM_PATH
    assert urls["panopta_outage"] == "http://127.0.0.1:9" + OUTAGE_PATH
    assert urls["panopta_clear"] == "http://127.0.0.1:9" + CLEAR_PATH
    assert urls["pagerduty_events"] == "http://127.0.0.1:9/v2/enqueue"
    assert urls["incidentio_callback"] == "http://127.0.0.1:9" + IO_PATH
    assert urls["bigpanda_api"] == "http://127.0.0.1:9"
    url = xmatters_trigger_url("http://h", "f-1", api_key="k&y", recipients=["Cloud Devops", "ops"])
    assert url == (
        "http://h/api/integration/1/functions/f-1/triggers"
        "?apiKey=k%26y&recipients=Cloud%20Devops,ops"
    )


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        EmulatorConfig(max_body_bytes=0)
    with pytest.raises(ValueError):
        EmulatorConfig(pagerduty_rate_limit=0)
    with pytest.raises(ValueError):
        EmulatorConfig(xmatters_username="a:b")


# ---------------------------------------------------------------------- xMatters
def test_xmatters_api_key_accepted(emu: EmulatorServer, client: httpx.Client) -> None:
    body = {"event_type": "incident#new", "incident": bp_incident()}
    r = client.post(
        XM_PATH + f"?apiKey={CFG.xmatters_api_key}&recipients=Cloud%20Devops,jdoe", json=body
    )
    assert r.status_code == 202
    assert list(r.json()) == ["requestId"]
    uuid.UUID(r.json()["requestId"])
    [event] = emu.state.xmatters_events()
    assert event.request_id == r.json()["requestId"]
    assert event.recipients == ["Cloud Devops", "jdoe"]
    assert (event.created, event.status, event.key) == (True, "active", "inc-42")
    assert event.event_type == "incident#new"


def test_xmatters_basic_auth_accepted(emu: EmulatorServer, client: httpx.Client) -> None:
    r = client.post(
        XM_PATH + "?recipients=ops",
        json={"incident": bp_incident()},
        headers=basic(CFG.xmatters_username, CFG.xmatters_password),
    )
    assert r.status_code == 202
    assert len(emu.state.xmatters_events()) == 1


def test_xmatters_basic_password_may_contain_colon() -> None:
    cfg = EmulatorConfig(xmatters_password="pa:ss:word")
    with EmulatorServer(config=cfg) as emu, httpx.Client(base_url=emu.base_url) as c:
        r = c.post(XM_PATH, json={}, headers=basic(cfg.xmatters_username, "pa:ss:word"))
        assert r.status_code == 202
        r = c.post(XM_PATH, json={}, headers=basic(cfg.xmatters_username, "pa"))
        assert r.status_code == 401


@pytest.mark.parametrize(
    "query, headers",
    [
        ("", {}),
        ("?apiKey=wrong-key", {}),
        ("?apiKey=", {}),
        ("", basic(CFG.xmatters_username, "wrong-password")),
        ("", basic("someone-else", CFG.xmatters_password)),
        ("", {"Authorization": "Basic not-base64!!"}),
        ("", bearer(CFG.xmatters_api_key)),
    ],
)
def test_xmatters_refuses_bad_auth(
    emu: EmulatorServer, client: httpx.Client, query: str, headers: dict[str, str]
) -> None:
    r = client.post(XM_PATH + query, json={"incident": bp_incident()}, headers=headers)
    assert r.status_code == 401
    assert r.json()["code"] == 401
    assert r.json()["reason"] == "Unauthorized"
    assert emu.state.xmatters_events() == []
    [record] = emu.state.records()
    assert (record.status, record.valid, record.target) == (401, False, "xmatters")


def test_xmatters_unknown_function_is_404(client: httpx.Client) -> None:
    path = f"/api/integration/1/functions/{uuid.uuid4()}/triggers?apiKey={CFG.xmatters_api_key}"
    r = client.post(path, json={})
    assert r.status_code == 404
    assert r.json()["reason"] == "Not Found"


def test_xmatters_no_recipients_and_bad_body_still_202(
    emu: EmulatorServer, client: httpx.Client
) -> None:
    r = client.post(XM_PATH + f"?apiKey={CFG.xmatters_api_key}", json={"incident": bp_incident()})
    assert r.status_code == 202
    r = client.post(XM_PATH + f"?apiKey={CFG.xmatters_api_key}&recipients=ops", content=b"{nope")
    assert r.status_code == 202  # xMatters answers 202; the flow fails silently
    [event] = emu.state.xmatters_events()
    assert (event.created, event.status) == (False, "not_created")
    first, second = emu.state.records()
    assert first.valid and "no event created" in first.note
    assert not second.valid and "not valid JSON" in second.errors[0]


# ----------------------------------------------------------------------- Panopta
def test_panopta_outage_then_clear(emu: EmulatorServer, client: httpx.Client) -> None:
    key = f"?apiKey={CFG.xmatters_api_key}"
    outage = {"outage_id": 771, "fqdn": "web-1.example.com", "target": "Cloud Devops"}
    r = client.post(OUTAGE_PATH + key, json=outage)
    assert r.status_code == 202
    r = client.post(OUTAGE_PATH + key, json={"outage_id": 772, "target": ["ann", "bob"]})
    assert r.status_code == 202
    events = emu.state.panopta_events()
    assert [(e.key, e.targets, e.status) for e in events] == [
        ("771", ["Cloud Devops"], "active"),
        ("772", ["ann", "bob"], "active"),
    ]
    r = client.post(CLEAR_PATH + key, json={"outage_id": 771, "fqdn": "web-1.example.com"})
    assert r.status_code == 202
    uuid.UUID(r.json()["requestId"])
    events = emu.state.panopta_events()
    assert [e.status for e in events] == ["terminated", "active"]
    [clear] = emu.state.panopta_clears()
    assert clear.terminated == [events[0].request_id]
    assert emu.state.snapshot()["panopta"]["events"][0]["status"] == "terminated"


def test_panopta_outage_keyed_on_fqdn_and_recipients(
    emu: EmulatorServer, client: httpx.Client
) -> None:
    key = f"?apiKey={CFG.xmatters_api_key}"
    r = client.post(OUTAGE_PATH + key + "&recipients=oncall", json={"fqdn": "db-2", "name": "DB"})
    assert r.status_code == 202
    [event] = emu.state.panopta_events()
    assert (event.key, event.targets, event.status) == ("db-2/DB", ["oncall"], "active")
    client.post(CLEAR_PATH + key, json={"fqdn": "db-2", "name": "DB"})
    assert emu.state.panopta_events()[0].status == "terminated"


def test_panopta_no_recipient_no_target_creates_no_event(
    emu: EmulatorServer, client: httpx.Client
) -> None:
    r = client.post(OUTAGE_PATH + f"?apiKey={CFG.xmatters_api_key}", json={"outage_id": "9"})
    assert r.status_code == 202
    assert "requestId" in r.json()
    [event] = emu.state.panopta_events()
    assert (event.created, event.status) == (False, "not_created")
    [record] = emu.state.records()
    assert record.route == "panopta_outage"
    assert record.note == "no event created: no recipient in the form and no target"


def test_panopta_bad_target_type_is_logged_invalid(
    emu: EmulatorServer, client: httpx.Client
) -> None:
    r = client.post(OUTAGE_PATH + f"?apiKey={CFG.xmatters_api_key}", json={"id": 1, "target": 5})
    assert r.status_code == 202
    [record] = emu.state.records()
    assert not record.valid
    assert record.errors == ("target must be a string or an array of strings",)


# --------------------------------------------------------------------- PagerDuty
def test_pagerduty_trigger_ack_resolve(emu: EmulatorServer, client: httpx.Client) -> None:
    r = client.post("/v2/enqueue", json=trigger_event())
    assert r.status_code == 202
    assert r.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "bp-incident-1",
    }
    client.post("/v2/enqueue", json=trigger_event())
    alert = emu.state.pagerduty_alert(ROUTING_KEY, "bp-incident-1")
    assert alert is not None
    assert (alert.status, alert.event_count, alert.trigger_count) == ("triggered", 2, 2)
    ack = {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": "bp-incident-1"}
    assert client.post("/v2/enqueue", json=ack).status_code == 202
    alert = emu.state.pagerduty_alert(ROUTING_KEY, "bp-incident-1")
    assert alert is not None and alert.status == "acknowledged"
    r = client.post("/v2/enqueue", json={**ack, "event_action": "resolve"})
    assert r.status_code == 202
    alert = emu.state.pagerduty_alert(ROUTING_KEY, "bp-incident-1")
    assert alert is not None
    assert (alert.status, alert.event_count) == ("resolved", 4)
    assert alert.actions == ["trigger", "trigger", "acknowledge", "resolve"]
    [snap] = emu.state.snapshot()["pagerduty"]["alerts"]
    assert snap["status"] == "resolved"
    assert ROUTING_KEY not in json.dumps(snap)  # routing keys are shown masked


def test_pagerduty_generates_dedup_key(client: httpx.Client) -> None:
    event = trigger_event()
    del event["dedup_key"]
    r = client.post("/v2/enqueue", json=event)
    assert r.status_code == 202
    assert len(r.json()["dedup_key"]) == 32


def test_pagerduty_ruleset_key_accepted(client: httpx.Client) -> None:
    r = client.post("/v2/enqueue", json=trigger_event(routing_key="R" + "0A1B2C3D" * 3 + "0A1B2C3"))
    assert r.status_code == 202


@pytest.mark.parametrize(
    "event, expected",
    [
        (
            trigger_event(event_action="bogus"),
            ["event_action: 'bogus' is not one of ['trigger', 'acknowledge', 'resolve']"],
        ),
        (
            {k: v for k, v in trigger_event().items() if k != "routing_key"},
            ["'routing_key' is a required property"],
        ),
        (
            trigger_event(routing_key="short"),
            [
                "routing_key: must be 32 characters (an integration key, or a ruleset key "
                "starting with 'R'), got 5"
            ],
        ),
        (
            trigger_event(payload={"summary": "s", "source": "h"}),
            ["payload: 'severity' is a required property"],
        ),
        (
            trigger_event(payload={"summary": "s", "source": "h", "severity": "fatal"}),
            ["payload.severity: 'fatal' is not one of ['critical', 'warning', 'error', 'info']"],
        ),
        (
            {k: v for k, v in trigger_event().items() if k != "payload"},
            ["payload: is required when event_action is 'trigger'"],
        ),
        (
            {"routing_key": ROUTING_KEY, "event_action": "resolve"},
            ["dedup_key: is required when event_action is 'resolve'"],
        ),
        (
            {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": ""},
            ["dedup_key: is required when event_action is 'acknowledge'"],
        ),
        (
            trigger_event(dedup_key="d" * 256),
            ["dedup_key: is longer than 255 characters (256)"],
        ),
        (
            trigger_event(payload={"summary": "s" * 1025, "source": "h", "severity": "info"}),
            ["payload.summary: is longer than 1024 characters (1025)"],
        ),
        (trigger_event(routing_key=12), ["routing_key: 12 is not of type 'string'"]),
        (
            [trigger_event()],
            [
                "[{'routing_key': '0123456789abcdef0123456789abcdef', "
                "'event_action': 'trigger', 'dedup_key': 'bp-incident-1', "
                "'payload': {'summary': 'CPU high on db-1', 'source': 'db-1', "
                "'severity': 'critical'}}] is not of type 'object'"
            ],
        ),
    ],
)
def test_pagerduty_rejects_invalid_events(
    emu: EmulatorServer, client: httpx.Client, event: Any, expected: list[str]
) -> None:
    r = client.post("/v2/enqueue", json=event)
    assert r.status_code == 400
    assert r.json() == {**INVALID, "errors": expected}
    assert emu.state.pagerduty_alerts() == []
    [record] = emu.state.records()
    assert (record.valid, record.errors, record.status) == (False, tuple(expected), 400)


def test_pagerduty_rejects_non_json_and_oversized(client: httpx.Client) -> None:
    r = client.post("/v2/enqueue", content=b"routing_key=x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 400
    assert r.json()["status"] == "Unrecognized object"
    assert "not valid JSON" in r.json()["errors"][0]
    big = trigger_event(
        payload={
            "summary": "s",
            "source": "h",
            "severity": "info",
            "custom_details": {"blob": "x" * (513 * 1024)},
        }
    )
    r = client.post("/v2/enqueue", json=big)
    assert r.status_code == 400
    assert r.json()["message"] == "Event object is invalid"
    assert "the limit is 524288 bytes" in r.json()["errors"][0]


def test_pagerduty_rate_limit() -> None:
    cfg = EmulatorConfig(pagerduty_rate_limit=2)
    with EmulatorServer(config=cfg) as emu, httpx.Client(base_url=emu.base_url) as c:
        assert c.post("/v2/enqueue", json=trigger_event()).status_code == 202
        assert c.post("/v2/enqueue", json=trigger_event()).status_code == 202
        r = c.post("/v2/enqueue", json=trigger_event())
        assert r.status_code == 429
        assert r.json() == {
            "status": "throttle event",
            "message": "Requests for this service are arriving too quickly. Please retry later.",
        }
        other = trigger_event(routing_key="f" * 32)
        assert c.post("/v2/enqueue", json=other).status_code == 202
        alert = emu.state.pagerduty_alert(ROUTING_KEY, "bp-incident-1")
        assert alert is not None and alert.event_count == 2


def test_pagerduty_change_event(emu: EmulatorServer, client: httpx.Client) -> None:
    r = client.post(
        "/v2/change/enqueue", json={"routing_key": ROUTING_KEY, "payload": {"summary": "deploy"}}
    )
    assert r.status_code == 202
    assert r.json()["status"] == "success"
    r = client.post("/v2/change/enqueue", json={"routing_key": ROUTING_KEY, "payload": {}})
    assert r.status_code == 400
    assert r.json()["errors"] == ["payload: 'summary' is a required property"]
    assert [c.summary for c in emu.state.pagerduty_change_events()] == ["deploy"]


class _ToEmulator(httpx2.BaseTransport):
    """Send the PagerDuty client's https:// requests to the emulator over plain loopback.

    The official client insists on an https:// base URL; the emulator speaks http,
    so the test rewrites scheme/host/port under the client, keeping its real path.
    """

    def __init__(self, base_url: str) -> None:
        self._target = httpx2.URL(base_url)
        self._inner = httpx2.HTTPTransport()
        self.paths: list[str] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.paths.append(request.url.path)
        request.url = request.url.copy_with(
            scheme="http", host=self._target.host, port=self._target.port
        )
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def test_official_pagerduty_client_is_accepted(emu: EmulatorServer) -> None:
    transport = _ToEmulator(emu.base_url)
    client = pagerduty.EventsApiV2Client(
        ROUTING_KEY, base_url="https://events.pagerduty.invalid", transport=transport
    )
    with client:
        dedup = client.trigger("Disk full on web-3", "web-3", dedup_key="bp-77", severity="error")
        assert dedup == "bp-77"
        generated = client.trigger("Another", "web-4")
        assert len(generated) == 32
        assert client.acknowledge("bp-77") == "bp-77"
        client.resolve("bp-77")
        client.send_change_event(payload={"summary": "deployed v2", "source": "ci"})
    assert transport.paths == ["/v2/enqueue"] * 4 + ["/v2/change/enqueue"]
    alert = emu.state.pagerduty_alert(ROUTING_KEY, "bp-77")
    assert alert is not None
    assert (alert.status, alert.severity, alert.summary) == (
        "resolved",
        "error",
        "Disk full on web-3",
    )
    assert all(r.valid for r in emu.state.records())
    bad = pagerduty.EventsApiV2Client(
        "short-key", base_url="https://events.pagerduty.invalid", transport=transport
    )
    with bad, pytest.raises(pagerduty.HttpError) as info:
        bad.trigger("x", "y")
    assert info.value.response is not None and info.value.response.status_code == 400


# ------------------------------------------------------------------- incident.io
def test_incidentio_fire_resolve_refire(emu: EmulatorServer, client: httpx.Client) -> None:
    auth = bearer(CFG.incidentio_secret)
    r = client.post(
        IO_PATH, json={"event_type": "incident#new", "incident": bp_incident()}, headers=auth
    )
    assert r.status_code == 202
    assert r.json() == {
        "status": "success",
        "message": "Event accepted for processing",
        "deduplication_key": "inc-42",
    }
    alert = emu.state.incidentio_alert("inc-42")
    assert alert is not None and (alert.status, alert.fired_count) == ("firing", 1)
    closed = bp_incident(status="ok", active=False)
    r = client.post(
        IO_PATH, json={"event_type": "incident#closed", "incident": closed}, headers=auth
    )
    assert r.status_code == 202
    alert = emu.state.incidentio_alert("inc-42")
    assert alert is not None and alert.status == "resolved"
    # bare incident body (no envelope), re-opened
    r = client.post(IO_PATH, json=bp_incident(status="warning"), headers=auth)
    assert r.status_code == 202
    alert = emu.state.incidentio_alert("inc-42")
    assert alert is not None
    assert (alert.status, alert.fired_count, alert.event_count) == ("firing", 2, 3)
    assert [h["status"] for h in alert.history] == ["firing", "resolved", "firing"]
    assert len(emu.state.incidentio_alerts()) == 1


@pytest.mark.parametrize(
    "headers", [{}, bearer("wrong"), {"Authorization": "demo-incidentio-secret"}]
)
def test_incidentio_refuses_bad_auth(
    emu: EmulatorServer, client: httpx.Client, headers: dict[str, str]
) -> None:
    r = client.post(IO_PATH, json={"incident": bp_incident()}, headers=headers)
    assert r.status_code == 401
    assert r.json()["type"] == "authentication_error"
    assert r.json()["errors"][0]["code"] == "authentication_required"
    assert emu.state.incidentio_alerts() == []


def test_incidentio_missing_id_is_422(client: httpx.Client) -> None:
    auth = bearer(CFG.incidentio_secret)
    r = client.post(
        IO_PATH, json={"event_type": "incident#new", "incident": {"status": "ok"}}, headers=auth
    )
    assert r.status_code == 422
    body = r.json()
    assert (body["type"], body["status"]) == ("validation_error", 422)
    assert body["errors"][0]["source"] == {"field": "incident.id", "pointer": "/incident/id"}
    assert client.post(IO_PATH, content=b"nope", headers=auth).status_code == 400
    other = IO_PATH.replace(INCIDENTIO_SOURCE_ID, "01OTHER")
    assert client.post(other, json=bp_incident(), headers=auth).status_code == 404


# ---------------------------------------------------------------------- BigPanda
def test_bigpanda_environments(client: httpx.Client) -> None:
    r = client.get("/resources/v2.0/environments", headers=bearer(CFG.bigpanda_api_key))
    assert r.status_code == 200
    environments = r.json()  # a bare array, as BigPanda's Environments API answers
    assert {"id": ENV_ID, "name": "Production"}.items() <= environments[0].items()
    assert environments[0]["filter"] == ""
    for headers in ({}, bearer("wrong"), {"Authorization": CFG.bigpanda_api_key}):
        r = client.get("/resources/v2.0/environments", headers=headers)
        assert r.status_code == 401
        assert r.json() == {"status": 401, "errors": ["Unauthorized"]}


def test_bigpanda_resolve_and_comment(emu: EmulatorServer, client: httpx.Client) -> None:
    auth = bearer(CFG.bigpanda_api_key)
    base = f"/resources/v2.0/environments/{ENV_ID}/incidents/inc-42"
    r = client.post(base + "/resolve", json={"comments": "fixed by replay"}, headers=auth)
    assert r.status_code == 202
    [resolution] = emu.state.bigpanda_resolutions()
    assert (resolution.environment_id, resolution.incident_id, resolution.comments) == (
        ENV_ID,
        "inc-42",
        "fixed by replay",
    )
    r = client.post(base + "/comments", json={"comment": "looking"}, headers=auth)
    assert r.status_code == 204
    assert r.content == b""
    assert [c.comment for c in emu.state.bigpanda_comments()] == ["looking"]
    assert client.post(base + "/comments", json={}, headers=auth).status_code == 400
    assert client.post(base + "/resolve", json={}, headers=bearer("x")).status_code == 401
    r = client.post("/resources/v2.0/environments/nope/incidents/1/resolve", json={}, headers=auth)
    assert r.status_code == 404
    snap = emu.state.snapshot()["bigpanda"]
    assert snap["resolved_incidents"][0]["incident_id"] == "inc-42"


# ----------------------------------------------------------------- introspection
def test_received_masks_every_secret(emu: EmulatorServer, client: httpx.Client) -> None:
    seen: list[ReceivedRecord] = []
    emu.state.on_record = seen.append
    try:
        client.post(XM_PATH + f"?apiKey={CFG.xmatters_api_key}&recipients=ops", json={})
        client.post(XM_PATH + "?apiKey=not-the-key", json={})
        client.post(XM_PATH, json={}, headers=basic(CFG.xmatters_username, CFG.xmatters_password))
        client.post(IO_PATH, json=bp_incident(), headers=bearer(CFG.incidentio_secret))
        client.post(IO_PATH, json=bp_incident(), headers=bearer("typo-secret"))
        client.get("/resources/v2.0/environments", headers=bearer(CFG.bigpanda_api_key))
        client.post("/v2/enqueue", json=trigger_event())
        client.post("/v2/enqueue", json={"apiKey": CFG.xmatters_api_key, "password": "pw-123"})
    finally:
        emu.state.on_record = None
    r = client.get("/_received")
    assert r.status_code == 200
    text = r.text
    records = r.json()
    assert len(records) == 8 == len(seen)
    basic_token = base64.b64encode(
        f"{CFG.xmatters_username}:{CFG.xmatters_password}".encode()
    ).decode()
    for secret in (
        *CFG.secrets(),
        basic_token,
        "not-the-key",
        "typo-secret",
        ROUTING_KEY,
        "pw-123",
    ):
        assert secret not in text
    assert records[0]["query"] == "apiKey=****&recipients=ops"
    assert records[2]["headers"]["Authorization"] == "****"
    assert [rec["status"] for rec in records] == [202, 401, 202, 202, 401, 200, 202, 400]
    assert records[6]["target"] == "pagerduty" and records[6]["key"] == "bp-incident-1"
    assert {"time", "method", "path", "route", "valid", "errors", "body_preview"} <= set(records[0])
    assert seen[3].to_json()["route"] == "incidentio_alert_event"
    since = client.get(f"/_received?since={records[6]['seq']}").json()
    assert [rec["seq"] for rec in since] == [records[7]["seq"]]
    assert "****" in json.dumps(client.get("/_state").json()["pagerduty"])


def test_state_and_reset(emu: EmulatorServer, client: httpx.Client) -> None:
    client.post("/v2/enqueue", json=trigger_event())
    client.post(IO_PATH, json=bp_incident(), headers=bearer(CFG.incidentio_secret))
    state = client.get("/_state").json()
    assert set(state) >= {"xmatters", "panopta", "pagerduty", "incidentio", "bigpanda"}
    assert state["pagerduty"]["alerts"][0]["dedup_key"] == "bp-incident-1"
    assert state["incidentio"]["alerts"][0]["status"] == "firing"
    assert client.post("/_reset").status_code == 200
    state = client.get("/_state").json()
    assert state["pagerduty"]["alerts"] == [] and state["incidentio"]["alerts"] == []
    assert client.get("/_received").json() == []


def test_unknown_path_and_method(emu: EmulatorServer, client: httpx.Client) -> None:
    r = client.post("/v1/nothing-here", json={})
    assert r.status_code == 404
    assert r.json()["status"] == 404
    assert "POST /v2/enqueue" in r.json()["known_routes"]
    r = client.get("/v2/enqueue")
    assert r.status_code == 405
    assert [rec.status for rec in emu.state.records()] == [404, 405]


def test_body_size_bounded() -> None:
    with (
        EmulatorServer(config=EmulatorConfig(max_body_bytes=1000)) as emu,
        httpx.Client(base_url=emu.base_url) as c,
    ):
        r = c.post("/v2/enqueue", content=b"x" * 5000)
        assert r.status_code == 413
        assert r.json()["status"] == 413
        assert c.post("/v2/enqueue", json=trigger_event()).status_code == 202


# ----------------------------------------------------------------------- faults
def test_fault_500_once_then_normal(emu: EmulatorServer, client: httpx.Client) -> None:
    r = client.post(
        "/_faults",
        json={
            "path_prefix": "/v2/enqueue",
            "status": 500,
            "times": 1,
            "headers": {"Retry-After": "1"},
        },
    )
    assert r.status_code == 201
    r = client.post("/v2/enqueue", json=trigger_event())
    assert r.status_code == 500
    assert r.headers["Retry-After"] == "1"
    r = client.post("/v2/enqueue", json=trigger_event())
    assert r.status_code == 202
    first, second = emu.state.records()
    assert (first.status, first.fault, first.valid) == (500, "status 500", False)
    assert (second.status, second.fault) == (202, None)
    alert = emu.state.pagerduty_alert(ROUTING_KEY, "bp-incident-1")
    assert alert is not None and alert.event_count == 1  # the faulted one was not processed


def test_fault_custom_body_times_and_clear(client: httpx.Client) -> None:
    body = {"status": "throttle event", "message": "slow down"}
    client.post("/_faults", json={"path_prefix": "/v2/", "status": 429, "times": 2, "body": body})
    assert client.post("/v2/enqueue", json=trigger_event()).json() == body
    assert client.get("/_faults").json()[0]["remaining"] == 1
    assert client.delete("/_faults").json() == {"cleared": 1}
    assert client.post("/v2/enqueue", json=trigger_event()).status_code == 202
    r = client.post("/_faults", json={"path_prefix": "v2", "times": 0, "oops": 1})
    assert r.status_code == 400
    assert len(r.json()["errors"]) == 3


def test_fault_drop_and_delay(emu: EmulatorServer, client: httpx.Client) -> None:
    client.post("/_faults", json={"path_prefix": IO_PATH, "drop": True})
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(IO_PATH, json=bp_incident(), headers=bearer(CFG.incidentio_secret))
    client.post("/_faults", json={"path_prefix": IO_PATH, "status": None, "delay": 0.2})
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            IO_PATH, json=bp_incident(), headers=bearer(CFG.incidentio_secret), timeout=0.05
        )
    r = client.post(IO_PATH, json=bp_incident(), headers=bearer(CFG.incidentio_secret))
    assert r.status_code == 202
    records = emu.state.records()
    assert records[0].status is None and records[0].fault == "drop"
    assert emu.state.wait_for_records(3, timeout=2.0)  # the delayed one is logged on answering
    delayed = [rec for rec in emu.state.records() if rec.fault == "delay 0.2s"]
    assert [(rec.status, rec.valid) for rec in delayed] == [(202, True)]  # then processed
    alert = emu.state.incidentio_alert("inc-42")
    assert alert is not None and alert.event_count == 2


# ----------------------------------------------------------------------- serving
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_non_loopback_bind_refused(host: str) -> None:
    with pytest.raises(ValueError, match="allow_remote=True"):
        EmulatorServer(host=host)
    with pytest.raises(ValueError, match="allow_remote"):
        serve_forever(host=host)


def test_loopback_hosts() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback_host(host)
    assert not is_loopback_host("0.0.0.0")


def test_allow_remote_binds_any_interface() -> None:
    with EmulatorServer(host="0.0.0.0", allow_remote=True) as emu:
        port = emu.port
        r = httpx.get(f"http://127.0.0.1:{port}/_state")
        assert r.status_code == 200


def test_port_in_use_is_a_clear_oserror() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        with pytest.raises(EmulatorBindError, match="already in use") as info:
            EmulatorServer(port=port).start()
        assert isinstance(info.value, OSError)


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = EmulatorServer(host="::1").start()
    except OSError:
        pytest.skip("IPv6 loopback unavailable")
    try:
        assert server.base_url.startswith("http://[::1]:")
        assert httpx.get(server.base_url + "/_state").status_code == 200
    finally:
        server.stop()
    assert not server.running


def test_serve_forever_until_stopped() -> None:
    stop = threading.Event()
    ready: list[EmulatorServer] = []
    records: list[ReceivedRecord] = []
    up = threading.Event()

    def on_ready(server: EmulatorServer) -> None:
        ready.append(server)
        up.set()

    thread = threading.Thread(
        target=serve_forever,
        kwargs={"on_record": records.append, "on_ready": on_ready, "stop": stop},
    )
    thread.start()
    try:
        assert up.wait(5)
        base = ready[0].base_url
        r = httpx.get(base + "/resources/v2.0/environments", headers=bearer(CFG.bigpanda_api_key))
        assert r.status_code == 200
        assert [rec.route for rec in records] == ["bigpanda_environments"]
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(base + "/_state")


def test_schema_comes_from_package_data() -> None:
    schema = events_schema()
    assert schema.enqueue_errors(trigger_event()) == []
    assert schema.enqueue_errors({"event_action": "trigger"}) != []


# ------------------------------------------------------------------------- request log cap


def test_request_log_keeps_the_newest_records_and_counts_them_all() -> None:
    import urllib.request

    from bp_integrate.emulator import EmulatorState
    from bp_integrate.emulator.state import DEFAULT_MAX_RECORDS

    assert EmulatorState().max_records == DEFAULT_MAX_RECORDS == 10_000
    state = EmulatorState(max_records=3)
    with EmulatorServer(state=state) as server:
        for _ in range(5):
            request = urllib.request.Request(server.base_url + "/v2/enqueue", data=b"{}")
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(request, timeout=5).close()
        assert state.wait_for_records(5, timeout=5)

        def get(path: str) -> Any:
            with urllib.request.urlopen(server.base_url + path, timeout=5) as answer:
                return json.loads(answer.read())

        assert [r["seq"] for r in get("/_received")] == [3, 4, 5]
        assert [r["seq"] for r in get("/_received?since=3")] == [4, 5]
        assert get("/_received?since=5") == []
        assert [r["seq"] for r in get("/_received?since=1")] == [3, 4, 5]
        snapshot = get("/_state")
        assert snapshot["requests_received"] == 5 and snapshot["records_kept"] == 3
        state.reset()
        assert state.requests_received == 0 and state.records() == ()
    with pytest.raises(ValueError, match="max_records must be at least 1"):
        EmulatorState(max_records=0)
