"""What the emulator remembers about each received request, with secrets masked.

This module owns :class:`ReceivedRecord` (one immutable entry per request the
emulated targets received) and the masking helpers that make sure no secret is
ever echoed back: ``apiKey``-like query values, ``Authorization``-like header
values, credential-like JSON fields in body previews, and any configured secret
value wherever it appears, all become ``****``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

MASK = "****"
PREVIEW_CHARS = 300
#: Stands for "the body was not parsed as JSON (yet)".
NOT_PARSED: Any = object()
#: Bodies nested deeper than this are previewed as text, not walked.
PREVIEW_MAX_DEPTH = 64

_SENSITIVE_QUERY = re.compile(
    r"(?i)^(api[_-]?key|apikey|key|token|access[_-]?token|secret|password)$"
)
_SENSITIVE_HEADER = re.compile(r"(?i)(auth|cookie|token|secret|password|api[_-]?key|signature)")
_SENSITIVE_FIELD = re.compile(
    r"(?i)^(routing_key|integration_key|service_key|app_key|api[_-]?key|apikey|password"
    r"|secret|token|access_token|authorization)$"
)


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


def json_depth(value: Any) -> int:
    """How deep ``value`` nests (a scalar is 0, ``[]`` is 1), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


@functools.lru_cache(maxsize=32)
def _secret_pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """One compiled alternation of ``secrets``, longest first (built once per set)."""
    found = sorted({s for s in secrets if s}, key=len, reverse=True)
    return re.compile("|".join(re.escape(s) for s in found)) if found else None


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each (non-empty) secret in ``text`` with ``****``."""
    pattern = _secret_pattern(tuple(secrets))
    return text if pattern is None or not text else pattern.sub(MASK, text)


def mask_query(query_string: str, secrets: Iterable[str] = ()) -> str:
    """A query string with credential-like parameter values replaced by ``****``."""
    if not query_string:
        return ""
    pairs = parse_qsl(query_string, keep_blank_values=True)
    masked = [(k, MASK if _SENSITIVE_QUERY.match(k) else v) for k, v in pairs]
    return scrub(urlencode(masked, safe=",*"), secrets)


def mask_headers(
    headers: Mapping[str, str], secrets: Iterable[str] = ()
) -> tuple[tuple[str, str], ...]:
    """Headers as pairs, with credential-like header values replaced by ``****``."""
    secret_list = tuple(secrets)
    return tuple(
        (clean(name), MASK if _SENSITIVE_HEADER.search(name) else clean(scrub(value, secret_list)))
        for name, value in headers.items()
    )


def _mask_fields(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (_mask_value(v) if _SENSITIVE_FIELD.match(str(k)) else _mask_fields(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_mask_fields(v) for v in node]
    return node


def _mask_value(value: Any) -> Any:
    # Keep the last 4 characters of a long key, as PagerDuty's own client does.
    return mask_key(value) if isinstance(value, str) else MASK


def masked_body(
    body: bytes, secrets: Iterable[str] = (), parsed: Any = NOT_PARSED
) -> tuple[Any, str | None]:
    """A body as it may be shown: (its JSON with credential-like fields masked and every
    configured secret scrubbed from its strings, None) or, when it is not JSON (or nests
    past PREVIEW_MAX_DEPTH), (NOT_PARSED, its text scrubbed).

    ``parsed``: the body already parsed (and depth-checked) by a handler, if it was.
    """
    pattern = _secret_pattern(tuple(secrets))
    if parsed is NOT_PARSED:
        text = body.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text)
            if json_depth(parsed) > PREVIEW_MAX_DEPTH:
                raise ValueError("too deep to walk")
        except (ValueError, RecursionError):
            return NOT_PARSED, clean(text if pattern is None else pattern.sub(MASK, text))
    masked = _mask_fields(parsed)
    return (masked if pattern is None else _scrub_strings(masked, pattern)), None


def _scrub_strings(node: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(node, str):
        return pattern.sub(MASK, node)  # a lone surrogate stays: JSON's escapes carry it
    if isinstance(node, dict):
        return {k: _scrub_strings(v, pattern) for k, v in node.items()}
    if isinstance(node, list):
        return [_scrub_strings(v, pattern) for v in node]
    return node


def body_preview(
    body: bytes,
    secrets: Iterable[str] = (),
    limit: int = PREVIEW_CHARS,
    parsed: Any = NOT_PARSED,
) -> str:
    """A short, masked, single-line preview of a request body (see :func:`masked_body`)."""
    if not body:
        return ""
    masked, text = masked_body(body, secrets, parsed)
    if text is not None:
        flat = " ".join(text.split())
    else:
        flat = clean(json.dumps(masked, separators=(",", ":"), ensure_ascii=False))
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat


def mask_key(value: str) -> str:
    """A routing key or similar shown as ``****`` plus its last 4 characters."""
    return MASK + value[-4:] if len(value) > 8 else MASK


@dataclass(frozen=True, eq=False)
class RawRequest:
    """What a record is masked from, kept as received (masking is done when read).

    ``body`` is kept only up to :data:`LAZY_BODY_BYTES`; a larger body has its
    ``preview`` made at once instead, so the log stays small.
    """

    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    preview: str | None
    errors: tuple[str, ...]
    note: str
    key: str | None
    secrets: tuple[str, ...]


#: Bodies up to this size are kept raw and previewed only when the record is read.
LAZY_BODY_BYTES = 2048


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
    """The raw side of a record; the body previewed now only when it is large."""
    kept = len(body) <= LAZY_BODY_BYTES
    return RawRequest(
        path=path,
        query=query,
        headers=headers,
        body=body if kept else b"",
        preview=None if kept else body_preview(body, secrets, parsed=parsed),
        errors=tuple(errors),
        note=note,
        key=key,
        secrets=secrets,
    )


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
        return clean(mask_query(self.raw.query, self.raw.secrets))

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
            "fault": self.fault,
            "duration_ms": round(self.duration_ms, 3),
        }
