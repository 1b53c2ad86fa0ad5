"""The `--set PATH=VALUE` path language: read a path, edit a JSON body, refuse what breaks it.

Owns the syntax (`incident.alerts[0].status`, `incident.alerts.0.status`), how a value is
read (JSON when it parses, else the raw string), and the checks that keep an edited body
one a receiver can read: no container replaced by a scalar, no number field given text,
unix times in range, no lone surrogates, bounded indexes and nesting. Every refusal is a
UsageError naming the path and the fix. Stdlib only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, NoReturn

from bp_integrate.errors import UsageError

__all__ = [
    "MAX_DEPTH",
    "MAX_INDEX_DIGITS",
    "MAX_STEPS",
    "TIME_FIELDS",
    "json_kind",
    "parse_assignment",
    "parse_value",
    "set_path",
    "split_path",
]

#: Deepest value `--set` accepts (a body nested deeper is one no receiver expects).
MAX_DEPTH = 32
#: Longest path, in steps.
MAX_STEPS = 64
#: An index with more digits than this cannot be in range of any body we send.
MAX_INDEX_DIGITS = 9
#: Fields holding unix times in seconds, in BigPanda's incident and alert objects.
TIME_FIELDS = frozenset(
    {
        "start",
        "end",
        "changed_at",
        "updated_at",
        "last_event_at",
        "end_time",
        "correlated_at",
        "shared_at",
    }
)
#: Unix times a receiver can read: from 1970 to the end of year 9999.
UNIX_TIME_MAX = 253_402_300_799

_EXAMPLES = (
    "For example: --set incident.status=warning or "
    "--set 'incident.alerts[0].description=Disk full on db-1'."
)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(text: str) -> str:
    """`text` safe to print: lone surrogates escaped, long text cut."""
    return _short(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_assignment(text: str) -> tuple[str, str]:
    """Split `PATH=VALUE` (the first `=`) from `--set`."""
    path, sep, value = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise UsageError(f"--set expects PATH=VALUE, got '{_shown(text)}'.", _EXAMPLES)
    return path, value


_SEGMENT = re.compile(r"([^.\[\]]+)?((?:\[-?\d+\])*)")
_INDEX = re.compile(r"-?\d+")


def _index(text: str, path: str) -> int:
    if len(text.lstrip("-")) > MAX_INDEX_DIGITS:
        raise UsageError(
            f"--set {_shown(path)}: the index {_short(text, 20)} has more than "
            f"{MAX_INDEX_DIGITS} digits; no list in a body is that long.",
            "Use a small index, like incident.alerts[0], or [-1] for the last item.",
        )
    return int(text)


def split_path(path: str) -> list[str | int]:
    """`a.b[0].c.1` → ['a', 'b', 0, 'c', '1']; bracketed indexes become ints."""
    if _has_lone_surrogate(path):
        raise UsageError(
            f"--set {_shown(path)}: the path holds a character that is not valid Unicode "
            "(a lone surrogate).",
            "Type the field name again in plain text; field names are ASCII.",
        )
    steps: list[str | int] = []
    for part in path.split("."):
        match = _SEGMENT.fullmatch(part)
        if not part or match is None or (match.group(1) is None and not match.group(2)):
            raise UsageError(
                f"Cannot read the path '{_shown(path)}'.",
                "Paths are dotted keys with list indexes, like incident.alerts.0.status "
                "or incident.alerts[0].status.",
            )
        if match.group(1) is not None:
            steps.append(match.group(1))
        steps.extend(_index(i, path) for i in re.findall(r"\[(-?\d+)\]", match.group(2)))
        if len(steps) > MAX_STEPS:
            raise UsageError(
                f"--set {_shown(path)}: the path has more than {MAX_STEPS} steps.",
                "Set a shorter path, or the whole object at a higher level as JSON.",
            )
    return steps


def parse_value(raw: str, path: str = "") -> Any:
    """The value of `--set PATH=VALUE`: JSON when it parses (`true`, `3`, `null`, `"x"`,
    `{...}`), else the raw string; NaN/Infinity stay strings. Refuses values no receiver
    can read: a lone surrogate anywhere, nesting deeper than MAX_DEPTH."""

    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        value: Any = json.loads(raw, parse_constant=refuse)
    except RecursionError:
        _too_deep(path)
    except ValueError:  # not JSON, NaN/Infinity, or an integer too long to read
        value = raw
    _check_value(value, path, 0)
    return value


def _too_deep(path: str) -> NoReturn:
    raise UsageError(
        f"--set {_shown(path)}: the value is nested more than {MAX_DEPTH} levels deep.",
        "Give a flatter value; a BigPanda body is a few levels deep.",
    )


def _check_value(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        _too_deep(path)
    if isinstance(value, str):
        if _has_lone_surrogate(value):
            raise UsageError(
                f"--set {_shown(path)}: the value holds a character that is not valid "
                "Unicode (a lone surrogate), which JSON bodies cannot carry.",
                "Type the value again in plain text (check the terminal's encoding is UTF-8).",
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_value(key, path, depth + 1)
            _check_value(item, path, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_value(item, path, depth + 1)


def json_kind(value: Any) -> str:
    """The JSON kind of a parsed value: null, boolean, number, string, list or object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "object"


def _kind(value: Any) -> str:
    """`a number`, `an object`, `null`: a kind to put in a sentence."""
    kind = json_kind(value)
    return kind if kind == "null" else ("an " if kind == "object" else "a ") + kind


def _describe_found(value: Any) -> str:
    """`a string "critical"`, `null`: what --set found where it wanted to step inside."""
    if value is None:
        return "null"
    return f"{_kind(value)} {_short(json.dumps(value), 40)}"


def _checked(path: str, key: str | int, old: Any, new: Any, raw: str) -> Any:
    """`new` as it may replace `old` at `path`, or a UsageError saying why it may not."""
    is_time = isinstance(key, str) and key in TIME_FIELDS
    if new is None or (old is None and not is_time):
        return new  # null empties any field; a new or null field takes any value
    if is_time:
        return _unix_time(path, new, raw)
    if isinstance(old, str) and isinstance(new, bool | int | float):
        return raw  # a text field keeps text: --set ...tags[0].value=123 means "123"
    if isinstance(old, list | dict) and type(new) is not type(old):
        if isinstance(old, list):
            fix = f"--set {path}[0].KEY=VALUE, or the whole list as JSON: --set '{path}=[...]'"
        else:
            fix = f"--set {path}.KEY=VALUE, or the whole object as JSON: --set '{path}={{...}}'"
        raise UsageError(
            f"--set {_shown(path)}: {path} is {_kind(old)}, and {_shown(raw)!r} is "
            f"{_kind(new)}; the body would break.",
            f"Set a value inside it ({fix}).",
        )
    if isinstance(new, list | dict) and not isinstance(old, list | dict):
        raise UsageError(
            f"--set {_shown(path)}: {path} is {_kind(old)}, and {_shown(raw)!r} is "
            f"{_kind(new)}; the body would break.",
            f"Give {_kind(old)} (e.g. --set {path}={_short(json.dumps(old), 30)}), or send "
            "a body of your own shape with --payload FILE.",
        )
    objects = isinstance(old, list) and old and all(isinstance(i, dict) for i in old)
    if objects and not all(isinstance(i, dict) for i in new):
        raise UsageError(
            f"--set {_shown(path)}: the items of {path} are objects; "
            f"{_shown(raw)!r} has items that are not.",
            f"Give a list of objects, like --set '{path}=[{{...}}]'.",
        )
    if isinstance(old, bool) and not isinstance(new, bool):
        raise UsageError(
            f"--set {_shown(path)}: {path} is a boolean; {_shown(raw)!r} is not.",
            f"Use --set {path}=true or --set {path}=false.",
        )
    number = isinstance(old, int | float) and not isinstance(old, bool)
    if number and (isinstance(new, bool) or not isinstance(new, int | float)):
        raise UsageError(
            f"--set {_shown(path)}: {path} is a number; {_shown(raw)!r} is not.",
            f"Give a number, e.g. --set {path}={old}.",
        )
    return new


def _unix_time(path: str, new: Any, raw: str) -> int:
    example = f"e.g. --set {path}=1700000000"
    if isinstance(new, bool) or not isinstance(new, int | float):
        raise UsageError(
            f"--set {_shown(path)}: {path} is a unix time in seconds; "
            f"{_shown(raw)!r} is not a number.",
            f"Give whole seconds since 1970, {example}.",
        )
    if not (0 <= new <= UNIX_TIME_MAX) or new != int(new):
        raise UsageError(
            f"--set {_shown(path)}: {_shown(raw)} is out of range for a unix time "
            f"(whole seconds from 0 to {UNIX_TIME_MAX}, the end of year 9999).",
            f"Give whole seconds since 1970, {example}.",
        )
    return int(new)


def _list_index(container: list[Any], step: str | int, where: str, path: str) -> int:
    if isinstance(step, int):
        index = step
    elif _INDEX.fullmatch(step):
        index = _index(step, path)
    else:
        raise UsageError(
            f"--set {path}: {where} is a list, and '{step}' is not an index.",
            f"Use a number from 0 to {len(container) - 1}." if container else "The list is empty.",
        )
    if not -len(container) <= index < len(container):
        raise UsageError(
            f"--set {path}: index {index} is out of range; {where} has {len(container)} item(s).",
            f"Use an index from 0 to {len(container) - 1}."
            if container
            else f"The list is empty; set the whole list instead: --set '{where}=[...]'.",
        )
    return index


def set_path(body: dict[str, Any], path: str, raw_value: str) -> None:
    """Set `path` in `body` to `raw_value` (for `--set PATH=VALUE`), in place.

    Paths are dotted keys with list indexes (`incident.alerts.0.status`,
    `incident.alerts[0].status`); missing object keys are created. The value is JSON when it
    parses as JSON (`true`, `3`, `null`, `"x"`, `{...}`), else the raw string; a text field
    keeps text (`=123` sets "123"). Refused, with a UsageError naming the path and the fix,
    and the body left unchanged: an index out of range, an index into an object, a step into
    a scalar, a list or object replaced by something else (or a scalar by a list or object),
    text or a boolean where a number or boolean is, a unix time out of range (or not a
    number), a lone surrogate, an index of more than 9 digits, a value nested more than 32
    levels deep.
    """
    steps = split_path(path)
    value = parse_value(raw_value, path)
    current: Any = body
    walked = ""
    created: list[tuple[dict[str, Any], str]] = []
    try:
        for position, step in enumerate(steps):
            last = position == len(steps) - 1
            where = walked or "the body"
            if isinstance(current, dict):
                if isinstance(step, int):
                    raise UsageError(
                        f"--set {path}: {where} is an object, not a list; [{step}] does not apply.",
                        f"Use a key instead of [{step}]; keys there: {_keys(current)}.",
                    )
                if last:
                    current[step] = _checked(path, step, current.get(step), value, raw_value)
                    return
                if step not in current:
                    current[step] = {}
                    created.append((current, step))
                current = current[step]
            elif isinstance(current, list):
                index = _list_index(current, step, where, path)
                if last:
                    current[index] = _checked(path, index, current[index], value, raw_value)
                    return
                current = current[index]
            else:
                raise UsageError(
                    f"--set {path}: {where} is {_describe_found(current)}, "
                    f"so it has no '{step}' inside.",
                    f"Set {where} itself, e.g. --set '{where}={{\"{step}\": ...}}'.",
                )
            walked = f"{walked}.{step}" if walked else str(step)
    except UsageError:
        for container, key in reversed(created):  # leave the body as it was
            container.pop(key, None)
        raise


def _keys(mapping: Mapping[str, Any]) -> str:
    keys = list(mapping)
    shown = ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "")
    return shown or "(none)"
