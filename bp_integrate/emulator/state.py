"""What the emulator shares across targets: the request log, faults, rate windows.

This module owns :class:`EmulatorState`: the single store shared by the route
handlers (which mutate it on the emulator's event-loop thread) and by readers on
other threads (tests, the CLI's live table). Every access goes through one
re-entrant lock and readers get copies, so reading from another thread is safe.
Each emulated target keeps its own state (see :mod:`.target`), built here from
the registry with the same lock; :meth:`EmulatorState.target` hands it out.
It also owns the queue of injected faults (bounded in count) and the per-key
rate windows the throttling targets use.
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

from .records import ReceivedRecord, frozen_from
from .target import TargetState

log = logging.getLogger(__name__)

RecordCallback = Callable[[ReceivedRecord], None]

#: Records the request log keeps by default (an ordinary one costs 5 to 10 KB)...
DEFAULT_MAX_RECORDS = 10_000
#: ...and what they may cost together, by ``RawRequest.cost`` (which counts the masked
#: copies a reader makes, and measured 1.4 to 1.9 times what records really hold): past
#: it the oldest go first. Every part of a record is bounded (see :mod:`.records`), so
#: whatever a client sends, the log stays under this plus one record.
DEFAULT_MAX_LOG_BYTES = 128 * 1024 * 1024

#: Faults that may be queued at once (each may apply to many requests via ``times``).
MAX_FAULTS = 100
#: Timestamps a rate window keeps per key (a limit above this never throttles).
MAX_WINDOW = 100_000

_T = TypeVar("_T")
_S = TypeVar("_S", bound=TargetState)


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


class FaultQueueFull(ValueError):
    """No more faults may be queued until some are used or cleared."""


class EmulatorState:
    """Everything the emulator received and what each emulated target ended with.

    Mutated only by the emulator's handlers; safe to read from any thread (every
    reader returns a copy). ``on_record`` is called, on the emulator's thread,
    once per received request, after it was answered; exceptions it raises are
    logged and swallowed.

    The request log keeps the newest ``max_records`` records, fewer when together they
    cost more than ``max_log_bytes`` (older ones are dropped, so a long storm or one
    client's huge requests do not eat the machine's memory); ``seq`` keeps counting and
    ``requests_received`` counts every request, dropped or not.
    """

    def __init__(
        self,
        on_record: RecordCallback | None = None,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_log_bytes: int = DEFAULT_MAX_LOG_BYTES,
    ) -> None:
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        if max_log_bytes < 1:
            raise ValueError("max_log_bytes must be at least 1")
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._waiting = 0  # threads in wait_for_records (under the lock)
        self.on_record = on_record
        self.max_records = max_records
        self.max_log_bytes = max_log_bytes
        self._log_bytes = 0  # the kept records' cost
        self._seq = 0
        self._received = 0  # since the last reset, including records dropped from the log
        self._fault_seq = 0
        self._records: deque[ReceivedRecord] = deque()
        self._windows: dict[str, deque[float]] = {}
        self._faults: list[Fault] = []
        from .target import targets  # the registry imports target modules, which import this

        self._targets: dict[str, TargetState] = {t.name: t.state(self._lock) for t in targets()}

    # ----------------------------------------------------------------- records
    def add_record(self, **fields: Any) -> ReceivedRecord:
        """Append a record (``seq`` is assigned here) and notify ``on_record``."""
        with self._lock:
            self._seq += 1
            self._received += 1
            fields["seq"] = self._seq
            record = frozen_from(ReceivedRecord, fields)
            self._keep(record)
            if self._waiting:  # Condition.notify_all costs a microsecond with no one waiting
                self._changed.notify_all()
        callback = self.on_record
        if callback is not None:
            try:
                callback(record)
            except Exception:  # an observer must never break the emulator
                log.exception("on_record callback failed")
        return record

    def _keep(self, record: ReceivedRecord) -> None:
        """Append ``record``, dropping the oldest past ``max_records`` or ``max_log_bytes``
        (the newest is always kept)."""
        records = self._records
        records.append(record)
        self._log_bytes += record.raw.cost
        while len(records) > 1 and (
            len(records) > self.max_records or self._log_bytes > self.max_log_bytes
        ):
            self._log_bytes -= records.popleft().raw.cost

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
            self._waiting += 1
            try:
                return self._changed.wait_for(lambda: self._received >= count, timeout)
            finally:
                self._waiting -= 1

    # ------------------------------------------------------------------ reading
    def _copy(self, value: _T) -> _T:
        with self._lock:
            return copy.deepcopy(value)

    def faults(self) -> list[Fault]:
        return self._copy(self._faults)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready summary of what each emulated target ended with."""
        with self._lock:
            summary: dict[str, Any] = {}
            for target_state in self._targets.values():
                summary.update(target_state.snapshot())
            summary["requests_received"] = self._received
            summary["records_kept"] = len(self._records)
            summary["records_bytes"] = self._log_bytes
            summary["faults_pending"] = [f.to_json() for f in self._faults]
            return summary

    def reset(self) -> None:
        """Forget every record, target state, rate-limit window and queued fault."""
        with self._lock:
            self._records.clear()
            self._log_bytes = 0
            self._received = 0
            self._windows.clear()
            self._faults.clear()
            for target_state in self._targets.values():
                target_state.reset()

    # ------------------------------------------------------------------ targets
    def target(self, kind: type[_S]) -> _S:
        """The state of the target whose state class is ``kind`` (typed access)."""
        for value in self._targets.values():
            if isinstance(value, kind):
                return value
        raise LookupError(f"no emulated target keeps state of type {kind.__name__}")

    def __getattr__(self, name: str) -> Any:
        # Compatibility: state.pagerduty_alerts() and the like ask the target that has them.
        if name.startswith("_"):
            raise AttributeError(name)
        for value in self.__dict__.get("_targets", {}).values():
            found = getattr(value, name, None)
            if found is not None:
                return found
        raise AttributeError(f"EmulatorState has no attribute {name!r}")

    # -------------------------------------------------------------- rate windows
    def throttled(self, bucket: str, limit: int | None, now: float) -> bool:
        """True when ``bucket`` already had ``limit`` accepted events in the minute to ``now``."""
        if limit is None:
            return False
        with self._lock:
            window = self._windows.setdefault(bucket, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            return len(window) >= limit

    def count_event(self, bucket: str, now: float | None = None) -> None:
        """Count one accepted event in ``bucket``'s rate window (``now``: monotonic)."""
        with self._lock:
            window = self._windows.setdefault(bucket, deque())
            window.append(time.monotonic() if now is None else now)
            if len(window) > MAX_WINDOW:
                window.popleft()

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
        """Queue a fault for the next ``times`` requests under ``path_prefix``.

        :class:`FaultQueueFull` when :data:`MAX_FAULTS` are already queued.
        """
        with self._lock:
            if len(self._faults) >= MAX_FAULTS:
                raise FaultQueueFull(
                    f"{MAX_FAULTS} faults are already queued: clear them (DELETE /_faults) "
                    "or use 'times' on one fault"
                )
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
        if not self._faults:  # the common case, read without the lock: a list is never rebound
            return None
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
