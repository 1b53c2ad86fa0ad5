"""`bp-integrate show`: what to paste into BigPanda (and Panopta), secrets masked."""

from __future__ import annotations

import json
from typing import Any

import typer

from bp_integrate import config, ui
from bp_integrate.commands.common import IntegrationArg, JsonOpt, ShowSecretsOpt
from bp_integrate.integrations import get
from bp_integrate.store import load_values, require_installed
from bp_integrate.wizard import paste


def show_command(
    ctx: typer.Context,
    integration: IntegrationArg,
    json_output: JsonOpt = False,
    show_secrets: ShowSecretsOpt = False,
) -> None:
    """Show the settings to paste into BigPanda for an installed integration."""
    profile: str = ctx.obj
    spec = get(integration)
    cfg = config.load()
    item = require_installed(cfg, profile, spec.name)
    values = load_values(spec, item, profile, with_secrets=show_secrets)
    doc = paste(spec, values, profile, show_secrets)
    doc["secret_store"] = item.secret_store
    if json_output:
        ui.emit_json(doc)
        return
    render_paste(doc)


def render_paste(doc: dict[str, Any]) -> None:
    """The paste block, on stdout: exact values, one per line, nothing decorative inside."""
    title = doc["title"]
    target = "Panopta" if doc["integration"] == "panopta" else "BigPanda"
    ui.data(f"{title} (profile {doc['profile']}): paste into {target}", style="bold")
    label = "Outage webhook URL" if doc["integration"] == "panopta" else "Callback URL"
    if doc["integration"] == "pagerduty":
        label = "Events API URL"
        ui.data(f"  Integration key: {doc['settings'].get('integration_key', '')}")
    ui.data(f"  {label}: {doc['webhook']['url']}")
    headers = doc["webhook"]["headers"]
    if headers:
        ui.data("  Headers:")
        for name, value in headers.items():
            ui.data(f"    {name}: {value}")
    for key in ("panopta_outage_webhook", "panopta_clear_webhook"):
        if key in doc:
            hook = doc[key]
            ui.data(f"  {key.replace('_', ' ').replace('panopta ', 'Panopta ')}:", style="bold")
            ui.data(f"    Method: {hook['method']}   Payload type: {hook['payload_type']}")
            ui.data(f"    Postback URL: {hook['postback_url']}")
            ui.data("    Raw payload:")
            for line in json.dumps(hook["payload"], indent=2).splitlines():
                ui.data(f"      {line}")
    ui.data("  Settings:")
    for name, value in doc["settings"].items():
        if value != "":
            ui.data(f"    {name}: {value}")
    for note in doc.get("notes", []):
        ui.say(f"Reminder: {note}", style="cyan")
