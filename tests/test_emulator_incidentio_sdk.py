"""Every answer of every emulated incident.io route, parsed by incident.io's own SDK.

incident.io's Python SDK (`incident-io` on PyPI, a test extra) is generated from
incident.io's OpenAPI description: its models raise on a missing required field.
`CHECKS` names, per route of the emulated target, the requests that provoke each
kind of answer and the SDK model that must read it; a route added to the target
without a check here fails `test_every_route_has_a_check`.

The SDK's enums accept values they do not know (a later API's), so these tests
also check that every enum value is one the SDK knows, and that no answer carries
a field the SDK model does not know (`additional_properties`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bp_integrate.emulator import EmulatorConfig, EmulatorServer
from bp_integrate.emulator.incidentio import INCIDENTIO_SOURCE_ID, TARGET

sdk = pytest.importorskip("incident_io")
models = pytest.importorskip("incident_io.models")

CFG = EmulatorConfig()
SECRET = CFG.incidentio_secret
API_KEY = CFG.incidentio_api_key
EVENTS = f"/v2/alert_events/big_panda/{INCIDENTIO_SOURCE_ID}"
SOURCE = {"Authorization": f"Bearer {SECRET}"}
API = {"Authorization": f"Bearer {API_KEY}"}


def share(event: str, incident_id: str = "inc-7", **incident: Any) -> dict[str, Any]:
    body = {"id": incident_id, "status": "critical", "active": True, **incident}
    body["alerts"] = [{"id": "a-1", "description": "Disk full on web-3"}]
    return {"event_type": event, "incident": body}


def strict_error(answer: httpx.Response) -> Any:
    """`ErrorResponse` of an error answer, every field known to the SDK."""
    parsed = models.ErrorResponse.from_dict(answer.json())
    assert parsed.status == answer.status_code
    assert parsed.type_ in list(models.ErrorResponseType), parsed.type_
    assert parsed.request_id and parsed.errors and parsed.errors[0].message
    assert parsed.additional_properties == {}
    for error in parsed.errors:
        assert error.additional_properties == {}
    return parsed


def strict_accepted(answer: httpx.Response) -> Any:
    assert answer.status_code == 202, answer.text
    parsed = models.AlertEventsCreateHTTPResultV2.from_dict(answer.json())
    assert parsed.additional_properties == {}
    return parsed


def strict_alerts(answer: httpx.Response) -> Any:
    assert answer.status_code == 200, answer.text
    parsed = models.AlertsListResultV2.from_dict(answer.json())
    assert parsed.additional_properties == {}
    assert parsed.pagination_meta.additional_properties == {}
    for alert in parsed.alerts:
        assert alert.additional_properties == {}, alert.additional_properties
        assert alert.status in list(models.AlertV2Status), alert.status
        assert alert.created_at.tzinfo is not None and alert.updated_at >= alert.created_at
        assert alert.title and alert.id and alert.alert_source_id == INCIDENTIO_SOURCE_ID
        if alert.status == models.AlertV2Status.RESOLVED:
            assert alert.resolved_at
    return parsed


Check = Callable[[httpx.Client], None]


def check_alert_events(client: httpx.Client) -> None:
    new = strict_accepted(client.post(EVENTS, json=share("incident#new"), headers=SOURCE))
    assert new.deduplication_key == "inc-7" and new.status == "success"
    strict_accepted(client.post(EVENTS, json=share("incident#closed", status="ok"), headers=SOURCE))
    errors = {
        400: client.post(EVENTS, content=b"not json", headers=SOURCE),
        401: client.post(EVENTS, json=share("incident#new")),
        404: client.post(EVENTS.replace("big_panda", "datadog"), json={}, headers=SOURCE),
        422: client.post(EVENTS, json={"incident": {"status": "ok"}}, headers=SOURCE),
    }
    for status, answer in errors.items():
        assert answer.status_code == status
        strict_error(answer)
    invalid = strict_error(errors[422])
    assert str(invalid.type_) == "validation_error"
    assert (invalid.errors[0].source.field, invalid.errors[0].source.pointer) == (
        "incident.id",
        "/incident/id",
    )


def check_list_alerts(client: httpx.Client) -> None:
    empty = strict_alerts(client.get("/v2/alerts", params={"page_size": 25}, headers=API))
    assert empty.alerts == [] and empty.pagination_meta.page_size == 25
    client.post(EVENTS, json=share("incident#new", "inc-1"), headers=SOURCE)
    client.post(EVENTS, json=share("incident#new", "inc-2"), headers=SOURCE)
    client.post(EVENTS, json=share("incident#closed", "inc-2", status="ok"), headers=SOURCE)
    listed = strict_alerts(client.get("/v2/alerts", params={"page_size": 25}, headers=API))
    assert [(a.deduplication_key, str(a.status)) for a in listed.alerts] == [
        ("inc-2", "resolved"),
        ("inc-1", "firing"),
    ]
    assert listed.alerts[0].title == "Disk full on web-3"
    first = strict_alerts(client.get("/v2/alerts", params={"page_size": 1}, headers=API))
    assert first.pagination_meta.after == first.alerts[0].id
    rest = client.get(
        "/v2/alerts", params={"page_size": 1, "after": first.pagination_meta.after}, headers=API
    )
    assert [a.deduplication_key for a in strict_alerts(rest).alerts] == ["inc-1"]
    errors = {
        401: client.get("/v2/alerts", params={"page_size": 25}),
        422: client.get("/v2/alerts", headers=API),  # page_size is required
    }
    for status, answer in errors.items():
        assert answer.status_code == status
        strict_error(answer)
    for size in ("0", "51", "many"):
        answer = client.get("/v2/alerts", params={"page_size": size}, headers=API)
        assert answer.status_code == 422
        assert strict_error(answer).errors[0].source.field == "page_size"


VIEWER = {"Authorization": f"Bearer {CFG.incidentio_viewer_api_key}"}


def new_source() -> dict[str, Any]:
    """What bp-integrate sends to create the BigPanda alert source, checked against the
    SDK's own request model."""
    from bp_integrate.integrations.incidentio import SOURCE_TYPE, TEMPLATE

    body = {"name": "BigPanda", "source_type": SOURCE_TYPE, "template": TEMPLATE}
    parsed = models.AlertSourcesCreatePayloadV2.from_dict(body)
    assert parsed.additional_properties == {} and parsed.template.additional_properties == {}
    return body


def strict_source(source: Any) -> None:
    assert source.additional_properties == {}
    assert source.source_type in list(models.AlertSourceV2SourceType), source.source_type
    assert source.template.additional_properties == {}
    assert source.id and source.secret_token and source.alert_events_url


def check_create_source(client: httpx.Client) -> None:
    answer = client.post("/v2/alert_sources", json=new_source(), headers=API)
    assert answer.status_code == 200, answer.text  # the SDK parses 200 for create
    made = models.AlertSourcesCreateResultV2.from_dict(answer.json())
    assert made.additional_properties == {}
    strict_source(made.alert_source)
    assert made.alert_source.alert_events_url.endswith(f"/big_panda/{made.alert_source.id}")
    secret = {"Authorization": f"Bearer {made.alert_source.secret_token}"}
    path = f"/v2/alert_events/big_panda/{made.alert_source.id}"
    strict_accepted(client.post(path, json=share("incident#new", "inc-s"), headers=secret))
    assert client.post(path, json=share("incident#new"), headers=SOURCE).status_code == 401
    errors = {
        400: client.post("/v2/alert_sources", content=b"{", headers=API),
        401: client.post("/v2/alert_sources", json=new_source()),
        403: client.post("/v2/alert_sources", json=new_source(), headers=VIEWER),
        422: client.post("/v2/alert_sources", json={"name": "x"}, headers=API),
    }
    for status, answer in errors.items():
        assert answer.status_code == status, (status, answer.text)
        strict_error(answer)


def check_list_sources(client: httpx.Client) -> None:
    client.post("/v2/alert_sources", json=new_source(), headers=API)
    answer = client.get("/v2/alert_sources", headers=VIEWER)
    assert answer.status_code == 200
    listed = models.AlertSourcesListResultV2.from_dict(answer.json())
    assert listed.additional_properties == {}
    for source in listed.alert_sources:
        strict_source(source)
    assert [s.name for s in listed.alert_sources] == ["BigPanda (demo)", "BigPanda"]
    strict_error(client.get("/v2/alert_sources"))


def check_show_source(client: httpx.Client) -> None:
    made = client.post("/v2/alert_sources", json=new_source(), headers=API).json()
    ident = made["alert_source"]["id"]
    answer = client.get(f"/v2/alert_sources/{ident}", headers=API)
    shown = models.AlertSourcesShowResultV2.from_dict(answer.json())
    assert shown.additional_properties == {}
    strict_source(shown.alert_source)
    assert shown.alert_source.secret_token == made["alert_source"]["secret_token"]
    missing = client.get("/v2/alert_sources/01NOSUCH", headers=API)
    assert missing.status_code == 404
    strict_error(missing)


def check_delete_source(client: httpx.Client) -> None:
    made = client.post("/v2/alert_sources", json=new_source(), headers=API).json()
    ident = made["alert_source"]["id"]
    assert client.delete(f"/v2/alert_sources/{ident}", headers=VIEWER).status_code == 403
    gone = client.delete(f"/v2/alert_sources/{ident}", headers=API)
    assert (gone.status_code, gone.content) == (204, b"")
    secret = {"Authorization": f"Bearer {made['alert_source']['secret_token']}"}
    path = f"/v2/alert_events/big_panda/{ident}"
    refused = client.post(path, json=share("incident#new"), headers=secret)
    assert refused.status_code in (401, 404)  # a deleted source takes no more events
    for answer in (
        client.delete(f"/v2/alert_sources/{ident}", headers=API),
        client.delete(f"/v2/alert_sources/{ident}"),
    ):
        assert answer.status_code in (401, 404)
        strict_error(answer)


CHECKS: dict[str, Check] = {
    "incidentio_alert_event": check_alert_events,
    "incidentio_alerts": check_list_alerts,
    "incidentio_alert_sources": check_list_sources,
    "incidentio_create_alert_source": check_create_source,
    "incidentio_alert_source": check_show_source,
    "incidentio_delete_alert_source": check_delete_source,
}


def test_the_sdk_itself_creates_shows_and_deletes_a_source(emu: EmulatorServer) -> None:
    """The SDK's own alert sources V2 calls against the emulator."""
    from incident_io.api.alert_sources_v2 import (
        alert_sources_v2_create,
        alert_sources_v2_delete,
        alert_sources_v2_show,
    )

    client = sdk.AuthenticatedClient(base_url=emu.base_url, token=API_KEY)
    body = models.AlertSourcesCreatePayloadV2.from_dict(new_source())
    made = alert_sources_v2_create.sync(client=client, body=body)
    assert isinstance(made, models.AlertSourcesCreateResultV2)
    assert made.alert_source.source_type == models.AlertSourceV2SourceType.BIG_PANDA
    shown = alert_sources_v2_show.sync(made.alert_source.id, client=client)
    assert isinstance(shown, models.AlertSourcesShowResultV2)
    gone = alert_sources_v2_delete.sync_detailed(made.alert_source.id, client=client)
    assert gone.status_code == 204


def test_every_route_has_a_check() -> None:
    assert {route.name for route in TARGET.routes} == set(CHECKS)


@pytest.fixture
def client(emu: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, timeout=5) as c:
        yield c


@pytest.mark.parametrize("route", sorted(CHECKS))
def test_every_answer_of_the_route_parses_with_the_sdk(route: str, client: httpx.Client) -> None:
    CHECKS[route](client)


def test_the_sdk_itself_lists_what_bigpanda_fired(emu: EmulatorServer) -> None:
    """The SDK's own `alerts_v2_list` call (its query parameters, its parsing)."""
    from incident_io.api.alerts_v2 import alerts_v2_list

    with httpx.Client(base_url=emu.base_url) as c:
        c.post(EVENTS, json=share("incident#new", "inc-9"), headers=SOURCE)
        c.post(EVENTS, json=share("incident#new", "inc-10"), headers=SOURCE)
    client = sdk.AuthenticatedClient(base_url=emu.base_url, token=API_KEY)
    key = models.AlertsV2ListDeduplicationKey.from_dict({"is": ["inc-9"]})
    firing = models.AlertsV2ListStatus.from_dict({"one_of": ["firing"]})
    answer = alerts_v2_list.sync_detailed(
        client=client, page_size=25, deduplication_key=key, status=firing
    )
    assert answer.status_code == 200
    assert isinstance(answer.parsed, models.AlertsListResultV2)
    [alert] = answer.parsed.alerts
    assert (alert.deduplication_key, alert.status) == ("inc-9", models.AlertV2Status.FIRING)
    wrong = sdk.AuthenticatedClient(base_url=emu.base_url, token="wrong")
    refused = alerts_v2_list.sync_detailed(client=wrong, page_size=25)
    assert refused.status_code == 401 and isinstance(refused.parsed, models.ErrorResponse)


@pytest.mark.parametrize(
    ("setting", "path", "headers", "params"),
    [
        ("incidentio_rate_limit", EVENTS, SOURCE, {}),
        ("incidentio_api_rate_limit", "/v2/alerts", API, {"page_size": "25"}),
    ],
)
def test_over_the_rate_limit_is_429_in_incident_io_shape(
    setting: str, path: str, headers: dict[str, str], params: dict[str, str]
) -> None:
    config = EmulatorConfig(**{setting: 2})
    with EmulatorServer(config=config) as emu, httpx.Client(base_url=emu.base_url) as c:

        def call() -> httpx.Response:
            if path == EVENTS:
                return c.post(path, json=share("incident#new"), headers=headers)
            return c.get(path, params=params, headers=headers)

        assert [call().status_code for _ in range(2)] == [202 if path == EVENTS else 200] * 2
        answer = call()
    assert answer.status_code == 429
    parsed = models.ErrorResponse.from_dict(answer.json())
    assert parsed.type_ == models.ErrorResponseType.RATE_LIMIT_REACHED
    assert parsed.rate_limit.limit == 2 and parsed.rate_limit.remaining == 0
    assert API_KEY not in answer.text and SECRET not in answer.text


def test_refire_new_leaves_a_stale_resolved_alert_beside_a_newer_firing_one() -> None:
    """With `incidentio_refire="new"`, a re-opened incident fires a new alert with the
    same deduplication key: the older one stays resolved (what read-back must not judge)."""
    config = EmulatorConfig(incidentio_refire="new")
    with EmulatorServer(config=config) as emu, httpx.Client(base_url=emu.base_url) as c:
        for event, status in (("new", "critical"), ("closed", "ok"), ("reopen", "critical")):
            c.post(EVENTS, json=share(f"incident#{event}", status=status), headers=SOURCE)
        listed = c.get(
            "/v2/alerts",
            params={"page_size": 25, "deduplication_key[is]": "inc-7"},
            headers=API,
        )
    alerts = strict_alerts(listed).alerts
    assert [str(a.status) for a in alerts] == ["firing", "resolved"]  # newest first
    assert alerts[0].created_at > alerts[1].created_at and alerts[0].id != alerts[1].id
    assert emu.state.incidentio_alert("inc-7").fired_count == 1  # type: ignore[union-attr]


def test_refire_same_keeps_one_alert() -> None:
    with EmulatorServer() as emu, httpx.Client(base_url=emu.base_url, timeout=5) as c:
        for event, status in (("new", "critical"), ("closed", "ok"), ("reopen", "critical")):
            c.post(EVENTS, json=share(f"incident#{event}", status=status), headers=SOURCE)
        answer = c.get("/v2/alerts", params={"page_size": 25}, headers=API)
    [alert] = strict_alerts(answer).alerts
    assert alert.status == models.AlertV2Status.FIRING and not alert.resolved_at


def test_an_unknown_refire_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="incidentio_refire"):
        EmulatorConfig(incidentio_refire="sometimes")
