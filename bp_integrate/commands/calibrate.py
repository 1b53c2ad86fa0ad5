"""`bp-integrate calibrate FILE`: compare a body captured from the user's own BigPanda with
ours, field by field; `--adopt` sends its shape from then on, `--reset` goes back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bp_integrate import ui
from bp_integrate.commands.common import JsonOpt
from bp_integrate.errors import UsageError, plural

_LABELS = {
    "only_captured": "only in the capture",
    "only_ours": "only in ours",
    "type_differs": "type differs",
    "same": "same",
}


def calibrate_command(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(
            metavar="FILE",
            help="A captured webhook body (JSON), or a `receiver --capture` file (JSON lines).",
            show_default=False,
        ),
    ] = None,
    adopt: Annotated[
        bool,
        typer.Option("--adopt", help="Send bodies of the captured shape from now on (profile)."),
    ] = False,
    reset: Annotated[
        bool, typer.Option("--reset", help="Forget the adopted shape: back to the built-in one.")
    ] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="List the fields that match too.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Compare a body captured from your BigPanda with ours; --adopt its shape, or --reset.

    Examples:

    bp-integrate calibrate captured.json

    bp-integrate calibrate captured.json --adopt

    bp-integrate calibrate --reset
    """
    from bp_integrate import calibrate

    profile = ctx.obj.profile
    if reset:
        if file is not None or adopt:
            raise UsageError(
                "--reset takes no FILE and no --adopt.",
                f"bp-integrate --profile {profile} calibrate --reset",
            )
        removed = calibrate.reset(profile)
        if json_output:
            ui.emit_json({"profile": profile, "reset": removed, "calibrated": False})
        elif removed:
            ui.success(f"Profile {profile!r} sends the built-in body shape again.")
        else:
            ui.say(f"Profile {profile!r} had no adopted shape: it sends the built-in one.")
        return
    if file is None:
        raise UsageError(
            "calibrate needs a FILE: a captured webhook body, or a `receiver --capture` file.",
            "Capture one with bp-integrate receiver --capture capture.jsonl (see "
            "docs/calibrate.md), then: bp-integrate calibrate capture.jsonl",
        )
    bodies = calibrate.load_capture(file)
    comparison = calibrate.compare(bodies)
    adopted = calibrate.adopt(profile, bodies, str(file)) if adopt else None
    if json_output:
        doc: dict[str, Any] = {"profile": profile, "file": str(file), **comparison.to_json()}
        doc["adopted"] = str(adopted.path) if adopted else None
        doc["calibrated"] = calibrate.is_calibrated(profile)
        ui.emit_json(doc)
        return
    render(comparison, show_all)
    if adopted is not None:
        ui.success(
            f"Adopted: profile {profile!r} now sends bodies of this shape ({adopted.path}); "
            f"bp-integrate --profile {profile} calibrate --reset goes back."
        )
    elif not comparison.matches:
        ui.say(f"bp-integrate --profile {profile} calibrate {file} --adopt sends this shape.")


def render(comparison: Any, show_all: bool) -> None:
    """The comparison as a table on stdout, the counts on stderr."""
    rows = [f for f in comparison.fields if show_all or f.verdict != "same"]
    if rows:
        width = max(len(f.path) for f in rows)
        ui.data(f"{'FIELD'.ljust(width)}  {'OURS':<18}  {'CAPTURED':<18}  VERDICT")
        for f in rows:
            ours = "|".join(f.ours) or "-"
            captured = "|".join(f.captured) or "-"
            ui.data(f"{f.path.ljust(width)}  {ours:<18}  {captured:<18}  {_LABELS[f.verdict]}")
    counts = {v: len(comparison.of(v)) for v in _LABELS}
    events = ", ".join(comparison.events) or "none named"
    ui.say(
        f"{plural(comparison.bodies, 'captured body', 'captured bodies')} (events: {events}; "
        f"envelope: {comparison.envelope}); fields: {counts['same']} the same, "
        f"{counts['only_captured']} only in the capture, {counts['only_ours']} only in ours, "
        f"{counts['type_differs']} of another type."
    )
