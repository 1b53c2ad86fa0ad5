"""The BigPanda Notifications Webhook body: lifecycle events, a simulated incident, the envelope.

Owns what bp-integrate sends *as BigPanda would*: the event names, an `IncidentSimulator` that
carries one incident (one `incident.id`, advancing clock) through a lifecycle and renders the
incident object with its alerts expanded, the envelope around it, `--set PATH=VALUE` edits and
`--payload FILE` loading. Stdlib only.

Confidence (see docs/domain.md): the incident and alert fields are BigPanda's own [C]/[S]; the
envelope (`{"event_type", "incident"}`), the `comment` field of an `incident#commented` body, the
shape of `correlation_matchers_log` entries and the PagerDuty severity of `unknown` are our
reconstruction [G], and each is a setting (envelope shape, `--set`, `--payload`).
"""

from __future__ import annotations

import copy
import json
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from bp_integrate.errors import UsageError, nearest
from bp_integrate.integrations.common import (
    TAG_NAME_MAX,
    TEST_MARKER_TAG,
    validate_tag_name,
)

__all__ = [
    "BUILTIN_SCENARIOS",
    "DESCRIPTION_MAX",
    "ENVELOPE_SHAPES",
    "EVENTS",
    "LIFECYCLE_ORDER",
    "SNOOZE_SECONDS",
    "STATUSES",
    "SUMMARY_MAX",
    "TAG_NAME_MAX",
    "TEST_MARKER_TAG",
    "EnvelopeShape",
    "IncidentSimulator",
    "envelope",
    "load_payload_file",
    "mark_as_test",
    "new_incident_id",
    "parse_assignment",
    "resolve_event",
    "set_path",
    "severity_to_pagerduty",
    "status_rank",
    "summary",
    "validate_tag_name",
]

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


# --------------------------------------------------------------------------- tags


# --------------------------------------------------------------------------- ids


def new_incident_id(rng: random.Random | None = None, at: int | None = None) -> str:
    """A BigPanda-looking id: 24 hex digits like a Mongo ObjectId (4-byte time + 8 random bytes).

    With a seeded `rng` and a fixed `at` (unix seconds) the id is reproducible.
    """
    source = rng if rng is not None else random.SystemRandom()
    seconds = int(time.time()) if at is None else at
    return f"{seconds & 0xFFFFFFFF:08x}{source.getrandbits(64):016x}"


# --------------------------------------------------------------------------- the simulator

DESCRIPTION_MAX = 2048
SUMMARY_MAX = 1024
_TEST_PREFIX = "[TEST] "
SNOOZE_SECONDS = 3600
_MAX_ALERTS = 3

_HOSTS = (
    "prod-db-03.example.com",
    "prod-web-01.example.com",
    "prod-api-07.example.com",
    "prod-cache-02.example.com",
    "prod-queue-04.example.com",
)
_SOURCES = (
    "nagios.nagios_east",
    "nagios.nagios_west",
    "zabbix.zabbix_prod",
    "datadog.datadog_prod",
)
# check -> (description template, value ranges by status); `{v}` is the measured value.
_CHECKS: dict[str, tuple[str, dict[str, tuple[int, int]]]] = {
    "CPU load": (
        "CPU load is {v}% on {host}",
        {"critical": (95, 99), "warning": (85, 94), "ok": (12, 40)},
    ),
    "Memory usage": (
        "Memory usage is {v}% on {host}",
        {"critical": (96, 99), "warning": (88, 95), "ok": (35, 60)},
    ),
    "Disk usage /var": (
        "Disk usage of /var is {v}% on {host}",
        {"critical": (95, 99), "warning": (85, 94), "ok": (40, 70)},
    ),
    "HTTP 5xx rate": (
        "HTTP 5xx rate is {v}% on {host}",
        {"critical": (20, 45), "warning": (5, 15), "ok": (0, 1)},
    ),
    "Replication lag": (
        "Replication lag is {v}s on {host}",
        {"critical": (300, 900), "warning": (60, 240), "ok": (0, 2)},
    ),
}


@dataclass
class _Alert:
    id: str
    host: str
    check: str
    source_system: str
    status: str
    start: int
    changed_at: int
    updated_at: int
    description: str
    end: int | None = None

    @property
    def active(self) -> bool:
        return self.status != "ok"


class IncidentSimulator:
    """One BigPanda incident carried through a lifecycle, rendered after each event.

    `apply(event)` changes the state as BigPanda would and returns a deep copy of the incident
    object with its alerts expanded. Rules the state keeps after every event, whatever order
    the events come in (replays send what they are told):

    - one `id`; `start` fixed; the clock advances 20-180 s per apply (from `rng`), and the
      incident's `changed_at`/`updated_at` take the new time, so they strictly increase; an
      alert's timestamps move only when that alert changes;
    - an alert is active iff its status is not ok, and has `end` iff inactive;
    - the incident is active iff some alert is; `status` is the most severe active alert's
      status (ok when none); `end` is set iff inactive; `severity` is the highest status ever
      reached and never goes down;
    - any event on a not-yet-created incident first creates it (as `incident#new` would).

    Events: `new` fires one critical alert (re-fires the primary alert if the incident exists
    and is closed); `updated` re-fires an inactive alert as warning, else correlates a new
    warning alert on the same host (up to 3), else flips the newest alert warning↔critical;
    `closed` resolves every alert (`end` = now; a second close keeps the first `end`);
    `reopen` re-fires the primary alert critical, clears `end` and `flapping`;
    `become-flapping` sets `flapping` (re-firing the primary alert if closed); `snoozed`
    snoozes for an hour with `autoCancel` (cancelled by a later new/updated/closed/reopen/
    flapping event, or when the clock passes `end_time`); `commented` changes nothing but
    the timestamps: the comment text is kept in `last_comment` and travels in the envelope
    (see `envelope`); tag events upsert/remove an `incident_tags` entry; `manual`/`default`
    only advance the timestamps.

    Full determinism needs a seeded `rng` *and* a fixed `start` (default: now).
    """

    def __init__(
        self,
        incident_id: str | None = None,
        start: int | None = None,
        tags: Mapping[str, str] | None = None,
        test_marker: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        self._rng = rng if rng is not None else random.Random()
        self.start: int = int(time.time()) if start is None else int(start)
        self.incident_id: str = incident_id or new_incident_id(self._rng, self.start)
        self.test_marker = test_marker
        self._user_tags: dict[str, str] = {}
        for name, value in (tags or {}).items():
            self._user_tags[validate_tag_name(name)] = str(value)
        self.now: int = self.start
        self.last_comment: str | None = None
        self._created = False
        self._alerts: list[_Alert] = []
        self._severity = "ok"
        self._flapping = False
        self._snooze: dict[str, Any] = {"snoozed": False, "end_time": None, "autoCancel": False}
        self._end: int | None = None
        self._changed_at = self.start
        self._updated_at = self.start
        self._environments = [new_incident_id(self._rng, self.start - 86_400 * 90)]
        self._incident_tags: list[dict[str, str]] = []
        if test_marker:
            self._incident_tags.append({"tag_id": TEST_MARKER_TAG, "tag_value": "true"})
        self._correlation_log: list[dict[str, Any]] = []
        self._host = self._user_tags.get("host") or self._rng.choice(_HOSTS)
        self._source = self._rng.choice(_SOURCES)

    # ---- public

    @property
    def created(self) -> bool:
        """Whether the incident exists yet (any event creates it)."""
        return self._created

    def apply(
        self,
        event: str,
        *,
        comment: str | None = None,
        tag: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """Change the incident as `event` would and return a deep copy of it (alerts expanded).

        `comment` is the text of an `incident#commented` event (a default one otherwise);
        `tag` is the `(name, value)` of a tag event (`priority=P2` for an upsert by default;
        a removal without one removes the most recently upserted tag). Both are ignored by
        the other events.
        """
        kind = resolve_event(event)
        if tag is not None:
            validate_tag_name(tag[0])
        first = not self._created
        if first:
            self._create()
        else:
            self._tick()
        self._expire_snooze()
        if kind == NEW:
            if not first and not self._active:
                self._set_status(self._alerts[0], "critical")
        elif kind == UPDATED:
            self._update()
        elif kind == CLOSED:
            self._close()
        elif kind == REOPEN:
            self._set_status(self._alerts[0], "critical")
            self._flapping = False
        elif kind == FLAPPING:
            if not self._active:
                self._set_status(self._alerts[0], "critical")
            self._flapping = True
        elif kind == SNOOZED:
            self._snooze = {
                "snoozed": True,
                "end_time": self.now + SNOOZE_SECONDS,
                "autoCancel": True,
            }
        elif kind == COMMENTED:
            self.last_comment = comment if comment is not None else self._default_comment()
        elif kind == TAG_UPSERTED:
            name, value = tag if tag is not None else ("priority", "P2")
            self._upsert_tag(name, str(value))
        elif kind == TAG_REMOVED:
            self._remove_tag(tag[0] if tag is not None else None)
        if kind in (NEW, UPDATED, CLOSED, REOPEN, FLAPPING) and self._snooze["autoCancel"]:
            self._cancel_snooze()
        self._recompute()
        return self.state()

    def state(self) -> dict[str, Any]:
        """A deep copy of the incident as it stands (alerts expanded), without advancing."""
        if not self._created:
            raise UsageError(
                "The simulated incident does not exist yet.",
                "Apply an event (incident#new) before asking for its state.",
            )
        return copy.deepcopy(self._render())

    # ---- state changes

    def _create(self) -> None:
        self._created = True
        check = self._user_tags.get("check") or self._rng.choice(list(_CHECKS))
        self._alerts.append(self._new_alert(check, "critical"))
        self._recompute()

    def _tick(self) -> None:
        self.now += self._rng.randint(20, 180)

    def _new_alert(self, check: str, status: str) -> _Alert:
        alert = _Alert(
            id=new_incident_id(self._rng, self.now),
            host=self._host,
            check=check,
            source_system=self._source,
            status=status,
            start=self.now,
            changed_at=self.now,
            updated_at=self.now,
            description=self._describe(check, status),
        )
        return alert

    def _set_status(self, alert: _Alert, status: str) -> None:
        alert.status = status
        alert.description = self._describe(alert.check, status)
        alert.changed_at = alert.updated_at = self.now
        alert.end = None if status != "ok" else self.now

    def _update(self) -> None:
        if not self._active:
            return  # an update to a closed incident changes nothing but the timestamps
        inactive = [a for a in self._alerts if not a.active]
        if inactive:
            self._set_status(inactive[0], "warning")
            return
        used = {a.check for a in self._alerts}
        spare = [c for c in _CHECKS if c not in used]
        if len(self._alerts) < _MAX_ALERTS and spare:
            alert = self._new_alert(self._rng.choice(spare), "warning")
            self._alerts.append(alert)
            self._correlation_log.append(
                {
                    "matcher_id": new_incident_id(self._rng, self.start - 86_400 * 30),
                    "alert_id": alert.id,
                    "tags": ["host"],
                    "matched_value": {"host": alert.host},
                    "time_window": 7200,
                    "correlated_at": self.now,
                }
            )
            return
        newest = self._alerts[-1]
        self._set_status(newest, "critical" if newest.status != "critical" else "warning")

    def _close(self) -> None:
        for alert in self._alerts:
            if alert.active:
                self._set_status(alert, "ok")

    def _cancel_snooze(self) -> None:
        self._snooze = {"snoozed": False, "end_time": None, "autoCancel": False}

    def _expire_snooze(self) -> None:
        end_time = self._snooze["end_time"]
        if self._snooze["snoozed"] and isinstance(end_time, int) and self.now >= end_time:
            self._cancel_snooze()

    def _upsert_tag(self, name: str, value: str) -> None:
        for entry in self._incident_tags:
            if entry["tag_id"] == name:
                entry["tag_value"] = value
                return
        self._incident_tags.append({"tag_id": name, "tag_value": value})

    def _remove_tag(self, name: str | None) -> None:
        if name is None:
            removable = [t for t in self._incident_tags if t["tag_id"] != TEST_MARKER_TAG]
            if not removable:
                return
            name = removable[-1]["tag_id"]
        self._incident_tags = [t for t in self._incident_tags if t["tag_id"] != name]

    def _recompute(self) -> None:
        self._changed_at = self._updated_at = self.now
        status = self._status
        if status_rank(status) > status_rank(self._severity):
            self._severity = status
        if self._active:
            self._end = None
        elif self._end is None:
            self._end = self.now

    # ---- rendering

    @property
    def _active(self) -> bool:
        return any(a.active for a in self._alerts)

    @property
    def _status(self) -> str:
        active = [a.status for a in self._alerts if a.active]
        return max(active, key=status_rank) if active else "ok"

    def _default_comment(self) -> str:
        text = "Comment added by bp-integrate to test the integration."
        return _TEST_PREFIX + text if self.test_marker else text

    def _describe(self, check: str, status: str) -> str:
        template, ranges = _CHECKS.get(check, ("{check} is {v} on {host}", {}))
        if status == "unknown":
            text = f"{check} is UNKNOWN on {self._host}: the check timed out"
        else:
            low, high = ranges.get(status, ranges.get("critical", (1, 100)))
            text = template.format(v=self._rng.randint(low, high), host=self._host, check=check)
        if self.test_marker:
            return _truncate(_TEST_PREFIX + text, DESCRIPTION_MAX)
        return _truncate(text, DESCRIPTION_MAX)

    def _render_alert(self, alert: _Alert) -> dict[str, Any]:
        tags = {"host": alert.host, "check": alert.check}
        tags.update(self._user_tags)
        tags["host"], tags["check"] = alert.host, alert.check
        if self.test_marker:
            tags[TEST_MARKER_TAG] = "true"
        return {
            "id": alert.id,
            "status": alert.status,
            "start": alert.start,
            "end": alert.end,
            "changed_at": alert.changed_at,
            "updated_at": alert.updated_at,
            "active": alert.active,
            "primary_property": "host",
            "secondary_property": "check",
            "source_system": alert.source_system,
            "incident_key": f"{alert.host}/{alert.check}",
            "description": alert.description,
            "tags": [{"name": k, "value": v} for k, v in tags.items()],
        }

    def _render(self) -> dict[str, Any]:
        return {
            "id": self.incident_id,
            "status": self._status,
            "active": self._active,
            "severity": self._severity,
            "flapping": self._flapping,
            "snooze": dict(self._snooze),
            "start": self.start,
            "changed_at": self._changed_at,
            "updated_at": self._updated_at,
            "end": self._end,
            "environments": list(self._environments),
            "folders": [],
            "incident_tags": [dict(t) for t in self._incident_tags],
            "correlation_matchers_log": list(self._correlation_log),
            "alerts": [self._render_alert(a) for a in self._alerts],
        }


# --------------------------------------------------------------------------- envelope

EnvelopeShape = Literal["event", "incident", "bare"]
ENVELOPE_SHAPES: tuple[str, ...] = get_args(EnvelopeShape)


def envelope(
    event: str,
    incident: dict[str, Any],
    shape: EnvelopeShape = "event",
    comment: str | None = None,
) -> dict[str, Any]:
    """The webhook body around `incident`, in the chosen envelope shape.

    BigPanda documents the body as the incident object with alerts expanded, but not the
    envelope: consumers accept `{"incident": {...}}` and a bare incident, and whether the event
    is named is unconfirmed. So the envelope is our reconstruction [G] and a setting:

    - `event` (default): `{"event_type": "<event>", "incident": {...}}`
    - `incident`: `{"incident": {...}}`
    - `bare`: the incident object itself.

    `comment` (for `incident#commented`, also [G]) is added as a top-level `comment` field;
    in the bare shape it goes on a shallow copy of the incident. The incident is embedded,
    not copied, in the other shapes.
    """
    kind = resolve_event(event)
    if shape == "event":
        body: dict[str, Any] = {"event_type": kind, "incident": incident}
    elif shape == "incident":
        body = {"incident": incident}
    elif shape == "bare":
        body = dict(incident) if comment is not None else incident
    else:
        shown = ", ".join(ENVELOPE_SHAPES)
        guess = nearest(str(shape), list(ENVELOPE_SHAPES))
        hint = f"Did you mean '{guess}'? " if guess else ""
        raise UsageError(f"Unknown envelope shape '{shape}'.", f"{hint}Shapes: {shown}.")
    if comment is not None:
        body["comment"] = comment
    return body


# --------------------------------------------------------------------------- test marker


def mark_as_test(body: dict[str, Any]) -> None:
    """Mark a webhook body as test data, in place, where it has the fields for it.

    The same marks the simulator makes, applied last (after `--set` edits, and to a
    `--payload` body): `[TEST] ` before each alert's `description` and before the
    top-level `comment` (strings only, not twice), the `bp_integrate_test` tag on each
    alert whose `tags` is a list, and on `incident_tags` when it is a list. Nothing is
    added where the body has no such field: a body of your own keeps its shape.
    """
    comment = body.get("comment")
    if isinstance(comment, str) and not comment.startswith(_TEST_PREFIX):
        body["comment"] = _TEST_PREFIX + comment
    inner = body.get("incident")
    incident = inner if isinstance(inner, dict) else body
    alerts = incident.get("alerts")
    for alert in alerts if isinstance(alerts, list) else []:
        if not isinstance(alert, dict):
            continue
        description = alert.get("description")
        if isinstance(description, str) and not description.startswith(_TEST_PREFIX):
            alert["description"] = _truncate(_TEST_PREFIX + description, DESCRIPTION_MAX)
        tags = alert.get("tags")
        if isinstance(tags, list) and not any(
            isinstance(t, dict) and t.get("name") == TEST_MARKER_TAG for t in tags
        ):
            tags.append({"name": TEST_MARKER_TAG, "value": "true"})
    incident_tags = incident.get("incident_tags")
    if isinstance(incident_tags, list) and not any(
        isinstance(t, dict) and t.get("tag_id") == TEST_MARKER_TAG for t in incident_tags
    ):
        incident_tags.append({"tag_id": TEST_MARKER_TAG, "tag_value": "true"})


# --------------------------------------------------------------------------- summary


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def summary(incident: Mapping[str, Any]) -> str:
    """One line describing `incident`, ≤ 1024 characters (PagerDuty's `payload.summary`).

    The most severe active alert's description (the first alert's when none is active), with
    "(+N more alerts)" when other alerts are active; tolerant of hand-edited payloads.
    """
    alerts = [a for a in incident.get("alerts") or [] if isinstance(a, Mapping)]
    active = [a for a in alerts if a.get("active")]

    def rank(alert: Mapping[str, Any]) -> int:
        return _RANK.get(str(alert.get("status", "")).lower(), 0)

    lead = max(active, key=rank) if active else (alerts[0] if alerts else None)
    text = ""
    if lead is not None:
        text = str(lead.get("description") or "").strip()
        if not text:
            tags = {
                str(t.get("name")): str(t.get("value"))
                for t in lead.get("tags") or []
                if isinstance(t, Mapping)
            }
            check, host = tags.get("check"), tags.get("host")
            if check and host:
                text = f"{check} is {lead.get('status', 'unknown')} on {host}"
    if not text:
        text = f"BigPanda incident {incident.get('id', '?')} is {incident.get('status', '?')}"
    others = len(active) - 1
    if others > 0:
        text += f" (+{others} more alert{'s' if others > 1 else ''})"
    return _truncate(" ".join(text.split()), SUMMARY_MAX)


# --------------------------------------------------------------------------- --set / --payload


def parse_assignment(text: str) -> tuple[str, str]:
    """Split `PATH=VALUE` (the first `=`) from `--set`."""
    path, sep, value = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise UsageError(
            f"--set expects PATH=VALUE, got '{text}'.",
            "For example: --set incident.status=warning or "
            "--set 'incident.alerts[0].description=Disk full on db-1'.",
        )
    return path, value


_SEGMENT = re.compile(r"([^.\[\]]+)?((?:\[-?\d+\])*)")


def _split_path(path: str) -> list[str | int]:
    """`a.b[0].c.1` → ['a', 'b', 0, 'c', '1']; bracketed indexes become ints."""
    steps: list[str | int] = []
    for part in path.split("."):
        match = _SEGMENT.fullmatch(part)
        if not part or match is None or (match.group(1) is None and not match.group(2)):
            raise UsageError(
                f"Cannot read the path '{path}'.",
                "Paths are dotted keys with list indexes, like incident.alerts.0.status "
                "or incident.alerts[0].status.",
            )
        if match.group(1) is not None:
            steps.append(match.group(1))
        steps.extend(int(i) for i in re.findall(r"\[(-?\d+)\]", match.group(2)))
    return steps


def _parse_value(raw: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        return json.loads(raw, parse_constant=refuse)
    except ValueError:
        return raw


def _describe_found(value: Any) -> str:
    """`a str "critical"`, `null`: what --set found where it wanted to step inside."""
    if value is None:
        return "null"
    kind = {bool: "a boolean", str: "a string"}.get(type(value), "a number")
    return f"{kind} {_truncate(json.dumps(value), 40)}"


def _list_index(container: list[Any], step: str | int, where: str, path: str) -> int:
    if isinstance(step, int):
        index = step
    elif re.fullmatch(r"-?\d+", step):
        index = int(step)
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
    parses as JSON (`true`, `3`, `null`, `"x"`, `{...}`), else the raw string. An index out of
    range, an index into an object, or a step into a scalar is a UsageError naming the path.
    """
    steps = _split_path(path)
    value = _parse_value(raw_value)
    current: Any = body
    walked = ""
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
                current[step] = value
                return
            if step not in current:
                current[step] = {}
            current = current[step]
        elif isinstance(current, list):
            index = _list_index(current, step, where, path)
            if last:
                current[index] = value
                return
            current = current[index]
        else:
            raise UsageError(
                f"--set {path}: {where} is {_describe_found(current)}, "
                f"so it has no '{step}' inside.",
                f"Set {where} itself, e.g. --set '{where}={{\"{step}\": ...}}'.",
            )
        walked = f"{walked}.{step}" if walked else str(step)


def _keys(mapping: Mapping[str, Any]) -> str:
    keys = list(mapping)
    shown = ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "")
    return shown or "(none)"


def load_payload_file(path: Path) -> dict[str, Any]:
    """The JSON object in `path` (for `--payload FILE`), or a UsageError saying what is wrong."""
    hint = "Give --payload a JSON file holding one object (the webhook body)."
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"Payload file {path} does not exist.", hint) from None
    except IsADirectoryError:
        raise UsageError(f"Payload file {path} is a directory.", hint) from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"Payload file {path} is not UTF-8 text ({exc.reason}).", hint) from None
    except OSError as exc:
        raise UsageError(f"Cannot read payload file {path}: {exc.strerror}.", hint) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"Payload file {path} is not valid JSON: {exc.msg} "
            f"at line {exc.lineno}, column {exc.colno}.",
            hint,
        ) from None
    except (RecursionError, ValueError) as exc:  # too deep; an integer of 5,000 digits
        raise UsageError(f"Payload file {path} cannot be read: {exc}.", hint) from None
    from bp_integrate import loading  # depth and size bounds, as for every input

    loading.shaped(data, "payload file", str(path), UsageError, hint)
    if not isinstance(data, dict):
        raise UsageError(
            f"Payload file {path} holds a JSON {type(data).__name__}, not an object.", hint
        )
    return data
