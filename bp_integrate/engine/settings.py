"""The send settings of send-test, replay and verify, checked: bounds, NaN, the envelope's
name, `--tag` and `--set`, turned into what the engine takes (a `BodySpec`, a
`RetryPolicy`). Light to import: what it needs is imported when it is used."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bp_integrate.errors import UsageError

if TYPE_CHECKING:
    from bp_integrate.bigpanda.webhook import BodySpec
    from bp_integrate.config import Config
    from bp_integrate.http import RetryPolicy


class Context(Protocol):
    """What the engine asks of the app context (bp_integrate.app.App, above it)."""

    profile: str
    profile_given: bool

    @property
    def config(self) -> Config:
        """The settings file."""


#: Bounds of --timeout and --retries (docs/replay.md lists them).
TIMEOUT_MAX = 600.0
RETRIES_MAX = 10


def parse_tags(items: Sequence[str]) -> dict[str, str]:
    from bp_integrate.integrations.common import validate_tag_name

    tags: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--tag expects NAME=VALUE, got {item!r}.", "e.g. --tag service=api")
        tags[validate_tag_name(name.strip())] = value
    return tags


def check_envelope(shape: str | None) -> Any:
    from bp_integrate.bigpanda.webhook import DEFAULT_ENVELOPE, ENVELOPE_SHAPES
    from bp_integrate.errors import nearest

    if shape is None:
        return DEFAULT_ENVELOPE
    if shape not in ENVELOPE_SHAPES:
        guess = nearest(shape, list(ENVELOPE_SHAPES))
        raise UsageError(
            f"Unknown envelope shape {shape!r}.",
            (f"Did you mean {guess!r}? " if guess else "")
            + f"Shapes: {', '.join(ENVELOPE_SHAPES)}.",
        )
    return shape


def check_seconds(option: str, value: float, maximum: float, example: str) -> None:
    """A number of seconds above 0 and at most `maximum` (not inf, not nan), or a
    UsageError naming `option`. Typer's own ranges are not used: a float range lets
    `nan` through (every comparison with NaN is false) and has no upper bound here."""
    if not (math.isfinite(value) and 0 < value <= maximum):
        raise UsageError(
            f"{option} must be a number of seconds above 0 and at most {maximum:.0f}, "
            f"got {value!r}.",
            f"e.g. {option} {example}",
        )


def check_numbers(timeout: float, retries: int) -> None:
    """--timeout and --retries within bounds, before anything is sent. Typer's own ranges
    are not used: a float range lets `nan` through (every comparison with NaN is false)."""
    check_seconds("--timeout", timeout, TIMEOUT_MAX, "10")
    if not 0 <= retries <= RETRIES_MAX:
        raise UsageError(
            f"--retries must be between 0 and {RETRIES_MAX}, got {retries}.", "e.g. --retries 2"
        )


@dataclass
class SendSettings:
    """The send options of one command, checked: how bodies are shaped and sent."""

    spec: BodySpec
    policy: RetryPolicy
    tags: dict[str, str]

    @classmethod
    def build(
        cls,
        *,
        app: Context,
        timeout: float,
        retries: int,
        envelope: str | None = None,
        no_test_marker: bool = False,
        sets: Sequence[str] = (),
        tags: Sequence[str] = (),
        payload: Path | None = None,
    ) -> SendSettings:
        from bp_integrate import calibrate
        from bp_integrate.bigpanda.webhook import (
            BodySpec,
            load_payload_file,
            profile_environment_id,
        )
        from bp_integrate.http import RetryPolicy
        from bp_integrate.jsonpath import parse_assignment

        check_numbers(timeout, retries)
        spec = BodySpec(
            envelope=check_envelope(envelope),
            test_marker=not no_test_marker,
            sets=[parse_assignment(s) for s in sets],
            payload=load_payload_file(payload) if payload else None,
            environment_id=profile_environment_id(app.profile, app.config.bigpanda(app.profile)),
            # The profile's adopted shape (bp-integrate calibrate), unless --envelope
            # asks for a built-in one.
            calibrated=calibrate.adopted_shape(app.profile) if envelope is None else None,
        )
        return cls(spec, RetryPolicy(retries=retries, timeout=timeout), parse_tags(tags))

    @property
    def shape_note(self) -> str:
        return shape_note(self.spec)


def shape_note(spec: BodySpec) -> str:
    """What shape the bodies have, for --dry-run to say."""
    if spec.calibrated is not None:
        return "bodies in the shape adopted from your BigPanda (bp-integrate calibrate)"
    return f"bodies in the built-in '{spec.envelope}' shape"
