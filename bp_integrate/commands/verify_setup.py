"""`bp-integrate verify-setup`: set up everything verify needs, in one sitting.

Parses options into a `SetupRequest`, runs `bp_integrate.verify_setup.VerifySetup`
(asking on a terminal, or failing with the flag to give under --no-input), saves what
it returns in one write, and renders it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bp_integrate import ui
from bp_integrate.commands.common import (
    InsecureStorageOpt,
    JsonOpt,
    NoInputOpt,
    SecretStoreOpt,
    YesMoveOpt,
    store_kind_of,
)
from bp_integrate.errors import UsageError, command_for

if TYPE_CHECKING:
    from bp_integrate.bigpanda.api import BigPandaClient
    from bp_integrate.readback import ReadTarget
    from bp_integrate.secrets import StoreKind
    from bp_integrate.store import VerifyMove
    from bp_integrate.verify_setup import SetupRequest, SetupResult


class TerminalAsker:
    """Asks on the terminal (talk on stderr; secrets hidden)."""

    def text(self, label: str, flag: str, default: str | None = None) -> str:
        return str(typer.prompt(label, default=default, err=True)).strip()

    def secret(self, label: str, flag: str) -> str:
        return str(typer.prompt(label, hide_input=True, err=True)).strip()

    def confirm(self, question: str, flag: str, default: bool = True) -> bool:
        return bool(typer.confirm(question, default=default, err=True))

    def say(self, text: str) -> None:
        ui.prose(text)


class NoInputAsker(TerminalAsker):
    """Never asks: a missing answer is an error naming the flag that gives it."""

    def text(self, label: str, flag: str, default: str | None = None) -> str:
        if default is not None:
            return default
        raise UsageError(f"verify-setup needs: {label}.", f"Give {flag} (no prompt here).")

    def secret(self, label: str, flag: str) -> str:
        raise UsageError(f"verify-setup needs: {label}.", f"Give {flag} (no prompt here).")

    def confirm(self, question: str, flag: str, default: bool = True) -> bool:
        raise UsageError(
            f"verify-setup would ask: {question}", f"Decide with {flag} (no prompt here)."
        )


def _names(pairs: list[str] | None) -> dict[str, str]:
    from bp_integrate.integrations import get as get_integration

    names: dict[str, str] = {}
    for pair in pairs or []:
        integration, sep, name = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(
                f"--bigpanda-name {pair!r} is not INTEGRATION=NAME.",
                "The integration's name in BigPanda, as its incident_shared activity "
                "names it (webhook.NAME).",
            )
        names[get_integration(integration.strip()).name] = name.strip()
    return names


def _secret_from(
    flag: bool, flag_name: str, field_name: str, profile: str, stored_kind: StoreKind
) -> tuple[str | None, str | None]:
    """A secret from stdin (when its flag is given), else the profile's environment
    variable or the store, with where it came from (None: the store, or not found)."""
    from bp_integrate.loading import read_stdin_line
    from bp_integrate.secrets import find_available

    if flag:
        line = read_stdin_line(flag_name, "Pipe it on one line of stdin.") or ""
        return (line.strip() or None), "stdin"
    found = find_available(stored_kind, profile, "bigpanda", field_name)
    if found is None:
        return None, None
    return found.value.strip(), found.variable


def verify_setup_command(
    ctx: typer.Context,
    region: Annotated[
        str | None,
        typer.Option("--region", metavar="REGION", help="us, eu, or the API's full URL."),
    ] = None,
    api_key_stdin: Annotated[
        bool, typer.Option("--api-key-stdin", help="Read the User API key from stdin (line 1).")
    ] = False,
    org_token_stdin: Annotated[
        bool,
        typer.Option(
            "--org-token-stdin",
            help="Read the org token from stdin (the next line, after the API key's).",
        ),
    ] = False,
    canary_app_key_stdin: Annotated[
        bool,
        typer.Option(
            "--canary-app-key-stdin",
            help="Read the App Key of the Alerts REST API integration from stdin (the line "
            "after the org token's).",
        ),
    ] = False,
    canary_app_key: Annotated[
        str | None,
        typer.Option(
            "--canary-app-key",
            metavar="KEY",
            help="The canary App Key on the command line (visible to other users: prefer "
            "the -stdin option).",
        ),
    ] = None,
    environment: Annotated[
        str | None,
        typer.Option(
            "--environment", metavar="ID", help="Use this canary-only environment (its id)."
        ),
    ] = None,
    create_environment: Annotated[
        str | None,
        typer.Option(
            "--create-environment",
            metavar="NAME",
            help="Create a canary-only environment of this name through BigPanda's API.",
        ),
    ] = None,
    bigpanda_name: Annotated[
        list[str] | None,
        typer.Option(
            "--bigpanda-name",
            metavar="I=NAME",
            help="I=NAME: integration I's name in BigPanda (when two share one kind: "
            "webhook.NAME).",
        ),
    ] = None,
    readback: Annotated[
        bool | None,
        typer.Option(
            "--readback/--no-readback",
            help="Set read-back credentials (--no-input: from each integration's "
            "BP_INTEGRATE_ variables).",
        ),
    ] = None,
    autoshare: Annotated[
        bool | None,
        typer.Option(
            "--autoshare/--no-autoshare",
            help="Against the local emulator: register the AutoShare rules (default: yes).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and show; create and store nothing.")
    ] = False,
    secret_store: SecretStoreOpt = None,
    insecure_storage: InsecureStorageOpt = False,
    no_input: NoInputOpt = False,
    json_output: JsonOpt = False,
    yes: YesMoveOpt = False,
) -> None:
    """Set up everything verify needs, in one sitting.

    Region, User API key (checked at once), a canary-only environment (found,
    or created through BigPanda's Environments API), org token, canary app key,
    and each installed integration's read-back credentials (checked). Nothing
    is saved until every answer is in. With --secret-store or --insecure-storage naming
    another store, the verify secrets the profile keeps move there too.

    Examples:

    bp-integrate verify-setup

    bp-integrate verify-setup --dry-run --create-environment canary

    printf '%s\\n%s\\n%s\\n' "$KEY" "$ORG" "$APP_KEY" | bp-integrate verify-setup \\
      --no-input --api-key-stdin --org-token-stdin --canary-app-key-stdin \\
      --create-environment canary --readback
    """
    from bp_integrate.commands.profile import confirm_env_move, usable_store
    from bp_integrate.secrets import as_store_kind
    from bp_integrate.store import plan_verify_move
    from bp_integrate.verify_setup import SetupRequest

    app = ctx.obj
    bigpanda = app.config.bigpanda(app.profile)
    interactive = not no_input and not json_output and ui.stdin_is_tty()
    current = as_store_kind(bigpanda.get("verify_store"))
    wanted = store_kind_of(secret_store, insecure_storage, current)
    kind = wanted if dry_run else usable_store(wanted)  # before any question
    move = None if dry_run else plan_verify_move(app.config, app.profile, kind)
    if move is not None and move.new == "env" and move.entries and not yes:
        confirm_env_move(move, ask=interactive)
    app_key = _canary_app_key(canary_app_key, canary_app_key_stdin, api_key_stdin, org_token_stdin)
    request = _request(
        app.profile,
        bigpanda,
        region,
        api_key_stdin,
        org_token_stdin,
        app_key,
        environment,
        create_environment,
        _names(bigpanda_name),
        readback,
        autoshare,
        dry_run,
    )
    assert isinstance(request, SetupRequest)
    result = _run(app, request, interactive)
    if not dry_run:  # the store was chosen by a flag, or at the prompt of a missing keyring
        _save(app, result, kind, secret_store is not None or insecure_storage or kind != wanted)
    _render(result, json_output)


def _canary_app_key(
    on_argv: str | None, from_stdin: bool, api_key_stdin: bool, org_token_stdin: bool
) -> tuple[str | None, str | None]:
    """(the canary App Key given, where from): --canary-app-key-stdin reads the line after
    the API key's and the org token's; --canary-app-key works but is visible to others."""
    if on_argv is not None and from_stdin:
        raise UsageError(
            "--canary-app-key and --canary-app-key-stdin both give the App Key.", "Choose one."
        )
    if on_argv is not None:
        ui.warn(
            "--canary-app-key puts the App Key on the command line, where other users of "
            "this machine and your shell history can see it; --canary-app-key-stdin does not."
        )
        return on_argv.strip() or None, "--canary-app-key"
    if not from_stdin:
        return None, None
    del api_key_stdin, org_token_stdin  # their lines are read first, in _request
    return None, "stdin"


def _read_app_key(app_key: tuple[str | None, str | None]) -> str | None:
    from bp_integrate.loading import read_stdin_line

    value, source = app_key
    if source != "stdin":
        return value
    hint = "Pipe the canary App Key on the line after the API key's and the org token's."
    return (read_stdin_line("--canary-app-key-stdin", hint) or "").strip() or None


def _request(
    profile: str,
    bigpanda: dict[str, object],
    region: str | None,
    api_key_stdin: bool,
    org_token_stdin: bool,
    canary_app_key: tuple[str | None, str | None],
    environment: str | None,
    create_environment: str | None,
    share_names: dict[str, str],
    readback: bool | None,
    autoshare: bool | None,
    dry_run: bool,
) -> SetupRequest:
    from bp_integrate import config
    from bp_integrate.commands.profile import region_url
    from bp_integrate.secrets import as_store_kind
    from bp_integrate.verify_setup import SetupRequest

    if environment and create_environment:
        raise UsageError(
            "--environment and --create-environment both choose the environment.", "Choose one."
        )
    api_url = region_url(region) if region else str(bigpanda.get("api_url") or config.REGIONS["us"])
    kind = as_store_kind(bigpanda.get("api_key_store"))
    verify_kind = as_store_kind(bigpanda.get("verify_store"))
    api_key, key_source = _secret_from(api_key_stdin, "--api-key-stdin", "api_key", profile, kind)
    org, org_source = _secret_from(
        org_token_stdin, "--org-token-stdin", "org_token", profile, verify_kind
    )
    app_key = _read_app_key(canary_app_key)
    if app_key is None:  # the store, else a config file from before it was a secret
        app_key = _secret_from(False, "", "canary_app_key", profile, verify_kind)[0]
        app_key = app_key or str(bigpanda.get("canary_app_key") or "") or None
    raw = bigpanda.get("share_names")
    known = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    return SetupRequest(
        profile,
        api_url,
        region is not None,
        api_key,
        key_source,
        org,
        org_source,
        app_key,
        environment,
        create_environment,
        {**known, **share_names},
        autoshare,
        readback,
        dry_run,
    )


def _run(app: object, request: SetupRequest, interactive: bool) -> SetupResult:
    from bp_integrate.readback import ReadTarget, load_creds
    from bp_integrate.verify_setup import VerifySetup

    loaded = app.load_targets(None)  # type: ignore[attr-defined]
    targets = [
        ReadTarget(
            t.integration,
            t.values,
            load_creds(t.integration, request.profile, app.config),  # type: ignore[attr-defined]
            request.profile,
        )
        for t in loaded.targets
        if t.integration.paste_target == "BigPanda"
    ]
    stored = {t.integration.name: dict(t.creds) for t in targets}

    def client_for(api_url: str, key: str) -> BigPandaClient:
        from bp_integrate.bigpanda.api import BigPandaClient

        return BigPandaClient(api_url, key, request.org_token or "")

    asker = TerminalAsker() if interactive else NoInputAsker()
    if not interactive:
        _readback_from_env(request, targets, stored)
    setup = VerifySetup(request, client_for, targets, asker, stored)
    try:
        return setup.run()
    finally:
        setup.close()


def _readback_from_env(
    request: SetupRequest, targets: list[ReadTarget], stored: dict[str, dict[str, str]]
) -> None:
    """Under --no-input, read-back credentials come from their environment variables."""
    import os

    from bp_integrate.readback import readback_env_var

    for target in targets:
        integration = target.integration
        have = stored.setdefault(integration.name, {})
        for f in integration.readback_fields:
            value = os.environ.get(readback_env_var(integration, f.name, request.profile))
            if value and not have.get(f.name):
                have[f.name] = value
    if request.readback is None:
        request.readback = False


def _save(app: object, result: SetupResult, kind: StoreKind, explicit: bool) -> None:
    """Secrets to the chosen store (`--secret-store`, recorded as `verify_store`; the
    User API key's store as `api_key_store`), settings to the profile: one write each,
    after every check, under the config lock once the profile is still there
    (`store.recheck`). When `kind` is not the profile's `verify_store`, every verify
    secret the profile keeps moves there too (`store.VerifyMove`: written first, then the
    settings switch, then the old entries go; `explicit`: the user chose `kind`). Under
    the env store nothing is kept: the variables to export are named."""
    from bp_integrate.fs import locked
    from bp_integrate.secrets import as_store_kind, delete_entries, entry_name, open_store
    from bp_integrate.store import plan_verify_move, recheck

    path = app.config.path  # type: ignore[attr-defined]
    with locked(path, f"the config file {path}"):
        cfg = recheck(app.config, result.profile)  # type: ignore[attr-defined]
        settings = dict(cfg.bigpanda(result.profile))
        # The entries the settings name now, each in its store: any other is new here.
        named = {
            (store_kind, entry_name(result.profile, integration, field_name))
            for store_kind, integration, field_name in cfg.secret_entries(result.profile)
        }
        key_store = as_store_kind(settings.get("api_key_store"))
        to_store = _to_store(result, settings, kind)
        # A User API key kept anew in another store than before: the old copy goes too.
        key = (key_store, _bigpanda_entry(result, "api_key"))
        moved_key = key_store != kind and key[1] in dict(to_store) and key in named
        old_key = [key] if moved_key else []
        given = {(i, f) for _, i, f in (entry.split("/", 2) for entry, _ in to_store)}
        move = plan_verify_move(cfg, result.profile, kind, given, set(result.readback))
        # Written where the settings name nothing yet: taken back if the save fails.
        written: list[tuple[StoreKind, str]] = []
        try:
            if move is not None:
                written += move.copy(explicit)
            store = open_store(kind)
            store.check()
            for entry, value in to_store:
                if kind != "env" and (kind, entry) not in named:
                    written.append((kind, entry))
                store.set(entry, value)
            _settings(result, settings, kind)
            if move is not None:
                move.apply(settings)
            cfg.set_bigpanda(result.profile, settings)
            cfg.save()
        except BaseException:
            delete_entries(written)
            raise
        left = (move.finish() if move is not None else []) + delete_entries(old_key)[1]
    _say_saved(result.profile, kind, to_store, move, left)


def _say_saved(
    profile: str,
    kind: StoreKind,
    to_store: list[tuple[str, str]],
    move: VerifyMove | None,
    left: list[str],
) -> None:
    """What the save moved, could not move or left behind; under the env store, the
    variables to export."""
    from bp_integrate.secrets import env_var

    if move is not None:
        for note in move.notes():
            ui.say(note)
        if move.unmoved:
            ui.warn(f"{move.unmoved_message()} {move.give_again()}")
    for item in left:
        ui.warn(f"left: {item}")
    if kind == "env":
        names = []
        for entry, _ in to_store:
            _, integration, field_name = entry.split("/", 2)
            names.append(env_var(integration, field_name, profile))
        ui.warn(
            "--secret-store env keeps nothing: export "
            + ", ".join(names)
            + " wherever bp-integrate runs."
        )


def _bigpanda_entry(result: SetupResult, field_name: str) -> str:
    from bp_integrate.secrets import entry_name

    return entry_name(result.profile, "bigpanda", field_name)


def _to_store(
    result: SetupResult, settings: dict[str, object], kind: StoreKind
) -> list[tuple[str, str]]:
    """(entry, value) of each secret the set-up keeps, its flag set in `settings`. A
    secret that came from its environment variable stays there (said when it was read);
    one typed or piped is kept in the store."""
    from bp_integrate.secrets import entry_name

    to_store: list[tuple[str, str]] = []
    if not (result.api_key_source or "").startswith("BP_INTEGRATE_"):
        to_store.append((_bigpanda_entry(result, "api_key"), result.api_key))
        settings["api_key_stored"] = kind != "env"
        settings["api_key_store"] = kind
    if not (result.org_token_source or "").startswith("BP_INTEGRATE_"):
        to_store.append((_bigpanda_entry(result, "org_token"), result.org_token))
        settings["org_token_stored"] = kind != "env"
    to_store.append((_bigpanda_entry(result, "canary_app_key"), result.canary_app_key))
    settings["canary_app_key_stored"] = kind != "env"
    for integration, creds in result.readback.items():
        for name, value in creds.items():
            to_store.append((entry_name(result.profile, integration, name), value))
    return to_store


def _settings(result: SetupResult, settings: dict[str, object], kind: StoreKind) -> None:
    """The set-up's settings, in the profile's `bigpanda` section (`settings`)."""
    from bp_integrate import config

    settings["verify_store"] = kind
    settings["api_url"] = result.api_url
    settings["region"] = next(
        (k for k, v in config.REGIONS.items() if v == result.api_url), "custom"
    )
    settings.pop("canary_app_key", None)  # a secret now: never in the YAML
    settings["environment_id"] = result.environment_id
    if result.share_names:
        settings["share_names"] = dict(result.share_names)
    for integration, creds in result.readback.items():
        config.record_readback(settings, integration, sorted(creds) if kind != "env" else [])


def _render(result: SetupResult, json_output: bool) -> None:
    if json_output:
        ui.emit_json(result.to_json())
        return
    for step in result.steps:
        ui.prose(f"- {step}")
    for step in result.manual_steps:
        ui.prose(f"Still to do in BigPanda: {step}")
    if result.dry_run:
        ui.say("Dry run: nothing was created or stored.")
        return
    if result.environment_created:
        ui.prose(
            f"To undo the environment later: BigPanda -> Settings -> Environments -> "
            f"{result.environment_name} -> delete (or DELETE "
            f"/resources/v2.0/environments/{result.environment_id} with the User API key)."
        )
    ui.success(
        f"verify is set up for profile {result.profile!r}: environment "
        f"{result.environment_name} ({result.environment_id}). Run: "
        f"{command_for(result.profile, 'verify')}"
    )
