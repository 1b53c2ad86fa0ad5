"""The emulator's request handling: routes, request log, faults, introspection.

This module owns :class:`Emulator`, which routes a whole :class:`~.wire.Request`
to the handler of a registered target (see :mod:`.target`), applies injected
faults, turns 404/405 into JSON, and appends one masked :class:`ReceivedRecord`
per request to the state; :func:`aiohttp_handler` is the one adapter between it
and aiohttp's server, and :func:`build_app` the ``aiohttp.web.Application`` that
:mod:`.server` runs and others may embed. It also owns the introspection
endpoints, which are neither recorded nor subject to faults:

* ``GET /_received`` (``?since=<seq>``): the request log, oldest first (the newest
  ``EmulatorState.max_records`` requests; ``/_state`` counts them all);
* ``GET /_state``: what each emulated target ended with;
* ``POST /_reset``: forget everything (log, targets, rate windows, faults);
* ``POST /_faults`` / ``GET /_faults`` / ``DELETE /_faults``: queue, list, clear faults.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from .capture import CaptureFile
from .config import EmulatorConfig
from .context import BodyError, json_response, parsed_body, read_json
from .records import clean, printable, raw_request
from .state import EmulatorState, Fault, FaultQueueFull
from .target import Target, target_for_path, targets
from .wire import Match, Outcome, Request, Response, Router, decoded_path

if TYPE_CHECKING:
    from aiohttp import StreamReader, web

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


# ------------------------------------------------------------ served by aiohttp
#: A handler's bug (answered 500) and malformed requests (aiohttp's 400s) are logged
#: here, not to stderr: a client must not be able to fill the receiver's terminal.
#: Configured logging (the debug switch) still gets them through propagation.
log = logging.getLogger("bp_integrate.emulator.http")
log.addHandler(logging.NullHandler())


class _PrintableLog(logging.Filter):
    """Escapes what a client sent (a path, a bad request line) in every line this logger
    writes, so that no request can forge or colour a line of the receiver's log (a
    traceback keeps its line breaks; the rest of its control characters are escaped)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = printable(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = "\n".join(map(printable, formatted.split("\n")))
        return True


log.addFilter(_PrintableLog())

#: aiohttp's limits on the request head, named here because users meet them: the
#: request line (``max_line_size``), one header line (``max_field_size``) and the
#: number of header fields (``max_headers``). Past them aiohttp answers 400 or 431.
MAX_LINE_BYTES = 8190
MAX_FIELD_BYTES = 8190
MAX_HEADERS = 128
#: Headers aiohttp writes itself: a handler's (or a fault's) own are dropped.
_COMPUTED = frozenset({"content-length", "transfer-encoding", "date", "connection"})

AiohttpHandler = Callable[["web.BaseRequest"], Awaitable["web.StreamResponse"]]


def connection_settings(config: EmulatorConfig) -> dict[str, Any]:
    """Keyword arguments of aiohttp's connection handler (``web.Server``,
    ``AppRunner`` or ``Application(handler_args=...)``): the emulator's idle timeout
    as aiohttp's keep-alive timeout (it also closes a connection whose request head
    never ends), and the limits above."""
    return {
        "keepalive_timeout": config.idle_timeout,
        "max_line_size": MAX_LINE_BYTES,
        "max_field_size": MAX_FIELD_BYTES,
        "max_headers": MAX_HEADERS,
    }


def aiohttp_handler(emulator: Emulator) -> AiohttpHandler:
    """The one adapter between aiohttp and the emulator: aiohttp's request in
    (its body read once, bounded by ``max_body_bytes`` and ``body_timeout``), a
    :class:`~.wire.Request` to :meth:`Emulator.handle`, its :class:`~.wire.Response`
    out as aiohttp's. Works as a ``web.Server`` handler and as an application route.
    """
    from aiohttp import web

    max_body = emulator.config.max_body_bytes
    body_timeout = emulator.config.body_timeout

    async def serve(request: web.BaseRequest) -> web.StreamResponse:
        if request.version.major != 1:  # aiohttp's parser lets "HTTP/2.0" through; nginx: 505
            message = {"status": 505, "message": "Only HTTP/1.1 and HTTP/1.0 are served here"}
            return _to_aiohttp(web.Response, json_response(message, 505, {"Connection": "close"}))
        url = request.rel_url
        path, routed = decoded_path(url.raw_path)
        transport = request.transport
        whole = Request(
            request.method,
            path,
            url.raw_query_string,
            request.headers,
            b"",
            emulator,
            abort=transport.abort if transport is not None else None,
            routed=routed,
        )
        length = request.content_length
        if length is not None and length > max_body:  # refused before the body is read
            return _to_aiohttp(web.Response, emulator.refuse_body(whole, 413, length))
        content = request.content
        body: bytes | int
        try:
            if content.is_eof():  # the usual case: the body came with the head, all read
                body = content.read_nowait()
                if len(body) > max_body:
                    body = len(body)
            else:
                async with asyncio.timeout(body_timeout):
                    body = await _read_body(content, max_body)
        except TimeoutError:
            return _to_aiohttp(web.Response, emulator.refuse_body(whole, 408))
        except web.RequestPayloadError as exc:  # e.g. broken chunked encoding
            log.debug("malformed request body: %s", exc)
            message = {"status": 400, "message": f"Malformed request body: {exc}"}
            return _to_aiohttp(web.Response, json_response(message, 400, {"Connection": "close"}))
        if isinstance(body, int):
            return _to_aiohttp(web.Response, emulator.refuse_body(whole, 413, body))
        whole.body = body
        try:
            answer = emulator.handle(whole)
            if answer is not None and not isinstance(answer, Response):
                answer = await answer
        except Exception:  # a bug of ours: the client gets a 500, the log the traceback
            log.exception("emulator failed on %s %s", whole.method, whole.path)
            answer = json_response(
                {"status": 500, "message": "the emulator failed on this request (see its log)"},
                status=500,
            )
        if answer is None:
            # Dropped on purpose (a fault): the transport is aborted, so aiohttp
            # writes nothing of this and processes nothing pipelined after it.
            return web.Response(status=500)
        return _to_aiohttp(web.Response, answer)

    return serve


async def _read_body(content: StreamReader, limit: int) -> bytes | int:
    """The whole body, or (once it passes ``limit``) how many bytes had come."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await content.readany():
        size += len(chunk)
        if size > limit:
            return size
        chunks.append(chunk)
    if len(chunks) == 1:
        return chunks[0]
    return b"".join(chunks)


def _to_aiohttp(make: type[web.Response], answer: Response) -> web.Response:
    """`answer` as aiohttp's `make` (web.Response: the caller imported aiohttp)."""
    if not answer.headers:  # most answers: a body and its type
        kind = answer.content_type
        return make(
            status=answer.status,
            body=answer.body or None,
            headers={"Content-Type": kind} if kind is not None else None,
        )
    headers: dict[str, str] = {}
    close = False
    for name, value in answer.headers.items():
        lowered = name.lower()
        if lowered in _COMPUTED:
            close = close or (lowered == "connection" and value.lower() == "close")
            continue
        headers[name] = value
    if answer.content_type is not None and "Content-Type" not in headers:
        headers["Content-Type"] = answer.content_type
    response = make(status=answer.status, body=answer.body or None, headers=headers)
    if close:
        response.force_close()
    return response


def build_app(
    config: EmulatorConfig | None = None,
    state: EmulatorState | None = None,
    capture: CaptureFile | None = None,
) -> web.Application:
    """The emulator as an ``aiohttp.web.Application``, for embedding it in an aiohttp server.

    ``aiohttp.web.run_app`` or an ``AppRunner`` runs it (``handler_args`` carry the idle
    timeout and the limits on the request head); :class:`~.server.EmulatorServer` runs
    the same adapter under aiohttp's low-level server (:func:`build_server`). One
    catch-all route hands every request to :func:`aiohttp_handler`; aiohttp answers
    ``Expect: 100-continue``. With ``capture``, every request a target received is also
    appended to it in full (see :mod:`.capture`).
    """
    from aiohttp import web

    emulator = Emulator(config, state, capture)
    app = web.Application(handler_args=connection_settings(emulator.config))
    # [\s\S], not ".": a path may hold a line break (%0a), and must reach the emulator
    # like any other (recorded, answered in JSON), not aiohttp's plain-text 404.
    app.router.add_route("*", r"/{tail:[\s\S]*}", aiohttp_handler(emulator))
    return app


def build_server(
    config: EmulatorConfig | None = None,
    state: EmulatorState | None = None,
    capture: CaptureFile | None = None,
) -> web.Server:
    """The emulator as aiohttp's low-level ``web.Server``: what
    :class:`~.server.EmulatorServer` runs.

    The same adapter as :func:`build_app` without the application's router, which
    only ever chose the one catch-all route (about a tenth of a request's CPU under
    load). ``Expect: 100-continue`` is answered by aiohttp's own expect handler, as an
    application route does.
    """
    from aiohttp import hdrs, web

    emulator = Emulator(config, state, capture)
    handler = aiohttp_handler(emulator)
    # A route of aiohttp's, for its expect handler only (nothing is routed by it).
    route = web.ResourceRoute("*", handler, web.PlainResource("/"))

    async def serve(request: web.BaseRequest) -> web.StreamResponse:
        if request.headers.get(hdrs.EXPECT):  # as web.Application does, before the handler
            answer = await route.handle_expect_header(cast("web.Request", request))
            await request.writer.drain()
            if answer is not None:
                return answer
        return await handler(request)

    return web.Server(serve, access_log=None, logger=log, **connection_settings(emulator.config))
