"""BigPanda's lifecycle events and statuses: names, forgiving spellings, severity order.

Owns which events exist (`EVENTS`, BigPanda's own list [C]), how a user may spell them
(`resolve_event`), the built-in lifecycles, which events leave a test incident open or
closed on a target, the status ranks (ok < unknown < warning < critical), and reading a
webhook body's event and incident in any envelope (`event_of`, the one `incident_of`;
`webhook` re-exports both, `testmark` reads through this one). Stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bp_integrate.errors import UsageError, nearest

# --------------------------------------------------------------------------- events

EVENTS: tuple[str, ...] = (
    "incident#new",
    "incident#updated",
    "incident#closed",
    "incident#reopen",
    "incident#snoozed",
    "incident#commented",
    "incident#become-flapping",
    "incident-tag#upserted",
    "incident-tag#removed",
    "manual",
    "default",
)

_EVENT_SET = frozenset(EVENTS)
NEW, UPDATED, CLOSED, REOPEN, SNOOZED, COMMENTED, FLAPPING = EVENTS[:7]
TAG_UPSERTED, TAG_REMOVED, MANUAL, DEFAULT = EVENTS[7:]

# Forgiving spellings, after lowercasing and turning `_`/spaces into `-`.
_EVENT_ALIASES: dict[str, str] = {
    "new": NEW,
    "create": NEW,
    "created": NEW,
    "open": NEW,
    "opened": NEW,
    "update": UPDATED,
    "updated": UPDATED,
    "close": CLOSED,
    "closed": CLOSED,
    "resolve": CLOSED,
    "resolved": CLOSED,
    "reopen": REOPEN,
    "reopened": REOPEN,
    "re-open": REOPEN,
    "re-opened": REOPEN,
    "snooze": SNOOZED,
    "snoozed": SNOOZED,
    "comment": COMMENTED,
    "commented": COMMENTED,
    "flapping": FLAPPING,
    "flap": FLAPPING,
    "become-flapping": FLAPPING,
    "tag-upserted": TAG_UPSERTED,
    "tag-upsert": TAG_UPSERTED,
    "tag-added": TAG_UPSERTED,
    "tag-add": TAG_UPSERTED,
    "upserted": TAG_UPSERTED,
    "upsert": TAG_UPSERTED,
    "tag-removed": TAG_REMOVED,
    "tag-remove": TAG_REMOVED,
    "removed": TAG_REMOVED,
    "untag": TAG_REMOVED,
}

BUILTIN_SCENARIOS: dict[str, tuple[str, ...]] = {
    "lifecycle": (NEW, UPDATED, CLOSED, REOPEN, CLOSED),
    "flapping": (NEW, FLAPPING, UPDATED, CLOSED),
    "comment": (NEW, COMMENTED, CLOSED),
}
LIFECYCLE_ORDER: tuple[str, ...] = BUILTIN_SCENARIOS["lifecycle"]


def resolve_event(name: str) -> str:
    """The canonical event for `name`: exact names, or forgiving forms (`new`, `Flapping`)."""
    if name in _EVENT_SET:  # the common case, once per rendered body: no string work
        return name
    key = re.sub(r"[\s_]+", "-", name.strip().lower())
    if key in EVENTS:
        return key
    if key in _EVENT_ALIASES:
        return _EVENT_ALIASES[key]
    for prefix in ("incident#", "incident-", "incident.", "incident:"):
        rest = key.removeprefix(prefix)
        if rest != key and rest in _EVENT_ALIASES:
            return _EVENT_ALIASES[rest]
    spellings = list(EVENTS) + list(_EVENT_ALIASES)
    guess = nearest(key, spellings) if key else None
    listing = "`bp-integrate send-test --help` lists them"
    if guess is not None:
        suggestion = guess if guess in EVENTS else _EVENT_ALIASES[guess]
        hint = f"Did you mean '{suggestion}'? {listing}."
    else:
        hint = f"Events: {', '.join(EVENTS)}; {listing}."
    raise UsageError(f"Unknown BigPanda event '{name}'.", hint)


# --------------------------------------------------------------------------- statuses

STATUSES: tuple[str, ...] = ("critical", "warning", "unknown", "ok")
_RANK = {"ok": 0, "unknown": 1, "warning": 2, "critical": 3}


def status_rank(status: str) -> int:
    """How severe a BigPanda status is: ok 0 < unknown 1 < warning 2 < critical 3."""
    try:
        return _RANK[status.lower()]
    except KeyError:
        raise UsageError(
            f"Unknown BigPanda status '{status}'.",
            f"Use one of: {', '.join(STATUSES)}.",
        ) from None


_PAGERDUTY_SEVERITY = {
    "critical": "critical",
    "warning": "warning",
    "unknown": "error",
    "ok": "info",
}


def severity_to_pagerduty(status: str) -> str:
    """PagerDuty Events v2 `payload.severity` for a BigPanda status.

    critical→critical, warning→warning, ok→info, and unknown→error [G]: an unknown check
    result usually means the check itself failed, which PagerDuty's `error` describes better
    than `info`. Case-insensitive; anything else is a UsageError.
    """
    try:
        return _PAGERDUTY_SEVERITY[status.strip().lower()]
    except KeyError:
        raise UsageError(
            f"Cannot map BigPanda status '{status}' to a PagerDuty severity.",
            f"The incident status must be one of: {', '.join(STATUSES)}.",
        ) from None


#: Events after which the test incident is open on a target that took them.
OPENING_EVENTS = frozenset({NEW, UPDATED, REOPEN, FLAPPING})
#: Events after which it is closed.
CLOSING_EVENTS = frozenset({CLOSED})


# --------------------------------------------------------------------------- reading a body


def incident_of(body: Mapping[str, Any]) -> dict[str, Any]:
    """The incident object inside a webhook body, whatever its envelope.

    `{"incident": {...}, ...}` gives the inner object; anything else is taken as a bare
    incident (an empty dict when `body` is not a dict at all).
    """
    inner = body.get("incident")
    if isinstance(inner, dict):
        return inner
    return body if isinstance(body, dict) else {}


def event_of(body: Mapping[str, Any]) -> str | None:
    """The BigPanda event a body names, in any envelope: `metadata.event` (ours),
    a top-level `event_type`/`event`/`trigger`, or None when it names none."""
    candidates: list[Any] = []
    meta = body.get("metadata")
    if isinstance(meta, Mapping):
        candidates += [meta.get("event"), meta.get("event_type"), meta.get("trigger")]
    candidates += [body.get("event_type"), body.get("event"), body.get("trigger")]
    for value in candidates:
        if isinstance(value, str) and value in _EVENT_SET:
            return value
    return None
