"""SIGTERM as Ctrl-C: one behaviour for every command (stdlib only, cheap to import).

`timeout`, `kill` or a cancelled CI job send SIGTERM; bp-integrate treats it as Ctrl-C
everywhere: an install changes nothing, a run stops, cleans up and is recorded as
interrupted, and the exit code is 130. Once an interrupt has been handled, further
Ctrl-C presses are ignored (`stop_taking_interrupts`): a second one landing while the
process prints "Interrupted." and unwinds used to kill it by signal (exit -2, no clean
exit code); one that still escapes the app is exit 130 too.
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


@contextlib.contextmanager
def sigterm_as_ctrl_c(entry_point: bool = False) -> Iterator[None]:
    """While a run goes on, SIGTERM (`timeout`, `kill`, a CI job cancelled) does what
    Ctrl-C does: the run stops, cleans up and is recorded as interrupted. The previous
    handler is back afterwards. Only the main thread may set handlers; elsewhere, nothing.
    `entry_point`: this is the process's own CLI entry (`cli.main`), which may ignore a
    second Ctrl-C once the first is taken, and exits 130 for one that escapes.
    """
    global _entry_point
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        # Whatever handles Ctrl-C right now: asyncio.Runner's (cancels the running task
        # cleanly) while a run goes on, Python's KeyboardInterrupt otherwise.
        handler = signal.getsignal(signal.SIGINT)
        if handler == signal.SIG_IGN:
            return  # already stopping (stop_taking_interrupts)
        if callable(handler):
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    outer = _entry_point
    _entry_point = outer or entry_point
    try:
        yield
    except KeyboardInterrupt:
        if not entry_point:
            raise
        # A Ctrl-C that escaped every handler (it landed as the exit unwound): the same
        # exit as any interrupt, never death by SIGINT.
        stop_taking_interrupts()
        raise SystemExit(INTERRUPTED_EXIT) from None
    finally:
        _entry_point = outer
        signal.signal(signal.SIGTERM, previous)


#: ExitCode.INTERRUPTED (bp_integrate.errors), the shell's 128 + SIGINT.
INTERRUPTED_EXIT = 130


def stop_taking_interrupts() -> None:
    """Ignore further Ctrl-C (and SIGTERM, through `sigterm_as_ctrl_c`): the command has
    taken its interrupt and is reporting and exiting; a second press must not turn exit
    130 into a death by signal. Only in a real process (`cli.main`, the entry point) and
    its main thread; elsewhere (CliRunner, embedding), nothing."""
    if _entry_point and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
