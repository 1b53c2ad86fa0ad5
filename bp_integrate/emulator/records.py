"""What the emulator remembers about each received request, with secrets masked.

This module owns :class:`ReceivedRecord` (one immutable entry per request the
emulated targets received) and how a request is shown: every part that could hold a
secret goes through bp_integrate.redact, the one masker (its one list of secret
names: ``apiKey``-like query values, ``Authorization``-like headers and credential-like
JSON fields in body previews all become ``****``), with every configured secret value
masked wherever it appears. Bodies are read by bp_integrate.loading, within its one
depth limit.

A record keeps bounded copies (see :func:`raw_request`): at most
:data:`MAX_KEPT_HEADERS` headers, each name and value cut, the path, query, errors,
note and key cut too, so whatever one client sends a record stays small and its
:attr:`RawRequest.cost` is known. :func:`printable` is the one way a received text is
made safe to print on a terminal (control and invisible characters escaped).
"""

from __future__ import annotations

import functools
import itertools
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from bp_integrate import loading
from bp_integrate.redact import MASK, Redactor, is_secret_name, mask_named, mask_query
from bp_integrate.redact import mask_key as mask_key

PREVIEW_CHARS = 300
#: What a record keeps of a request (a client may send 128 headers of 8 KB each, a
#: path of 8 KB, a body that makes long errors): more is cut, marked with ``…``.
MAX_KEPT_HEADERS = 32
MAX_HEADER_NAME_CHARS = 64
MAX_HEADER_VALUE_CHARS = 256
MAX_PATH_CHARS = 1024
MAX_QUERY_CHARS = 1024
MAX_KEPT_ERRORS = 20
#: An error, the note or the key.
MAX_TEXT_CHARS = 512
#: What a record costs beyond its strings and body (the objects that hold them), bytes.
RECORD_OVERHEAD_BYTES = 1536
POINTER_BYTES = 16
#: What a str object costs beyond its characters (CPython: 40 to 56 bytes).
STR_OBJECT_BYTES = 56
CUT = "…"
#: Stands for "the body was not parsed as JSON (yet)".
NOT_PARSED: Any = object()
#: How deep a body nests, for emulator.context (the limit is bp_integrate.loading's).
json_depth = loading.depth


def clean(text: str) -> str:
    """``text`` made encodable as UTF-8 (a lone surrogate becomes ``?``).

    A JSON body may carry ``"\\ud800"``: kept as is, it would break every later
    answer or line that includes it (``/_received``, the capture file).
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _escape(char: str) -> str:
    code = ord(char)
    if char in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` safe to print on one terminal line: every character Python does not call
    printable (controls such as ESC, CR and LF, C1 controls, bidi overrides and other
    invisible format characters, separators other than the space, lone surrogates) is
    shown as its escape (``\\x1b``, ``\\n``, ``\\u202e``); everything else as is.

    A client must not be able to colour, move, clear or forge the receiver's lines
    (``/webhook/%0a%0dFAKE-LINE``). Backslashes are kept: an escape a client typed is
    text, and cannot make a line of its own.
    """
    if text.isprintable():  # the usual case, at C speed
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


@functools.lru_cache(maxsize=32)
def _redactor(secrets: tuple[str, ...]) -> Redactor:
    """The one masker, knowing these secrets (built once per set)."""
    return Redactor(secrets)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every (non-empty) secret, in any encoded form, as ``****``."""
    return _redactor(tuple(secrets)).text(text)


def shown_query(query_string: str, secrets: Iterable[str] = ()) -> str:
    """A query string with secret parameter values and known secrets as ``****``."""
    return scrub(mask_query(query_string), secrets) if query_string else ""


def mask_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], secrets: Iterable[str] = ()
) -> tuple[tuple[str, str], ...]:
    """Headers (a mapping or pairs) as pairs: a secret-named header's value is ``****``,
    whole; known secrets are masked in the others."""
    redactor = _redactor(tuple(secrets))
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return tuple(
        (clean(name), MASK if is_secret_name(name) else clean(redactor.text(value)))
        for name, value in pairs
    )


def masked_body(
    body: bytes, secrets: Iterable[str] = (), parsed: Any = NOT_PARSED
) -> tuple[Any, str | None]:
    """A body as it may be shown: (its JSON with secret-named fields masked, a key as
    ``****`` and its last 4 characters, and every configured secret masked in its strings,
    None) or, when it is not JSON or is out of bounds, (NOT_PARSED, its text masked).

    ``parsed``: the body already parsed (and depth-checked) by a handler, if it was.
    """
    redactor = _redactor(tuple(secrets))
    if parsed is NOT_PARSED:
        text = body.decode("utf-8", errors="replace")
        try:
            parsed = loading.loads(text, allow_nan=True)
        except ValueError:
            return NOT_PARSED, clean(redactor.text(text))
    # A lone surrogate stays: JSON's escapes carry it.
    return redactor.value(mask_named(parsed, mask_key)), None


class _TooDeep(ValueError):
    pass


def _start_of(value: Any, budget: list[int], cut: int, level: int = 1) -> Any:
    """The part of ``value`` its first ``budget[0]`` values make (containers and scalars,
    in the order JSON writes them), strings cut to ``cut`` characters: everything the
    start of its JSON text can show, each value being at least one character of it.
    Deeper than bp_integrate.loading's depth limit is :class:`_TooDeep`."""
    budget[0] -= 1
    if isinstance(value, str):
        return value[:cut]
    if not isinstance(value, dict | list):
        return value
    if level > loading.MAX_DEPTH:
        raise _TooDeep
    if isinstance(value, list):
        items: list[Any] = []
        for item in value:
            if budget[0] <= 0:
                break
            items.append(_start_of(item, budget, cut, level + 1))
        return items
    fields: dict[str, Any] = {}
    for name, item in value.items():
        if budget[0] <= 0:
            break
        fields[name[:cut]] = _start_of(item, budget, cut, level + 1)
    return fields


def body_preview(
    body: bytes,
    secrets: Iterable[str] = (),
    limit: int = PREVIEW_CHARS,
    parsed: Any = NOT_PARSED,
) -> str:
    """A short, masked, single-line preview of a request body (masked as
    :func:`masked_body` masks). Only the part of the body the preview can show is
    masked and written, so a large body costs little more than a small one."""
    if not body:
        return ""
    secrets = tuple(secrets)
    text = body.decode("utf-8", errors="replace")
    flat: str | None = None
    try:
        if parsed is NOT_PARSED:
            parsed = json.loads(text)
        # A secret starting in the shown part ends within the margin: masked whole.
        cut = limit + 256 + 8 * max(map(len, secrets), default=0)
        start = _start_of(parsed, [limit], cut)
    except (ValueError, RecursionError):  # not JSON, or too deep: shown as text
        flat = " ".join(clean(_redactor(secrets).text(text)).split())
    if flat is None:
        masked, _ = masked_body(body, secrets, start)
        flat = clean(json.dumps(masked, separators=(",", ":"), ensure_ascii=False))
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat


@dataclass(frozen=True, eq=False)
class RawRequest:
    """What a record is masked from, kept as received but bounded (masking is done when
    read; a part cut to its bound is masked before it is cut, so no secret is cut in half).

    ``body`` is kept only up to :data:`LAZY_BODY_BYTES`; a larger body has its
    ``preview`` made at once instead, so the log stays small. ``headers`` holds at most
    :data:`MAX_KEPT_HEADERS` pairs; ``headers_not_kept`` counts the rest. ``cost`` is
    what the record holds, in bytes (an estimate that counts its masked copies too),
    for the request log's budget.
    """

    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    preview: str | None
    errors: tuple[str, ...]
    note: str
    key: str | None
    secrets: tuple[str, ...]
    headers_not_kept: int = 0
    cost: int = 0


#: Bodies up to this size are kept raw and previewed only when the record is read.
LAZY_BODY_BYTES = 2048


def bounded(text: str, limit: int, secrets: tuple[str, ...]) -> str:
    """``text`` if it is at most ``limit`` characters; else its start, secrets masked
    first (in any encoded form the masker knows, so the margin covers the longest of
    them), cut to ``limit`` and marked with ``…``."""
    if len(text) <= limit:
        return text
    margin = 256 + 8 * max((len(s) for s in secrets), default=0)
    shown = clean(scrub(text[: limit + margin], secrets))
    return shown[: limit - len(CUT)] + CUT


#: Whether a header name is a secret's, remembered: a client sends the same few names.
_secret_header = functools.lru_cache(maxsize=512)(is_secret_name)


def _kept_headers(
    headers: Mapping[str, str], secrets: tuple[str, ...]
) -> tuple[tuple[tuple[str, str], ...], int]:
    pairs = tuple(headers.items())
    # The usual request: few headers, none longer than a name may be. Kept as they came
    # (masked when read, like every part of a record).
    if len(pairs) <= MAX_KEPT_HEADERS and (
        not pairs or max(map(len, itertools.chain.from_iterable(pairs))) <= MAX_HEADER_NAME_CHARS
    ):
        return pairs, 0
    kept: list[tuple[str, str]] = []
    for count, (name, value) in enumerate(pairs):
        if count == MAX_KEPT_HEADERS:
            return tuple(kept), len(headers) - MAX_KEPT_HEADERS
        # Judged on the whole name: a cut name could lose the word that makes it secret.
        if _secret_header(name):
            value = MASK
        elif len(value) > MAX_HEADER_VALUE_CHARS:
            value = bounded(value, MAX_HEADER_VALUE_CHARS, secrets)
        if len(name) > MAX_HEADER_NAME_CHARS:
            name = bounded(name, MAX_HEADER_NAME_CHARS, secrets)
        kept.append((name, value))
    return tuple(kept), 0


def raw_request(
    *,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    parsed: Any,
    errors: Iterable[str],
    note: str,
    key: str | None,
    secrets: tuple[str, ...],
) -> RawRequest:
    """The raw side of a record, every part bounded; the body previewed now only when it
    is large."""
    kept_headers, not_kept = _kept_headers(headers, secrets)
    kept_errors = (
        tuple(
            bounded(error, MAX_TEXT_CHARS, secrets)
            for error in itertools.islice(errors, MAX_KEPT_ERRORS)
        )
        if errors
        else ()
    )
    path = bounded(path, MAX_PATH_CHARS, secrets)
    query = bounded(query, MAX_QUERY_CHARS, secrets)
    note = bounded(note, MAX_TEXT_CHARS, secrets)
    key = None if key is None else bounded(key, MAX_TEXT_CHARS, secrets)
    kept = len(body) <= LAZY_BODY_BYTES
    kept_body = body if kept else b""
    preview = None if kept else body_preview(body, secrets, parsed=parsed)
    # Each string twice (the masked copy a reader makes), with its object and its place
    # in a tuple; the body and the preview a reader makes of it.
    # Sized as one string: its characters at the widest any of them needs (never less
    # than apart), and each string's own object.
    texts = [path, query, note, key or "", preview or "", *kept_errors]
    texts.extend(itertools.chain.from_iterable(kept_headers))
    strings = sys.getsizeof("".join(texts)) + len(texts) * (STR_OBJECT_BYTES + POINTER_BYTES)
    cost = RECORD_OVERHEAD_BYTES + 2 * strings + sys.getsizeof(kept_body)
    return frozen_from(
        RawRequest,
        {
            "path": path,
            "query": query,
            "headers": kept_headers,
            "body": kept_body,
            "preview": preview,
            "errors": kept_errors,
            "note": note,
            "key": key,
            "secrets": secrets,
            "headers_not_kept": not_kept,
            "cost": cost + 4 * PREVIEW_CHARS if kept_body else cost,
        },
    )


_F = TypeVar("_F")


def frozen_from(cls: type[_F], fields: dict[str, Any]) -> _F:
    """An instance of the frozen dataclass `cls` from every one of its fields, made
    without its generated `__init__`, which sets each field through `object.__setattr__`
    (a record is made per request: that was a tenth of the emulator's own work). It stays
    frozen: any later assignment is refused. The two callers give every field by name
    (tests/test_emulator_bounds.py reads each back); a count that differs is refused."""
    if len(fields) != len(getattr(cls, "__dataclass_fields__", ())):
        raise TypeError(f"{cls.__name__} needs exactly the fields of its dataclass")
    made = object.__new__(cls)
    made.__dict__.update(fields)
    return made


@dataclass(frozen=True)
class ReceivedRecord:
    """One request an emulated target received, as answered, with secrets masked.

    ``target`` is the emulated system (``xmatters``, ``panopta``, ``pagerduty``,
    ``incidentio``, ``bigpanda``, ``webhook`` or ``unknown``); ``route`` the specific
    endpoint (e.g. ``panopta_outage``, ``pagerduty_events``). ``status`` is ``None``
    when the connection was dropped on purpose (fault injection). ``valid`` says
    whether the request was acceptable to the real service; ``errors`` says why
    not. ``note`` is what happened in the target (e.g. ``no event created``),
    ``key`` the identity it was keyed on (dedup key, incident id, outage key) and
    ``action`` the event kind (``trigger``, ``incident#new``, ``outage``...).

    The fields that could hold a secret (``path``, ``query``, ``headers``,
    ``errors``, ``note``, ``key``, ``body_preview``) are masked the first time
    they are read, not while the request is answered: under load most records
    are never read.
    """

    seq: int
    time: float
    method: str
    target: str
    route: str
    status: int | None
    valid: bool
    action: str | None
    body_bytes: int
    fault: str | None
    duration_ms: float
    raw: RawRequest = field(repr=False)

    @functools.cached_property
    def path(self) -> str:
        return clean(scrub(self.raw.path, self.raw.secrets))

    @functools.cached_property
    def query(self) -> str:
        return clean(shown_query(self.raw.query, self.raw.secrets))

    @functools.cached_property
    def headers(self) -> tuple[tuple[str, str], ...]:
        return mask_headers(self.raw.headers, self.raw.secrets)

    @functools.cached_property
    def errors(self) -> tuple[str, ...]:
        return tuple(clean(scrub(e, self.raw.secrets)) for e in self.raw.errors)

    @functools.cached_property
    def note(self) -> str:
        return clean(scrub(self.raw.note, self.raw.secrets))

    @functools.cached_property
    def key(self) -> str | None:
        key = self.raw.key
        return None if key is None else clean(scrub(key, self.raw.secrets))

    @functools.cached_property
    def body_preview(self) -> str:
        if self.raw.preview is not None:
            return self.raw.preview
        return body_preview(self.raw.body, self.raw.secrets)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of this record."""
        return {
            "seq": self.seq,
            "time": datetime.fromtimestamp(self.time, tz=UTC).isoformat(),
            "timestamp": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "target": self.target,
            "route": self.route,
            "status": self.status,
            "valid": self.valid,
            "errors": list(self.errors),
            "note": self.note,
            "key": self.key,
            "action": self.action,
            "body_preview": self.body_preview,
            "body_bytes": self.body_bytes,
            "headers": {name: value for name, value in self.headers},
            "headers_not_kept": self.raw.headers_not_kept,
            "fault": self.fault,
            "duration_ms": round(self.duration_ms, 3),
        }
