"""The key and host a target's side is reached with (install, uninstall, show): one
owner, so the three commands find the same key the same way and say where it came from."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import typer

from bp_integrate.errors import UsageError
from bp_integrate.integrations.base import Integration, TargetSide


def real_tty() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def bigpanda_key(profile: str) -> tuple[str, str] | None:
    """The profile's BigPanda User API key, with where it came from (its variable wins,
    as everywhere); None when there is none."""
    from bp_integrate import config
    from bp_integrate.secrets import as_store_kind, find_available

    kind = as_store_kind(config.load().bigpanda(profile).get("api_key_store"))
    found = find_available(kind, profile, "bigpanda", "api_key")
    if found is None or not found.value.strip():
        return None
    return found.value.strip(), found.variable or "the profile's BigPanda User API key"


def side_url(side: TargetSide, values: Mapping[str, str], profile: str) -> str:
    """The API's base URL: the profile's BigPanda host for BigPanda's own side, else
    what the integration's values say."""
    if side.uses_bigpanda:
        from bp_integrate import config

        return config.load().api_url(profile)
    return side.api_url(values)


def side_key(
    spec: Integration, side: TargetSide, profile: str, from_stdin: bool = False
) -> tuple[str, str] | None:
    """(key, where it came from) for the side's API: `--api-key-stdin` first; then, for
    BigPanda's own side, the profile's User API key; else the integration's key."""
    if side.uses_bigpanda and not from_stdin:
        return bigpanda_key(profile)
    return api_key_for(spec, side, profile, from_stdin)


def api_key_env(spec: Integration, profile: str) -> str:
    """The environment variable of the key for the target's API (install, uninstall):
    the profile's own, as for every secret (the shared name for the default profile)."""
    from bp_integrate.secrets import env_var

    return env_var(spec.name, "api_key", profile)


def api_key_for(
    spec: Integration, side: TargetSide, profile: str, from_stdin: bool = False
) -> tuple[str, str] | None:
    """(key, where it came from) for the target's API: `--api-key-stdin`, then
    BP_INTEGRATE_[<PROFILE>_]<INTEGRATION>_API_KEY, then the read-back key (its variable,
    or the store verify's secrets are in); None when there is none."""
    if from_stdin:
        from bp_integrate.loading import read_stdin_line

        hint = "Pipe the key as one line, e.g. printf '%s\\n' \"$KEY\" | bp-integrate install ..."
        if real_tty():
            line: str | None = typer.prompt(side.key_label, hide_input=True, err=True)
        else:
            line = read_stdin_line("--api-key-stdin", hint)
        if not line or not line.strip():
            raise UsageError("--api-key-stdin: standard input ended before the key.", hint)
        return line.strip(), "--api-key-stdin"
    variable = api_key_env(spec, profile)
    if os.environ.get(variable, "").strip():
        return os.environ[variable].strip(), variable
    from bp_integrate import config
    from bp_integrate.readback import find_creds

    cfg = config.load()
    found = find_creds(spec, profile, cfg).get(side.key_field)
    if found is None:
        return None
    where = found.variable or f"the {cfg.verify_store(profile)} store"
    return found.value, f"the read-back key ({where})"
