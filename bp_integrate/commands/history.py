"""`bp-integrate history`: the runs recorded by send-test and replay, newest first;
`--prune` removes all but the newest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bp_integrate import ui
from bp_integrate.commands.common import JsonOpt
from bp_integrate.errors import UsageError, plural

if TYPE_CHECKING:
    from bp_integrate.history import RunSummary


def history_command(
    ctx: typer.Context,
    json_output: JsonOpt = False,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", help="Show at most N runs (0: all).")
    ] = 20,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Remove all but the newest runs (--keep N, else $BP_INTEGRATE_HISTORY_KEEP, "
            "else 50) and list what was removed.",
        ),
    ] = False,
    keep: Annotated[
        int | None,
        typer.Option("--keep", metavar="N", help="With --prune: how many runs to keep."),
    ] = None,
) -> None:
    """List recorded runs, newest first; replay one with --from-run.

    Each run: its id, when, profile, targets, outcome, counts and command.

    Examples:

    bp-integrate history --limit 5

    bp-integrate replay --from-run 20240501T101502123Z-3fa1c2

    bp-integrate history --prune --keep 10
    """
    from bp_integrate import history

    if limit < 0:
        raise UsageError("--limit must be 0 (all) or more.", "e.g. --limit 10")
    if keep is not None and not prune:
        raise UsageError("--keep goes with --prune.", "e.g. bp-integrate history --prune --keep 10")
    if prune:
        prune_runs(keep, json_output)
        return
    damaged: list[Path] = []
    runs = history.list_runs(limit or None, damaged)
    for path in damaged:
        ui.warn(f"skipped {path}: it is damaged or not a run file (move it aside to hide this)")
    if json_output:
        ui.emit_json({"runs_dir": str(history.runs_dir()), "runs": [r.to_json() for r in runs]})
        return
    if not runs:
        ui.say(
            f"No runs recorded yet (they are kept in {history.runs_dir()}). "
            "bp-integrate send-test or replay records one."
        )
        return
    if ui.out().is_terminal:
        show_runs_wrapped(runs)
    else:
        show_runs(runs)
    ui.say("Send a run again: bp-integrate replay --from-run <id>")


def counts_text(run: RunSummary) -> str:
    c = run.counts
    if not c:
        return "-"
    return (
        f"sent {c.get('sent', 0)}, ok {c.get('ok', 0)}, failed {c.get('failed', 0)}, "
        f"skipped {c.get('skipped', 0)}"
    )


def show_runs(runs: list[RunSummary]) -> None:
    """One line per run on stdout (for `head`, `grep` and `wc -l`), the header on stderr."""
    profile_width = max(len("profile"), *(len(r.profile or "-") for r in runs))
    targets_of = {r.id: ",".join(r.targets) or "-" for r in runs}
    targets_width = max(len("targets"), *(len(t) for t in targets_of.values()))
    # The header is talk (stderr): stdout stays one line per run, for `head` and `wc -l`.
    # Not wrapped, even when stderr is a terminal (`history | head`): it heads columns of
    # rows that are not wrapped either.
    ui.err().print(
        f"{'run':<{len(runs[0].id)}}  {'started (UTC)':<19}  {'profile':<{profile_width}}  "
        f"{'targets':<{targets_width}}  {'outcome':<11}  counts  command"
    )
    for run in runs:
        when = run.started_at.replace("T", " ")[:19]
        ui.data(
            f"{run.id}  {when:<19}  {run.profile or '-':<{profile_width}}  "
            f"{targets_of[run.id]:<{targets_width}}  {run.outcome:<11}  {counts_text(run)}  "
            f"{run.command}"
        )


def show_runs_wrapped(runs: list[RunSummary]) -> None:
    """On a terminal: each run as a line of what finds it (id, start, profile, outcome)
    and, indented below, what it did, wrapped at words to the terminal's width."""
    for run in runs:
        when = run.started_at.replace("T", " ")[:19]
        ui.row(f"{run.id}  {when}  {run.profile or '-'}  {run.outcome}", hang=4)
        targets = ",".join(run.targets) or "-"
        ui.row(f"    {run.command}; to {targets}; {counts_text(run)}", hang=4, style="dim")


def prune_runs(keep: int | None, json_output: bool) -> None:
    """Remove the older run files; the removed ids are data, the totals talk."""
    from bp_integrate import history

    if keep is not None and keep < 1:
        raise UsageError(
            "--keep must be 1 or more.",
            "e.g. --keep 10 (to remove every run, delete the folder `bp-integrate history "
            "--json` names as runs_dir).",
        )
    count = keep if keep is not None else history.keep_runs()
    removed = history.prune(count)
    kept = len(history.run_files())
    if json_output:
        ui.emit_json(
            {
                "runs_dir": str(history.runs_dir()),
                "keep": count,
                "removed": [r.to_json() for r in removed],
                "kept": kept,
            }
        )
        return
    if not removed:
        ui.say(f"Nothing to remove: {plural(kept, 'run')}, keeping the newest {count}.")
        return
    for item in removed:
        ui.data(f"removed {item.id}")
    freed = sum(r.bytes for r in removed)
    ui.say(
        f"Removed {plural(len(removed), 'run')} ({history.human_size(freed)}); kept the newest "
        f"{count}."
    )
