"""The one way YAML and JSON come in: bounded in size, depth and expansion, errors located;
and the one way compact JSON goes out (`compact_json`).

Every file or stream a user hands bp-integrate (config.yaml, answers files, scenario
files, `--payload` files or `--payload -`, run history lines, stdin) is read here. What it guards
against, and why each bound:

- size: a file over `max_bytes` is refused before it is parsed;
- text: invalid UTF-8 is reported with the file, line, column and byte offset;
- aliases: YAML anchors may be reused, but the document *as expanded* may hold at
  most `MAX_NODES` values (a 720-byte "billion laughs" expands to billions), and an
  anchor that contains itself (a circular document) is refused;
- depth: at most `MAX_DEPTH` levels of nesting (deeper input used to end in a
  RecursionError somewhere far from the file): the one depth limit, for files, captures,
  history lines and what the emulator previews (`loads`, `check_shape`, `depth`);
- types: only what JSON can carry. YAML's safe loader also makes dates, timestamps,
  bytes (`!!binary`), sets and `.inf`/`.nan`; JSON text may hold a lone surrogate
  (`"\\ud800"`) that no UTF-8 output can carry. Such a value is refused with its key
  path (`payload.date`), never turned into a string behind the user's back
  (`plain`): quoting it in the file is the fix;
- errors are the caller's kind: a `UsageError` (exit 2) for inputs, a `ConfigError`
  (exit 3) for the config file, always naming the file and place.

yaml and orjson are imported lazily (inside the functions) so `--help` stays fast.
"""

from __future__ import annotations

import datetime
import errno
import json
import math
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from bp_integrate.errors import BPError, UsageError

#: The deepest nesting any input may have (our own files nest 5 levels at most).
MAX_DEPTH = 64
#: The most values one document may hold once YAML aliases are expanded.
MAX_NODES = 200_000
#: The largest settings-like file (config, answers, scenario) read: 4 MiB.
MAX_BYTES = 4 * 1024 * 1024

#: Builds the error for one input: (message, hint) -> UsageError / ConfigError.
ErrorKind = Callable[[str, str | None], BPError]


class ShapeError(ValueError):
    """The parsed data is too deep, too big once expanded, or refers to itself."""


def read_bytes(path: Path, what: str, error: ErrorKind, hint: str, max_bytes: int) -> bytes:
    """The bytes of `path`, or `error` naming why they cannot be read (never OSError).

    `what` names the file in messages, without an article: "scenario file".
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise error(
                f"Cannot read {what} {str(path)[:80]}...: the file name is too long.", hint
            ) from None
        reason = exc.strerror or str(exc)
        if isinstance(exc, IsADirectoryError):
            reason = "it is a folder, not a file"
        elif isinstance(exc, FileNotFoundError):
            reason = "it does not exist"
        raise error(f"Cannot read {what} {path}: {reason}.", hint) from None
    if len(data) > max_bytes:
        raise error(f"The {what} {path} is over the limit of {max_bytes:,} bytes.", hint)
    return data


def open_regular(path: Path, what: str, error: ErrorKind, hint: str, max_bytes: int) -> BinaryIO:
    """`path` open for reading if it is a regular file of at most `max_bytes`; else `error`.

    Opened without blocking (a FIFO planted in its place would hang a plain open), then
    checked on the open descriptor: a symlink to /dev/zero or a device is refused, not
    read until memory runs out. The caller closes the handle (`with`).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise error(f"Cannot read {what} {path}: {exc.strerror or exc}.", hint) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise error(
            f"Refusing to read {what} {path}: it is not a regular file (a device, FIFO or "
            "socket, or a link to one).",
            f"Remove it (rm {path}). " + hint,
        )
    if info.st_size > max_bytes:
        os.close(fd)
        raise error(f"The {what} {path} is over the limit of {max_bytes:,} bytes.", hint)
    return os.fdopen(fd, "rb")


def decode(data: bytes, what: str, where: str, error: ErrorKind, hint: str) -> str:
    """UTF-8 text, or `error` naming the byte, its offset, line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(
            f"{what[:1].upper()}{what[1:]} {where} is not UTF-8 text (byte "
            f"0x{data[exc.start]:02x} at offset {exc.start}). The bad byte is on line "
            f"{line}, column {column}.",
            "Save it as UTF-8. " + hint,
        ) from None


def _walk(data: Any) -> Iterator[tuple[Any, int]]:
    """Every value of `data` with its depth (the root is 1), or ShapeError on a cycle.

    Iterative (no recursion of its own), so it is safe on any input; a value seen
    again on the path from the root is a cycle (a YAML anchor inside itself).
    """
    # (value, depth, exiting?) ; `on_path` holds the ids of containers being walked.
    stack: list[tuple[Any, int, bool]] = [(data, 1, False)]
    on_path: set[int] = set()
    while stack:
        value, depth, exiting = stack.pop()
        if exiting:
            on_path.discard(id(value))
            continue
        yield value, depth
        if not isinstance(value, dict | list):
            continue
        if id(value) in on_path:
            raise ShapeError("an anchor refers to itself (a circular alias)")
        on_path.add(id(value))
        stack.append((value, depth, True))
        children = [c for kv in value.items() for c in kv] if isinstance(value, dict) else value
        stack.extend((child, depth + 1, False) for child in children)


def check_shape(data: Any, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Any:
    """`data` if it is a finite tree within the bounds; else ShapeError saying which."""
    for nodes, (value, level) in enumerate(_walk(data), start=1):
        if nodes > max_nodes:
            raise ShapeError(f"it holds more than {max_nodes} values once its aliases are expanded")
        if level > max_depth and isinstance(value, dict | list):
            raise ShapeError(f"it is nested more than {max_depth} levels deep")
    return data


def depth(data: Any) -> int:
    """How deep `data` nests: a scalar is 0, `[]` and `{"a": 1}` are 1."""
    return max((level for value, level in _walk(data) if isinstance(value, dict | list)), default=0)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def finite_float(text: str) -> float:
    """A JSON number with a fraction or exponent as a float; ValueError if it does not fit
    one (`1e400` would become Infinity, which JSON cannot carry back). The rule for every
    strict reader here, the emulator's body parser included."""
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 24 else text[:20] + "..."
        raise ValueError(
            f"the number {shown} is too large for a 64-bit float (JSON has no Infinity)"
        )
    return value


def loads(text: str | bytes, allow_nan: bool = False, max_depth: int = MAX_DEPTH) -> Any:
    """One JSON document within the bounds (`check_shape`); NaN and Infinity refused unless
    `allow_nan`. Raises ValueError when it is not JSON (JSONDecodeError, UnicodeDecodeError
    for bytes), ShapeError (a ValueError too) when it is out of bounds."""
    try:
        data = (
            json.loads(text)
            if allow_nan
            else json.loads(text, parse_constant=_refuse_constant, parse_float=finite_float)
        )
    except RecursionError:
        raise ShapeError("it is nested too deeply to read") from None
    return check_shape(data, max_depth)


def parse_yaml(text: str, what: str, where: str, error: ErrorKind, hint: str) -> Any:
    """One YAML document (safe loader, shape-checked), or `error` naming the place."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)  # a safe loader (C or Python)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        place = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None)
        detail = f": {problem}" if problem else ""
        raise error(f"The {what} is not valid YAML at {place}{detail}.", hint) from None
    except RecursionError:
        raise error(f"The {what} {where} is nested too deeply to read.", hint) from None
    except (ValueError, OverflowError, TypeError) as exc:  # e.g. a date out of range
        raise error(f"The {what} {where} holds a value YAML cannot read: {exc}.", hint) from None
    return plain(shaped(data, what, where, error, hint), what, where, error, hint)


def parse_json(text: str | bytes, what: str, where: str, error: ErrorKind, hint: str) -> Any:
    """One JSON document (NaN/Infinity refused, shape-checked), or `error` naming the place."""
    try:
        data = loads(text)
    except json.JSONDecodeError as exc:
        raise error(
            f"The {what} is not valid JSON at {where}:{exc.lineno}:{exc.colno}: {exc.msg}.", hint
        ) from None
    except UnicodeDecodeError as exc:
        raise error(f"The {what} {where} is not UTF-8 text (offset {exc.start}).", hint) from None
    except ShapeError as exc:
        raise error(f"The {what} {where} cannot be used: {exc}.", hint) from None
    except ValueError as exc:  # NaN, or an integer with too many digits
        raise error(f"The {what} {where} is not valid JSON: {exc}.", hint) from None
    return plain(data, what, where, error, hint)


def shaped(data: Any, what: str, where: str, error: ErrorKind, hint: str) -> Any:
    """`check_shape` for parsed input, its ShapeError as `error` naming the input."""
    try:
        return check_shape(data)
    except ShapeError as exc:
        raise error(f"The {what} {where} cannot be used: {exc}.", hint) from None


_QUOTE = "Put the value in quotes to keep it as text (e.g. '2024-01-01'). "
_RETYPE = "Type the text again in plain characters (check the terminal encoding is UTF-8). "


def _not_plain(value: Any) -> tuple[str, str] | None:
    """Why `value` (a scalar) cannot be carried as JSON text, and the fix; None if it can."""
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return (
            None if math.isfinite(value) else (f"the number {value!r}, which JSON cannot carry", "")
        )
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "text with a lone surrogate (like \\ud800), which is not Unicode", _RETYPE
        return None
    if isinstance(value, datetime.date):  # datetime.datetime too
        return f"a YAML {type(value).__name__} ({value.isoformat()}), not text", _QUOTE
    return f"a YAML {type(value).__name__}, which JSON cannot carry", _QUOTE


def plain(data: Any, what: str, where: str, error: ErrorKind, hint: str) -> Any:
    """`data` if it holds only what JSON carries (objects, lists, text, finite numbers,
    booleans, null); else `error` naming the first other value and its key path.

    The one rule for every file read here: YAML dates, timestamps, `!!binary`, sets and
    `.inf`/`.nan`, and lone surrogates, are refused, not stringified: a date that became
    "2024-01-01" one way and 1704067200 another would be a silent guess. Iterative;
    call after `check_shape` (the tree is finite)."""
    stack: list[tuple[Any, str, bool]] = [(data, "", False)]
    while stack:
        value, at, is_key = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                stack.append((key, at, True))
                if not isinstance(key, str) or not _not_plain(key):
                    name = key if isinstance(key, str) else repr(key)
                    stack.append((child, f"{at}.{name}" if at else name, False))
            continue
        if isinstance(value, list):
            stack.extend((c, f"{at}.{i}" if at else str(i), False) for i, c in enumerate(value))
            continue
        found = _not_plain(value) if not is_key or isinstance(value, str) else None
        if found is not None:
            why, fix = found
            place = (f"a key under {at or 'the top'}" if is_key else at) or "the whole document"
            raise error(f"The {what} {where}: {place} is {why}.", fix + hint)
    return data


def string_keys(data: Any, what: str, where: str, error: ErrorKind, hint: str) -> Any:
    """`data` if every mapping key in it is a string (YAML allows `1:` or `[a]:` keys);
    else `error` naming the key and where it is (`steps.2`). Call after `check_shape`."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, at = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                if not isinstance(key, str):
                    place = f" (under {at})" if at else ""
                    raise error(f"The {what} {where}: key {key!r}{place} is not a name.", hint)
                stack.append((child, f"{at}.{key}" if at else key))
        elif isinstance(value, list):
            stack.extend((child, f"{at}.{i}" if at else str(i)) for i, child in enumerate(value))
    return data


def read_text(
    path: Path, what: str, hint: str, error: ErrorKind = UsageError, max_bytes: int = MAX_BYTES
) -> str:
    """A file's UTF-8 text within `max_bytes`; `what` names it in messages ("scenario file")."""
    return decode(read_bytes(path, what, error, hint, max_bytes), what, str(path), error, hint)


def load_yaml(
    path: Path, what: str, hint: str, error: ErrorKind = UsageError, max_bytes: int = MAX_BYTES
) -> Any:
    """Read and parse a YAML file (config, answers, scenario)."""
    return parse_yaml(read_text(path, what, hint, error, max_bytes), what, str(path), error, hint)


def load_json(
    path: Path, what: str, hint: str, error: ErrorKind = UsageError, max_bytes: int = MAX_BYTES
) -> Any:
    """Read and parse a JSON file (a `--payload` file, the file secret store)."""
    return parse_json(read_text(path, what, hint, error, max_bytes), what, str(path), error, hint)


def json_line(line: str | bytes) -> Any | None:
    """One JSON-lines record (history, a capture file), or None if it is damaged or out of
    bounds (readers skip such lines)."""
    try:
        return loads(line, allow_nan=True)
    except ValueError:
        return None


#: Where standard input is named in messages, in the place of a file's path.
STDIN = "(standard input)"


def _stdin_closed(what: str, hint: str) -> UsageError:
    return UsageError(f"{what}: standard input is closed or cannot be read.", hint)


def read_stdin(
    flag: str, what: str, hint: str, error: ErrorKind = UsageError, max_bytes: int = MAX_BYTES
) -> bytes:
    """All of stdin, within `max_bytes`, for input piped in the place of a file (`--payload
    -`). A terminal (nothing piped), empty input, and closed or unreadable stdin are each
    `error` naming `flag` and the fix, never a traceback or a wait for typing; `what`
    names the input as `read_bytes` names a file ("payload")."""
    import sys

    stream = sys.stdin
    try:
        if stream is None:  # started with stdin closed (`<&-`)
            raise ValueError("closed")
        terminal = stream.isatty()
        buffer = None if terminal else getattr(stream, "buffer", None)
        raw: str | bytes = b"" if terminal else (buffer or stream).read(max_bytes + 1)
    except (OSError, ValueError):
        raise _stdin_closed(flag, hint) from None
    if terminal:
        raise error(f"{flag}: standard input is a terminal: nothing is piped in.", hint)
    data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
    if not data:
        raise error(f"{flag}: standard input is empty: nothing was piped in.", hint)
    if len(data) > max_bytes:
        raise error(f"The {what} {STDIN} is over the limit of {max_bytes:,} bytes.", hint)
    return data


def load_json_stdin(
    flag: str, what: str, hint: str, error: ErrorKind = UsageError, max_bytes: int = MAX_BYTES
) -> Any:
    """Read and parse one JSON document piped to stdin (`--payload -`): the checks and
    messages of `load_json`, naming standard input where they name a file's path."""
    data = read_stdin(flag, what, hint, error, max_bytes)
    return parse_json(decode(data, what, STDIN, error, hint), what, STDIN, error, hint)


def read_stdin_line(what: str, hint: str) -> str | None:
    """One line of stdin as strict UTF-8 (None at end of input), or a UsageError.

    Closed or unreadable stdin is an error naming `what`, never a traceback.
    """
    import sys

    stream = sys.stdin
    try:
        if stream is None:  # started with stdin closed (`<&-`)
            raise ValueError("closed")
        buffer = getattr(stream, "buffer", None)
        raw: str | bytes = buffer.readline() if buffer is not None else stream.readline()
    except (OSError, ValueError):
        raise _stdin_closed(what, hint) from None
    if isinstance(raw, str):
        return raw or None
    if not raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # the byte itself is not shown: it may be a secret's
        raise UsageError(
            f"{what}: standard input is not UTF-8 text (a bad byte at offset {exc.start} "
            "of the line). Nothing was stored.",
            "Save or pipe it as UTF-8. " + hint,
        ) from None


def compact_json(
    value: Any, *, ascii: bool = False, default: Callable[[Any], Any] | None = None
) -> bytes:
    """`value` as compact JSON (no spaces): a webhook body, a history line, an emulator's
    answer. The one writer, so all three spell JSON alike.

    orjson writes it, about ten times faster than the standard encoder (2 us against 20
    for a 2.7 KB incident; a storm writes a body and a line a send), with the same text
    (a float may be spelt otherwise, `1e16` for `1e+16`: the same number). What orjson
    refuses (an integer over 64 bits, a key that is not a string, a lone surrogate) is
    written by the standard encoder. `ascii`: non-ASCII as `\\u` escapes, the standard
    encoder's text; else UTF-8 as it is, a lone surrogate (which UTF-8 cannot carry) as
    its escape. `default`: what a value JSON has no type for becomes (e.g. `str`).
    """
    import orjson

    option = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
    try:
        raw = orjson.dumps(value, default=default, option=option if default else None)
    except TypeError:  # orjson.JSONEncodeError is one
        raw = None
    if raw is not None and (not ascii or raw.isascii()):
        return raw
    text = json.JSONEncoder(separators=(",", ":"), ensure_ascii=ascii, default=default).encode(
        value
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: JSON's \\u escape carries it
        return json.JSONEncoder(separators=(",", ":"), default=default).encode(value).encode()
