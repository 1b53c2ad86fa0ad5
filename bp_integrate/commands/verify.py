"""`bp-integrate verify`: send a canary through BigPanda and read it back, hop by hop.

Parses, asks the app context for the profile's settings and integrations, runs
`bp_integrate.verify.Verifier`, and renders its report (text, `--json`, `--junit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bp_integrate import ui
from bp_integrate.commands.common import JsonOpt

if TYPE_CHECKING:
    from bp_integrate.app import App
    from bp_integrate.engine.plan import Loaded
    from bp_integrate.engine.run import RunReport
    from bp_integrate.junit import Case, CaseStatus
    from bp_integrate.readback import ReadBackWatch, ReadTarget
    from bp_integrate.scenarios import Scenario
    from bp_integrate.verify import Hop, VerifyReport


def render(report: VerifyReport) -> None:
    from bp_integrate.verify import MARKS

    ui.data(f"canary: {report.canary_host}   incident: {report.incident_id or '-'}")
    for hop in report.hops:
        mark = MARKS[hop.status]
        ui.row(f"{mark} {hop.title:<52} {hop.seconds:6.1f} s  {hop.detail}", hang=4)
        if hop.status == "failed" and hop.hint:
            ui.row(f"    fix: {hop.hint}", hang=9)
    for line in report.cleanup:
        ui.row(f"cleanup: {line}", hang=9)
    ui.row(hop_counts(report.hops), hang=2)


def hop_counts(hops: list[Hop]) -> str:
    """`4 passed, 0 failed, 2 not checked (see above)`: every hop counted, so the counts
    add up to the hops shown; why a hop was not checked is on its own line above, and
    in --json (never repeated here: one reason per target is a paragraph)."""
    passed = sum(1 for h in hops if h.status == "passed")
    failed = sum(1 for h in hops if h.status == "failed")
    unchecked = sum(1 for h in hops if h.status == "not_checked")
    text = f"{passed} passed, {failed} failed"
    return text + (f", {unchecked} not checked (see above)" if unchecked else "")


def junit_cases(report: VerifyReport) -> list[Case]:
    from bp_integrate.junit import Case

    status: dict[str, CaseStatus] = {
        "passed": "passed",
        "failed": "failed",
        "not_checked": "skipped",
    }
    return [
        Case(
            f"verify.{hop.integration or 'bigpanda'}",
            f"{hop.name}: {hop.title}",
            hop.seconds,
            status[hop.status],
            hop.detail,
            "\n".join(x for x in (hop.detail, hop.hint) if x),
        )
        for hop in report.hops
    ]


def verify_command(
    ctx: typer.Context,
    integrations: Annotated[
        list[str] | None,
        typer.Argument(help="Integrations to verify (default: every installed one)."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Seconds to wait at each hop (default: 2-5 minutes, per hop).",
        ),
    ] = None,
    app_key: Annotated[
        str | None,
        typer.Option(
            "--app-key",
            help="App Key of the Alerts REST API integration to use (visible on the command "
            "line: prefer profile set --canary-app-key-stdin).",
        ),
    ] = None,
    environment: Annotated[
        str | None, typer.Option("--environment", help="BigPanda environment id to search.")
    ] = None,
    junit: Annotated[
        Path | None,
        typer.Option("--junit", help="Also write a JUnit XML report (one case per hop)."),
    ] = None,
    list_environments: Annotated[
        bool, typer.Option("--list-environments", help="List the environments the key sees.")
    ] = False,
    maintenance: Annotated[
        bool,
        typer.Option(
            "--maintenance",
            help="Also prove a maintenance plan suppresses shares: a plan matching only a "
            "second canary is created in BigPanda and removed when verify ends.",
        ),
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Send a canary alert through BigPanda and check each hop to the targets.

    Set it up first with `bp-integrate verify-setup` (docs/verify.md).

    Examples:

    bp-integrate verify

    bp-integrate verify pagerduty --timeout 120 --junit verify.xml

    bp-integrate verify --maintenance --json
    """
    from bp_integrate.engine.settings import check_seconds

    options = VerifyOptions(
        integrations or [], timeout, app_key, environment, junit, maintenance, json_output
    )
    if timeout is not None:
        check_seconds("--timeout", timeout, VERIFY_TIMEOUT_MAX, "300")
    if list_environments:
        show_environments(ctx.obj, options)
        return
    report = run_verify(ctx.obj, options)
    if junit is not None:
        from bp_integrate import junit as junit_xml

        junit_xml.write(junit, "bp-integrate verify", junit_cases(report))
    if json_output:
        ui.emit_json(report.to_json())
    else:
        render(report)
    if not report.ok:
        raise typer.Exit(int(report.exit_code))


@dataclass
class VerifyOptions:
    """What `verify` was asked to do."""

    integrations: list[str]
    timeout: float | None
    app_key: str | None
    environment: str | None
    junit: Path | None
    maintenance: bool
    json_output: bool


def show_environments(app: App, options: VerifyOptions) -> None:
    """--list-environments: the environments the User API key sees."""
    from bp_integrate.bigpanda.api import BigPandaClient
    from bp_integrate.verify import load_settings

    bigpanda = app.config.bigpanda(app.profile)
    partial = load_settings(
        app.profile, bigpanda, options.app_key or "-", options.environment or "-"
    )
    client = BigPandaClient(partial.api_url, partial.user_key, partial.org_token)
    try:
        found = client.environments()
    finally:
        client.close()
    if options.json_output:
        ui.emit_json({"environments": found})
    else:
        for env in found:
            ui.data(f"{env.get('id')}  {env.get('name', '')}")


def read_targets(app: App, names: list[str]) -> list[ReadTarget]:
    """The integrations to verify with their read-back credentials: only those BigPanda
    shares to (an integration pasted elsewhere is not in the chain)."""
    from bp_integrate.readback import ReadTarget, load_creds

    loaded = app.load_targets(names or None)
    targets = [
        ReadTarget(
            t.integration, t.values, load_creds(t.integration, app.profile, app.config), app.profile
        )
        for t in loaded.targets
        if t.integration.paste_target == "BigPanda"
    ]
    if not targets:
        from bp_integrate.errors import ConfigError

        raise ConfigError(
            "None of these integrations receives shares from BigPanda: nothing to verify.",
            app.hint("list") + " shows them; verify the ones BigPanda shares to.",
        )
    return targets


def run_verify(app: App, options: VerifyOptions) -> VerifyReport:
    """Run the verifier over the profile's settings, a spinner on a terminal."""
    from bp_integrate.bigpanda.api import BigPandaClient
    from bp_integrate.readback import TargetReader
    from bp_integrate.verify import DEFAULT_TIMEOUTS, Verifier, load_settings

    bigpanda = app.config.bigpanda(app.profile)
    if options.app_key:
        # The same warning profile set gives: a key on the command line is visible.
        ui.warn(
            "--app-key puts the App Key on the command line, where other users of this "
            "machine and the shell history can read it; store it once instead: "
            + app.hint("profile set --canary-app-key-stdin")
        )
    settings = load_settings(app.profile, bigpanda, options.app_key, options.environment)
    targets = read_targets(app, options.integrations)
    timeouts = None
    if options.timeout is not None:
        timeouts = dict.fromkeys(DEFAULT_TIMEOUTS, options.timeout)
    live = ui.err().is_terminal and not options.json_output
    spinner = ui.err().status("") if live else None

    def on_wait(text: str) -> None:
        if spinner is not None:
            spinner.update(text)

    def on_hop(hop: Hop) -> None:
        # Live progress in the spinner only: the report (stdout) lists each hop once.
        if spinner is not None:
            spinner.update(f"{hop.title}: {hop.status.replace('_', ' ')}")

    client = BigPandaClient(settings.api_url, settings.user_key, settings.org_token)
    reader = TargetReader(profile=app.profile)
    verifier = Verifier(
        settings,
        targets,
        client,
        reader,
        timeouts,
        on_wait,
        on_hop,
        maintenance=options.maintenance,
    )
    try:
        if spinner is not None:
            spinner.start()
        try:
            return verifier.run()
        finally:
            if spinner is not None:
                spinner.stop()
    except KeyboardInterrupt:
        for line in verifier.report.cleanup:
            ui.say(f"cleanup: {line}")
        raise
    finally:
        client.close()
        reader.close()


# ------------------------------------------- send-test --verify, replay --verify/--junit
VerifyOpt = Annotated[
    bool,
    typer.Option(
        "--verify",
        help="After each send, read it back at the target (needs read-back credentials: "
        "docs/verify.md) and fail if it did not land in the expected state.",
    ),
]


#: The longest wait verify (and --verify) takes per hop or send: an hour.
VERIFY_TIMEOUT_MAX = 3600.0

VerifyTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--verify-timeout",
        help="With --verify: seconds to wait for each send to show at the target.",
    ),
]


def readback_watch(
    profile: str, loaded: Loaded, scenario: Scenario, timeout: float = 30.0
) -> ReadBackWatch:
    """A read-back watch over the run's targets, judged by the scenario's `expect`."""
    from bp_integrate.engine.settings import check_seconds
    from bp_integrate.readback import ReadBackWatch, ReadTarget, load_creds

    check_seconds("--verify-timeout", timeout, VERIFY_TIMEOUT_MAX, "60")
    targets = [
        ReadTarget(t.integration, t.values, load_creds(t.integration, profile), profile)
        for t in loaded.targets
    ]
    for target in targets:
        loaded.secrets.add(*target.integration.readback_secrets(target.creds))

    def expected(step: int, integration: str) -> str | None:
        if not 1 <= step <= len(scenario.steps):
            return None
        found = scenario.steps[step - 1].expectation_for(integration)
        return found.target_state if found is not None else None

    return ReadBackWatch(targets, expected, timeout)


def print_readback(watch: ReadBackWatch, json_output: bool) -> None:
    """What each target showed (data: stdout; JSON lines of type `readback`)."""
    from bp_integrate.verify import MARKS

    for result in watch.results:
        if json_output:
            ui.emit_json_line({"type": "readback", **result.to_json()})
        else:
            mark = MARKS.get(result.status, "?")
            ui.data(
                f"{mark} step {result.step} {result.event:<22} {result.integration:<10} "
                f"{result.detail}"
            )


def run_junit_cases(report: RunReport, watch: ReadBackWatch | None) -> list[Case]:
    """One case per request of each step (and per read-back), for `replay --junit`."""
    from bp_integrate.junit import Case

    cases: list[Case] = []
    for step in report.steps:
        for result in step.results:
            mine = [p for p in step.problems if p.startswith(f"{result.integration}:")]
            failed = bool(mine)
            cases.append(
                Case(
                    f"replay.{result.integration}",
                    f"step {step.index}: {step.event}",
                    result.elapsed_ms / 1000.0,
                    "failed" if failed else "passed",
                    "; ".join(mine) or (f"HTTP {result.status}" if failed else ""),
                )
            )
        for skip in step.skipped:
            cases.append(
                Case(
                    f"replay.{skip.integration}",
                    f"step {step.index}: {step.event}",
                    0.0,
                    "skipped",
                    skip.reason,
                )
            )
    for rb in watch.results if watch is not None else []:
        status: CaseStatus = (
            "passed" if rb.status == "passed" else "failed" if rb.status == "failed" else "skipped"
        )
        cases.append(
            Case(
                f"replay.{rb.integration}",
                f"step {rb.step}: {rb.event}: read back",
                rb.seconds,
                status,
                rb.detail,
            )
        )
    return cases
