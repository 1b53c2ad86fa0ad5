"""Terminal I/O for the CLI: talk to stderr, data to stdout, plain when not a terminal."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.segment import Segment


def _console(stderr: bool) -> Console:
    """markup=False: user data is never markup. A reader that goes away (`| head`) is a
    BrokenPipeError for our handlers (exit 141, as Unix tools do), not rich's own
    `SystemExit(1)`."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    return _Console(stderr=stderr, markup=False, highlight=False, soft_wrap=True)


@cache
def err() -> Console:
    """The console for messages (stderr)."""
    return _console(stderr=True)


@cache
def out() -> Console:
    """The console for data (stdout)."""
    return _console(stderr=False)


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
    """A message on stderr: on a terminal each line is wrapped at words to its width,
    keeping the line's own indent (see `prose`); off a terminal, as given."""
    con = err()
    if not con.is_terminal:
        con.print(message, style=style)
        return
    lines = []
    for line in message.split("\n"):
        body = line.lstrip(" ")
        lines.append(wrapped(body, con.width - 1, len(line) - len(body)) if body else line)
    con.print("\n".join(lines), style=style)


def warn(message: str) -> None:
    prose(f"warning: {message}", style="yellow")


def error(message: str, hint: str | None = None) -> None:
    """An error block on stderr: `Error: message`, then the hint indented; wrapped at
    words on a terminal like every other message."""
    prose(f"Error: {message}", style="bold red")
    if hint:
        prose(hint, indent=2)


def row(text: str, hang: int = 2, style: str | None = None) -> None:
    """A line of data (stdout) that may be long (a verify hop with its detail): on a
    terminal wrapped at words, continuation lines indented by `hang`; off a terminal
    one line, as given (for grep and `wc -l`)."""
    con = out()
    if not con.is_terminal:
        con.print(text, style=style)
        return
    first, *rest = wrapped(text, con.width - 1).split("\n")
    if rest:
        rest = wrapped(" ".join(line.strip() for line in rest), con.width - 1, hang).split("\n")
    con.print("\n".join([first, *rest]), style=style)


#: Auth schemes whose value (`Basic dXNl...`) must stay on one line with its scheme.
_SCHEMES = ("Basic ", "Bearer ", "Token ")
_KEEP = "\u00a0"  # a no-break space: textwrap does not split at it
#: A command to copy (`bp-integrate --profile prod show xmatters --show-secrets`), up
#: to the end of its clause: kept on one line when it fits one.
_COMMAND = re.compile(r"bp-integrate(?: (?!\()[^\s;:,)]+(?:[:,](?=\S)[^\s;:,)]*)*)+")


def _keep_commands(paragraph: str, room: int) -> str:
    def keep(match: re.Match[str]) -> str:
        command = match.group(0).rstrip(".")
        tail = match.group(0)[len(command) :]
        words = command.split(" ")
        while len(words) > 1 and len(" ".join(words)) > room:  # where the clause ends is
            words.pop()  # a guess: keep together only what fits a line
        kept = " ".join(words)
        return kept.replace(" ", _KEEP) + command[len(kept) :] + tail

    return _COMMAND.sub(keep, paragraph)


def wrapped(text: str, width: int, indent: int = 0) -> str:
    """`text` wrapped at spaces to `width` columns, each line indented by `indent`.

    A word longer than a line (a URL, a key, `Basic <token>`) is never cut: it gets a
    line of its own and may run past the width, so what is copied from it still works.
    Line breaks in `text` are kept.
    """
    import textwrap

    pad = " " * indent
    out: list[str] = []
    for paragraph in text.split("\n"):
        kept = _keep_commands(paragraph, max(width, indent + 20) - indent)
        for scheme in _SCHEMES:
            kept = kept.replace(scheme, scheme[:-1] + _KEEP)
        lines = textwrap.wrap(
            kept,
            width=max(width, indent + 20),
            initial_indent=pad,
            subsequent_indent=pad,
            break_long_words=False,
            break_on_hyphens=False,
        ) or [pad.rstrip()]
        out += [line.replace(_KEEP, " ") for line in lines]
    return "\n".join(out)


def prose(text: str, indent: int = 0, style: str | None = None) -> None:
    """Prose on stderr, wrapped at word boundaries to the terminal's width (a terminal
    wraps where the line ends, often mid-word); not wrapped when not a terminal."""
    con = err()
    if con.is_terminal:
        # One column spare: a character in the last column makes some terminals wrap.
        con.print(wrapped(text, con.width - 1, indent), style=style)
    else:
        con.print(" " * indent + text, style=style)


def success(message: str) -> None:
    say(message, style="green")


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


def _broken_pipe() -> None:
    raise BrokenPipeError


#: The spaces rich pads help's lines with, up to the console's width (its margins,
#: panels and table cells).
_PADDING = re.compile(r"[ \t]+(?=\n)")


def unpadded(console: Console, text: str) -> str:
    """What a help console writes, without the spaces ending its lines when it is not a
    terminal: piped or saved help has no line padded to 80 columns (for `diff`,
    `grep ' $'` and editors)."""
    return text if console.is_terminal else _PADDING.sub("", text)


def help_like_our_output() -> None:
    """Help is printed by typer's own rich Console: make it end as our output does. A
    reader that went away (`--help | head`) is a BrokenPipeError, as for our consoles,
    not typer's `SystemExit(1)`, so help ends like any other output (exit 141); and off
    a terminal no line is padded with spaces to the console's width (`unpadded`)."""
    from typer import rich_utils

    make = rich_utils._get_rich_console
    if getattr(make, "like_our_output", False):
        return

    def console(stderr: bool = False) -> Console:
        made = make(stderr)
        made.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]
        render = made._render_buffer

        def render_unpadded(buffer: Iterable[Segment]) -> str:
            return unpadded(made, render(buffer))

        made._render_buffer = render_unpadded  # type: ignore[method-assign]
        return made

    console.like_our_output = True  # type: ignore[attr-defined]
    rich_utils._get_rich_console = console


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
