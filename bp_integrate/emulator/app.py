"""The emulator's aiohttp application: routes, request log, faults, introspection.

This module owns :func:`build_app`, which wires the routes of every registered
target (see :mod:`.target`) into one ``aiohttp.web.Application``, and the
middleware around them that reads and bounds the body (413 past
``max_body_bytes``), applies injected faults, turns 404/405 into JSON, and
appends one masked :class:`ReceivedRecord` per request to the state. It also
owns the introspection endpoints, which are neither recorded nor subject to
faults:

* ``GET /_received`` (``?since=<seq>``): the request log, oldest first (the newest
  ``EmulatorState.max_records`` requests; ``/_state`` counts them all);
* ``GET /_state``: what each emulated target ended with;
* ``POST /_reset``: forget everything (log, targets, rate windows, faults);
* ``POST /_faults`` / ``GET /_faults`` / ``DELETE /_faults``: queue, list, clear faults.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .capture import CaptureFile
from .config import EmulatorConfig
from .context import (
    CAPTURE_KEY,
    CONFIG_KEY,
    STATE_KEY,
    BodyError,
    Outcome,
    config_of,
    json_response,
    parsed_body,
    read_json,
    set_outcome,
    state_of,
)
from .records import raw_request
from .state import EmulatorState, Fault, FaultQueueFull
from .target import Target, target_for_path, targets

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ROUTE_OWNERS: dict[str, Target] = {}
#: Requests one fault may apply to.
MAX_TIMES = 1_000_000


def _known_routes() -> list[str]:
    return [f"{route.method} {route.path}" for target in targets() for route in target.routes]


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    if exc.status == 404:
        message = f"No emulated endpoint at {request.method} {request.path}"
    elif exc.status == 405:
        message = f"Method {request.method} not allowed on {request.path}"
    else:
        message = exc.reason
    body: dict[str, Any] = {"status": exc.status, "message": message}
    if exc.status in (404, 405):
        body["known_routes"] = _known_routes()
    return json_response(body, status=exc.status, headers=headers)


def _fault_response(fault: Fault) -> web.Response:
    status = fault.status if fault.status is not None else 500
    headers = {"Content-Type": "application/json"}
    payload: bytes
    if fault.body is None:
        payload = json.dumps(
            {"status": status, "message": "fault injected by the bp-integrate emulator"}
        ).encode()
    elif isinstance(fault.body, str):
        headers["Content-Type"] = "text/plain; charset=utf-8"
        payload = fault.body.encode()
    else:
        payload = json.dumps(fault.body).encode()
    headers.update(fault.headers)
    if status in (204, 304) or 100 <= status < 200:
        return web.Response(status=status, headers=fault.headers)
    return web.Response(status=status, body=payload, headers=headers)


def _record(
    request: web.Request,
    oc: Outcome,
    status: int | None,
    body: bytes,
    received: float,
    started: float,
    fault: str | None,
    body_bytes: int | None = None,
) -> None:
    secrets = config_of(request).secrets()
    capture = request.app.get(CAPTURE_KEY)
    if capture is not None:
        capture.write(
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
        )
    state_of(request).add_record(
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


def _initial_outcome(request: web.Request) -> Outcome:
    route = request.match_info.route.name or "unknown"
    owner = _ROUTE_OWNERS.get(route)
    oc = Outcome(target=owner.name if owner else target_for_path(request.path), route=route)
    if owner is not None and owner.label is not None:
        label = owner.label(request, config_of(request).settings(owner.name))
        if label is not None:
            oc.target, oc.route = label
    return oc


@web.middleware
async def _emulator_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/_"):
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return _http_error(request, exc)
    received, started = time.time(), time.monotonic()
    oc = _initial_outcome(request)
    set_outcome(request, oc)
    try:
        if request.content.is_eof():  # the usual case: the whole body came with the headers
            body = await request.read()
        else:
            async with asyncio.timeout(config_of(request).body_timeout):
                body = await request.read()
    except TimeoutError:
        timeout = config_of(request).body_timeout
        oc.reject(f"request body not received within {timeout:g} s")
        _record(request, oc, 408, b"", received, started, None, body_bytes=0)
        return json_response(
            {"status": 408, "message": f"Request body not received within {timeout:g} seconds"},
            status=408,
            headers={"Connection": "close"},
        )
    except web.HTTPRequestEntityTooLarge:
        limit = config_of(request).max_body_bytes
        oc.reject(f"request body larger than {limit} bytes")
        _record(
            request, oc, 413, b"", received, started, None, body_bytes=request.content_length or 0
        )
        return json_response(
            {"status": 413, "message": f"Request body too large: the limit is {limit} bytes"},
            status=413,
        )
    fault = state_of(request).take_fault(request.method, request.path)
    if fault is not None:
        if fault.delay > 0:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            oc.reject("not processed: connection dropped (injected fault)")
            _record(request, oc, None, body, received, started, fault.describe())
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # nothing more to say on a dropped connection
        if fault.status is not None:
            oc.reject(f"not processed: injected fault answered {fault.status}")
            response = _fault_response(fault)
            _record(request, oc, response.status, body, received, started, fault.describe())
            return response
    try:
        answer = await handler(request)
    except web.HTTPException as exc:
        answer = _http_error(request, exc)
        oc.reject(str(json.loads(answer.text or "{}").get("message", exc.reason)))
    _record(
        request,
        oc,
        answer.status,
        body,
        received,
        started,
        fault.describe() if fault is not None else None,
    )
    return answer


# --------------------------------------------------------------- introspection
async def _received(request: web.Request) -> web.Response:
    try:
        since = int(request.query.get("since", "0"))
    except ValueError:
        return json_response({"status": 400, "message": "since must be an integer"}, status=400)
    return json_response([r.to_json() for r in state_of(request).records(since)])


async def _state(request: web.Request) -> web.Response:
    return json_response(state_of(request).snapshot())


async def _reset(request: web.Request) -> web.Response:
    state_of(request).reset()
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
        isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
    ):
        errors.append("status must be an integer from 100 to 599, or null (delay only)")
    times = spec.get("times", 1)
    if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= MAX_TIMES:
        errors.append(f"times must be an integer from 1 to {MAX_TIMES}")
    headers = spec.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        errors.append("headers must be an object of strings")
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


async def _add_fault(request: web.Request) -> web.Response:
    try:
        spec = await read_json(request)
    except BodyError as exc:
        return json_response({"status": 400, "message": str(exc)}, status=400)
    kwargs, errors = parse_fault(spec)
    if errors:
        return json_response(
            {"status": 400, "message": "invalid fault", "errors": errors}, status=400
        )
    path_prefix = kwargs.pop("path_prefix")
    try:
        fault = state_of(request).add_fault(path_prefix, **kwargs)
    except FaultQueueFull as exc:
        return json_response({"status": 409, "message": str(exc)}, status=409)
    return json_response(fault.to_json(), status=201)


async def _list_faults(request: web.Request) -> web.Response:
    return json_response([f.to_json() for f in state_of(request).faults()])


async def _clear_faults(request: web.Request) -> web.Response:
    return json_response({"cleared": state_of(request).clear_faults()})


def build_app(
    config: EmulatorConfig | None = None,
    state: EmulatorState | None = None,
    capture: CaptureFile | None = None,
) -> web.Application:
    """The emulator as an aiohttp application (serve it however you like).

    With ``capture``, every request a target received is also appended to it in
    full (see :mod:`.capture`).
    """
    cfg = config if config is not None else EmulatorConfig()
    app = web.Application(middlewares=[_emulator_middleware], client_max_size=cfg.max_body_bytes)
    app[CONFIG_KEY] = cfg
    app[STATE_KEY] = state if state is not None else EmulatorState()
    if capture is not None:
        app[CAPTURE_KEY] = capture
    for target in targets():
        for route in target.routes:
            app.router.add_route(route.method, route.path, route.handler, name=route.name)
            _ROUTE_OWNERS[route.name] = target
    app.router.add_get("/_received", _received)
    app.router.add_get("/_state", _state)
    app.router.add_post("/_reset", _reset)
    app.router.add_post("/_faults", _add_fault)
    app.router.add_get("/_faults", _list_faults)
    app.router.add_delete("/_faults", _clear_faults)
    return app
