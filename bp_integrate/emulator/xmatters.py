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

It also owns the REST calls read-back makes (Basic auth of a REST user):

* ``GET /api/xm/1/events``: the list envelope ``{count, total, data, links}``
  (``links.self``, and ``links.next`` when more remain), each event with ``id``
  (a UUID), ``eventId``, ``created`` and (once ended) ``terminated`` in xMatters'
  ``2016-10-31T22:37:35.301+0000`` form, ``status`` (``ACTIVE`` / ``TERMINATED``),
  ``priority``, ``incident`` and ``links.self``; ``properties`` only with
  ``embed=properties`` (xMatters' own xmtoolbox ``events.js``, python-xmatters
  ``endpoints/events.py``). Filters: ``propertyName``/``propertyValue`` (the
  emulated BigPanda workflow form's properties: ``incident_id`` and ``event_type``
  by default, our guesses [G]), ``requestId``, ``status``; ``offset``/``limit``
  (100, at most 1000); newest first unless ``sortOrder=ASCENDING`` [G].
* ``POST /api/xm/1/events`` ``{"id", "status": "TERMINATED"}``: ends an event.

Every trigger of the BigPanda workflow that has a recipient is an event of its own
(a close too), so a stale event in the wanted state beside a newer one is what a
lifecycle leaves behind.

It also owns this target's settings (the demo apiKey, the integration user,
the function UUIDs), its state (events and Panopta clears) and its ``TARGET``.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from bp_integrate.bigpanda.webhook import event_of, incident_of

from .context import (
    BodyError,
    basic_credentials,
    json_response,
    outcome,
    read_json,
    same_secret,
    settings_of,
    target_state,
)
from .target import Kept, Route, Target, TargetSettings, TargetState
from .wire import Request, Response

OUTAGE_ID_FIELDS = ("outage_id", "outageId", "incident_id", "id")

#: Function UUID of the emulated xMatters "BigPanda" workflow HTTP trigger.
XMATTERS_BIGPANDA_FUNCTION_ID = "6b7c1f0e-2d4a-4c8e-9f3b-0a1b2c3d4e5f"
#: Function UUID of the emulated xMatters "Panopta Outage Event" inbound integration.
PANOPTA_OUTAGE_FUNCTION_ID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
#: Function UUID of the emulated xMatters "Panopta Clear Event" inbound integration.
PANOPTA_CLEAR_FUNCTION_ID = "c1e4a7d0-3b6e-4f92-a5c8-0d3f6b9e2a51"
TRIGGER_PATH = "/api/integration/1/functions/{function_id}/triggers"
EVENTS_PATH = "/api/xm/1/events"
#: Event numbers (``eventId``) start above this, as a busy instance's would.
EVENT_NUMBER_BASE = 900000
#: ``GET /api/xm/1/events`` pages: ``limit`` defaults to 100, at most 1000.
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
EVENT_STATUSES = ("ACTIVE", "SUSPENDED", "TERMINATED")


@dataclass(frozen=True)
class XMattersSettings(TargetSettings):
    """The credentials and function UUIDs the emulated xMatters accepts (demo values)."""

    xmatters_api_key: str = "demo-xmatters-api-key"
    xmatters_username: str = "bp-integration"
    xmatters_password: str = "demo-xm-password"
    xmatters_function_id: str = XMATTERS_BIGPANDA_FUNCTION_ID
    panopta_outage_function_id: str = PANOPTA_OUTAGE_FUNCTION_ID
    panopta_clear_function_id: str = PANOPTA_CLEAR_FUNCTION_ID
    #: The REST user read-back uses (``GET /api/xm/1/events``, Basic auth).
    xmatters_rest_username: str = "bp-verify"
    xmatters_rest_password: str = "demo-xm-rest-password"
    #: The emulated BigPanda workflow form's property names [G]: the one holding the
    #: BigPanda incident id, and the one holding the BigPanda event type.
    xmatters_incident_property: str = "incident_id"
    xmatters_event_type_property: str = "event_type"

    def __post_init__(self) -> None:
        if ":" in self.xmatters_username:
            raise ValueError("xmatters_username may not contain ':' (RFC 7617 Basic auth)")
        if not self.xmatters_api_key:
            raise ValueError("xmatters_api_key may not be empty")

    def secrets(self) -> tuple[str, ...]:
        return (self.xmatters_api_key, self.xmatters_password, self.xmatters_rest_password)

    def functions(self) -> dict[str, tuple[str, str]]:
        """Function UUID → (target, route) as logged."""
        return {
            self.xmatters_function_id: ("xmatters", "xmatters_trigger"),
            self.panopta_outage_function_id: ("panopta", "panopta_outage"),
            self.panopta_clear_function_id: ("panopta", "panopta_clear"),
        }


@dataclass
class XMattersEvent:
    """An event an xMatters trigger received (BigPanda workflow or Panopta Outage).

    ``status`` is ``active``, ``terminated`` (a Panopta Clear ended it) or
    ``not_created`` (xMatters answered 202 but created no event, e.g. no recipient).
    ``key`` is the BigPanda incident id or the Panopta outage key.
    """

    request_id: str
    function: str
    function_id: str
    received_at: float
    recipients: list[str]
    targets: list[str]
    created: bool
    status: str
    key: str | None
    event_type: str | None
    note: str
    terminated_by: str | None = None
    #: The event's UUID and number at xMatters (``id``, ``eventId``), given when kept.
    id: str = ""
    event_id: str = ""
    terminated_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "request_id": self.request_id,
            "function": self.function,
            "function_id": self.function_id,
            "received_at": self.received_at,
            "recipients": list(self.recipients),
            "targets": list(self.targets),
            "created": self.created,
            "status": self.status,
            "key": self.key,
            "event_type": self.event_type,
            "note": self.note,
            "terminated_by": self.terminated_by,
            "terminated_at": self.terminated_at,
        }


@dataclass
class PanoptaClear:
    """A Panopta Clear Event: which outage it named and which events it terminated."""

    request_id: str
    received_at: float
    key: str | None
    terminated: list[str]
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "received_at": self.received_at,
            "key": self.key,
            "terminated": list(self.terminated),
            "note": self.note,
        }


class XMattersState(TargetState):
    """Events of every function (BigPanda workflow, Panopta Outage) and Panopta clears."""

    def __init__(self, lock: Any) -> None:
        super().__init__(lock)
        # The newest of each (target.Kept).
        self._events: Kept[XMattersEvent] = Kept()
        self._clears: Kept[PanoptaClear] = Kept()
        self._numbered = 0

    def _of(self, function: str) -> list[XMattersEvent]:
        with self._lock:
            return copy.deepcopy([e for e in self._events if e.function == function])

    def xmatters_events(self) -> list[XMattersEvent]:
        """Events of the xMatters BigPanda trigger."""
        return self._of("bigpanda")

    def panopta_events(self) -> list[XMattersEvent]:
        """xMatters events created (or not) by the Panopta Outage trigger."""
        return self._of("panopta_outage")

    def panopta_clears(self) -> list[PanoptaClear]:
        with self._lock:
            return copy.deepcopy(list(self._clears))

    def add_xmatters_event(self, event: XMattersEvent) -> None:
        """Keep an event, giving it an id (a UUID) and an event number as xMatters does."""
        with self._lock:
            self._numbered += 1
            if self._events:  # `created` has milliseconds: keep each event's distinct
                event.received_at = max(event.received_at, self._events[-1].received_at + 0.001)
            event.id = event.id or str(uuid.uuid4())
            event.event_id = event.event_id or str(EVENT_NUMBER_BASE + self._numbered)
            self._events.append(event)

    def terminate(self, event_id: str, by: str, now: float | None = None) -> bool:
        """Terminate the BigPanda trigger's event ``event_id`` (its UUID or number, as
        REST ``POST /api/xm/1/events {"id", "status": "TERMINATED"}`` takes it)."""
        with self._lock:
            for ev in self._events:
                if ev.function == "bigpanda" and event_id in (ev.id, ev.event_id):
                    if ev.status == "active":
                        ev.status, ev.terminated_by = "terminated", by
                        ev.terminated_at = time.time() if now is None else now
                    return True
            return False

    def panopta_clear(self, request_id: str, key: str | None, now: float) -> PanoptaClear:
        """Terminate every active Panopta outage event with ``key``."""
        with self._lock:
            terminated: list[str] = []
            if key is not None:
                for ev in self._events:
                    if ev.function == "panopta_outage" and ev.key == key and ev.status == "active":
                        ev.status = "terminated"
                        ev.terminated_by = request_id
                        ev.terminated_at = now
                        terminated.append(ev.request_id)
            if key is None:
                note = "cannot tell which outage to clear: nothing terminated"
            elif terminated:
                note = f"terminated {len(terminated)} event(s) for outage {key}"
            else:
                note = f"no active event for outage {key}: nothing terminated"
            clear = PanoptaClear(request_id, now, key, terminated, note)
            self._clears.append(clear)
            return copy.deepcopy(clear)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "xmatters": {
                    "events": [e.to_json() for e in self._events if e.function == "bigpanda"]
                },
                "panopta": {
                    "events": [e.to_json() for e in self._events if e.function == "panopta_outage"],
                    "clears": [c.to_json() for c in self._clears],
                },
            }

    def reset(self) -> None:
        with self._lock:
            self._events.clear()
            self._clears.clear()


def xmatters_trigger_path(function_id: str) -> str:
    """Path of an xMatters HTTP trigger for ``function_id``."""
    return TRIGGER_PATH.format(function_id=function_id)


def xmatters_trigger_url(
    base_url: str,
    function_id: str,
    *,
    api_key: str | None = None,
    recipients: Iterable[str] = (),
) -> str:
    """An xMatters trigger URL, optionally with ``apiKey`` (URL auth) and ``recipients``.

    Recipient names are URL-encoded (``Cloud Devops`` → ``Cloud%20Devops``) and
    joined by commas, as xMatters expects. The result carries a secret when
    ``api_key`` is given: redact it before showing or storing it.
    """
    params: list[str] = []
    if api_key is not None:
        params.append("apiKey=" + quote(api_key, safe=""))
    names = [r for r in recipients if r]
    if names:
        params.append("recipients=" + ",".join(quote(r, safe="") for r in names))
    url = base_url.rstrip("/") + xmatters_trigger_path(function_id)
    return url + ("?" + "&".join(params) if params else "")


def _authenticated(request: Request) -> bool:
    config = settings_of(request, XMattersSettings)
    api_key = request.query.get("apiKey")
    if api_key is not None and same_secret(api_key, config.xmatters_api_key):
        return True
    given = basic_credentials(request)
    return given is not None and (
        same_secret(given[0], config.xmatters_username)
        & same_secret(given[1], config.xmatters_password)
    )


def parse_recipients(request: Request) -> list[str]:
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


def handle_trigger(request: Request) -> Response:
    """``POST /api/integration/1/functions/{uuid}/triggers``."""
    oc = outcome(request)
    function_id = request.match_info["function_id"]
    functions = settings_of(request, XMattersSettings).functions()  # TARGET.label named oc's
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
        body = read_json(request)
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
        clear = target_state(request, XMattersState).panopta_clear(request_id, oc.key, now)
        if oc.key is None:
            oc.reject("cannot identify the outage: no outage_id/id field and no fqdn")
        oc.note = clear.note
    return json_response({"requestId": request_id}, status=202)


def _bigpanda(
    request: Request,
    body: dict[str, Any],
    request_id: str,
    function_id: str,
    recipients: list[str],
    now: float,
) -> None:
    oc = outcome(request)
    incident = incident_of(body)
    incident_id = incident.get("id")
    oc.action = event_of(body)
    oc.key = str(incident_id) if isinstance(incident_id, (str, int)) and incident_id != "" else None
    if oc.key is None:
        oc.reject("incident.id is missing: the workflow cannot tell incidents apart")
    created = bool(recipients)
    note = "event created" if created else "no event created: no recipients"
    oc.note = note
    target_state(request, XMattersState).add_xmatters_event(
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
    request: Request,
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
    target_state(request, XMattersState).add_xmatters_event(
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


def _rest_user(request: Request) -> bool:
    settings = settings_of(request, XMattersSettings)
    given = basic_credentials(request)
    return given is not None and (
        same_secret(given[0], settings.xmatters_rest_username)
        & same_secret(given[1], settings.xmatters_rest_password)
    )


def xmatters_time(moment: float) -> str:
    """A time as xMatters' REST API writes it (``2016-10-31T22:37:35.301+0000``)."""
    stamp = datetime.fromtimestamp(moment, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"


def event_properties(ev: XMattersEvent, settings: XMattersSettings) -> dict[str, Any]:
    """The emulated BigPanda workflow form's properties of an event [G]."""
    return {
        settings.xmatters_incident_property: ev.key,
        settings.xmatters_event_type_property: ev.event_type,
    }


def _event_json(ev: XMattersEvent, settings: XMattersSettings, embed: set[str]) -> dict[str, Any]:
    """An event as ``GET /api/xm/1/events`` lists it (xMatters' event object, the
    fields a trigger-made event has); ``properties`` only when embedded."""
    status = {"active": "ACTIVE", "terminated": "TERMINATED"}.get(ev.status, "ACTIVE")
    event: dict[str, Any] = {
        "id": ev.id,
        "eventId": ev.event_id,
        "created": xmatters_time(ev.received_at),
        "status": status,
        "priority": "MEDIUM",
        "incident": f"INCIDENT_ID-{ev.event_id}",
        "links": {"self": f"{EVENTS_PATH}/{ev.id}"},
    }
    if ev.terminated_at is not None:
        event["terminated"] = xmatters_time(ev.terminated_at)
    if "properties" in embed:
        event["properties"] = event_properties(ev, settings)
    return event


def _error(status: int, reason: str, message: str) -> Response:
    """An error as xMatters' REST API answers it (``code``, ``reason``, ``message``)."""
    return json_response({"code": status, "reason": reason, "message": message}, status=status)


def _unauthorized() -> Response:
    return _error(401, "Unauthorized", "Basic auth of a REST user required")


def _property_is(properties: dict[str, Any], name: str, value: str | None) -> bool:
    found = properties.get(name)
    return found is not None and str(found) == value


def _listed(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def handle_list_events(request: Request) -> Response:
    """``GET /api/xm/1/events``: ``propertyName``/``propertyValue``, ``requestId``,
    ``status``, ``embed``, ``offset``/``limit``, ``sortOrder``; newest first [G]."""
    oc = outcome(request)
    if not _rest_user(request):
        oc.reject("not authenticated: Basic auth of the REST user expected")
        return _unauthorized()
    settings = settings_of(request, XMattersSettings)
    query = request.query
    try:
        offset = int(query.get("offset", "0"))
        limit = int(query.get("limit", str(DEFAULT_LIMIT)))
    except ValueError:
        offset, limit = -1, -1
    if offset < 0 or not 1 <= limit <= MAX_LIMIT:
        oc.reject(f"offset must be 0 or more and limit from 1 to {MAX_LIMIT}")
        return _error(400, "Bad Request", f"offset must be >= 0 and limit 1 to {MAX_LIMIT}.")
    statuses = [v.upper() for v in _listed(query.getall("status", []))]
    unknown = [v for v in statuses if v not in EVENT_STATUSES]
    if unknown:
        oc.reject(f"unknown event status {unknown[0]!r}")
        return _error(400, "Bad Request", f"status must be one of {', '.join(EVENT_STATUSES)}.")
    name, value = query.get("propertyName"), query.get("propertyValue")
    if (name is None) != (value is None):
        oc.reject("propertyName and propertyValue go together")
        return _error(400, "Bad Request", "propertyName and propertyValue must be given together.")
    events = [e for e in target_state(request, XMattersState).xmatters_events() if e.created]
    if name is not None:
        events = [e for e in events if _property_is(event_properties(e, settings), name, value)]
    request_id = query.get("requestId")
    if request_id is not None:
        events = [e for e in events if e.request_id == request_id]
    data = [_event_json(e, settings, set(_listed(query.getall("embed", [])))) for e in events]
    if statuses:
        data = [d for d in data if d["status"] in statuses]
    ascending = str(query.get("sortOrder", "DESCENDING")).upper() == "ASCENDING"
    data.sort(key=lambda d: (d["created"], int(d["eventId"])), reverse=not ascending)
    page = data[offset : offset + limit]
    kept = [(k, v) for k, v in query.items() if k not in ("offset", "limit")]
    links = {"self": _page_link(kept, offset, limit)}
    if offset + limit < len(data):
        links["next"] = _page_link(kept, offset + limit, limit)
    oc.key, oc.note = value or request_id, f"{len(page)} event(s)"
    return json_response({"count": len(page), "total": len(data), "data": page, "links": links})


def _page_link(params: list[tuple[str, str]], offset: int, limit: int) -> str:
    return EVENTS_PATH + "?" + urlencode([*params, ("offset", str(offset)), ("limit", str(limit))])


def handle_change_event(request: Request) -> Response:
    """``POST /api/xm/1/events`` ``{"id": ..., "status": "TERMINATED"}``."""
    oc = outcome(request)
    if not _rest_user(request):
        oc.reject("not authenticated: Basic auth of the REST user expected")
        return _unauthorized()
    try:
        body = read_json(request)
    except BodyError as exc:
        oc.reject(str(exc))
        return json_response({"code": 400, "reason": "Bad Request", "message": str(exc)}, 400)
    if not isinstance(body, dict) or body.get("status") != "TERMINATED" or not body.get("id"):
        oc.reject('body must be {"id": ..., "status": "TERMINATED"}')
        return json_response(
            {"code": 400, "reason": "Bad Request", "message": "status must be TERMINATED"}, 400
        )
    event_id = str(body.get("id", ""))
    oc.action, oc.key = "terminate", event_id
    if not target_state(request, XMattersState).terminate(event_id, "rest"):
        oc.reject("no such event")
        return json_response(
            {"code": 404, "reason": "Not Found", "message": f"No event {event_id}"}, 404
        )
    return json_response({"id": event_id, "status": "TERMINATED"}, status=202)


def _label(request: Request, settings: XMattersSettings) -> tuple[str, str] | None:
    return settings.functions().get(request.match_info.get("function_id", ""))


def _urls(base: str, settings: XMattersSettings) -> dict[str, str]:
    return {
        "xmatters_trigger": base + xmatters_trigger_path(settings.xmatters_function_id),
        "panopta_outage": base + xmatters_trigger_path(settings.panopta_outage_function_id),
        "panopta_clear": base + xmatters_trigger_path(settings.panopta_clear_function_id),
    }


def _install_values(base: str, config: Any) -> dict[str, dict[str, str]]:
    settings = config.of(XMattersSettings)

    def url(function_id: str) -> str:
        return xmatters_trigger_url(base, function_id, api_key=settings.xmatters_api_key)

    return {
        "xmatters": {
            "trigger_url": url(settings.xmatters_function_id),
            "recipients": "demo-team, Cloud Devops",
        },
        "panopta": {
            "outage_url": url(settings.panopta_outage_function_id),
            "clear_url": url(settings.panopta_clear_function_id),
            "target": "demo-team",
        },
    }


def _credentials(settings: XMattersSettings) -> str:
    return (
        f"xMatters apiKey {settings.xmatters_api_key}; Basic user "
        f"{settings.xmatters_username} / {settings.xmatters_password}"
    )


def _summary(snapshot: dict[str, Any]) -> list[str]:
    panopta = snapshot["panopta"]
    return [
        f"xMatters: {len(snapshot['xmatters']['events'])} event(s) created by the BigPanda trigger",
        f"Panopta -> xMatters: {len(panopta['events'])} outage event(s), "
        f"{len(panopta['clears'])} clear(s)",
    ]


TARGET = Target(
    name="xmatters",
    order=10,
    routes=(
        Route("POST", TRIGGER_PATH, "xmatters_trigger", handle_trigger),
        Route("GET", EVENTS_PATH, "xmatters_events", handle_list_events),
        Route("POST", EVENTS_PATH, "xmatters_change_event", handle_change_event),
    ),
    path_prefixes=("/api/integration/", "/api/xm/"),
    settings=XMattersSettings,
    state=XMattersState,
    urls=_urls,
    install_values=_install_values,
    credentials=_credentials,
    summary=_summary,
    label=_label,
    readback_values=lambda settings: {
        "xmatters": {
            "readback_username": settings.xmatters_rest_username,
            "readback_password": settings.xmatters_rest_password,
        }
    },
)
