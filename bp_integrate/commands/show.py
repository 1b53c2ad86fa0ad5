"""`bp-integrate show`: what to paste into BigPanda (and Panopta), secrets masked."""

from __future__ import annotations

import json
from collections.abc import Callable
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


def render_paste(doc: dict[str, Any], line: Callable[..., None] | None = None) -> None:
    """The paste block: exact values, one per line, nothing decorative inside.

    On stdout by default (it is the command's data); the walkthrough passes its own
    `line` to show the same block on stderr while the admin pastes.
    """
    out = line or ui.data
    title = doc["title"]
    target = "Panopta" if doc["integration"] == "panopta" else "BigPanda"
    out(f"{title} (profile {doc['profile']}): paste into {target}", style="bold")
    if doc["integration"] == "pagerduty":
        out(f"  Integration key: {doc['settings'].get('integration_key', '')}")
        out(f"  Events API URL: {doc['webhook']['url']}")
    elif doc["integration"] != "panopta":  # Panopta's URLs are in its webhooks below
        out(f"  Callback URL: {doc['webhook']['url']}")
    headers = doc["webhook"]["headers"]
    if headers:
        out("  Headers:")
        for name, value in headers.items():
            out(f"    {name}: {value}")
    for key, label in (
        ("panopta_outage_webhook", "Outage webhook"),
        ("panopta_clear_webhook", "Clear webhook (untick 'Same as Outage')"),
    ):
        if key in doc:
            hook = doc[key]
            out(f"  {label}:", style="bold")
            out(f"    Method: {hook['method']}   Payload type: {hook['payload_type']}")
            out(f"    Postback URL: {hook['postback_url']}")
            out("    Headers: none")
            out("    Raw payload:")
            for text in json.dumps(hook["payload"], indent=2).splitlines():
                out(f"      {text}")
    if line is not None:
        return
    out("  Settings:")
    for name, value in doc["settings"].items():
        if value != "":
            out(f"    {name}: {value}")
    for note in doc.get("notes", []):
        ui.say(f"Reminder: {note}", style="cyan")
