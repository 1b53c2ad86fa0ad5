"""`bp-integrate history`: the runs recorded by send-test and replay, newest first."""

from __future__ import annotations

from typing import Annotated

import typer

from bp_integrate import ui
from bp_integrate.commands.common import JsonOpt


def history_command(
    ctx: typer.Context,
    json_output: JsonOpt = False,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", help="Show at most N runs (0: all).")
    ] = 20,
) -> None:
    """List recorded runs (id, when, command, counts, outcome); replay one with --from-run."""
    from bp_integrate import history

    if limit < 0:
        from bp_integrate.errors import UsageError

        raise UsageError("--limit must be 0 (all) or more.", "e.g. --limit 10")
    runs = history.list_runs(limit or None)
    if json_output:
        ui.emit_json({"runs_dir": str(history.runs_dir()), "runs": [r.to_json() for r in runs]})
        return
    if not runs:
        ui.say(
            f"No runs recorded yet (they are kept in {history.runs_dir()}). "
            "bp-integrate send-test or replay records one."
        )
        return
    for run in runs:
        c = run.counts
        counts = (
            f"sent {c.get('sent', 0)}, ok {c.get('ok', 0)}, failed {c.get('failed', 0)}, "
            f"skipped {c.get('skipped', 0)}"
            if c
            else "-"
        )
        when = run.started_at.replace("T", " ")[:19]
        ui.data(f"{run.id}  {when}  {run.outcome:<11}  {counts}  {run.command}")
    ui.say("Send a run again: bp-integrate replay --from-run <id>")
