"""Calibration: a webhook body captured from the user's own BigPanda, compared and adopted.

Owns reading a capture (one JSON body, or the JSON lines `receiver --capture` writes),
comparing its shape with our reconstruction field by field, and the adopted shape of a
profile: `shapes/<profile>.json` in the config folder (0600, written atomically), with
secret-looking values masked before anything is stored. `render_body` fills an adopted
shape (`webhook.fill_shape`); `is_calibrated(profile)` tells `show`/`send-test --dry-run`.
Stdlib only.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bp_integrate import fs, loading
from bp_integrate.bigpanda.events import BUILTIN_SCENARIOS, EVENTS
from bp_integrate.bigpanda.simulator import IncidentSimulator
from bp_integrate.bigpanda.webhook import (
    DEFAULT_ENVELOPE,
    envelope,
    event_of,
    is_wrapped,
)
from bp_integrate.errors import ConfigError, UsageError
from bp_integrate.jsonpath import json_kind
from bp_integrate.redact import mask_named, scrub_text

__all__ = [
    "CAPTURE_MAX_BYTES",
    "Adopted",
    "Comparison",
    "FieldDiff",
    "adopt",
    "adopted_shape",
    "compare",
    "is_calibrated",
    "load_capture",
    "mask_secrets",
    "reset",
    "shape_of",
    "shape_path",
]

#: Largest capture file read (a real webhook body is a few KB; a capture of many, MBs).
CAPTURE_MAX_BYTES = 64 * 1024 * 1024
SHAPE_VERSION = 1

Verdict = Literal["same", "only_ours", "only_captured", "type_differs"]

_CAPTURE_HINT = (
    "Give calibrate a JSON file holding one webhook body, or the JSON lines file written by "
    "`bp-integrate receiver --capture FILE`."
)

# --------------------------------------------------------------------------- reading a capture


def load_capture(path: Path) -> list[dict[str, Any]]:
    """The webhook bodies in `path`: one JSON object (a body), or JSON lines where each line
    is a `receiver --capture` record (`{"time", "method", "path", "query", "headers",
    "body"}`, its `body` taken when it is an object) or a body itself. A UsageError says
    what is wrong, with the line, when nothing usable is found. Read and bounded (size,
    depth) by bp_integrate.loading."""
    text = loading.read_text(path, "capture file", _CAPTURE_HINT, max_bytes=CAPTURE_MAX_BYTES)
    try:
        whole = loading.loads(text)
    except loading.ShapeError as exc:
        raise UsageError(f"Capture file {path} cannot be used: {exc}.", _CAPTURE_HINT) from None
    except ValueError:
        whole = None
    if isinstance(whole, dict):
        bodies = [_body_of(whole)]
    elif whole is not None:
        raise UsageError(
            f"Capture file {path} holds a JSON {type(whole).__name__}, not an object.",
            _CAPTURE_HINT,
        )
    else:
        bodies = _json_lines(text, path)
    found = [b for b in bodies if b is not None]
    if not found:
        raise UsageError(f"Capture file {path} holds no JSON object body.", _CAPTURE_HINT)
    return found


def _body_of(record: dict[str, Any]) -> dict[str, Any] | None:
    if "body" in record and ("method" in record or "path" in record):
        inner = record["body"]
        if isinstance(inner, str):  # a capture that kept the raw text
            try:
                inner = loading.loads(inner)
            except ValueError:
                return None
        return inner if isinstance(inner, dict) else None
    return record


def _json_lines(text: str, path: Path) -> list[dict[str, Any] | None]:
    bodies: list[dict[str, Any] | None] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = loading.loads(line)
        except loading.ShapeError as exc:
            raise UsageError(
                f"Capture file {path}, line {number}, cannot be used: {exc}.", _CAPTURE_HINT
            ) from None
        except ValueError as exc:
            raise UsageError(
                f"Capture file {path}, line {number}, is not JSON ({exc}).", _CAPTURE_HINT
            ) from None
        bodies.append(_body_of(record) if isinstance(record, dict) else None)
    return bodies


# --------------------------------------------------------------------------- masking


def mask_secrets(value: Any) -> Any:
    """A copy of `value` with secret-looking values masked (bp_integrate.redact): every
    string and number under a secret name (token, password, api_key, authorization...),
    and inside any other string a `Bearer`/`Basic` credential or a URL key (`apiKey=`)."""
    return mask_named(value, other=scrub_text)


# --------------------------------------------------------------------------- shapes


def shape_of(*bodies: Any) -> dict[str, set[str]]:
    """Path → the JSON kinds seen there, over all `bodies` (list items merged under `[]`):
    `{"incident": {"object"}, "incident.alerts[]": {"object"}, ...}`."""
    shape: dict[str, set[str]] = {}

    def walk(value: Any, path: str) -> None:
        shape.setdefault(path, set()).add(json_kind(value))
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for item in value:
                walk(item, f"{path}[]")

    for body in bodies:
        for key, item in body.items():
            walk(item, str(key))
    return shape


@dataclass(frozen=True)
class FieldDiff:
    """One path of the comparison: the kinds on each side, and the verdict."""

    path: str
    ours: tuple[str, ...]
    captured: tuple[str, ...]
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ours": list(self.ours),
            "captured": list(self.captured),
            "verdict": self.verdict,
        }


@dataclass
class Comparison:
    """Our reconstruction against a capture, path by path."""

    bodies: int
    events: list[str]
    envelope: str
    fields: list[FieldDiff] = field(default_factory=list)

    def of(self, verdict: Verdict) -> list[FieldDiff]:
        return [f for f in self.fields if f.verdict == verdict]

    @property
    def matches(self) -> bool:
        return all(f.verdict == "same" for f in self.fields)

    def to_json(self) -> dict[str, Any]:
        return {
            "bodies": self.bodies,
            "events": self.events,
            "envelope": self.envelope,
            "matches": self.matches,
            "counts": {
                verdict: len(self.of(verdict))
                for verdict in ("same", "only_ours", "only_captured", "type_differs")
            },
            "fields": [f.to_json() for f in self.fields],
        }


def reconstruction(wrapped: bool) -> list[dict[str, Any]]:
    """Our bodies for a whole lifecycle and then every event, in the default envelope
    (`wrapped`) or bare: every field we ever send, with every kind it takes."""
    simulator = IncidentSimulator(start=1_700_000_000, rng=random.Random(0))
    shape = DEFAULT_ENVELOPE if wrapped else "bare"
    bodies = []
    for event in [*BUILTIN_SCENARIOS["lifecycle"], *EVENTS]:
        incident = simulator.apply(event)
        bodies.append(envelope(event, incident, shape, environment_id=simulator.environment_id))
    return bodies


def compare(captured: list[dict[str, Any]]) -> Comparison:
    """Compare captured bodies with our reconstruction of the same events, field by field.

    A path is `same` when every kind the capture shows there is one we send there too,
    `type_differs` otherwise, and `only_ours`/`only_captured` when one side lacks it.
    """
    events = sorted({e for e in (event_of(b) for b in captured) if e is not None})
    wrapped = any(is_wrapped(b) for b in captured)
    ours = shape_of(*reconstruction(wrapped))
    theirs = shape_of(*captured)
    result = Comparison(len(captured), events, DEFAULT_ENVELOPE if wrapped else "bare")
    for path in sorted(set(ours) | set(theirs)):
        mine, seen = ours.get(path, set()), theirs.get(path, set())
        verdict: Verdict
        if not seen:
            verdict = "only_ours"
        elif not mine:
            verdict = "only_captured"
        elif seen <= mine:
            verdict = "same"
        else:
            verdict = "type_differs"
        result.fields.append(FieldDiff(path, tuple(sorted(mine)), tuple(sorted(seen)), verdict))
    return result


# --------------------------------------------------------------------------- adopted shapes


def shape_path(profile: str) -> Path:
    """Where the adopted shape of `profile` is kept: `<config folder>/shapes/<profile>.json`."""
    return fs.config_dir() / "shapes" / f"{profile}.json"


@dataclass(frozen=True)
class Adopted:
    """What `adopt` stored."""

    path: Path
    source: str
    event: str | None
    template: dict[str, Any]


def _merge(template: Any, other: Any) -> Any:
    """`template` with the keys only `other` has added (the union of captured shapes);
    a list of objects becomes one object holding every field its items have."""
    if isinstance(template, dict):
        merged = {key: _merge(value, None) for key, value in template.items()}
        for key, value in (other if isinstance(other, dict) else {}).items():
            merged[key] = _merge(merged[key], value) if key in merged else _merge(value, None)
        return merged
    if isinstance(template, list):
        items = [*template, *(other if isinstance(other, list) else [])]
        if items and all(isinstance(i, dict) for i in items):
            first: Any = _merge(items[0], None)
            for item in items[1:]:
                first = _merge(first, item)
            return [first]
        return template if template or not isinstance(other, list) else other
    return template


def adopt(profile: str, captured: list[dict[str, Any]], source: str) -> Adopted:
    """Store the shape of `captured` (merged, secrets masked) as `profile`'s body shape.

    Lists of objects keep one item (the union of the captured items' fields): rendering
    fills them with the simulator's alerts and tags in that item's shape.
    """
    template: Any = None
    for body in captured:
        template = body if template is None else _merge(template, body)
    assert isinstance(template, dict)
    template = mask_secrets(_merge(template, None))
    events = [e for e in (event_of(b) for b in captured) if e is not None]
    document = {
        "version": SHAPE_VERSION,
        "profile": profile,
        "source": source,
        "event": events[0] if events else None,
        "template": template,
    }
    path = shape_path(profile)
    fs.atomic_write(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return Adopted(path, source, document["event"], template)


def reset(profile: str) -> bool:
    """Remove `profile`'s adopted shape; whether there was one."""
    try:
        shape_path(profile).unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ConfigError(
            f"Cannot remove {shape_path(profile)}: {exc.strerror}.",
            "Check the config folder's permissions, or delete the file by hand.",
        ) from None
    return True


def adopted_shape(profile: str) -> dict[str, Any] | None:
    """The adopted body shape of `profile` (for `BodySpec.calibrated`), or None.

    A damaged file is a ConfigError naming it and `calibrate --reset`.
    """
    path = shape_path(profile)
    hint = (
        f"Adopt a capture again (bp-integrate --profile {profile} calibrate FILE --adopt) "
        f"or go back to the built-in shape (bp-integrate --profile {profile} calibrate --reset)."
    )
    if not path.exists():
        return None
    # Bounded like every other file the tool reads (size, nesting, NaN refused).
    document = loading.load_json(path, "adopted body shape", hint, ConfigError)
    template = document.get("template") if isinstance(document, dict) else None
    if not isinstance(template, dict) or document.get("version") != SHAPE_VERSION:
        raise ConfigError(f"The adopted body shape {path} is damaged.", hint)
    return template


def is_calibrated(profile: str) -> bool:
    """Whether `profile` sends an adopted (calibrated) shape (for `show`, `--dry-run`)."""
    return shape_path(profile).is_file()
