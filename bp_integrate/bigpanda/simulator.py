"""One simulated BigPanda incident carried through its lifecycle, and BigPanda-looking ids.

Owns `IncidentSimulator` (the state of one incident and the rules events change it by) and
`new_incident_id`. Rendering builds fresh dicts and lists from the state on every call, so
a body can be edited in place without a deep copy (storm mode renders hundreds of
thousands). Confidence of each field: docs/replay.md, "The body". Stdlib only.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bp_integrate.bigpanda.events import (
    CLOSED,
    COMMENTED,
    FLAPPING,
    NEW,
    REOPEN,
    SNOOZED,
    TAG_REMOVED,
    TAG_UPSERTED,
    UPDATED,
    resolve_event,
    status_rank,
)
from bp_integrate.bigpanda.tags import validate_tag_name
from bp_integrate.bigpanda.testmark import (
    DESCRIPTION_MAX,
    TEST_MARKER_TAG,
    TEST_PREFIX,
    incident_tag_id,
    truncate,
)
from bp_integrate.errors import UsageError

__all__ = [
    "CORRELATION_WINDOW_MINUTES",
    "DEFAULT_ENVIRONMENT_ID",
    "SNOOZE_SECONDS",
    "IncidentSimulator",
    "generated_environment_id",
    "new_incident_id",
]


def generated_environment_id(seed: str = "default") -> str:
    """A stable environment id for a profile without one: 24 hex digits from `seed` [G].

    The same profile name gives the same id in every run, so a receiver that routes on
    `metadata.environment_id` sees one environment, as it would from one real share.
    """
    return hashlib.sha1(f"bp-integrate environment {seed}".encode()).hexdigest()[:24]


DEFAULT_ENVIRONMENT_ID = generated_environment_id()
#: The pattern time window of our correlation entries: BigPanda's are 1-4320 minutes [S].
CORRELATION_WINDOW_MINUTES = 120


def new_incident_id(rng: random.Random | None = None, at: int | None = None) -> str:
    """A BigPanda-looking id: 24 hex digits like a Mongo ObjectId (4-byte time + 8 random bytes).

    With a seeded `rng` and a fixed `at` (unix seconds) the id is reproducible.
    """
    source = rng if rng is not None else random.SystemRandom()
    seconds = int(time.time()) if at is None else at
    return f"{seconds & 0xFFFFFFFF:08x}{source.getrandbits(64):016x}"


#: Seeds each simulator's own generator with 128 bits from one generator seeded once
#: from the OS: `random.Random()` reads 2.5 KB of urandom per call (11 us a storm
#: incident; 4 us from an integer). Storm workers are fresh interpreters, seeded anew.
_SEEDS = random.Random()


# --------------------------------------------------------------------------- the simulator

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
    last_event_at: int
    end: int | None = None

    @property
    def active(self) -> bool:
        return self.status != "ok"


class IncidentSimulator:
    """One BigPanda incident carried through a lifecycle, rendered after each event.

    `apply(event)` changes the state as BigPanda would and returns the incident object with
    its alerts expanded, built fresh from the state (the caller may edit it in place). Rules
    the state keeps after every event, whatever order the events come in (replays send what
    they are told):

    - one `id`; `start` fixed; the clock advances 20-180 s per apply (from `rng`), and the
      incident's `changed_at`/`updated_at` take the new time, so they strictly increase; an
      alert's timestamps move only when that alert changes;
    - an alert is active iff its status is not ok, and has `end` iff inactive;
    - the incident is active iff some alert is, and `resolved` iff it is not; `status` is
      the most severe active alert's status (ok when none); `end` is set iff inactive;
      `severity` is the highest status ever reached and never goes down;
    - any event on a not-yet-created incident first creates it (as `incident#new` would);
    - every alert has `last_event_at` (its last change) and `maintenance_plans` (empty);
      `environments` is `[environment_id]`; `folders` follows the state; incident tags are
      `{"tag_id": "itd-...", "tag_value"}`; `correlation_matchers_log` gets one list of
      matcher entries per correlated alert.

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
        environment_id: str | None = None,
    ) -> None:
        self._rng = rng if rng is not None else random.Random(_SEEDS.getrandbits(128))
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
        self.environment_id: str = environment_id or DEFAULT_ENVIRONMENT_ID
        # name -> value; rendered as {"tag_id": incident_tag_id(name), "tag_value": value}
        self._incident_tags: dict[str, str] = {}
        if test_marker:
            self._incident_tags[TEST_MARKER_TAG] = "true"
        # One list of matcher entries per correlation change (a list of lists [S]).
        self._correlation_log: list[list[dict[str, Any]]] = []
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
        """Change the incident as `event` would and return it (alerts expanded, built fresh).

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
        """The incident as it stands (alerts expanded, built fresh), without advancing."""
        if not self._created:
            raise UsageError(
                "The simulated incident does not exist yet.",
                "Apply an event (incident#new) before asking for its state.",
            )
        return self._render()

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
            last_event_at=self.now,
            description=self._describe(check, status),
        )
        return alert

    def _set_status(self, alert: _Alert, status: str) -> None:
        alert.status = status
        alert.description = self._describe(alert.check, status)
        alert.changed_at = alert.updated_at = alert.last_event_at = self.now
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
                [
                    {
                        "matcher_id": new_incident_id(self._rng, self.start - 86_400 * 30),
                        "alert_id": alert.id,
                        "tags": ["host"],
                        "matched_value": {"host": alert.host},
                        "time_window": CORRELATION_WINDOW_MINUTES,
                        "correlated_at": self.now,
                    }
                ]
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
        self._incident_tags[name] = value

    def _remove_tag(self, name: str | None) -> None:
        if name is None:
            removable = [n for n in self._incident_tags if n != TEST_MARKER_TAG]
            if not removable:
                return
            name = removable[-1]
        self._incident_tags.pop(name, None)

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
        return TEST_PREFIX + text if self.test_marker else text

    def _describe(self, check: str, status: str) -> str:
        template, ranges = _CHECKS.get(check, ("{check} is {v} on {host}", {}))
        if status == "unknown":
            text = f"{check} is UNKNOWN on {self._host}: the check timed out"
        else:
            low, high = ranges.get(status, ranges.get("critical", (1, 100)))
            text = template.format(v=self._rng.randint(low, high), host=self._host, check=check)
        if self.test_marker:
            return truncate(TEST_PREFIX + text, DESCRIPTION_MAX)
        return truncate(text, DESCRIPTION_MAX)

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
            "last_event_at": alert.last_event_at,
            "active": alert.active,
            "primary_property": "host",
            "secondary_property": "check",
            "source_system": alert.source_system,
            "incident_key": f"{alert.host}/{alert.check}",
            "description": alert.description,
            "maintenance_plans": [],
            "tags": [{"name": k, "value": v} for k, v in tags.items()],
        }

    def _folders(self, active: bool) -> list[str]:
        # A real sample shows ["active", "shared", "assigned"] [S]; which folders an
        # incident is in otherwise is our reconstruction [G] (never assigned: no user).
        folders = ["active" if active else "resolved", "shared"]
        if self._snooze["snoozed"]:
            folders.append("snoozed")
        return folders

    def _render(self) -> dict[str, Any]:
        # Every dict and list is new, and the values in them immutable, so callers may
        # edit the result in place without touching the state (no deep copy needed).
        active = self._active
        return {
            "id": self.incident_id,
            "status": self._status,
            "active": active,
            "resolved": not active,
            "severity": self._severity,
            "flapping": self._flapping,
            "snooze": dict(self._snooze),
            "start": self.start,
            "changed_at": self._changed_at,
            "updated_at": self._updated_at,
            "end": self._end,
            "environments": [self.environment_id],
            "folders": self._folders(active),
            "incident_tags": [
                {"tag_id": incident_tag_id(name), "tag_value": value}
                for name, value in self._incident_tags.items()
            ],
            "correlation_matchers_log": [
                [
                    {
                        **entry,
                        "tags": list(entry["tags"]),
                        "matched_value": dict(entry["matched_value"]),
                    }
                    for entry in change
                ]
                for change in self._correlation_log
            ],
            "alerts": [self._render_alert(a) for a in self._alerts],
        }
