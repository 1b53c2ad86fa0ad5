"""`bp-integrate profile`: a profile's BigPanda region and User API key, and the
profiles themselves (list, delete, rename, copy; secrets follow or are left out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from bp_integrate import config, ui
from bp_integrate.commands.common import (
    InsecureStorageOpt,
    JsonOpt,
    SecretStoreOpt,
    YesMoveOpt,
    store_kind_of,
)
from bp_integrate.errors import (
    ConfigError,
    ExitCode,
    SecretsError,
    UsageError,
    command_for,
    nearest,
)
from bp_integrate.fs import locked
from bp_integrate.integrations.common import check_token
from bp_integrate.secrets import STORE_KINDS, StoreKind, entry_name, env_var, find, open_store
from bp_integrate.store import VerifyMove, store_label
from bp_integrate.urls import check_url

app = typer.Typer(
    help="BigPanda settings of a profile (region, API key).\n\n"
    "Examples:\n\n"
    "bp-integrate profile show\n\n"
    "bp-integrate -p prod profile set --region eu --api-key\n\n"
    "bp-integrate profile list",
    no_args_is_help=True,
    add_completion=False,
)

API_KEY_FIELD = "api_key"


def region_url(region: str) -> str:
    if region in config.REGIONS:
        return config.REGIONS[region]
    if region.startswith(("http://", "https://")):
        return check_url(region, "The BigPanda API URL").rstrip("/")
    guess = nearest(region, list(config.REGIONS))
    raise UsageError(
        f"{region!r} is not a BigPanda region.",
        (f"Did you mean {guess!r}? " if guess else "")
        + "Use us, eu, or the API's full URL (https://...).",
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
    org_token_stdin: Annotated[
        bool,
        typer.Option(
            "--org-token-stdin",
            help="verify: read the BigPanda org token (Alerts API) from stdin.",
        ),
    ] = False,
    canary_app_key_stdin: Annotated[
        bool,
        typer.Option(
            "--canary-app-key-stdin",
            help="verify: read the App Key of the Alerts REST API integration canaries go "
            "through from stdin (after the org token's line), or ask on a terminal. Kept "
            "in the secret store.",
        ),
    ] = False,
    canary_app_key: Annotated[
        str | None,
        typer.Option(
            "--canary-app-key",
            help="verify: the canary App Key on the command line (visible to other users "
            "of this machine: prefer --canary-app-key-stdin). Kept in the secret store.",
        ),
    ] = None,
    environment: Annotated[
        str | None,
        typer.Option("--environment", help="verify: the BigPanda environment id to search."),
    ] = None,
    readback: Annotated[
        str | None,
        typer.Option(
            "--readback",
            help="verify: store INTEGRATION's read-back credentials (one per stdin line, "
            "or asked on a terminal).",
        ),
    ] = None,
    yes: YesMoveOpt = False,
) -> None:
    """Set the profile's BigPanda region and, optionally, its User API key.

    verify's secrets (org token, canary App Key, read-back credentials) share one
    store: when --secret-store or --insecure-storage puts the ones given in another,
    every one the profile keeps moves there too.

    Examples:

    bp-integrate -p prod profile set --region eu --api-key

    printf '%s\\n' "$BP_KEY" | bp-integrate profile set --api-key-stdin
    """
    request = SetRequest(
        profile=ctx.obj.profile,
        region=region,
        api_key_stdin=api_key_stdin,
        prompt_api_key=prompt_api_key,
        no_verify=no_verify,
        secret_store=secret_store,
        insecure_storage=insecure_storage,
        given=VerifySecrets(org_token_stdin, canary_app_key_stdin, canary_app_key, readback),
        environment=environment,
        yes=yes,
    )
    settings, notes = run_set(request)
    for note in notes:
        ui.say(note)
    if json_output:
        ui.emit_json({"profile": request.profile, "bigpanda": settings})
    else:
        ui.success(f"Profile {request.profile!r}: BigPanda API {settings['api_url']}")


@dataclass(frozen=True)
class SetRequest:
    """What `profile set` was asked, as parsed from its options."""

    profile: str
    region: str | None
    api_key_stdin: bool
    prompt_api_key: bool
    no_verify: bool
    secret_store: str | None
    insecure_storage: bool
    given: VerifySecrets
    environment: str | None
    #: Agreed beforehand to a move of verify's stored secrets to the env store.
    yes: bool = False

    @property
    def key_given(self) -> bool:
        return self.api_key_stdin or self.prompt_api_key


def run_set(request: SetRequest) -> tuple[dict[str, Any], list[str]]:
    """Ask, then write; returns the profile's BigPanda settings as saved, and what to say.

    Everything is asked (prompts, stdin) and checked (the key against BigPanda) before
    the config lock is taken, so a person at a prompt never holds up another command.
    Then, under the lock, what was read must still hold (`store.recheck`: a command that
    changed the profile meanwhile makes this one refuse, exit 3) before any secret or
    setting is written: a refused command keeps nothing.

    When the verify secrets given go to another store than the profile's `verify_store`,
    every one it keeps there moves too (`store.VerifyMove`), in the same command."""
    from bp_integrate.store import recheck

    path = config.config_path()
    cfg = config.load(path)
    asked = _ask_set(request, cfg)
    move = _plan_move(cfg, request.profile, asked.verify, request.yes)
    with locked(path, f"the config file {path}"):
        recheck(cfg, request.profile, bigpanda=True)  # so `move`, planned from `cfg`, holds
        notes, left = _write_set(request, cfg, asked, move)
    if move is not None:
        notes += move.notes()
        if move.unmoved:
            ui.warn(f"{move.unmoved_message()} {move.give_again()}")
    for item in left:
        ui.warn(f"left: {item}")
    return asked.settings, notes


@dataclass
class _SetAnswers:
    """What `profile set` asked and checked, before anything is written."""

    settings: dict[str, Any]
    verify: VerifyAnswers | None
    key: tuple[str, StoreKind] | None
    #: The store the verify secrets given go to, by the flags or the profile's own.
    wanted: StoreKind


def _ask_set(request: SetRequest, cfg: config.Config) -> _SetAnswers:
    """Every question asked and every answer checked (the key against BigPanda); nothing
    written, no lock held."""
    new_url = region_url(request.region) if request.region is not None else None
    if request.api_key_stdin and request.prompt_api_key:
        raise UsageError("--api-key-stdin and --api-key both ask for the key.", "Choose one.")
    if request.prompt_api_key and not ui.stdin_is_tty():
        raise UsageError(
            "--api-key asks on the terminal, but stdin is not a terminal.",
            "Pipe the key in with --api-key-stdin instead (never put it on the command line).",
        )
    settings = dict(cfg.bigpanda(request.profile))
    chosen, insecure = request.secret_store, request.insecure_storage
    wanted = store_kind_of(chosen, insecure, cfg.verify_store(request.profile))
    verify = _ask_verify(request.given, wanted)
    if request.region is not None and new_url is not None:
        _set_region(settings, request.region, new_url, request.key_given)
    settings.setdefault("region", "us")
    settings.setdefault("api_url", config.REGIONS["us"])
    key: tuple[str, StoreKind] | None = None
    if request.key_given:
        store_kind = store_kind_of(chosen, insecure, _kind(settings.get("api_key_store")))
        key = _ask_api_key(settings, request.api_key_stdin, request.no_verify, store_kind)
    elif (chosen is not None or insecure) and verify is None:
        raise UsageError(
            "--secret-store and --insecure-storage choose where the secrets given go, "
            "and none was given.",
            "Give the key too: --api-key-stdin (piped) or --api-key (hidden prompt); or "
            "a verify secret: --org-token-stdin, --canary-app-key-stdin or --readback "
            "INTEGRATION.",
        )
    return _SetAnswers(settings, verify, key, wanted)


def _write_set(
    request: SetRequest, cfg: config.Config, asked: _SetAnswers, move: VerifyMove | None
) -> tuple[list[str], list[str]]:
    """Under the config lock: the secrets, then the settings, then the old copies gone;
    what to say, and what could not be removed. A failure takes back what was written."""
    from bp_integrate.secrets import delete_entries

    profile, settings, verify = request.profile, asked.settings, asked.verify
    # What is written to the new store before the switch: taken back if it fails.
    written: list[tuple[StoreKind, str]] = []
    old_key: tuple[StoreKind, str] | None = None
    try:
        if move is not None and verify is not None:
            # The store was chosen by a flag, or at the prompt of a missing keyring.
            chosen_here = (
                request.secret_store is not None
                or request.insecure_storage
                or verify.store_kind != asked.wanted
            )
            written += move.copy(explicit=chosen_here)
        notes = _write_verify(
            profile, settings, verify, request.environment, written if move else None
        )
        if asked.key is not None:
            old_key = _write_api_key(profile, settings, *asked.key, written)
        if move is not None:
            move.apply(settings)
        cfg.set_bigpanda(profile, settings)
        cfg.save()
    except BaseException:
        delete_entries(written)
        raise
    if old_key is not None:  # the key moved: its old copy goes once nothing names it
        delete_entries([old_key])
    return notes, move.finish() if move is not None else []


def _plan_move(
    cfg: config.Config, profile: str, verify: VerifyAnswers | None, yes: bool
) -> VerifyMove | None:
    """The move of verify's stored secrets when the ones given go to another store (None:
    no move); one to the env store, which deletes them, only once the user agrees."""
    from bp_integrate.store import plan_verify_move

    if verify is None:
        return None
    given = {("bigpanda", name) for name in verify.secrets}
    readback = {verify.readback[0]} if verify.readback else set()
    move = plan_verify_move(cfg, profile, verify.store_kind, given, readback)
    if move is not None and move.new == "env" and move.entries and not yes:
        confirm_env_move(move, ask=ui.stdin_is_tty())
    return move


def confirm_env_move(move: VerifyMove, ask: bool) -> None:
    """Ask before verify's stored secrets are given up for the env store (default No);
    when it may not `ask` (no terminal, --no-input), refuse naming --yes."""
    them = "it" if len(move.entries) == 1 else "them"
    if not ask:
        raise UsageError(
            move.to_env(),
            f"Export {them}, then run the command again with --yes; or keep {them} stored: "
            "leave out --secret-store env.",
        )
    ui.warn(move.to_env())
    question = f"Delete {them} and read {them} from the environment?"
    if not typer.confirm(question, default=False, err=True):
        ui.say("Nothing was changed.")
        raise typer.Exit(int(ExitCode.ERROR))


def _set_region(settings: dict[str, Any], region: str, url: str, key_given: bool) -> None:
    """The region and its API URL; a key stored against another host is said to need a
    new check (unless one is given now)."""
    settings["region"] = region if region in config.REGIONS else "custom"
    moved = settings.get("api_key_stored") and settings.get("api_url") != url
    if moved and not key_given:
        ui.warn(
            "The stored API key was checked against the previous host; check it "
            "against this one: bp-integrate profile set --api-key-stdin"
        )
    settings["api_url"] = url


def _ask_api_key(
    settings: dict[str, Any], from_stdin: bool, no_verify: bool, store_kind: StoreKind
) -> tuple[str, StoreKind]:
    """The User API key (stdin or a hidden prompt), checked against the profile's host
    unless `no_verify`, and the store it is to go to (`usable_store`, settled before the
    key is typed or checked). Nothing is written."""
    store_kind = usable_store(store_kind)
    if from_stdin:
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
    return key, store_kind


def _write_api_key(
    profile: str,
    settings: dict[str, Any],
    key: str,
    store_kind: StoreKind,
    written: list[tuple[StoreKind, str]],
) -> tuple[StoreKind, str] | None:
    """Store the key where `store_kind` says; `settings` says where it is. When it moves
    to another store: the copy written there is added to `written` (taken back if the
    settings are not saved), and the old copy is returned, for the caller to delete once
    the saved settings no longer name it (a kill in between leaves a key either way)."""
    old_kind = _kind(settings.get("api_key_store") or "keyring")
    store = open_store(store_kind)
    entry = entry_name(profile, "bigpanda", API_KEY_FIELD)
    store.set(entry, key)
    moved = bool(settings.get("api_key_stored")) and old_kind not in (None, store_kind)
    if old_kind != store_kind and store_kind != "env":
        written.append((store_kind, entry))
    settings["api_key_stored"] = store_kind != "env"
    settings["api_key_store"] = store_kind
    if store_kind == "env":
        ui.warn(
            f"--secret-store env: the key was checked but not stored; set "
            f"{env_var('bigpanda', API_KEY_FIELD, profile)} wherever bp-integrate runs."
        )
    elif store_kind == "file":
        ui.warn(f"--insecure-storage: the key is in plain text in {store_label(store)}.")
    return (old_kind, entry) if moved and old_kind is not None else None


def _kind(value: object) -> StoreKind | None:
    return next((k for k in STORE_KINDS if k == value), None)


def usable_store(kind: StoreKind) -> StoreKind:
    """`kind`, once its store answers. With no working keyring on a terminal, offer the
    env store or the plain-text file instead of stopping (a script gets the error, which
    names the flags)."""
    try:
        open_store(kind).check()
        return kind
    except SecretsError as error:
        if kind != "keyring" or not ui.stdin_is_tty():
            raise
        ui.warn(f"{error.message} Where should the secrets go instead?")
    ui.say("  env   nothing is stored: export each secret's variable where bp-integrate runs")
    ui.say("  file  a plain-text 0600 file in the settings folder (anyone who can read it can")
    ui.say("        use them)")
    ui.say("  stop  store nothing now (unlock or install a keyring, then run this again)")
    choice = ""
    while choice not in ("env", "file", "stop"):
        choice = str(typer.prompt("Store (env, file or stop)", default="stop", err=True))
        choice = choice.strip().lower()
    if choice == "env":
        return "env"
    if choice == "file":
        open_store("file").check()
        return "file"
    raise SecretsError(
        "Nothing was stored: no working keyring.",
        "Unlock or install a keyring, or run again with --secret-store env or --insecure-storage.",
    )


@dataclass
class VerifySecrets:
    """What `profile set` was given for verify that is a secret (or reads one)."""

    org_token_stdin: bool
    canary_app_key_stdin: bool
    canary_app_key: str | None
    readback: str | None


@dataclass(frozen=True)
class VerifyAnswers:
    """The verify secrets `profile set` was given, read before anything is written, and
    the store they are to go to."""

    secrets: dict[str, str]
    #: --readback INTEGRATION: its name and its credentials' answers.
    readback: tuple[str, dict[str, str]] | None
    store_kind: StoreKind


def _verify_secrets(given: VerifySecrets) -> dict[str, str]:
    """The org token and canary App Key given (stdin, or the App Key on argv), checked:
    stdin is read by one of the options only."""
    from bp_integrate.loading import read_stdin_line

    if given.canary_app_key is not None and given.canary_app_key_stdin:
        raise UsageError(
            "--canary-app-key and --canary-app-key-stdin both give the App Key.", "Choose one."
        )
    if given.readback and (given.org_token_stdin or given.canary_app_key_stdin):
        raise UsageError(
            "--readback reads stdin, and so do --org-token-stdin and --canary-app-key-stdin.",
            "Run them one by one.",
        )
    secrets: dict[str, str] = {}
    if given.org_token_stdin:
        hint = "Pipe the org token on one line of stdin (Integrations -> any REST integration)."
        token = (read_stdin_line("--org-token-stdin", hint) or "").strip()
        if not token:
            raise UsageError("The org token is empty.", hint)
        check_token(token)
        secrets["org_token"] = token
    app_key = _canary_app_key(given)
    if app_key is not None:
        secrets["canary_app_key"] = app_key
    return secrets


def _ask_verify(given: VerifySecrets, store_kind: StoreKind) -> VerifyAnswers | None:
    """The verify secrets given (org token, canary App Key, read-back credentials), read
    from stdin or asked, and the store they are to go to (`usable_store`); None when
    none was given. Nothing is written."""
    secrets = _verify_secrets(given)
    readback = (given.readback, _readback_answers(given.readback)) if given.readback else None
    if not secrets and readback is None:
        return None
    return VerifyAnswers(secrets, readback, usable_store(store_kind))


def _write_verify(
    profile: str,
    settings: dict[str, object],
    answers: VerifyAnswers | None,
    environment: str | None,
    written: list[tuple[StoreKind, str]] | None = None,
) -> list[str]:
    """The settings only `verify` uses (asked only when the admin opts in to verify).

    Secrets (org token, canary App Key, read-back credentials) go to the secret store
    `answers.store_kind` (recorded as `verify_store`), the rest to the profile's
    `bigpanda` section; each entry written is added to `written` when given (a store the
    settings do not name yet: the caller deletes them if it fails). Returns what was
    set, to say so.
    """
    notes: list[str] = []
    if environment is not None:
        settings["environment_id"] = environment.strip()
        notes.append(f"verify searches environment {environment.strip()}.")
    if answers is None:
        return notes
    secrets, store_kind = answers.secrets, answers.store_kind
    from bp_integrate.secrets import where_kept

    where = where_kept(store_kind)
    _store_verify_secrets(profile, settings, secrets, store_kind, written)
    if "org_token" in secrets:
        notes.append(f"Org token stored {where}.")
    if "canary_app_key" in secrets:
        notes.append(f"Canary app key stored {where}.")
    names = [env_var("bigpanda", name, profile) for name in secrets]
    if answers.readback is not None:
        from bp_integrate.integrations import get as get_integration
        from bp_integrate.readback import store_creds

        integration = get_integration(answers.readback[0])
        try:
            stored = store_creds(integration, profile, answers.readback[1], store_kind)
        finally:
            if written is not None:  # up to the one that failed, if one did
                written += [
                    (store_kind, entry_name(profile, integration.name, f.name))
                    for f in integration.readback_fields
                    if store_kind != "env"
                ]
        config.record_readback(settings, integration.name, stored)
        notes.append(f"{integration.title} read-back credentials stored {where}.")
        names += [env_var(integration.name, f.name, profile) for f in integration.readback_fields]
    settings["verify_store"] = store_kind
    if store_kind == "env":
        notes.append(
            "--secret-store env keeps nothing: export "
            + ", ".join(names)
            + " wherever bp-integrate runs."
        )
    return notes


def _canary_app_key(given: VerifySecrets) -> str | None:
    """The canary App Key: from --canary-app-key-stdin (a hidden prompt on a terminal),
    or from --canary-app-key with a warning that the command line is visible."""
    from bp_integrate.loading import read_stdin_line

    if given.canary_app_key is not None:
        ui.warn(
            "--canary-app-key puts the App Key on the command line, where other users of "
            "this machine and your shell history can see it; --canary-app-key-stdin does not. "
            "It is kept in the secret store all the same."
        )
        key = given.canary_app_key.strip()
    elif given.canary_app_key_stdin:
        hint = "Pipe the canary App Key on one line of stdin (after the org token's, if any)."
        if ui.stdin_is_tty():
            key = str(typer.prompt("Canary App Key", hide_input=True, err=True)).strip()
        else:
            key = (read_stdin_line("--canary-app-key-stdin", hint) or "").strip()
        if not key:
            raise UsageError("The canary App Key is empty.", hint)
    else:
        return None
    check_token(key)
    return key


def _readback_answers(name: str) -> dict[str, str]:
    from bp_integrate.integrations import get as get_integration
    from bp_integrate.loading import read_stdin_line

    integration = get_integration(name)
    if not integration.readback_fields:
        raise UsageError(
            f"{integration.title} has no read-back: verify cannot read it back.",
            "Read-back exists for the targets whose API can find a shared incident.",
        )
    answers: dict[str, str] = {}
    for f in integration.readback_fields:
        if ui.stdin_is_tty():
            answers[f.name] = str(
                typer.prompt(f.label, default=f.default, hide_input=f.secret, err=True)
            )
        else:
            answers[f.name] = read_stdin_line(f"--readback {integration.name}", f.help) or ""
    return answers


def _store_verify_secrets(
    profile: str,
    settings: dict[str, object],
    secrets: dict[str, str],
    kind: StoreKind,
    written: list[tuple[StoreKind, str]] | None,
) -> None:
    """Keep verify's BigPanda secrets in `kind` and say so in `settings` (the org
    token's flag is what `Config.secret_entries` lists for removal with the profile).
    A copy in the old store, when `kind` is another, is deleted once the settings name
    `kind` (`store.VerifyMove.finish`)."""
    store = open_store(kind)
    for name, value in secrets.items():
        entry = entry_name(profile, "bigpanda", name)
        if written is not None and kind != "env":
            written.append((kind, entry))
        store.set(entry, value)
        settings[f"{name}_stored"] = kind != "env"
    # A config file written before the App Key was a secret kept it in the YAML.
    if "canary_app_key" in secrets:
        settings.pop("canary_app_key", None)


@app.command("show")
def show_command(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Show the profile's BigPanda settings and installed integrations.

    Examples:

    bp-integrate profile show

    bp-integrate -p prod profile show --json
    """
    profile = ctx.obj.profile
    cfg = config.load()
    settings = dict(cfg.bigpanda(profile))
    settings.setdefault("region", "us")
    settings.setdefault("api_url", config.REGIONS["us"])
    missing = _api_key_missing(profile, settings)
    readback, lost = _readback_kept(cfg, profile)
    doc = {
        "profile": profile,
        "config_file": str(cfg.path),
        "bigpanda": settings,
        "integrations": sorted(cfg.installed(profile)),
        "profiles": cfg.profile_names(),
        # As `show INTEGRATION --json` says a secret the store lost.
        "missing_secrets": [
            {"field": API_KEY_FIELD, "message": e.message, "hint": e.hint} for e in missing
        ]
        + [{"field": name, "message": e.message, "hint": e.hint} for name, e in lost],
    }
    if json_output:
        ui.emit_json(doc)
        return
    ui.data(f"profile: {profile}   (config: {cfg.path})")
    ui.data(f"BigPanda API: {settings['api_url']} (region {settings['region']})")
    where = settings.get("api_key_store", "keyring")
    stored = f"yes ({where})" if settings.get("api_key_stored") else "no"
    if where == "env":
        stored = f"no: read from {env_var('bigpanda', API_KEY_FIELD, profile)}"
    ui.data(f"User API key stored: {'(not set)' if missing else stored}")
    ui.data(f"integrations: {', '.join(doc['integrations']) or '-'}")
    if readback:
        ui.data(f"read-back credentials: {', '.join(readback)}")
    for error in [*missing, *(e for _, e in lost)]:
        ui.warn(f"{error.message}\n  {error.hint}")


def _readback_kept(
    cfg: config.Config, profile: str
) -> tuple[list[str], list[tuple[str, SecretsError]]]:
    """What `profile show` says of verify's read-back credentials: each integration that
    has some, with where they are (`pagerduty (file)`), and each one recorded as stored
    that neither its variable nor verify's store has (as `integration.field`). A store
    that cannot say (no keyring) is not said to have lost them."""
    from bp_integrate.integrations import get as get_integration
    from bp_integrate.readback import kept_creds, missing_hint, readback_env_var, store_hint

    kind = cfg.verify_store(profile)
    names = set(cfg.installed(profile)) | {name for name, _ in cfg.readback_stored(profile)}
    shown: list[str] = []
    lost: list[tuple[str, SecretsError]] = []
    for name in sorted(names):
        try:
            spec = get_integration(name)
            kept = kept_creds(spec, profile, cfg)
        except (SecretsError, UsageError):
            continue
        gone = [field for field, found in kept.items() if found is None]
        present = {field: found.value for field, found in kept.items() if found}
        sources = {"environment" if found.variable else kind for found in kept.values() if found}
        where = ", ".join(sorted(sources))
        if gone:
            where = "not set"
        elif missing_hint(spec, present, profile):
            where = f"incomplete: {where}"
        if kept:
            shown.append(f"{spec.name} ({where})")
        for field in gone:
            lost.append(
                (
                    f"{spec.name}.{field}",
                    SecretsError(
                        f"The {spec.title} read-back credential {field} of profile "
                        f"{profile!r} is not in the {kind} store.",
                        f"Store it again: {store_hint(spec, profile)}; or set "
                        f"{readback_env_var(spec, field, profile)}.",
                    ),
                )
            )
    return shown, lost


def _api_key_missing(profile: str, settings: dict[str, Any]) -> list[SecretsError]:
    """What is said of a User API key the settings record as stored that neither its
    variable nor its store has; none when it is there, none is recorded, or the store
    cannot say (no keyring)."""
    kind = _kind(settings.get("api_key_store")) or "keyring"
    if not settings.get("api_key_stored") or kind == "env":
        return []
    try:
        if find(open_store(kind), profile, "bigpanda", API_KEY_FIELD) is not None:
            return []
    except SecretsError:
        return []
    error = SecretsError(
        f"The BigPanda User API key of profile {profile!r} is not in the {kind} store.",
        f"Store it again: {command_for(profile, 'profile set --api-key')} (hidden prompt) or "
        f"--api-key-stdin (piped); or set {env_var('bigpanda', API_KEY_FIELD, profile)}.",
    )
    return [error]


def _region_of(settings: dict[str, object]) -> tuple[str, str]:
    return str(settings.get("region") or "us"), str(settings.get("api_url") or config.REGIONS["us"])


@app.command("list")
def list_command(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """List the profiles: region, API host and installed integrations of each.

    Examples:

    bp-integrate profile list

    bp-integrate profile list --json
    """
    cfg = config.load()
    rows = []
    for name in cfg.profile_names():
        region, api_url = _region_of(cfg.bigpanda(name))
        rows.append(
            {
                "name": name,
                "region": region,
                "api_url": api_url,
                "integrations": sorted(cfg.installed(name)),
                "current": name == ctx.obj.profile,
            }
        )
    if json_output:
        ui.emit_json({"config_file": str(cfg.path), "profiles": rows})
        return
    if not rows:
        ui.say(
            f"No profiles yet ({cfg.path} has none): bp-integrate install <integration> "
            "creates 'default'."
        )
        return
    width = max(len(str(r["name"])) for r in rows)
    for row in rows:
        mark = "*" if row["current"] else " "
        integrations = ", ".join(row["integrations"]) or "-"
        ui.data(
            f"{mark} {row['name']:<{width}}  {row['region']:<6}  {row['api_url']}  {integrations}"
        )


def complete_profile(incomplete: str) -> list[str]:
    from bp_integrate.app import complete_profile as names

    return names(incomplete)


YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _existing(cfg: config.Config, name: str) -> None:
    if name not in cfg.profile_names():
        cfg.require_profile(name)  # names the nearest one
        raise ConfigError(  # `default` with nothing in it
            f"Profile {name!r} has no settings: nothing to do.",
            "bp-integrate profile list shows the profiles.",
        )


def _new_name(name: str) -> None:
    from bp_integrate.app import PROFILE_NAME

    if not PROFILE_NAME.fullmatch(name):
        raise UsageError(
            f"{name!r} is not a profile name.",
            "Use letters, digits, '-', '_' and '.', starting with a letter or digit "
            "(at most 64 characters).",
        )


@app.command("delete")
def delete_command(
    name: Annotated[
        str,
        typer.Argument(
            help="The profile to delete.", show_default=False, autocompletion=complete_profile
        ),
    ],
    yes: YesOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Delete a profile: its settings and the secrets it stored (keyring or file).

    Examples:

    bp-integrate profile delete staging

    bp-integrate profile delete staging --yes
    """
    from bp_integrate.secrets import delete_entries, profile_entries

    cfg = config.load()
    _existing(cfg, name)
    integrations = sorted(cfg.installed(name))
    if not yes:
        if not ui.stdin_is_tty():
            raise UsageError(
                f"Deleting profile {name!r} needs a confirmation, and stdin is not a terminal.",
                f"Add --yes: bp-integrate profile delete {name} --yes",
            )
        what = ", ".join(integrations) or "no integrations"
        question = (
            f"Delete profile {name!r} ({what}) and its stored secrets? The integrations "
            "stay set up in BigPanda and the vendors' tools"
        )
        if not typer.confirm(question, default=False, err=True):
            ui.say("Nothing was deleted.")
            raise typer.Exit(int(ExitCode.ERROR))
    with locked(cfg.path, f"the config file {cfg.path}"):
        cfg = config.load()
        _existing(cfg, name)  # renamed or deleted while the question was asked: refuse
        integrations = sorted(cfg.installed(name))
        entries = profile_entries(cfg.secret_entries(name), name)
        cfg.delete_profile(name)
        cfg.save()  # settings first: a secret left behind is harmless, settings without one not
        removed, left = delete_entries(entries)
        from bp_integrate import calibrate

        if calibrate.reset(name):
            removed.append(f"adopted body shape {calibrate.shape_path(name)}")
    if json_output:
        ui.emit_json(
            {
                "deleted": name,
                "integrations": integrations,
                "secrets_removed": removed,
                "left": left,
            }
        )
        return
    ui.success(f"Deleted profile {name!r} ({len(removed)} stored secret(s) removed).")
    for item in left:
        ui.warn(f"left: {item}")


@app.command("rename")
def rename_command(
    old: Annotated[
        str,
        typer.Argument(
            help="The profile's name now.", show_default=False, autocompletion=complete_profile
        ),
    ],
    new: Annotated[str, typer.Argument(help="Its new name.", show_default=False)],
    json_output: JsonOpt = False,
) -> None:
    """Rename a profile; its stored secrets move with it.

    Examples:

    bp-integrate profile rename staging stage
    """
    _move(old, new, move=True, with_secrets=True, json_output=json_output)


@app.command("copy")
def copy_command(
    source: Annotated[
        str,
        typer.Argument(
            help="The profile to copy.", show_default=False, autocompletion=complete_profile
        ),
    ],
    target: Annotated[str, typer.Argument(help="The new profile.", show_default=False)],
    with_secrets: Annotated[
        bool,
        typer.Option(
            "--with-secrets",
            help="Copy the stored secrets too (without it, each integration's install asks "
            "for them again).",
        ),
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Copy a profile's settings to a new profile (secrets only with --with-secrets).

    Examples:

    bp-integrate profile copy default staging

    bp-integrate profile copy default prod --with-secrets
    """
    _move(source, target, move=False, with_secrets=with_secrets, json_output=json_output)


def _carry_shape(source: str, target: str, move: bool) -> None:
    """The body shape adopted with `calibrate --adopt` belongs to the profile: it moves
    with a rename and is copied with a copy (it holds no secrets)."""
    from bp_integrate import calibrate
    from bp_integrate.fs import atomic_write

    path = calibrate.shape_path(source)
    if not path.is_file():
        return
    atomic_write(calibrate.shape_path(target), path.read_text("utf-8"))
    if move:
        path.unlink()


def _move(source: str, target: str, *, move: bool, with_secrets: bool, json_output: bool) -> None:
    """Rename (move) or copy a profile: secrets first, then the settings; on any failure
    the secrets written are taken back, so the old profile stays as it was."""
    from bp_integrate.secrets import copy_entries, delete_entries, profile_entries

    _new_name(target)
    cfg = config.load()
    _existing(cfg, source)
    with locked(cfg.path, f"the config file {cfg.path}"):
        cfg = config.load()
        _existing(cfg, source)
        entries = cfg.secret_entries(source)
        if target in cfg.profile_names():
            cfg.copy_profile(source, target)  # raises: it exists
        written = copy_entries(entries, source, target) if with_secrets else []
        try:
            if move:
                cfg.rename_profile(source, target)
            else:
                cfg.copy_profile(source, target, with_secrets=with_secrets)
            cfg.save()
        except BaseException:
            delete_entries(written)
            raise
        left: list[str] = []
        if move:
            stored = [(k, key) for k, key in profile_entries(entries, source) if k != "env"]
            _, left = delete_entries(stored)
        _carry_shape(source, target, move)
        not_copied = [] if move or with_secrets else _not_copied(cfg, target)
    verb = "Renamed" if move else "Copied"
    if json_output:
        ui.emit_json(
            {
                "from": source,
                "to": target,
                "moved" if move else "copied": True,
                "secrets": len(written),
                "not_copied": not_copied,
                "left": left,
            }
        )
        return
    note = f"{len(written)} stored secret(s) {'moved' if move else 'copied'}"
    if not move and not with_secrets:
        note = "no secrets copied"
    ui.success(f"{verb} profile {source!r} to {target!r} ({note}).")
    for line in not_copied:
        ui.warn(line)
    for item in left:
        ui.warn(f"left: {item}")


def _not_copied(cfg: config.Config, target: str) -> list[str]:
    """What a copy without secrets leaves to give: each integration's stored secrets (it
    cannot send until they are set: `status` marks them missing), and the command that
    sets each. The env store keeps nothing, so the target reads its own variables."""
    lines: list[str] = []
    for name, item in sorted(cfg.installed(target).items()):
        if item.secret_store == "env" or not item.secret_fields:
            continue
        fields = sorted({secret.partition(".")[0] for secret in item.secret_fields})
        how = (
            f"bp-integrate --profile {target} set {name} {fields[0]} --stdin"
            if len(fields) == 1
            else f"bp-integrate --profile {target} install {name}"
        )
        lines.append(
            f"{name} cannot send from {target!r} until its secrets are given: not copied "
            f"{', '.join(item.secret_fields)}; set with: {how}"
        )
    return lines
