"""One send session: what send-test and replay share, from their options to an exit code.

Both commands fill one `SendOptions` and call `run_session`: the options are checked,
the scenario chosen (one event, a built-in or file scenario, or a recorded run), the
targets loaded (their secrets fed to the one redactor), and then either the plan is
shown (--dry-run, --as-curl) or the run is sent through the engine (in this process or,
in storm mode, on worker processes), recorded in the run history, read back
(--verify) and reported (--junit). What is printed is the command's: it hands a `View`
whose methods show each stage (and make the read-back watch, which sits above the
engine); nothing here prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bp_integrate.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from bp_integrate.engine.consumer import Consumer
    from bp_integrate.engine.plan import Loaded
    from bp_integrate.engine.run import RunOptions, RunReport
    from bp_integrate.engine.settings import Context, SendSettings
    from bp_integrate.history import RunRecorder
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


#: The parameters whose option name is not the field's.
_RENAMED = {"set_": "sets", "tag": "tags"}


@dataclass
class SendOptions:
    """What send-test or replay was asked to do: the one object both commands fill."""

    command: Literal["send-test", "replay"]
    to: list[str] = field(default_factory=list)
    incident_id: str | None = None
    sets: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    dry_run: bool = False
    as_curl: bool = False
    json_output: bool = False
    timeout: float = 10.0
    retries: int = 2
    show_secrets: bool = False
    no_test_marker: bool = False
    envelope: str | None = None
    verify: bool = False
    verify_timeout: float = 30.0
    #: send-test: the event, the --payload file, --all.
    event: str = ""
    payload: Path | None = None
    all_targets: bool = False
    #: replay: the scenario or the recorded run, the storm options, --no-cleanup, --junit.
    scenario: str | None = None
    from_run: str | None = None
    count: int | None = None
    concurrency: int | None = None
    rate: float | None = None
    real_targets: bool = False
    workers: int | None = None
    no_cleanup: bool = False
    junit: Path | None = None

    @classmethod
    def of(cls, command: Literal["send-test", "replay"], params: Mapping[str, Any]) -> SendOptions:
        """The options from a command function's arguments (its `locals()` on entry), each
        by its name (`set_` and `tag` fill `sets` and `tags`; a list left out is empty; the
        Typer context is not an option)."""
        values = {_RENAMED.get(k, k): v for k, v in params.items() if k != "ctx"}
        for name in ("to", "sets", "tags"):
            values[name] = list(values.get(name) or [])
        return cls(command, **values)

    @property
    def planning_only(self) -> bool:
        """--dry-run or --as-curl: plan and show, send nothing."""
        return self.dry_run or self.as_curl

    @property
    def storm(self) -> bool:
        return self.count is not None


@dataclass
class Prepared:
    """A session ready to plan or send: its scenario, settings, targets and redactor."""

    options: SendOptions
    profile: str
    scenario: Scenario
    settings: SendSettings
    loaded: Loaded
    #: What is printed is masked with it (off under --show-secrets); the history masks
    #: with its own view of the same secrets, always on.
    redactor: Redactor
    #: The event send-test sends (its resolved name); "" for replay.
    event: str = ""


class Watch(Protocol):
    """A read-back watch (bp_integrate.readback.ReadBackWatch), as the session sees it."""

    @property
    def failed(self) -> Sequence[Any]:
        """The sends that did not land as expected."""


@dataclass
class Finished:
    """A session that sent: what the view reports."""

    prepared: Prepared
    report: RunReport
    run_id: str
    outcome: str
    code: ExitCode
    watch: Any


class View(Protocol):
    """How a command shows a session (bp_integrate.commands.sending.SessionView)."""

    def note(self, message: str) -> None:
        """A line of talk (stderr)."""

    def missing(self, names: Sequence[str] | None) -> None:
        """A dry run's secrets that are not set."""

    def dry_run(self, prepared: Prepared) -> None:
        """The plan, as --dry-run or --as-curl shows it."""

    def confirm(self, prepared: Prepared) -> None:
        """Before anything is sent (send-test asks before paging several real services)."""

    def readback(self, prepared: Prepared) -> tuple[Watch, Consumer] | None:
        """--verify: the read-back watch, and the consumer that feeds it."""

    def watcher(
        self, prepared: Prepared, run: RunOptions, processes: int, incident_id: str
    ) -> Consumer | None:
        """Says what starts; returns what shows the run as it goes (it has `stop()`)."""

    def finished(self, done: Finished) -> None:
        """The run's result, read-back and summary (and --junit's report)."""

    def unrecorded(self, recorder: RunRecorder) -> None:
        """Says so when the run history could not be written to the end."""


def run_session(options: SendOptions, app: Context, view: View) -> ExitCode:
    """Check, plan and show, or send, record and report one send-test or replay."""
    prepared = prepare(options, app, view)
    if options.planning_only:
        view.dry_run(prepared)
        return ExitCode.OK
    from bp_integrate.engine.plan import check_plan, target_urls
    from bp_integrate.http import check_proxies

    loaded = prepared.loaded
    check_proxies(target_urls(loaded.targets))  # a malformed HTTPS_PROXY: an error first
    check_plan(prepared.scenario, loaded, prepared.settings.spec, options.incident_id)
    view.confirm(prepared)
    run = run_options(prepared, view)
    return send(prepared, run, view)


def prepare(options: SendOptions, app: Context, view: View) -> Prepared:
    """The options checked, then the settings, the scenario and the loaded targets."""
    from bp_integrate.engine.plan import load_targets
    from bp_integrate.engine.settings import SendSettings

    profile, event = app.profile, ""
    if options.command == "replay":
        profile = check_replay_options(options, app, view)
    else:
        from bp_integrate.bigpanda.events import resolve_event

        event = resolve_event(options.event)
    settings = SendSettings.build(
        app=app,
        timeout=options.timeout,
        retries=options.retries,
        envelope=options.envelope,
        no_test_marker=options.no_test_marker,
        sets=options.sets,
        tags=options.tags,
        payload=options.payload,
    )
    recorded_targets: list[str] = []
    if options.command == "replay":
        check_storm_options(options.count, options.concurrency, options.rate, options.workers)
        if options.storm and (options.verify or options.junit is not None):
            raise UsageError(
                "--verify and --junit report one scenario, not a storm.",
                "Drop --count, or drop --verify/--junit.",
            )
        scenario, recorded_targets = load_plan(options, settings)
    else:
        scenario = one_event(event, settings)
    # A dry run needs no secret values: an unset one is shown as **** (and said so).
    missing: list[str] | None = [] if options.planning_only else None
    names = options.to or recorded_targets or None
    loaded = load_targets(profile, names, missing, app.config)
    view.missing(missing)
    redactor = loaded.secrets.view(enabled=not options.show_secrets)
    return Prepared(options, profile, scenario, settings, loaded, redactor, event)


def check_replay_options(options: SendOptions, app: Context, view: View) -> str:
    """replay's rules between options; the profile it acts on (a recorded run's own)."""
    profile = app.profile
    if (options.scenario is None) == (options.from_run is None):
        raise UsageError(
            "Give a scenario or --from-run RUN_ID (one of them).",
            "e.g. bp-integrate replay lifecycle, or bp-integrate replay --from-run <id> "
            "(ids: bp-integrate history).",
        )
    if options.from_run is not None:
        profile = recorded_profile(app, options.from_run, view)
        refuse_body_options_with_from_run(options)
    if options.planning_only and options.storm:
        raise UsageError(
            "--dry-run shows one scenario's requests; --count does not apply.",
            "Drop --count to see what each step sends.",
        )
    return profile


def one_event(kind: str, settings: SendSettings) -> Scenario:
    """send-test's scenario: one step of the event `kind`, without expectations."""
    from bp_integrate.scenarios import Scenario, ScenarioStep

    # The simulator carries --tag on its own alerts; a --payload body gets them added.
    step_tags = tuple(settings.tags.items()) if settings.spec.payload is not None else ()
    return Scenario(f"send-test {kind}", (ScenarioStep(kind, tags=step_tags),), tags=settings.tags)


def load_plan(options: SendOptions, settings: SendSettings) -> tuple[Scenario, list[str]]:
    """The scenario to replay (built-in, a file, or a recorded run) with the --tag tags,
    and the targets a recorded run had."""
    from bp_integrate import scenarios

    spec = settings.spec
    recorded_targets: list[str] = []
    if options.from_run is not None:
        from bp_integrate.engine.recorded import load_recorded

        plan, recorded_targets, recorded = load_recorded(options.from_run, options.incident_id)
        # The cleanup (the only body made now) is shaped like the recorded ones.
        spec.envelope = recorded.get("envelope", spec.envelope)
        spec.test_marker = bool(recorded.get("test_marker", spec.test_marker))
    else:
        assert options.scenario is not None
        plan = scenarios.load(options.scenario)
    if settings.tags:
        plan = scenarios.Scenario(
            plan.name, plan.steps, plan.description, {**plan.tags, **settings.tags}, plan.source
        )
    return plan, recorded_targets


def recorded_profile(app: Context, run_id: str, view: View) -> str:
    """The profile `--from-run` acts on: the run's own, unless --profile chose one (the
    app context then follows it, so hints and settings name the same profile)."""
    from bp_integrate import history

    if app.profile_given:
        return app.profile
    summary = history.summarize(history.find_run(run_id))
    if summary is not None and summary.profile and summary.profile != app.profile:
        app.profile = summary.profile
        view.note(f"Run {summary.id} was made in profile {summary.profile!r}: sending with it.")
    return app.profile


def run_options(prepared: Prepared, view: View) -> RunOptions:
    """How the engine runs: one incident (cleanup unless --no-cleanup; send-test cleans
    up only what --verify opened), or a storm of N at concurrency C and rate R."""
    from bp_integrate.engine.run import RunOptions

    options = prepared.options
    if options.command == "send-test":
        # --verify checks it landed, then closes what it opened (nothing left behind).
        return RunOptions(
            cleanup=options.verify, incident_id=options.incident_id, profile=prepared.profile
        )
    rate = options.rate
    if options.storm:
        from bp_integrate.engine.plan import target_urls
        from bp_integrate.rails import storm_rate

        rate = storm_rate(target_urls(prepared.loaded.targets), rate, options.real_targets)
        if options.rate is None and rate is not None and not options.json_output:
            view.note(f"Real services: at most {rate:g} events/s (--rate changes it).")
    elif options.real_targets:
        raise UsageError(
            "--real-targets applies only to storm mode: add --count N.",
            "A single replay needs no flag to reach real services.",
        )
    return RunOptions(
        count=options.count or 1,
        concurrency=(options.concurrency or DEFAULT_CONCURRENCY) if options.storm else 1,
        rate=rate,
        cleanup=not options.no_cleanup,
        incident_id=options.incident_id,
        storm=options.storm,
        profile=prepared.profile,
    )


def recorder_for(prepared: Prepared, run: RunOptions, processes: int) -> RunRecorder:
    """The run's history file (not opened yet), named by what was run."""
    from bp_integrate.history import RunRecorder

    options, spec = prepared.options, prepared.settings.spec
    recorded: dict[str, Any] = {"envelope": spec.envelope, "test_marker": spec.test_marker}
    if options.command == "send-test":
        command = f"send-test {prepared.event}"
    else:
        name = prepared.scenario.name
        command = f"replay --from-run {options.from_run}" if options.from_run else f"replay {name}"
        recorded["scenario"] = name
        if run.storm:
            command += f" --count {options.count}"
            recorded.update(count=options.count, concurrency=run.concurrency, workers=processes)
    return RunRecorder(
        command=command,
        profile=prepared.profile,
        redactor=prepared.loaded.secrets,
        targets=[t.name for t in prepared.loaded.targets],
        options=recorded,
    )


def send(prepared: Prepared, run: RunOptions, view: View) -> ExitCode:
    """Send the run, recorded as it goes, then let the view report it."""
    from bp_integrate.engine.run import Engine, HistoryConsumer, run_sync

    options, loaded, settings = prepared.options, prepared.loaded, prepared.settings
    processes = 1
    if run.storm:
        from bp_integrate.engine.workers import choose_workers

        steps = len(prepared.scenario.steps)
        processes = choose_workers(options.workers, run.count, run.concurrency, run.rate, steps)
    readback = view.readback(prepared) if options.verify else None
    watch = readback[0] if readback is not None else None
    recorder = recorder_for(prepared, run, processes)
    recorder.open()  # a state folder we cannot write to fails here, before a send
    history = HistoryConsumer(recorder, compact=run.storm)
    others: list[Consumer] = [] if readback is None else [readback[1]]
    try:
        engine = None
        if processes == 1:
            engine = Engine(
                prepared.scenario, loaded, prepared.redactor, settings.spec, settings.policy, run
            )
        incident_id = engine.incident_id if engine is not None else ""
        shown = view.watcher(prepared, run, processes, incident_id)
        if shown is not None:
            others.insert(0, shown)
        try:
            if engine is not None:
                engine.consumers = [history, *others]
                report = run_sync(engine)
            else:
                from bp_integrate.engine.workers import Job, run_workers

                job = Job(prepared.scenario, loaded, prepared.redactor, settings.spec,
                          settings.policy, run)  # fmt: skip
                # The recorder gets the workers' lines itself.
                report = run_workers(job, processes, recorder, others)
        finally:
            if shown is not None:
                shown.stop()
        outcome, code = report.outcome()
        if options.command == "send-test":
            results = report.steps[0].results if report.steps else []
            if report.steps and not results and not report.interrupted:
                outcome = "nothing sent"
            recorder.close(outcome)
        elif run.storm:
            recorder.close(outcome, {"storm": report.storm_json()})
        else:
            recorder.close(
                outcome, {"incident_id": report.incident_id, "cleanup": report.cleanup_note}
            )
    finally:
        recorder.close("interrupted")  # does nothing unless an exception skipped the close
    view.finished(Finished(prepared, report, recorder.run_id, outcome, code, watch))
    view.unrecorded(recorder)
    if code == ExitCode.OK and watch is not None and watch.failed:
        code = ExitCode.ERROR  # every send was accepted, but one did not land as expected
    return code


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


def refuse_body_options_with_from_run(options: SendOptions) -> None:
    """--from-run sends the recorded bodies: options that shape a new body would be
    silently lost, so they are refused (--incident-id applies: it rewrites the id)."""
    given = [
        flag
        for flag, on in (
            ("--count", options.count is not None),
            ("--set", bool(options.sets)),
            ("--tag", bool(options.tags)),
            ("--envelope", options.envelope is not None),
            ("--no-test-marker", options.no_test_marker),
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
