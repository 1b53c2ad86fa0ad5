"""The emulated BigPanda API calls the CLI makes (User API Key, Bearer auth).

This module owns ``GET /resources/v2.0/environments`` (the cheap key check) and
the Incidents API v2 calls ``POST .../environments/{env}/incidents/{id}/resolve``
(202, recorded as a resolution) and ``POST .../incidents/{id}/comments`` (204).
Error bodies are ``{"status": <code>, "message": ...}``. It also owns this
target's settings (the demo User API Key, the environments), its state
(resolutions and comments) and its ``TARGET``.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .context import (
    BodyError,
    bearer_token,
    json_response,
    outcome,
    read_json,
    same_secret,
    settings_of,
    target_state,
)
from .target import Route, Target, TargetSettings, TargetState

#: The BigPanda environments the emulated BigPanda API lists, as (id, name).
DEMO_BIGPANDA_ENVIRONMENTS: tuple[tuple[str, str], ...] = (
    ("64f0c0de0000000000000001", "Production"),
    ("64f0c0de0000000000000002", "Staging"),
)
BP_ENV = "/resources/v2.0/environments"


@dataclass(frozen=True)
class BigPandaSettings(TargetSettings):
    """The User API Key and environments the emulated BigPanda API knows (demo values)."""

    bigpanda_api_key: str = "demo-bigpanda-user-key"
    bigpanda_environments: tuple[tuple[str, str], ...] = DEMO_BIGPANDA_ENVIRONMENTS

    def __post_init__(self) -> None:
        if not self.bigpanda_api_key:
            raise ValueError("bigpanda_api_key may not be empty")

    def secrets(self) -> tuple[str, ...]:
        return (self.bigpanda_api_key,)


@dataclass
class BigPandaResolution:
    """A BigPanda incident resolved through the Incidents API v2."""

    environment_id: str
    incident_id: str
    comments: str | None
    received_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "environment_id": self.environment_id,
            "incident_id": self.incident_id,
            "comments": self.comments,
            "received_at": self.received_at,
        }


@dataclass
class BigPandaComment:
    """A comment added to a BigPanda incident through the Incidents API v2."""

    environment_id: str
    incident_id: str
    comment: str
    received_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "environment_id": self.environment_id,
            "incident_id": self.incident_id,
            "comment": self.comment,
            "received_at": self.received_at,
        }


class BigPandaState(TargetState):
    """Incidents resolved and comments added through the emulated Incidents API."""

    def __init__(self, lock: Any) -> None:
        super().__init__(lock)
        self._resolutions: list[BigPandaResolution] = []
        self._comments: list[BigPandaComment] = []

    def bigpanda_resolutions(self) -> list[BigPandaResolution]:
        with self._lock:
            return copy.deepcopy(self._resolutions)

    def bigpanda_comments(self) -> list[BigPandaComment]:
        with self._lock:
            return copy.deepcopy(self._comments)

    def bigpanda_resolve(
        self, environment_id: str, incident_id: str, comments: str | None, now: float
    ) -> None:
        with self._lock:
            self._resolutions.append(BigPandaResolution(environment_id, incident_id, comments, now))

    def bigpanda_comment(
        self, environment_id: str, incident_id: str, comment: str, now: float
    ) -> None:
        with self._lock:
            self._comments.append(BigPandaComment(environment_id, incident_id, comment, now))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "bigpanda": {
                    "resolved_incidents": [r.to_json() for r in self._resolutions],
                    "comments": [c.to_json() for c in self._comments],
                }
            }

    def reset(self) -> None:
        with self._lock:
            self._resolutions.clear()
            self._comments.clear()


def _error(status: int, message: str) -> web.Response:
    return json_response({"status": status, "message": message}, status=status)


def _check(request: web.Request) -> web.Response | None:
    """The refusal to answer when the request's key or environment is wrong, else None."""
    oc = outcome(request)
    if not same_secret(
        bearer_token(request), settings_of(request, BigPandaSettings).bigpanda_api_key
    ):
        oc.reject("not authenticated: missing or wrong 'Authorization: Bearer <User API Key>'")
        return _error(401, "Unauthorized")
    env = request.match_info.get("env_id")
    if env is not None and env not in {
        e for e, _ in settings_of(request, BigPandaSettings).bigpanda_environments
    }:
        oc.reject(f"no environment with id {env}")
        return _error(404, f"Environment {env} not found")
    return None


async def handle_environments(request: web.Request) -> web.Response:
    """``GET /resources/v2.0/environments``."""
    refused = _check(request)
    if refused is not None:
        return refused
    outcome(request).note = "key accepted"
    environments = settings_of(request, BigPandaSettings).bigpanda_environments
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
    target_state(request, BigPandaState).bigpanda_resolve(
        request.match_info["env_id"], oc.key, comments, time.time()
    )
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
    target_state(request, BigPandaState).bigpanda_comment(
        request.match_info["env_id"], oc.key, comment, time.time()
    )
    oc.note = "comment added"
    return web.Response(status=204)


def _summary(snapshot: dict[str, Any]) -> list[str]:
    section = snapshot["bigpanda"]
    resolved, comments = len(section["resolved_incidents"]), len(section["comments"])
    if not resolved and not comments:
        return []
    return [f"BigPanda: {resolved} incident(s) resolved, {comments} comment(s) added"]


TARGET = Target(
    name="bigpanda",
    order=90,
    routes=(
        Route("GET", BP_ENV, "bigpanda_environments", handle_environments),
        Route(
            "POST",
            BP_ENV + "/{env_id}/incidents/{incident_id}/resolve",
            "bigpanda_resolve",
            handle_resolve,
        ),
        Route(
            "POST",
            BP_ENV + "/{env_id}/incidents/{incident_id}/comments",
            "bigpanda_comment",
            handle_comment,
        ),
    ),
    path_prefixes=("/resources/",),
    settings=BigPandaSettings,
    state=BigPandaState,
    urls=lambda base, settings: {"bigpanda_api": base},
    install_values=lambda base, config: {},
    credentials=lambda settings: f"BigPanda API key {settings.bigpanda_api_key}",
    summary=_summary,
)
