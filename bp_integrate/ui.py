"""Terminal I/O for the CLI: talk to stderr, data to stdout, plain when not a terminal."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


@cache
def err() -> Console:
    """The console for messages (stderr). markup=False: user data is never markup."""
    from rich.console import Console

    return Console(stderr=True, markup=False, highlight=False, soft_wrap=True)


@cache
def out() -> Console:
    from rich.console import Console

    return Console(markup=False, highlight=False, soft_wrap=True)


def stdin_is_tty() -> bool:
    if os.environ.get("BP_INTEGRATE_ASSUME_TTY"):
        return True
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def stdout_is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def emit_json(data: Any) -> None:
    """One JSON document on stdout (the only thing on stdout in --json mode)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def emit_json_line(data: Any) -> None:
    sys.stdout.write(json.dumps(data, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()


def say(message: str, style: str | None = None) -> None:
    err().print(message, style=style)


def warn(message: str) -> None:
    err().print(f"warning: {message}", style="yellow")


def success(message: str) -> None:
    err().print(message, style="green")


def data(text: str = "", style: str | None = None) -> None:
    """A line of data on stdout."""
    out().print(text, style=style)


# --- a reader that goes away (`| head`) -------------------------------------------


@contextmanager
def reader_may_leave() -> Iterator[None]:
    """Output to a reader that went away (`| head -1`) ends the output, not the command:
    the rest goes nowhere, quietly, and the command still exits with its own code."""
    try:
        yield
    except BrokenPipeError:
        # It is stdout that a reader like `head` closes (stderr too when it is the same
        # pipe: `2>&1 | head`).
        silence(sys.stdout)
        if _same_file(sys.stdout, sys.stderr):
            silence(sys.stderr)


def shown(show: Callable[[], object]) -> bool:
    """Run `show` (some output); False when its reader had gone away."""
    with reader_may_leave():
        show()
        return True
    return False  # reached only when reader_may_leave swallowed a BrokenPipeError


def _same_file(a: Any, b: Any) -> bool:
    try:
        return os.path.sameopenfile(a.fileno(), b.fileno())
    except (AttributeError, ValueError, OSError):
        return False


def silence(stream: Any) -> None:
    """Point a closed stream at /dev/null so later writes (and the final flush) pass."""
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, OSError):  # io.UnsupportedOperation is both
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
