"""The emulator's request handling: routes, request log, faults, introspection.

This module owns :class:`Emulator`, which routes a whole :class:`~.wire.Request`
to the handler of a registered target (see :mod:`.target`), applies injected
faults, turns 404/405 into JSON, and appends one masked :class:`ReceivedRecord`
per request to the state; :mod:`.protocol` serves it over HTTP, and
:func:`build_app` serves the same from an ``aiohttp.web.Application`` for those who
embed it in one. It also owns the introspection endpoints, which are neither
recorded nor subject to faults:

* ``GET /_received`` (``?since=<seq>``): the request log, oldest first (the newest
  ``EmulatorState.max_records`` requests; ``/_state`` counts them all);
* ``GET /_state``: what each emulated target ended with;
* ``POST /_reset``: forget everything (log, targets, rate windows, faults);
* ``POST /_faults`` / ``GET /_faults`` / ``DELETE /_faults``: queue, list, clear faults.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from .capture import CaptureFile
from .config import EmulatorConfig
from .context import BodyError, Outcome, json_response, parsed_body, read_json
from .records import clean, raw_request
from .state import EmulatorState, Fault, FaultQueueFull
from .target import Target, target_for_path, targets
from .wire import Match, Request, Response, Router, decoded_path

if TYPE_CHECKING:
    from aiohttp import web

#: Requests one fault may apply to.
MAX_TIMES = 1_000_000
#: A header name (RFC 9110 token) and value (visible Latin-1, spaces and tabs) a fault may set.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
#: What :meth:`Emulator.handle` gives back: an answer, ``None`` for a connection
#: dropped on purpose, or (for an injected delay) something to await for either.
Answer = Response | None | Awaitable[Response | None]


def _known_routes() -> list[str]:
    return [f"{route.method} {route.path}" for target in targets() for route in target.routes]


def _no_route(request: Request, match: Match) -> tuple[Response, str]:
    """The JSON 404 or 405 for a request no route takes, and its message."""
    if match.allowed:
        status, message = 405, f"Method {request.method} not allowed on {request.path}"
        headers: dict[str, str] | None = {"Allow": ",".join(match.allowed)}
    else:
        status, message = 404, f"No emulated endpoint at {request.method} {request.path}"
        headers = None
    body = {"status": status, "message": message, "known_routes": _known_routes()}
    return json_response(body, status=status, headers=headers), message


def _fault_response(fault: Fault) -> Response:
    status = fault.status if fault.status is not None else 500
    if status in (204, 304):
        return Response(status, b"", dict(fault.headers))
    if isinstance(fault.body, str):  # text as given; a lone surrogate becomes "?"
        answer = Response(status, clean(fault.body).encode(), {}, "text/plain; charset=utf-8")
    else:
        body = fault.body
        if body is None:
            body = {"status": status, "message": "fault injected by the bp-integrate emulator"}
        answer = json_response(body, status=status)
    answer.headers.update(fault.headers)  # a fault's Content-Type wins over ours
    return answer


class Emulator:
    """Every emulated target behind one router, with the request log and faults.

    ``handle(request)`` answers a whole request; ``refuse_body(request, status)``
    answers one whose body never came whole (408) or was too large (413). Both
    record what happened, as the real service's request log would show it.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        state: EmulatorState | None = None,
        capture: CaptureFile | None = None,
    ) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self.state = state if state is not None else EmulatorState()
        self.capture = capture
        self.secrets = self.config.secrets()
        self.router = Router()
        self._owners: dict[str, Target] = {}
        for target in targets():
            for route in target.routes:
                self.router.add(route.method, route.path, route.name, route.handler)
                self._owners[route.name] = target
        for method, path, handler in (
            ("GET", "/_received", _received),
            ("GET", "/_state", _state),
            ("POST", "/_reset", _reset),
            ("POST", "/_faults", _add_fault),
            ("GET", "/_faults", _list_faults),
            ("DELETE", "/_faults", _clear_faults),
        ):
            self.router.add(method, path, path, handler)

    def handle(self, request: Request) -> Answer:
        """Answer ``request`` (its body read whole) and record it."""
        match = self.router.resolve(request.method, request.routed)
        request.route, request.match_info = match.name, match.match_info
        if request.path.startswith("/_"):
            return _no_route(request, match)[0] if match.handler is None else match.handler(request)
        received, started = time.time(), time.monotonic()
        oc = request.outcome = self._outcome(request, match)
        fault = self.state.take_fault(request.method, request.path)
        if fault is not None and fault.delay > 0:
            return self._delayed(request, match, oc, fault, received, started)
        return self._answer(request, match, oc, fault, received, started)

    def refuse_body(self, request: Request, status: int, body_bytes: int = 0) -> Response:
        """The 408 (body not received in time) or 413 (body too large) for ``request``,
        recorded like any other answer (``request.body`` is empty)."""
        match = self.router.resolve(request.method, request.routed)
        request.route, request.match_info = match.name, match.match_info
        if status == 408:
            timeout = self.config.body_timeout
            reason = f"request body not received within {timeout:g} s"
            message = f"Request body not received within {timeout:g} seconds"
        else:
            limit = self.config.max_body_bytes
            reason = f"request body larger than {limit} bytes"
            message = f"Request body too large: the limit is {limit} bytes"
        answer = json_response(
            {"status": status, "message": message}, status=status, headers={"Connection": "close"}
        )
        if request.path.startswith("/_"):
            return answer
        received, started = time.time(), time.monotonic()
        oc = request.outcome = self._outcome(request, match)
        oc.reject(reason)
        self._record(request, oc, status, received, started, None, body_bytes=body_bytes)
        return answer

    # ----------------------------------------------------------------- private
    def _outcome(self, request: Request, match: Match) -> Outcome:
        owner = self._owners.get(match.name)
        if owner is None:
            return Outcome(target=target_for_path(request.path), route=match.name or "unknown")
        oc = Outcome(target=owner.name, route=match.name)
        if owner.label is not None:
            label = owner.label(request, self.config.settings(owner.name))
            if label is not None:
                oc.target, oc.route = label
        return oc

    async def _delayed(
        self,
        request: Request,
        match: Match,
        oc: Outcome,
        fault: Fault,
        received: float,
        started: float,
    ) -> Response | None:
        await asyncio.sleep(fault.delay)
        return self._answer(request, match, oc, fault, received, started)

    def _answer(
        self,
        request: Request,
        match: Match,
        oc: Outcome,
        fault: Fault | None,
        received: float,
        started: float,
    ) -> Response | None:
        described = fault.describe() if fault is not None else None
        if fault is not None:
            if fault.drop:
                oc.reject("not processed: connection dropped (injected fault)")
                self._record(request, oc, None, received, started, described)
                if request.abort is not None:
                    request.abort()
                return None  # nothing more to say on a dropped connection
            if fault.status is not None:
                oc.reject(f"not processed: injected fault answered {fault.status}")
                response = _fault_response(fault)
                self._record(request, oc, response.status, received, started, described)
                return response
        if match.handler is None:
            answer, message = _no_route(request, match)
            oc.reject(message)
        else:
            answer = match.handler(request)
        self._record(request, oc, answer.status, received, started, described)
        return answer

    def _record(
        self,
        request: Request,
        oc: Outcome,
        status: int | None,
        received: float,
        started: float,
        fault: str | None,
        body_bytes: int | None = None,
    ) -> None:
        secrets = self.secrets
        body = request.body
        if self.capture is not None:
            self.capture.write(
                timestamp=received,
                method=request.method,
                path=request.path,
                query_string=request.query_string,
                headers=request.headers,
                body=body,
                target=oc.target,
                route=oc.route,
                status=status,
                secrets=secrets,
                parsed=parsed_body(request),
            )
        self.state.add_record(
            time=received,
            method=request.method,
            target=oc.target,
            route=oc.route,
            status=status,
            valid=oc.valid,
            action=oc.action,
            body_bytes=len(body) if body_bytes is None else body_bytes,
            fault=fault,
            duration_ms=(time.monotonic() - started) * 1000.0,
            raw=raw_request(
                path=request.path,
                query=request.query_string,
                headers=request.headers,
                body=body,
                parsed=parsed_body(request),
                errors=oc.errors,
                note=oc.note,
                key=oc.key,
                secrets=secrets,
            ),
        )


# --------------------------------------------------------------- introspection
def _received(request: Request) -> Response:
    try:
        since = int(request.query.get("since", "0"))
    except ValueError:
        return json_response({"status": 400, "message": "since must be an integer"}, status=400)
    return json_response([r.to_json() for r in request.app.state.records(since)])


def _state(request: Request) -> Response:
    return json_response(request.app.state.snapshot())


def _reset(request: Request) -> Response:
    request.app.state.reset()
    return json_response({"status": "reset"})


def parse_fault(spec: Any) -> tuple[dict[str, Any], list[str]]:
    """Validate a ``POST /_faults`` body; return keyword arguments and errors."""
    if not isinstance(spec, dict):
        return {}, ["fault must be a JSON object"]
    errors: list[str] = []
    known = {"path_prefix", "status", "times", "headers", "body", "delay", "drop", "method"}
    errors.extend(f"unknown field {k!r}" for k in sorted(set(spec) - known))
    prefix = spec.get("path_prefix")
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        errors.append("path_prefix must be a string starting with '/'")
    status = spec.get("status", 500)
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599
    ):
        # 1xx are interim answers: sent alone they leave the client waiting for the real one.
        errors.append("status must be an integer from 200 to 599, or null (delay only)")
    times = spec.get("times", 1)
    if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= MAX_TIMES:
        errors.append(f"times must be an integer from 1 to {MAX_TIMES}")
    headers = spec.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        errors.append("headers must be an object of strings")
    else:
        errors.extend(
            f"header name {k!r} is not an HTTP token" for k in headers if not _TOKEN.fullmatch(k)
        )
        errors.extend(
            f"header {k!r}: the value must be printable Latin-1 text"
            for k, v in headers.items()
            if not _FIELD_VALUE.fullmatch(v)
        )
    delay = spec.get("delay", 0.0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 60:
        errors.append("delay must be a number of seconds from 0 to 60")
    drop = spec.get("drop", False)
    if not isinstance(drop, bool):
        errors.append("drop must be true or false")
    method = spec.get("method")
    if method is not None and not isinstance(method, str):
        errors.append("method must be a string")
    if errors:
        return {}, errors
    return {
        "path_prefix": prefix,
        "status": status,
        "times": times,
        "headers": headers,
        "body": spec.get("body"),
        "delay": float(delay),
        "drop": drop,
        "method": method,
    }, []


def _add_fault(request: Request) -> Response:
    try:
        spec = read_json(request)
    except BodyError as exc:
        return json_response({"status": 400, "message": str(exc)}, status=400)
    kwargs, errors = parse_fault(spec)
    if errors:
        return json_response(
            {"status": 400, "message": "invalid fault", "errors": errors}, status=400
        )
    path_prefix = kwargs.pop("path_prefix")
    try:
        fault = request.app.state.add_fault(path_prefix, **kwargs)
    except FaultQueueFull as exc:
        return json_response({"status": 409, "message": str(exc)}, status=409)
    return json_response(fault.to_json(), status=201)


def _list_faults(request: Request) -> Response:
    return json_response([f.to_json() for f in request.app.state.faults()])


def _clear_faults(request: Request) -> Response:
    return json_response({"cleared": request.app.state.clear_faults()})


def build_app(
    config: EmulatorConfig | None = None,
    state: EmulatorState | None = None,
    capture: CaptureFile | None = None,
) -> web.Application:
    """The emulator as an aiohttp application, for embedding it in an aiohttp server.

    The same :class:`Emulator` answers as from :class:`~.server.EmulatorServer`
    (which serves it with :mod:`.protocol`, about three times cheaper a request).
    With ``capture``, every request a target received is also appended to it in
    full (see :mod:`.capture`).
    """
    from aiohttp import web

    emulator = Emulator(config, state, capture)
    app = web.Application(client_max_size=emulator.config.max_body_bytes)

    async def serve(request: web.Request) -> web.StreamResponse:
        transport = request.transport
        path, routed = decoded_path(request.rel_url.raw_path)
        whole = Request(
            request.method,
            path,
            request.rel_url.raw_query_string,
            request.headers,
            b"",
            emulator,
            abort=transport.abort if transport is not None else None,
            routed=routed,
        )
        try:
            if request.content.is_eof():
                whole.body = await request.read()
            else:
                async with asyncio.timeout(emulator.config.body_timeout):
                    whole.body = await request.read()
        except TimeoutError:
            return _to_aiohttp(emulator.refuse_body(whole, 408))
        except web.HTTPRequestEntityTooLarge:
            return _to_aiohttp(emulator.refuse_body(whole, 413, request.content_length or 0))
        answer = emulator.handle(whole)
        if not isinstance(answer, Response) and answer is not None:
            answer = await answer
        if answer is None:
            raise asyncio.CancelledError  # the connection was dropped on purpose
        return _to_aiohttp(answer)

    app.router.add_route("*", "/{tail:.*}", serve)
    return app


def _to_aiohttp(answer: Response) -> web.Response:
    from aiohttp import web

    headers = dict(answer.headers)
    if answer.content_type is not None and "Content-Type" not in headers:
        headers["Content-Type"] = answer.content_type
    return web.Response(status=answer.status, body=answer.body or None, headers=headers)
