"""`bp-integrate send-test`: one BigPanda event to every installed target (or those named).

A one-step scenario without cleanup: the options fill a `SendOptions`, and
`engine.session.run_session` runs it as it runs replay; this module shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bp_integrate import ui
from bp_integrate.commands.common import JsonOpt, ShowSecretsOpt
from bp_integrate.commands.sending import (
    AllOpt,
    AsCurlOpt,
    DryRunOpt,
    EnvelopeOpt,
    IncidentIdOpt,
    NoTestMarkerOpt,
    RetriesOpt,
    SessionView,
    SetOpt,
    TagOpt,
    TimeoutOpt,
    ToOpt,
    print_planned,
)
from bp_integrate.commands.verify import VerifyOpt, VerifyTimeoutOpt
from bp_integrate.errors import ExitCode, command_for

if TYPE_CHECKING:
    from bp_integrate.engine.consumer import Consumer
    from bp_integrate.engine.plan import Loaded
    from bp_integrate.engine.run import RunOptions
    from bp_integrate.engine.send import SendResult
    from bp_integrate.engine.session import Finished, Prepared


def timing(result: SendResult) -> str:
    """`connect 0.4 ms, response 1.1 ms, total 3 ms`, as curl -w splits it (the total
    also counts the client's own start-up)."""
    total = f"{result.latency_ms:.0f} ms"
    if result.response_ms is None or result.connect_ms is None:
        return total
    return (
        f"connect {result.connect_ms:.1f} ms, response {result.response_ms:.1f} ms, total {total}"
    )


def print_result(result: SendResult) -> None:
    """Two lines per request on stdout: what was sent and what came back."""
    status = str(result.status) if result.status is not None else result.outcome.upper()
    tries = f"  ({result.attempts} attempts)" if result.attempts > 1 else ""
    ident = f"  id={result.response_id}" if result.response_id else ""
    ui.data(
        f"{result.integration:<10} {result.method} {result.url}  {status}  "
        f"{timing(result)}{ident}{tries}"
    )
    if result.response:
        ui.data(f"{'':<10} response: {result.response}")
    if result.error and result.outcome == "network":
        ui.data(f"{'':<10} error: {result.error}")


def confirm_real_targets(loaded: Loaded, chose: bool, json_output: bool) -> None:
    """More than one real service and no --to/--all: ask on a terminal (default No),
    else refuse (bp_integrate.rails decides)."""
    from bp_integrate.commands.sending import target_url_map
    from bp_integrate.rails import check_send_all

    interactive = ui.stdin_is_tty() and not json_output
    real = check_send_all(target_url_map(loaded), chose, interactive)
    if not real:
        return
    question = f"Send to {len(real)} real services ({', '.join(real)})? Each may page its on-call"
    if not typer.confirm(question, default=False, err=True):
        # Declining is an answer, not a failure (gh and stripe exit 0 here too).
        ui.say("Nothing was sent. Pick targets with --to INTEGRATION (repeat), or --all.")
        raise typer.Exit(int(ExitCode.OK))


def complete_event(incomplete: str) -> list[str]:
    from bp_integrate.bigpanda.events import EVENTS

    return [event for event in EVENTS if event.startswith(incomplete)]


def send_test_command(
    ctx: typer.Context,
    event: Annotated[
        str,
        typer.Argument(
            help="A BigPanda event: incident#new, incident#updated, incident#closed, "
            "incident#reopen, incident#snoozed, incident#commented, "
            "incident#become-flapping, incident-tag#upserted, incident-tag#removed, "
            "manual, default (short forms work: new, close, flapping).",
            show_default=False,
            autocompletion=complete_event,
        ),
    ],
    to: ToOpt = None,
    all_targets: AllOpt = False,
    incident_id: IncidentIdOpt = None,
    set_: SetOpt = None,
    tag: TagOpt = None,
    payload: Annotated[
        Path | None,
        typer.Option(
            "--payload",
            metavar="FILE",
            help="Send your own JSON body instead; - reads it from standard input (--set and "
            "--tag edit it; the test marker goes on its descriptions and tags unless "
            "--no-test-marker).",
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    as_curl: AsCurlOpt = False,
    json_output: JsonOpt = False,
    timeout: TimeoutOpt = 10.0,
    retries: RetriesOpt = 2,
    show_secrets: ShowSecretsOpt = False,
    no_test_marker: NoTestMarkerOpt = False,
    envelope: EnvelopeOpt = None,
    verify: VerifyOpt = False,
    verify_timeout: VerifyTimeoutOpt = 30.0,
) -> None:
    """Send a test BigPanda event to the installed integrations and show what they answered.

    Examples:

    bp-integrate send-test incident#new --to xmatters --dry-run

    bp-integrate send-test incident#new --to pagerduty --tag service=db

    bp-integrate send-test incident#closed --to xmatters --as-curl

    bp-integrate send-test incident#new --to webhook --payload - < body.json
    """
    given = dict(locals())  # the arguments, by name (first: before any other local)
    from bp_integrate.engine.session import SendOptions, run_session

    options = SendOptions.of("send-test", given)
    code = run_session(options, ctx.obj, SendTestView())
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


class SendTestView(SessionView):
    """How send-test shows its session: one planned step, then each answer."""

    def dry_run(self, prepared: Prepared) -> None:
        from bp_integrate.commands.sending import dry_run_note, env_references, planned_json
        from bp_integrate.engine.plan import plan_scenario

        options, redactor, spec = prepared.options, prepared.redactor, prepared.settings.spec
        refs = env_references(prepared.loaded, prepared.profile) if options.as_curl else {}
        [(_index, step)] = plan_scenario(
            prepared.scenario, prepared.loaded, redactor, spec, options.incident_id
        )
        if options.json_output:
            doc = planned_json(step, redactor, options.as_curl, refs)
            doc["event"], doc["profile"] = prepared.event, prepared.profile
            doc["calibrated"] = spec.calibrated is not None
            ui.emit_json(doc)
            return
        print_planned(step.requests, step.skipped, redactor, options.as_curl, refs)
        ui.say(dry_run_note("dry run", options.show_secrets, options.as_curl))
        ui.say(f"({prepared.settings.shape_note})")

    def confirm(self, prepared: Prepared) -> None:
        options = prepared.options
        chose = bool(options.to) or options.all_targets
        confirm_real_targets(prepared.loaded, chose, options.json_output)

    def watcher(
        self, prepared: Prepared, run: RunOptions, processes: int, incident_id: str
    ) -> Consumer | None:
        if not prepared.options.json_output:
            ui.say(
                f"Sending {prepared.event} for test incident {incident_id} "
                f"(profile {prepared.profile!r})..."
            )
        return None

    def finished(self, done: Finished) -> None:
        watch, json_output = done.watch, done.prepared.options.json_output
        with ui.reader_may_leave():
            if watch is not None and not json_output:
                from bp_integrate.commands.verify import print_readback

                print_readback(watch, json_output)
            readback = [r.to_json() for r in watch.results] if watch is not None else None
            _report(done, readback)


def _report(done: Finished, readback: list[dict[str, Any]] | None = None) -> None:
    profile, kind, report = done.prepared.profile, done.prepared.event, done.report
    outcome, code, run_id = done.outcome, done.code, done.run_id
    from bp_integrate.bigpanda.events import OPENING_EVENTS
    from bp_integrate.engine.outcome import first_failure_hint
    from bp_integrate.engine.plan import skipped_json

    step = report.steps[0] if report.steps else None
    results = step.results if step else []
    skipped = step.skipped if step else []
    good = sum(1 for r in results if r.ok)
    bad = [r for r in results if not r.ok]
    if done.prepared.options.json_output:
        ui.emit_json(
            {
                "run_id": run_id,
                "event": kind,
                "incident_id": report.incident_id,
                "profile": profile,
                "results": [r.to_json() for r in results],
                "skipped": [skipped_json(s) for s in skipped],
                "outcome": outcome,
                "exit_code": int(code),
                **({"readback": readback} if readback is not None else {}),
            }
        )
        return
    for result in results:
        print_result(result)
        for note in result.notes:
            ui.say(f"  {result.integration}: {note}")
    for skip in skipped:
        ui.data(f"{skip.integration:<10} skipped: {skip.reason}")
    if step is not None and not results:
        ui.warn("nothing was sent: every target skipped this event.")
    # Counts that add up: a target that skipped the event is counted, with its reason.
    why = "; ".join(f"{s.integration}: {s.reason}" for s in skipped)
    skips = f", {len(skipped)} skipped ({why})" if skipped else ""
    ui.say(f"{outcome}: {good} of {len(results)} request(s) accepted{skips} (run {run_id}).")
    if report.cleanup:
        ui.say(report.cleanup_note)
    elif kind in OPENING_EVENTS and good:
        close = command_for(
            profile, f"send-test incident#closed --incident-id {report.incident_id}"
        )
        ui.say(f"The test incident is open on the targets; close it with: {close}")
    if bad:
        ui.say(first_failure_hint(bad, profile), style="yellow")
