"""`bp-integrate replay`: a scenario (built-in, file, or a recorded run) about one test
incident, with a live timeline and cleanup; or, with --count, storm mode."""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bp_integrate import ui
from bp_integrate.commands.common import JsonOpt, ShowSecretsOpt
from bp_integrate.commands.send_test import (
    EnvelopeOpt,
    IncidentIdOpt,
    NoTestMarkerOpt,
    RetriesOpt,
    SetOpt,
    TagOpt,
    TimeoutOpt,
    ToOpt,
    check_envelope,
    check_numbers,
    parse_tags,
    warn_if_unrecorded,
)
from bp_integrate.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bp_integrate.history import RunRecorder
    from bp_integrate.redact import Redactor
    from bp_integrate.scenarios import Scenario, ScenarioReport, StepReport
    from bp_integrate.sender import BodySpec, Target
    from bp_integrate.storm import StormReport


#: Bounds of the storm options (docs/replay.md lists them).
CONCURRENCY_MAX = 1000
RATE_MIN = 0.01
RATE_MAX = 1_000_000.0


def plural(count: int, word: str) -> str:
    """`1 step`, `5 steps`."""
    return f"{count} {word}{'' if count == 1 else 's'}"


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
        # Whatever handles Ctrl-C right now: asyncio.Runner's (cancels the running send
        # cleanly) while sending, Python's KeyboardInterrupt between sends.
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


def check_storm_options(
    count: int | None, concurrency: int | None, rate: float | None, client: str | None
) -> None:
    """Storm options only with --count, each within bounds; before anything is sent."""
    given = [
        flag
        for flag, value in (("--concurrency", concurrency), ("--rate", rate), ("--client", client))
        if value is not None
    ]
    if count is None:
        if given:
            raise UsageError(
                f"{' and '.join(given)} {'applies' if len(given) == 1 else 'apply'} only to "
                "storm mode: add --count N.",
                "e.g. bp-integrate replay lifecycle --count 100 --concurrency 10 --rate 50",
            )
        return
    if count < 1:
        raise UsageError(f"--count must be at least 1, got {count}.", "e.g. --count 100")
    if concurrency is not None and not 1 <= concurrency <= CONCURRENCY_MAX:
        raise UsageError(
            f"--concurrency must be between 1 and {CONCURRENCY_MAX}, got {concurrency}.",
            "e.g. --concurrency 50",
        )
    if rate is not None and not (math.isfinite(rate) and RATE_MIN <= rate <= RATE_MAX):
        raise UsageError(
            f"--rate must be a number of events per second from {RATE_MIN} to "
            f"{RATE_MAX:,.0f}, got {rate!r}.",
            "e.g. --rate 50 (leave it out for no limit)",
        )
    if client is not None and client not in ("aiohttp", "httpx"):
        raise UsageError(f"--client {client!r} is unknown.", "Use aiohttp or httpx.")


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


class Timeline:
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

    def __call__(self, report: StepReport) -> None:
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


def complete_scenario(incomplete: str) -> list[str]:
    from bp_integrate.payloads import BUILTIN_SCENARIOS

    return [name for name in BUILTIN_SCENARIOS if name.startswith(incomplete)]


def replay_command(
    ctx: typer.Context,
    scenario: Annotated[
        str | None,
        typer.Argument(
            help="lifecycle (new, updated, closed, reopen, closed), flapping, comment, or a "
            "scenario file (.yaml; format: docs/replay.md).",
            show_default=False,
            autocompletion=complete_scenario,
        ),
    ] = None,
    to: ToOpt = None,
    from_run: Annotated[
        str | None,
        typer.Option(
            "--from-run",
            metavar="RUN_ID",
            help="Send a recorded run again (ids: bp-integrate history). Its events are "
            "re-planned with today's secrets: history never holds secrets.",
        ),
    ] = None,
    incident_id: IncidentIdOpt = None,
    set_: SetOpt = None,
    tag: TagOpt = None,
    count: Annotated[
        int | None,
        typer.Option(
            "--count", metavar="N", help="Storm mode: N distinct incidents, each its own run."
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            metavar="C",
            help="Storm mode: incidents at a time, 1 to 1000 (default 10).",
            show_default=False,
        ),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate", metavar="R", help="Storm mode: at most R events per second (at least 0.01)."
        ),
    ] = None,
    client: Annotated[
        str | None,
        typer.Option(
            "--client",
            hidden=True,
            help="Storm mode HTTP client: aiohttp (default, fastest) or httpx.",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Send nothing; print every step's exact requests."),
    ] = False,
    as_curl: Annotated[
        bool, typer.Option("--as-curl", help="Send nothing; print curl commands per step.")
    ] = False,
    no_cleanup: Annotated[
        bool,
        typer.Option(
            "--no-cleanup", help="Leave the test incident open where the scenario left it."
        ),
    ] = False,
    json_output: JsonOpt = False,
    timeout: TimeoutOpt = 10.0,
    retries: RetriesOpt = 2,
    show_secrets: ShowSecretsOpt = False,
    no_test_marker: NoTestMarkerOpt = False,
    envelope: EnvelopeOpt = None,
) -> None:
    """Replay a scenario about one test incident (or N of them with --count), then clean up."""
    from bp_integrate import payloads, scenarios
    from bp_integrate.history import RunRecorder
    from bp_integrate.http import RetryPolicy, check_proxies
    from bp_integrate.sender import BodySpec, build_redactor, load_targets, target_urls

    profile: str = ctx.obj
    check_numbers(timeout, retries)
    if (scenario is None) == (from_run is None):
        raise UsageError(
            "Give a scenario or --from-run RUN_ID (one of them).",
            "e.g. bp-integrate replay lifecycle, or bp-integrate replay --from-run <id> "
            "(ids: bp-integrate history).",
        )
    if from_run is not None:
        refuse_body_options_with_from_run(
            count=count is not None,
            sets=bool(set_),
            tags=bool(tag),
            envelope=envelope is not None,
            no_test_marker=no_test_marker,
        )
    if (dry_run or as_curl) and count is not None:
        raise UsageError(
            "--dry-run shows one scenario's requests; --count does not apply.",
            "Drop --count to see what each step sends.",
        )
    check_storm_options(count, concurrency, rate, client)
    spec = BodySpec(
        envelope=check_envelope(envelope),
        test_marker=not no_test_marker,
        sets=[payloads.parse_assignment(s) for s in set_ or []],
    )
    recorded_targets: list[str] = []
    if from_run is not None:
        plan, recorded_targets, options = load_recorded(from_run, incident_id)
        # The cleanup (the only body made now) is shaped like the recorded ones.
        spec.envelope = options.get("envelope", spec.envelope)
        spec.test_marker = bool(options.get("test_marker", spec.test_marker))
    else:
        assert scenario is not None
        plan = scenarios.load(scenario)
    tags = parse_tags(tag or [])
    if tags:
        plan = scenarios.Scenario(
            plan.name, plan.steps, plan.description, {**plan.tags, **tags}, plan.source
        )
    names = to or recorded_targets or None
    targets = load_targets(profile, names)
    # What is printed is masked unless --show-secrets; the history always is (it masks
    # with its own view of the same secrets).
    secrets = build_redactor(targets)
    redactor = secrets.view(enabled=not show_secrets)
    if dry_run or as_curl:
        show_plan(plan, targets, redactor, spec, incident_id, as_curl, json_output)
        return
    check_proxies(target_urls(targets))  # a malformed HTTPS_PROXY: an error before a send
    policy = RetryPolicy(retries=retries, timeout=timeout)
    command = f"replay --from-run {from_run}" if from_run else f"replay {plan.name}"
    if count is not None:
        command += f" --count {count}"
    recorder = RunRecorder(
        command=command,
        profile=profile,
        redactor=secrets,
        targets=[t.name for t in targets],
        options={
            "envelope": spec.envelope,
            "test_marker": spec.test_marker,
            "scenario": plan.name,
            **({"count": count, "concurrency": concurrency or 10} if count is not None else {}),
        },
    )

    if count is not None:
        storm_report = run_storm(
            plan,
            targets,
            redactor,
            spec,
            policy,
            recorder,
            count,
            concurrency or 10,
            rate,
            client or "aiohttp",
            not no_cleanup,
            json_output,
        )
        finish_storm(storm_report, recorder, json_output)
        return

    from bp_integrate.sender import Session

    with recorder, Session(policy) as session:
        timeline = Timeline(json_output)
        if not json_output:
            timeline.say(
                f"Replaying {plan.name} ({plural(len(plan.steps), 'step')}) to "
                f"{', '.join(t.name for t in targets)} (profile {profile!r})...",
            )
        runner = scenarios.ScenarioRunner(
            plan,
            targets,
            redactor,
            session,
            spec,
            recorder=recorder,
            incident_id=incident_id,
            cleanup=not no_cleanup,
            on_report=timeline,
        )
        try:
            with sigterm_as_ctrl_c():
                report = runner.run()
        finally:
            timeline.stop()
        outcome, code = report.outcome()
        recorder.close(outcome, {"incident_id": report.incident_id, "cleanup": report.cleanup_note})
    finish_scenario(report, recorder.run_id, json_output)
    warn_if_unrecorded(recorder)
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


def show_plan(
    plan: Scenario,
    targets: Sequence[Target],
    redactor: Redactor,
    spec: BodySpec,
    incident_id: str | None,
    as_curl: bool,
    json_output: bool,
) -> None:
    """--dry-run: every step's requests, as the run would send them; nothing is sent."""
    from bp_integrate import scenarios
    from bp_integrate.commands.send_test import print_planned
    from bp_integrate.integrations.base import PlannedRequest, Skipped
    from bp_integrate.sender import as_curl_command, shown_request, skipped_json

    runner = scenarios.ScenarioRunner(
        plan, targets, redactor, None, spec, incident_id=incident_id, cleanup=False
    )
    for index, step, planned in runner.plan_steps():
        requests = [p for p in planned if isinstance(p, PlannedRequest)]
        skipped = [p for p in planned if isinstance(p, Skipped)]
        if json_output:
            line: dict[str, Any] = {
                "type": "step",
                "dry_run": True,
                "step": index,
                "event": step.event,
                "incident_id": runner.incident_id,
                "requests": [shown_request(r, redactor) for r in requests],
                "skipped": [skipped_json(s) for s in skipped],
            }
            if as_curl:
                line["curl"] = [as_curl_command(r, redactor) for r in requests]
            ui.emit_json_line(line)
            continue
        ui.data(f"## step {index}: {step.event} (incident {runner.incident_id})", style="bold")
        print_planned(requests, skipped, redactor, as_curl)
    if not json_output:
        ui.say(
            f"(dry run of {plan.name}: nothing was sent; secrets shown as **** unless "
            "--show-secrets)"
        )


def refuse_body_options_with_from_run(
    *, count: bool, sets: bool, tags: bool, envelope: bool, no_test_marker: bool
) -> None:
    """--from-run sends the recorded bodies: options that shape a new body would be
    silently lost, so they are refused (--incident-id applies: it rewrites the id)."""
    given = [
        flag
        for flag, on in (
            ("--count", count),
            ("--set", sets),
            ("--tag", tags),
            ("--envelope", envelope),
            ("--no-test-marker", no_test_marker),
        )
        if on
    ]
    if given:
        raise UsageError(
            f"{', '.join(given)} cannot be used with --from-run: a recorded run is sent "
            "again with the bodies it recorded.",
            "Drop them, or replay the scenario itself with them (e.g. bp-integrate replay "
            "lifecycle --set PATH=VALUE). With --from-run, --incident-id, --to, --timeout "
            "and --retries apply.",
        )


def load_recorded(
    run_id: str, incident_id: str | None = None
) -> tuple[Scenario, list[str], dict[str, Any]]:
    """A scenario of the recorded events of a run (bodies as recorded, the incident id
    replaced by `incident_id` if given), its targets, its options.

    Refused with a UsageError: a storm run (no bodies), a body history cut short, and a
    body holding a masked secret (`****`): history never keeps secrets, and sending the
    mask would be wrong (PagerDuty answers 400 to a routing_key of `****`).
    """
    from bp_integrate import history, scenarios
    from bp_integrate.sender import incident_of

    path = history.find_run(run_id)
    steps: list[scenarios.ScenarioStep] = []
    targets: list[str] = []
    options: dict[str, Any] = {}
    command = ""
    storm = False
    for record in history.read_records(path):
        kind = record.get("type")
        if kind == "run":
            targets = [str(t) for t in record.get("targets") or []]
            options = dict(record.get("options") or {})
            command = str(record.get("command") or "")
            storm = "count" in options
        elif kind == "event" and record.get("body_truncated"):
            raise UsageError(
                f"Run {path.stem} cannot be sent again: the body of its step "
                f"{len(steps) + 1} ({record.get('event')}) was {record.get('body_bytes')} "
                f"bytes, and history keeps at most {history.BODY_MAX} bytes of a body.",
                f"Send that body from its file again: bp-integrate send-test "
                f"{record.get('event')} --payload FILE.",
            )
        elif kind == "event" and isinstance(record.get("body"), dict):
            body = record["body"]
            masked = masked_paths(body)
            if masked:
                raise UsageError(
                    f"Run {path.stem} cannot be sent again: its step {len(steps) + 1} "
                    f"({record.get('event')}) held a secret at {', '.join(masked[:3])}, and "
                    "history keeps secrets only as ****: sending that would not be the "
                    "same event (a PagerDuty override key of **** is refused with a 400).",
                    "Run the original command again with the secret (it was: bp-integrate "
                    f"{command}, with its --tag or --set), or pick another run "
                    "from `bp-integrate history`.",
                )
            if incident_id is not None:
                incident_of(body)["id"] = incident_id
            steps.append(scenarios.ScenarioStep(str(record["event"]), body=body))
    if not steps:
        why = "storm runs keep no bodies" if storm else "it holds no recorded events"
        raise UsageError(
            f"Run {path.stem} cannot be sent again: {why}.",
            "Re-run the storm itself (bp-integrate replay lifecycle --count N), or pick "
            "another run from `bp-integrate history`.",
        )
    return scenarios.Scenario(f"run {path.stem}", tuple(steps), source=str(path)), targets, options


def masked_paths(node: Any, where: str = "") -> list[str]:
    """Where a recorded body holds a masked value (`incident.alerts[0].tags[3].value`)."""
    from bp_integrate.urls import MASK

    if isinstance(node, str):
        return [where or "the body"] if MASK in node else []
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found += masked_paths(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += masked_paths(value, f"{where}[{index}]")
    return found


def finish_scenario(report: ScenarioReport, run_id: str, json_output: bool) -> None:
    """The run's summary is data (stdout): a JSON line, or two plain lines."""
    outcome, code = report.outcome()
    with ui.reader_may_leave():
        if json_output:
            ui.emit_json_line({**report.to_json(), "run_id": run_id})
            return
        if report.interrupted:
            ui.say("Interrupted.", style="yellow")
        style = "green" if code == ExitCode.OK else "yellow" if code == ExitCode.PARTIAL else "red"
        ui.data(
            f"{outcome}: {report.passed_units} passed, {report.failed_units} failed; incident "
            f"{report.incident_id}; run {run_id}",
            style=style,
        )
        ui.data(report.cleanup_note)
        ui.say(f"Send it again: bp-integrate replay --from-run {run_id}")


def run_storm(
    plan: Scenario,
    targets: Sequence[Target],
    redactor: Redactor,
    spec: BodySpec,
    policy: Any,
    recorder: RunRecorder,
    count: int,
    concurrency: int,
    rate: float | None,
    client: Any,
    cleanup: bool,
    json_output: bool,
) -> StormReport:
    import asyncio

    from bp_integrate.storm import Storm, StormConfig

    progress_bar: Any = None
    task: Any = None
    on_progress = None
    recorder.open()  # a state folder we cannot write to fails here, before a send
    if not json_output and stderr_is_tty():
        from rich.progress import Progress

        progress_bar = Progress(console=ui.err(), transient=False)
        task = progress_bar.add_task(f"storm: {plan.name}", total=count)
        progress_bar.start()

        def on_progress(done: int) -> None:
            progress_bar.update(task, completed=done)

    elif not json_output:
        ui.say(
            f"Storm: {plural(count, 'incident')} x {plan.name} "
            f"({plural(len(plan.steps), 'event')} each), "
            f"{concurrency} at a time, to {', '.join(t.name for t in targets)}..."
        )
    storm = Storm(
        plan,
        targets,
        redactor,
        spec,
        policy,
        StormConfig(count, concurrency, rate, sender=client, cleanup=cleanup),
        recorder=recorder,
        progress=on_progress,
    )
    try:
        try:
            with sigterm_as_ctrl_c(), asyncio.Runner() as runner:
                report = runner.run(storm.run())
        finally:
            if progress_bar is not None:
                with ui.reader_may_leave():
                    progress_bar.stop()
        outcome, _code = storm_outcome(report)
        recorder.close(outcome, {"storm": report.to_json()})
    finally:
        recorder.close("interrupted")  # does nothing unless an exception skipped the close
    return report


def storm_outcome(report: StormReport) -> tuple[str, ExitCode]:
    if report.interrupted:
        return "interrupted", ExitCode.INTERRUPTED
    if report.failed == 0:
        return "success", ExitCode.OK
    if report.ok == 0:
        network = {"refused", "timeout", "dns", "disconnected", "connection"}
        code = ExitCode.NETWORK if set(report.failures) <= network else ExitCode.REJECTED
        return "failure", code
    return "partial", ExitCode.PARTIAL


def finish_storm(report: StormReport, recorder: RunRecorder, json_output: bool) -> None:
    outcome, code = storm_outcome(report)
    doc = {
        **report.to_json(),
        "outcome": outcome,
        "exit_code": int(code),
        "run_id": recorder.run_id,
    }
    with ui.reader_may_leave():
        _storm_summary(report, doc, outcome, recorder.run_id, json_output)
    warn_if_unrecorded(recorder)
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


def _storm_summary(
    report: StormReport, doc: dict[str, Any], outcome: str, run_id: str, json_output: bool
) -> None:
    """The storm's summary is data (stdout), like a scenario's."""
    if json_output:
        ui.emit_json(doc)
    else:
        lat = report.latency.to_json()
        ui.data(
            f"{report.incidents_done} incidents, {report.events} events, {report.requests} "
            f"requests in {report.elapsed_s:.2f} s"
        )
        ui.data(
            f"throughput: {report.events_per_s:.1f} events/s "
            f"({report.requests_per_s:.1f} requests/s)"
        )
        ui.data(
            f"latency: p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms, "
            f"p99 {lat['p99_ms']:.1f} ms (max {lat['max_ms']:.1f} ms)"
        )
        failures = ", ".join(f"{k}: {v}" for k, v in sorted(report.failures.items()))
        ui.data(
            f"ok {report.ok}, failed {report.failed}, skipped {report.skipped}"
            + (f" ({failures})" if failures else "")
        )
        ui.data(report.cleanup_note)
        ui.data(f"{outcome}: run {run_id}")
        ui.say("The run is recorded: bp-integrate history")
