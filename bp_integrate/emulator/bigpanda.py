"""The emulated BigPanda: the API calls the CLI makes and a small BigPanda core.

This module owns ``GET /resources/v2.0/environments`` (the cheap key check) and
the Incidents API v2 calls ``POST .../environments/{env}/incidents/{id}/resolve``
(202, recorded as a resolution) and ``POST .../incidents/{id}/comments`` (204).
Error bodies are ``{"status": <code>, "message": ...}``. It also owns this
target's settings (the demo User API Key, the environments), its state
(resolutions and comments) and its ``TARGET``.

The core (for ``verify``): the Alerts API (``POST /data/v2/alerts``, org token +
``app_key``; an exact duplicate answers 204), incidents made from alerts (same host
and check within ``bigpanda_correlation_window`` -> one incident), Incidents v2
search (a BPQL subset: ``name = "value"`` joined by ``and``), get incident,
activities (``incident_shared``, ``incident_resolved``...), and AutoShare: rules
registered through the emulator-only ``POST /_bigpanda/autoshare`` (standing in for
BigPanda's UI) share a new incident, and later its close, to the integration's
target by asking the integration what it sends (the run engine's planning: no second
body builder here). Emulator-only faults: a rule may drop or delay its shares;
``POST /_bigpanda/environments`` adds an environment that uses incident tags (its
search answers 500, as BigPanda documents); ``POST /_bigpanda/region`` makes every
BigPanda call answer 401, as a key of the other region does.
"""

from __future__ import annotations

import asyncio
import copy
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from .context import (
    BodyError,
    bearer_token,
    json_response,
    outcome,
    read_json,
    same_secret,
    settings_of,
    target_state,
)
from .target import Route, Target, TargetSettings, TargetState
from .wire import Request, Response

#: The BigPanda environments the emulated BigPanda API lists, as (id, name).
DEMO_BIGPANDA_ENVIRONMENTS: tuple[tuple[str, str], ...] = (
    ("64f0c0de0000000000000001", "Production"),
    ("64f0c0de0000000000000002", "Staging"),
)
BP_ENV = "/resources/v2.0/environments"
ALERTS_PATH = "/data/v2/alerts"
INCIDENTS_PATH = "/resources/v2.0/incidents"
ALERT_STATUSES = ("ok", "critical", "warning", "unknown", "acknowledged")


@dataclass(frozen=True)
class BigPandaSettings(TargetSettings):
    """The User API Key and environments the emulated BigPanda API knows (demo values)."""

    bigpanda_api_key: str = "demo-bigpanda-user-key"
    bigpanda_environments: tuple[tuple[str, str], ...] = DEMO_BIGPANDA_ENVIRONMENTS
    #: The org token the Alerts API takes, and the app key of the one inbound REST
    #: integration the emulated BigPanda knows.
    bigpanda_org_token: str = "demo-bigpanda-org-token"
    bigpanda_app_key: str = "demo-canary-app-key"
    #: Alerts on the same host and check within this many seconds make one incident.
    bigpanda_correlation_window: float = 3600.0

    def __post_init__(self) -> None:
        if not self.bigpanda_api_key:
            raise ValueError("bigpanda_api_key may not be empty")
        if not self.bigpanda_org_token or not self.bigpanda_app_key:
            raise ValueError("bigpanda_org_token and bigpanda_app_key may not be empty")

    def secrets(self) -> tuple[str, ...]:
        return (self.bigpanda_api_key, self.bigpanda_org_token, self.bigpanda_app_key)


@dataclass
class BigPandaResolution:
    """A BigPanda incident resolved through the Incidents API v2."""

    environment_id: str
    incident_id: str
    comments: str | None
    received_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "environment_id": self.environment_id,
            "incident_id": self.incident_id,
            "comments": self.comments,
            "received_at": self.received_at,
        }


@dataclass
class BigPandaComment:
    """A comment added to a BigPanda incident through the Incidents API v2."""

    environment_id: str
    incident_id: str
    comment: str
    received_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "environment_id": self.environment_id,
            "incident_id": self.incident_id,
            "comment": self.comment,
            "received_at": self.received_at,
        }


@dataclass
class AutoShareRule:
    """An AutoShare rule (BigPanda's UI only; the emulator takes it on an emulator-only
    endpoint): incidents of ``environment_id`` whose alerts carry the tag ``tag`` (any
    incident when ``tag`` is empty) are shared to ``integration`` with its ``values``
    (secrets included, never shown). ``drop``/``delay`` are faults."""

    id: str
    environment_id: str
    integration: str
    values: dict[str, str]
    tag: str = ""
    drop: bool = False
    delay: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "environment_id": self.environment_id,
            "integration": self.integration,
            "tag": self.tag,
            "drop": self.drop,
            "delay": self.delay,
        }


@dataclass
class CoreIncident:
    """An incident the emulated BigPanda made from alerts."""

    id: str
    host: str
    check: str
    tags: dict[str, str]
    status: str
    start: float
    changed_at: float
    end: float | None = None
    alert_ids: list[str] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)
    shared_with: list[str] = field(default_factory=list)
    simulator: Any = None

    @property
    def active(self) -> bool:
        return self.end is None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "active": self.active,
            "start": int(self.start),
            "changed_at": int(self.changed_at),
            "end": None if self.end is None else int(self.end),
            "alerts": list(self.alert_ids),
            "primary_property": "host",
            "secondary_property": "check",
            "host": self.host,
            "check": self.check,
            "tags": dict(self.tags),
        }


class BigPandaState(TargetState):
    """Incidents resolved and comments added through the emulated Incidents API, and
    the core: alerts, incidents, their activities, AutoShare rules and faults."""

    def __init__(self, lock: Any) -> None:
        super().__init__(lock)
        self._resolutions: list[BigPandaResolution] = []
        self._comments: list[BigPandaComment] = []
        self._alerts: list[dict[str, Any]] = []
        self._incidents: dict[str, CoreIncident] = {}
        self._rules: list[AutoShareRule] = []
        self._tagged_environments: set[str] = set()
        self._extra_environments: list[tuple[str, str]] = []
        self.wrong_region = False
        #: Shares in flight (kept so the event loop does not drop them).
        self.tasks: set[asyncio.Task[None]] = set()

    def bigpanda_resolutions(self) -> list[BigPandaResolution]:
        with self._lock:
            return copy.deepcopy(self._resolutions)

    def bigpanda_comments(self) -> list[BigPandaComment]:
        with self._lock:
            return copy.deepcopy(self._comments)

    def bigpanda_resolve(
        self, environment_id: str, incident_id: str, comments: str | None, now: float
    ) -> None:
        with self._lock:
            self._resolutions.append(BigPandaResolution(environment_id, incident_id, comments, now))

    def bigpanda_comment(
        self, environment_id: str, incident_id: str, comment: str, now: float
    ) -> None:
        with self._lock:
            self._comments.append(BigPandaComment(environment_id, incident_id, comment, now))

    # -- the core ------------------------------------------------------------------
    def add_rule(self, rule: AutoShareRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def rules(self) -> list[AutoShareRule]:
        with self._lock:
            return copy.deepcopy(self._rules)

    def add_environment(self, env_id: str, name: str, incident_tags: bool) -> None:
        with self._lock:
            self._extra_environments.append((env_id, name))
            if incident_tags:
                self._tagged_environments.add(env_id)

    def environments(self, settings: BigPandaSettings) -> list[tuple[str, str]]:
        with self._lock:
            return [*settings.bigpanda_environments, *self._extra_environments]

    def uses_incident_tags(self, env_id: str) -> bool:
        with self._lock:
            return env_id in self._tagged_environments

    def incident(self, incident_id: str) -> CoreIncident | None:
        with self._lock:
            found = self._incidents.get(incident_id)
            return None if found is None else _copy_incident(found)

    def incidents(self) -> list[CoreIncident]:
        with self._lock:
            return [_copy_incident(i) for i in self._incidents.values()]

    def core_incident(self, incident_id: str) -> CoreIncident | None:
        """The live incident (callers hold the lock while they change it)."""
        return self._incidents.get(incident_id)

    def add_activity(self, incident_id: str, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            incident = self._incidents.get(incident_id)
            if incident is not None:
                incident.activities.append({"type": kind, "timestamp": time.time(), "data": data})

    def alert(
        self, alert: dict[str, Any], window: float, now: float
    ) -> tuple[str, CoreIncident | None, str | None]:
        """Take one alert; return (what happened, the incident, the event to share).

        ``what`` is ``duplicate`` (exactly the last alert again: 204), ``ignored``
        (an ok for no open incident) or ``accepted``; the event is ``incident#new``
        or ``incident#closed`` when the incident opened or closed.
        """
        with self._lock:
            key = (alert["host"], alert["check"])
            same = [a for a in self._alerts if (a["host"], a["check"]) == key]
            if same and _alert_fields(same[-1]) == _alert_fields(alert):
                return "duplicate", None, None
            alert = {**alert, "id": secrets.token_hex(12), "received_at": now}
            self._alerts.append(alert)
            incident = next(
                (
                    i
                    for i in reversed(self._incidents.values())
                    if (i.host, i.check) == key and (i.active or now - i.start <= window)
                ),
                None,
            )
            if alert["status"] == "ok":
                if incident is None or not incident.active:
                    return "ignored", incident, None
                incident.alert_ids.append(alert["id"])
                incident.status, incident.end, incident.changed_at = "ok", now, now
                incident.activities.append(
                    {"type": "incident_resolved", "timestamp": now, "data": {"by": "alert"}}
                )
                return "accepted", _copy_incident(incident), "incident#closed"
            if incident is not None and incident.active:
                incident.alert_ids.append(alert["id"])
                incident.status, incident.changed_at = alert["status"], now
                return "accepted", _copy_incident(incident), None
            incident_id = secrets.token_hex(12)
            tags = {k: v for k, v in alert["tags"].items()}
            created = CoreIncident(
                incident_id, key[0], key[1], tags, alert["status"], now, now, None, [alert["id"]]
            )
            created.activities.append({"type": "incident_created", "timestamp": now, "data": {}})
            self._incidents[incident_id] = created
            return "accepted", _copy_incident(created), "incident#new"

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "bigpanda": {
                    "resolved_incidents": [r.to_json() for r in self._resolutions],
                    "comments": [c.to_json() for c in self._comments],
                    "alerts": len(self._alerts),
                    "incidents": [i.to_json() for i in self._incidents.values()],
                    "autoshare_rules": [r.to_json() for r in self._rules],
                }
            }

    def reset(self) -> None:
        with self._lock:
            self._resolutions.clear()
            self._comments.clear()
            self._alerts.clear()
            self._incidents.clear()
            self._rules.clear()
            self._tagged_environments.clear()
            self._extra_environments.clear()
            self.wrong_region = False


def _copy_incident(incident: CoreIncident) -> CoreIncident:
    simulator, incident.simulator = incident.simulator, None
    try:
        return copy.deepcopy(incident)
    finally:
        incident.simulator = simulator


def _alert_fields(alert: dict[str, Any]) -> tuple[Any, ...]:
    return (alert["status"], alert["description"], sorted(alert["tags"].items()))


def _error(status: int, message: str) -> Response:
    return json_response({"status": status, "message": message}, status=status)


def _json_object(request: Request, oc: Any = None) -> dict[str, Any] | Response:
    """The request's JSON object, or the 400 BigPanda answers (the reason noted in `oc`)."""
    try:
        body = read_json(request)
    except BodyError as exc:
        if oc is not None:
            oc.reject(str(exc))
        return _error(400, str(exc))
    if not isinstance(body, dict):
        if oc is not None:
            oc.reject("request body must be a JSON object")
        return _error(400, "Request body must be a JSON object")
    return body


def _wrong_region(request: Request) -> Response | None:
    if not target_state(request, BigPandaState).wrong_region:
        return None
    outcome(request).reject("the key belongs to the other BigPanda region (injected fault)")
    return _error(401, "Unauthorized")


def _check(request: Request) -> Response | None:
    """The refusal to answer when the request's key or environment is wrong, else None."""
    oc = outcome(request)
    refused = _wrong_region(request)
    if refused is not None:
        return refused
    settings = settings_of(request, BigPandaSettings)
    if not same_secret(bearer_token(request), settings.bigpanda_api_key):
        oc.reject("not authenticated: missing or wrong 'Authorization: Bearer <User API Key>'")
        return _error(401, "Unauthorized")
    env = request.match_info.get("env_id")
    known = {e for e, _ in target_state(request, BigPandaState).environments(settings)}
    if env is not None and env not in known:
        oc.reject(f"no environment with id {env}")
        return _error(404, f"Environment {env} not found")
    return None


def handle_environments(request: Request) -> Response:
    """``GET /resources/v2.0/environments``."""
    refused = _check(request)
    if refused is not None:
        return refused
    outcome(request).note = "key accepted"
    settings = settings_of(request, BigPandaSettings)
    environments = target_state(request, BigPandaState).environments(settings)
    items = [{"id": env_id, "name": name} for env_id, name in environments]
    return json_response({"items": items})


def handle_resolve(request: Request) -> Response:
    """``POST /resources/v2.0/environments/{env_id}/incidents/{incident_id}/resolve``."""
    refused = _check(request)
    if refused is not None:
        return refused
    oc = outcome(request)
    oc.action = "resolve"
    oc.key = request.match_info["incident_id"]
    comments: str | None = None
    if request.body.strip():
        body = _json_object(request, oc)
        if isinstance(body, Response):
            return body
        raw = body.get("comments")
        if raw is not None and not isinstance(raw, str):
            oc.reject("comments must be a string")
            return _error(400, "comments must be a string")
        comments = raw
    target_state(request, BigPandaState).bigpanda_resolve(
        request.match_info["env_id"], oc.key, comments, time.time()
    )
    oc.note = "incident resolved"
    return Response(202)


def handle_comment(request: Request) -> Response:
    """``POST /resources/v2.0/environments/{env_id}/incidents/{incident_id}/comments``."""
    refused = _check(request)
    if refused is not None:
        return refused
    oc = outcome(request)
    oc.action = "comment"
    oc.key = request.match_info["incident_id"]
    try:
        body = read_json(request)
    except BodyError as exc:
        oc.reject(str(exc))
        return _error(400, str(exc))
    comment = body.get("comment") if isinstance(body, dict) else None
    if not isinstance(comment, str) or not comment.strip():
        oc.reject("comment must be a non-empty string")
        return _error(400, 'Body must be {"comment": "<non-empty string>"}')
    target_state(request, BigPandaState).bigpanda_comment(
        request.match_info["env_id"], oc.key, comment, time.time()
    )
    oc.note = "comment added"
    return Response(204)


# ------------------------------------------------------------------ the core
def handle_alert(request: Request) -> Response:
    """``POST /data/v2/alerts``: one alert (org token, ``app_key`` in the body)."""
    oc = outcome(request)
    refused = _wrong_region(request)
    if refused is not None:
        return refused
    settings = settings_of(request, BigPandaSettings)
    if not same_secret(bearer_token(request), settings.bigpanda_org_token):
        oc.reject("not authenticated: missing or wrong 'Authorization: Bearer <org token>'")
        return _error(401, "Unauthorized")
    body = _json_object(request, oc)
    if isinstance(body, Response):
        return body
    app_key = body.get("app_key")
    if not isinstance(app_key, str) or not same_secret(app_key, settings.bigpanda_app_key):
        oc.reject("app_key is missing or names no integration")
        return _error(400, "Invalid app_key: no inbound integration has this app key")
    status = body.get("status")
    host = body.get("host")
    if status not in ALERT_STATUSES:
        oc.reject(f"status must be one of {', '.join(ALERT_STATUSES)}")
        return _error(400, f"status must be one of {', '.join(ALERT_STATUSES)}")
    if not isinstance(host, str) or not host:
        oc.reject("host (the primary property) is missing")
        return _error(400, "host is required")
    reserved = {"app_key", "status", "host", "check", "description", "timestamp"}
    alert = {
        "host": host,
        "check": str(body.get("check") or ""),
        "status": status,
        "description": str(body.get("description") or ""),
        "tags": {k: str(v) for k, v in body.items() if k not in reserved},
    }
    oc.action, oc.key = str(status), host
    state = target_state(request, BigPandaState)
    what, incident, event = state.alert(alert, settings.bigpanda_correlation_window, time.time())
    oc.note = {"duplicate": "duplicate alert", "ignored": "ok for no open incident"}.get(
        what, f"alert accepted ({event or 'incident updated'})"
    )
    if what == "duplicate":
        return Response(204)
    if incident is not None and event is not None:
        _schedule_shares(request, state, incident, event)
    return json_response({"status": "created"}, status=201)


def _schedule_shares(
    request: Request, state: BigPandaState, incident: CoreIncident, event: str
) -> None:
    for rule in state.rules():
        if event == "incident#new" and rule.tag and rule.tag not in incident.tags:
            continue
        if event != "incident#new" and rule.id not in incident.shared_with:
            continue
        if event == "incident#new":
            with state._lock:
                live = state.core_incident(incident.id)
                if live is not None:
                    live.shared_with.append(rule.id)
        task = asyncio.ensure_future(_share(state, incident.id, event, rule))
        state.tasks.add(task)
        task.add_done_callback(state.tasks.discard)


#: How long the emulated BigPanda waits for a target to answer a share (seconds).
SHARE_TIMEOUT = 10.0


async def _share(state: BigPandaState, incident_id: str, event: str, rule: AutoShareRule) -> None:
    """Share ``event`` to the rule's integration as BigPanda would: the body and the
    requests come from the integration itself (the run engine's planning)."""
    if rule.delay:
        await asyncio.sleep(rule.delay)
    if rule.drop:
        return
    from bp_integrate.engine.plan import encode_body
    from bp_integrate.http import NetworkFailure, async_sender

    answers: list[int | str] = []
    try:
        requests = _planned(state, incident_id, event, rule)
    except Exception as exc:  # the rule's values cannot be planned: the activity says so
        requests = []
        answers.append(f"not planned: {type(exc).__name__}")
    sender = async_sender()  # the tool's own send path: the same bytes, client and failures
    try:
        for item in requests:
            try:
                answer = await sender.request(
                    item.method, item.url, item.headers, encode_body(item.body), SHARE_TIMEOUT
                )
                answers.append(answer.status)
            except NetworkFailure as exc:
                answers.append(exc.kind.value)
    finally:
        await sender.aclose()
    kind = "incident_shared" if event == "incident#new" else "incident_share_updated"
    state.add_activity(
        incident_id,
        kind,
        {"integration": rule.integration, "rule_id": rule.id, "responses": answers},
    )


def _planned(state: BigPandaState, incident_id: str, event: str, rule: AutoShareRule) -> list[Any]:
    from bp_integrate.bigpanda.simulator import IncidentSimulator
    from bp_integrate.bigpanda.webhook import BodySpec, render_body
    from bp_integrate.config import Installed
    from bp_integrate.engine.plan import Target as PlanTarget
    from bp_integrate.engine.plan import plan_event
    from bp_integrate.integrations import get as get_integration
    from bp_integrate.integrations.base import PlannedRequest
    from bp_integrate.redact import Redactor

    with state._lock:
        incident = state.core_incident(incident_id)
        if incident is None:
            return []
        if incident.simulator is None:
            incident.simulator = IncidentSimulator(
                incident_id=incident.id,
                start=int(incident.start),
                tags={"host": incident.host, "check": incident.check or "check"},
                test_marker=False,
                environment_id=rule.environment_id,
            )
        simulator = incident.simulator
        tags = dict(incident.tags)
        spec = BodySpec(test_marker=False, environment_id=rule.environment_id)
        body, rendered = render_body(simulator, event, spec, tags=tags)
    integration = get_integration(rule.integration)
    target = PlanTarget(integration, rule.values, Installed(integration.name, rule.values))
    planned = plan_event([target], event, rendered, body, spec.send_options(), Redactor())
    return [p for p in planned if isinstance(p, PlannedRequest)]


_BPQL_TERM = re.compile(r'\s*([A-Za-z_][\w.]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*')


def parse_bpql(query: str) -> list[tuple[str, str]] | None:
    """``host = "a" and check = "b"`` as [(name, value)]; None if outside the subset."""
    terms: list[tuple[str, str]] = []
    for part in re.split(r"\s+and\s+", query.strip(), flags=re.IGNORECASE):
        match = _BPQL_TERM.fullmatch(part)
        if match is None:
            return None
        terms.append((match.group(1), match.group(2).replace('\\"', '"')))
    return terms


def _matches(incident: CoreIncident, terms: list[tuple[str, str]]) -> bool:
    fields = {"host": incident.host, "check": incident.check, "status": incident.status}
    return all(fields.get(name, incident.tags.get(name)) == value for name, value in terms)


def handle_search(request: Request) -> Response:
    """``GET /resources/v2.0/environments/{env_id}/incidents?query=<BPQL>``."""
    refused = _check(request)
    if refused is not None:
        return refused
    oc = outcome(request)
    state = target_state(request, BigPandaState)
    env = request.match_info["env_id"]
    if state.uses_incident_tags(env):
        oc.reject("search on an environment that uses incident tags (BigPanda answers 500)")
        return _error(500, "Internal Server Error")
    query = request.query.get("query", "")
    terms = parse_bpql(query) if query else []
    if terms is None:
        oc.reject(f"query outside the emulated BPQL subset: {query}")
        return _error(400, 'Invalid BPQL: use name = "value" joined by and')
    try:
        page_size = int(request.query.get("page_size", "10"))
    except ValueError:
        return _error(400, "page_size must be an integer")
    found = [i.to_json() for i in state.incidents() if _matches(i, terms)]
    found.reverse()  # newest first
    oc.note = f"{len(found)} incident(s) found"
    return json_response({"items": found[: max(1, min(page_size, 100))], "total": len(found)})


def _incident(request: Request) -> CoreIncident | Response:
    """The incident the path names, or BigPanda's answer when there is none to give."""
    refused = _check(request)
    if refused is not None:
        return refused
    incident = target_state(request, BigPandaState).incident(request.match_info["incident_id"])
    if incident is None:
        outcome(request).reject("no such incident")
        return _error(404, "Incident not found")
    return incident


def handle_get_incident(request: Request) -> Response:
    """``GET /resources/v2.0/environments/{env_id}/incidents/{incident_id}``."""
    incident = _incident(request)
    return incident if isinstance(incident, Response) else json_response(incident.to_json())


def handle_activities(request: Request) -> Response:
    """``GET /resources/v2.0/incidents/{incident_id}/activities?types=a,b``."""
    incident = _incident(request)
    if isinstance(incident, Response):
        return incident
    wanted = {t for t in request.query.get("types", "").split(",") if t}
    items = [a for a in incident.activities if not wanted or a["type"] in wanted]
    return json_response({"items": items, "total": len(items)})


# ------------------------------------------------------- emulator-only endpoints
def handle_add_rule(request: Request) -> Response:
    """``POST /_bigpanda/autoshare``: what an admin does in BigPanda's AutoShare screen."""
    from bp_integrate.errors import BPError
    from bp_integrate.integrations import get as get_integration

    body = _json_object(request)
    if isinstance(body, Response):
        return body
    values = body.get("values")
    env = body.get("environment_id")
    if not isinstance(env, str) or not env:
        return _error(400, "environment_id is required")
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in values.items()
    ):
        return _error(400, "values must be an object of strings (the integration's settings)")
    try:
        integration = get_integration(str(body.get("integration", "")))
    except BPError as exc:
        return _error(400, exc.message)
    missing = [
        f.name
        for f in integration.fields
        if f.required and f.applies(values) and not values.get(f.name)
    ]
    if missing:  # the share could not be planned: say so now, not in a background task
        return _error(400, f"values lack {integration.title}'s {', '.join(missing)}")
    delay = body.get("delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 600:
        return _error(400, "delay must be a number of seconds from 0 to 600")
    rule = AutoShareRule(
        id=secrets.token_hex(6),
        environment_id=env,
        integration=integration.name,
        values=dict(values),
        tag=str(body.get("tag") or ""),
        drop=bool(body.get("drop", False)),
        delay=float(delay),
    )
    target_state(request, BigPandaState).add_rule(rule)
    return json_response(rule.to_json(), status=201)


def handle_add_environment(request: Request) -> Response:
    """``POST /_bigpanda/environments``: ``{"id", "name", "incident_tags": bool}``."""
    try:
        body = read_json(request)
    except BodyError as exc:
        return _error(400, str(exc))
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        return _error(400, 'Body must be {"id": ..., "name": ..., "incident_tags": bool}')
    target_state(request, BigPandaState).add_environment(
        body["id"], str(body.get("name") or body["id"]), bool(body.get("incident_tags"))
    )
    return json_response({"id": body["id"]}, status=201)


def handle_region(request: Request) -> Response:
    """``POST /_bigpanda/region`` ``{"wrong": true}``: keys now belong to the other region."""
    try:
        body = read_json(request)
    except BodyError as exc:
        return _error(400, str(exc))
    wrong = bool(body.get("wrong")) if isinstance(body, dict) else False
    target_state(request, BigPandaState).wrong_region = wrong
    return json_response({"wrong_region": wrong})


def _summary(snapshot: dict[str, Any]) -> list[str]:
    section = snapshot["bigpanda"]
    resolved, comments = len(section["resolved_incidents"]), len(section["comments"])
    if not resolved and not comments:
        return []
    return [f"BigPanda: {resolved} incident(s) resolved, {comments} comment(s) added"]


TARGET = Target(
    name="bigpanda",
    order=90,
    routes=(
        Route("GET", BP_ENV, "bigpanda_environments", handle_environments),
        Route("POST", ALERTS_PATH, "bigpanda_alerts", handle_alert),
        Route("GET", BP_ENV + "/{env_id}/incidents", "bigpanda_search", handle_search),
        Route(
            "GET",
            BP_ENV + "/{env_id}/incidents/{incident_id}",
            "bigpanda_incident",
            handle_get_incident,
        ),
        Route(
            "GET",
            INCIDENTS_PATH + "/{incident_id}/activities",
            "bigpanda_activities",
            handle_activities,
        ),
        Route("POST", "/_bigpanda/autoshare", "bigpanda_add_rule", handle_add_rule),
        Route("POST", "/_bigpanda/environments", "bigpanda_add_env", handle_add_environment),
        Route("POST", "/_bigpanda/region", "bigpanda_region", handle_region),
        Route(
            "POST",
            BP_ENV + "/{env_id}/incidents/{incident_id}/resolve",
            "bigpanda_resolve",
            handle_resolve,
        ),
        Route(
            "POST",
            BP_ENV + "/{env_id}/incidents/{incident_id}/comments",
            "bigpanda_comment",
            handle_comment,
        ),
    ),
    path_prefixes=("/resources/", "/data/v2/"),
    settings=BigPandaSettings,
    state=BigPandaState,
    urls=lambda base, settings: {"bigpanda_api": base, "bigpanda_alerts": base + ALERTS_PATH},
    install_values=lambda base, config: {},
    credentials=lambda settings: (
        f"BigPanda API key {settings.bigpanda_api_key}, org token "
        f"{settings.bigpanda_org_token}, canary app key {settings.bigpanda_app_key}"
    ),
    summary=_summary,
)
