"""The emulated xMatters HTTP triggers: the BigPanda workflow and the two Panopta forms.

This module owns ``POST /api/integration/1/functions/{uuid}/triggers``: URL
(``apiKey``) or Basic authentication, the ``recipients`` parameter, and what
each function does with the body.

* BigPanda workflow trigger: one xMatters event per request, keyed on the
  BigPanda ``incident.id``; no recipient → no event created.
* Panopta Outage Event: one event per outage, targeted at the payload's
  ``target`` (a string or an array of names) or else at the URL's recipients;
  neither → no event created (xMatters still answers 202).
* Panopta Clear Event: terminates every active event of the same outage.

The outage identity ("outage key") is our reconstruction [G]: the first of
``outage_id``, ``outageId``, ``incident_id``, ``id`` that is a non-empty string
or number; else ``fqdn`` (plus ``/name`` when a ``name`` is present); else none.

xMatters answers 202 ``{"requestId": ...}`` to every authenticated request, even
when the flow then fails, so problems with the body only show in the request
log (``valid`` false, ``errors``), never in the answer.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from typing import Any

from aiohttp import web

from bp_integrate.bigpanda.webhook import event_of

from .context import (
    BodyError,
    config_of,
    json_response,
    outcome,
    read_json,
    same_secret,
    state_of,
)
from .state import XMattersEvent

OUTAGE_ID_FIELDS = ("outage_id", "outageId", "incident_id", "id")


def _authenticated(request: web.Request) -> bool:
    config = config_of(request)
    api_key = request.query.get("apiKey")
    if api_key is not None and same_secret(api_key, config.xmatters_api_key):
        return True
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, sep, password = decoded.partition(":")
    return bool(sep) and (
        same_secret(user, config.xmatters_username)
        & same_secret(password, config.xmatters_password)
    )


def parse_recipients(request: web.Request) -> list[str]:
    """The ``recipients`` query values, URL-decoded, split on commas."""
    names: list[str] = []
    for value in request.query.getall("recipients", []):
        if not isinstance(value, str):
            continue
        names.extend(n.strip() for n in value.split(",") if n.strip())
    return names


def outage_key(body: dict[str, Any]) -> str | None:
    """The identity of a Panopta outage in a webhook body (see the module doc)."""
    for name in OUTAGE_ID_FIELDS:
        value = body.get(name)
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip()):
            return str(value).strip()
    fqdn = body.get("fqdn")
    if isinstance(fqdn, str) and fqdn.strip():
        label = body.get("name")
        if isinstance(label, str) and label.strip():
            return f"{fqdn.strip()}/{label.strip()}"
        return fqdn.strip()
    return None


def _targets(body: dict[str, Any]) -> tuple[list[str], str | None]:
    target = body.get("target")
    if target is None:
        return [], None
    if isinstance(target, str):
        return ([target.strip()] if target.strip() else []), None
    if isinstance(target, list) and all(isinstance(t, str) for t in target):
        return [t.strip() for t in target if t.strip()], None
    return [], "target must be a string or an array of strings"


async def handle_trigger(request: web.Request) -> web.Response:
    """``POST /api/integration/1/functions/{uuid}/triggers``."""
    oc = outcome(request)
    config = config_of(request)
    function_id = request.match_info["function_id"]
    functions = {
        config.xmatters_function_id: ("xmatters", "xmatters_trigger"),
        config.panopta_outage_function_id: ("panopta", "panopta_outage"),
        config.panopta_clear_function_id: ("panopta", "panopta_clear"),
    }
    if function_id in functions:
        oc.target, oc.route = functions[function_id]
    if not _authenticated(request):
        oc.reject("not authenticated: no valid apiKey parameter or Basic credentials")
        return json_response(
            {
                "code": 401,
                "reason": "Unauthorized",
                "message": "Authentication failed: provide a valid apiKey parameter or "
                "Basic credentials of the integration user.",
            },
            status=401,
        )
    if function_id not in functions:
        oc.reject(f"no inbound integration with function id {function_id}")
        return json_response(
            {
                "code": 404,
                "reason": "Not Found",
                "message": f"Could not find an integration for function {function_id}.",
            },
            status=404,
        )
    request_id = str(uuid.uuid4())
    recipients = parse_recipients(request)
    now = time.time()
    try:
        body = await read_json(request)
    except BodyError as exc:
        body = None
        oc.reject(str(exc))
    if body is not None and not isinstance(body, dict):
        oc.reject("request body must be a JSON object")
        body = None
    if body is None:
        oc.note = "no event created (the flow could not read the body)"
    elif oc.route == "xmatters_trigger":
        _bigpanda(request, body, request_id, function_id, recipients, now)
    elif oc.route == "panopta_outage":
        _panopta_outage(request, body, request_id, function_id, recipients, now)
    else:
        oc.action = "clear"
        oc.key = outage_key(body)
        clear = state_of(request).panopta_clear(request_id, oc.key, now)
        if oc.key is None:
            oc.reject("cannot identify the outage: no outage_id/id field and no fqdn")
        oc.note = clear.note
    return json_response({"requestId": request_id}, status=202)


def _bigpanda(
    request: web.Request,
    body: dict[str, Any],
    request_id: str,
    function_id: str,
    recipients: list[str],
    now: float,
) -> None:
    oc = outcome(request)
    incident = body.get("incident") if isinstance(body.get("incident"), dict) else body
    assert isinstance(incident, dict)
    incident_id = incident.get("id")
    oc.action = event_of(body)
    oc.key = str(incident_id) if isinstance(incident_id, (str, int)) and incident_id != "" else None
    if oc.key is None:
        oc.reject("incident.id is missing: the workflow cannot tell incidents apart")
    created = bool(recipients)
    note = "event created" if created else "no event created: no recipients"
    oc.note = note
    state_of(request).add_xmatters_event(
        XMattersEvent(
            request_id=request_id,
            function="bigpanda",
            function_id=function_id,
            received_at=now,
            recipients=recipients,
            targets=list(recipients),
            created=created,
            status="active" if created else "not_created",
            key=oc.key,
            event_type=oc.action,
            note=note,
        )
    )


def _panopta_outage(
    request: web.Request,
    body: dict[str, Any],
    request_id: str,
    function_id: str,
    recipients: list[str],
    now: float,
) -> None:
    oc = outcome(request)
    oc.action = "outage"
    oc.key = outage_key(body)
    if oc.key is None:
        oc.reject(
            "cannot identify the outage (no outage_id/id field and no fqdn): a Clear "
            "Event will not be able to terminate this event"
        )
    targets, target_error = _targets(body)
    if target_error:
        oc.reject(target_error)
    notified = targets or recipients
    created = bool(notified)
    if created:
        note = "event created for " + ", ".join(notified)
    else:
        note = "no event created: no recipient in the form and no target"
    oc.note = note
    state_of(request).add_xmatters_event(
        XMattersEvent(
            request_id=request_id,
            function="panopta_outage",
            function_id=function_id,
            received_at=now,
            recipients=recipients,
            targets=notified,
            created=created,
            status="active" if created else "not_created",
            key=oc.key,
            event_type="outage",
            note=note,
        )
    )
