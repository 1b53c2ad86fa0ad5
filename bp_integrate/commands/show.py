"""`bp-integrate show`: what to paste into BigPanda (and Panopta), secrets masked."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bp_integrate import config, ui
from bp_integrate.commands.common import (
    IntegrationArg,
    JsonOpt,
    ShowSecretsOpt,
    complete_field_key,
)
from bp_integrate.errors import SecretsError, UsageError, command_for, nearest
from bp_integrate.integrations import get
from bp_integrate.redact import MASK
from bp_integrate.store import load_values, require_installed, unset_secrets
from bp_integrate.wizard import paste

if TYPE_CHECKING:
    from bp_integrate.config import Installed
    from bp_integrate.integrations.base import Integration


def show_command(
    ctx: typer.Context,
    integration: IntegrationArg,
    field: Annotated[
        str | None,
        typer.Option(
            "--field",
            metavar="KEY",
            help="Print one value alone, for copying or scripts: url, header:Authorization, "
            "integration_key, outage.payload, ... or any setting's name.",
            show_default=False,
            autocompletion=complete_field_key,
        ),
    ] = None,
    json_output: JsonOpt = False,
    show_secrets: ShowSecretsOpt = False,
    remote: Annotated[
        bool,
        typer.Option(
            "--remote",
            help="Also read, by API, what BigPanda (or the target) holds for it (Webhook v2: "
            "its whole configuration).",
        ),
    ] = False,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            metavar="FILE",
            help="Write what BigPanda holds as an answers file install accepts back (config "
            "as code: install --answers FILE then changes nothing).",
        ),
    ] = None,
) -> None:
    """Show the settings to paste into BigPanda for an installed integration.

    Examples:

    bp-integrate show xmatters

    bp-integrate show xmatters --field url --show-secrets | pbcopy

    bp-integrate -p prod show pagerduty --json

    bp-integrate show webhook_v2 --remote --export webhook-v2.yaml
    """
    profile = ctx.obj.profile
    spec = get(integration)
    cfg = config.load()
    item = require_installed(cfg, profile, spec.name)
    if remote or export is not None:
        return show_remote(spec, item, profile, export, json_output)
    values = load_values(spec, item, profile, with_secrets=show_secrets)
    # --show-secrets loads them (one not set is an error); masked, each is still looked up,
    # so that one not set is said, not shown as **** as if it were there.
    unset = {} if show_secrets else unset_or_unknown(spec, item, profile)
    doc = paste(spec, values, profile, show_secrets, unset)
    doc["secret_store"] = item.secret_store
    doc["missing_secrets"] = [
        {"field": name, "message": error.message, "hint": error.hint}
        for name, error in unset.items()
    ]
    from bp_integrate import calibrate

    doc["calibrated"] = calibrate.is_calibrated(profile)
    if field is not None:
        print_field(doc, field, spec.name, profile, show_secrets, json_output, unset)
        return
    if json_output:
        ui.emit_json(doc)
        return
    render_paste(doc, reminders=False)  # said at the install, not at every show
    for error in unset.values():
        ui.warn(f"{error.message}\n  {error.hint}")


def unset_or_unknown(spec: Integration, item: Installed, profile: str) -> dict[str, SecretsError]:
    """The install's secrets that are not set (`store.unset_secrets`); none when the store
    cannot be read (no keyring), said on stderr: show still shows the rest, masked."""
    try:
        return unset_secrets(spec, item, profile)
    except SecretsError as error:
        ui.warn(f"Could not check that the secrets are stored: {error.message}")
        return {}


def show_remote(
    spec: Integration, item: Installed, profile: str, export: Path | None, json_output: bool
) -> None:
    """What the target's side holds, read through the integration's target-side hook
    (its key and host as install uses them); optionally written as an answers file."""
    from bp_integrate.commands.sides import side_key, side_url
    from bp_integrate.fs import atomic_write
    from bp_integrate.integrations.base import ApiClient

    side = spec.target_side
    if side is None:
        raise UsageError(
            f"{spec.title}'s side is not read by API here.", f"bp-integrate show {spec.name}"
        )
    values = load_values(spec, item, profile, with_secrets=True, strict=False)
    found = side_key(spec, side, profile)
    if found is None:
        raise UsageError(
            f"Reading {side.system} needs a {side.key_label}.", f"It is {side.key_help}"
        )
    with ApiClient(side, side_url(side, values, profile), found[0]) as api:
        held = side.held(api, values)
    if held is None:
        raise UsageError(
            f"{side.system} holds no {side.what} for this install.",
            f"Make it: {command_for(profile, f'install {spec.name}')}",
        )
    text = side.export(held)
    if export is not None:
        if text is None:
            raise UsageError(f"{spec.title} has no answers file to export.", "Leave out --export.")
        atomic_write(export, text, mode=0o644, private_dir=False)
        ui.say(f"Wrote {export}: {command_for(profile, f'install {spec.name} --answers {export}')}")
    if json_output:
        ui.emit_json({"integration": spec.name, "held": held})
    elif export is None:
        ui.data(text if text is not None else json.dumps(held, indent=2))


def print_field(
    doc: dict[str, Any],
    key: str,
    name: str,
    profile: str,
    show_secrets: bool,
    json_output: bool,
    unset: Mapping[str, SecretsError] | None = None,
) -> None:
    """One paste item (or setting) alone on stdout: the value and a newline, nothing else;
    one that holds a secret not set is that secret's error (as with --show-secrets)."""
    found = {item["key"]: item for item in doc["paste"]}
    aliases: dict[str, dict[str, Any]] = {}
    for i in doc["paste"]:  # `payload` is the first `*.payload` (Panopta's outage one)
        aliases.setdefault(i["key"].rpartition(".")[2], i)
    item = found.get(key) or found.get(key.lower()) or aliases.get(key)
    if item is None and key.lower().startswith("header:"):
        wanted = key.partition(":")[2].lower()
        item = next((i for i in doc["paste"] if i["key"].lower() == f"header:{wanted}"), None)
    if item is not None:
        value, secret = item["value"], item["secret"]
    elif key in doc["settings"]:
        value, secret = doc["settings"][key], False
    else:
        choices = [*found, *doc["settings"]]
        guess = nearest(key, choices)
        raise UsageError(
            f"{name} has no value {key!r} to show.",
            (f"Did you mean {guess!r}? " if guess else "") + f"Keys: {', '.join(choices)}.",
        )
    if value is None and unset:
        raise next(iter(unset.values()))
    if json_output:
        ui.emit_json({"key": key, "value": value})
    else:
        ui.data(value if isinstance(value, str) else json.dumps(value, indent=2))
    if (secret or value == MASK) and not show_secrets:
        ui.say(
            "(masked: add --show-secrets to print the value: "
            f"{command_for(profile, f'show {name} --field {key} --show-secrets')})"
        )


#: A secret the install lists that no store holds, where its value would be shown.
NOT_SET = "(not set)"


def render_paste(
    doc: dict[str, Any], line: Callable[..., None] | None = None, reminders: bool = True
) -> None:
    """The paste block: each label on its line, each value alone on the next, from column
    0 and never wrapped, so a triple-click copies exactly the value.

    On stdout by default (it is the command's data); the walkthrough passes its own
    `line` to show the same block on stderr while the admin pastes. `reminders=False`
    leaves out the AutoShare reminder (said once, at the first install).
    """
    out = line or ui.data
    out(f"{doc['title']} (profile {doc['profile']}): paste into {doc['paste_into']}", style="bold")
    group = ""
    for item in doc["paste"]:
        if item["group"] and item["group"] != group:
            group = item["group"]
            out("")
            out(f"{group}:", style="bold")
        out("")
        header = item["key"].partition("header:")[2]
        if header:
            out("Header name:")
            out(header)
            out("Header value:")
        else:
            out(f"{item['label']}:")
        value = item["value"]
        text = value if isinstance(value, str) else json.dumps(value, indent=2)
        for part in (NOT_SET if item.get("missing") else text).splitlines() or [""]:
            out(part)
    if line is not None:
        return
    out("")
    out("Settings:")
    for name, value in doc["settings"].items():
        if value != "":
            out(f"  {name}: {NOT_SET if value is None else value}")
    render_notes(doc, reminders)


def render_notes(doc: dict[str, Any], reminders: bool = True) -> None:
    """The integration's closing notes (the AutoShare reminder only if `reminders`)."""
    from bp_integrate.integrations.base import AUTOSHARE_REMINDER

    for note in doc.get("notes", []):
        if reminders or note != AUTOSHARE_REMINDER:
            ui.prose(f"Reminder: {note}", style="cyan")
    if doc.get("calibrated"):
        ui.prose(
            "Test sends use the body shape adopted from your BigPanda (bp-integrate calibrate; "
            "--reset goes back to the built-in one)."
        )
