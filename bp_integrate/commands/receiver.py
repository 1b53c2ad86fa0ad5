"""`bp-integrate receiver`: the embedded emulator of every target, in the foreground."""

from __future__ import annotations

import errno
import logging
import os
import queue
import shlex
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bp_integrate import ui
from bp_integrate.commands.common import JsonOpt
from bp_integrate.errors import BPError, ExitCode, UsageError

if TYPE_CHECKING:
    from bp_integrate.emulator import EmulatorConfig, EmulatorServer, ReceivedRecord

SHOWN_ROWS = 20
log = logging.getLogger(__name__)


#: The profile the printed commands install into: never the default one, whose real
#: integrations emulator URLs would overwrite.
EMULATOR_PROFILE = "emulator"


def install_commands(
    server: EmulatorServer, config: EmulatorConfig, keyring_works: bool = True
) -> list[str]:
    """Commands that point each integration at this emulator, in a profile of their own
    (`-p emulator`), then a send-test to it. The emulator's credentials are piped in
    (`--secret-stdin`), and with no working keyring on this machine they go to the
    plain-text file (`--insecure-storage`; they are fixed demo values, not secrets)."""
    from bp_integrate.emulator import targets
    from bp_integrate.integrations import NAMES, get

    values: dict[str, dict[str, str]] = {}
    for target in targets():
        values.update(target.install_values(server.base_url, config))
    store = "" if keyring_works else " --insecure-storage"
    lines = []
    for name in [n for n in NAMES if n in values]:
        spec = get(name)
        secret = {f.name for f in spec.fields if f.secret or f.url_with_secrets}
        piped = {k: v for k, v in values[name].items() if k in secret}
        settings = {k: v for k, v in values[name].items() if k not in secret}
        sets = " ".join(f"--set {shlex.quote(f'{k}={v}')}" for k, v in settings.items())
        stdin = " ".join(f"--secret-stdin {k}" for k in piped)
        verify = " --no-verify" if any(f.bigpanda_key for f in spec.fields) else ""
        command = (
            f"bp-integrate -p {EMULATOR_PROFILE} install {name} --no-input{store}{verify} "
            f"{stdin} {sets}"
        )
        if piped:
            fmt = "%s\\n" * len(piped)
            quoted = " ".join(shlex.quote(v) for v in piped.values())
            command = f"printf '{fmt}' {quoted} | {command}"
        lines.append(" ".join(command.split()))
    lines.append(f"bp-integrate -p {EMULATOR_PROFILE} send-test new")
    return lines


def record_row(record: ReceivedRecord) -> list[str]:
    """A record's cells, what a client sent escaped (no request can forge or colour a line)."""
    from bp_integrate.emulator.records import printable as shown

    status = "dropped" if record.status is None else str(record.status)
    verdict = "valid" if record.valid else shown("; ".join(record.errors))[:80] or "invalid"
    return [
        str(record.seq),
        shown(record.route),
        shown(record.action or ""),
        status,
        verdict,
        shown(record.key or "")[:32],
        shown(record.note)[:40],
    ]


class RecordPrinter:
    """Shows received records from a thread of its own, in order, in batches.

    The emulator hands each record over (``put``, on its event loop) and goes on
    serving: masking a record and printing it never hold up the next answer.
    """

    BATCH = 500
    #: After the first record of a batch, wait this long for more. Woken for every
    #: record, the thread took the GIL from the one answering at each wake-up: under
    #: `hey -c 50` the receiver answered 6,200-7,200 requests/s that way, 8,100-8,500
    #: lingering (three alternating rounds each). A person sees no 50 ms delay.
    LINGER = 0.05

    def __init__(self, show: Callable[[list[ReceivedRecord]], None]) -> None:
        self.show = show
        self.queue: queue.SimpleQueue[ReceivedRecord | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="bp-receiver-output", daemon=True)

    def put(self, record: ReceivedRecord) -> None:
        self.queue.put(record)

    def start(self) -> None:
        if not self.thread.is_alive():
            self.thread.start()

    def stop(self) -> None:
        """Show what is still queued, then end the thread."""
        self.queue.put(None)
        self.start()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        reader_gone = False
        while True:
            batch: list[ReceivedRecord] = []
            item = self.queue.get()
            if item is not None:
                time.sleep(self.LINGER)
            while item is not None:
                batch.append(item)
                if len(batch) >= self.BATCH:
                    break
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
            if batch and not reader_gone:
                try:
                    self.show(batch)
                except BrokenPipeError:
                    reader_gone = True  # `| head`: the rest goes nowhere, serving goes on
                except Exception:
                    log.exception("showing received requests failed")
            if item is None:
                return


class LiveTable:
    """The last requests as a table that redraws in place (terminals only)."""

    COLUMNS = ("#", "endpoint", "event", "status", "valid?", "key", "note")

    def __init__(self) -> None:
        self.rows: deque[list[str]] = deque(maxlen=SHOWN_ROWS)
        self.lock = threading.Lock()
        self.live: Any = None

    def render(self) -> Any:
        from rich.table import Table

        table = Table(title="Received (newest last; full list: GET /_received)", expand=False)
        for column in self.COLUMNS:
            table.add_column(column)
        with self.lock:
            for row in self.rows:
                style = None if row[4] == "valid" else "red"
                table.add_row(*row, style=style)
        return table

    def add(self, record: ReceivedRecord) -> None:
        with self.lock:
            self.rows.append(record_row(record))
        if self.live is not None:
            self.live.update(self.render())


def receiver_command(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback unless --allow-remote).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port; 0 picks a free one.")] = 8765,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Listen beyond loopback. The emulator accepts fixed demo credentials: "
            "use only on a trusted network.",
        ),
    ] = False,
    rate_limit: Annotated[
        int | None,
        typer.Option(
            "--rate-limit",
            metavar="N",
            help="Answer 429 past N events per minute per key, on the targets that "
            "throttle (the real limit is about 120).",
        ),
    ] = None,
    old_rate_limit: Annotated[
        int | None,
        # The option's earlier name, still taken from existing scripts; not shown.
        typer.Option("--pagerduty-rate-limit", metavar="N", hidden=True),
    ] = None,
    capture: Annotated[
        str | None,
        typer.Option(
            "--capture",
            metavar="FILE",
            help="Append every request (full body, secrets in headers and query masked) "
            "to FILE as JSON lines, for calibrate.",
        ),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Run the embedded emulator of every target an integration can point at.

    It checks credentials and payloads as the real services do, shows what it received,
    and serves the same as JSON at GET /_received and what each target ended with at
    GET /_state. Ctrl-C stops it.

    Examples:

    bp-integrate receiver

    bp-integrate receiver --port 9000 --capture bodies.jsonl
    """
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is out of range.", "Use 0-65535 (0 picks a free port).")
    if rate_limit is None:
        rate_limit = old_rate_limit
    if rate_limit is not None and rate_limit < 1:
        raise UsageError("--rate-limit must be at least 1.")
    run_receiver(ReceiverOptions(host, port, allow_remote, rate_limit, capture, json_output))
    ui.say("Emulator stopped.")


@dataclass
class ReceiverOptions:
    """What `receiver` was asked to do."""

    host: str
    port: int
    allow_remote: bool
    rate_limit: int | None
    capture: str | None
    json_output: bool


def run_receiver(options: ReceiverOptions) -> None:
    """Serve the emulator in the foreground, showing each request it receives, until
    Ctrl-C; a refused host, a busy port or an unwritable capture file as our errors."""
    from bp_integrate.emulator import EmulatorBindError, EmulatorConfig, serve_forever

    host, port, capture = options.host, options.port, options.capture
    config = EmulatorConfig(rate_limit=options.rate_limit)
    live_table = LiveTable() if ui.stdout_is_tty() and not options.json_output else None
    printer = RecordPrinter(record_shower(options.json_output, live_table))
    on_ready = ready_announcer(options, config, live_table, printer)
    try:
        serve_forever(
            host, port, config, options.allow_remote, printer.put, on_ready=on_ready,
            capture=capture,
        )  # fmt: skip
    except ValueError:
        raise UsageError(
            f"Refusing to listen on {host}: the emulator accepts fixed demo credentials and "
            "logs request bodies, so it listens on loopback only unless told otherwise.",
            "Use --host 127.0.0.1, or add --allow-remote to listen beyond loopback on purpose.",
        ) from None
    except EmulatorBindError as exc:
        in_use = exc.errno == errno.EADDRINUSE
        raise BPError(
            f"Cannot listen on {host}:{port}: "
            + ("the port is already in use." if in_use else f"{os.strerror(exc.errno or 0)}."),
            "Stop whatever uses it, or choose another --port (--port 0 picks a free one)."
            if in_use
            else "Choose another --host or --port.",
            ExitCode.ERROR,
        ) from None
    except OSError as exc:  # the capture file could not be opened
        raise UsageError(
            f"Cannot write the capture file {capture}: {exc.strerror or exc}.",
            "Choose a file in a folder you can write (an existing symlink is refused).",
        ) from None
    finally:
        printer.stop()
        if live_table is not None and live_table.live is not None:
            live_table.live.stop()


def record_shower(
    json_output: bool, live_table: LiveTable | None
) -> Callable[[list[ReceivedRecord]], None]:
    """What shows a batch of received requests: JSON lines, the live table, or lines."""

    def show(batch: list[ReceivedRecord]) -> None:
        if json_output:
            for record in batch:
                ui.emit_json_line(record.to_json())
        elif live_table is not None:
            for record in batch:
                live_table.add(record)
        else:
            # Plain lines, not a terminal: written as they are (no rich rendering per
            # line under a load test), one flush a batch so a pipe still sees them live.
            sys.stdout.write("".join("  ".join(record_row(r)) + "\n" for r in batch))
            sys.stdout.flush()

    return show


def ready_announcer(
    options: ReceiverOptions,
    config: EmulatorConfig,
    live_table: LiveTable | None,
    printer: RecordPrinter,
) -> Callable[[EmulatorServer], None]:
    """What says the emulator is listening (its URLs, credentials, install commands),
    then starts the live table and the printer."""
    from bp_integrate.emulator import targets
    from bp_integrate.secrets import keyring_works

    keyring_ok = keyring_works()  # the printed commands must work on this machine

    def on_ready(server: EmulatorServer) -> None:
        ui.say(f"Emulator listening on {server.base_url} (Ctrl-C stops it).", style="bold")
        for name, url in server.urls.items():
            ui.say(f"  {name:<24} {url}")
        ui.say("Demo credentials it accepts (not secrets; fixed for every emulator):")
        for target in targets():
            ui.say(f"  {target.credentials(config.settings(target.name))}")
        if options.capture is not None:
            ui.say(
                f"Capturing every request, in full (secrets masked), to {options.capture} (0600)."
            )
        ui.say(f"Point integrations at it in a profile of their own ({EMULATOR_PROFILE}), e.g.:")
        for line in install_commands(server, config, keyring_ok):
            ui.say(f"  {line}")
        if live_table is not None:
            from rich.live import Live

            live_table.live = Live(
                live_table.render(), console=ui.out(), refresh_per_second=4, transient=False
            )
            live_table.live.start()
        if options.json_output:
            # Last, once every import above is done: a script that reads this line and
            # then sends Ctrl-C never interrupts an import (which can leave its lock held).
            ui.emit_json_line({"listening": server.base_url, "urls": server.urls})
        printer.start()  # requests that came in meanwhile are shown now, in order

    return on_ready
