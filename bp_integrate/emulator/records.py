"""What the emulator remembers about each received request, with secrets masked.

This module owns :class:`ReceivedRecord` (one immutable entry per request the
emulated targets received) and how a request is shown: every part that could hold a
secret goes through bp_integrate.redact, the one masker (its one list of secret
names: ``apiKey``-like query values, ``Authorization``-like headers and credential-like
JSON fields in body previews all become ``****``), with every configured secret value
masked wherever it appears. Bodies are read by bp_integrate.loading, within its one
depth limit.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bp_integrate import loading
from bp_integrate.redact import MASK, Redactor, is_secret_name, mask_named, mask_query
from bp_integrate.redact import mask_key as mask_key

PREVIEW_CHARS = 300
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
    headers: Mapping[str, str], secrets: Iterable[str] = ()
) -> tuple[tuple[str, str], ...]:
    """Headers as pairs: a secret-named header's value is ``****``, whole; known secrets
    are masked in the others."""
    redactor = _redactor(tuple(secrets))
    return tuple(
        (clean(name), MASK if is_secret_name(name) else clean(redactor.text(value)))
        for name, value in headers.items()
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
            "fault": self.fault,
            "duration_ms": round(self.duration_ms, 3),
        }
