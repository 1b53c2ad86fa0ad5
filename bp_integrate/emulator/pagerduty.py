"""The emulated PagerDuty Events API v2 (``/v2/enqueue``, ``/v2/change/enqueue``).

This module owns validation of events the way PagerDuty does it: against the
request-body schema of PagerDuty's official Events v2 OpenAPI document (shipped
as package data, ``pagerduty-events-v2.openapi.json``, resolved through a
``referencing`` registry over the whole document), plus the rules that schema
cannot express (32-character routing key, a trigger's payload and its limits,
``dedup_key`` length and presence, the 512 KB body limit), optional throttling,
the two route handlers, and this target's settings, state (alerts keyed by
routing key and dedup key, change events) and ``TARGET``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.resources
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import fastjsonschema  # type: ignore[import-untyped, unused-ignore]
from fastjsonschema import JsonSchemaException  # type: ignore[import-untyped, unused-ignore]
from jsonschema import Draft4Validator  # type: ignore[import-untyped, unused-ignore]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from .context import (
    BodyError,
    config_of,
    json_response,
    outcome,
    read_json,
    same_secret,
    settings_of,
    state_of,
    target_state,
)
from .records import mask_key
from .target import Route, Target, TargetSettings, TargetState
from .wire import Request, Response

#: PagerDuty's own body limit for Events API v2 (512 KB, taken as KiB).
PAGERDUTY_MAX_EVENT_BYTES = 512 * 1024
ENQUEUE_PATH = "/v2/enqueue"
CHANGE_PATH = "/v2/change/enqueue"

SCHEMA_FILE = "pagerduty-events-v2.openapi.json"
_SPEC_URI = "urn:bp-integrate:pagerduty-events-v2.openapi.json"
_ENQUEUE_POINTER = "/paths/~1enqueue/post/requestBody/content/application~1json/schema"
_CHANGE_POINTER = "/paths/~1change~1enqueue/post/requestBody/content/application~1json/schema"

ROUTING_KEY_LENGTH = 32
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255

INVALID_STATUS = "Unrecognized object"
INVALID_MESSAGE = "Event object is invalid"
THROTTLE_BODY = {
    "status": "throttle event",
    "message": "Requests for this service are arriving too quickly. Please retry later.",
}


@dataclass(frozen=True)
class PagerDutySettings(TargetSettings):
    """PagerDuty accepts any well-formed routing key: only the throttle is a setting.

    ``pagerduty_rate_limit`` is accepted events per minute per routing key
    (``None``: the emulator-wide ``rate_limit``, off by default; PagerDuty: ~120).
    """

    pagerduty_rate_limit: int | None = None
    #: The REST API key read-back uses (``Authorization: Token token=...``).
    pagerduty_rest_api_key: str = "demo-pagerduty-rest-key"

    def __post_init__(self) -> None:
        if self.pagerduty_rate_limit is not None and self.pagerduty_rate_limit < 1:
            raise ValueError("pagerduty_rate_limit must be at least 1 (or None for no limit)")

    def secrets(self) -> tuple[str, ...]:
        return (self.pagerduty_rest_api_key,)


@dataclass
class PagerDutyAlert:
    """A PagerDuty alert, keyed by (routing_key, dedup_key).

    ``status`` is ``triggered``, ``acknowledged`` or ``resolved``; ``event_count``
    counts every accepted event for the key, ``trigger_count`` how many times it
    was (re)opened by a trigger.
    """

    routing_key: str
    dedup_key: str
    status: str
    event_count: int
    trigger_count: int
    summary: str | None
    severity: str | None
    source: str | None
    created_at: float
    updated_at: float
    actions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "routing_key": mask_key(self.routing_key),
            "dedup_key": self.dedup_key,
            "status": self.status,
            "event_count": self.event_count,
            "trigger_count": self.trigger_count,
            "summary": self.summary,
            "severity": self.severity,
            "source": self.source,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "actions": list(self.actions),
        }


@dataclass
class PagerDutyChangeEvent:
    """A PagerDuty change event (informational; opens nothing)."""

    routing_key: str
    summary: str | None
    received_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "routing_key": mask_key(self.routing_key),
            "summary": self.summary,
            "received_at": self.received_at,
        }


class PagerDutyState(TargetState):
    """PagerDuty's alerts and change events, and the lifecycle that moves alerts."""

    def __init__(self, lock: Any) -> None:
        super().__init__(lock)
        self._alerts: dict[tuple[str, str], PagerDutyAlert] = {}
        self._changes: list[PagerDutyChangeEvent] = []

    def pagerduty_alerts(self) -> list[PagerDutyAlert]:
        with self._lock:
            return copy.deepcopy(list(self._alerts.values()))

    def pagerduty_alert(self, routing_key: str, dedup_key: str) -> PagerDutyAlert | None:
        with self._lock:
            return copy.deepcopy(self._alerts.get((routing_key, dedup_key)))

    def pagerduty_by_incident_key(self, incident_key: str) -> list[PagerDutyAlert]:
        """Every alert whose dedup_key is ``incident_key`` (the REST API's incident_key)."""
        with self._lock:
            return copy.deepcopy([a for a in self._alerts.values() if a.dedup_key == incident_key])

    def pagerduty_change_events(self) -> list[PagerDutyChangeEvent]:
        with self._lock:
            return copy.deepcopy(self._changes)

    def pagerduty_event(
        self,
        routing_key: str,
        action: str,
        dedup_key: str,
        payload: dict[str, Any] | None,
        now: float,
    ) -> str:
        """Apply one accepted Events API v2 event; return what happened, in words."""
        with self._lock:
            alert = self._alerts.get((routing_key, dedup_key))
            payload = payload or {}
            if action == "trigger":
                if alert is None or alert.status == "resolved":
                    reopened = alert is not None
                    if alert is None:
                        alert = PagerDutyAlert(
                            routing_key, dedup_key, "triggered", 0, 0, None, None, None, now, now
                        )
                        self._alerts[(routing_key, dedup_key)] = alert
                    alert.status = "triggered"
                    alert.trigger_count += 1
                    note = (
                        "alert re-triggered (new alert, same dedup_key)"
                        if reopened
                        else "alert triggered"
                    )
                else:
                    note = f"deduplicated into the open alert ({alert.status})"
                alert.summary = _str_or_none(payload.get("summary"))
                alert.severity = _str_or_none(payload.get("severity"))
                alert.source = _str_or_none(payload.get("source"))
            else:
                if alert is None or alert.status == "resolved":
                    return f"no open alert for this dedup_key: {action} ignored (still 202)"
                if action == "acknowledge" and alert.status == "acknowledged":
                    note = "alert already acknowledged"
                else:
                    alert.status = "acknowledged" if action == "acknowledge" else "resolved"
                    note = f"alert {alert.status}"
            alert.event_count += 1
            alert.updated_at = now
            alert.actions.append(action)
            return note

    def pagerduty_change(self, routing_key: str, summary: str | None, now: float) -> None:
        with self._lock:
            self._changes.append(PagerDutyChangeEvent(routing_key, summary, now))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "pagerduty": {
                    "alerts": [a.to_json() for a in self._alerts.values()],
                    "change_events": [c.to_json() for c in self._changes],
                }
            }

    def reset(self) -> None:
        with self._lock:
            self._alerts.clear()
            self._changes.clear()


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def load_openapi_document() -> dict[str, Any]:
    """PagerDuty's Events v2 OpenAPI document, as shipped with this package."""
    text = importlib.resources.files(__package__).joinpath(SCHEMA_FILE).read_text("utf-8")
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError(f"{SCHEMA_FILE} is not a JSON object")
    return document


def _openapi_to_json_schema(node: Any) -> Any:
    """Map OpenAPI 3.0 schema-object quirks to JSON Schema draft 4 (``nullable``)."""
    if isinstance(node, dict):
        out = {k: _openapi_to_json_schema(v) for k, v in node.items()}
        if out.get("nullable") is True:
            kind = out.get("type")
            if isinstance(kind, str):
                out["type"] = [kind, "null"]
            elif "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        return out
    if isinstance(node, list):
        return [_openapi_to_json_schema(v) for v in node]
    return node


class EventsSchema:
    """Validators for the Events v2 request bodies, built from the OpenAPI document.

    OpenAPI 3.0 schema objects are an extended subset of JSON Schema draft 4
    (boolean ``exclusiveMinimum``, ``nullable``), so the document is registered
    as one draft-4 resource and each request body is validated through a
    ``$ref`` into it; its internal ``#/components/schemas/...`` refs then resolve
    against the whole document. ``format`` (e.g. ``url``) is not asserted. Each
    body schema is also compiled once to Python (fastjsonschema), the fast path
    for the events that are valid, about 30 times cheaper per event.
    """

    def __init__(self, document: dict[str, Any]) -> None:
        contents = _openapi_to_json_schema(document)
        resource: Resource[Any] = DRAFT4.create_resource(contents)
        registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
        self._enqueue = Draft4Validator(
            {"$ref": f"{_SPEC_URI}#{_ENQUEUE_POINTER}"}, registry=registry
        )
        self._change = Draft4Validator(
            {"$ref": f"{_SPEC_URI}#{_CHANGE_POINTER}"}, registry=registry
        )
        self._enqueue_fast = _compiled(contents, _ENQUEUE_POINTER)
        self._change_fast = _compiled(contents, _CHANGE_POINTER)

    @staticmethod
    def _errors(validator: Any, fast: Callable[[Any], Any], event: Any) -> list[str]:
        try:
            fast(event)
        except JsonSchemaException:
            pass  # invalid, or only the compiled check thinks so: let jsonschema explain
        else:
            return []
        found = []
        for error in validator.iter_errors(event):
            where = ".".join(str(p) for p in error.absolute_path)
            found.append(f"{where}: {error.message}" if where else str(error.message))
        return sorted(found)

    def enqueue_errors(self, event: Any) -> list[str]:
        """Human-readable problems of an Events API v2 event (empty when valid)."""
        errors = self._errors(self._enqueue, self._enqueue_fast, event)
        if not isinstance(event, dict):
            return errors
        errors.extend(_routing_key_errors(event))
        action = event.get("event_action")
        payload = event.get("payload")
        if action == "trigger":
            if "payload" not in event:
                errors.append("payload: is required when event_action is 'trigger'")
            elif isinstance(payload, dict):
                errors.extend(_payload_errors(payload, ("summary", "source")))
        dedup_key = event.get("dedup_key")
        if isinstance(dedup_key, str) and len(dedup_key) > MAX_DEDUP_KEY:
            errors.append(
                f"dedup_key: is longer than {MAX_DEDUP_KEY} characters ({len(dedup_key)})"
            )
        if action in ("acknowledge", "resolve") and (
            dedup_key is None or (isinstance(dedup_key, str) and not dedup_key.strip())
        ):
            errors.append(f"dedup_key: is required when event_action is '{action}'")
        return errors

    def change_errors(self, event: Any) -> list[str]:
        """Human-readable problems of a change event (empty when valid)."""
        errors = self._errors(self._change, self._change_fast, event)
        if isinstance(event, dict):
            errors.extend(_routing_key_errors(event))
            payload = event.get("payload")
            if isinstance(payload, dict):
                errors.extend(_payload_errors(payload, ("summary",)))
        return errors


def _compiled(contents: dict[str, Any], pointer: str) -> Callable[[Any], Any]:
    """The request-body schema at ``pointer``, compiled to Python once (fastjsonschema).

    Used as the fast path: a body it accepts is valid; one it refuses is checked
    again by jsonschema, which lists every problem (and, as here, asserts no
    ``format``), so the answer is always jsonschema's.
    """
    root = dict(contents)
    root["$ref"] = "#" + pointer  # draft 4: the $ref alone decides; the document holds its refs
    validate: Callable[[Any], Any] = fastjsonschema.compile(root, use_formats=False)
    return validate


def _routing_key_errors(event: dict[str, Any]) -> list[str]:
    key = event.get("routing_key")
    if isinstance(key, str) and len(key) != ROUTING_KEY_LENGTH:
        return [
            f"routing_key: must be {ROUTING_KEY_LENGTH} characters (an integration key, or a "
            f"ruleset key starting with 'R'), got {len(key)}"
        ]
    return []


def _payload_errors(payload: dict[str, Any], not_blank: tuple[str, ...]) -> list[str]:
    errors = []
    for name in not_blank:
        value = payload.get(name)
        if isinstance(value, str) and not value.strip():
            errors.append(f"payload.{name}: is blank")
    summary = payload.get("summary")
    if isinstance(summary, str) and len(summary) > MAX_SUMMARY:
        errors.append(f"payload.summary: is longer than {MAX_SUMMARY} characters ({len(summary)})")
    return errors


@functools.lru_cache(maxsize=1)
def events_schema() -> EventsSchema:
    """The (cached) validators built from the shipped OpenAPI document."""
    return EventsSchema(load_openapi_document())


def _invalid(errors: list[str]) -> Response:
    return json_response(
        {"status": INVALID_STATUS, "message": INVALID_MESSAGE, "errors": errors}, status=400
    )


def _read_event(request: Request) -> tuple[Any, list[str]]:
    raw = request.body
    if len(raw) > PAGERDUTY_MAX_EVENT_BYTES:
        return None, [
            f"request body is {len(raw)} bytes; the limit is {PAGERDUTY_MAX_EVENT_BYTES} "
            "bytes (512 KB)"
        ]
    try:
        return read_json(request), []
    except BodyError as exc:
        return None, [str(exc)]


def handle_enqueue(request: Request) -> Response:
    """``POST /v2/enqueue``: trigger, acknowledge or resolve an alert."""
    oc = outcome(request)
    event, errors = _read_event(request)
    if not errors:
        errors = events_schema().enqueue_errors(event)
    if isinstance(event, dict):
        action = event.get("event_action")
        oc.action = action if isinstance(action, str) else None
        dedup = event.get("dedup_key")
        oc.key = dedup if isinstance(dedup, str) else None
    if errors:
        oc.reject(*errors)
        return _invalid(errors)
    assert isinstance(event, dict)
    routing_key: str = event["routing_key"]
    action = str(event["event_action"])
    dedup_key = event.get("dedup_key") or uuid.uuid4().hex
    oc.key = dedup_key
    limit = settings_of(request, PagerDutySettings).pagerduty_rate_limit
    if limit is None:
        limit = config_of(request).rate_limit
    if limit is not None:
        shared, mono = state_of(request), time.monotonic()
        if shared.throttled(routing_key, limit, mono):
            oc.reject("throttled: over the configured events per minute for this routing key")
            return json_response(THROTTLE_BODY, status=429)
        shared.count_event(routing_key, mono)
    payload = event.get("payload") if isinstance(event.get("payload"), dict) else None
    oc.note = target_state(request, PagerDutyState).pagerduty_event(
        routing_key, action, dedup_key, payload, time.time()
    )
    return json_response(
        {"status": "success", "message": "Event processed", "dedup_key": dedup_key}, status=202
    )


def handle_change_enqueue(request: Request) -> Response:
    """``POST /v2/change/enqueue``: an informational change event (opens nothing)."""
    oc = outcome(request)
    oc.action = "change"
    event, errors = _read_event(request)
    if not errors:
        errors = events_schema().change_errors(event)
    if errors:
        oc.reject(*errors)
        return _invalid(errors)
    assert isinstance(event, dict)
    payload = event.get("payload")
    summary = payload.get("summary") if isinstance(payload, dict) else None
    target_state(request, PagerDutyState).pagerduty_change(
        event["routing_key"], summary if isinstance(summary, str) else None, time.time()
    )
    oc.note = "change event recorded"
    return json_response({"status": "success", "message": "Change event processed"}, status=202)


def handle_list_incidents(request: Request) -> Response:
    """``GET /incidents?incident_key=...`` of PagerDuty's REST API (read-back), with
    ``Authorization: Token token=<REST API key>``."""
    oc = outcome(request)
    header = request.headers.get("Authorization", "").strip()
    prefix = "token token="
    token = header[len(prefix) :] if header.lower().startswith(prefix) else None
    if not same_secret(token, settings_of(request, PagerDutySettings).pagerduty_rest_api_key):
        oc.reject("not authenticated: missing or wrong 'Authorization: Token token=<key>'")
        return json_response({"error": {"message": "Unauthorized", "code": 2006}}, status=401)
    key = request.query.get("incident_key")
    alerts = (
        target_state(request, PagerDutyState).pagerduty_by_incident_key(key)
        if key
        else target_state(request, PagerDutyState).pagerduty_alerts()
    )
    oc.key, oc.note = key, f"{len(alerts)} incident(s)"
    incidents = [
        {
            "id": "P"
            + hashlib.sha1(f"{a.routing_key}/{a.dedup_key}".encode()).hexdigest()[:6].upper(),
            "type": "incident",
            "incident_key": a.dedup_key,
            "status": a.status,
            "title": a.summary,
            "urgency": "high" if a.severity in ("critical", "error") else "low",
        }
        for a in alerts
    ]
    return json_response(
        {"incidents": incidents, "limit": 25, "offset": 0, "more": False, "total": None}
    )


def _urls(base: str, settings: PagerDutySettings) -> dict[str, str]:
    return {"pagerduty_events": base + ENQUEUE_PATH, "pagerduty_change_events": base + CHANGE_PATH}


def _install_values(base: str, config: Any) -> dict[str, dict[str, str]]:
    # Any 32 hex characters: the emulator, like PagerDuty, checks only the shape.
    return {
        "pagerduty": {
            "integration_key": secrets.token_hex(16),
            "events_url": base + ENQUEUE_PATH,
            "field_map": "component=check",
        }
    }


def _summary(snapshot: dict[str, Any]) -> list[str]:
    return [
        f"PagerDuty: alert {alert.get('dedup_key')} is {alert.get('status')} "
        f"after {alert.get('event_count')} event(s)"
        for alert in snapshot["pagerduty"]["alerts"]
    ]


TARGET = Target(
    name="pagerduty",
    order=20,
    routes=(
        Route("POST", ENQUEUE_PATH, "pagerduty_events", handle_enqueue),
        Route("POST", CHANGE_PATH, "pagerduty_change_events", handle_change_enqueue),
        Route("GET", "/incidents", "pagerduty_incidents", handle_list_incidents),
    ),
    path_prefixes=(ENQUEUE_PATH, "/v2/change/", "/incidents"),
    settings=PagerDutySettings,
    state=PagerDutyState,
    urls=_urls,
    install_values=_install_values,
    credentials=lambda settings: (
        f"PagerDuty: any 32-character routing key; REST API key {settings.pagerduty_rest_api_key}"
    ),
    summary=_summary,
    readback_values=lambda settings: {
        "pagerduty": {"readback_api_key": settings.pagerduty_rest_api_key}
    },
)
