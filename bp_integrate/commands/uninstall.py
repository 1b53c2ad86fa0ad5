"""`bp-integrate uninstall`: the ordered teardown checklist, then local removal."""

from __future__ import annotations

from typing import Annotated

import typer

from bp_integrate import config, ui
from bp_integrate.commands.common import IntegrationArg, JsonOpt, NoInputOpt
from bp_integrate.errors import UsageError
from bp_integrate.integrations import get
from bp_integrate.store import remove


def uninstall_command(
    ctx: typer.Context,
    integration: IntegrationArg,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Confirm every step (for scripts).")
    ] = False,
    no_input: NoInputOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Walk through removing an integration in the right order, then forget it locally."""
    profile = ctx.obj.profile
    spec = get(integration)
    cfg = config.load()
    if cfg.get(profile, spec.name) is None:
        message = f"{spec.title} is not installed in profile {profile!r}: nothing to do."
        if json_output:
            ui.emit_json(
                {"integration": spec.name, "profile": profile, "installed": False, "removed": []}
            )
        else:
            ui.say(message)
        return
    steps = spec.full_uninstall_steps()
    interactive = not yes and not no_input and not json_output and ui.stdin_is_tty()
    if not yes and not interactive:
        raise UsageError(
            f"Uninstalling {spec.title} needs each step confirmed.",
            "Run it in a terminal to confirm step by step, or add --yes once the steps "
            f"below are done: bp-integrate uninstall {spec.name} --yes",
        )
    done: list[str] = []
    for number, step in enumerate(steps, start=1):
        if not json_output:
            ui.err().print(
                f"\nStep {number}/{len(steps)} - {step.system}: {step.title}", style="bold cyan"
            )
            ui.err().print(f"  {step.text}")
        if interactive and step.checkpoint:
            while not typer.confirm("  Done?", default=True, err=True):
                ui.say("  Finish the step first (Ctrl-C stops; nothing local is removed).")
        done.append(f"{step.system}: {step.title}")
    removed, left = remove(cfg, spec, profile)
    if json_output:
        ui.emit_json(
            {
                "integration": spec.name,
                "profile": profile,
                "installed": True,
                "steps": done,
                "removed": removed,
                "not_removed": left,
            }
        )
        return
    ui.success(f"\nRemoved {spec.title} from profile {profile!r}:")
    for line in removed:
        ui.data(f"  - {line}")
    for line in left:
        ui.warn(f"not removed: {line}")
