"""Run history: one JSON-lines file per run under `<state dir>/runs/`, written as it goes.

A run file holds, in order: a `run` line (id, command, profile, targets, options), an
`event` line per BigPanda event (the webhook body as BigPanda would send it; storm runs
leave the body out to stay small; a body over `BODY_MAX` bytes is kept cut short and
marked `body_truncated`), a `send` line per request (status, latency, masked
URL, the target's id and a truncated answer), maybe `cleanup` notes, and an `end` line
with the counts and the outcome. Everything is redacted before it is written (always,
`--show-secrets` only changes what is printed): no secret, no apiKey, no Authorization
value. Because of that a run cannot be re-sent byte for byte: `replay --from-run`
re-plans the recorded events with today's secrets. Only the newest runs are kept
(`BP_INTEGRATE_HISTORY_KEEP`, default 50): older run files go when a new run starts.
Each line reaches the file as it is written (a run killed half-way keeps what it sent);
storm mode buffers and flushes about once a second.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets as _random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from bp_integrate.errors import BPError, ConfigError, ExitCode
from bp_integrate.fs import check_private, ensure_private_dir, state_dir
from bp_integrate.loading import compact_json
from bp_integrate.redact import Redactor, scrub_text

RUNS_DIR = "runs"
STATE_DIR_ENV = "BP_INTEGRATE_STATE_DIR"
KEEP_ENV = "BP_INTEGRATE_HISTORY_KEEP"
#: Runs kept when a new one starts (storm runs can be tens of MB each).
DEFAULT_KEEP = 50
RUN_FILE = re.compile(r"\d{8}T\d{9}Z-[0-9a-f]{6}\.jsonl")
#: What a run id given by the user may look like (all of one, or its start).
RUN_ID_PREFIX = re.compile(r"\d{1,8}(?:T\d{0,9}(?:Z(?:-[0-9a-f]{0,6})?)?)?")
#: The most of one webhook body a run file keeps (a 20 MB --payload would bloat it).
BODY_MAX = 256 * 1024
#: The longest line a reader takes (a body of BODY_MAX characters, escaped); longer
#: lines are skipped like damaged ones.
LINE_MAX = 8 * BODY_MAX
#: The largest run file read (a storm of 100,000 events writes about 100 MB): 1 GiB.
RUN_FILE_MAX = 1024**3


def runs_dir() -> Path:
    return state_dir() / RUNS_DIR


def new_run_id(now: datetime | None = None) -> str:
    """`20240501T101502123Z-3fa1c2` (UTC, to the millisecond): sorts by time."""
    moment = now or datetime.now(UTC)
    millis = moment.microsecond // 1000
    return f"{moment.strftime('%Y%m%dT%H%M%S')}{millis:03d}Z-{_random.token_hex(3)}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _encode_line(record: Any) -> str:
    """A record as one line: ASCII (non-ASCII as `\\u` escapes), compact, what JSON has no
    type for as its `str` (`loading.compact_json`, the one writer)."""
    return compact_json(record, ascii=True, default=str).decode("ascii")


def _encode_body(body: Any) -> str:
    """A body as its size is measured (and cut, when too big): non-ASCII as the UTF-8 it is."""
    return compact_json(body, default=str).decode("utf-8")


@dataclass
class Counts:
    events: int = 0
    sent: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "events": self.events,
            "sent": self.sent,
            "ok": self.ok,
            "failed": self.failed,
            "skipped": self.skipped,
        }


@dataclass
class RunRecorder:
    """Appends redacted lines to one run file; a context manager that writes `end`.

    It redacts with a view of the command's redactor that is always on, whatever
    `--show-secrets` did to what is printed: history never holds a secret. Opening it
    prunes the oldest runs past `keep_runs()`. A failure to write mid-run (disk full,
    folder removed) stops the recording, never the run: `error` then says why.
    """

    command: str
    profile: str
    redactor: Redactor
    targets: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    run_id: str = field(default_factory=new_run_id)
    counts: Counts = field(default_factory=Counts)
    outcome: str = "unknown"
    path: Path | None = None
    error: str | None = None
    #: Flush each line as it is written (send-test, replay); storm mode turns this off
    #: and calls `flush()` about once a second instead.
    flush_each_line: bool = True
    _handle: IO[str] | None = None
    _closed: bool = False

    def __post_init__(self) -> None:
        self.redactor = self.redactor.view(enabled=True)

    def open(self) -> RunRecorder:
        keep = keep_runs()
        folder = runs_dir()
        check_private(folder.parent, "the state folder")
        check_private(folder, "the run history folder")  # before it is made 0700 below
        try:
            ensure_private_dir(folder)
            self.path = folder / f"{self.run_id}.jsonl"
            self._handle = open_run_file(self.path)
        except OSError as exc:
            raise ConfigError(
                f"Cannot record the run in {folder}: {exc.strerror or exc}.",
                f"Set {STATE_DIR_ENV} to a writable folder "
                f"(e.g. export {STATE_DIR_ENV}=~/.local/state/bp-integrate).",
            ) from None
        prune(keep, protect=self.path)
        self.write(
            {
                "type": "run",
                "id": self.run_id,
                "started_at": now_iso(),
                "command": self.command,
                "profile": self.profile,
                "targets": self.targets,
                "options": self.options,
            }
        )
        return self

    def write(self, record: dict[str, Any]) -> None:
        if self._handle is None:
            return
        # One pass over the encoded line masks every known secret in any form; then, as
        # response() would, keys and tokens no one declared (a target echoing a URL),
        # which the printed output shows under --show-secrets but a run file never does.
        line = scrub_text(self.redactor.json_text(record, _encode_line))
        try:
            self._handle.write(line + "\n")
            if self.flush_each_line:
                self._handle.flush()
        except OSError as exc:
            self._give_up(exc)

    def in_memory(self) -> RunRecorder:
        """Gather lines in memory, not in a file: a storm worker's part of the run, which
        `take()` hands to the parent's recorder (`write_lines`) every 100 ms or so."""
        self._handle = io.StringIO()
        self.flush_each_line = False
        return self

    def take(self) -> str:
        """The lines gathered in memory since the last take (then forgotten)."""
        handle = self._handle
        if not isinstance(handle, io.StringIO):
            return ""
        text = handle.getvalue()
        handle.seek(0)
        handle.truncate()
        return text

    def write_lines(self, text: str) -> None:
        """Append whole lines another recorder wrote (a storm worker's `take()`): already
        redacted there, and masked again here with every secret this recorder knows."""
        if self._handle is None or not text:
            return
        try:
            self._handle.write(self.redactor.text(text))
            if self.flush_each_line:
                self._handle.flush()
        except OSError as exc:
            self._give_up(exc)

    def flush(self) -> None:
        """Push what is buffered to the file (storm mode calls this periodically)."""
        if self._handle is None:
            return
        try:
            self._handle.flush()
        except OSError as exc:
            self._give_up(exc)

    def _give_up(self, exc: OSError) -> None:
        """Stop recording after a write failed; the run itself goes on."""
        self.error = (
            f"the history of run {self.run_id} is incomplete: writing {self.path} failed "
            f"({exc.strerror or exc})"
        )
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()

    def event(self, seq: int, event: str, incident_id: str, body: Any | None) -> None:
        self.counts.events += 1
        record: dict[str, Any] = {
            "type": "event",
            "seq": seq,
            "event": event,
            "incident_id": incident_id,
        }
        if body is not None:
            text = self.redactor.json_text(body, _encode_body)
            size = len(text.encode("utf-8"))
            if size > BODY_MAX:
                # Redacted before it is cut, so a cut never splits a secret in two.
                record["body_truncated"] = True
                record["body_bytes"] = size
                record["body_preview"] = text.encode("utf-8")[:BODY_MAX].decode(
                    "utf-8", errors="ignore"
                )
            else:
                record["body"] = body
        self.write(record)

    def send(self, seq: int, result: dict[str, Any], ok: bool) -> None:
        self.counts.sent += 1
        if ok:
            self.counts.ok += 1
        else:
            self.counts.failed += 1
        if isinstance(result.get("url"), str):
            # Secret query parameters (apiKey) are masked even if never learnt as secrets.
            result = {**result, "url": self.redactor.url(result["url"])}
        self.write({"type": "send", "seq": seq, **result})

    def skipped(self, seq: int, integration: str, event: str, reason: str) -> None:
        self.counts.skipped += 1
        self.write(
            {
                "type": "skip",
                "seq": seq,
                "integration": integration,
                "event": event,
                "reason": reason,
            }
        )

    def note(self, kind: str, **fields: Any) -> None:
        self.write({"type": kind, **fields})

    def close(self, outcome: str, extra: dict[str, Any] | None = None) -> None:
        """Write the `end` line; a second close (an exception's way out) does nothing."""
        if self._closed:
            return
        self._closed = True
        self.outcome = outcome
        if self._handle is None:
            return  # recording stopped earlier (see `error`)
        self.write(
            {
                "type": "end",
                "finished_at": now_iso(),
                "outcome": outcome,
                "counts": self.counts.to_json(),
                **(extra or {}),
            }
        )
        handle, self._handle = self._handle, None
        if handle is None:
            return  # the end line itself could not be written
        try:
            handle.close()
        except OSError as exc:
            self._handle = handle
            self._give_up(exc)

    def __enter__(self) -> RunRecorder:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        # An exception on the way out leaves the run marked as interrupted, not lost.
        self.close("interrupted" if exc[0] is not None else self.outcome)


def open_run_file(path: Path) -> IO[str]:
    """A new run file, 0600, created exclusively."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    # A 64 KiB buffer keeps storm mode cheap; RunRecorder flushes each line otherwise.
    return os.fdopen(fd, "w", encoding="utf-8", buffering=65536)


# --------------------------------------------------------------------------- retention


def keep_runs() -> int:
    """How many runs to keep: `$BP_INTEGRATE_HISTORY_KEEP`, else DEFAULT_KEEP."""
    raw = os.environ.get(KEEP_ENV, "").strip()
    if not raw:
        return DEFAULT_KEEP
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(
            f"{KEEP_ENV}={raw!r} is not a number of runs.",
            f"Set it to a whole number of at least 1 (e.g. {KEEP_ENV}={DEFAULT_KEEP}), "
            "or unset it to keep the newest 50.",
        )
    return int(raw)


@dataclass(frozen=True)
class Pruned:
    """A run file that was removed, and its size."""

    id: str
    path: Path
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "path": str(self.path), "bytes": self.bytes}


def human_size(size: int) -> str:
    """1536 -> `1.5 KiB` (binary units, as `ls -h` and `du -h` count)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def run_files() -> list[Path]:
    """The run files, newest first (only names bp-integrate writes)."""
    folder = runs_dir()
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.glob("*.jsonl") if RUN_FILE.fullmatch(p.name)), reverse=True)


def prune(keep: int, protect: Path | None = None) -> list[Pruned]:
    """Remove every run file but the newest `keep` (never `protect`); what was removed.

    A file that cannot be removed is left where it is: pruning never stops a run.
    """
    removed: list[Pruned] = []
    for path in run_files()[keep:]:
        if protect is not None and path == protect:
            continue
        try:
            size = path.stat().st_size
            path.unlink()
        except OSError:
            continue
        removed.append(Pruned(path.stem, path, size))
    return removed


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class RunSummary:
    id: str
    started_at: str
    command: str
    profile: str
    targets: list[str]
    counts: dict[str, int]
    outcome: str
    finished_at: str | None
    path: Path

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "command": self.command,
            "profile": self.profile,
            "targets": self.targets,
            "counts": self.counts,
            "outcome": self.outcome,
            "path": str(self.path),
        }


def open_run(path: Path) -> IO[bytes]:
    """A run file open for reading, or a ConfigError: only a regular file of at most
    RUN_FILE_MAX bytes (a link to /dev/zero or a FIFO is refused, never read), that no
    other user could have written (`chmod go-w`, as ssh asks of its files)."""
    from bp_integrate import loading

    hint = "Run files are written by bp-integrate itself; see `bp-integrate history --prune`."
    handle = loading.open_regular(path, "run file", ConfigError, hint, RUN_FILE_MAX)
    try:
        check_private(path, "the run file")
    except BaseException:
        handle.close()
        raise
    return handle


def _last_line(handle: IO[bytes], limit: int = 65536) -> str:
    """The last line of an open run file, read from the end (run files can be large)."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - limit))
    tail = handle.read(limit).rstrip(b"\n")
    return tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")


def _lines(handle: IO[bytes]) -> Iterator[bytes]:
    """The lines of an open file, each at most LINE_MAX bytes (a longer one is skipped
    whole): memory stays bounded whatever the file holds."""
    while line := handle.readline(LINE_MAX + 1):
        if len(line) <= LINE_MAX or line.endswith(b"\n"):
            yield line
            continue
        while (rest := handle.readline(LINE_MAX + 1)) and not rest.endswith(b"\n"):
            pass  # the rest of an over-long line


def _text(value: Any, default: str = "") -> str:
    """A string field for display; a lone surrogate (JSON allows `\\ud800`) becomes `?`."""
    if not isinstance(value, str):
        return default
    return value.encode("utf-8", "replace").decode("utf-8")


def summarize(path: Path) -> RunSummary | None:
    """What `history` shows for one run file (None if it is damaged or not a run file).

    Every field is type-checked: a hand-edited or half-written file is skipped,
    never an error that hides every other run.
    """
    from bp_integrate.loading import json_line

    try:
        with open_run(path) as handle:
            head = json_line(next(_lines(handle), b""))
            tail = json_line(_last_line(handle))
    except OSError:
        return None
    if not isinstance(head, dict) or head.get("type") != "run":
        return None
    targets = head.get("targets")
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        targets = []
    ended = isinstance(tail, dict) and tail.get("type") == "end"
    counts = tail.get("counts") if ended and isinstance(tail, dict) else None
    if not isinstance(counts, dict) or not all(
        isinstance(k, str) and isinstance(v, int) for k, v in counts.items()
    ):
        counts = {}
    end = tail if ended and isinstance(tail, dict) else {}
    return RunSummary(
        id=_text(head.get("id"), path.stem),
        started_at=_text(head.get("started_at")),
        command=_text(head.get("command")),
        profile=_text(head.get("profile")),
        targets=[_text(t) for t in targets],
        counts=dict(counts),
        outcome=_text(end.get("outcome"), "unknown") if ended else "incomplete",
        finished_at=_text(end.get("finished_at")) if ended else None,
        path=path,
    )


def list_runs(limit: int | None = None, damaged: list[Path] | None = None) -> list[RunSummary]:
    """Runs, newest first; a run file that cannot be read is left out (and added to
    `damaged`, for the caller to warn about)."""
    folder = runs_dir()
    if not folder.is_dir():
        return []
    check_private(folder, "the run history folder")
    found: list[RunSummary] = []
    for path in sorted(folder.glob("*.jsonl"), reverse=True):
        summary = summarize(path)
        if summary is not None:
            found.append(summary)
        elif damaged is not None:
            damaged.append(path)
        if limit is not None and len(found) >= limit:
            break
    return found


def find_run(run_id: str) -> Path:
    """The file of run `run_id` (a unique prefix is enough), or an error naming the fix.

    The id is taken literally (never as a pattern): `*` is not a run id.
    """
    folder = runs_dir()
    hint = "See the run ids with `bp-integrate history` (or `bp-integrate history --json`)."
    if not RUN_ID_PREFIX.fullmatch(run_id):
        raise BPError(
            f"No run {run_id!r}: that is not a run id (run ids look like "
            "20240501T101502123Z-3fa1c2; the start of one is enough).",
            hint,
            ExitCode.USAGE,
        )
    check_private(folder, "the run history folder")
    matches = [p for p in run_files() if p.stem.startswith(run_id)]
    exact = [p for p in matches if p.stem == run_id]
    if exact:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise BPError(
            f"Run id {run_id!r} matches {len(matches)} runs.",
            "Give more of the id. " + hint,
            ExitCode.USAGE,
        )
    raise BPError(f"No run {run_id!r} in {folder}.", hint, ExitCode.USAGE)


#: The fields of each record type that readers rely on, and their types: a line
#: whose fields have other types (hand-edited, damaged) is skipped like bad JSON.
RECORD_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "run": {"targets": list, "options": dict, "command": str, "profile": str, "id": str},
    "event": {"event": str, "seq": int, "incident_id": str, "body": dict, "body_bytes": int},
    "end": {"counts": dict, "outcome": str},
}
#: The same for the options a run line records (replay --from-run reuses them).
OPTION_FIELDS: dict[str, type | tuple[type, ...]] = {
    "envelope": str,
    "test_marker": bool,
    "scenario": str,
    "count": int,
    "concurrency": int,
    "workers": int,
}


def cleaned(record: Any) -> dict[str, Any] | None:
    """A run-file record with each known field of the wrong type left out (readers then
    use their defaults), or None for a line that is no record (or an event naming none)."""
    if not isinstance(record, dict) or not isinstance(record.get("type"), str):
        return None
    if record["type"] == "event" and not isinstance(record.get("event"), str):
        return None
    out = dict(record)
    for name, kind in RECORD_FIELDS.get(record["type"], {}).items():
        if name in out and (not isinstance(out[name], kind) or isinstance(out[name], bool)):
            del out[name]
    if not all(isinstance(t, str) for t in out.get("targets", [])):
        del out["targets"]
    if isinstance(out.get("options"), dict):
        out["options"] = {
            k: v
            for k, v in out["options"].items()
            if k not in OPTION_FIELDS
            or (
                isinstance(v, OPTION_FIELDS[k])
                and (OPTION_FIELDS[k] is bool or not isinstance(v, bool))
            )
        }
    return out


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every line of a run file, streamed; damaged lines (bad JSON or UTF-8, too deep,
    fields of the wrong type) are skipped."""
    from bp_integrate.loading import json_line

    with open_run(path) as handle:
        for line in _lines(handle):
            record = cleaned(json_line(line))
            if record is not None:
                yield record


def count_lines(path: Path, kind: str) -> int:
    return sum(1 for r in read_records(path) if r.get("type") == kind)
