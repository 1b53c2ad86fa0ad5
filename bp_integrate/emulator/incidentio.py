"""The emulated incident.io: the BigPanda alert source and the alerts API.

This module owns the two routes and this target's settings, state and ``TARGET``:

* ``POST /v2/alert_events/{big_panda|bigpanda}/{source_id}``, the callback
  BigPanda's Notifications Webhook posts to. The source type ``big_panda`` is
  incident.io's own name (its SDK's ``AlertSourceV2SourceType``, its Terraform
  docs); ``bigpanda`` is accepted too. The secret is taken as incident.io takes
  it (its SDK, ``alert_events_v2 create_http``: "either Basic or Bearer
  authorization with the secret", or the ``token`` query parameter). Both body
  shapes (``{"incident": {...}, ...}`` or a bare incident object); the alert is
  keyed on ``incident.id``: firing while the incident is active and not ``ok``,
  resolved on ``incident#closed`` / ``active: false`` / ``status: ok``. When it
  opens again it re-fires the same alert (incident.io's BigPanda page: "updates,
  closes, and re-opens all match back to the same incident.io alert"), or, with
  ``incidentio_refire="new"``, a new alert with the same deduplication key
  (incident.io's deduplication page: a new event deduplicates only "while alert A
  is still active"). The answer is the SDK's ``AlertEventsCreateHTTPResultV2``;
  past ``incidentio_rate_limit`` events a minute per source (incident.io: 120),
  429.
* ``GET /v2/alerts`` (read-back), as the API reference and the SDK's
  ``alerts_v2_list`` describe it: Bearer API key, ``page_size`` required (1 to
  50), ``after`` cursor, ``deduplication_key[is]`` and ``status[one_of]`` /
  ``status[not_in]`` filters, answered as ``AlertsListResultV2`` (``alerts`` of
  ``AlertV2``: ``id, alert_source_id, attributes, created_at, deduplication_key,
  status, title, updated_at``, and ``resolved_at`` once resolved;
  ``pagination_meta``), newest first.

Every error answer has the shape the SDK parses (``ErrorResponse``: ``type``,
``status``, ``request_id``, ``errors`` of ``{code, message, source: {field,
pointer}}``); tests/test_emulator_incidentio_sdk.py parses every answer of every
route with the SDK's own models.
"""

from __future__ import annotations

import copy
import os
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bp_integrate.bigpanda.webhook import event_of, incident_of

from .context import (
    BodyError,
    basic_credentials,
    bearer_token,
    config_of,
    json_response,
    outcome,
    read_json,
    same_secret,
    settings_of,
    state_of,
    target_state,
)
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

CLOSED_EVENT = "incident#closed"
#: Id of the emulated incident.io BigPanda alert source (a ULID, as incident.io uses).
INCIDENTIO_SOURCE_ID = "01J0BPDEM0S0VRCE0000000000"
#: Source types accepted in the path; the first is incident.io's own spelling.
SOURCE_TYPES = ("big_panda", "bigpanda")
#: The source type in the URLs this emulator hands out (what bp-integrate checks today).
URL_SOURCE_TYPE = "bigpanda"
EVENT_PATH = "/v2/alert_events/{source_type}/{source_id}"
ALERTS_PATH = "/v2/alerts"
SOURCES_PATH = "/v2/alert_sources"
SOURCE_PATH = "/v2/alert_sources/{id}"
DEMO_SOURCE_NAME = "BigPanda (demo)"
#: Source types the emulated API creates (the SDK's AlertSourcesCreatePayloadV2SourceType
#: has many more: only these receive events here).
CREATABLE_TYPES = ("big_panda", "http")
#: ``page_size`` of ``GET /v2/alerts``: required, 1 to 50 (the API reference).
PAGE_SIZE_RANGE = (1, 50)
#: What a firing event does to a resolved alert with the same deduplication key.
REFIRE_MODES = ("same", "new")
ALERT_STATUSES = ("firing", "resolved")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class IncidentIoSettings(TargetSettings):
    """The alert source and API key the emulated incident.io knows (demo values).

    ``incidentio_refire``: ``same`` (a re-opened BigPanda incident re-fires the same
    alert, as incident.io's BigPanda page says) or ``new`` (a new alert with the same
    deduplication key, as its generic deduplication page reads: use it to have a
    stale resolved alert beside a newer firing one). ``incidentio_rate_limit``:
    accepted events per minute per alert source (``None``: the emulator-wide
    ``rate_limit``, off by default; incident.io: 120). ``incidentio_api_rate_limit``:
    read requests per minute per API key (``None``: off; incident.io: 1,200).
    """

    incidentio_secret: str = "demo-incidentio-secret"
    incidentio_source_id: str = INCIDENTIO_SOURCE_ID
    #: The API key read-back uses (``GET /v2/alerts``, Bearer); it may also create and
    #: delete alert sources.
    incidentio_api_key: str = "demo-incidentio-api-key"
    #: A key that may only view: alert sources listed, not created or deleted (403).
    incidentio_viewer_api_key: str = "demo-incidentio-viewer-key"
    incidentio_refire: str = "same"
    incidentio_rate_limit: int | None = None
    incidentio_api_rate_limit: int | None = None

    def __post_init__(self) -> None:
        if not self.incidentio_secret:
            raise ValueError("incidentio_secret may not be empty")
        if self.incidentio_refire not in REFIRE_MODES:
            raise ValueError(f"incidentio_refire must be one of {', '.join(REFIRE_MODES)}")
        for name in ("incidentio_rate_limit", "incidentio_api_rate_limit"):
            limit = getattr(self, name)
            if limit is not None and limit < 1:
                raise ValueError(f"{name} must be at least 1 (or None for no limit)")

    def secrets(self) -> tuple[str, ...]:
        return (self.incidentio_secret, self.incidentio_api_key, self.incidentio_viewer_api_key)


def new_ulid(now: float) -> str:
    """A ULID (26 Crockford base32 characters: 48 bits of milliseconds, 80 random),
    the shape of incident.io's ids; they sort by creation time."""
    value = (int(now * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def iso(moment: float) -> str:
    """RFC 3339 with microseconds and ``Z``, as incident.io writes times."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class IncidentIoAlert:
    """An incident.io alert from the BigPanda source, keyed on the BigPanda incident id.

    ``status`` is ``firing`` or ``resolved``; ``fired_count`` counts how many times
    it (re-)fired, ``event_count`` every webhook received for it. ``first_at``
    (its ``created_at``), ``updated_at`` and ``resolved_at`` are Unix seconds.
    """

    deduplication_key: str
    status: str
    fired_count: int
    event_count: int
    last_event_type: str | None
    first_at: float
    updated_at: float
    history: list[dict[str, Any]] = field(default_factory=list)
    id: str = ""
    title: str = ""
    alert_source_id: str = INCIDENTIO_SOURCE_ID
    resolved_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "deduplication_key": self.deduplication_key,
            "status": self.status,
            "title": self.title,
            "fired_count": self.fired_count,
            "event_count": self.event_count,
            "last_event_type": self.last_event_type,
            "first_at": self.first_at,
            "updated_at": self.updated_at,
            "resolved_at": self.resolved_at,
            "history": [dict(h) for h in self.history],
        }

    def to_api(self) -> dict[str, Any]:
        """The alert as ``GET /v2/alerts`` lists it (the SDK's ``AlertV2``)."""
        api: dict[str, Any] = {
            "id": self.id,
            "alert_source_id": self.alert_source_id,
            "attributes": [],
            "created_at": iso(self.first_at),
            "deduplication_key": self.deduplication_key,
            "status": self.status,
            "title": self.title,
            "updated_at": iso(self.updated_at),
        }
        if self.resolved_at is not None:
            api["resolved_at"] = iso(self.resolved_at)
        return api


@dataclass
class IncidentIoSource:
    """An alert source: its id (in its events URL), name, type, secret and template."""

    id: str
    name: str
    source_type: str
    secret_token: str
    template: dict[str, Any]
    created_at: float

    def to_api(self, origin: str) -> dict[str, Any]:
        """The source as the API answers it (the SDK's ``AlertSourceV2``)."""
        return {
            "id": self.id,
            "name": self.name,
            "source_type": self.source_type,
            "template": copy.deepcopy(self.template),
            "alert_events_url": f"{origin}/v2/alert_events/{self.source_type}/{self.id}",
            "secret_token": self.secret_token,
        }


class IncidentIoState(TargetState):
    """incident.io alerts, oldest first; several may share a deduplication key
    (``incidentio_refire="new"``), the newest being the one events apply to; and the
    alert sources (the demo BigPanda source, and those made through the API)."""

    def __init__(self, lock: Any) -> None:
        super().__init__(lock)
        self._alerts: Kept[IncidentIoAlert] = Kept()  # the newest (target.Kept)
        self._sources: dict[str, IncidentIoSource] = {}
        self._seeded = False

    def seed_source(self, settings: IncidentIoSettings, now: float) -> None:
        """The demo BigPanda source, once (until reset)."""
        with self._lock:
            if self._seeded:
                return
            self._seeded = True
            self._sources[settings.incidentio_source_id] = IncidentIoSource(
                settings.incidentio_source_id,
                DEMO_SOURCE_NAME,
                "big_panda",
                settings.incidentio_secret,
                default_template(),
                now,
            )

    def sources(self) -> list[IncidentIoSource]:
        with self._lock:
            return copy.deepcopy(list(self._sources.values()))

    def source(self, source_id: str) -> IncidentIoSource | None:
        with self._lock:
            return copy.deepcopy(self._sources.get(source_id))

    def add_source(
        self, name: str, source_type: str, template: dict[str, Any], now: float
    ) -> IncidentIoSource:
        with self._lock:
            if len(self._sources) >= MAX_ADMIN_OBJECTS:
                raise AdminLimit("alert sources", MAX_ADMIN_OBJECTS)
            made = IncidentIoSource(
                new_ulid(now), name, source_type, secrets.token_urlsafe(24), template, now
            )
            self._sources[made.id] = made
            return copy.deepcopy(made)

    def delete_source(self, source_id: str) -> bool:
        with self._lock:
            return self._sources.pop(source_id, None) is not None

    def incidentio_alerts(self) -> list[IncidentIoAlert]:
        with self._lock:
            return copy.deepcopy(list(self._alerts))

    def _current(self, deduplication_key: str) -> IncidentIoAlert | None:
        for alert in reversed(self._alerts):
            if alert.deduplication_key == deduplication_key:
                return alert
        return None

    def incidentio_alert(self, deduplication_key: str) -> IncidentIoAlert | None:
        """The newest alert with this deduplication key."""
        with self._lock:
            return copy.deepcopy(self._current(deduplication_key))

    def incidentio_event(
        self,
        incident_id: str,
        event_type: str | None,
        firing: bool,
        now: float,
        title: str = "",
        source_id: str = INCIDENTIO_SOURCE_ID,
        refire: str = "same",
    ) -> tuple[str, str]:
        """Apply one BigPanda webhook to the alert keyed on ``incident_id``.

        Returns the alert's deduplication key and what happened, in words.
        """
        with self._lock:
            alert = self._current(incident_id)
            renewed = alert is not None and firing and alert.status == "resolved"
            if alert is None or (renewed and refire == "new"):
                alert = IncidentIoAlert(
                    incident_id,
                    "resolved",
                    0,
                    0,
                    None,
                    now,
                    now,
                    id=new_ulid(now),
                    title=title or f"BigPanda incident {incident_id}",
                    alert_source_id=source_id,
                )
                self._alerts.append(alert)
                if firing:
                    alert.status, alert.fired_count = "firing", 1
                    note = "new alert fired" if renewed else "alert fired"
                else:
                    alert.resolved_at = now
                    note = "alert created already resolved (first event closes the incident)"
            elif renewed:
                alert.status, alert.resolved_at = "firing", None
                alert.fired_count += 1
                note = f"alert re-fired (fired {alert.fired_count} times)"
            elif firing:
                note = "alert updated (still firing)"
            elif alert.status == "firing":
                alert.status, alert.resolved_at = "resolved", now
                note = "alert resolved"
            else:
                note = "alert already resolved"
            alert.event_count += 1
            alert.last_event_type = event_type
            alert.updated_at = now
            alert.history.append({"event_type": event_type, "status": alert.status, "at": now})
            keep_last(alert.history)
            return alert.deduplication_key, note

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            sources = [
                {"id": s.id, "name": s.name, "source_type": s.source_type}
                for s in self._sources.values()
            ]
            return {
                "incidentio": {
                    "alerts": [a.to_json() for a in self._alerts],
                    "alert_sources": sources,
                }
            }

    def reset(self) -> None:
        with self._lock:
            self._alerts.clear()
            self._sources.clear()
            self._seeded = False


def error_body(
    status: int, kind: str, code: str, message: str, field: str | None = None
) -> dict[str, Any]:
    """An error answer as incident.io's SDK parses it (``ErrorResponse.from_dict``)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["source"] = {"field": field, "pointer": "/" + field.replace(".", "/")}
    return {"type": kind, "status": status, "request_id": str(uuid.uuid4()), "errors": [error]}


def _error(status: int, kind: str, code: str, message: str, field: str | None = None) -> Response:
    return json_response(error_body(status, kind, code, message, field), status=status)


def _throttled(
    request: Request, bucket: str, limit: int | None, name: str, retry_header: bool = False
) -> Response | None:
    """429 in incident.io's shape once ``bucket`` had ``limit`` requests this minute
    (``name``, the limit's name in the answer, never holds a secret)."""
    if limit is None:
        return None
    shared, now = state_of(request), time.monotonic()
    if shared.throttled(bucket, limit, now):
        outcome(request).reject(f"throttled: over {limit} a minute")
        body = error_body(
            429,
            "rate_limit_reached",
            "rate_limit_reached",
            f"Rate limit reached: {limit} requests a minute.",
        )
        retry_at = iso(time.time() + 60)
        body["rate_limit"] = {"name": name, "limit": limit, "remaining": 0, "retry_after": retry_at}
        # Retry-After on the API's 429 [G: incident.io documents the 429, not its headers].
        headers = {"Retry-After": "60"} if retry_header else None
        return json_response(body, status=429, headers=headers)
    shared.count_event(bucket, now)
    return None


def presented_secret(request: Request) -> str | None:
    """The secret as incident.io takes it: Bearer, Basic password, or ``?token=``."""
    token = bearer_token(request)
    if token is not None:
        return token
    scheme = request.headers.get("Authorization", "").strip().partition(" ")[0]
    if scheme.lower() == "basic":
        credentials = basic_credentials(request)
        return credentials[1] if credentials is not None else None
    return request.query.get("token")


def is_firing(event_type: str | None, incident: dict[str, Any]) -> bool:
    """Whether a BigPanda incident, as posted, means a firing alert."""
    if event_type == CLOSED_EVENT:
        return False
    if incident.get("active") is False:
        return False
    status = incident.get("status")
    return not (isinstance(status, str) and status.lower() == "ok")


def alert_title(incident: dict[str, Any], incident_id: str) -> str:
    """The alert's title [G]: incident.io does not say how its BigPanda source titles
    an alert; the first BigPanda alert's description, else its primary and secondary
    properties, else the incident id."""
    alerts = incident.get("alerts")
    first = alerts[0] if isinstance(alerts, list) and alerts else None
    if isinstance(first, dict):
        description = first.get("description")
        if isinstance(description, str) and description.strip():
            return description.strip()[:255]
        # BigPanda names the property (``"primary_property": "host"``); the value is
        # under that name, or in a tag of that name.
        parts = [_property(first, first.get(name)) for name in PROPERTY_NAMES]
        named = " / ".join(p for p in parts if p)
        if named:
            return named[:255]
    return f"BigPanda incident {incident_id}"


PROPERTY_NAMES = ("primary_property", "secondary_property")


def _property(alert: dict[str, Any], name: Any) -> str:
    if not isinstance(name, str) or not name:
        return ""
    value = alert.get(name)
    if value is None and isinstance(alert.get("tags"), list):
        for tag in alert["tags"]:
            if isinstance(tag, dict) and tag.get("name") == name:
                value = tag.get("value")
    return str(value) if isinstance(value, str | int | float) and str(value) else ""


def handle_alert_event(request: Request) -> Response:
    """``POST /v2/alert_events/{big_panda|bigpanda}/{source_id}``."""
    oc = outcome(request)
    settings = settings_of(request, IncidentIoSettings)
    source_type = request.match_info["source_type"]
    if source_type not in SOURCE_TYPES:
        oc.reject(f"no alert source type {source_type!r} here (BigPanda's is 'big_panda')")
        return _error(
            404, "not_found", "not_found", f"No alert source of type {source_type} is configured."
        )
    source_id = request.match_info["source_id"]
    state = target_state(request, IncidentIoState)
    state.seed_source(settings, time.time())
    source = state.source(source_id)
    expected = source.secret_token if source is not None else settings.incidentio_secret
    if not same_secret(presented_secret(request), expected):
        oc.reject(
            "not authenticated: missing or wrong secret (send 'Authorization: Bearer "
            "<secret>', Basic with the secret as password, or ?token=<secret>)"
        )
        return _error(
            401,
            "authentication_error",
            "authentication_required",
            "Missing or invalid alert source secret: send 'Authorization: Bearer <secret>'.",
        )
    if source is None:
        oc.reject(f"no alert source with id {source_id}")
        return _error(404, "not_found", "not_found", f"No alert source with id {source_id}.")
    limit = settings.incidentio_rate_limit
    throttled = _throttled(
        request,
        f"incidentio:{source_id}",
        limit if limit is not None else config_of(request).rate_limit,
        "alert_source_events",
    )
    if throttled is not None:
        return throttled
    try:
        body = read_json(request)
    except BodyError as exc:
        oc.reject(str(exc))
        return _error(400, "invalid_request_error", "invalid_json", str(exc))
    if not isinstance(body, dict):
        oc.reject("request body must be a JSON object")
        return _error(
            400, "invalid_request_error", "invalid_json", "Request body must be a JSON object."
        )
    incident = incident_of(body)
    event_type = event_of(body)
    oc.action = event_type
    raw_id = incident.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or str(raw_id).strip() == "":
        oc.reject("incident.id is missing: incident.io keys alerts on it")
        return _error(
            422,
            "validation_error",
            "is_required",
            "incident.id is required: alerts from BigPanda are keyed on the incident id.",
            field="incident.id" if incident is not body else "id",
        )
    incident_id = str(raw_id).strip()
    oc.key = incident_id
    dedup_key, note = target_state(request, IncidentIoState).incidentio_event(
        incident_id,
        event_type,
        is_firing(event_type, incident),
        time.time(),
        title=alert_title(incident, incident_id),
        source_id=source_id,
        refire=settings.incidentio_refire,
    )
    oc.note = note
    return json_response(
        {
            "status": "success",
            "message": "Event accepted for processing",
            "deduplication_key": dedup_key,
        },
        status=202,
    )


def _query_values(request: Request, name: str) -> list[str]:
    """Every value of a filter parameter (repeated, or comma-separated)."""
    found: list[str] = []
    for value in request.query.getall(name, []):
        if isinstance(value, str):
            found.extend(v.strip() for v in value.split(",") if v.strip())
    return found


def handle_list_alerts(request: Request) -> Response:
    """``GET /v2/alerts?page_size=25&deduplication_key[is]=...`` (read-back; Bearer API key)."""
    oc = outcome(request)
    settings = settings_of(request, IncidentIoSettings)
    token = bearer_token(request)
    if not same_secret(token, settings.incidentio_api_key):
        oc.reject("not authenticated: missing or wrong 'Authorization: Bearer <API key>'")
        return _error(401, "authentication_error", "unauthenticated", "Invalid API key")
    throttled = _throttled(
        request,
        f"incidentio-api:{settings.incidentio_api_key}",
        settings.incidentio_api_rate_limit,
        "api_key_requests",
    )
    if throttled is not None:
        return throttled
    raw_size = request.query.get("page_size")
    low, high = PAGE_SIZE_RANGE
    if raw_size is None:
        oc.reject("page_size is required (the API reference lists it as required)")
        return _error(
            422, "validation_error", "is_required", "page_size is required.", field="page_size"
        )
    try:
        page_size = int(raw_size)
    except ValueError:
        page_size = 0
    if not low <= page_size <= high:
        oc.reject(f"page_size must be an integer from {low} to {high}")
        return _error(
            422,
            "validation_error",
            "invalid_value",
            f"page_size must be an integer from {low} to {high}.",
            field="page_size",
        )
    statuses = {name: _query_values(request, f"status[{name}]") for name in ("one_of", "not_in")}
    for values in statuses.values():
        unknown = [v for v in values if v not in ALERT_STATUSES]
        if unknown:
            oc.reject(f"unknown alert status {unknown[0]!r}")
            return _error(
                422,
                "validation_error",
                "invalid_value",
                f"status must be one of {', '.join(ALERT_STATUSES)}.",
                field="status",
            )
    key = request.query.get("deduplication_key[is]")
    alerts = target_state(request, IncidentIoState).incidentio_alerts()
    alerts.sort(key=lambda a: (a.first_at, a.id), reverse=True)  # newest first [G]
    if key is not None:
        alerts = [a for a in alerts if a.deduplication_key == key]
    if statuses["one_of"]:
        alerts = [a for a in alerts if a.status in statuses["one_of"]]
    alerts = [a for a in alerts if a.status not in statuses["not_in"]]
    after = request.query.get("after")
    if after:
        ids = [a.id for a in alerts]
        alerts = alerts[ids.index(after) + 1 :] if after in ids else []
    page = alerts[:page_size]
    meta: dict[str, Any] = {"page_size": page_size}
    if len(alerts) > page_size:
        meta["after"] = page[-1].id
    oc.key, oc.note = key, f"{len(page)} alert(s)"
    return json_response({"alerts": [a.to_api() for a in page], "pagination_meta": meta})


# ---------------------------------------------------------------- alert sources V2
def default_template() -> dict[str, Any]:
    """The template of the demo source (the SDK's ``AlertTemplateV2``)."""
    return {
        "attributes": [],
        "expressions": [],
        "is_private": False,
        "title": {"label": "Payload -> Title", "reference": "payload.title"},
        "description": {"label": "Payload -> Description", "reference": "payload.description"},
    }


def _binding(value: Any, label: str) -> dict[str, Any] | None:
    """A template binding as stored and answered (``EngineParamBindingValueV2``: a
    ``label`` always, and the ``literal`` or ``reference`` given)."""
    if not isinstance(value, dict):
        return None
    kept = {k: value[k] for k in ("literal", "reference") if isinstance(value.get(k), str)}
    return {"label": label, **kept} if kept else None


def _api_key(request: Request, write: bool) -> Response | None:
    """The API key check of the alert sources routes: 401 for no key, 403 when a
    view-only key writes, 429 past ``incidentio_api_rate_limit``."""
    oc = outcome(request)
    settings = settings_of(request, IncidentIoSettings)
    token = bearer_token(request)
    viewer = same_secret(token, settings.incidentio_viewer_api_key)
    if not viewer and not same_secret(token, settings.incidentio_api_key):
        oc.reject("not authenticated: missing or wrong 'Authorization: Bearer <API key>'")
        return _error(401, "authentication_error", "unauthenticated", "Invalid API key")
    if write and viewer:
        oc.reject("forbidden: this API key may not create or delete alert sources")
        return _error(
            403,
            "resource_forbidden",
            "missing_scope",
            "This API key does not have permission to manage alert sources.",
        )
    target_state(request, IncidentIoState).seed_source(settings, time.time())
    return _throttled(
        request,
        f"incidentio-api:{token}",
        settings.incidentio_api_rate_limit,
        "api_key_requests",
        retry_header=True,
    )


def _api_origin(request: Request) -> str:
    return "http://" + (request.headers.get("Host") or "127.0.0.1")


def handle_list_sources(request: Request) -> Response:
    """``GET /v2/alert_sources``: every source (``AlertSourcesListResultV2``)."""
    refused = _api_key(request, write=False)
    if refused is not None:
        return refused
    sources = target_state(request, IncidentIoState).sources()
    outcome(request).note = f"{len(sources)} alert source(s)"
    origin = _api_origin(request)
    return json_response({"alert_sources": [s.to_api(origin) for s in sources]})


def handle_create_source(request: Request) -> Response:
    """``POST /v2/alert_sources``: 200 ``{"alert_source"}`` (the SDK parses 200), with
    its ``secret_token`` and ``alert_events_url``; 422 for a body the SDK's
    ``AlertSourcesCreatePayloadV2`` refuses (``name``, ``source_type``, ``template``
    with ``title``, ``description``, ``attributes``, ``expressions``)."""
    oc = outcome(request)
    refused = _api_key(request, write=True)
    if refused is not None:
        return refused
    try:
        body = read_json(request)
    except BodyError as exc:
        oc.reject(str(exc))
        return _error(400, "invalid_request_error", "invalid_json", str(exc))
    problem = _create_problem(body)
    if problem is not None:
        oc.reject(problem[1])
        return _error(422, "validation_error", "invalid_value", problem[1], field=problem[0])
    template = body["template"]
    stored = {
        "attributes": [],
        "expressions": [],
        "is_private": bool(template.get("is_private", False)),
        "title": _binding(template["title"], "Title"),
        "description": _binding(template["description"], "Description"),
    }
    try:
        made = target_state(request, IncidentIoState).add_source(
            body["name"].strip(), body["source_type"], stored, time.time()
        )
    except AdminLimit as exc:
        oc.reject(str(exc))
        return _error(422, "validation_error", "limit_reached", str(exc))
    oc.action, oc.key, oc.note = "create", made.id, f"alert source {made.name!r} created"
    return json_response({"alert_source": made.to_api(_api_origin(request))})


def _create_problem(body: Any) -> tuple[str, str] | None:
    """(field, what is wrong) with a create request, or None."""
    if not isinstance(body, dict):
        return "name", "Request body must be a JSON object."
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        return "name", "name is required."
    if body.get("source_type") not in CREATABLE_TYPES:
        return "source_type", f"source_type must be one of {', '.join(CREATABLE_TYPES)} here."
    template = body.get("template")
    if not isinstance(template, dict):
        return "template", "template is required."
    for key in ("title", "description"):
        if _binding(template.get(key), key) is None:
            return f"template.{key}", f"template.{key} needs a literal or a reference."
    for key in ("attributes", "expressions"):
        if not isinstance(template.get(key), list):
            return f"template.{key}", f"template.{key} is required (a list)."
    return None


def handle_show_source(request: Request) -> Response:
    """``GET /v2/alert_sources/{id}``: ``{"alert_source"}``; 404."""
    refused = _api_key(request, write=False)
    if refused is not None:
        return refused
    wanted = request.match_info["id"]
    source = target_state(request, IncidentIoState).source(wanted)
    outcome(request).key = wanted
    if source is None:
        outcome(request).reject(f"no alert source {wanted}")
        return _error(404, "not_found", "not_found", f"No alert source with id {wanted}.")
    return json_response({"alert_source": source.to_api(_api_origin(request))})


def handle_delete_source(request: Request) -> Response:
    """``DELETE /v2/alert_sources/{id}``: 204 (no body); 404. Its events are then 404."""
    refused = _api_key(request, write=True)
    if refused is not None:
        return refused
    wanted = request.match_info["id"]
    oc = outcome(request)
    oc.key = wanted
    if not target_state(request, IncidentIoState).delete_source(wanted):
        oc.reject(f"no alert source {wanted}")
        return _error(404, "not_found", "not_found", f"No alert source with id {wanted}.")
    oc.action, oc.note = "delete", f"alert source {wanted} deleted"
    return Response(204)


def _callback(base: str, settings: IncidentIoSettings) -> str:
    return base + EVENT_PATH.format(
        source_type=URL_SOURCE_TYPE, source_id=settings.incidentio_source_id
    )


def _summary(snapshot: dict[str, Any]) -> list[str]:
    made = [
        f"incident.io: alert source {source.get('name')!r} ({source.get('id')})"
        for source in snapshot["incidentio"].get("alert_sources", [])
        if source.get("name") != DEMO_SOURCE_NAME
    ]
    return made + [
        f"incident.io: alert {alert.get('deduplication_key')} is {alert.get('status')}, "
        f"fired {alert.get('fired_count')} time(s)"
        for alert in snapshot["incidentio"]["alerts"]
    ]


def _install_values(base: str, config: Any) -> dict[str, dict[str, str]]:
    from .bigpanda import BigPandaSettings  # the API key incident.io resolves incidents with

    settings = config.of(IncidentIoSettings)
    return {
        "incidentio": {
            "callback_url": _callback(base, settings),
            "secret": settings.incidentio_secret,
            "bigpanda_api_key": config.of(BigPandaSettings).bigpanda_api_key,
        }
    }


TARGET = Target(
    name="incidentio",
    order=30,
    routes=(
        Route("POST", EVENT_PATH, "incidentio_alert_event", handle_alert_event),
        Route("GET", ALERTS_PATH, "incidentio_alerts", handle_list_alerts),
        Route("GET", SOURCES_PATH, "incidentio_alert_sources", handle_list_sources),
        Route("POST", SOURCES_PATH, "incidentio_create_alert_source", handle_create_source),
        Route("GET", SOURCE_PATH, "incidentio_alert_source", handle_show_source),
        Route("DELETE", SOURCE_PATH, "incidentio_delete_alert_source", handle_delete_source),
    ),
    path_prefixes=("/v2/alert_events/", ALERTS_PATH, SOURCES_PATH),
    settings=IncidentIoSettings,
    state=IncidentIoState,
    urls=lambda base, settings: {"incidentio_callback": _callback(base, settings)},
    install_values=_install_values,
    credentials=lambda settings: (
        f"incident.io secret {settings.incidentio_secret}; API key {settings.incidentio_api_key} "
        f"(view only: {settings.incidentio_viewer_api_key})"
    ),
    summary=_summary,
    readback_values=lambda settings: {
        "incidentio": {"readback_api_key": settings.incidentio_api_key}
    },
)
