"""Plumbing shared by the emulator's route handlers.

This module owns the typed aiohttp application keys (config, state), the
per-request :class:`Outcome` a handler fills in so the recording middleware can
log what happened, and small helpers for JSON answers, JSON bodies (parsed once
per request, nesting bounded by ``EmulatorConfig.max_json_depth``) and
constant-time credential checks.
"""

from __future__ import annotations

import contextvars
import hmac
import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from .capture import CaptureFile
from .config import EmulatorConfig
from .records import NOT_PARSED, json_depth
from .state import EmulatorState
from .target import TargetSettings, TargetState

CONFIG_KEY = web.AppKey("bp_emulator_config", EmulatorConfig)
CAPTURE_KEY = web.AppKey("bp_emulator_capture", CaptureFile)
STATE_KEY = web.AppKey("bp_emulator_state", EmulatorState)
_PARSED_KEY: web.RequestKey[Any] = web.RequestKey("bp_emulator_json", object)
_S = TypeVar("_S", bound=TargetState)
_C = TypeVar("_C", bound=TargetSettings)
_OUTCOME: contextvars.ContextVar[Outcome | None] = contextvars.ContextVar(
    "bp_emulator_outcome", default=None
)


@dataclass
class Outcome:
    """What a handler decided about one request, for the request log."""

    target: str
    route: str
    valid: bool = True
    errors: list[str] = field(default_factory=list)
    note: str = ""
    key: str | None = None
    action: str | None = None

    def reject(self, *errors: str) -> None:
        self.valid = False
        self.errors.extend(errors)


def outcome(request: web.Request) -> Outcome:
    """The current request's :class:`Outcome` (created if the middleware did not).

    Kept in a context variable: the middleware and the handler run in the same
    task, so each request sees its own.
    """
    found = _OUTCOME.get()
    if found is None:
        found = Outcome(target="unknown", route="unknown")
        _OUTCOME.set(found)
    return found


def set_outcome(request: web.Request, value: Outcome) -> None:
    """Make ``value`` the current request's :class:`Outcome`."""
    _OUTCOME.set(value)


def config_of(request: web.Request) -> EmulatorConfig:
    return request.app[CONFIG_KEY]


def state_of(request: web.Request) -> EmulatorState:
    return request.app[STATE_KEY]


def target_state(request: web.Request, kind: type[_S]) -> _S:
    """The state of the target whose state class is ``kind``."""
    return request.app[STATE_KEY].target(kind)


def settings_of(request: web.Request, kind: type[_C]) -> _C:
    """The settings of the target whose settings class is ``kind``."""
    return request.app[CONFIG_KEY].of(kind)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer with a stable, compact encoding (never fails on a lone surrogate)."""
    text = json.dumps(body, ensure_ascii=False)
    try:
        payload = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: JSON's \\u escapes carry it faithfully
        payload = json.dumps(body).encode("ascii")
    return web.Response(
        status=status,
        body=payload,
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


class BodyError(ValueError):
    """The request body is not the JSON that was expected."""


async def read_json(request: web.Request) -> Any:
    """The request body parsed as JSON; :class:`BodyError` with a human reason if not.

    Parsed once per request (handlers and the request log share it). Nesting
    deeper than the config's ``max_json_depth`` is a :class:`BodyError` too, so
    a hostile body gets the target's own 400, never a 500.
    """
    if _PARSED_KEY in request:
        cached = request[_PARSED_KEY]
        if isinstance(cached, BodyError):
            raise cached
        return cached
    try:
        value = parse_json(await request.read(), request.app[CONFIG_KEY].max_json_depth)
    except BodyError as exc:
        request[_PARSED_KEY] = exc
        raise
    request[_PARSED_KEY] = value
    return value


def parsed_body(request: web.Request) -> Any:
    """The JSON body a handler already parsed, or :data:`~.records.NOT_PARSED`."""
    cached = request.get(_PARSED_KEY, NOT_PARSED)
    return NOT_PARSED if isinstance(cached, BodyError) else cached


def parse_json(raw: bytes, max_depth: int) -> Any:
    """``raw`` parsed as JSON nested at most ``max_depth`` deep, or :class:`BodyError`."""
    if not raw.strip():
        raise BodyError("request body is empty; expected JSON")
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BodyError(f"request body is not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise BodyError(
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError:
        raise BodyError(f"request body is nested more than {max_depth} levels deep") from None
    # Fewer brackets than the limit cannot nest deeper: skip the walk for ordinary bodies.
    if raw.count(b"{") + raw.count(b"[") > max_depth and json_depth(value) > max_depth:
        raise BodyError(f"request body is nested more than {max_depth} levels deep")
    return value


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented credential with the expected one."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if there is one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
