"""Storm mode on every core: W worker processes, each its own `Engine`, event loop and
connection pool; the parent shows one progress bar, writes one history file and merges
the workers' reports into one.

How the work is shared out: worker i takes incidents i, i+W, i+2W, ... (a count each, no
incident twice), `concurrency // W` at a time (the remainder to the first ones), at
`rate / W` events/s; its step `seq` numbers are i+1, i+1+W, ... (none shared).

A worker is a fresh interpreter (`python -m bp_integrate.engine.workers`, what the
`spawn` start method does, without re-importing the parent's `__main__`, which would
import the CLI). Its job (scenario, targets with their secrets, redactor, body spec,
policy, options) comes pickled on its stdin, never in argv. It talks back over a pipe of
its own: about every 100 ms a progress snapshot plus the history lines it wrote since
(compact send lines, rendered and redacted by a `RunRecorder` kept in memory, so the
worker's memory stays flat and the parent only appends text: one run file, as with one
process); at the end its `RunReport` and cleanup tally, merged exactly in the parent
(latency histograms bucket by bucket).

Starting: each worker says it is ready (imports done, job read) and waits for the
parent's word, so all runs start together and the storm's time (first start to last end)
leaves out interpreter start-up, as one process's does.

Stopping: the parent catches Ctrl-C and SIGTERM and sends SIGTERM to each worker (one
not started yet gets its stdin closed instead: a signal mid-import would kill it), which
cancels its run, so its engine closes the test incidents it left open (the same cleanup
as one process), reports, and exits. Workers run in their own session: a terminal's
Ctrl-C reaches the parent only. A worker whose parent is gone (its pipe breaks) stops and
cleans up the same way. A worker that dies is reported (what it had sent counts, the
note says its incidents may be left open), never waited for forever.
"""

from __future__ import annotations

import asyncio
import math
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import IO, Any

from bp_integrate import signals
from bp_integrate.bigpanda.webhook import BodySpec
from bp_integrate.engine.consumer import Consumer
from bp_integrate.engine.plan import Loaded
from bp_integrate.engine.run import (
    CleanupTally,
    Engine,
    HistoryConsumer,
    RunOptions,
    RunReport,
)
from bp_integrate.history import Counts, RunRecorder
from bp_integrate.http import RetryPolicy
from bp_integrate.loop import new_event_loop
from bp_integrate.redact import Redactor
from bp_integrate.scenarios import Scenario

#: How often a worker reports its progress and hands over its history lines (seconds).
REPORT_INTERVAL = 0.1
#: Events/s one worker keeps up with (measured against a loopback nginx on this project's
#: 2-core machine: 2,400-2,750 while others ran tests, about 3,800 quiet): a `--rate`
#: below it needs no second process.
PER_WORKER_RATE = 2_000.0
#: Below this many events a storm stays in this process: measured here, 5,000 events
#: (N = 1,000 lifecycles) ran slower on 2 workers than on 1, 50,000 faster.
MIN_EVENTS_FOR_WORKERS = 20_000
#: The most worker processes `--workers` takes.
WORKERS_MAX = 64


def available_cores() -> int:
    """The CPUs this process may run on (its affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def choose_workers(
    requested: int | None, count: int, concurrency: int, rate: float | None, steps: int
) -> int:
    """How many processes a storm runs on.

    Asked for (`--workers W`): W, but never more than incidents or than `concurrency`
    (each worker keeps at least one incident in flight). Not asked: the number of cores,
    1 when `--rate` is low enough for one worker to keep up or the storm too small to
    pay for starting processes.
    """
    if requested is None:
        wanted = available_cores()
        if rate is not None:
            wanted = min(wanted, math.ceil(rate / PER_WORKER_RATE))
        if count * max(1, steps) < MIN_EVENTS_FOR_WORKERS:
            wanted = 1
    else:
        wanted = requested
    return max(1, min(wanted, count, concurrency))


def worker_options(options: RunOptions, worker: int, workers: int) -> RunOptions:
    """Worker `worker`'s share of a storm: incidents worker, worker+W, ...; its part of
    the concurrency and of the rate; the given incident id only for the first one."""
    extra = 1 if worker < options.concurrency % workers else 0
    return replace(
        options,
        count=len(range(worker, options.count, workers)),
        concurrency=options.concurrency // workers + extra,
        rate=options.rate / workers if options.rate else None,
        incident_id=options.incident_id if worker == 0 else None,
        worker=worker,
        workers=workers,
    )


@dataclass
class Job:
    """A storm, as an `Engine` takes it; a worker gets one with its share's options
    (pickled to its stdin, in one piece, so the redactor and its views keep sharing what
    they have learnt)."""

    scenario: Scenario
    loaded: Loaded
    redactor: Redactor
    spec: BodySpec
    policy: RetryPolicy
    options: RunOptions


@dataclass
class Progress:
    """A worker's running totals, sent about every 100 ms."""

    #: RunReport.counters(): incidents done, events, requests, ok, failed, skipped.
    counters: dict[str, int] = field(default_factory=dict)
    #: What its history lines counted (the run file's end line adds them up).
    counts: Counts = field(default_factory=Counts)


@dataclass
class Finished:
    """A worker's last word: its report and its cleanup, and when its run went on."""

    report: RunReport
    tally: CleanupTally
    started: float
    ended: float


# --------------------------------------------------------------------------- the worker


def _send(conn: Connection, message: tuple[str, Any]) -> bool:
    """False when the parent is gone."""
    try:
        conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        return False
    return True


async def _work(job: Job, conn: Connection, stopped_early: list[int]) -> None:
    recorder = RunRecorder("", "", job.loaded.secrets).in_memory()
    engine = Engine(
        job.scenario,
        job.loaded,
        job.redactor,
        job.spec,
        job.policy,
        job.options,
        [HistoryConsumer(recorder, compact=True)],
    )
    report = engine.report

    def progress() -> tuple[str, Any]:
        snapshot = Progress(report.counters(), recorder.counts)
        return ("progress", (snapshot, recorder.take()))

    started = time.monotonic()
    run = asyncio.ensure_future(engine.run())
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, run.cancel)
    if stopped_early:  # SIGTERM came while this worker was starting: stop at once
        run.cancel()

    async def keep_reporting() -> None:
        while True:
            await asyncio.sleep(REPORT_INTERVAL)
            if not _send(conn, progress()):
                run.cancel()  # the parent is gone: stop, clean up, and go
                return

    reporter = asyncio.create_task(keep_reporting())
    try:
        await run
    except asyncio.CancelledError:
        # Stopped before the engine could catch it (before its first send, or a second
        # stop during its cleanup): what it did is in its report, marked interrupted.
        report.interrupted = True
    finally:
        reporter.cancel()
        await asyncio.gather(reporter, return_exceptions=True)
    _send(conn, progress())
    _send(conn, ("done", Finished(report, engine.tally, started, started + report.elapsed_s)))


def worker_main(fd: int) -> None:
    """A worker process: read the job from stdin, run it, report on `fd`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    stopped_early: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopped_early.append(signum))
    job: Job = pickle.load(sys.stdin.buffer)
    conn = Connection(fd, readable=False)
    # Ready (imports done): every worker starts its run at the same moment, on the
    # parent's word (a byte, or stdin closed when the storm is stopped before it began).
    _send(conn, ("ready", None))
    if not sys.stdin.buffer.read(1):
        stopped_early.append(0)
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(_work(job, conn, stopped_early))
    conn.close()


# --------------------------------------------------------------------------- the parent


@dataclass
class _Worker:
    index: int
    proc: subprocess.Popen[bytes]
    conn: Connection
    stderr: IO[bytes]
    progress: Progress = field(default_factory=Progress)
    finished: Finished | None = None
    ready: bool = False
    gone: bool = False


def _start(index: int, job: Job) -> _Worker:
    read_fd, write_fd = os.pipe()
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in run_workers)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bp_integrate.engine.workers", str(write_fd)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            pass_fds=(write_fd,),
            start_new_session=True,  # a terminal's Ctrl-C is the parent's to forward
        )
    finally:
        os.close(write_fd)  # the worker holds the only write end: EOF when it exits
    assert proc.stdin is not None
    try:
        proc.stdin.write(pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL))
        proc.stdin.flush()
    except OSError:
        pass  # it died at once: seen as EOF on its pipe
    return _Worker(index, proc, Connection(read_fd, writable=False), stderr)


def _release(worker: _Worker, go: bool) -> None:
    """Let a ready worker start (`go`), or stop one that has not (stdin closed)."""
    stdin = worker.proc.stdin
    if stdin is None or stdin.closed:
        return
    with suppress(OSError):
        if go:
            stdin.write(b"g")
        stdin.close()


@contextmanager
def _forwarding(stop: Callable[[], None]) -> Iterator[None]:
    """Ctrl-C and SIGTERM call `stop` (no exception mid-read) while workers run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if signum == signal.SIGTERM:
            signals.took_sigterm()  # the storm ends as terminated: 143, not 130
        stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _last_line(stream: IO[bytes]) -> str:
    stream.seek(0)
    lines = stream.read()[-4000:].decode("utf-8", errors="replace").strip().splitlines()
    return lines[-1] if lines else ""


def run_workers(
    storm: Job,
    workers: int,
    recorder: RunRecorder | None = None,
    consumers: Sequence[Consumer] = (),
) -> RunReport:
    """The storm `storm` (what an `Engine` takes) on `workers` processes: one report,
    one history, one progress count.

    `recorder` gets every worker's history lines and counts; `consumers` are told how
    many incidents are done (they see no step reports: those stay in the workers).
    """
    options, loaded = storm.options, storm.loaded
    report = RunReport(storm.scenario.name, options.count, options.concurrency)
    report.workers = workers
    if recorder is not None:
        recorder.flush_each_line = False
    pool: list[_Worker] = []
    stopping = False
    released = False

    def stop() -> None:
        """Stop every worker: one that runs by SIGTERM, one that has not started yet
        (still importing: a signal would kill it) by closing its stdin."""
        nonlocal stopping
        stopping = True
        for worker in pool:
            if not released:
                _release(worker, go=False)
            elif worker.proc.poll() is None:
                with suppress(OSError):
                    worker.proc.send_signal(signal.SIGTERM)

    with _forwarding(stop):
        for index in range(workers):
            job = replace(storm, options=worker_options(options, index, workers))
            pool.append(_start(index, job))
            if stopping:
                stop()
        shown = 0
        flushed = time.monotonic()
        while not all(w.gone for w in pool):
            if not released and all(w.ready or w.gone for w in pool):
                released = True
                for worker in pool:
                    _release(worker, go=not stopping)
            ready = wait([w.conn for w in pool if not w.gone], timeout=REPORT_INTERVAL * 2)
            for worker in pool:
                if worker.gone or worker.conn not in ready:
                    continue
                try:
                    kind, body = pickle.loads(worker.conn.recv_bytes())
                except (EOFError, OSError):
                    worker.gone = True
                    continue
                if kind == "ready":
                    worker.ready = True
                elif kind == "progress":
                    worker.progress, lines = body
                    if recorder is not None:
                        recorder.write_lines(lines)
                else:
                    worker.finished = body
            done = sum(w.progress.counters.get("incidents_done", 0) for w in pool)
            if done != shown:
                shown = done
                for consumer in consumers:
                    consumer.incident_done(done)
            if recorder is not None and time.monotonic() - flushed >= 1.0:
                recorder.flush()
                flushed = time.monotonic()
    tally = CleanupTally()
    died: list[str] = []
    starts, ends = [], []
    for worker in pool:
        _release(worker, go=False)
        code = worker.proc.wait()
        worker.conn.close()
        if worker.finished is not None:
            report.merge(worker.finished.report)
            tally.merge(worker.finished.tally)
            starts.append(worker.finished.started)
            ends.append(worker.finished.ended)
        else:
            _count_lost(report, worker.progress)
            # Its last words (an exception's message may quote a URL): masked.
            why = loaded.secrets.view(enabled=True).response(_last_line(worker.stderr))
            died.append(
                f"worker {worker.index + 1} of {workers} stopped (exit code {code}"
                + (f": {why}" if why else "")
                + "); test incidents it had in flight may be left open: close them by hand"
            )
        worker.stderr.close()
        if recorder is not None:
            _add_counts(recorder.counts, worker.progress.counts)
    report.interrupted = report.interrupted or stopping
    report.elapsed_s = max(ends) - min(starts) if starts else 0.0
    report.cleanup_note = "; ".join([tally.note(False, loaded.targets), *died])
    if recorder is not None:
        recorder.flush()
    return report


def _count_lost(report: RunReport, progress: Progress) -> None:
    """A worker that died without its report: what it said it had done still counts,
    and its death is a failure of the run."""
    report.add_counters(progress.counters)
    report.failures["worker died"] = report.failures.get("worker died", 0) + 1
    report.failed_units += 1
    report.failure_kinds.add("worker")


def _add_counts(total: Counts, part: Counts) -> None:
    for name in ("events", "sent", "ok", "failed", "skipped"):
        setattr(total, name, getattr(total, name) + getattr(part, name))


if __name__ == "__main__":
    # Through the module's own name, so what it pickles back is named
    # `bp_integrate.engine.workers.Finished`, not `__main__.Finished`.
    from bp_integrate.engine.workers import worker_main as _main

    _main(int(sys.argv[1]))
