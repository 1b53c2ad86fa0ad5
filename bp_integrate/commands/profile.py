"""`bp-integrate profile`: BigPanda region and User API key of a profile."""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated

import typer

from bp_integrate import config, ui
from bp_integrate.commands.common import (
    InsecureStorageOpt,
    JsonOpt,
    SecretStoreOpt,
    store_kind_of,
)
from bp_integrate.errors import SecretsError, UsageError
from bp_integrate.integrations.common import check_token
from bp_integrate.secrets import STORE_KINDS, entry_name, env_var, open_store
from bp_integrate.store import store_label
from bp_integrate.urls import check_url

app = typer.Typer(
    help="BigPanda settings of a profile (region, API key).",
    no_args_is_help=True,
    add_completion=False,
)

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
    secret_store: SecretStoreOpt = None,
    insecure_storage: InsecureStorageOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Set the profile's BigPanda region and, optionally, its User API key."""
    profile = ctx.obj.profile
    cfg = config.load()
    settings = dict(cfg.bigpanda(profile))
    if region is not None:
        settings["region"] = region if region in config.REGIONS else "custom"
        new_url = region_url(region)
        moved = settings.get("api_key_stored") and settings.get("api_url") != new_url
        if moved and not (api_key_stdin or prompt_api_key):
            ui.warn(
                "The stored API key was checked against the previous host; check it "
                "against this one: bp-integrate profile set --api-key-stdin"
            )
        settings["api_url"] = new_url
    settings.setdefault("region", "us")
    settings.setdefault("api_url", config.REGIONS["us"])
    if api_key_stdin and prompt_api_key:
        raise UsageError("--api-key-stdin and --api-key both ask for the key.", "Choose one.")
    key: str | None = None
    old_kind = settings.get("api_key_store")
    store_kind = store_kind_of(
        secret_store, insecure_storage, old_kind if old_kind in STORE_KINDS else None
    )
    if prompt_api_key and not ui.stdin_is_tty():
        raise UsageError(
            "--api-key asks on the terminal, but stdin is not a terminal.",
            "Pipe the key in with --api-key-stdin instead (never put it on the command line).",
        )
    if api_key_stdin or prompt_api_key:
        store = open_store(store_kind)
        store.check()  # before the key is typed or checked: no point if it cannot be kept
        if api_key_stdin:
            from bp_integrate.loading import read_stdin_line

            hint = "Pipe the key on one line of stdin, e.g. printf '%s\\n' \"$KEY\" | ..."
            key = (read_stdin_line("--api-key-stdin", hint) or "").strip()
        else:
            key = str(typer.prompt("BigPanda User API key", hide_input=True, err=True)).strip()
        if not key:
            raise UsageError("The API key is empty.", "Pipe the key on one line of stdin.")
        check_token(key)
        if not no_verify:
            from bp_integrate.bigpanda.api import check_key

            count = check_key(settings["api_url"], key)
            ui.say(f"The key works: it sees {count} environment(s).")
        entry = entry_name(profile, "bigpanda", API_KEY_FIELD)
        old_kind = old_kind or "keyring"
        store.set(entry, key)
        if settings.get("api_key_stored") and old_kind != store_kind and old_kind in STORE_KINDS:
            with suppress(SecretsError):  # the key moved: do not leave a copy behind
                open_store(old_kind).delete(entry)
        settings["api_key_stored"] = store_kind != "env"
        settings["api_key_store"] = store_kind
        if store_kind == "env":
            ui.warn(
                f"--secret-store env: the key was checked but not stored; set "
                f"{env_var('bigpanda', API_KEY_FIELD)} wherever bp-integrate runs."
            )
        elif store_kind == "file":
            ui.warn(f"--insecure-storage: the key is in plain text in {store_label(store)}.")
    elif secret_store is not None or insecure_storage:
        raise UsageError(
            "--secret-store and --insecure-storage choose where the API key goes.",
            "Give the key too: --api-key-stdin (piped) or --api-key (hidden prompt).",
        )
    cfg.set_bigpanda(profile, settings)
    cfg.save()
    if json_output:
        ui.emit_json({"profile": profile, "bigpanda": settings})
    else:
        ui.success(f"Profile {profile!r}: BigPanda API {settings['api_url']}")


@app.command("show")
def show_command(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Show the profile's BigPanda settings and installed integrations."""
    profile = ctx.obj.profile
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
    where = settings.get("api_key_store", "keyring")
    stored = f"yes ({where})" if settings.get("api_key_stored") else "no"
    if where == "env":
        stored = f"no: read from {env_var('bigpanda', API_KEY_FIELD)}"
    ui.data(f"User API key stored: {stored}")
    ui.data(f"integrations: {', '.join(doc['integrations']) or '-'}")
