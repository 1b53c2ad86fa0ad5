"""The emulated PagerDuty, held to PagerDuty's own REST description and client.

* Every REST route the emulator serves is an operation of PagerDuty's REST API
  description (tests/data/reference/pagerduty-rest-subset.openapi.json, cut from
  PagerDuty's whole description by extract_pagerduty_rest_subset.py beside it), and
  its answers (200 and the documented errors) validate against that operation's
  response schemas.
* What read-back sends is what the description declares.
* A trigger after a resolve opens a new incident with the same incident_key, as
  PagerDuty documents; read-back judges the newest.
* PagerDuty's own Python client (`pagerduty`) works against a running emulator.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pagerduty
import pytest
from jsonschema import Draft4Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

from bp_integrate.emulator import EmulatorConfig, EmulatorServer
from bp_integrate.emulator import pagerduty as emulated
from bp_integrate.integrations.pagerduty import INTEGRATION
from bp_integrate.readback import judged

SUBSET = Path(__file__).parent / "data" / "reference" / "pagerduty-rest-subset.openapi.json"
EVENTS_DOC = Path(emulated.__file__).with_name(emulated.SCHEMA_FILE)
URI = "urn:pagerduty-rest-subset"
KEY = "0123456789abcdef0123456789abcdef"
REST_KEY = EmulatorConfig().settings("pagerduty").pagerduty_rest_api_key
AUTH = {"Authorization": f"Token token={REST_KEY}"}
REST_ROUTES = [r for r in emulated.TARGET.routes if not r.path.startswith("/v2/")]


# ------------------------------------------------------------------ the description
def _as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects as JSON Schema draft 4: `nullable` is the only
    keyword with a meaning draft 4 lacks (`readOnly`, `example`, `discriminator` are
    annotations; `format` is not asserted)."""
    if isinstance(node, dict):
        out = {k: _as_json_schema(v) for k, v in node.items()}
        if out.pop("nullable", False) is True and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_as_json_schema(v) for v in node]
    return node


def _with_errata(document: dict[str, Any]) -> dict[str, Any]:
    """Where the description's schema says less than its own text and examples.

    * `Incident.resolved_at` is "`null` if the incident is not resolved" (its
      description; the getIncident example answers `null`), but typed string only.
    * `resolve_reason` and `alert_grouping.ended_at` are `null` in PagerDuty's own
      example answers, typed object and string only.
    The emulator sends `resolved_at: null` (as PagerDuty does) and leaves the other two
    out; test_reference_examples_validate shows these three are all the examples need.
    * `Service.integrations` holds full `Integration` objects with `include[]=integrations`,
      as its own description says, but is typed as references only.
    * `Service.alert_grouping_parameters` is a `oneOf` whose branches PagerDuty's own
      example matches both of (read as `anyOf`; the emulator does not send it).
    """
    fixed = copy.deepcopy(document)
    incident = fixed["components"]["schemas"]["Incident"]["allOf"][1]["properties"]
    incident["resolved_at"]["type"] = ["string", "null"]
    incident["resolve_reason"] = {"anyOf": [incident["resolve_reason"], {"type": "null"}]}
    incident["alert_grouping"]["properties"]["ended_at"]["type"] = ["string", "null"]
    # `Service.integrations`: "If `integrations` is passed as an argument, these are full
    # objects - otherwise, these are references" (its description); typed references only.
    service = fixed["components"]["schemas"]["Service"]["allOf"][1]["properties"]
    grouping = service["alert_grouping_parameters"]
    if "oneOf" in grouping:  # its own example matches both branches of this oneOf
        grouping["anyOf"] = grouping.pop("oneOf")
    service["integrations"]["items"] = {
        "anyOf": [
            {"$ref": "#/components/schemas/IntegrationReference"},
            {"$ref": "#/components/schemas/Integration"},
        ]
    }
    return fixed


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SUBSET.read_text("utf-8"))
    return document


@pytest.fixture(scope="module")
def registry(reference: dict[str, Any]) -> Registry[Any]:
    contents = _with_errata(_as_json_schema(reference))
    found: Registry[Any] = Registry().with_resource(URI, DRAFT4.create_resource(contents))
    return found


def _pointer(*tokens: str) -> str:
    return "/" + "/".join(t.replace("~", "~0").replace("/", "~1") for t in tokens)


def _operation(reference: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = reference["paths"][path][method.lower()]
    return operation


def _response_validator(
    reference: dict[str, Any], registry: Registry[Any], method: str, path: str, status: int
) -> Draft4Validator:
    """The schema PagerDuty documents for `status` of the operation (its response
    object followed through `#/components/responses/...`)."""
    response = _operation(reference, method, path)["responses"][str(status)]
    pointer = _pointer("paths", path, method.lower(), "responses", str(status))
    while "$ref" in response:
        pointer = response["$ref"][1:]
        section, name = pointer.split("/")[2:4]
        response = reference["components"][section][name]
    schema_pointer = pointer + _pointer("content", "application/json", "schema")
    return Draft4Validator({"$ref": f"{URI}#{schema_pointer}"}, registry=registry)


def _problems(validator: Draft4Validator, answer: Any) -> list[str]:
    return sorted(
        f"{'.'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(answer)
    )


def test_reference_examples_validate(reference: dict[str, Any], registry: Registry[Any]) -> None:
    """The validators are right: PagerDuty's own example answers pass them."""
    for route in REST_ROUTES:
        responses = _operation(reference, route.method, route.path)["responses"]
        status = min(int(code) for code in responses if code.startswith("2"))
        content = responses[str(status)]["content"]
        example = content["application/json"]["examples"]["response"]["value"]
        validator = _response_validator(reference, registry, route.method, route.path, status)
        assert _problems(validator, example) == [], route.path


def test_every_emulated_route_is_described() -> None:
    """Each PagerDuty route of the emulator is an operation of PagerDuty's Events v2
    or REST description: a new REST route needs its operation in the subset (redo it
    with extract_pagerduty_rest_subset.py) and its answers checked below."""
    reference = json.loads(SUBSET.read_text("utf-8"))
    events = json.loads(EVENTS_DOC.read_text("utf-8"))
    for route in emulated.TARGET.routes:
        if route.path.startswith("/v2/"):
            assert route.method.lower() in events["paths"][route.path[len("/v2") :]]
        else:
            assert route.method.lower() in reference["paths"].get(route.path, {}), route
            assert route.path in ANSWERS, f"no answers checked for {route.method} {route.path}"
    info = reference["info"]["x-bp-integrate-subset"]
    assert sorted(info["operations"]) == sorted(f"{r.method} {r.path}" for r in REST_ROUTES)


# ------------------------------------------------------------------------ helpers
def _event(action: str, dedup_key: str = "bp-1", **payload: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"routing_key": KEY, "event_action": action, "dedup_key": dedup_key}
    if action == "trigger":
        event["payload"] = {"summary": "CPU high", "source": "db-1", "severity": "critical"}
        event["payload"].update(payload)
    return event


class _Clock:
    """The emulated PagerDuty's clock, moved by the test (PagerDuty's times are whole
    seconds, so incidents opened within one second would share a created_at)."""

    def __init__(self, start: float = 1_760_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    moved = _Clock()
    monkeypatch.setattr(emulated, "_clock", moved)
    return moved


@pytest.fixture
def client(emu: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url) as c:
        yield c


def _lifecycle(client: httpx.Client, clock: _Clock, dedup_key: str = "bp-1") -> None:
    """new -> closed -> reopen, one minute apart: two incidents, the second open."""
    for action in ("trigger", "resolve", "trigger"):
        assert client.post("/v2/enqueue", json=_event(action, dedup_key)).status_code == 202
        clock.now += 60


# --------------------------------------------------------------- answers, validated
def _answers_list(client: httpx.Client) -> dict[int, httpx.Response]:
    return {
        200: client.get("/incidents", params={"incident_key": "bp-1"}, headers=AUTH),
        400: client.get("/incidents", params={"statuses[]": "open"}, headers=AUTH),
        401: client.get("/incidents", headers={"Authorization": "Token token=wrong"}),
    }


def _answers_one(client: httpx.Client) -> dict[int, httpx.Response]:
    newest = client.get("/incidents", headers=AUTH).json()["incidents"][-1]["id"]
    return {
        200: client.get(f"/incidents/{newest}", headers=AUTH),
        400: client.get(f"/incidents/{newest}", params={"include[]": "nope"}, headers=AUTH),
        401: client.get(f"/incidents/{newest}"),
        404: client.get("/incidents/PNOSUCH", headers=AUTH),
    }


SERVICE = emulated.service_id_of("Checkout")
READ_ONLY_KEY = EmulatorConfig().settings("pagerduty").pagerduty_rest_readonly_key
READ_ONLY = {"Authorization": f"Token token={READ_ONLY_KEY}"}
NEW_INTEGRATION = {
    "integration": {
        "type": "events_api_v2_inbound_integration",
        "name": "BigPanda",
        "service": {"id": SERVICE, "type": "service_reference"},
    }
}


def _create(client: httpx.Client, service: str = SERVICE) -> httpx.Response:
    return client.post(f"/services/{service}/integrations", json=NEW_INTEGRATION, headers=AUTH)


def _answers_services(client: httpx.Client) -> dict[int, httpx.Response]:
    _create(client)
    return {
        200: client.get("/services", params={"include[]": "integrations"}, headers=AUTH),
        400: client.get("/services", params={"sort_by": "id"}, headers=AUTH),
        401: client.get("/services"),
    }


def _answers_service(client: httpx.Client) -> dict[int, httpx.Response]:
    _create(client)
    return {
        200: client.get(f"/services/{SERVICE}", params={"include[]": "integrations"}, headers=AUTH),
        401: client.get(f"/services/{SERVICE}"),
        404: client.get("/services/PNOSUCH", headers=AUTH),
    }


def _answers_create(client: httpx.Client) -> dict[int, httpx.Response]:
    return {
        201: _create(client),
        400: client.post(
            f"/services/{SERVICE}/integrations", json={"integration": {}}, headers=AUTH
        ),
        401: client.post(f"/services/{SERVICE}/integrations", json=NEW_INTEGRATION),
        403: client.post(
            f"/services/{SERVICE}/integrations", json=NEW_INTEGRATION, headers=READ_ONLY
        ),
    }


def _answers_integration(client: httpx.Client) -> dict[int, httpx.Response]:
    made = _create(client).json()["integration"]["id"]
    return {
        200: client.get(f"/services/{SERVICE}/integrations/{made}", headers=AUTH),
        401: client.get(f"/services/{SERVICE}/integrations/{made}"),
        404: client.get(f"/services/{SERVICE}/integrations/PNOSUCH", headers=AUTH),
    }


ANSWERS = {
    "/incidents": _answers_list,
    "/incidents/{id}": _answers_one,
    "/services": _answers_services,
    "/services/{id}": _answers_service,
    "/services/{id}/integrations": _answers_create,
    "/services/{id}/integrations/{integration_id}": _answers_integration,
}


@pytest.mark.parametrize("route", REST_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_answers_follow_the_description(
    route: Any,
    client: httpx.Client,
    clock: _Clock,
    reference: dict[str, Any],
    registry: Registry[Any],
) -> None:
    _lifecycle(client, clock)
    client.post("/v2/enqueue", json=_event("acknowledge"))
    for status, answer in ANSWERS[route.path](client).items():
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        documented = _operation(reference, route.method, route.path)["responses"]
        assert str(status) in documented, f"{status} is not documented for {route.path}"
        validator = _response_validator(reference, registry, route.method, route.path, status)
        assert _problems(validator, answer.json()) == [], (status, answer.json())
        if status >= 400:
            assert answer.json()["error"]["message"]


# The GET routes whose 429 PagerDuty documents (`GET /services` and `/services/{id}` list
# none, though every REST call is rate limited: their 429 is not validated).
RATE_ROUTES = [
    r
    for r in REST_ROUTES
    if r.method == "GET"
    and "integration_id" not in r.path
    and "429" in json.loads(SUBSET.read_text("utf-8"))["paths"][r.path]["get"]["responses"]
]


@pytest.mark.parametrize("route", RATE_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_rate_limited_answers_carry_pagerdutys_headers(
    route: Any, reference: dict[str, Any], registry: Registry[Any]
) -> None:
    """PagerDuty signals REST rate limiting with `ratelimit-limit`, `ratelimit-remaining`
    and `ratelimit-reset` (seconds to wait), on every answer; 429 past the limit."""
    config = EmulatorConfig(pagerduty_rest_rate_limit=2)
    with EmulatorServer(config=config) as emu, httpx.Client(base_url=emu.base_url) as c:
        c.post("/v2/enqueue", json=_event("trigger"))
        ident = SERVICE if route.path.startswith("/services") else emulated.incident_id_of(1)
        url = route.path.replace("{id}", ident)
        first, second, third = (c.get(url, headers=AUTH) for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in (first, second, third)] == ["1", "0", "0"]
    for answer in (first, second, third):
        assert answer.headers["ratelimit-limit"] == "2"
        assert 1 <= int(answer.headers["ratelimit-reset"]) <= 60
    assert "retry-after" not in third.headers
    assert third.json() == {"error": {"message": "Rate Limit Exceeded", "code": 2020}}
    validator = _response_validator(reference, registry, route.method, route.path, 429)
    assert _problems(validator, third.json()) == []


def test_readback_sends_what_the_description_declares(reference: dict[str, Any]) -> None:
    query = INTEGRATION.readback_query(
        "65f1c0de9a1b2c3d4e5f6a7b",
        {"events_url": "https://events.eu.pagerduty.com/v2/enqueue"},
        {"readback_api_key": "k"},
    )
    assert query is not None
    assert query.url == "https://api.eu.pagerduty.com/incidents"
    operation = _operation(reference, "GET", "/incidents")
    parameters = [
        reference["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
        for p in operation["parameters"]
    ]
    declared = {p["name"]: p for p in parameters if p["in"] == "query"}
    assert set(query.params) <= set(declared)
    assert {n for n, p in declared.items() if p.get("required")} <= set(query.params)
    for name, value in query.params.items():
        assert declared[name]["schema"]["type"] == "string" and isinstance(value, str)
    scheme = reference["components"]["securitySchemes"]["api_key"]
    assert (scheme["in"], scheme["name"]) == ("header", "Authorization")
    assert query.headers["Authorization"] == "Token token=k"  # "`Token token=<API_KEY>`"
    accept = next(p for p in parameters if p["name"] == "Accept")
    assert query.headers["Accept"] == accept["schema"]["default"]


# ------------------------------------------------------------- incidents and keys
def test_a_trigger_after_a_resolve_opens_a_new_incident(
    emu: EmulatorServer, client: httpx.Client, clock: _Clock
) -> None:
    _lifecycle(client, clock)
    client.post("/v2/enqueue", json=_event("trigger"))  # dedups into the open one
    client.post("/v2/enqueue", json=_event("acknowledge"))  # acts on the open one
    answer = client.get("/incidents", params={"incident_key": "bp-1"}, headers=AUTH).json()
    first, second = answer["incidents"]
    assert (first["status"], second["status"]) == ("resolved", "acknowledged")
    assert first["id"] != second["id"] and first["incident_key"] == second["incident_key"]
    assert (first["incident_number"], second["incident_number"]) == (1, 2)
    assert (first["created_at"], second["created_at"]) == (
        "2025-10-09T08:53:20Z",
        "2025-10-09T08:55:20Z",
    )
    assert first["resolved_at"] == "2025-10-09T08:54:20Z" and second["resolved_at"] is None
    assert first["alert_counts"] == {"all": 1, "triggered": 0, "resolved": 1}
    assert second["acknowledgements"][0]["acknowledger"]["type"] == "service_reference"
    assert answer["total"] is None and answer["more"] is False
    newest = emu.state.pagerduty_alert(KEY, "bp-1")
    assert newest is not None
    assert (newest.id, newest.actions) == (second["id"], ["trigger", "trigger", "acknowledge"])
    client.post("/v2/enqueue", json=_event("resolve"))
    client.post("/v2/enqueue", json=_event("resolve"))  # nothing open: ignored, still 202
    assert [a.status for a in emu.state.pagerduty_alerts()] == ["resolved", "resolved"]
    assert emu.state.records()[-1].note.startswith("no open incident for this dedup_key")


def test_readback_judges_the_newest_incident(client: httpx.Client, clock: _Clock) -> None:
    since = clock.now
    _lifecycle(client, clock)
    answer = client.get("/incidents", params={"incident_key": "bp-1"}, headers=AUTH).json()
    records = INTEGRATION.readback_records(answer)
    assert [(r.state, r.status) for r in records] == [
        ("resolved", "resolved"),
        ("open", "triggered"),
    ]
    assert records[0].created_at == since and records[1].created_at == since + 120
    chosen = judged(records, since)
    assert chosen is not None and chosen.id == answer["incidents"][1]["id"]


def test_the_stale_record_false_pass_is_visible(
    emu: EmulatorServer, client: httpx.Client, clock: _Clock
) -> None:
    """Issue 15's false pass: new -> closed -> reopen -> closed, the last close lost.
    PagerDuty then holds a resolved incident and a triggered one with the same key;
    "any incident resolved" would pass, the newest says the close did not land."""
    _lifecycle(client, clock)
    lost = {"path_prefix": "/v2/enqueue", "method": "POST", "drop": True, "times": 1}
    assert client.post("/_faults", json=lost).status_code == 201
    with pytest.raises(httpx.TransportError):
        client.post("/v2/enqueue", json=_event("resolve"))
    answer = client.get("/incidents", params={"incident_key": "bp-1"}, headers=AUTH).json()
    first, second = answer["incidents"]
    assert (first["status"], second["status"]) == ("resolved", "triggered")
    assert second["created_at"] > first["created_at"]
    chosen = judged(INTEGRATION.readback_records(answer), None)
    assert chosen is not None and (chosen.id, chosen.state) == (second["id"], "open")
    assert [a.status for a in emu.state.pagerduty_alerts()] == ["resolved", "triggered"]


def test_a_close_answered_but_never_processed_leaves_the_newest_open(
    emu: EmulatorServer, client: httpx.Client, clock: _Clock
) -> None:
    """The silent form, for a whole replay: once the reopen's trigger (the 3rd event
    here, the 4th of `replay lifecycle`) is recorded, the next event is answered 202
    as PagerDuty would, but not processed. The sender sees success; only the newest
    incident tells."""
    accepted = {"status": "success", "message": "Event processed", "dedup_key": "bp-1"}

    def lose_the_next_close(record: Any) -> None:
        sent = [r for r in emu.state.records() if r.route == "pagerduty_events"]
        if record.route == "pagerduty_events" and len(sent) == 3:
            emu.state.add_fault("/v2/enqueue", method="POST", status=202, body=accepted)

    emu.state.on_record = lose_the_next_close
    _lifecycle(client, clock)
    answer = client.post("/v2/enqueue", json=_event("resolve"))
    assert (answer.status_code, answer.json()) == (202, accepted)
    listed = client.get("/incidents", params={"incident_key": "bp-1"}, headers=AUTH).json()
    assert [i["status"] for i in listed["incidents"]] == ["resolved", "triggered"]
    chosen = judged(INTEGRATION.readback_records(listed), None)
    assert chosen is not None and chosen.state == "open"


def test_list_pages_filters_and_sorts(client: httpx.Client, clock: _Clock) -> None:
    for n in range(3):
        _lifecycle(client, clock, f"k-{n}")

    def page(**params: str) -> dict[str, Any]:
        answer = client.get("/incidents", params=params, headers=AUTH)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    everything = page(total="true")
    assert (len(everything["incidents"]), everything["total"], everything["more"]) == (6, 6, False)
    assert [i["incident_number"] for i in everything["incidents"]] == [1, 2, 3, 4, 5, 6]
    second = page(limit="4", offset="4")
    assert [i["incident_number"] for i in second["incidents"]] == [5, 6]
    assert (second["limit"], second["offset"], second["more"]) == (4, 4, False)
    assert page(limit="2")["more"] is True
    assert page(limit="500")["limit"] == 100
    assert [i["status"] for i in page(**{"statuses[]": "triggered"})["incidents"]] == [
        "triggered"
    ] * 3
    newest = page(sort_by="created_at:desc", incident_key="k-2")["incidents"]
    assert [i["incident_number"] for i in newest] == [6, 5]
    assert page(**{"user_ids[]": "PUSER01"})["incidents"] == []
    for bad in ({"limit": "x"}, {"offset": "-1"}, {"total": "yes"}, {"sort_by": "title"}):
        answer = client.get("/incidents", params=bad, headers=AUTH)
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == 2001 and answer.json()["error"]["errors"]


def test_one_incident_by_id_or_number(client: httpx.Client, clock: _Clock) -> None:
    _lifecycle(client, clock)
    by_id = client.get(f"/incidents/{emulated.incident_id_of(2)}", headers=AUTH).json()
    by_number = client.get("/incidents/2", headers=AUTH).json()
    assert by_id == by_number and by_id["incident"]["status"] == "triggered"
    missing = client.get("/incidents/3", headers=AUTH)
    assert missing.status_code == 404
    assert missing.json() == {"error": {"message": "Not Found", "code": 2100}}


def test_incident_ids_look_like_pagerdutys_and_never_repeat() -> None:
    ids = {emulated.incident_id_of(n) for n in range(1, 50_001)}
    assert len(ids) == 50_000
    assert all(len(i) == 7 and i[0] == "P" and i.isalnum() and i.isupper() for i in ids)


# ------------------------------------------------------ PagerDuty's own Python client
class _ToEmulator(httpx2.BaseTransport):
    """The client insists on an https:// base URL; the emulator speaks http on
    loopback, so this sends each request there, keeping its path and query."""

    def __init__(self, base_url: str) -> None:
        self._target = httpx2.URL(base_url)
        self._inner = httpx2.HTTPTransport()
        self.requests: list[httpx2.Request] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        request.url = request.url.copy_with(
            scheme="http", host=self._target.host, port=self._target.port
        )
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def test_pagerdutys_client_against_the_emulator(emu: EmulatorServer, clock: _Clock) -> None:
    transport = _ToEmulator(emu.base_url)
    events = pagerduty.EventsApiV2Client(KEY, transport=transport)
    events.url = "https://events.pagerduty.invalid"
    with events:
        assert events.trigger("Disk full", "web-3", dedup_key="bp-9", severity="error") == "bp-9"
        clock.now += 60
        events.acknowledge("bp-9")
        events.resolve("bp-9")
        clock.now += 60
        events.trigger("Disk full again", "web-3", dedup_key="bp-9", severity="warning")
    rest = pagerduty.RestApiV2Client(REST_KEY, transport=transport)
    rest.url = "https://api.pagerduty.invalid"
    with rest:
        listed = rest.list_all("incidents", params={"incident_key": "bp-9"})
        assert [(i["status"], i["urgency"]) for i in listed] == [
            ("resolved", "high"),
            ("triggered", "low"),
        ]
        assert [i["title"] for i in listed] == ["Disk full", "Disk full again"]
        paged = list(rest.iter_all("incidents", params={"incident_key": "bp-9"}, page_size=1))
        assert [i["id"] for i in paged] == [i["id"] for i in listed]
        got = rest.rget("incidents", params={"incident_key": "bp-9", "statuses[]": ["triggered"]})
        assert isinstance(got, list) and [i["id"] for i in got] == [listed[1]["id"]]
        one = rest.rget(f"/incidents/{listed[1]['id']}")
        assert isinstance(one, dict) and one["incident_key"] == "bp-9"
        assert one["created_at"] > listed[0]["created_at"]
        with pytest.raises(pagerduty.HttpError) as missing:
            rest.rget("/incidents/PNOSUCH")
        assert missing.value.response is not None
        assert missing.value.response.status_code == 404
    sent = [r for r in transport.requests if r.url.path.startswith("/incidents")]
    assert all(r.headers["Authorization"] == f"Token token={REST_KEY}" for r in sent)
    assert all(r.headers["Accept"] == "application/vnd.pagerduty+json;version=2" for r in sent)
    assert all(r.valid for r in emu.state.records() if r.status != 404)
    wrong = pagerduty.RestApiV2Client("not-the-key", transport=transport)
    wrong.url = "https://api.pagerduty.invalid"
    with wrong, pytest.raises(pagerduty.HttpError) as refused:
        wrong.rget("incidents")
    assert refused.value.response is not None and refused.value.response.status_code == 401
