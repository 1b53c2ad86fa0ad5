"""`bp-integrate uninstall`: the ordered teardown checklist, then local removal.

Nothing is removed on Enter alone: every checkpoint and the final confirmation default
to No, and a No stops with nothing removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import typer

from bp_integrate import config, ui
from bp_integrate.commands.common import IntegrationArg, JsonOpt, NoInputOpt, ShowSecretsOpt
from bp_integrate.config import Config, Installed
from bp_integrate.errors import BPError, ExitCode, UsageError, command_for
from bp_integrate.integrations import get
from bp_integrate.integrations.base import (
    UNINSTALL_FIRST,
    ApiClient,
    Integration,
    Step,
    TargetSide,
)
from bp_integrate.store import load_values, remove

#: The field that records the BigPanda App Key identifying the integration to delete.
APP_KEY = "app_key"


def uninstall_command(
    ctx: typer.Context,
    integration: IntegrationArg,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Confirm every step (for scripts).")
    ] = False,
    no_input: NoInputOpt = False,
    show_secrets: ShowSecretsOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Walk through removing an integration in the right order, then forget it locally.

    Every question defaults to No: Enter alone never removes anything.

    Examples:

    bp-integrate uninstall xmatters

    bp-integrate -p prod uninstall pagerduty --no-input   (prints the steps)

    bp-integrate uninstall pagerduty --yes   (once every step is done)
    """
    profile = ctx.obj.profile
    spec = get(integration)
    cfg = config.load()
    item = cfg.get(profile, spec.name)
    if item is None:
        return say_not_installed(spec, profile, json_output)
    steps = uninstall_steps(spec, item, profile)
    interactive = not yes and not no_input and not json_output and ui.stdin_is_tty()
    again = command_for(profile, f"uninstall {spec.name}")
    side = SideRemoval.of(spec, item, profile, yes, interactive)
    if not json_output:
        ui.say(f"Uninstalling {spec.title} from profile {profile!r}.", style="bold")
        app_key_line(spec, cfg, item, profile, show_secrets)
        walk_steps(steps, interactive, again, side)
    elif yes and side is not None:
        side.remove()
    if not yes and not interactive:
        where = "above" if not json_output else "listed by this command without --json"
        raise UsageError(
            f"Uninstalling {spec.title} needs each step confirmed.",
            "Run it in a terminal to confirm step by step, or add --yes once the steps "
            f"{where} are done: {again} --yes",
        )
    if interactive and not typer.confirm(
        f"\nRemove {spec.title}'s settings and stored secrets from profile {profile!r}?",
        default=False,
        err=True,
    ):
        ui.say("Nothing was removed.")
        raise typer.Exit(ExitCode.ERROR)
    removed, left = remove(cfg, spec, profile)
    say_removed(spec, profile, steps, removed, left, side, json_output)


def say_removed(
    spec: Integration,
    profile: str,
    steps: list[Step],
    removed: list[str],
    left: list[str],
    side: SideRemoval | None,
    json_output: bool,
) -> None:
    """What uninstall removed here (and by API), and what it could not."""
    if json_output:
        ui.emit_json(
            {
                "integration": spec.name,
                "profile": profile,
                "installed": True,
                "steps": [f"{step.system}: {step.title}" for step in steps],
                "removed": removed,
                "not_removed": left,
                "removed_by_api": side.done if side is not None else [],
            }
        )
        return
    ui.success(f"\nRemoved {spec.title} from profile {profile!r}:")
    for line in removed:
        ui.data(f"  - {line}")
    for line in left:
        ui.warn(f"not removed: {line}")


def walk_steps(steps: list[Step], interactive: bool, again: str, side: SideRemoval | None) -> None:
    """Show each step in order; interactive, each checkpoint must be done. At the step
    that removes the target's side, that is done by API when it can be."""
    for number, step in enumerate(steps, start=1):
        show_step(number, len(steps), step)
        if side is not None and step.title == side.side.removal_step and side.offer(interactive):
            continue
        if interactive and step in UNINSTALL_FIRST and not replacing():
            continue  # not replaced: nothing to configure first
        if interactive and step.checkpoint and not done(step):
            ui.say(
                f"\nStopped before '{step.title}' was done: nothing was removed. "
                f"When it is, run: {again}"
            )
            raise typer.Exit(ExitCode.ERROR)


@dataclass
class SideRemoval:
    """Removing the target's side (incident.io's alert source) by API at its step, or
    saying exactly where to remove it by hand (PagerDuty has no API call for it)."""

    spec: Integration
    side: TargetSide
    values: dict[str, str]
    key: tuple[str, str] | None
    yes: bool
    profile: str = "default"
    done: list[str] = field(default_factory=list)

    @classmethod
    def of(
        cls, spec: Integration, item: Installed, profile: str, yes: bool, interactive: bool
    ) -> SideRemoval | None:
        if spec.target_side is None:
            return None
        try:
            values = load_values(spec, item, profile, with_secrets=True, strict=False)
        except BPError:
            values = load_values(spec, item, profile, with_secrets=False, strict=False)
        from bp_integrate.commands.sides import side_key

        key = (
            side_key(spec, spec.target_side, profile) if spec.target_side.removal(values) else None
        )
        return cls(spec, spec.target_side, values, key, yes, profile)

    def offer(self, interactive: bool) -> bool:
        """At the removal step: True when it was removed by API (the step is done)."""
        calls = self.side.removal(self.values)
        if not calls or self.key is None:
            why = ""
            if calls:
                from bp_integrate.commands.sides import api_key_env

                why = (
                    f" (with a {self.side.key_label} in {api_key_env(self.spec, self.profile)},"
                    " or stored as the read-back key, uninstall deletes it by API)"
                )
            ui.prose(self.side.by_hand(self.values) + why, indent=2, style="bold")
            return False
        for call in calls:
            ui.say(f"  {call.what} (key from {self.key[1]}):")
            ui.say(f"    {call.shown()}")
        if interactive:
            wanted = typer.confirm(
                f"  Delete it in {self.side.system} now?", default=False, err=True
            )
            if not wanted:
                ui.prose(self.side.by_hand(self.values), indent=2)
                return False
        elif not self.yes:
            return False
        self.remove()
        return True

    def remove(self) -> None:
        if self.key is None or not self.side.removal(self.values):
            return
        from bp_integrate.commands.sides import side_url

        base = side_url(self.side, self.values, self.profile)
        with ApiClient(self.side, base, self.key[0]) as api:
            said = self.side.remove(api, self.values)
        self.done.append(said)
        ui.success(f"  {said}")


def say_not_installed(spec: Integration, profile: str, json_output: bool) -> None:
    """Uninstalling what is not there is done already (uninstall is idempotent)."""
    if json_output:
        ui.emit_json(
            {"integration": spec.name, "profile": profile, "installed": False, "removed": []}
        )
    else:
        ui.say(f"{spec.title} is not installed in profile {profile!r}: nothing to do.")


def uninstall_steps(spec: Integration, item: Installed, profile: str) -> list[Step]:
    """The steps that apply to what was installed (a step may depend on a setting)."""
    values = load_values(spec, item, profile, with_secrets=False, strict=False)
    return [step for step in spec.full_uninstall_steps() if step.applies(values)]


def show_step(number: int, total: int, step: Step) -> None:
    ui.err().print(f"\nStep {number}/{total} - {step.system}: {step.title}", style="bold cyan")
    ui.prose(step.text, indent=2)


def done(step: Step) -> bool:
    return typer.confirm("  Done?", default=False, err=True)


def replacing() -> bool:
    """The first step is a question: only an integration being replaced has a new one
    to configure first (No, the default, goes on to the next step)."""
    if not typer.confirm("  Is another integration replacing this one?", default=False, err=True):
        return False
    ui.say("  Then configure the new integration first (so no incident goes unshared).")
    return True


def app_key_line(
    spec: Integration, cfg: Config, item: Installed, profile: str, show_secrets: bool
) -> None:
    """The recorded App Key: it tells which integration in BigPanda is this one."""
    if not any(f.name == APP_KEY for f in spec.fields):
        return
    if APP_KEY not in item.secret_fields:
        ui.prose(
            "No BigPanda App Key was recorded at install: find the integration to delete in "
            "BigPanda (Integrations) by its name."
        )
        return
    try:
        key = load_values(spec, item, profile, with_secrets=True, strict=False).get(APP_KEY, "")
    except BPError as error:
        ui.warn(f"the recorded App Key cannot be read: {error.message}")
        return
    if not key:
        return
    from bp_integrate.wizard import masked_tail

    shown = key if show_secrets else masked_tail(key)
    ui.say(f"The integration to delete in BigPanda has the App Key {shown} (recorded at install).")
