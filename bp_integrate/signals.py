"""SIGTERM as Ctrl-C: one behaviour for every command (stdlib only, cheap to import).

`timeout`, `kill` or a cancelled CI job send SIGTERM; bp-integrate treats it as Ctrl-C
everywhere: an install changes nothing, a run stops, cleans up and is recorded as
interrupted, and the exit code is 130.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """While a run goes on, SIGTERM (`timeout`, `kill`, a CI job cancelled) does what
    Ctrl-C does: the run stops, cleans up and is recorded as interrupted. The previous
    handler is back afterwards. Only the main thread may set handlers; elsewhere, nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        # Whatever handles Ctrl-C right now: asyncio.Runner's (cancels the running task
        # cleanly) while a run goes on, Python's KeyboardInterrupt otherwise.
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
