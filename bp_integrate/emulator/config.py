"""Emulator settings: what the whole server enforces, plus each target's own settings.

This module owns :class:`EmulatorConfig`: the limits every route shares (body
size, JSON depth, a default rate limit) and one settings object per emulated
target, built from the keyword arguments that target's settings declare
(``EmulatorConfig(xmatters_api_key=...)`` reaches the xMatters target's
settings; ``config.xmatters_api_key`` reads it back). It also owns
:func:`endpoint_urls`, every target's ready-to-use URLs under a base URL.
Every value is a demo value: none is a real credential for any real service.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from .target import TargetSettings, targets

#: Every request body is bounded by this by default (larger → 413).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: JSON nested deeper than this is refused as the target refuses malformed JSON.
DEFAULT_MAX_JSON_DEPTH = 64
#: A connection with no complete request for this long is closed: idle keep-alive
#: connections and clients that trickle their headers alike.
DEFAULT_IDLE_TIMEOUT = 15.0
#: A request whose body does not arrive within this is answered 408.
DEFAULT_BODY_TIMEOUT = 30.0

_S = TypeVar("_S", bound=TargetSettings)


class EmulatorConfig:
    """What the emulator accepts. The defaults are fixed demo values, not secrets.

    ``max_body_bytes`` bounds every request body (larger → 413; a target may
    bound its own route further); ``max_json_depth`` bounds nesting (deeper → the
    target's own 400). ``rate_limit`` is accepted events per minute per key for
    the targets that throttle (``None``: off; a target's own setting wins).
    ``idle_timeout`` closes a connection with no complete request for that long
    (idle keep-alive, or headers trickled in); ``body_timeout`` answers 408 to a
    body that does not arrive in time. Every other keyword is a field of one
    target's settings.
    """

    def __init__(
        self,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
        rate_limit: int | None = None,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        **target_settings: Any,
    ) -> None:
        if max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
        if max_json_depth < 2:
            raise ValueError("max_json_depth must be at least 2")
        if rate_limit is not None and rate_limit < 1:
            raise ValueError("rate_limit must be at least 1 (or None for no limit)")
        if not 0 < idle_timeout <= 3600 or not 0 < body_timeout <= 3600:
            raise ValueError("idle_timeout and body_timeout must be from 0 to 3600 seconds")
        self.idle_timeout = idle_timeout
        self.body_timeout = body_timeout
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.rate_limit = rate_limit
        remaining = dict(target_settings)
        self._settings: dict[str, TargetSettings] = {}
        for target in targets():
            names = {f.name for f in dataclasses.fields(target.settings)}  # type: ignore[arg-type]
            mine = {name: remaining.pop(name) for name in list(remaining) if name in names}
            self._settings[target.name] = target.settings(**mine)
        if remaining:
            raise TypeError(f"unknown emulator setting(s): {', '.join(sorted(remaining))}")
        # Asked on every request (to mask what is recorded): computed once.
        self._secrets = tuple(s for value in self._settings.values() for s in value.secrets() if s)

    def settings(self, target_name: str) -> Any:
        """The settings object of the target called ``target_name``."""
        return self._settings[target_name]

    def of(self, kind: type[_S]) -> _S:
        """The settings object of type ``kind`` (typed access for a target's handlers)."""
        for value in self._settings.values():
            if isinstance(value, kind):
                return value
        raise LookupError(f"no emulated target has settings of type {kind.__name__}")

    def __getattr__(self, name: str) -> Any:
        # Compatibility: config.xmatters_api_key and the like read the target's settings.
        if name.startswith("_"):
            raise AttributeError(name)
        for value in self.__dict__.get("_settings", {}).values():
            if hasattr(value, name):
                return getattr(value, name)
        raise AttributeError(f"EmulatorConfig has no setting {name!r}")

    def secrets(self) -> tuple[str, ...]:
        """Every secret value this config holds, to scrub from anything echoed back."""
        return self._secrets

    def __repr__(self) -> str:
        return (
            f"EmulatorConfig(max_body_bytes={self.max_body_bytes}, "
            f"max_json_depth={self.max_json_depth}, rate_limit={self.rate_limit})"
        )


def endpoint_urls(base_url: str, config: EmulatorConfig | None = None) -> dict[str, str]:
    """Ready-to-use URLs of every emulated endpoint under ``base_url`` (no secrets in them)."""
    cfg = config if config is not None else EmulatorConfig()
    base = base_url.rstrip("/")
    urls: dict[str, str] = {}
    for target in targets():
        urls.update(target.urls(base, cfg.settings(target.name)))
    urls["received"] = base + "/_received"
    urls["state"] = base + "/_state"
    return urls
