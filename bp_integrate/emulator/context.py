"""Plumbing shared by the emulator's route handlers.

This module owns the per-request :class:`Outcome` a handler fills in so the
recording step can log what happened, typed access to the emulator's config,
state and per-target settings from a request, and small helpers for JSON
answers, JSON bodies (parsed once per request, nesting bounded by
``EmulatorConfig.max_json_depth``) and constant-time credential checks.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
from typing import Any, TypeVar

import orjson

from bp_integrate.loading import compact_json, finite_float

from .config import EmulatorConfig
from .records import NOT_PARSED, json_depth
from .state import EmulatorState
from .target import TargetSettings, TargetState
from .wire import Outcome, Request, Response

_S = TypeVar("_S", bound=TargetState)
_C = TypeVar("_C", bound=TargetSettings)


def outcome(request: Request) -> Outcome:
    """The request's :class:`Outcome` (created if the recording step did not)."""
    found = request.outcome
    if found is None:
        found = request.outcome = Outcome(target="unknown", route="unknown")
    return found


def config_of(request: Request) -> EmulatorConfig:
    config: EmulatorConfig = request.app.config
    return config


def state_of(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state
    return state


def target_state(request: Request, kind: type[_S]) -> _S:
    """The state of the target whose state class is ``kind``."""
    return state_of(request).target(kind)


def settings_of(request: Request, kind: type[_C]) -> _C:
    """The settings of the target whose settings class is ``kind``."""
    return config_of(request).of(kind)


#: The content type of every JSON answer.
JSON_TYPE = "application/json; charset=utf-8"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer, compact as the real services write theirs (`loading.compact_json`:
    never fails on a lone surrogate, which JSON's \\u escapes carry faithfully)."""
    return Response(status, compact_json(body), headers, JSON_TYPE)


class BodyError(ValueError):
    """The request body is not the JSON that was expected."""


def read_json(request: Request) -> Any:
    """The request body parsed as JSON; :class:`BodyError` with a human reason if not.

    Parsed once per request (handlers and the request log share it). Nesting
    deeper than the config's ``max_json_depth`` is a :class:`BodyError` too, so
    a hostile body gets the target's own 400, never a 500.
    """
    cached = request.parsed
    if cached is not NOT_PARSED:
        if isinstance(cached, BodyError):
            raise cached
        return cached
    try:
        value = parse_json(request.body, config_of(request).max_json_depth)
    except BodyError as exc:
        request.parsed = exc
        raise
    request.parsed = value
    return value


def parsed_body(request: Request) -> Any:
    """The JSON body a handler already parsed, or :data:`~.records.NOT_PARSED`."""
    cached = request.parsed
    return NOT_PARSED if isinstance(cached, BodyError) else cached


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


#: Digits as b"1", every other byte as b"0": a body's digit runs, found by one C scan
#: (`bytes.translate` and `in`, a few times faster than a regular expression).
_DIGITS = bytes(0x31 if 0x30 <= b <= 0x39 else 0x30 for b in range(256))
#: A run of digits orjson may read otherwise than the standard library: it reads an
#: integer beyond 64 bits (19 digits and more) as a float, where `json` keeps it exact.
_LONG_RUN = b"1" * 19


def _long_digits(raw: bytes) -> bool:
    return _LONG_RUN in raw.translate(_DIGITS)


def parse_json(raw: bytes, max_depth: int) -> Any:
    """``raw`` parsed as JSON nested at most ``max_depth`` deep, or :class:`BodyError`.

    orjson reads first (a few times faster); whatever it refuses, and any body with a
    19-digit run, is read again by the standard library, whose reading and messages
    are the rule (``tests/test_emulator_json.py`` holds the two to the same values).
    """
    if not raw.strip():
        raise BodyError("request body is empty; expected JSON")
    value: Any = NOT_PARSED
    if not _long_digits(raw):
        with contextlib.suppress(orjson.JSONDecodeError):
            value = orjson.loads(raw)
    if value is NOT_PARSED:
        value = _stdlib_json(raw, max_depth)
    # Fewer brackets than the limit cannot nest deeper: skip the walk for ordinary bodies.
    if raw.count(b"{") + raw.count(b"[") > max_depth and json_depth(value) > max_depth:
        raise BodyError(f"request body is nested more than {max_depth} levels deep")
    return value


def _stdlib_json(raw: bytes, max_depth: int) -> Any:
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_not_json, parse_float=finite_float)
    except UnicodeDecodeError as exc:
        raise BodyError(f"request body is not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise BodyError(
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except ValueError as exc:
        # What Python's reader refuses beyond JSON's grammar (an integer of more than
        # sys.get_int_max_str_digits(), 4,300, digits) or takes beyond it (NaN, Infinity,
        # 1e400 that would become Infinity: loading.finite_float, the strict readers' one
        # rule): a target refuses each as malformed.
        reason = str(exc).partition(";")[0]
        raise BodyError(f"request body is not JSON that can be read: {reason}") from exc
    except RecursionError:
        raise BodyError(f"request body is nested more than {max_depth} levels deep") from None


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented credential with the expected one."""
    if given is None:
        return False
    # surrogateescape: a header's bytes that are not UTF-8 arrive as lone surrogates.
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic`` header, or None (also when the
    header is not base64 of UTF-8)."""
    scheme, _, encoded = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII text alike
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if there is one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
