"""The emulated generic Notifications Webhook receiver (``POST /webhook/{receiver_id}``).

This module owns a stand-in for whatever a team points BigPanda's generic
Notifications Webhook at (an Event-Driven Ansible endpoint, an internal
service, a chat bridge): it accepts any JSON body on any ``receiver_id``,
checks the ``Authorization`` header against the configured value when one is
set (``webhook_auth_header``, default ``Bearer demo-webhook-token``; ``""``
turns the check off), and keeps, per receiver, how many bodies it accepted and
the newest few (bounded). Answers are our reconstruction of a typical receiver
[G]: 202 ``{"status": "accepted", ...}``, 401 on a wrong or missing header,
400 when the body is not JSON. It also takes what a Notifications Webhook v2
sends: POST, PUT or PATCH, to the receiver's URL or a sub-path of it (up to
``SUB_PATH_DEPTH`` segments), kept under the receiver id.
"""

from __future__ import annotations

import copy
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from bp_integrate.bigpanda.webhook import event_of, incident_of

from .context import (
    BodyError,
    json_response,
    outcome,
    read_json,
    same_secret,
    settings_of,
    target_state,
)
from .target import MAX_TARGET_RECORDS, Kept, Route, Target, TargetSettings, TargetState
from .wire import Request, Response

RECEIVE_PATH = "/webhook/{receiver_id}"
#: How many path segments a Webhook v2 sub-path may add under a receiver's URL (the
#: emulator's router matches one segment per placeholder, as aiohttp's does).
SUB_PATH_DEPTH = 6
#: The methods a Webhook v2 trigger may use (BigPanda's Notifications API reference).
RECEIVE_METHODS = ("POST", "PUT", "PATCH")
#: Bodies kept per receiver (older ones are counted, not kept).
KEPT_BODIES = 20


@dataclass(frozen=True)
class WebhookSettings(TargetSettings):
    """The receiver id handed out and the Authorization value it requires (demo values)."""

    webhook_receiver_id: str = "demo"
    webhook_auth_header: str = "Bearer demo-webhook-token"

    def secrets(self) -> tuple[str, ...]:
        value = self.webhook_auth_header
        _, _, credential = value.partition(" ")
        return tuple(s for s in (value, credential.strip()) if s)


@dataclass
class _Receiver:
    received: int
    last_at: float
    bodies: deque[Any]


class WebhookState(TargetState):
    """What each receiver id accepted: a count and the newest bodies."""

    def __init__(self, lock: Any) -> None:
        super().__init__(lock)
        self._receivers: dict[str, _Receiver] = {}
        #: Every kept body of every receiver, by its id: the newest within the target's
        #: budget (target.Kept), so many receivers cannot each keep 20 large bodies.
        self._bodies: Kept[tuple[str, Any]] = Kept()

    def webhook_received(self, receiver_id: str, body: Any, now: float) -> int:
        """Keep one accepted body; return how many this receiver accepted so far."""
        with self._lock:
            receiver = self._receivers.get(receiver_id)
            if receiver is None:
                receiver = _Receiver(0, now, deque(maxlen=KEPT_BODIES))
                self._receivers[receiver_id] = receiver
                if len(self._receivers) > MAX_TARGET_RECORDS:  # the least recently made
                    del self._receivers[next(iter(self._receivers))]
            receiver.received += 1
            receiver.last_at = now
            entry = (receiver_id, body)
            receiver.bodies.append(entry)
            for gone in self._bodies.append(entry):
                owner = self._receivers.get(gone[0])
                if owner is not None and owner.bodies and owner.bodies[0] is gone:
                    owner.bodies.popleft()
            return receiver.received

    def webhook_bodies(self, receiver_id: str) -> list[Any]:
        """The newest bodies ``receiver_id`` accepted, oldest first."""
        with self._lock:
            receiver = self._receivers.get(receiver_id)
            return copy.deepcopy([body for _, body in receiver.bodies]) if receiver else []

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "webhook": {
                    "receivers": [
                        {"receiver_id": rid, "received": r.received, "last_at": r.last_at}
                        for rid, r in self._receivers.items()
                    ]
                }
            }

    def reset(self) -> None:
        with self._lock:
            self._receivers.clear()
            self._bodies.clear()


def handle_receive(request: Request) -> Response:
    """``POST /webhook/{receiver_id}``: accept any JSON body."""
    oc = outcome(request)
    expected = settings_of(request, WebhookSettings).webhook_auth_header
    if expected and not same_secret(request.headers.get("Authorization"), expected):
        oc.reject("not authenticated: missing or wrong Authorization header")
        return json_response({"status": "error", "message": "Unauthorized"}, status=401)
    try:
        body = read_json(request)
    except BodyError as exc:
        oc.reject(str(exc))
        return json_response({"status": "error", "message": str(exc)}, status=400)
    receiver_id = request.match_info["receiver_id"]
    if isinstance(body, dict):
        incident = incident_of(body)
        raw_id = incident.get("id")
        oc.key = str(raw_id) if isinstance(raw_id, (str, int)) else None
        oc.action = event_of(body)
    count = target_state(request, WebhookState).webhook_received(receiver_id, body, time.time())
    oc.note = f"accepted by receiver {receiver_id} ({count} so far)"
    return json_response(
        {"status": "accepted", "receiver_id": receiver_id, "received": count}, status=202
    )


def _routes() -> tuple[Route, ...]:
    """POST to the receiver's URL (the classic webhook), and every method a Webhook v2
    trigger may use to it or a sub-path of it."""
    routes = [Route("POST", RECEIVE_PATH, "webhook_receive", handle_receive)]
    for depth in range(SUB_PATH_DEPTH + 1):
        path = RECEIVE_PATH + "".join(f"/{{sub{i}}}" for i in range(depth))
        for method in RECEIVE_METHODS:
            if depth or method != "POST":
                name = f"webhook_receive_{method.lower()}_{depth}"
                routes.append(Route(method, path, name, handle_receive))
    return tuple(routes)


def _url(base: str, settings: WebhookSettings) -> str:
    return base + RECEIVE_PATH.format(receiver_id=settings.webhook_receiver_id)


def _install_values(base: str, config: Any) -> dict[str, dict[str, str]]:
    settings = config.of(WebhookSettings)
    values = {"url": _url(base, settings)}
    if settings.webhook_auth_header:
        values["auth_header"] = settings.webhook_auth_header
    return {"webhook": values}


def _credentials(settings: WebhookSettings) -> str:
    header = settings.webhook_auth_header
    return f"Webhook receiver: Authorization: {header}" if header else "Webhook receiver: no auth"


def _summary(snapshot: dict[str, Any]) -> list[str]:
    return [
        f"Webhook receiver {r['receiver_id']}: {r['received']} body(ies) accepted"
        for r in snapshot["webhook"]["receivers"]
    ]


TARGET = Target(
    name="webhook",
    order=40,
    routes=_routes(),
    path_prefixes=("/webhook/",),
    settings=WebhookSettings,
    state=WebhookState,
    urls=lambda base, settings: {"webhook": _url(base, settings)},
    install_values=_install_values,
    credentials=_credentials,
    summary=_summary,
)
