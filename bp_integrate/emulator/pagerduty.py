"""The emulated PagerDuty: Events API v2 (``/v2/enqueue``, ``/v2/change/enqueue``)
and the REST API reads of read-back (``GET /incidents``, ``GET /incidents/{id}``).

This module owns validation of events the way PagerDuty does it: against the
request-body schema of PagerDuty's official Events v2 OpenAPI document (shipped
as package data, ``pagerduty-events-v2.openapi.json``, resolved through a
``referencing`` registry over the whole document), plus the rules that schema
cannot express (32-character routing key, a trigger's payload and its limits,
``dedup_key`` length and presence, the 512 KB body limit), optional throttling;
the incident lifecycle as PagerDuty documents it (a trigger after a resolve opens a
new incident with the same key); the REST answers in the shape of PagerDuty's REST
API description (tests/test_emulator_pagerduty_rest.py holds them to it), with its
``ratelimit-*`` headers; the route handlers, and this target's settings, state
(incidents, change events, the REST rate window) and ``TARGET``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.resources
import json
import math
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from .target import (
    MAX_ADMIN_OBJECTS,
    AdminLimit,
    Kept,
    Route,
    Target,
    TargetSettings,
    TargetState,
    keep_last,
)
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
    """PagerDuty accepts any well-formed routing key: only the throttles are settings.

    ``pagerduty_rate_limit`` is accepted events per minute per routing key
    (``None``: the emulator-wide ``rate_limit``, off by default; PagerDuty: ~120).
    ``pagerduty_rest_rate_limit`` is REST requests per minute per API key (``None``:
    no limit; PagerDuty: 960), answered past it with 429 and PagerDuty's
    ``ratelimit-*`` headers.
    """

    pagerduty_rate_limit: int | None = None
    #: The REST API key read-back uses (``Authorization: Token token=...``): full access.
    pagerduty_rest_api_key: str = "demo-pagerduty-rest-key"
    #: A read-only REST API key: reads answer, writes are 403 (PagerDuty's read-only keys).
    pagerduty_rest_readonly_key: str = "demo-pagerduty-readonly-key"
    pagerduty_rest_rate_limit: int | None = None
    #: The services the emulated account has (demo data; ``GET /services`` lists them).
    pagerduty_services: tuple[str, ...] = (
        "Checkout",
        "Payments API",
        "Web Frontend",
        "Data Pipeline",
    )

    def __post_init__(self) -> None:
        if self.pagerduty_rate_limit is not None and self.pagerduty_rate_limit < 1:
            raise ValueError("pagerduty_rate_limit must be at least 1 (or None for no limit)")
        if self.pagerduty_rest_rate_limit is not None and self.pagerduty_rest_rate_limit < 1:
            raise ValueError("pagerduty_rest_rate_limit must be at least 1 (or None for no limit)")

    def secrets(self) -> tuple[str, ...]:
        return (self.pagerduty_rest_api_key, self.pagerduty_rest_readonly_key)


@dataclass
class PagerDutyAlert:
    """One PagerDuty incident and the one alert that opened it.

    Keyed by (routing_key, dedup_key) the way PagerDuty keys them, but a key may
    have several: a trigger whose dedup_key matches only resolved incidents opens
    a new one (new ``id`` and ``incident_number``, same ``dedup_key``), as PagerDuty
    documents. ``status`` is ``triggered``, ``acknowledged`` or ``resolved``;
    ``event_count`` counts the events it took, ``trigger_count`` the triggers among
    them (the one that opened it and those deduplicated into it). ``title`` is the
    summary of the trigger that opened it (the incident's title), ``summary``,
    ``severity`` and ``source`` those of the newest trigger. Times are Unix seconds.
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
    id: str = ""
    incident_number: int = 0
    title: str | None = None
    acknowledged_at: float | None = None
    resolved_at: float | None = None
    last_status_change_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "incident_number": self.incident_number,
            "routing_key": mask_key(self.routing_key),
            "dedup_key": self.dedup_key,
            "status": self.status,
            "event_count": self.event_count,
            "trigger_count": self.trigger_count,
            "title": self.title,
            "summary": self.summary,
            "severity": self.severity,
            "source": self.source,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "resolved_at": self.resolved_at,
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


@dataclass
class PagerDutyIntegration:
    """An integration on an emulated service; events sent with its key reach it."""

    id: str
    name: str
    type: str
    integration_key: str
    service_id: str
    created_at: float


@dataclass
class PagerDutyService:
    """An emulated PagerDuty service and its integrations (oldest first)."""

    id: str
    name: str
    created_at: float
    integrations: list[PagerDutyIntegration] = field(default_factory=list)


def service_id_of(name: str) -> str:
    """A demo service's id: ``P`` + 6 of ``0-9A-Z``, fixed by its name."""
    return _short_id("demo-service/" + name)


class PagerDutyState(TargetState):
    """PagerDuty's incidents and change events, the lifecycle that moves incidents, and
    the REST API's rate window.

    Incidents are kept in the order they were opened; per (routing_key, dedup_key),
    at most one is open (triggered or acknowledged), and it is the newest.
    """

    def __init__(self, lock: Any) -> None:
        super().__init__(lock)
        # The newest MAX_TARGET_RECORDS (target.Kept); the indexes forget what it drops.
        self._incidents: Kept[PagerDutyAlert] = Kept()
        self._opened = 0
        self._by_key: dict[tuple[str, str], list[PagerDutyAlert]] = {}
        self._by_id: dict[str, PagerDutyAlert] = {}
        self._changes: Kept[PagerDutyChangeEvent] = Kept()
        self._rest_window: dict[str, deque[float]] = {}
        self._services: dict[str, PagerDutyService] = {}
        self._service_of_key: dict[str, str] = {}

    def seed_services(self, names: tuple[str, ...], now: float) -> None:
        """The account's services (demo data), once: kept across requests until reset."""
        with self._lock:
            if self._services:
                return
            for name in names:
                ident = service_id_of(name)
                self._services[ident] = PagerDutyService(ident, name, now)

    def pagerduty_services(self) -> list[PagerDutyService]:
        """Every service, by name (PagerDuty's default ``sort_by``)."""
        with self._lock:
            return copy.deepcopy(sorted(self._services.values(), key=lambda s: s.name.lower()))

    def pagerduty_service(self, service_id: str) -> PagerDutyService | None:
        with self._lock:
            return copy.deepcopy(self._services.get(service_id))

    def service_of_key(self, routing_key: str) -> PagerDutyService | None:
        """The service an integration key belongs to (one made through the REST API)."""
        with self._lock:
            ident = self._service_of_key.get(routing_key)
            return copy.deepcopy(self._services.get(ident)) if ident else None

    def add_integration(
        self, service_id: str, name: str, kind: str, now: float
    ) -> PagerDutyIntegration | None:
        """A new integration on the service, with a new 32-character key (None: no
        such service)."""
        with self._lock:
            service = self._services.get(service_id)
            if service is None:
                return None
            number = sum(len(s.integrations) for s in self._services.values()) + 1
            if number > MAX_ADMIN_OBJECTS:
                raise AdminLimit("service integrations", MAX_ADMIN_OBJECTS)
            made = PagerDutyIntegration(
                _short_id(f"integration/{service_id}/{number}"),
                name,
                kind,
                secrets.token_hex(16),
                service_id,
                now,
            )
            service.integrations.append(made)
            self._service_of_key[made.integration_key] = service_id
            return copy.deepcopy(made)

    def pagerduty_alerts(self) -> list[PagerDutyAlert]:
        """Every incident, oldest first."""
        with self._lock:
            return copy.deepcopy(list(self._incidents))

    def pagerduty_alert(self, routing_key: str, dedup_key: str) -> PagerDutyAlert | None:
        """The newest incident for the key (the open one, when one is open)."""
        with self._lock:
            found = self._by_key.get((routing_key, dedup_key))
            return copy.deepcopy(found[-1]) if found else None

    def pagerduty_by_incident_key(self, incident_key: str) -> list[PagerDutyAlert]:
        """Every incident whose dedup_key is ``incident_key`` (the REST API's
        incident_key), on any service, oldest first."""
        with self._lock:
            return copy.deepcopy([a for a in self._incidents if a.dedup_key == incident_key])

    def pagerduty_incident(self, incident_id: str) -> PagerDutyAlert | None:
        """One incident by its id, or by its number (PagerDuty accepts either)."""
        with self._lock:
            found = self._by_id.get(incident_id)
            if found is None and incident_id.isdigit():
                index = int(incident_id) - self._incidents.dropped - 1  # numbers start at 1
                if 0 <= index < len(self._incidents):
                    found = self._incidents[index]
            return copy.deepcopy(found)

    def pagerduty_change_events(self) -> list[PagerDutyChangeEvent]:
        with self._lock:
            return copy.deepcopy(list(self._changes))

    def pagerduty_event(
        self,
        routing_key: str,
        action: str,
        dedup_key: str,
        payload: dict[str, Any] | None,
        now: float,
    ) -> str:
        """Apply one accepted Events API v2 event; return what happened, in words.

        A trigger deduplicates into the key's open incident; with none open (never
        seen, or every one resolved) it opens a new incident: "New trigger events with
        the same incident_key / dedup_key as a resolved incident won't re-open the
        incident. Instead, a new incident will be created" (PagerDuty, Events API v2).
        Acknowledge and resolve act on the open one, and do nothing without one.
        """
        with self._lock:
            found = self._by_key.get((routing_key, dedup_key))
            alert = found[-1] if found and found[-1].status != "resolved" else None
            payload = payload or {}
            if action == "trigger":
                if alert is None:
                    alert = self._open(routing_key, dedup_key, now)
                    note = (
                        f"incident {alert.id} triggered (a new incident: the earlier one "
                        "with this dedup_key is resolved)"
                        if found
                        else f"incident {alert.id} triggered"
                    )
                    alert.title = _str_or_none(payload.get("summary"))
                else:
                    note = f"deduplicated into the open incident {alert.id} ({alert.status})"
                alert.trigger_count += 1
                # The details follow the newest trigger; the incident's title stays the
                # first one's summary (a later trigger is appended to its log).
                alert.summary = _str_or_none(payload.get("summary"))
                alert.severity = _str_or_none(payload.get("severity"))
                alert.source = _str_or_none(payload.get("source"))
            else:
                if alert is None:
                    return f"no open incident for this dedup_key: {action} ignored (still 202)"
                if action == "acknowledge" and alert.status == "acknowledged":
                    note = f"incident {alert.id} already acknowledged"
                else:
                    alert.status = "acknowledged" if action == "acknowledge" else "resolved"
                    alert.last_status_change_at = now
                    if action == "acknowledge":
                        alert.acknowledged_at = now
                    else:
                        alert.resolved_at = now
                    note = f"incident {alert.id} {alert.status}"
            alert.event_count += 1
            alert.updated_at = now
            alert.actions.append(action)
            keep_last(alert.actions)
            return note

    def _open(self, routing_key: str, dedup_key: str, now: float) -> PagerDutyAlert:
        self._opened += 1
        number = self._opened
        alert = PagerDutyAlert(
            routing_key=routing_key,
            dedup_key=dedup_key,
            status="triggered",
            event_count=0,
            trigger_count=0,
            summary=None,
            severity=None,
            source=None,
            created_at=now,
            updated_at=now,
            id=incident_id_of(number),
            incident_number=number,
            last_status_change_at=now,
        )
        self._by_key.setdefault((routing_key, dedup_key), []).append(alert)
        self._by_id[alert.id] = alert
        for old in self._incidents.append(alert):
            same_key = self._by_key[(old.routing_key, old.dedup_key)]
            same_key.remove(old)
            if not same_key:
                del self._by_key[(old.routing_key, old.dedup_key)]
            self._by_id.pop(old.id, None)
        return alert

    def pagerduty_change(self, routing_key: str, summary: str | None, now: float) -> None:
        with self._lock:
            self._changes.append(PagerDutyChangeEvent(routing_key, summary, now))

    def rest_budget(self, bucket: str, limit: int, now: float) -> tuple[bool, int, int]:
        """Count one REST request of ``bucket`` against ``limit`` per sliding minute
        (``now``: monotonic seconds); return whether it is allowed, the requests left,
        and the seconds until the window frees one (PagerDuty's ``ratelimit-*``)."""
        with self._lock:
            window = self._rest_window.setdefault(bucket, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            allowed = len(window) < limit
            if allowed:
                window.append(now)
            reset = math.ceil(60.0 - (now - window[0])) if window else 60
            return allowed, max(limit - len(window), 0), max(reset, 1)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            services = [
                {
                    "id": s.id,
                    "name": s.name,
                    "integrations": [
                        {
                            "id": i.id,
                            "name": i.name,
                            "type": i.type,
                            "integration_key": mask_key(i.integration_key),
                        }
                        for i in s.integrations
                    ],
                }
                for s in self._services.values()
                if s.integrations
            ]
            return {
                "pagerduty": {
                    "alerts": [a.to_json() for a in self._incidents],
                    "change_events": [c.to_json() for c in self._changes],
                    "services_with_integrations": services,
                }
            }

    def reset(self) -> None:
        with self._lock:
            self._services.clear()
            self._service_of_key.clear()
            self._incidents.clear()
            self._opened = 0
            self._by_key.clear()
            self._by_id.clear()
            self._changes.clear()
            self._rest_window.clear()


#: Incident ids look like PagerDuty's (``P`` + 6 of ``0-9A-Z``): the incident number
#: mapped one-to-one (a multiplier prime to 36**6), so they never collide.
_ID_SPACE = 36**6
_ID_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def incident_id_of(number: int) -> str:
    """The id of the emulator's incident number ``number`` (``PT4KHLK``-like)."""
    value = (number * 1_640_531_527 + 0x5EED5) % _ID_SPACE
    digits = []
    for _ in range(6):
        value, digit = divmod(value, 36)
        digits.append(_ID_DIGITS[digit])
    return "P" + "".join(reversed(digits))


def _clock() -> float:
    """Now, in Unix seconds (one place, so a test can move the emulator's time)."""
    return time.time()


def iso_time(moment: float) -> str:
    """Unix seconds as PagerDuty writes times: ISO 8601 UTC, whole seconds, ``Z``."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        routing_key, action, dedup_key, payload, _clock()
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
        event["routing_key"], summary if isinstance(summary, str) else None, _clock()
    )
    oc.note = "change event recorded"
    return json_response({"status": "success", "message": "Change event processed"}, status=202)


# ----------------------------------------------------------------- REST API (read)
INCIDENTS_PATH = "/incidents"
INCIDENT_PATH = "/incidents/{id}"
#: PagerDuty's REST error answers (``{"error": {"message", "code", "errors"}}``).
UNAUTHORIZED = {"message": "Unauthorized", "code": 2006}
NOT_FOUND = {"message": "Not Found", "code": 2100}
#: A write with a read-only key [G: PagerDuty's wording of this 403].
FORBIDDEN = {"message": "Access Denied", "code": 2010}
READ_ONLY_ERROR = "This API key is read-only: creating or changing objects needs write access."
INVALID_INPUT = {"message": "Invalid Input Provided", "code": 2001}
RATE_LIMITED = {"message": "Rate Limit Exceeded", "code": 2020}
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
STATUSES = ("triggered", "acknowledged", "resolved")
URGENCIES = ("high", "low")
SORT_FIELDS = ("incident_number", "created_at", "resolved_at", "urgency")
INCLUDES = (
    "acknowledgers",
    "agents",
    "assignees",
    "conference_bridge",
    "custom_fields",
    "escalation_policies",
    "first_trigger_log_entries",
    "priorities",
    "services",
    "teams",
    "users",
)


def _rest_error(
    error: dict[str, Any],
    status: int,
    headers: dict[str, str] | None = None,
    errors: list[str] | None = None,
) -> Response:
    body = {**error, "errors": errors} if errors else dict(error)
    return json_response({"error": body}, status=status, headers=headers)


def _rest_begin(request: Request, write: bool = False) -> tuple[Response | None, dict[str, str]]:
    """Authenticate a REST request and count it against the REST rate limit: the
    answer to give instead (401, 403 for a write with the read-only key, 429), and the
    ``ratelimit-*`` headers for every answer when a limit is set (PagerDuty sends them;
    ``ratelimit-reset`` in seconds)."""
    oc = outcome(request)
    settings = settings_of(request, PagerDutySettings)
    header = request.headers.get("Authorization", "").strip()
    prefix = "token token="
    token = header[len(prefix) :] if header.lower().startswith(prefix) else None
    read_only = same_secret(token, settings.pagerduty_rest_readonly_key)
    if not read_only and not same_secret(token, settings.pagerduty_rest_api_key):
        oc.reject("not authenticated: missing or wrong 'Authorization: Token token=<key>'")
        return _rest_error(UNAUTHORIZED, 401), {}
    target_state(request, PagerDutyState).seed_services(settings.pagerduty_services, _clock())
    if write and read_only:
        oc.reject("forbidden: a read-only REST API key cannot write")
        return _rest_error(FORBIDDEN, 403, errors=[READ_ONLY_ERROR]), {}
    limit = settings.pagerduty_rest_rate_limit
    if limit is None:
        return None, {}
    allowed, remaining, reset = target_state(request, PagerDutyState).rest_budget(
        "rest-api-key", limit, time.monotonic()
    )
    headers = {
        "ratelimit-limit": str(limit),
        "ratelimit-remaining": str(remaining),
        "ratelimit-reset": str(reset),
    }
    if not allowed:
        oc.reject(f"rate limited: over {limit} REST requests per minute for this API key")
        return _rest_error(RATE_LIMITED, 429, headers), headers
    return None, headers


def _origin(request: Request) -> str:
    host = request.headers.get("Host") or "127.0.0.1"
    return f"http://{host}"


def _reference(kind: str, ident: str, summary: str, origin: str, paths: str) -> dict[str, Any]:
    """A ``<kind>_reference`` (``paths``: its API collection, then its web page)."""
    api, page = paths.split(" ")
    return {
        "id": ident,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": f"{origin}/{api}/{ident}",
        "html_url": f"{origin}/{page}/{ident}",
    }


def _short_id(seed: str) -> str:
    return "P" + hashlib.sha1(seed.encode()).hexdigest()[:6].upper()


def incident_service(
    alert: PagerDutyAlert, origin: str, service: PagerDutyService | None = None
) -> dict[str, Any]:
    """The service an incident is on: the one whose integration has the routing key,
    else one made up for the key (any 32 characters are accepted)."""
    if service is not None:
        return _reference("service", service.id, service.name, origin, SERVICE_PATHS)
    return _reference(
        "service",
        _short_id("service/" + alert.routing_key),
        f"Emulated service (routing key {mask_key(alert.routing_key)})",
        origin,
        SERVICE_PATHS,
    )


SERVICE_PATHS = "services service-directory"


def incident_json(
    alert: PagerDutyAlert, origin: str, service_of: PagerDutyService | None = None
) -> dict[str, Any]:
    """One incident as PagerDuty's REST API answers it (``Incident``, its references
    only: no ``include[]`` expands them). Fields PagerDuty sends as ``null`` whose
    schema admits no null (``priority``, ``resolve_reason``, ``alert_grouping``) are
    left out; ``resolved_at`` is ``null`` until resolved, as its description says."""
    service = incident_service(alert, origin, service_of)
    policy = _reference(
        "escalation_policy",
        _short_id("policy/" + alert.routing_key),
        "Default",
        origin,
        "escalation_policies escalation_policies",
    )
    title = alert.title or alert.summary or alert.dedup_key
    resolved = alert.status == "resolved"
    acknowledged = alert.status == "acknowledged" and alert.acknowledged_at is not None
    log_entry = "R" + hashlib.sha1(f"log/{alert.id}".encode()).hexdigest()[:13].upper()
    return {
        "id": alert.id,
        "type": "incident",
        "summary": f"[#{alert.incident_number}] {title}",
        "self": f"{origin}/incidents/{alert.id}",
        "html_url": f"{origin}/incidents/{alert.id}",
        "incident_number": alert.incident_number,
        "title": title,
        "created_at": iso_time(alert.created_at),
        "updated_at": iso_time(alert.updated_at),
        "status": alert.status,
        "incident_key": alert.dedup_key,
        "service": service,
        "assignments": [],
        "assigned_via": "escalation_policy",
        "last_status_change_at": iso_time(alert.last_status_change_at),
        "resolved_at": iso_time(alert.resolved_at) if alert.resolved_at is not None else None,
        "first_trigger_log_entry": {
            "id": log_entry,
            "type": "trigger_log_entry_reference",
            "summary": "Triggered through the API",
            "self": f"{origin}/log_entries/{log_entry}?incident_id={alert.id}",
            "html_url": f"{origin}/incidents/{alert.id}/log_entries/{log_entry}",
        },
        "alert_counts": {
            "all": 1,
            "triggered": 0 if resolved else 1,
            "resolved": 1 if resolved else 0,
        },
        "is_mergeable": True,
        "incident_type": {"name": "incident_default"},
        "escalation_policy": policy,
        "teams": [],
        "pending_actions": [],
        "acknowledgements": (
            [{"at": iso_time(alert.acknowledged_at or alert.updated_at), "acknowledger": service}]
            if acknowledged
            else []
        ),
        "last_status_change_by": service,
        "urgency": "high" if alert.severity in ("critical", "error") else "low",
    }


def _list_params(request: Request) -> tuple[dict[str, Any], list[str]]:
    """The ``GET /incidents`` query, checked as PagerDuty's REST description types it."""
    query = request.query
    errors: list[str] = []
    out: dict[str, Any] = {}
    for name, default in (("limit", DEFAULT_LIMIT), ("offset", 0)):
        text = query.get(name)
        if text is None or text == "":
            out[name] = default
        elif text.isdigit():
            out[name] = int(text)
        else:
            errors.append(f"{name} must be a non-negative integer, got {text!r}")
    out["limit"] = min(out.get("limit", DEFAULT_LIMIT), MAX_LIMIT)
    total = query.get("total", "false")
    if total not in ("true", "false"):
        errors.append(f"total must be true or false, got {total!r}")
    out["total"] = total == "true"
    date_range = query.get("date_range")
    if date_range not in (None, "all"):
        errors.append(f"date_range must be 'all', got {date_range!r}")
    for name, allowed in (
        ("statuses[]", STATUSES),
        ("urgencies[]", URGENCIES),
        ("include[]", tuple(i for i in INCLUDES if i != "custom_fields")),  # one only
    ):
        values = query.getall(name, [])
        errors.extend(
            f"{name}: {v!r} is not one of {list(allowed)}" for v in values if v not in allowed
        )
        out[name] = set(values)
    sort: list[tuple[str, bool]] = []
    for part in [p for p in ",".join(query.getall("sort_by", [])).split(",") if p]:
        name, _, direction = part.partition(":")
        if name not in SORT_FIELDS or direction not in ("", "asc", "desc"):
            errors.append(f"sort_by: {part!r} is not <{'|'.join(SORT_FIELDS)}>[:asc|desc]")
        else:
            sort.append((name, direction == "desc"))
    if len(sort) > 2:
        errors.append("sort_by: at most two fields")
    out["sort_by"] = sort
    out["service_ids[]"] = set(query.getall("service_ids[]", []))
    out["assigned"] = bool(query.getall("user_ids[]", []) or query.getall("team_ids[]", []))
    return out, errors


def _sort_key(alert: PagerDutyAlert, *, name: str) -> float:
    if name == "urgency":
        return 0.0 if alert.severity in ("critical", "error") else 1.0
    if name == "resolved_at":
        return alert.resolved_at if alert.resolved_at is not None else math.inf
    return alert.created_at if name == "created_at" else float(alert.incident_number)


def handle_list_incidents(request: Request) -> Response:
    """``GET /incidents`` of PagerDuty's REST API (read-back lists by ``incident_key``),
    with ``Authorization: Token token=<REST API key>``: one page of incidents, oldest
    first unless ``sort_by`` says otherwise, in the ``limit``/``offset``/``more``/
    ``total`` wrapper."""
    oc = outcome(request)
    refused, headers = _rest_begin(request)
    if refused is not None:
        return refused
    params, errors = _list_params(request)
    if errors:
        oc.reject(*errors)
        return _rest_error(INVALID_INPUT, 400, headers, errors)
    key = request.query.get("incident_key")
    state = target_state(request, PagerDutyState)
    found = state.pagerduty_by_incident_key(key) if key else state.pagerduty_alerts()
    origin = _origin(request)
    if params["statuses[]"]:
        found = [a for a in found if a.status in params["statuses[]"]]
    if params["urgencies[]"]:
        found = [a for a in found if incident_json(a, origin)["urgency"] in params["urgencies[]"]]
    if params["service_ids[]"]:
        found = [
            a
            for a in found
            if incident_service(a, origin, state.service_of_key(a.routing_key))["id"]
            in params["service_ids[]"]
        ]
    if params["assigned"]:
        found = []  # no emulated incident is assigned to a user or a team
    for name, descending in reversed(params["sort_by"]):  # stable: the first field wins
        found.sort(key=functools.partial(_sort_key, name=name), reverse=descending)
    limit, offset = params["limit"], params["offset"]
    page = found[offset : offset + limit] if limit else []
    oc.key, oc.note = key, f"{len(page)} of {len(found)} incident(s)"
    body = {
        "incidents": [incident_json(a, origin, state.service_of_key(a.routing_key)) for a in page],
        "limit": limit,
        "offset": offset,
        "more": offset + len(page) < len(found),
        "total": len(found) if params["total"] else None,
    }
    return json_response(body, headers=headers)


def handle_get_incident(request: Request) -> Response:
    """``GET /incidents/{id}`` of PagerDuty's REST API: one incident, by id or number,
    in the ``incident`` envelope; 404 in PagerDuty's error shape when there is none."""
    oc = outcome(request)
    refused, headers = _rest_begin(request)
    if refused is not None:
        return refused
    wanted = request.match_info["id"]
    oc.key = wanted
    includes = request.query.getall("include[]", [])
    errors = [
        f"include[]: {v!r} is not one of {list(INCLUDES)}" for v in includes if v not in INCLUDES
    ]
    if errors:
        oc.reject(*errors)
        return _rest_error(INVALID_INPUT, 400, headers, errors)
    state = target_state(request, PagerDutyState)
    alert = state.pagerduty_incident(wanted)
    if alert is None:
        oc.reject(f"no incident {wanted}")
        return _rest_error(NOT_FOUND, 404, headers)
    oc.note = f"incident {alert.id} ({alert.status})"
    service = state.service_of_key(alert.routing_key)
    return json_response(
        {"incident": incident_json(alert, _origin(request), service)}, headers=headers
    )


# ---------------------------------------------------------- REST API (services)
SERVICES_PATH = "/services"
SERVICE_PATH = "/services/{id}"
SERVICE_INTEGRATIONS_PATH = "/services/{id}/integrations"
SERVICE_INTEGRATION_PATH = "/services/{id}/integrations/{integration_id}"
SERVICE_INCLUDES = (
    "escalation_policies",
    "teams",
    "integrations",
    "auto_pause_notifications_parameters",
)
INTEGRATION_INCLUDES = ("services", "vendors")
SERVICE_SORTS = ("name", "name:asc", "name:desc")
#: The integration types PagerDuty's description lists for `Integration.type`.
INTEGRATION_TYPES = (
    "aws_cloudwatch_inbound_integration",
    "cloudkick_inbound_integration",
    "event_transformer_api_inbound_integration",
    "generic_email_inbound_integration",
    "generic_events_api_inbound_integration",
    "keynote_inbound_integration",
    "nagios_inbound_integration",
    "pingdom_inbound_integration",
    "sql_monitor_inbound_integration",
    "events_api_v2_inbound_integration",
)


def integration_json(
    made: PagerDutyIntegration, service: PagerDutyService, origin: str, full: bool = True
) -> dict[str, Any]:
    """An integration as PagerDuty answers it: the full `Integration` (with its
    `integration_key`, as PagerDuty sends for Events API integrations [S: clients such as
    go-pagerduty read it; the description does not list it]), or its reference."""
    reference = {
        "id": made.id,
        "type": made.type + ("" if full else "_reference"),
        "summary": made.name,
        "self": f"{origin}/services/{service.id}/integrations/{made.id}",
        "html_url": f"{origin}/services/{service.id}/integrations/{made.id}",
    }
    if not full:
        return reference
    return {
        **reference,
        "name": made.name,
        "service": _reference("service", service.id, service.name, origin, SERVICE_PATHS),
        "created_at": iso_time(made.created_at),
        "integration_key": made.integration_key,
    }


def service_json(service: PagerDutyService, origin: str, includes: set[str]) -> dict[str, Any]:
    """A service as PagerDuty answers it (`Service`): its integrations as references,
    or in full with ``include[]=integrations`` (as the description's text says)."""
    full = "integrations" in includes
    return {
        "id": service.id,
        "type": "service",
        "summary": service.name,
        "self": f"{origin}/services/{service.id}",
        "html_url": f"{origin}/service-directory/{service.id}",
        "name": service.name,
        "description": f"{service.name} (emulated)",
        "auto_resolve_timeout": 14400,
        "acknowledgement_timeout": 1800,
        "created_at": iso_time(service.created_at),
        "status": "active",
        "escalation_policy": _reference(
            "escalation_policy",
            _short_id("policy/" + service.id),
            "Default",
            origin,
            "escalation_policies escalation_policies",
        ),
        "teams": [],
        "integrations": [integration_json(i, service, origin, full) for i in service.integrations],
        "incident_urgency_rule": {"type": "constant", "urgency": "high"},
        "scheduled_actions": [],
        "addons": [],
        "alert_creation": "create_alerts_and_incidents",
    }


def _includes(request: Request, allowed: tuple[str, ...]) -> tuple[set[str], list[str]]:
    values = request.query.getall("include[]", [])
    errors = [f"include[]: {v!r} is not one of {list(allowed)}" for v in values if v not in allowed]
    return set(values), errors


def handle_list_services(request: Request) -> Response:
    """``GET /services``: one page of services by name (``limit``, at most 100,
    ``offset``, ``more``, ``total``), ``query`` filtering on the name (a part of it,
    case-insensitive [G]) and ``name`` on the whole name."""
    oc = outcome(request)
    refused, headers = _rest_begin(request)
    if refused is not None:
        return refused
    includes, errors = _includes(request, SERVICE_INCLUDES)
    params: dict[str, int] = {}
    for name, default in (("limit", DEFAULT_LIMIT), ("offset", 0)):
        text = request.query.get(name) or str(default)
        if text.isdigit():
            params[name] = int(text)
        else:
            errors.append(f"{name} must be a non-negative integer, got {text!r}")
    total = request.query.get("total", "false")
    if total not in ("true", "false"):
        errors.append(f"total must be true or false, got {total!r}")
    sort = request.query.get("sort_by", "name")
    if sort not in SERVICE_SORTS:
        errors.append(f"sort_by must be one of {list(SERVICE_SORTS)}, got {sort!r}")
    if errors:
        oc.reject(*errors)
        return _rest_error(INVALID_INPUT, 400, headers, errors)
    found = target_state(request, PagerDutyState).pagerduty_services()
    query = (request.query.get("query") or "").casefold()
    exact = request.query.get("name")
    found = [s for s in found if query in s.name.casefold()]
    if exact is not None:
        found = [s for s in found if s.name == exact]
    if sort == "name:desc":
        found.reverse()
    limit, offset = min(params["limit"], MAX_LIMIT), params["offset"]
    page = found[offset : offset + limit] if limit else []
    origin = _origin(request)
    oc.note = f"{len(page)} of {len(found)} service(s)"
    body = {
        "services": [service_json(s, origin, includes) for s in page],
        "limit": limit,
        "offset": offset,
        "more": offset + len(page) < len(found),
        "total": len(found) if total == "true" else None,
    }
    return json_response(body, headers=headers)


def handle_get_service(request: Request) -> Response:
    """``GET /services/{id}``: the ``service`` envelope; 404 in PagerDuty's shape."""
    oc = outcome(request)
    refused, headers = _rest_begin(request)
    if refused is not None:
        return refused
    includes, errors = _includes(request, SERVICE_INCLUDES)
    if errors:
        oc.reject(*errors)
        return _rest_error(INVALID_INPUT, 400, headers, errors)
    service = target_state(request, PagerDutyState).pagerduty_service(request.match_info["id"])
    oc.key = request.match_info["id"]
    if service is None:
        oc.reject(f"no service {oc.key}")
        return _rest_error(NOT_FOUND, 404, headers)
    oc.note = f"service {service.name} ({len(service.integrations)} integration(s))"
    return json_response(
        {"service": service_json(service, _origin(request), includes)}, headers=headers
    )


def _new_integration(body: Any, service_id: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The ``integration`` of a create request, checked as the description types it."""
    integration = body.get("integration") if isinstance(body, dict) else None
    if not isinstance(integration, dict):
        return None, ["integration: is required (an object)"]
    errors = []
    if integration.get("type") not in INTEGRATION_TYPES:
        errors.append(f"integration.type: must be one of {list(INTEGRATION_TYPES)}")
    name = integration.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        errors.append("integration.name: must be a non-blank string")
    service = integration.get("service")
    if service is not None and (not isinstance(service, dict) or service.get("id") != service_id):
        errors.append("integration.service.id: must be the service in the path")
    return integration, errors


def handle_create_integration(request: Request) -> Response:
    """``POST /services/{id}/integrations``: 201 with the new ``integration`` (and its
    ``integration_key``: events sent with it reach this service); 400 for a body the
    description refuses, 403 for the read-only key, 404 for no such service."""
    oc = outcome(request)
    refused, headers = _rest_begin(request, write=True)
    if refused is not None:
        return refused
    service_id = request.match_info["id"]
    oc.key = service_id
    try:
        body = read_json(request)
    except BodyError as exc:
        oc.reject(str(exc))
        return _rest_error(INVALID_INPUT, 400, headers, [str(exc)])
    wanted, errors = _new_integration(body, service_id)
    if errors or wanted is None:
        oc.reject(*errors)
        return _rest_error(INVALID_INPUT, 400, headers, errors)
    state = target_state(request, PagerDutyState)
    kind = str(wanted["type"])
    name = str(wanted.get("name") or kind)
    try:
        made = state.add_integration(service_id, name, kind, _clock())
    except AdminLimit as exc:
        oc.reject(str(exc))
        return _rest_error(INVALID_INPUT, 400, headers, [str(exc)])
    service = state.pagerduty_service(service_id)
    if made is None or service is None:
        oc.reject(f"no service {service_id}")
        return _rest_error(NOT_FOUND, 404, headers)
    oc.action, oc.note = "create", f"integration {made.id} {name!r} on service {service.name}"
    answer = {"integration": integration_json(made, service, _origin(request))}
    return json_response(answer, status=201, headers=headers)


def handle_get_integration(request: Request) -> Response:
    """``GET /services/{id}/integrations/{integration_id}``: the ``integration``."""
    oc = outcome(request)
    refused, headers = _rest_begin(request)
    if refused is not None:
        return refused
    _includes_given, errors = _includes(request, INTEGRATION_INCLUDES)
    if errors:
        oc.reject(*errors)
        return _rest_error(INVALID_INPUT, 400, headers, errors)
    service = target_state(request, PagerDutyState).pagerduty_service(request.match_info["id"])
    wanted = request.match_info["integration_id"]
    oc.key = wanted
    found = [i for i in (service.integrations if service else []) if i.id == wanted]
    if service is None or not found:
        oc.reject(f"no integration {wanted} on service {request.match_info['id']}")
        return _rest_error(NOT_FOUND, 404, headers)
    oc.note = f"integration {wanted} on service {service.name}"
    return json_response(
        {"integration": integration_json(found[0], service, _origin(request))}, headers=headers
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
    made = [
        f"PagerDuty: integration {i.get('name')!r} ({i.get('id')}) on service {s.get('name')}"
        for s in snapshot["pagerduty"].get("services_with_integrations", [])
        for i in s.get("integrations", [])
    ]
    return made + [
        f"PagerDuty: alert {alert.get('dedup_key')} (incident {alert.get('id')}) is "
        f"{alert.get('status')} after {alert.get('event_count')} event(s)"
        for alert in snapshot["pagerduty"]["alerts"]
    ]


TARGET = Target(
    name="pagerduty",
    order=20,
    routes=(
        Route("POST", ENQUEUE_PATH, "pagerduty_events", handle_enqueue),
        Route("POST", CHANGE_PATH, "pagerduty_change_events", handle_change_enqueue),
        Route("GET", INCIDENTS_PATH, "pagerduty_incidents", handle_list_incidents),
        Route("GET", INCIDENT_PATH, "pagerduty_incident", handle_get_incident),
        Route("GET", SERVICES_PATH, "pagerduty_services", handle_list_services),
        Route("GET", SERVICE_PATH, "pagerduty_service", handle_get_service),
        Route(
            "POST",
            SERVICE_INTEGRATIONS_PATH,
            "pagerduty_create_integration",
            handle_create_integration,
        ),
        Route("GET", SERVICE_INTEGRATION_PATH, "pagerduty_integration", handle_get_integration),
    ),
    path_prefixes=(ENQUEUE_PATH, "/v2/change/", INCIDENTS_PATH, SERVICES_PATH),
    settings=PagerDutySettings,
    state=PagerDutyState,
    urls=_urls,
    install_values=_install_values,
    credentials=lambda settings: (
        f"PagerDuty: any 32-character routing key; REST API key {settings.pagerduty_rest_api_key} "
        f"(read-only: {settings.pagerduty_rest_readonly_key}); services: "
        + ", ".join(settings.pagerduty_services)
    ),
    summary=_summary,
    readback_values=lambda settings: {
        "pagerduty": {"readback_api_key": settings.pagerduty_rest_api_key}
    },
)
