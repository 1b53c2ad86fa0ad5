"""The emulated BigPanda and bp-integrate's client, held to BigPanda's own API descriptions.

One session drives every route the emulated BigPanda serves, through the product's
`BigPandaClient` where it makes the call and plain HTTP elsewhere, and keeps each
exchange. Every request we send and every answer we get is then validated against the
reference operation (tests/data/reference/bigpanda/, OpenAPI 3.0 schemas read as JSON
Schema 2020-12, `$ref`s resolved within each file): request bodies against
`requestBody`, query parameters against the documented ones, answers against the
documented response of that status. A route without a reference operation, or without
an exchange here, fails: the emulator grows no undocumented BigPanda route.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from helpers import shares_settled
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from bp_integrate.bigpanda.api import BigPandaClient
from bp_integrate.emulator import EmulatorConfig, EmulatorServer
from bp_integrate.emulator.bigpanda import ACTIVITY_TYPES, TARGET

REFERENCE = Path(__file__).parent / "data" / "reference" / "bigpanda"
CFG = EmulatorConfig()
ENV = CFG.bigpanda_environments[0][0]
#: Emulator-only routes (BigPanda's UI and the emulator's faults): no reference.
EMULATOR_ONLY = "/_bigpanda/"
#: Answers BigPanda documents outside the OpenAPI files: the Alerts API answers 204 to
#: an exact duplicate ("Alerts" page of BigPanda's API reference).
DOCUMENTED_ELSEWHERE = {("POST", "/data/v2/alerts", 204)}


# ------------------------------------------------------------------- the reference
def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


@functools.cache
def documents() -> dict[str, dict[str, Any]]:
    return {p.name: yaml.safe_load(p.read_text("utf-8")) for p in sorted(REFERENCE.glob("*.yml"))}


@functools.cache
def registry() -> Registry[Any]:
    resources = [(_uri(n), DRAFT202012.create_resource(d)) for n, d in documents().items()]
    return Registry().with_resources(resources)


def _uri(name: str) -> str:
    return f"urn:bigpanda-reference:{name}"


@dataclass(frozen=True)
class Operation:
    file: str
    path: str
    method: str
    spec: dict[str, Any]

    @property
    def pointer(self) -> str:
        escaped = self.path.replace("~", "~0").replace("/", "~1")
        return f"/paths/{escaped}/{self.method.lower()}"

    def validator(self, suffix: str) -> Draft202012Validator:
        ref = f"{_uri(self.file)}#{self.pointer}{suffix}"
        return Draft202012Validator({"$ref": ref}, registry=registry())

    def __str__(self) -> str:
        return f"{self.file}: {self.method} {self.path} ({self.spec.get('operationId')})"


@functools.cache
def operations() -> dict[tuple[str, str], Operation]:
    found: dict[tuple[str, str], Operation] = {}
    for name, doc in documents().items():
        for path, item in doc["paths"].items():
            for method, spec in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    key = (method.upper(), _template(path))
                    found.setdefault(key, Operation(name, path, method.upper(), spec))
    return found


def operation_for(method: str, template: str) -> Operation | None:
    return operations().get((method, _template(template)))


def generic_error_schema(file: str, status: int) -> dict[str, str] | None:
    """BigPanda's generic error schema for `status` (else its generic 400 shape): the
    operation's own file first, then any other (the Alerts file documents no error)."""
    ordered = [file, *(n for n in documents() if n != file)]
    for name in (f"generic{status}response", "generic400response"):
        for found in ordered:
            if name in documents()[found]["components"]["schemas"]:
                return {"$ref": f"{_uri(found)}#/components/schemas/{name}"}
    return None


def errors_of(validator: Draft202012Validator, instance: Any) -> list[str]:
    """The validation errors, less one quirk of the Alerts reference: its request body is
    `oneOf` a standard_alert (which requires nothing) or the batch, so every batch
    matches both branches; `oneOf` is read as `anyOf` there."""
    return [
        e.message
        for e in validator.iter_errors(instance)
        if not (e.validator == "oneOf" and "is valid under each of" in e.message)
    ]


# --------------------------------------------------------------------- exchanges
@dataclass
class Exchange:
    method: str
    path: str
    query: dict[str, list[str]]
    request_body: Any
    status: int
    answer: bytes

    @property
    def answer_json(self) -> Any:
        return json.loads(self.answer) if self.answer else None


class Recorder:
    """An httpx response hook that keeps every exchange."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        url = urlsplit(str(request.url))
        self.exchanges.append(
            Exchange(
                request.method,
                url.path,
                parse_qs(url.query, keep_blank_values=True),
                json.loads(request.content) if request.content else None,
                response.status_code,
                response.content,
            )
        )


def route_of(method: str, path: str) -> str:
    for route in TARGET.routes:
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", route.path) + "$"
        if route.method == method and re.match(pattern, path):
            return route.name
    raise AssertionError(f"no emulated route for {method} {path}")


def _template_of(route_name: str) -> tuple[str, str]:
    route = next(r for r in TARGET.routes if r.name == route_name)
    return route.method, route.path


@pytest.fixture(scope="module")
def exchanges() -> Iterator[list[Exchange]]:
    """One session over every route: the client's calls, then the rest by hand."""
    recorder = Recorder()
    user = {"Authorization": f"Bearer {CFG.bigpanda_api_key}"}
    with EmulatorServer() as emu:
        base = emu.base_url
        webhook = {"url": base + "/webhook/demo", "auth_header": "Bearer demo-webhook-token"}
        bp = BigPandaClient(base, CFG.bigpanda_api_key, CFG.bigpanda_org_token)
        bp._client.event_hooks["response"] = [recorder]
        http = httpx.Client(base_url=base, timeout=10, event_hooks={"response": [recorder]})
        admin = httpx.Client(base_url=base, timeout=10)  # emulator-only: not recorded
        try:
            # Environments, through the client and by hand.
            bp.environments()
            env = bp.create_environment("canary", 'bp_integrate_canary = "true"', "verify's")
            http.get(f"/resources/v2.0/environments/{env['id']}", headers=user)
            http.patch(
                f"/resources/v2.0/environments/{env['id']}",
                json={"name": "canary", "description": "renamed"},
                headers=user,
            )
            http.post("/resources/v2.0/environments", json={"name": 3}, headers=user)
            http.get("/resources/v2.0/environments/nope", headers=user)
            http.get("/resources/v2.0/environments", headers={"Authorization": "Bearer x"})
            rule = {"environment_id": env["id"], "integration": "webhook", "values": webhook}
            admin.post("/_bigpanda/autoshare", json=rule).raise_for_status()
            # Alerts: single, batch, access_token, duplicate, refusals.
            canary = {
                "app_key": CFG.bigpanda_app_key,
                "status": "critical",
                "host": "contract-canary",
                "check": "contract",
                "bp_integrate_canary": "true",
            }
            bp.send_alert(canary)
            bp.send_alert(canary)  # an exact duplicate: 204
            other = {**canary, "host": "contract-other", "status": "warning"}
            bp.send_alerts([other, {**other, "check": "second"}], CFG.bigpanda_app_key)
            http.post(
                "/data/v2/alerts",
                params={"access_token": CFG.bigpanda_org_token},
                json={**canary, "host": "contract-query-token"},
            )
            http.post(
                "/data/v2/alerts",
                json={"app_key": "wrong", "status": "critical", "host": "h"},
                headers={"Authorization": f"Bearer {CFG.bigpanda_org_token}"},
            )
            # Incidents: search, get, activities (after the share), comment, resolve.
            [incident] = bp.search(env["id"], 'host = "contract-canary"')
            shares_settled(emu)
            assert bp.activities(incident["id"], "incident_shared")
            bp.incident(env["id"], incident["id"])
            http.get(
                f"/resources/v2.0/incidents/{incident['id']}/activities",
                params={"page": "1", "per_page": "2"},
                headers=user,
            )
            http.get("/resources/v2.0/incidents/nope/activities", headers=user)
            one = f"/resources/v2.0/environments/{env['id']}/incidents/{incident['id']}"
            http.post(one + "/comments", json={"comment": "looking"}, headers=user)
            http.post(one + "/comments", json={}, headers=user)
            http.post(one + "/resolve", json={"comments": "done"}, headers=user)
            http.get(f"/resources/v2.0/environments/{env['id']}/incidents", headers=user)
            http.get(
                f"/resources/v2.0/environments/{env['id']}/incidents",
                params={"query": "host IN [a]"},
                headers=user,
            )
            # Maintenance plans: the client's create and delete, the rest by hand.
            now = int(time.time())
            plan = bp.create_maintenance_plan(
                "contract", 'host = "contract-maint"', now - 60, now + 600, "contract test"
            )
            plan_path = f"/resources/v2.0/maintenance-plans/{plan['id']}"
            http.get(plan_path, headers=user)
            # The reference's PATCH body is the whole plan (name, condition, start, end
            # required); a running plan may change only its end.
            whole = {k: plan[k] for k in ("name", "condition", "start", "description")}
            http.patch(plan_path, json={**whole, "end": now + 1200}, headers=user)
            http.get(
                "/resources/v2.0/ordered-maintenance-plans",
                params={"status": "running", "per_page": "10"},
                headers=user,
            )
            http.post(plan_path + "/stop", headers=user)
            http.post(
                "/resources/v2.0/maintenance-plans",
                json={"name": "bad", "condition": "host = a", "start": now, "end": now + 60},
                headers=user,
            )
            bp.delete_maintenance_plan(plan["id"])
            bp.delete_maintenance_plan(plan["id"])  # already gone: 404, not an error
            bp.delete_environment(env["id"])
            # Notifications API (Webhook v2): the client's calls, and refusals by hand.
            _webhook_v2_exchanges(bp, http, user, base)
            yield recorder.exchanges
        finally:
            bp.close()
            http.close()
            admin.close()


def _webhook_v2_exchanges(
    bp: BigPandaClient, http: httpx.Client, user: dict[str, str], base: str
) -> None:
    from bp_integrate.integrations import webhook_v2

    values = {
        "name": "contract",
        "base_url": base + "/webhook/demo",
        "triggers": "default, incident#closed",
        "templates": json.dumps(
            {"incident#closed": {"method": "PATCH", "path": "/{{incident.id}}"}}
        ),
        "headers": "X-Host={{primaryAlert.tags.host}}",
        "authorization": "Bearer demo-webhook-token",
    }
    bp.dynamic_variables()
    created = bp.create_integration(webhook_v2.create_body(values))
    ident = webhook_v2.integration_id(created["name"])
    bp.list_integrations()
    bp.get_integration(ident)
    bp.update_integration(ident, webhook_v2.workflow_config({**values, "method": "PUT"}))
    http.post("/resources/v2.1/integrations", json={"name": "x"}, headers=user)
    http.get("/resources/v2.1/integrations/webhook_v2.nope", headers=user)
    http.patch(
        f"/resources/v2.1/integrations/{ident}",
        json={"workflow_config": {"config": {}, "events": []}},
        headers=user,
    )
    assert bp.delete_integration(ident)
    assert not bp.delete_integration(ident)  # already gone: 404


# ------------------------------------------------------------------------- tests
BIGPANDA_ROUTES = [r for r in TARGET.routes if not r.path.startswith(EMULATOR_ONLY)]


@pytest.mark.parametrize("route", BIGPANDA_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_route_has_a_reference_operation(route: Any) -> None:
    assert operation_for(route.method, route.path) is not None, (
        f"{route.method} {route.path} ({route.name}) is in no reference file: BigPanda "
        "does not document it, so the emulator must not serve it"
    )


@pytest.mark.parametrize("route", BIGPANDA_ROUTES, ids=lambda r: r.name)
def test_every_route_is_exercised_with_a_success(route: Any, exchanges: list[Exchange]) -> None:
    mine = [e for e in exchanges if route_of(e.method, e.path) == route.name]
    assert any(200 <= e.status < 300 for e in mine), f"no successful exchange on {route.name}"


def test_every_exchange_matches_the_reference(exchanges: list[Exchange]) -> None:
    problems: list[str] = []
    for exchange in exchanges:
        method, template = _template_of(route_of(exchange.method, exchange.path))
        op = operation_for(method, template)
        assert op is not None
        where = f"{exchange.method} {exchange.path} -> {exchange.status} [{op}]"
        problems += [f"{where}: {p}" for p in _request_problems(op, exchange)]
        problems += [f"{where}: {p}" for p in _answer_problems(op, exchange)]
    assert not problems, "\n".join(problems)


def _request_problems(op: Operation, exchange: Exchange) -> list[str]:
    documented = {p["name"] for p in op.spec.get("parameters", []) if p.get("in") == "query"}
    if op.path == "/data/v2/alerts":
        documented.add("access_token")  # the "Alerts" page: for tools without headers
    undocumented = [q for q in exchange.query if q not in documented]
    problems = [f"query parameter {q!r} is not documented" for q in undocumented]
    if exchange.request_body is None or exchange.status == 401:
        return problems
    if "requestBody" not in op.spec:
        return [*problems, "sends a body the operation does not take"]
    if 200 <= exchange.status < 300:  # what we meant to be valid must be valid
        validator = op.validator("/requestBody/content/application~1json/schema")
        problems += errors_of(validator, exchange.request_body)
    return problems


def _answer_problems(op: Operation, exchange: Exchange) -> list[str]:
    responses = op.spec.get("responses", {})
    status = exchange.status
    if status == 204 or (op.method, op.path, status) in DOCUMENTED_ELSEWHERE:
        documented = str(status) in responses or (op.method, op.path, status) in (
            DOCUMENTED_ELSEWHERE
        )
        problems = [] if documented else [f"{status} is not a documented answer"]
        return problems + (["a 204 carries no body"] if exchange.answer else [])
    if str(status) in responses:
        body = exchange.answer_json
        validator = op.validator(f"/responses/{status}/content/application~1json/schema")
        problems = errors_of(validator, body)
        if op.spec.get("operationId") == "search-incidents":
            problems += _search_problems(op, body)
        return problems
    if status >= 400:
        schema = generic_error_schema(op.file, status)
        if schema is None:
            return [f"{status}: the reference documents no error shape"]
        body = exchange.answer_json
        problems = errors_of(Draft202012Validator(schema, registry=registry()), body)
        if not (isinstance(body, dict) and body.get("status") == status and body.get("errors")):
            problems.append(f"not {{status: {status}, errors: [...]}}: {body!r}")
        return problems
    return [f"{status} is not a documented answer"]


def _search_problems(op: Operation, body: Any) -> list[str]:
    """Search answers `{"total", "items": [incident objects]}` (BigPanda's Search
    Incidents page): the file's schema is each item's."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return [f"search answer is not {{total, items}}: {body!r}"]
    validator = op.validator("/responses/200/content/application~1json/schema")
    found = [m for item in body["items"] for m in errors_of(validator, item)]
    return found if isinstance(body.get("total"), int) else [*found, "total is missing"]


def test_activities_have_the_documented_shape_and_types(exchanges: list[Exchange]) -> None:
    answers = [
        e.answer_json
        for e in exchanges
        if route_of(e.method, e.path) == "bigpanda_activities" and e.status == 200
    ]
    activities = [a for answer in answers for a in answer]
    assert activities
    for activity in activities:
        assert set(activity) == {"id", "type", "timestamp", "created_by", "params"}
        assert activity["type"] in ACTIVITY_TYPES
        assert isinstance(activity["timestamp"], int)
    shared = [a for a in activities if a["type"] == "incident_shared"]
    assert shared[0]["params"] == {"share_target": "webhook.webhook", "share_auto": True}


def test_activity_types_are_the_references_list() -> None:
    op = operation_for("GET", "/resources/v2.0/incidents/{incident_id}/activities")
    assert op is not None
    [types] = [p for p in op.spec["parameters"] if p["name"] == "types"]
    listed = re.findall(r"^- (\w+)$", types["description"], flags=re.MULTILINE)
    assert tuple(listed) == ACTIVITY_TYPES


def test_incidents_carry_the_documented_words(exchanges: list[Exchange]) -> None:
    [got] = [
        e.answer_json
        for e in exchanges
        if route_of(e.method, e.path) == "bigpanda_incident" and e.status == 200
    ]
    assert (got["status"], got["severity"], got["active"]) == ("Critical", "Critical", True)
    assert got["alerts"] and set(got["alerts"][0]) == {"alert_id"}
    assert "end" not in got  # the reference types `end` as an integer: absent while open
