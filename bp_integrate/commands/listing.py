"""`bp-integrate list`: the integrations, and which are installed in the profile."""

from __future__ import annotations

import typer

from bp_integrate import config, ui
from bp_integrate.commands.common import JsonOpt
from bp_integrate.integrations import all_integrations


def list_command(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """List the integrations and whether each is installed in the profile.

    Examples:

    bp-integrate list

    bp-integrate -p prod list --json
    """
    profile = ctx.obj.profile
    cfg = config.load()
    installed = cfg.installed(profile)
    rows = [
        {
            "integration": i.name,
            "title": i.title,
            "installed": i.name in installed,
            "updated_at": installed[i.name].updated_at if i.name in installed else None,
            "summary": i.summary,
        }
        for i in all_integrations()
    ]
    if json_output:
        ui.emit_json({"profile": profile, "integrations": rows})
        return
    width = max(len(i.name) for i in all_integrations())
    for row in rows:
        mark = "installed" if row["installed"] else "-"
        # On a terminal the summary wraps at words, under itself; off one, a line each.
        ui.row(f"{row['integration']:<{width}}  {mark:<9}  {row['summary']}", hang=width + 13)
    if all(row["installed"] for row in rows):
        ui.say(f"(profile {profile!r}; all installed)")
    else:
        ui.say(f"(profile {profile!r}; install one with: bp-integrate install <integration>)")
