"""SIGTERM as Ctrl-C: one behaviour for every command (stdlib only, cheap to import).

`timeout`, `kill` or a cancelled CI job send SIGTERM; bp-integrate treats it as Ctrl-C
everywhere: an install changes nothing, a run stops, cleans up and is recorded as
interrupted, the receiver stops and closes its capture file. Only the exit code differs:
130 (128 + SIGINT) after Ctrl-C, 143 (128 + SIGTERM) after SIGTERM, as a shell reports a
process each signal ended. SIGTERM works even where Ctrl-C is ignored (a job started
with `&` in a script or CI job). Once an interrupt has been handled, further
Ctrl-C presses are ignored (`stop_taking_interrupts`): a second one landing while the
process prints "Interrupted." and unwinds used to kill it by signal (exit -2, no clean
exit code); one that still escapes the app is exit 130 (143) too.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

#: True while the CLI's own entry point runs (`bp_integrate.cli.main`): only a real
#: process may stop taking interrupts; in-process callers (tests, embedding) keep theirs.
_entry_point = False
#: A SIGTERM has stopped (or is stopping) the command: it exits 143, not 130.
_terminated = False

#: ExitCode.INTERRUPTED (bp_integrate.errors), the shell's 128 + SIGINT.
INTERRUPTED_EXIT = 130
#: ExitCode.TERMINATED (bp_integrate.errors), the shell's 128 + SIGTERM.
TERMINATED_EXIT = 143


@contextlib.contextmanager
def sigterm_as_ctrl_c(entry_point: bool = False) -> Iterator[None]:
    """While a run goes on, SIGTERM (`timeout`, `kill`, a CI job cancelled) does what
    Ctrl-C does: the run stops, cleans up and is recorded as interrupted. The previous
    handler is back afterwards. Only the main thread may set handlers; elsewhere, nothing.
    `entry_point`: this is the process's own CLI entry (`cli.main`), which may ignore a
    second Ctrl-C once the first is taken, exits 130 for one that escapes, and exits 143
    for anything a SIGTERM stopped (see `terminated_exit`).
    """
    global _entry_point, _terminated
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        # Whatever handles Ctrl-C right now: asyncio.Runner's (cancels the running task
        # cleanly) while a run goes on, Python's KeyboardInterrupt otherwise.
        handler = signal.getsignal(signal.SIGINT)
        if handler == signal.SIG_IGN:
            return  # already stopping (stop_taking_interrupts)
        took_sigterm()
        if callable(handler):
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    ctrl_c_ignored = (
        entry_point
        and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        and hasattr(signal, "pthread_sigmask")  # POSIX: where a shell's `&` ignores Ctrl-C
    )
    if ctrl_c_ignored:
        # Started with Ctrl-C ignored (`bp-integrate receiver &` in a script or CI job),
        # SIGTERM would have no Ctrl-C handling to act through. Ctrl-C stays ignored
        # (blocked, in this thread and every thread and child it starts), but Python's
        # own handling is put back for SIGTERM to use (asyncio.Runner sets its handler
        # only in place of that one).
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, signal.default_int_handler)
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    outer = _entry_point
    _entry_point = outer or entry_point
    if entry_point:
        _terminated = False
    try:
        yield
    except KeyboardInterrupt:
        if not entry_point:
            raise
        # A Ctrl-C that escaped every handler (it landed as the exit unwound): the same
        # exit as any interrupt, never death by SIGINT.
        stop_taking_interrupts()
        raise SystemExit(TERMINATED_EXIT if _terminated else INTERRUPTED_EXIT) from None
    except SystemExit as done:
        if entry_point and terminated_exit(done.code) != done.code:
            raise SystemExit(TERMINATED_EXIT) from None
        raise
    else:
        if entry_point and _terminated:
            raise SystemExit(TERMINATED_EXIT)
    finally:
        _entry_point = outer
        signal.signal(signal.SIGTERM, previous)
        if ctrl_c_ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # drops a Ctrl-C still pending
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def terminated_exit(code: str | int | None) -> str | int | None:
    """The exit status of a command that ends with `code`: 143 if a SIGTERM stopped it and
    it ended as stopped (130) or as done (0: the receiver, whose normal end is Ctrl-C);
    a failure it met on the way out keeps its own code."""
    if terminated() and code in (None, 0, INTERRUPTED_EXIT):
        return TERMINATED_EXIT
    return code


def terminated() -> bool:
    """Whether a SIGTERM is what stopped the command (for a report that states its exit
    code: 143 then, not 130)."""
    return _terminated


def took_sigterm() -> None:
    """Note that a SIGTERM is stopping the command (its exit code becomes 143). For a
    handler that takes SIGTERM itself instead of `sigterm_as_ctrl_c`'s."""
    global _terminated
    _terminated = True


def stop_taking_interrupts() -> None:
    """Ignore further Ctrl-C (and SIGTERM, through `sigterm_as_ctrl_c`): the command has
    taken its interrupt and is reporting and exiting; a second press must not turn exit
    130 into a death by signal. Only in a real process (`cli.main`, the entry point) and
    its main thread; elsewhere (CliRunner, embedding), nothing."""
    if _entry_point and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
