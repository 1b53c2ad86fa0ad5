"""`bp-integrate profile`: BigPanda region and User API key of a profile."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bp_integrate import config, ui
from bp_integrate.commands.common import JsonOpt
from bp_integrate.errors import UsageError
from bp_integrate.secrets import entry_name, open_store
from bp_integrate.urls import check_url

app = typer.Typer(help="BigPanda settings of a profile (region, API key).", no_args_is_help=True)

API_KEY_FIELD = "api_key"


def region_url(region: str) -> str:
    if region in config.REGIONS:
        return config.REGIONS[region]
    if region.startswith(("http://", "https://")):
        return check_url(region, "The BigPanda API URL").rstrip("/")
    raise UsageError(
        f"{region!r} is not a BigPanda region.",
        "Use us, eu, or the API's full URL (https://...).",
    )


@app.command("set")
def set_command(
    ctx: typer.Context,
    region: Annotated[
        str | None, typer.Option("--region", help="us, eu, or a custom API URL.")
    ] = None,
    api_key_stdin: Annotated[
        bool,
        typer.Option("--api-key-stdin", help="Read a BigPanda User API key from stdin."),
    ] = False,
    prompt_api_key: Annotated[
        bool, typer.Option("--api-key", help="Ask for the User API key (hidden prompt).")
    ] = False,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Store the key without checking it.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Set the profile's BigPanda region and, optionally, its User API key."""
    profile: str = ctx.obj
    cfg = config.load()
    settings = dict(cfg.bigpanda(profile))
    if region is not None:
        settings["region"] = region if region in config.REGIONS else "custom"
        settings["api_url"] = region_url(region)
    settings.setdefault("region", "us")
    settings.setdefault("api_url", config.REGIONS["us"])
    key: str | None = None
    if api_key_stdin:
        key = sys.stdin.readline().strip()
    elif prompt_api_key:
        key = typer.prompt("BigPanda User API key", hide_input=True, err=True).strip()
    if key is not None and not key:
        raise UsageError("The API key is empty.", "Pipe the key on one line of stdin.")
    if key:
        if not no_verify:
            from bp_integrate.bigpanda import check_key

            count = check_key(settings["api_url"], key)
            ui.say(f"The key works: it sees {count} environment(s).")
        open_store("keyring").set(entry_name(profile, "bigpanda", API_KEY_FIELD), key)
        settings["api_key_stored"] = True
    cfg.set_bigpanda(profile, settings)
    cfg.save()
    if json_output:
        ui.emit_json({"profile": profile, "bigpanda": settings})
    else:
        ui.success(f"Profile {profile!r}: BigPanda API {settings['api_url']}")


@app.command("show")
def show_command(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Show the profile's BigPanda settings and installed integrations."""
    profile: str = ctx.obj
    cfg = config.load()
    settings = dict(cfg.bigpanda(profile))
    settings.setdefault("region", "us")
    settings.setdefault("api_url", config.REGIONS["us"])
    doc = {
        "profile": profile,
        "config_file": str(cfg.path),
        "bigpanda": settings,
        "integrations": sorted(cfg.installed(profile)),
        "profiles": cfg.profile_names(),
    }
    if json_output:
        ui.emit_json(doc)
        return
    ui.data(f"profile: {profile}   (config: {cfg.path})")
    ui.data(f"BigPanda API: {settings['api_url']} (region {settings['region']})")
    ui.data(f"User API key stored: {'yes' if settings.get('api_key_stored') else 'no'}")
    ui.data(f"integrations: {', '.join(doc['integrations']) or '-'}")
