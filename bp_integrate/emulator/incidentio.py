"""The emulated incident.io BigPanda alert source (``/v2/alert_events/big_panda/{id}``).

This module owns the callback BigPanda's Notifications Webhook posts to, and
this target's settings, state and ``TARGET``:

* the source type in the path: ``big_panda`` (incident.io's own name, in its
  SDK's ``AlertSourceV2SourceType`` and its Terraform docs) or ``bigpanda``;
* the alert source secret, as incident.io takes it (its SDK, ``alert_events_v2
  create_http``: "either Basic or Bearer authorization with the secret", or the
  ``token`` query parameter): ``Authorization: Bearer <secret>``,
  ``Authorization: Basic base64(<any user>:<secret>)`` or ``?token=<secret>``;
* both body shapes (``{"incident": {...}, ...}`` or a bare incident object) and
  the alert lifecycle keyed on ``incident.id``: firing while the incident is
  active and not ``ok``, resolved on ``incident#closed`` / ``active: false`` /
  ``status: ok``, re-fired on the same alert when it opens again;
* error answers in the shape incident.io's SDK parses (``ErrorResponse``:
  ``type``, ``status``, ``request_id``, ``errors`` of ``{code, message,
  source: {field, pointer}}``).
"""

from __future__ import annotations

import copy
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bp_integrate.bigpanda.webhook import event_of, incident_of

from .context import (
    BodyError,
    basic_credentials,
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

CLOSED_EVENT = "incident#closed"
#: Id of the emulated incident.io BigPanda alert source (a ULID, as incident.io uses).
INCIDENTIO_SOURCE_ID = "01J0BPDEM0S0VRCE0000000000"
#: Source types accepted in the path; the first is incident.io's own spelling.
SOURCE_TYPES = ("big_panda", "bigpanda")
#: The source type in the URLs this emulator hands out (what bp-integrate checks today).
URL_SOURCE_TYPE = "bigpanda"
EVENT_PATH = "/v2/alert_events/{source_type}/{source_id}"


@dataclass(frozen=True)
class IncidentIoSettings(TargetSettings):
    """The alert source the emulated incident.io knows (demo values)."""

    incidentio_secret: str = "demo-incidentio-secret"
    incidentio_source_id: str = INCIDENTIO_SOURCE_ID
    #: The API key read-back uses (``GET /v2/alerts``, Bearer).
    incidentio_api_key: str = "demo-incidentio-api-key"

    def __post_init__(self) -> None:
        if not self.incidentio_secret:
            raise ValueError("incidentio_secret may not be empty")

    def secrets(self) -> tuple[str, ...]:
        return (self.incidentio_secret, self.incidentio_api_key)


@dataclass
class IncidentIoAlert:
    """An incident.io alert from the BigPanda source, keyed on the BigPanda incident id.

    ``status`` is ``firing`` or ``resolved``; ``fired_count`` counts how many times
    it (re-)fired, ``event_count`` every webhook received for it.
    """

    deduplication_key: str
    status: str
    fired_count: int
    event_count: int
    last_event_type: str | None
    first_at: float
    updated_at: float
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "deduplication_key": self.deduplication_key,
            "status": self.status,
            "fired_count": self.fired_count,
            "event_count": self.event_count,
            "last_event_type": self.last_event_type,
            "first_at": self.first_at,
            "updated_at": self.updated_at,
            "history": [dict(h) for h in self.history],
        }


class IncidentIoState(TargetState):
    """incident.io alerts, keyed on the BigPanda incident id."""

    def __init__(self, lock: Any) -> None:
        super().__init__(lock)
        self._alerts: dict[str, IncidentIoAlert] = {}

    def incidentio_alerts(self) -> list[IncidentIoAlert]:
        with self._lock:
            return copy.deepcopy(list(self._alerts.values()))

    def incidentio_alert(self, deduplication_key: str) -> IncidentIoAlert | None:
        with self._lock:
            return copy.deepcopy(self._alerts.get(deduplication_key))

    def incidentio_event(
        self, incident_id: str, event_type: str | None, firing: bool, now: float
    ) -> tuple[str, str]:
        """Apply one BigPanda webhook to the alert keyed on ``incident_id``.

        Returns the alert's deduplication key and what happened, in words.
        """
        with self._lock:
            alert = self._alerts.get(incident_id)
            if alert is None:
                alert = IncidentIoAlert(incident_id, "resolved", 0, 0, None, now, now)
                self._alerts[incident_id] = alert
                if firing:
                    alert.status, alert.fired_count = "firing", 1
                    note = "alert fired"
                else:
                    note = "alert created already resolved (first event closes the incident)"
            elif firing and alert.status == "resolved":
                alert.status = "firing"
                alert.fired_count += 1
                note = f"alert re-fired (fired {alert.fired_count} times)"
            elif firing:
                note = "alert updated (still firing)"
            elif alert.status == "firing":
                alert.status = "resolved"
                note = "alert resolved"
            else:
                note = "alert already resolved"
            alert.event_count += 1
            alert.last_event_type = event_type
            alert.updated_at = now
            alert.history.append({"event_type": event_type, "status": alert.status, "at": now})
            return alert.deduplication_key, note

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"incidentio": {"alerts": [a.to_json() for a in self._alerts.values()]}}

    def reset(self) -> None:
        with self._lock:
            self._alerts.clear()


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
    if not same_secret(presented_secret(request), settings.incidentio_secret):
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
    source_id = request.match_info["source_id"]
    if source_id != settings.incidentio_source_id:
        oc.reject(f"no alert source with id {source_id}")
        return _error(404, "not_found", "not_found", f"No alert source with id {source_id}.")
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
        incident_id, event_type, is_firing(event_type, incident), time.time()
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


def handle_list_alerts(request: Request) -> Response:
    """``GET /v2/alerts?deduplication_key[is]=...`` (read-back; Bearer API key)."""
    oc = outcome(request)
    if not same_secret(
        bearer_token(request), settings_of(request, IncidentIoSettings).incidentio_api_key
    ):
        oc.reject("not authenticated: missing or wrong 'Authorization: Bearer <API key>'")
        return _error(401, "authentication_error", "unauthenticated", "Invalid API key")
    key = request.query.get("deduplication_key[is]")
    alerts = target_state(request, IncidentIoState).incidentio_alerts()
    if key is not None:
        alerts = [a for a in alerts if a.deduplication_key == key]
    oc.key, oc.note = key, f"{len(alerts)} alert(s)"
    items = [
        {
            "id": uuid.uuid5(uuid.NAMESPACE_URL, a.deduplication_key).hex,
            "deduplication_key": a.deduplication_key,
            "status": a.status,
            "alert_source_id": settings_of(request, IncidentIoSettings).incidentio_source_id,
        }
        for a in alerts
    ]
    return json_response({"alerts": items, "pagination_meta": {"page_size": 25}})


def _callback(base: str, settings: IncidentIoSettings) -> str:
    return base + EVENT_PATH.format(
        source_type=URL_SOURCE_TYPE, source_id=settings.incidentio_source_id
    )


def _summary(snapshot: dict[str, Any]) -> list[str]:
    return [
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
        Route("GET", "/v2/alerts", "incidentio_alerts", handle_list_alerts),
    ),
    path_prefixes=("/v2/alert_events/", "/v2/alerts"),
    settings=IncidentIoSettings,
    state=IncidentIoState,
    urls=lambda base, settings: {"incidentio_callback": _callback(base, settings)},
    install_values=_install_values,
    credentials=lambda settings: f"incident.io secret {settings.incidentio_secret}",
    summary=_summary,
    readback_values=lambda settings: {
        "incidentio": {"readback_api_key": settings.incidentio_api_key}
    },
)
