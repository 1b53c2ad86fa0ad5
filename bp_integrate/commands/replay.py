"""`bp-integrate replay`: a scenario (built-in, file, or a recorded run) about one test
incident, with a live timeline and cleanup; or, with --count, storm mode. Both run on the
one engine (bp_integrate.engine); this module parses options and shows the result."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bp_integrate import ui
from bp_integrate.commands.common import JsonOpt, ShowSecretsOpt
from bp_integrate.commands.sending import (
    EnvelopeOpt,
    IncidentIdOpt,
    NoTestMarkerOpt,
    RealTargetsOpt,
    RetriesOpt,
    SendSettings,
    SetOpt,
    TagOpt,
    TimeoutOpt,
    ToOpt,
    plural,
    print_planned,
    stderr_is_tty,
    warn_if_unrecorded,
    warn_missing,
)
from bp_integrate.commands.verify import VerifyOpt, VerifyTimeoutOpt
from bp_integrate.errors import ExitCode, UsageError, command_for

if TYPE_CHECKING:
    from bp_integrate.app import App
    from bp_integrate.bigpanda.webhook import BodySpec
    from bp_integrate.engine.plan import Loaded
    from bp_integrate.engine.run import RunOptions, RunReport
    from bp_integrate.redact import Redactor
    from bp_integrate.scenarios import Scenario


#: Bounds of the storm options (docs/replay.md lists them).
CONCURRENCY_MAX = 1000
RATE_MIN = 0.01
RATE_MAX = 1_000_000.0
DEFAULT_CONCURRENCY = 10
#: The most worker processes --workers takes (engine.workers.WORKERS_MAX, not imported
#: here: the CLI starts without the engine).
WORKERS_MAX = 64


def check_storm_options(
    count: int | None, concurrency: int | None, rate: float | None, workers: int | None = None
) -> None:
    """Storm options only with --count, each within bounds; before anything is sent."""
    given = [
        flag
        for flag, value in (
            ("--concurrency", concurrency),
            ("--rate", rate),
            ("--workers", workers),
        )
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
    if workers is not None and not 1 <= workers <= WORKERS_MAX:
        raise UsageError(
            f"--workers must be between 1 and {WORKERS_MAX}, got {workers}.",
            "e.g. --workers 2 (leave it out for one per core)",
        )


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
    from bp_integrate.engine.plan import check_plan, load_targets, target_urls
    from bp_integrate.engine.run import Engine, HistoryConsumer, RunOptions, run_sync
    from bp_integrate.history import RunRecorder
    from bp_integrate.http import check_proxies

    profile = ctx.obj.profile
    if (scenario is None) == (from_run is None):
        raise UsageError(
            "Give a scenario or --from-run RUN_ID (one of them).",
            "e.g. bp-integrate replay lifecycle, or bp-integrate replay --from-run <id> "
            "(ids: bp-integrate history).",
        )
    if from_run is not None:
        profile = recorded_profile(ctx.obj, from_run)
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
    settings = SendSettings.build(
        app=ctx.obj,
        timeout=timeout,
        retries=retries,
        envelope=envelope,
        no_test_marker=no_test_marker,
        sets=set_ or [],
        tags=tag or [],
    )
    check_storm_options(count, concurrency, rate, workers)
    if count is not None and (verify or junit is not None):
        raise UsageError(
            "--verify and --junit report one scenario, not a storm.",
            "Drop --count, or drop --verify/--junit.",
        )
    spec = settings.spec
    plan, recorded_targets = load_plan(scenario, from_run, incident_id, settings)
    # A dry run needs no secret values: an unset one is shown as **** (and said so).
    missing: list[str] | None = [] if dry_run or as_curl else None
    loaded = load_targets(profile, to or recorded_targets or None, missing, ctx.obj.config)
    warn_missing(missing)
    # What is printed is masked unless --show-secrets; the history always is (it masks
    # with its own view of the same secrets).
    redactor = loaded.secrets.view(enabled=not show_secrets)
    if dry_run or as_curl:
        show_plan(plan, loaded, redactor, spec, incident_id, as_curl, json_output)
        return
    check_proxies(target_urls(loaded.targets))  # a malformed HTTPS_PROXY: an error first
    check_plan(plan, loaded, spec, incident_id)
    storm = count is not None
    if storm:
        from bp_integrate.rails import storm_rate

        asked = rate
        rate = storm_rate(target_urls(loaded.targets), rate, real_targets)
        if asked is None and rate is not None and not json_output:
            ui.say(f"Real services: at most {rate:g} events/s (--rate changes it).")
    elif real_targets:
        raise UsageError(
            "--real-targets applies only to storm mode: add --count N.",
            "A single replay needs no flag to reach real services.",
        )
    options_run = RunOptions(
        count=count or 1,
        concurrency=(concurrency or DEFAULT_CONCURRENCY) if storm else 1,
        rate=rate,
        cleanup=not no_cleanup,
        incident_id=incident_id,
        storm=storm,
    )
    processes = 1
    if storm:
        from bp_integrate.engine.workers import choose_workers

        processes = choose_workers(
            workers, options_run.count, options_run.concurrency, rate, len(plan.steps)
        )
    command = f"replay --from-run {from_run}" if from_run else f"replay {plan.name}"
    if storm:
        command += f" --count {count}"
    recorder = RunRecorder(
        command=command,
        profile=profile,
        redactor=loaded.secrets,
        targets=[t.name for t in loaded.targets],
        options={
            "envelope": spec.envelope,
            "test_marker": spec.test_marker,
            "scenario": plan.name,
            **(
                {"count": count, "concurrency": options_run.concurrency, "workers": processes}
                if storm
                else {}
            ),
        },
    )
    recorder.open()  # a state folder we cannot write to fails here, before a send
    shown = watcher(plan, loaded, options_run, processes, profile, json_output)
    consumers: list[Any] = [HistoryConsumer(recorder, compact=storm)]
    if shown is not None:
        consumers.append(shown)
    watch = None
    if verify:
        from bp_integrate.commands.verify import readback_watch
        from bp_integrate.readback import readback_consumer

        watch = readback_watch(profile, loaded, plan, verify_timeout)
        consumers.append(readback_consumer(watch))
    try:
        try:
            if processes > 1:
                from bp_integrate.engine.workers import Job, run_workers

                report = run_workers(
                    Job(plan, loaded, redactor, spec, settings.policy, options_run),
                    processes,
                    recorder,
                    # The recorder gets the workers' lines itself.
                    [c for c in consumers if not isinstance(c, HistoryConsumer)],
                )
            else:
                engine = Engine(
                    plan, loaded, redactor, spec, settings.policy, options_run, consumers
                )
                report = run_sync(engine)
        finally:
            if shown is not None:
                shown.stop()
        outcome, code = report.outcome()
        if storm:
            recorder.close(outcome, {"storm": report.storm_json()})
        else:
            recorder.close(
                outcome, {"incident_id": report.incident_id, "cleanup": report.cleanup_note}
            )
    finally:
        recorder.close("interrupted")  # does nothing unless an exception skipped the close
    with ui.reader_may_leave():
        if watch is not None:
            from bp_integrate.commands.verify import print_readback

            print_readback(watch, json_output)
        if storm:
            _storm_summary(report, recorder.run_id, json_output)
        else:
            finish_scenario(report, recorder.run_id, json_output, profile)
    if junit is not None:
        from bp_integrate import junit as junit_xml
        from bp_integrate.commands.verify import run_junit_cases

        junit_xml.write(junit, f"bp-integrate replay {plan.name}", run_junit_cases(report, watch))
    warn_if_unrecorded(recorder)
    if code == ExitCode.OK and watch is not None and watch.failed:
        code = ExitCode.ERROR  # every send was accepted, but one did not land as expected
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


def load_plan(
    scenario: str | None, from_run: str | None, incident_id: str | None, settings: SendSettings
) -> tuple[Scenario, list[str]]:
    """The scenario to replay (built-in, a file, or a recorded run) with the --tag tags,
    and the targets a recorded run had."""
    from bp_integrate import scenarios

    spec = settings.spec
    recorded_targets: list[str] = []
    if from_run is not None:
        from bp_integrate.engine.recorded import load_recorded

        plan, recorded_targets, options = load_recorded(from_run, incident_id)
        # The cleanup (the only body made now) is shaped like the recorded ones.
        spec.envelope = options.get("envelope", spec.envelope)
        spec.test_marker = bool(options.get("test_marker", spec.test_marker))
    else:
        assert scenario is not None
        plan = scenarios.load(scenario)
    if settings.tags:
        plan = scenarios.Scenario(
            plan.name, plan.steps, plan.description, {**plan.tags, **settings.tags}, plan.source
        )
    return plan, recorded_targets


def watcher(
    plan: Scenario,
    loaded: Loaded,
    options: RunOptions,
    processes: int,
    profile: str,
    json_output: bool,
) -> Any:
    """What shows the run as it goes (a consumer with `stop()`), after saying what starts:
    the timeline of a scenario, the progress bar of a storm on a terminal, or nothing."""
    names = ", ".join(t.name for t in loaded.targets)
    if not options.storm:
        from bp_integrate.commands.sending import Timeline

        timeline = Timeline(json_output)
        if not json_output:
            timeline.say(
                f"Replaying {plan.name} ({plural(len(plan.steps), 'step')}) to {names} "
                f"(profile {profile!r})...",
            )
        return timeline
    if json_output:
        return None
    if stderr_is_tty():
        from bp_integrate.commands.sending import StormProgress

        return StormProgress(f"storm: {plan.name}", options.count)
    ui.say(
        f"Storm: {plural(options.count, 'incident')} x {plan.name} "
        f"({plural(len(plan.steps), 'event')} each), {options.concurrency} at a time"
        + (f" from {processes} processes" if processes > 1 else "")
        + f", to {names}..."
    )
    return None


def show_plan(
    plan: Scenario,
    loaded: Loaded,
    redactor: Redactor,
    spec: BodySpec,
    incident_id: str | None,
    as_curl: bool,
    json_output: bool,
) -> None:
    """--dry-run: every step's requests, as the run would send them; nothing is sent."""
    from bp_integrate.commands.sending import (
        dry_run_note,
        env_references,
        planned_json,
        shape_note,
    )
    from bp_integrate.engine.plan import plan_scenario

    refs = env_references(loaded) if as_curl else {}
    for index, step in plan_scenario(plan, loaded, redactor, spec, incident_id):
        if json_output:
            ui.emit_json_line(
                {"type": "step", "step": index, **planned_json(step, redactor, as_curl, refs)}
            )
            continue
        ui.data(f"## step {index}: {step.event} (incident {step.incident_id})", style="bold")
        print_planned(step.requests, step.skipped, redactor, as_curl, refs)
    if not json_output:
        ui.say(dry_run_note(f"dry run of {plan.name}", not redactor.enabled, as_curl))
        ui.say(f"({shape_note(spec)})")


def recorded_profile(app: App, run_id: str) -> str:
    """The profile `--from-run` acts on: the run's own, unless --profile chose one (the
    app context then follows it, so hints and settings name the same profile)."""
    from bp_integrate import history

    if app.profile_given:
        return app.profile
    summary = history.summarize(history.find_run(run_id))
    if summary is not None and summary.profile and summary.profile != app.profile:
        app.profile = summary.profile
        ui.say(f"Run {summary.id} was made in profile {summary.profile!r}: sending with it.")
    return app.profile


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
        f"{outcome}: {report.passed_units} passed, {report.failed_units} failed; incident "
        f"{report.incident_id}; run {run_id}",
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
