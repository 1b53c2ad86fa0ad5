"""`bp-integrate send-test`: one BigPanda event to every installed target (or those named)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bp_integrate import ui
from bp_integrate.commands.common import JsonOpt, ShowSecretsOpt
from bp_integrate.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from bp_integrate.history import RunRecorder
    from bp_integrate.integrations.base import PlannedRequest, Skipped
    from bp_integrate.redact import Redactor
    from bp_integrate.sender import SendResult

ToOpt = Annotated[
    list[str] | None,
    typer.Option("--to", metavar="INTEGRATION", help="Send only to this integration (repeat)."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="PATH=VALUE",
        help="Edit the webhook body, e.g. --set incident.status=warning (repeat).",
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
        help="Body shape: event = {event_type, incident} (default), incident = "
        "{incident}, bare = the incident object. Our reconstruction; switch if your "
        "receiver expects another.",
        show_default=False,
    ),
]
NoTestMarkerOpt = Annotated[
    bool,
    typer.Option(
        "--no-test-marker", help="Do not mark the payload as a test ([TEST] prefix and tag)."
    ),
]
#: Bounds of --timeout and --retries (docs/replay.md lists them).
TIMEOUT_MAX = 600.0
RETRIES_MAX = 10
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
        help="Retries on network errors, 429 and 5xx (never on other 4xx); 0 to 10.",
    ),
]


def parse_tags(items: list[str]) -> dict[str, str]:
    from bp_integrate.payloads import validate_tag_name

    tags: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--tag expects NAME=VALUE, got {item!r}.", "e.g. --tag service=api")
        tags[validate_tag_name(name.strip())] = value
    return tags


def check_envelope(shape: str | None) -> Any:
    from bp_integrate.errors import nearest
    from bp_integrate.payloads import ENVELOPE_SHAPES

    if shape is None:
        return "event"
    if shape not in ENVELOPE_SHAPES:
        guess = nearest(shape, list(ENVELOPE_SHAPES))
        raise UsageError(
            f"Unknown envelope shape {shape!r}.",
            (f"Did you mean {guess!r}? " if guess else "")
            + f"Shapes: {', '.join(ENVELOPE_SHAPES)}.",
        )
    return shape


def check_numbers(timeout: float, retries: int) -> None:
    """--timeout and --retries within bounds, before anything is sent (NaN included:
    `--timeout nan` passes a plain `<= 0` check)."""
    if not (math.isfinite(timeout) and 0 < timeout <= TIMEOUT_MAX):
        raise UsageError(
            f"--timeout must be a number of seconds above 0 and at most {TIMEOUT_MAX:.0f}, "
            f"got {timeout!r}.",
            "e.g. --timeout 10",
        )
    if not 0 <= retries <= RETRIES_MAX:
        raise UsageError(
            f"--retries must be between 0 and {RETRIES_MAX}, got {retries}.", "e.g. --retries 2"
        )


def print_result(result: SendResult) -> None:
    """Two lines per request on stdout: what was sent and what came back."""
    status = str(result.status) if result.status is not None else result.outcome.upper()
    tries = f"  ({result.attempts} attempts)" if result.attempts > 1 else ""
    ident = f"  id={result.response_id}" if result.response_id else ""
    ui.data(
        f"{result.integration:<10} {result.method} {result.url}  {status}  "
        f"{result.latency_ms:.0f} ms{ident}{tries}"
    )
    if result.response:
        ui.data(f"{'':<10} response: {result.response}")
    if result.error and result.outcome == "network":
        ui.data(f"{'':<10} error: {result.error}")


def complete_event(incomplete: str) -> list[str]:
    from bp_integrate.payloads import EVENTS

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
    incident_id: IncidentIdOpt = None,
    set_: SetOpt = None,
    tag: TagOpt = None,
    payload: Annotated[
        Path | None,
        typer.Option(
            "--payload",
            metavar="FILE",
            help="Send your own JSON body instead (--set and --tag edit it; the test marker "
            "goes on its descriptions and tags unless --no-test-marker).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Send nothing; print the exact requests.")
    ] = False,
    as_curl: Annotated[
        bool, typer.Option("--as-curl", help="Send nothing; print curl commands.")
    ] = False,
    json_output: JsonOpt = False,
    timeout: TimeoutOpt = 10.0,
    retries: RetriesOpt = 2,
    show_secrets: ShowSecretsOpt = False,
    no_test_marker: NoTestMarkerOpt = False,
    envelope: EnvelopeOpt = None,
) -> None:
    """Send a test BigPanda event to the installed integrations and show what they answered."""
    from bp_integrate import payloads
    from bp_integrate.sender import (
        BodySpec,
        Session,
        as_curl_command,
        build_redactor,
        load_targets,
        overall,
        plan_event,
        render_body,
        shown_request,
        skipped_json,
    )

    profile: str = ctx.obj
    kind = payloads.resolve_event(event)
    check_numbers(timeout, retries)
    spec = BodySpec(
        envelope=check_envelope(envelope),
        test_marker=not no_test_marker,
        sets=[payloads.parse_assignment(s) for s in set_ or []],
        payload=payloads.load_payload_file(payload) if payload else None,
    )
    tags = parse_tags(tag or [])
    targets = load_targets(profile, to)
    # One set of secrets, two views: `redactor` masks what is printed (off under
    # --show-secrets); the run history masks with its own view, always on.
    secrets = build_redactor(targets)
    redactor = secrets.view(enabled=not show_secrets)
    simulator = payloads.IncidentSimulator(
        incident_id=incident_id, tags=tags, test_marker=spec.test_marker
    )
    # The simulator carries --tag on its own alerts; a --payload body gets them added.
    body, incident = render_body(
        simulator, kind, spec, tags=tags if spec.payload is not None else None
    )
    the_id = str(incident.get("id", simulator.incident_id))
    planned = plan_event(targets, kind, incident, body, spec.send_options(), redactor)
    from bp_integrate.integrations.base import PlannedRequest, Skipped

    requests = [p for p in planned if isinstance(p, PlannedRequest)]
    skipped = [p for p in planned if isinstance(p, Skipped)]

    if dry_run or as_curl:
        if json_output:
            doc: dict[str, Any] = {
                "dry_run": True,
                "event": kind,
                "incident_id": the_id,
                "profile": profile,
                "requests": [shown_request(r, redactor) for r in requests],
                "skipped": [skipped_json(s) for s in skipped],
            }
            if as_curl:
                doc["curl"] = [as_curl_command(r, redactor) for r in requests]
            ui.emit_json(doc)
            return
        print_planned(requests, skipped, redactor, as_curl)
        if not show_secrets:
            ui.say("(dry run: nothing was sent; secrets shown as ****, --show-secrets shows them)")
        else:
            ui.say("(dry run: nothing was sent)")
        return

    from bp_integrate.history import RunRecorder
    from bp_integrate.http import RetryPolicy, check_proxies

    check_proxies(r.url for r in requests)  # a malformed HTTPS_PROXY: an error before a send
    policy = RetryPolicy(retries=retries, timeout=timeout)
    recorder = RunRecorder(
        command=f"send-test {kind}",
        profile=profile,
        redactor=secrets,
        targets=[t.name for t in targets],
        options={"envelope": spec.envelope, "test_marker": spec.test_marker},
    )
    with recorder, Session(policy) as session:
        recorder.event(1, kind, the_id, body)
        if not json_output:
            ui.say(f"Sending {kind} for test incident {the_id} (profile {profile!r})...")
        results = session.deliver(requests, redactor)
        for result in results:
            recorder.send(1, result.to_json(), result.ok)
        for skip in skipped:
            recorder.skipped(1, skip.integration, skip.event, skip.reason)
        good = sum(1 for r in results if r.ok)
        bad = [r for r in results if not r.ok]
        outcome, code = overall(good, bad)
        if not results:
            outcome = "nothing sent"
        recorder.close(outcome)

    with ui.reader_may_leave():
        _report(profile, kind, the_id, recorder, results, skipped, outcome, code, json_output)
    warn_if_unrecorded(recorder)
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


def _report(
    profile: str,
    kind: str,
    the_id: str,
    recorder: RunRecorder,
    results: list[SendResult],
    skipped: list[Skipped],
    outcome: str,
    code: ExitCode,
    json_output: bool,
) -> None:
    from bp_integrate.sender import OPENING_EVENTS, skipped_json

    good = sum(1 for r in results if r.ok)
    bad = [r for r in results if not r.ok]
    if json_output:
        ui.emit_json(
            {
                "run_id": recorder.run_id,
                "event": kind,
                "incident_id": the_id,
                "profile": profile,
                "results": [r.to_json() for r in results],
                "skipped": [skipped_json(s) for s in skipped],
                "outcome": outcome,
                "exit_code": int(code),
            }
        )
    else:
        for result in results:
            print_result(result)
            for note in result.notes:
                ui.say(f"  {result.integration}: {note}")
        for skip in skipped:
            ui.data(f"{skip.integration:<10} skipped: {skip.reason}")
        if not results:
            ui.warn("nothing was sent: every target skipped this event.")
        ui.say(f"{outcome}: {good} of {len(results)} request(s) accepted (run {recorder.run_id}).")
        if kind in OPENING_EVENTS and good:
            ui.say(
                f"The test incident is open on the targets; close it with: bp-integrate "
                f"--profile {profile} send-test incident#closed --incident-id {the_id}"
            )
        if bad:
            ui.say(_hint(bad), style="yellow")


def print_planned(
    requests: Sequence[PlannedRequest],
    skipped: Sequence[Skipped],
    redactor: Redactor,
    as_curl: bool,
) -> None:
    """The exact requests, as text (or curl commands) on stdout; skips on stderr."""
    from bp_integrate.sender import as_curl_command, shown_request

    for request in requests:
        if as_curl:
            ui.data(as_curl_command(request, redactor))
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


def warn_if_unrecorded(recorder: RunRecorder) -> None:
    """Say so when the run history could not be written to the end (disk full...)."""
    if recorder.error:
        with ui.reader_may_leave():
            ui.warn(
                f"{recorder.error}. Free some space or set BP_INTEGRATE_STATE_DIR to a "
                "writable folder."
            )


def _hint(bad: list[SendResult]) -> str:
    from bp_integrate.sender import failure_hint

    first = bad[0]
    if first.outcome == "network" and first.proxy:
        from bp_integrate.sender import proxied_host

        return (
            f"{first.integration}: {first.error}. Check that this proxy is running and lets "
            f"this machine through (or fix {first.proxy_variable}), or add "
            f"{proxied_host(first)} to NO_PROXY to go direct; then check the URL with "
            f"`bp-integrate show {first.integration}`."
        )
    if first.outcome == "network":
        return (
            f"{first.integration}: {first.error}. Check the URL with `bp-integrate show "
            f"{first.integration}`, and that this machine can reach it."
        )
    if first.status in (401, 403):
        return (
            f"{first.integration} refused the credentials (HTTP {first.status}): install it "
            f"again with the right secret (bp-integrate install {first.integration})."
        )
    hint = failure_hint(first)
    return f"{first.integration} answered HTTP {first.status}: " + (
        f"{hint}." if hint else "see its response above."
    )
