"""The emulated incident.io BigPanda alert source (``/v2/alert_events/bigpanda/{id}``).

This module owns the callback BigPanda's Notifications Webhook posts to:
``Authorization: Bearer <secret>`` auth, both body shapes (``{"event_type",
"incident": {...}}`` or a bare incident object), and the alert lifecycle keyed
on ``incident.id``: firing while the incident is active and not ``ok``,
resolved on ``incident#closed`` / ``active: false`` / ``status: ok``, and
re-fired on the same alert when it opens again (``fired_count`` goes up).
Error bodies mimic incident.io's public API error shape [G].
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web

from bp_integrate.bigpanda.webhook import event_of

from .context import (
    BodyError,
    bearer_token,
    config_of,
    json_response,
    outcome,
    read_json,
    same_secret,
    state_of,
)

CLOSED_EVENT = "incident#closed"


def _error(
    status: int, kind: str, code: str, message: str, field: str | None = None
) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["source"] = {"field": field}
    return json_response(
        {"type": kind, "status": status, "request_id": str(uuid.uuid4()), "errors": [error]},
        status=status,
    )


def is_firing(event_type: str | None, incident: dict[str, Any]) -> bool:
    """Whether a BigPanda incident, as posted, means a firing alert."""
    if event_type == CLOSED_EVENT:
        return False
    if incident.get("active") is False:
        return False
    status = incident.get("status")
    return not (isinstance(status, str) and status.lower() == "ok")


async def handle_alert_event(request: web.Request) -> web.Response:
    """``POST /v2/alert_events/bigpanda/{source_id}``."""
    oc = outcome(request)
    config = config_of(request)
    if not same_secret(bearer_token(request), config.incidentio_secret):
        oc.reject("not authenticated: missing or wrong 'Authorization: Bearer <secret>'")
        return _error(
            401,
            "authentication_error",
            "authentication_required",
            "Missing or invalid alert source secret: send 'Authorization: Bearer <secret>'.",
        )
    source_id = request.match_info["source_id"]
    if source_id != config.incidentio_source_id:
        oc.reject(f"no alert source with id {source_id}")
        return _error(404, "not_found", "not_found", f"No alert source with id {source_id}.")
    try:
        body = await read_json(request)
    except BodyError as exc:
        oc.reject(str(exc))
        return _error(400, "invalid_request_error", "invalid_json", str(exc))
    if not isinstance(body, dict):
        oc.reject("request body must be a JSON object")
        return _error(
            400, "invalid_request_error", "invalid_json", "Request body must be a JSON object."
        )
    wrapped = isinstance(body.get("incident"), dict)
    incident: dict[str, Any] = body["incident"] if wrapped else body
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
            field="incident.id",
        )
    incident_id = str(raw_id).strip()
    oc.key = incident_id
    alert, note = state_of(request).incidentio_event(
        incident_id, event_type, is_firing(event_type, incident), time.time()
    )
    oc.note = note
    return json_response(
        {
            "status": "success",
            "message": "Event accepted for processing",
            "deduplication_key": alert.deduplication_key,
        },
        status=202,
    )
