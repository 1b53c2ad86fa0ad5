"""`bp-integrate replay`: a scenario (built-in, file, or a recorded run) about one test
incident, with a live timeline and cleanup; or, with --count, storm mode. Both run on the
one engine: the options fill a `SendOptions`, and `engine.session.run_session` runs it as
it runs send-test; this module shows it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bp_integrate import ui
from bp_integrate.commands.common import JsonOpt, ShowSecretsOpt, complete_run_id
from bp_integrate.commands.sending import (
    EnvelopeOpt,
    IncidentIdOpt,
    NoTestMarkerOpt,
    RealTargetsOpt,
    RetriesOpt,
    SessionView,
    SetOpt,
    TagOpt,
    TimeoutOpt,
    ToOpt,
    print_planned,
    stderr_is_tty,
)
from bp_integrate.commands.verify import VerifyOpt, VerifyTimeoutOpt
from bp_integrate.errors import ExitCode, command_for, plural

if TYPE_CHECKING:
    from bp_integrate.engine.consumer import Consumer
    from bp_integrate.engine.run import RunOptions, RunReport
    from bp_integrate.engine.session import Finished, Prepared


def complete_scenario(incomplete: str) -> list[str]:
    from bp_integrate.bigpanda.events import BUILTIN_SCENARIOS

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
            autocompletion=complete_run_id,
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
            "--rate",
            metavar="R",
            help="Storm mode: at most R events per second (at least 0.01; default: no "
            "limit on loopback, 2 with --real-targets).",
        ),
    ] = None,
    real_targets: RealTargetsOpt = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            metavar="W",
            help="Storm mode: processes to send from (default: one per core; one when "
            "--rate or --count is small).",
            show_default=False,
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
    verify: VerifyOpt = False,
    verify_timeout: VerifyTimeoutOpt = 30.0,
    junit: Annotated[
        Path | None,
        typer.Option("--junit", metavar="FILE", help="Also write a JUnit XML report for CI."),
    ] = None,
) -> None:
    """Replay a scenario about one test incident (or N of them with --count), then clean up.

    Examples:

    bp-integrate replay lifecycle --to xmatters --dry-run

    bp-integrate replay lifecycle --to pagerduty

    bp-integrate replay --from-run RUN_ID --dry-run
    """
    given = dict(locals())  # the arguments, by name (first: before any other local)
    from bp_integrate.engine.session import SendOptions, run_session

    options = SendOptions.of("replay", given)
    code = run_session(options, ctx.obj, ReplayView())
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


class ReplayView(SessionView):
    """How replay shows its session: every step's plan, the live timeline (or the storm's
    progress), then the summary."""

    def dry_run(self, prepared: Prepared) -> None:
        """--dry-run: every step's requests, as the run would send them; nothing is sent."""
        from bp_integrate.commands.sending import dry_run_note, env_references, planned_json
        from bp_integrate.engine.plan import plan_scenario

        options, redactor, plan = prepared.options, prepared.redactor, prepared.scenario
        as_curl, json_output = options.as_curl, options.json_output
        spec = prepared.settings.spec
        refs = env_references(prepared.loaded, prepared.profile) if as_curl else {}
        for index, step in plan_scenario(
            plan, prepared.loaded, redactor, spec, options.incident_id
        ):
            if json_output:
                doc = planned_json(step, redactor, as_curl, refs)
                ui.emit_json_line({"type": "step", "step": index, **doc})
                continue
            ui.data(f"## step {index}: {step.event} (incident {step.incident_id})", style="bold")
            print_planned(step.requests, step.skipped, redactor, as_curl, refs)
        if not json_output:
            ui.say(dry_run_note(f"dry run of {plan.name}", not redactor.enabled, as_curl))
            ui.say(f"({prepared.settings.shape_note})")

    def watcher(
        self, prepared: Prepared, run: RunOptions, processes: int, incident_id: str
    ) -> Consumer | None:
        """What shows the run as it goes, after saying what starts: the timeline of a
        scenario, the progress bar of a storm on a terminal, or nothing."""
        plan, json_output = prepared.scenario, prepared.options.json_output
        names = ", ".join(t.name for t in prepared.loaded.targets)
        if not run.storm:
            from bp_integrate.commands.sending import Timeline

            timeline = Timeline(json_output)
            if not json_output:
                timeline.say(
                    f"Replaying {plan.name} ({plural(len(plan.steps), 'step')}) to {names} "
                    f"(profile {prepared.profile!r})...",
                )
            return timeline
        if json_output:
            return None
        if stderr_is_tty():
            from bp_integrate.commands.sending import StormProgress

            return StormProgress(f"storm: {plan.name}", run.count)
        ui.say(
            f"Storm: {plural(run.count, 'incident')} x {plan.name} "
            f"({plural(len(plan.steps), 'event')} each), {run.concurrency} at a time"
            + (f" from {processes} processes" if processes > 1 else "")
            + f", to {names}..."
        )
        return None

    def finished(self, done: Finished) -> None:
        json_output = done.prepared.options.json_output
        with ui.reader_may_leave():
            if done.watch is not None:
                from bp_integrate.commands.verify import print_readback

                print_readback(done.watch, json_output)
            if done.prepared.options.storm:
                _storm_summary(done.report, done.run_id, json_output)
            else:
                finish_scenario(done.report, done.run_id, json_output, done.prepared.profile)
        junit = done.prepared.options.junit
        if junit is not None:
            from bp_integrate import junit as junit_xml
            from bp_integrate.commands.verify import run_junit_cases

            title = f"bp-integrate replay {done.prepared.scenario.name}"
            junit_xml.write(junit, title, run_junit_cases(done.report, done.watch))


def finish_scenario(report: RunReport, run_id: str, json_output: bool, profile: str) -> None:
    """The run's summary is data (stdout): a JSON line, or two plain lines."""
    outcome, code = report.outcome()
    if json_output:
        ui.emit_json_line({**report.summary_json(), "run_id": run_id})
        return
    if report.interrupted:
        ui.say("Interrupted.", style="yellow")
    style = "green" if code == ExitCode.OK else "yellow" if code == ExitCode.PARTIAL else "red"
    ui.data(
        f"{outcome}: {report.units_line()}; incident {report.incident_id}; run {run_id}",
        style=style,
    )
    ui.data(report.cleanup_note)
    ui.say(f"Send it again: {command_for(profile, f'replay --from-run {run_id}')}")


def _storm_summary(report: RunReport, run_id: str, json_output: bool) -> None:
    """The storm's summary is data (stdout), like a scenario's."""
    outcome, code = report.outcome()
    if json_output:
        ui.emit_json(
            {**report.storm_json(), "outcome": outcome, "exit_code": int(code), "run_id": run_id}
        )
    else:
        lat = report.latency.to_json()
        ui.data(
            f"{plural(report.incidents_done, 'incident')}, {plural(report.events, 'event')}, "
            f"{plural(report.requests, 'request')} in {report.elapsed_s:.2f} s"
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
