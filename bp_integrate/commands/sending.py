"""What send-test, replay and demo share: the send options, declared once, how a session
is shown (`SessionView`), and the consumers that show a run (the timeline, JSON lines,
the storm progress bar).

The options are Typer annotations; `engine.settings.SendSettings.build` checks them
(bounds, NaN, the envelope's name) and turns them into what the engine takes. Nothing
here sends.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bp_integrate import ui
from bp_integrate.engine.consumer import Consumer
from bp_integrate.engine.settings import RETRIES_MAX as RETRIES_MAX
from bp_integrate.engine.settings import TIMEOUT_MAX as TIMEOUT_MAX
from bp_integrate.engine.settings import SendSettings as SendSettings
from bp_integrate.engine.settings import check_seconds as check_seconds
from bp_integrate.engine.settings import shape_note as shape_note

if TYPE_CHECKING:
    from bp_integrate.engine.consumer import StepReport
    from bp_integrate.engine.plan import Loaded, PlannedStep
    from bp_integrate.engine.session import Prepared
    from bp_integrate.history import RunRecorder
    from bp_integrate.integrations.base import PlannedRequest, Skipped
    from bp_integrate.readback import ReadBackWatch
    from bp_integrate.redact import Redactor


def complete_integration_name(incomplete: str) -> list[str]:
    from bp_integrate.integrations import NAMES

    return [name for name in NAMES if name.startswith(incomplete)]


ToOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--to",
        metavar="INTEGRATION",
        help="Send only to this integration (repeat).",
        autocompletion=complete_integration_name,
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="PATH=VALUE",
        help="Edit the webhook body BigPanda would send, e.g. --set incident.status=warning "
        "(repeat). Not a setting: settings change with bp-integrate install.",
    ),
]
TagOpt = Annotated[
    list[str] | None,
    typer.Option("--tag", metavar="NAME=VALUE", help="Add an alert tag (repeat)."),
]
IncidentIdOpt = Annotated[
    str | None,
    typer.Option("--incident-id", help="Use this BigPanda incident id (default: a new one)."),
]
EnvelopeOpt = Annotated[
    str | None,
    typer.Option(
        "--envelope",
        help="Body shape: share = {incident, metadata} (default; what receivers of real "
        "shares read), event = {event_type, incident} (1.x's default), incident = "
        "{incident}, bare = the incident object. Given, it also overrides a shape adopted "
        "with bp-integrate calibrate.",
        show_default=False,
    ),
]
NoTestMarkerOpt = Annotated[
    bool,
    typer.Option(
        "--no-test-marker", help="Do not mark the payload as a test ([TEST] prefix and tag)."
    ),
]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", metavar="SECONDS", help="Time limit per request (up to 600 seconds)."
    ),
]
RetriesOpt = Annotated[
    int,
    typer.Option(
        "--retries",
        metavar="N",
        help="Retries on network errors, 429 and 5xx (never on 501, 505 or other 4xx); 0 to 10.",
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Send nothing; print the exact requests.")
]
AsCurlOpt = Annotated[bool, typer.Option("--as-curl", help="Send nothing; print curl commands.")]
AllOpt = Annotated[
    bool,
    typer.Option(
        "--all",
        help="Send to every installed integration without asking (needed without a "
        "terminal when more than one is a real service; --to picks some).",
    ),
]
RealTargetsOpt = Annotated[
    bool,
    typer.Option(
        "--real-targets",
        help="Storm mode: allow sending to real (non-loopback) services; the default "
        "--rate is then 2 events/s, within the vendors' documented limits.",
    ),
]


# --------------------------------------------------------------------------- showing plans


def warn_missing(missing: Sequence[str] | None) -> None:
    """A dry run's secrets that are not set: shown as ****, and said so."""
    if missing:
        them = "it" if len(missing) == 1 else "them"
        ui.warn(
            f"not set: {', '.join(missing)}. The dry run shows {them} as ****; a real send "
            f"needs {them} exported (or the integration installed with another --secret-store)."
        )


def print_planned(
    requests: Sequence[PlannedRequest],
    skipped: Sequence[Skipped],
    redactor: Redactor,
    as_curl: bool,
    env_refs: dict[str, str] | None = None,
) -> None:
    """The exact requests, as text (or curl commands) on stdout; skips on stderr."""
    from bp_integrate.engine.plan import as_curl_command, shown_request

    for request in requests:
        if as_curl:
            ui.data(as_curl_command(request, redactor, env_refs))
            continue
        shown = shown_request(request, redactor)
        ui.data(f"# {request.integration} ({request.label or request.event})", style="bold")
        ui.data(f"{shown['method']} {shown['url']}")
        for name, value in shown["headers"].items():
            ui.data(f"{name}: {value}")
        ui.data()
        ui.data(json.dumps(shown["body"], indent=2, ensure_ascii=False))
        ui.data()
    for skip in skipped:
        ui.say(f"{skip.integration}: skipped {skip.event}: {skip.reason}")


def planned_json(
    step: PlannedStep, redactor: Redactor, as_curl: bool, env_refs: dict[str, str]
) -> dict[str, Any]:
    """One planned step as --dry-run --json shows it (send-test's document, each of
    replay's lines): its requests, masked as `redactor` says, its skips, its curl."""
    from bp_integrate.engine.plan import as_curl_command, shown_request, skipped_json

    doc: dict[str, Any] = {
        "dry_run": True,
        "event": step.event,
        "incident_id": step.incident_id,
        "requests": [shown_request(r, redactor) for r in step.requests],
        "skipped": [skipped_json(s) for s in step.skipped],
    }
    if as_curl:
        doc["curl"] = [as_curl_command(r, redactor, env_refs) for r in step.requests]
    return doc


def dry_run_note(what: str, show_secrets: bool, as_curl: bool) -> str:
    """The closing line of a dry run (`what`: "dry run" or "dry run of lifecycle")."""
    if show_secrets:
        return f"({what}: nothing was sent)"
    if as_curl:
        return (
            f"({what}: nothing was sent; each secret is read from its environment variable, "
            '"${BP_INTEGRATE_...}": export them first; any left as **** has none of its '
            "own, --show-secrets shows them)"
        )
    return f"({what}: nothing was sent; secrets shown as ****, --show-secrets shows them)"


def env_references(loaded: Loaded, profile: str) -> dict[str, str]:
    """{secret: the environment variable that supplies it in `profile`}, for --as-curl to
    write `"${VARIABLE}"` where a secret goes instead of `****` (bp_integrate.secrets names
    the variables: a variable set there also overrides the store when bp-integrate sends;
    another profile's variable would send that profile's secret)."""
    from bp_integrate.secrets import env_var
    from bp_integrate.urls import split_url_secrets

    refs: dict[str, str] = {}
    for target in loaded.sources:
        for f in target.integration.fields:
            value = target.values.get(f.name) or ""
            if f.secret and len(value) >= 4:
                refs.setdefault(value, env_var(target.name, f.name, profile))
            elif f.url_with_secrets and value:
                for param, secret in split_url_secrets(value)[1].items():
                    if len(secret) >= 4:
                        variable = env_var(target.name, f"{f.name}.{param}", profile)
                        refs.setdefault(secret, variable)
    return refs


def target_url_map(loaded: Loaded) -> dict[str, list[str]]:
    """{target: every URL it may send to}, what bp_integrate.rails decides on."""
    return {t.name: list(t.integration.urls(t.values)) for t in loaded.targets}


def warn_if_unrecorded(recorder: RunRecorder) -> None:
    """Say so when the run history could not be written to the end (disk full...)."""
    if recorder.error:
        with ui.reader_may_leave():
            ui.warn(
                f"{recorder.error}. Free some space or set BP_INTEGRATE_STATE_DIR to a "
                "writable folder."
            )


class SessionView:
    """What send-test's and replay's views of a session (engine.session.View) share:
    talk on stderr, the unset secrets of a dry run, a history that could not be written."""

    def note(self, message: str) -> None:
        ui.say(message)

    def missing(self, names: Sequence[str] | None) -> None:
        warn_missing(names)

    def confirm(self, prepared: Prepared) -> None:
        """Nothing to ask by default."""

    def readback(self, prepared: Prepared) -> tuple[ReadBackWatch, Consumer] | None:
        """--verify: a read-back watch over the run's targets, and its consumer."""
        from bp_integrate.commands.verify import readback_watch
        from bp_integrate.readback import readback_consumer

        options = prepared.options
        watch = readback_watch(
            prepared.profile, prepared.loaded, prepared.scenario, options.verify_timeout
        )
        return watch, readback_consumer(watch)

    def unrecorded(self, recorder: RunRecorder) -> None:
        warn_if_unrecorded(recorder)


# --------------------------------------------------------------------------- consumers


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def target_cells(report: StepReport) -> list[str]:
    """What each target did with a step: `xmatters 202 12 ms`, `pagerduty skipped`."""
    cells = []
    for r in report.results:
        status = str(r.status) if r.status is not None else r.outcome
        cells.append(f"{r.integration} {status} {r.latency_ms:.0f} ms")
    cells += [f"{s.integration} skipped" for s in report.skipped]
    return cells or ["no target"]


def step_label(report: StepReport) -> str:
    return "cleanup" if report.cleanup else f"step {report.index}"


def step_line(report: StepReport) -> str:
    """One plain timeline line for a step (stderr when not a terminal)."""
    mark = "ok" if report.passed else "FAILED"
    line = f"{step_label(report):<8} {report.event:<26} {mark:<6} " + ", ".join(
        target_cells(report)
    )
    if report.problems:
        line += "  (" + "; ".join(report.problems) + ")"
    return line


def table_row(report: StepReport) -> tuple[str, str, str, str, str]:
    """The live table's cells for a step: step, event, result, targets, problems."""
    return (
        "cleanup" if report.cleanup else str(report.index),
        report.event,
        "ok" if report.passed else "FAILED",
        ", ".join(target_cells(report)),
        "\n".join(report.problems),
    )


class Timeline(Consumer):
    """Live table on a terminal (stderr); plain lines otherwise; JSON lines with --json.

    A reader that goes away (`| head -1`) stops the timeline, never the run: the
    remaining steps are sent and recorded, and the command exits with their outcome.
    """

    def __init__(self, json_output: bool) -> None:
        self.json_output = json_output
        self.live: Any = None
        self.table_rows: list[tuple[str, ...]] = []
        self.reader_gone = False
        if not json_output and stderr_is_tty():
            from rich.live import Live

            self.live = Live(self._table(), console=ui.err(), refresh_per_second=8)
            self.live.start()

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(title="replay", expand=False)
        for column in ("step", "event", "result", "targets", "problems"):
            table.add_column(column)
        for row in self.table_rows:
            table.add_row(*row)
        return table

    def step(self, report: StepReport) -> None:
        if not self.reader_gone:
            self.reader_gone = not ui.shown(lambda: self._show(report))

    def say(self, message: str) -> None:
        """A line of talk on stderr, unless the reader is gone."""
        if not self.reader_gone:
            self.reader_gone = not ui.shown(lambda: ui.say(message))

    def _show(self, report: StepReport) -> None:
        if self.json_output:
            ui.emit_json_line(report.to_json())
        elif self.live is not None:
            self.table_rows.append(table_row(report))
            self.live.update(self._table())
        else:
            ui.say(step_line(report))

    def stop(self) -> None:
        if self.live is not None:
            with ui.reader_may_leave():
                self.live.stop()
            self.live = None


class StormProgress(Consumer):
    """The storm's progress bar on a terminal (stderr): incidents done of N."""

    def __init__(self, title: str, total: int) -> None:
        from rich.progress import Progress

        self.bar = Progress(console=ui.err(), transient=False)
        self.task = self.bar.add_task(title, total=total)
        self.bar.start()

    def incident_done(self, done: int) -> None:
        self.bar.update(self.task, completed=done)

    def stop(self) -> None:
        with ui.reader_may_leave():
            self.bar.stop()
