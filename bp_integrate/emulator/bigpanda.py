"""The emulated BigPanda API calls the CLI makes (User API Key, Bearer auth).

This module owns ``GET /resources/v2.0/environments`` (the cheap key check) and
the Incidents API v2 calls ``POST .../environments/{env}/incidents/{id}/resolve``
(202, recorded as a resolution) and ``POST .../incidents/{id}/comments`` (204).
Error bodies are ``{"status": <code>, "message": ...}``.
"""

from __future__ import annotations

import time

from aiohttp import web

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


def _error(status: int, message: str) -> web.Response:
    return json_response({"status": status, "message": message}, status=status)


def _check(request: web.Request) -> web.Response | None:
    """The refusal to answer when the request's key or environment is wrong, else None."""
    oc = outcome(request)
    if not same_secret(bearer_token(request), config_of(request).bigpanda_api_key):
        oc.reject("not authenticated: missing or wrong 'Authorization: Bearer <User API Key>'")
        return _error(401, "Unauthorized")
    env = request.match_info.get("env_id")
    if env is not None and env not in {e for e, _ in config_of(request).bigpanda_environments}:
        oc.reject(f"no environment with id {env}")
        return _error(404, f"Environment {env} not found")
    return None


async def handle_environments(request: web.Request) -> web.Response:
    """``GET /resources/v2.0/environments``."""
    refused = _check(request)
    if refused is not None:
        return refused
    outcome(request).note = "key accepted"
    environments = config_of(request).bigpanda_environments
    items = [{"id": env_id, "name": name} for env_id, name in environments]
    return json_response({"items": items})


async def handle_resolve(request: web.Request) -> web.Response:
    """``POST /resources/v2.0/environments/{env_id}/incidents/{incident_id}/resolve``."""
    refused = _check(request)
    if refused is not None:
        return refused
    oc = outcome(request)
    oc.action = "resolve"
    oc.key = request.match_info["incident_id"]
    comments: str | None = None
    if (await request.read()).strip():
        try:
            body = await read_json(request)
        except BodyError as exc:
            oc.reject(str(exc))
            return _error(400, str(exc))
        if not isinstance(body, dict):
            oc.reject("request body must be a JSON object")
            return _error(400, "Request body must be a JSON object")
        raw = body.get("comments")
        if raw is not None and not isinstance(raw, str):
            oc.reject("comments must be a string")
            return _error(400, "comments must be a string")
        comments = raw
    state_of(request).bigpanda_resolve(request.match_info["env_id"], oc.key, comments, time.time())
    oc.note = "incident resolved"
    return web.Response(status=202)


async def handle_comment(request: web.Request) -> web.Response:
    """``POST /resources/v2.0/environments/{env_id}/incidents/{incident_id}/comments``."""
    refused = _check(request)
    if refused is not None:
        return refused
    oc = outcome(request)
    oc.action = "comment"
    oc.key = request.match_info["incident_id"]
    try:
        body = await read_json(request)
    except BodyError as exc:
        oc.reject(str(exc))
        return _error(400, str(exc))
    comment = body.get("comment") if isinstance(body, dict) else None
    if not isinstance(comment, str) or not comment.strip():
        oc.reject("comment must be a non-empty string")
        return _error(400, 'Body must be {"comment": "<non-empty string>"}')
    state_of(request).bigpanda_comment(request.match_info["env_id"], oc.key, comment, time.time())
    oc.note = "comment added"
    return web.Response(status=204)
