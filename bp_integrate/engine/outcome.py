"""The one mapping from what happened to an outcome and an exit code, and the hints.

Every command that sends (send-test, replay, storm mode, demo) ends with `verdict`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from bp_integrate.engine.send import SendResult
from bp_integrate.errors import ExitCode, command_for
from bp_integrate.failures import FIXES, FailureKind
from bp_integrate.signals import terminated

#: How much of a target's answer a timeline line shows (the run file keeps more).
DETAIL_PREVIEW = 160


def verdict(
    passed: int, failed: int, failure_kinds: Iterable[str], interrupted: bool = False
) -> tuple[str, ExitCode]:
    """("success"|"partial"|"failure"|"interrupted", exit code).

    A unit is one target's part of one step. All failed: NETWORK when every failure was a
    network one (no answer), else REJECTED (an answer that was an error, or that did not
    meet the scenario's expectation). Some failed: PARTIAL.
    """
    if interrupted:
        return "interrupted", ExitCode.TERMINATED if terminated() else ExitCode.INTERRUPTED
    if failed == 0:
        return "success", ExitCode.OK
    if passed == 0:
        kinds = set(failure_kinds)
        return "failure", ExitCode.NETWORK if kinds == {"network"} else ExitCode.REJECTED
    return "partial", ExitCode.PARTIAL


def proxied_host(result: SendResult) -> str:
    """The host a failed send was for (what NO_PROXY would list)."""
    try:
        return urlsplit(result.url).hostname or "the target's host"
    except ValueError:
        return "the target's host"


def failure_hint(result: SendResult, profile: str | None = None) -> str | None:
    """What to check when a send failed, where the failure makes it obvious."""
    name = result.integration
    show = command_for(profile, f"show {name}")
    if result.outcome == "network" and result.proxy:
        return (
            f"check that the proxy in {result.proxy_variable} is up and lets this machine "
            f"through, or add {proxied_host(result)} to NO_PROXY to go direct; then the URL "
            f"({show})"
        )
    if result.outcome == "network":
        kind = _kind(result.error_kind)
        if kind is FailureKind.TLS:
            return FIXES[kind]
        return f"check the URL ({show}) and that this machine can reach it"
    if result.status in (401, 403):
        return f"check the credentials: {_refused_fix(name, profile)}"
    if result.status == 404:
        return f"check the URL: {show}"
    return None


def _refused_fix(name: str, profile: str | None) -> str:
    """What to run when `name` refused the credentials: `set` the field that holds them,
    or install it again (the integration knows its fields: Integration.refused_fix)."""
    from bp_integrate.errors import BPError
    from bp_integrate.integrations import get as get_integration

    try:
        return get_integration(name).refused_fix(profile)
    except BPError:  # not an integration of ours (a recorded run's unknown name)
        return command_for(profile, f"install {name}")


def _kind(value: str | None) -> FailureKind | None:
    try:
        return FailureKind(value) if value else None
    except ValueError:
        return None


def answer_summary(result: SendResult, limit: int = DETAIL_PREVIEW) -> str:
    """The target's answer on one line: its `errors` list if it has one (PagerDuty's
    400s do), else the body; already redacted, cut to `limit` characters."""
    text = result.response.strip()
    try:
        data = json.loads(text) if text else None
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("errors"), list) and data["errors"]:
        text = "errors: " + "; ".join(str(e) for e in data["errors"])
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def failure_detail(result: SendResult, profile: str | None = None) -> str:
    """A failed send in one line: what happened, what the target said, what to check."""
    if result.outcome == "network":
        parts = [result.error or "no answer"]
    else:
        parts = [result.error or f"HTTP {result.status}"]
        answer = answer_summary(result)
        if answer:
            parts.append(answer)
    hint = failure_hint(result, profile)
    return ": ".join(parts) + (f" ({hint})" if hint else "")


def first_failure_hint(bad: list[SendResult], profile: str | None = None) -> str:
    """send-test's closing hint about the first failed send."""
    first = bad[0]
    show = command_for(profile, f"show {first.integration}")
    if first.outcome == "network" and first.proxy:
        return (
            f"{first.integration}: {first.error}. Check that this proxy is running and lets "
            f"this machine through (or fix {first.proxy_variable}), or add "
            f"{proxied_host(first)} to NO_PROXY to go direct; then check the URL with "
            f"`{show}`."
        )
    if first.outcome == "network":
        kind = _kind(first.error_kind)
        if kind is FailureKind.TLS:
            fix = FIXES[kind]
            return f"{first.integration}: {first.error}. {fix[0].upper()}{fix[1:]}."
        return (
            f"{first.integration}: {first.error}. Check the URL with `{show}`, and that this "
            "machine can reach it."
        )
    if first.status in (401, 403):
        return (
            f"{first.integration} refused the credentials (HTTP {first.status}): set the "
            f"right one: {_refused_fix(first.integration, profile)}."
        )
    hint = failure_hint(first, profile)
    return f"{first.integration} answered HTTP {first.status}: " + (
        f"{hint}." if hint else "see its response above."
    )
