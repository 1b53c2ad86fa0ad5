"""What the emulated targets end with, plus the request log and the fault queue.

This module owns :class:`EmulatorState`: the single store shared by the aiohttp
handlers (which mutate it on the emulator's event-loop thread) and by readers on
other threads (tests, the CLI's live table). Every access goes through one
re-entrant lock and readers get deep copies, so reading from another thread is
safe. It also owns the per-target state classes (xMatters/Panopta events,
PagerDuty alerts, incident.io alerts, BigPanda resolutions and comments) and the
lifecycle rules that move them from one status to the next, and the queue of
injected faults.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .records import ReceivedRecord, mask_key

log = logging.getLogger(__name__)

RecordCallback = Callable[[ReceivedRecord], None]

#: Records the request log keeps by default (a record is ~3 KB: about 30 MB at most).
DEFAULT_MAX_RECORDS = 10_000

_T = TypeVar("_T")


@dataclass
class XMattersEvent:
    """An event an xMatters trigger received (BigPanda workflow or Panopta Outage).

    ``status`` is ``active``, ``terminated`` (a Panopta Clear ended it) or
    ``not_created`` (xMatters answered 202 but created no event, e.g. no recipient).
    ``key`` is the BigPanda incident id or the Panopta outage key.
    """

    request_id: str
    function: str
    function_id: str
    received_at: float
    recipients: list[str]
    targets: list[str]
    created: bool
    status: str
    key: str | None
    event_type: str | None
    note: str
    terminated_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "function": self.function,
            "function_id": self.function_id,
            "received_at": self.received_at,
            "recipients": list(self.recipients),
            "targets": list(self.targets),
            "created": self.created,
            "status": self.status,
            "key": self.key,
            "event_type": self.event_type,
            "note": self.note,
            "terminated_by": self.terminated_by,
        }


@dataclass
class PanoptaClear:
    """A Panopta Clear Event: which outage it named and which events it terminated."""

    request_id: str
    received_at: float
    key: str | None
    terminated: list[str]
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "received_at": self.received_at,
            "key": self.key,
            "terminated": list(self.terminated),
            "note": self.note,
        }


@dataclass
class PagerDutyAlert:
    """A PagerDuty alert, keyed by (routing_key, dedup_key).

    ``status`` is ``triggered``, ``acknowledged`` or ``resolved``; ``event_count``
    counts every accepted event for the key, ``trigger_count`` how many times it
    was (re)opened by a trigger.
    """

    routing_key: str
    dedup_key: str
    status: str
    event_count: int
    trigger_count: int
    summary: str | None
    severity: str | None
    source: str | None
    created_at: float
    updated_at: float
    actions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "routing_key": mask_key(self.routing_key),
            "dedup_key": self.dedup_key,
            "status": self.status,
            "event_count": self.event_count,
            "trigger_count": self.trigger_count,
            "summary": self.summary,
            "severity": self.severity,
            "source": self.source,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "actions": list(self.actions),
        }


@dataclass
class PagerDutyChangeEvent:
    """A PagerDuty change event (informational; opens nothing)."""

    routing_key: str
    summary: str | None
    received_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "routing_key": mask_key(self.routing_key),
            "summary": self.summary,
            "received_at": self.received_at,
        }


@dataclass
class IncidentIoAlert:
    """An incident.io alert from the BigPanda source, keyed on the BigPanda incident id.

    ``status`` is ``firing`` or ``resolved``; ``fired_count`` counts how many times
    it (re-)fired, ``event_count`` every webhook received for it.
    """

    deduplication_key: str
    status: str
    fired_count: int
    event_count: int
    last_event_type: str | None
    first_at: float
    updated_at: float
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "deduplication_key": self.deduplication_key,
            "status": self.status,
            "fired_count": self.fired_count,
            "event_count": self.event_count,
            "last_event_type": self.last_event_type,
            "first_at": self.first_at,
            "updated_at": self.updated_at,
            "history": copy.deepcopy(self.history),
        }


@dataclass
class BigPandaResolution:
    """A BigPanda incident resolved through the Incidents API v2."""

    environment_id: str
    incident_id: str
    comments: str | None
    received_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "environment_id": self.environment_id,
            "incident_id": self.incident_id,
            "comments": self.comments,
            "received_at": self.received_at,
        }


@dataclass
class BigPandaComment:
    """A comment added to a BigPanda incident through the Incidents API v2."""

    environment_id: str
    incident_id: str
    comment: str
    received_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "environment_id": self.environment_id,
            "incident_id": self.incident_id,
            "comment": self.comment,
            "received_at": self.received_at,
        }


@dataclass
class Fault:
    """A queued fault: the next ``remaining`` requests whose path starts with
    ``path_prefix`` (and, if set, whose method is ``method``) get it instead of
    the normal answer. ``status`` ``None`` with ``drop`` false means "only delay,
    then answer normally"."""

    id: int
    path_prefix: str
    remaining: int
    status: int | None = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    drop: bool = False
    method: str | None = None

    def describe(self) -> str:
        parts = []
        if self.delay:
            parts.append(f"delay {self.delay:g}s")
        if self.drop:
            parts.append("drop")
        elif self.status is not None:
            parts.append(f"status {self.status}")
        return ", ".join(parts) or "none"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path_prefix": self.path_prefix,
            "method": self.method,
            "remaining": self.remaining,
            "status": self.status,
            "headers": dict(self.headers),
            "body": copy.deepcopy(self.body),
            "delay": self.delay,
            "drop": self.drop,
        }


class EmulatorState:
    """Everything the emulator received and what each emulated target ended with.

    Mutated only by the emulator's handlers; safe to read from any thread (every
    reader returns a copy). ``on_record`` is called, on the emulator's thread,
    once per received request, after it was answered; exceptions it raises are
    logged and swallowed.

    The request log keeps the newest ``max_records`` records (older ones are
    dropped, so a long storm does not eat the machine's memory); ``seq`` keeps
    counting and ``requests_received`` counts every request, dropped or not.
    """

    def __init__(
        self, on_record: RecordCallback | None = None, max_records: int = DEFAULT_MAX_RECORDS
    ) -> None:
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self.on_record = on_record
        self.max_records = max_records
        self._seq = 0
        self._received = 0  # since the last reset, including records dropped from the log
        self._fault_seq = 0
        self._records: deque[ReceivedRecord] = deque(maxlen=max_records)
        self._xmatters_events: list[XMattersEvent] = []
        self._panopta_clears: list[PanoptaClear] = []
        self._pd_alerts: dict[tuple[str, str], PagerDutyAlert] = {}
        self._pd_changes: list[PagerDutyChangeEvent] = []
        self._pd_windows: dict[str, deque[float]] = {}
        self._io_alerts: dict[str, IncidentIoAlert] = {}
        self._bp_resolutions: list[BigPandaResolution] = []
        self._bp_comments: list[BigPandaComment] = []
        self._faults: list[Fault] = []

    # ----------------------------------------------------------------- records
    def add_record(self, **fields: Any) -> ReceivedRecord:
        """Append a record (``seq`` is assigned here) and notify ``on_record``."""
        with self._changed:
            self._seq += 1
            self._received += 1
            record = ReceivedRecord(seq=self._seq, **fields)
            self._records.append(record)  # the deque drops the oldest past max_records
            self._changed.notify_all()
        callback = self.on_record
        if callback is not None:
            try:
                callback(record)
            except Exception:  # an observer must never break the emulator
                log.exception("on_record callback failed")
        return record

    def records(self, since: int = 0) -> tuple[ReceivedRecord, ...]:
        """Every kept record with ``seq`` greater than ``since``, oldest first."""
        with self._lock:
            if not self._records or self._records[-1].seq <= since:
                return ()
            # seq only grows: walk back from the newest instead of through the whole log.
            newer: list[ReceivedRecord] = []
            for record in reversed(self._records):
                if record.seq <= since:
                    break
                newer.append(record)
            return tuple(reversed(newer))

    @property
    def requests_received(self) -> int:
        """Requests received since the last reset (also those dropped from the log)."""
        with self._lock:
            return self._received

    def wait_for_records(self, count: int, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` requests were received; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._received >= count, timeout)

    # ------------------------------------------------------------------ reading
    def _copy(self, value: _T) -> _T:
        with self._lock:
            return copy.deepcopy(value)

    def xmatters_events(self) -> list[XMattersEvent]:
        """Events of the xMatters BigPanda trigger."""
        with self._lock:
            return self._copy([e for e in self._xmatters_events if e.function == "bigpanda"])

    def panopta_events(self) -> list[XMattersEvent]:
        """xMatters events created (or not) by the Panopta Outage trigger."""
        with self._lock:
            return self._copy([e for e in self._xmatters_events if e.function == "panopta_outage"])

    def panopta_clears(self) -> list[PanoptaClear]:
        return self._copy(self._panopta_clears)

    def pagerduty_alerts(self) -> list[PagerDutyAlert]:
        return self._copy(list(self._pd_alerts.values()))

    def pagerduty_alert(self, routing_key: str, dedup_key: str) -> PagerDutyAlert | None:
        return self._copy(self._pd_alerts.get((routing_key, dedup_key)))

    def pagerduty_change_events(self) -> list[PagerDutyChangeEvent]:
        return self._copy(self._pd_changes)

    def incidentio_alerts(self) -> list[IncidentIoAlert]:
        return self._copy(list(self._io_alerts.values()))

    def incidentio_alert(self, deduplication_key: str) -> IncidentIoAlert | None:
        return self._copy(self._io_alerts.get(deduplication_key))

    def bigpanda_resolutions(self) -> list[BigPandaResolution]:
        return self._copy(self._bp_resolutions)

    def bigpanda_comments(self) -> list[BigPandaComment]:
        return self._copy(self._bp_comments)

    def faults(self) -> list[Fault]:
        return self._copy(self._faults)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready summary of what each emulated target ended with."""
        with self._lock:
            xm = [e.to_json() for e in self._xmatters_events if e.function == "bigpanda"]
            pan = [e.to_json() for e in self._xmatters_events if e.function == "panopta_outage"]
            return {
                "xmatters": {"events": xm},
                "panopta": {
                    "events": pan,
                    "clears": [c.to_json() for c in self._panopta_clears],
                },
                "pagerduty": {
                    "alerts": [a.to_json() for a in self._pd_alerts.values()],
                    "change_events": [c.to_json() for c in self._pd_changes],
                },
                "incidentio": {"alerts": [a.to_json() for a in self._io_alerts.values()]},
                "bigpanda": {
                    "resolved_incidents": [r.to_json() for r in self._bp_resolutions],
                    "comments": [c.to_json() for c in self._bp_comments],
                },
                "requests_received": self._received,
                "records_kept": len(self._records),
                "faults_pending": [f.to_json() for f in self._faults],
            }

    def reset(self) -> None:
        """Forget every record, target state, rate-limit window and queued fault."""
        with self._lock:
            self._records.clear()
            self._received = 0
            self._xmatters_events.clear()
            self._panopta_clears.clear()
            self._pd_alerts.clear()
            self._pd_changes.clear()
            self._pd_windows.clear()
            self._io_alerts.clear()
            self._bp_resolutions.clear()
            self._bp_comments.clear()
            self._faults.clear()

    # -------------------------------------------------------- xMatters/Panopta
    def add_xmatters_event(self, event: XMattersEvent) -> None:
        with self._lock:
            self._xmatters_events.append(copy.deepcopy(event))

    def panopta_clear(self, request_id: str, key: str | None, now: float) -> PanoptaClear:
        """Terminate every active Panopta outage event with ``key``."""
        with self._lock:
            terminated: list[str] = []
            if key is not None:
                for ev in self._xmatters_events:
                    if ev.function == "panopta_outage" and ev.key == key and ev.status == "active":
                        ev.status = "terminated"
                        ev.terminated_by = request_id
                        terminated.append(ev.request_id)
            if key is None:
                note = "cannot tell which outage to clear: nothing terminated"
            elif terminated:
                note = f"terminated {len(terminated)} event(s) for outage {key}"
            else:
                note = f"no active event for outage {key}: nothing terminated"
            clear = PanoptaClear(request_id, now, key, terminated, note)
            self._panopta_clears.append(clear)
            return copy.deepcopy(clear)

    # ---------------------------------------------------------------- PagerDuty
    def pagerduty_throttled(self, routing_key: str, limit: int | None, now: float) -> bool:
        """True when ``routing_key`` already had ``limit`` accepted events in the last minute."""
        if limit is None:
            return False
        with self._lock:
            window = self._pd_windows.setdefault(routing_key, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            return len(window) >= limit

    def pagerduty_event(
        self,
        routing_key: str,
        action: str,
        dedup_key: str,
        payload: dict[str, Any] | None,
        now: float,
        monotonic: float | None = None,
    ) -> str:
        """Apply one accepted Events API v2 event; return what happened, in words."""
        with self._lock:
            self._pd_windows.setdefault(routing_key, deque()).append(
                time.monotonic() if monotonic is None else monotonic
            )
            alert = self._pd_alerts.get((routing_key, dedup_key))
            payload = payload or {}
            if action == "trigger":
                if alert is None or alert.status == "resolved":
                    reopened = alert is not None
                    if alert is None:
                        alert = PagerDutyAlert(
                            routing_key, dedup_key, "triggered", 0, 0, None, None, None, now, now
                        )
                        self._pd_alerts[(routing_key, dedup_key)] = alert
                    alert.status = "triggered"
                    alert.trigger_count += 1
                    note = (
                        "alert re-triggered (new alert, same dedup_key)"
                        if reopened
                        else ("alert triggered")
                    )
                else:
                    note = f"deduplicated into the open alert ({alert.status})"
                alert.summary = _str_or_none(payload.get("summary"))
                alert.severity = _str_or_none(payload.get("severity"))
                alert.source = _str_or_none(payload.get("source"))
            else:
                if alert is None or alert.status == "resolved":
                    return f"no open alert for this dedup_key: {action} ignored (still 202)"
                if action == "acknowledge" and alert.status == "acknowledged":
                    note = "alert already acknowledged"
                else:
                    alert.status = "acknowledged" if action == "acknowledge" else "resolved"
                    note = f"alert {alert.status}"
            alert.event_count += 1
            alert.updated_at = now
            alert.actions.append(action)
            return note

    def pagerduty_change(self, routing_key: str, summary: str | None, now: float) -> None:
        with self._lock:
            self._pd_changes.append(PagerDutyChangeEvent(routing_key, summary, now))

    # --------------------------------------------------------------- incident.io
    def incidentio_event(
        self, incident_id: str, event_type: str | None, firing: bool, now: float
    ) -> tuple[IncidentIoAlert, str]:
        """Apply one BigPanda webhook to the alert keyed on ``incident_id``."""
        with self._lock:
            alert = self._io_alerts.get(incident_id)
            if alert is None:
                alert = IncidentIoAlert(incident_id, "resolved", 0, 0, None, now, now)
                self._io_alerts[incident_id] = alert
                if firing:
                    alert.status, alert.fired_count = "firing", 1
                    note = "alert fired"
                else:
                    note = "alert created already resolved (first event closes the incident)"
            elif firing and alert.status == "resolved":
                alert.status = "firing"
                alert.fired_count += 1
                note = f"alert re-fired (fired {alert.fired_count} times)"
            elif firing:
                note = "alert updated (still firing)"
            elif alert.status == "firing":
                alert.status = "resolved"
                note = "alert resolved"
            else:
                note = "alert already resolved"
            alert.event_count += 1
            alert.last_event_type = event_type
            alert.updated_at = now
            alert.history.append({"event_type": event_type, "status": alert.status, "at": now})
            return copy.deepcopy(alert), note

    # ------------------------------------------------------------------ BigPanda
    def bigpanda_resolve(
        self, environment_id: str, incident_id: str, comments: str | None, now: float
    ) -> None:
        with self._lock:
            self._bp_resolutions.append(
                BigPandaResolution(environment_id, incident_id, comments, now)
            )

    def bigpanda_comment(
        self, environment_id: str, incident_id: str, comment: str, now: float
    ) -> None:
        with self._lock:
            self._bp_comments.append(BigPandaComment(environment_id, incident_id, comment, now))

    # -------------------------------------------------------------------- faults
    def add_fault(
        self,
        path_prefix: str,
        *,
        status: int | None = 500,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
        delay: float = 0.0,
        drop: bool = False,
        method: str | None = None,
    ) -> Fault:
        """Queue a fault for the next ``times`` requests under ``path_prefix``."""
        with self._lock:
            self._fault_seq += 1
            fault = Fault(
                id=self._fault_seq,
                path_prefix=path_prefix,
                remaining=times,
                status=status,
                headers=dict(headers or {}),
                body=copy.deepcopy(body),
                delay=delay,
                drop=drop,
                method=method.upper() if method else None,
            )
            self._faults.append(fault)
            return copy.deepcopy(fault)

    def take_fault(self, method: str, path: str) -> Fault | None:
        """Consume one use of the first queued fault matching this request, if any."""
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix) and fault.method in (None, method.upper()):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return copy.deepcopy(fault)
            return None

    def clear_faults(self) -> int:
        """Drop every queued fault; return how many there were."""
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            return count


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
