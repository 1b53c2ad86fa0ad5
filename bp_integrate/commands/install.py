"""`bp-integrate install`: the walkthrough, interactive or fully scripted."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from bp_integrate import config, ui
from bp_integrate.commands.common import (
    InsecureStorageOpt,
    IntegrationArg,
    JsonOpt,
    NoInputOpt,
    SecretStoreOpt,
    ShowSecretsOpt,
    store_kind_of,
)
from bp_integrate.commands.show import render_notes, render_paste
from bp_integrate.commands.sides import api_key_env, real_tty, side_key, side_url
from bp_integrate.errors import (
    BPError,
    ConfigError,
    ExitCode,
    SecretsError,
    UsageError,
    command_for,
)
from bp_integrate.integrations import get
from bp_integrate.integrations.base import (
    ApiCall,
    ApiClient,
    Choice,
    Field,
    Integration,
    Made,
    SidePlan,
    Step,
    TargetSide,
)
from bp_integrate.secrets import StoreKind, where_kept
from bp_integrate.store import load_values, save, split_secrets
from bp_integrate.urls import MASK, mask_url
from bp_integrate.wizard import (
    BACK,
    HELP_WORDS,
    GoBack,
    InstallPlan,
    Sources,
    given_values,
    json_unfinished,
    load_answers,
    parse_sets,
    paste,
    reserved,
    run,
    scheme_typo,
    unescaped,
)


def prompt_label(text: str) -> str:
    """A prompt's text, indented and wrapped at words like prose (the answer follows its
    end)."""
    con = ui.err()
    if not con.is_terminal:
        return f"  {text}"
    # Room for the default and the answer: a wrapped label ends well before the edge.
    return ui.wrapped(text, con.width - 12, indent=2)


class TerminalPrompter:
    """Asks on the terminal (stderr), re-asking until a value is valid.

    Each hint line is printed once per step: re-asking after an empty or bad value
    repeats only the error.
    """

    def __init__(self, profile: str, show_secrets: bool) -> None:
        self.profile = profile
        self.show_secrets = show_secrets
        self._hinted: set[str] = set()
        #: Whether the walkthrough showed the paste block: the closing report then
        #: does not show it again.
        self.pasted = False

    def _hint(self, text: str | None, style: str | None = "dim") -> None:
        if text and text not in self._hinted:
            self._hinted.add(text)
            ui.prose(text, indent=2, style=style)

    def _label(self, text: str) -> str:
        return prompt_label(text)

    def step(self, number: int, total: int, step: Step) -> None:
        self._hinted.clear()
        con = ui.err()
        con.print()
        ui.say(f"Step {number}/{total} - {step.system}: {step.title}", style="bold cyan")
        ui.prose(step.text, indent=2)
        if step.confidence == "G":
            ui.prose("(Part of this step is our reconstruction; see the docs.)", 2, "dim")

    def ask(self, field: Field, default: str | None) -> str:
        self._hint(field.help)
        if field.url_with_secrets:
            # The URL may carry its apiKey: read it without echo, then show it masked.
            answer: str = typer.prompt(
                self._label(f"{field.label} (hidden input: paste and press Enter)"),
                default=default or "",
                show_default=bool(default),
                hide_input=True,
                err=True,
            )
            if answer.strip():
                ui.err().print(f"  -> {mask_url(answer.strip())}", style="dim")
            return answer
        if field.multiline:
            self._hint("Paste it (several lines are fine), or give @FILE to read it from a file.")
        answer = typer.prompt(
            self._label(field.label), default=default or "", show_default=bool(default), err=True
        )
        if field.multiline:
            answer = self._rest_of_json(answer)
        return answer

    def _rest_of_json(self, first: str) -> str:
        """A pasted multi-line JSON document: the lines after the first, read until its
        brackets balance (or an empty line ends it), so it is checked once, whole."""
        lines = [first]
        while json_unfinished("\n".join(lines)):
            more = str(typer.prompt("", prompt_suffix="", default="", show_default=False, err=True))
            if not more.strip():
                break
            lines.append(more)
        return "\n".join(lines)

    def explain(self, field: Field) -> None:
        ui.prose(field.help, indent=2)
        ui.prose(
            f"({BACK}: the previous question; to give the word {BACK!r} or '?' itself as "
            f"the value, type \\{BACK} or \\?.)",
            indent=2,
            style="dim",
        )

    def show_paste(self, integration: Integration, values: Mapping[str, str]) -> None:
        def line(text: str, style: str | None = None) -> None:
            ui.err().print(text, style=style)

        reveal = self.show_secrets
        self.pasted = True
        ui.err().print()
        render_paste(paste(integration, values, self.profile, show_secrets=reveal), line)
        if (
            not reveal
            and _has_secrets(integration, values)
            and typer.confirm(
                "  Show the secret values (****) so you can copy them?", default=False, err=True
            )
        ):
            render_paste(paste(integration, values, self.profile, show_secrets=True), line)

    def ask_secret(self, field: Field, has_current: bool, stored: str = "") -> str:
        self._hint(field.help)
        if has_current:
            how = f"hidden input; Enter keeps the stored one ({stored or MASK})"
        elif not field.required:
            how = "hidden input; Enter to skip"
        else:
            how = "hidden input"
        answer: str = typer.prompt(
            self._label(f"{field.label} [{how}]"),
            default="",
            hide_input=True,
            show_default=False,
            err=True,
        )
        return answer

    def checkpoint(self, step: Step, can_go_back: bool = False) -> bool:
        choices = "Y/n/back" if can_go_back else "Y/n"
        while True:
            answer = (
                typer.prompt(
                    self._label(f"Done with '{step.title}'? [{choices}]"),
                    default="y",
                    show_default=False,
                    err=True,
                )
                .strip()
                .lower()
            )
            if answer in ("y", "yes"):
                return True
            if answer in HELP_WORDS:
                ui.prose(step.text, indent=2)
                continue
            if can_go_back and answer in ("n", "no", BACK):
                ui.say("  Again, then: Enter keeps each value as you gave it.")
                return False
            if answer in ("n", "no"):
                ui.say("  Finish the step, then answer y (Ctrl-C stops, saving nothing).")
                continue
            ui.say(
                "  Answer y when the step is done"
                + (", or n (or back) to enter its values again." if can_go_back else ".")
            )

    def warn(self, message: str) -> None:
        ui.warn(message)

    def invalid(self, error: BPError) -> None:
        ui.prose(error.message, indent=2, style="red")
        self._hint(error.hint, style=None)

    def note(self, message: str) -> None:
        self._hint(message, style=None)


def read_secret_stdin(fields: list[str], integration: Integration) -> dict[str, str]:
    """`--secret-stdin FIELD`: one line per named field, in order, from stdin.

    A URL that carries its key (the xMatters trigger URL) counts as a secret here.
    On a real terminal the line is read without echo.
    """
    from bp_integrate.loading import read_stdin_line

    secrets: dict[str, str] = {}
    on_terminal = real_tty()
    for name in fields:
        f = integration.field(name)
        if not f.secret and not f.url_with_secrets:
            raise UsageError(
                f"{name} is not a secret; --secret-stdin is for secrets.", f"Use --set {name}=..."
            )
        if on_terminal:
            secrets[name] = typer.prompt(f"{f.label}", hide_input=True, err=True)
            continue
        line = read_stdin_line(
            f"--secret-stdin {name}",
            "Pipe one UTF-8 line per --secret-stdin field, e.g. printf '%s\\n' \"$KEY\" | ...",
        )
        if not line:
            raise UsageError(
                f"--secret-stdin {name}: standard input ended before the value.",
                "Pipe one line per --secret-stdin field, e.g. printf '%s\\n' \"$KEY\" | ...",
            )
        secrets[name] = line.rstrip("\r\n")
    return secrets


def open_checked_store(kind: StoreKind) -> None:
    """Fail before any question if the chosen store cannot work; warn about a plain file."""
    from bp_integrate.secrets import INSECURE_FILE, open_store

    open_store(kind).check()
    if kind == "file":
        ui.warn(
            f"--insecure-storage: secrets are kept in plain text in {INSECURE_FILE} "
            "(mode 0600) in the config folder. Anyone who can read it can use them."
        )


SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="FIELD=VALUE",
        help="Give a setting of the integration (not a secret). Here --set is a "
        "setting; on send-test and replay it edits the event body.",
    ),
]
AnswersOpt = Annotated[
    Path | None,
    typer.Option("--answers", metavar="FILE.yaml", help="Settings from a YAML file."),
]
SecretStdinOpt = Annotated[
    list[str] | None,
    typer.Option("--secret-stdin", metavar="FIELD", help="Read this secret from a line of stdin."),
]
NoVerifyOpt = Annotated[
    bool, typer.Option("--no-verify", help="Do not check BigPanda API keys against BigPanda.")
]
ByApiOpt = Annotated[
    bool | None,
    typer.Option(
        "--by-api/--by-hand",
        help="Make the target's side (its integration or alert source) through the target's "
        "API, or by hand (paste). Default: by API when an API key is given (its "
        "BP_INTEGRATE_ variable, or --api-key-stdin) or --service is.",
        show_default=False,
    ),
]
ServiceOpt = Annotated[
    str | None,
    typer.Option(
        "--service",
        metavar="NAME|ID",
        help="Where on the target's side to make it, by name or id (the target's service).",
    ),
]
ApiKeyStdinOpt = Annotated[
    bool,
    typer.Option(
        "--api-key-stdin",
        help="Read the target's API key from a line of stdin, after any --secret-stdin values.",
    ),
]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Check every value as the install does and show the calls to the target's API "
        "(reads are made); create and save nothing.",
    ),
]


@dataclass(frozen=True)
class InstallOptions:
    """What `install` was asked to do, as parsed from its options."""

    integration: str
    sets: list[str] = field(default_factory=list)
    answers: Path | None = None
    secret_stdin: list[str] = field(default_factory=list)
    no_input: bool = False
    secret_store: str | None = None
    insecure_storage: bool = False
    no_verify: bool = False
    by_api: bool | None = None
    service: str | None = None
    api_key_stdin: bool = False
    dry_run: bool = False
    show_secrets: bool = False
    json_output: bool = False


def install_command(
    ctx: typer.Context,
    integration: IntegrationArg,
    set_: SetOpt = None,
    answers: AnswersOpt = None,
    secret_stdin: SecretStdinOpt = None,
    no_input: NoInputOpt = False,
    secret_store: SecretStoreOpt = None,
    insecure_storage: InsecureStorageOpt = False,
    no_verify: NoVerifyOpt = False,
    by_api: ByApiOpt = None,
    service: ServiceOpt = None,
    api_key_stdin: ApiKeyStdinOpt = False,
    dry_run: DryRunOpt = False,
    show_secrets: ShowSecretsOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Walk through setting up an integration, then print what to paste into BigPanda.

    --set FIELD=VALUE here gives a setting of the integration (on send-test and replay,
    --set edits the event body instead).

    Examples:

    bp-integrate install xmatters

    bp-integrate -p prod install pagerduty --secret-store env --no-input

    bp-integrate install panopta --answers examples/answers/panopta.yaml --json
    """
    options = InstallOptions(
        integration, set_ or [], answers, secret_stdin or [], no_input, secret_store,
        insecure_storage, no_verify, by_api, service, api_key_stdin, dry_run, show_secrets,
        json_output,
    )  # fmt: skip
    run_install(ctx, options)


@dataclass
class Walkthrough:
    """Everything the walkthrough starts from: the integration, its stored values, where
    values come from, and how (and whether) to ask."""

    spec: Integration
    profile: str
    cfg: config.Config
    existing: config.Installed | None
    store_kind: StoreKind
    current: dict[str, str]
    sources: Sources
    prompter: TerminalPrompter | None
    #: The install creates the profile (`is_new_profile`): said once it is saved.
    new_profile: bool = False

    @property
    def interactive(self) -> bool:
        return self.prompter is not None


def run_install(ctx: typer.Context, opts: InstallOptions) -> None:
    """The install: the target's side by API (when asked), the walkthrough, then save
    and say what to paste. Nothing is saved on a failure or Ctrl-C. A dry run checks
    every value as the install does, and only makes no write (here or on the target's
    side) and no test send."""
    walk = prepare(ctx.obj.profile, opts)
    late = walk.spec.target_side is not None and walk.spec.target_side.after_walkthrough
    side = None if late else target_side(walk, opts)
    if opts.dry_run and side is not None and side.made is None:
        # The values the target's side gives the walkthrough come from the writes this
        # dry run does not make: the walkthrough cannot run without them.
        return report_dry_run(walk, side, opts)
    notice = SideNotice(side)
    with created_notice(walk, notice):
        plan = run(walk.spec, walk.current, walk.sources, walk.prompter, key_verifier(walk, opts))
        if not walk.interactive:
            for message in plan.warnings:
                ui.warn(message)
        if late:  # made from the answers (BigPanda's Webhook v2), before anything is saved
            side = notice.side = target_side(walk, opts, plan.values)
        if opts.dry_run:
            return report_dry_run(walk, side, opts, checked=True)
        # Paste items to compare before `save`: an update says what BigPanda needs again.
        before = _paste_values(walk.spec, walk.current) if walk.existing else None
        save(walk.cfg, walk.spec, walk.profile, plan.values, walk.store_kind)
    if walk.new_profile:
        ui.say(f"Created profile {walk.profile!r} in {config.config_path()}.")
    kept = keep_api_key(walk, side)
    report(ctx, walk, plan, before, side, kept, opts)


def prepare(profile: str, opts: InstallOptions) -> Walkthrough:
    """Load the stored install, read what was given up front, open the secret store."""
    spec = get(opts.integration)
    cfg = config.load()
    sets = parse_sets(opts.sets, spec, profile)
    file_answers = load_answers(opts.answers, spec, profile) if opts.answers else {}
    existing = cfg.get(profile, spec.name)
    new_profile = is_new_profile(cfg, profile)
    store_kind = store_kind_of(
        opts.secret_store, opts.insecure_storage, existing.secret_store if existing else None
    )
    if opts.dry_run:
        note_unusable_store(store_kind)  # a dry run stores nothing: it needs no store
    else:
        open_checked_store(store_kind)
    current = installed_values(spec, existing, profile, opts.dry_run) if existing else {}
    secrets = read_secret_stdin(opts.secret_stdin, spec)
    interactive = not opts.no_input and not opts.json_output and ui.stdin_is_tty()
    sources = Sources(sets, file_answers, secrets, os.environ, interactive, profile=profile)
    prompter = TerminalPrompter(profile, opts.show_secrets) if interactive else None
    if interactive:
        verb = "Updating" if existing else "Installing"
        ui.say(f"{verb} {spec.title} in profile {profile!r}. Ctrl-C at any point saves nothing.")
        ui.prose(
            f"At any question: {BACK} goes to the previous one, ? shows its help.", style="dim"
        )
        if is_new_profile(cfg, profile) or (
            spec.region_bound and not cfg.bigpanda(profile).get("region")
        ):
            # Saved with the install (nothing is written before): the key checks use it.
            cfg.set_bigpanda(profile, {**cfg.bigpanda(profile), **ask_region()})
        elif not cfg.bigpanda(profile) and not cfg.installed(profile):
            ui.prose(
                "BigPanda region: us (api.bigpanda.io). For eu or another host: "
                f"{command_for(profile, 'profile set --region eu|URL')}",
                style="dim",
            )
        if store_kind == "env":
            ui.prose(
                "--secret-store env: secrets are read from environment variables when used, "
                "never stored. What you type is checked, then not kept: the variables to "
                "export are listed at the end."
            )
    sources.region = str(cfg.bigpanda(profile).get("region") or "us")
    return Walkthrough(
        spec, profile, cfg, existing, store_kind, current, sources, prompter, new_profile
    )


def installed_values(
    spec: Integration, existing: config.Installed, profile: str, dry_run: bool
) -> dict[str, str]:
    """The installed values an update starts from (one whose secret is gone is asked
    again). A dry run reads the secrets too: when their store cannot be opened, the
    error says that this is why the dry run needs it."""
    try:
        return load_values(spec, existing, profile, with_secrets=True, strict=False)
    except SecretsError as error:
        if not dry_run:
            raise
        raise SecretsError(
            f"{error.message} A dry run stores nothing, but this one must read the secrets "
            f"{spec.title} is installed with in profile {profile!r} "
            f"({existing.secret_store}): an update starts from them.",
            error.hint,
        ) from None


def note_unusable_store(kind: StoreKind) -> None:
    """A dry run's word on a secret store the install itself could not use (a warning:
    the dry run goes on without it)."""
    from bp_integrate.secrets import open_store

    try:
        open_store(kind).check()
    except SecretsError as error:
        goes_on = "The dry run goes on (it stores nothing); the install would stop here."
        ui.warn(" ".join(part for part in (error.message, goes_on, error.hint) if part))


def is_new_profile(cfg: config.Config, profile: str) -> bool:
    """A named profile this install creates (as `cli.check_profile` says: "Profile 'X' is
    new"). `default` always exists: its first install asks the region only where the
    install depends on it (`Integration.region_bound`), else states the region (us) and
    how to change it, without a question."""
    return profile != config.DEFAULT_PROFILE and not cfg.has_profile(profile)


def ask_region() -> dict[str, str]:
    """A new profile's BigPanda region (us, eu, or the API's URL), asked before any
    step: the profile's BigPanda settings, as `profile set --region` writes them."""
    from bp_integrate.commands.profile import region_url
    from bp_integrate.errors import nearest

    about = (
        "Which BigPanda region is your organization in? us (api.bigpanda.io), eu "
        "(eu-api.bigpanda.io), or your BigPanda API's URL (https://...). Keys are checked "
        "there; bp-integrate profile set --region changes it later."
    )
    ui.prose(about, indent=2, style="dim")
    while True:
        answer = str(typer.prompt("  BigPanda region (us, eu or URL)", default="us", err=True))
        word = answer.strip().lower()
        if word in HELP_WORDS:
            ui.prose(about, indent=2)
            continue
        if word == BACK:
            ui.prose("This is the first question: there is nothing before it.", indent=2)
            continue
        try:
            url = region_url(word if word in config.REGIONS else answer.strip())
        except UsageError as error:
            guess = scheme_typo(answer) or nearest(word, list(config.REGIONS))
            ui.prose(error.message, indent=2, style="red")
            ui.prose((f"Did you mean {guess!r}? " if guess else "") + (error.hint or ""), 2)
            continue
        return {"region": word if word in config.REGIONS else "custom", "api_url": url}


def key_verifier(walk: Walkthrough, opts: InstallOptions) -> Callable[[str], int] | None:
    """How a BigPanda User API key given at install is checked (None: --no-verify)."""
    if opts.no_verify:
        return None
    from bp_integrate.bigpanda.api import check_key

    api_url = walk.cfg.api_url(walk.profile)
    region = str(walk.cfg.bigpanda(walk.profile).get("region") or "us")

    def verifier(key: str) -> int:
        try:
            return check_key(api_url, key)  # how many environments the key sees
        except BPError as error:
            if "(401" not in error.message:
                raise
            raise wrong_region(error, region, api_url, walk.profile) from None

    return verifier


def wrong_region(error: BPError, region: str, api_url: str, profile: str) -> BPError:
    """A 401 from the key check, said as what it often is: a key of the other region
    (BigPanda's us and eu hosts do not know each other's keys)."""
    other = {"us": "eu", "eu": "us"}.get(region)
    if other is None:
        what, where = "another region", f"your profile's BigPanda API is {api_url}"
        fix = command_for(profile, "profile set --region us|eu|URL")
        move = f"If your key is from another BigPanda: {fix}"
    else:
        what, where = "the other region", f"your profile's region is {region}"
        fix = command_for(profile, f"profile set --region {other}")
        move = f"If your BigPanda is in the {other} region: {fix}"
    return BPError(
        f"BigPanda answered 401: a key of {what} answers 401 here; {where}.",
        f"{move}, then install again. Else the key is invalid or expired: {error.hint or ''}",
        ExitCode.REJECTED,
    )


def report(
    ctx: typer.Context,
    walk: Walkthrough,
    plan: InstallPlan,
    before: dict[str, object] | None,
    side: SideResult | None,
    kept: str | None,
    opts: InstallOptions,
) -> None:
    """What was installed and what to paste (JSON, or text), then the offers."""
    spec, profile, store_kind = walk.spec, walk.profile, walk.store_kind
    unexported = _not_exported(spec, plan.values, profile) if store_kind == "env" else []
    # Secrets stay masked unless asked for by flag: a terminal may be shared or recorded.
    reveal = opts.show_secrets
    doc = paste(spec, plan.values, profile, show_secrets=reveal)
    doc["changed"] = plan.changed
    doc["warnings"] = plan.warnings
    doc["secret_store"] = store_kind
    doc["not_exported"] = [variable for variable, _ in unexported]
    if side is not None:
        doc["by_api"] = side.to_json()
    again = _paste_again(spec, before, plan.values) if before is not None else None
    if again is not None:
        doc["paste_again"] = again
    if opts.json_output:
        ui.emit_json(doc)
        return
    verb = "Updated" if walk.existing else "Installed"
    ui.success(f"\n{verb} {spec.title} in profile {profile!r} (secrets: {store_kind}).")
    # The paste block once on the screen (stdout elsewhere still gets it as data), the
    # AutoShare reminder once (not at an update).
    if walk.prompter is not None and walk.prompter.pasted and ui.out().is_terminal:
        render_notes(doc, reminders=not walk.existing)
    else:
        render_paste(doc, reminders=not walk.existing)
    if again is not None:
        labels = {item.key: item.label for item in spec.paste(plan.values)}
        if again:
            names = ", ".join(labels.get(key, key) for key in again)
            ui.say(f"Changed, paste again into {spec.paste_target}: {names}.", style="bold")
        else:
            ui.say(f"Nothing to paste again into {spec.paste_target}: what it has still works.")
    if unexported:
        _say_exports(unexported)
    if not reveal and _has_secrets(spec, plan.values):
        ui.say(
            "Secrets above are masked (****). To see the values to paste: "
            f"{command_for(profile, f'show {spec.name} --show-secrets')}"
        )
    if kept:
        ui.say(kept)
    ui.say(f"Test it: {command_for(profile, f'send-test incident#new --to {spec.name} --dry-run')}")
    if walk.interactive and not unexported:
        offer_test_send(ctx, spec, plan.values)
    if spec.readback_fields and not kept:
        # Read-back credentials live in the keyring (or BP_INTEGRATE_* variables), as
        # `profile set --readback` keeps them.
        if walk.interactive and store_kind == "keyring":
            offer_readback(profile, spec)
        else:
            ui.say(
                "For bp-integrate verify to read events back at the target: "
                f"{command_for(profile, f'profile set --readback {spec.name}')}"
            )


def offer_readback(profile: str, spec: Integration) -> None:
    """Opt in to `verify`'s read-back (default No): the target API credentials that let
    verify find what BigPanda shared, kept in the keyring."""
    try:
        wanted = typer.confirm(
            f"Set up read-back so `bp-integrate verify` can find events in {spec.title}?",
            default=False,
            err=True,
        )
        if not wanted:
            return
        answers = _readback_answers(spec)
    except (typer.Abort, KeyboardInterrupt, EOFError):
        ui.say("\nNo read-back set up; the install is saved.")
        return
    stored, kind = keep_readback(profile, spec, answers)
    if stored:
        ui.success(f"Read-back credentials kept {where_kept(kind)} ({', '.join(stored)}).")


def _readback_answers(spec: Integration) -> dict[str, str]:
    """The read-back credentials, one prompt each: `?` shows the field's help again,
    `back` the previous one (at the first: the question whether to set up read-back)."""
    answers: dict[str, str] = {}
    fields = list(spec.readback_fields)
    position = 0
    while position < len(fields):
        f = fields[position]
        ui.say(f"  {f.help}", style="dim")
        try:
            answers[f.name] = ask_with_words(
                prompt_label(f.label + (" (hidden input)" if f.secret else "")),
                f.help,
                hide=f.secret,
                default=f.default,
                can_go_back=position > 0,
            )
        except GoBack:
            position -= 1
            continue
        position += 1
    return answers


def keep_readback(
    profile: str, spec: Integration, answers: Mapping[str, str]
) -> tuple[list[str], StoreKind]:
    """Keep read-back credentials where verify reads them (the profile's verify store:
    the keyring unless `profile set` chose another), recorded so uninstall removes them;
    the names kept, and the store."""
    from bp_integrate.readback import store_creds

    kind = config.load().verify_store(profile)
    stored = store_creds(spec, profile, answers, kind)
    if stored:
        from bp_integrate.fs import locked
        from bp_integrate.secrets import delete_entries, entry_name

        cfg = config.load()
        with locked(cfg.path, f"the config file {cfg.path}"):
            cfg = config.load()
            if cfg.get(profile, spec.name) is None:  # uninstalled, renamed or deleted meanwhile
                delete_entries([(kind, entry_name(profile, spec.name, f)) for f in stored])
                raise ConfigError(
                    f"{spec.title} left profile {profile!r} while the read-back was asked "
                    "for (another command): the read-back credentials were not kept.",
                    command_for(profile, f"profile set --readback {spec.name}"),
                )
            cfg.set_readback_stored(profile, spec.name, stored)  # removed with the install
            cfg.save()
    return stored, kind


def offer_test_send(ctx: typer.Context, spec: Integration, values: Mapping[str, str]) -> None:
    """One real test event (default No), sent exactly as `send-test` sends it.

    The install is saved by now: Ctrl-C or end of input here is a No, not an
    "Interrupted: nothing was changed"."""
    from dataclasses import replace
    from urllib.parse import urlsplit

    from bp_integrate.urls import is_loopback_host

    try:
        host = urlsplit(spec.webhook(values).url).hostname or ""
    except (KeyError, ValueError, NotImplementedError, BPError):
        host = ""
    reaches = (
        f"the local emulator ({host}), standing in for {spec.title},"
        if host and is_loopback_host(host)
        else f"the real {spec.title} and may notify people;"
    )
    ui.say("")
    ui.prose(
        f"A test event (incident#new) reaches {reaches} it is marked [TEST] and recorded "
        "in the history, like send-test."
    )
    try:
        wanted = typer.confirm(
            f"Send one test event (incident#new) to {spec.title} now?", default=False, err=True
        )
    except (typer.Abort, KeyboardInterrupt, EOFError):
        ui.say("\nNo test sent; the install is saved.")
        return
    if not wanted:
        return
    from bp_integrate.commands.send_test import send_test_command

    # The settings as just saved: the app context may hold the file as read before the
    # install (it checked the profile), without this install or even the profile.
    ctx.obj = replace(ctx.obj, _config=None)
    try:
        send_test_command(ctx, "incident#new", to=[spec.name])
    except KeyboardInterrupt:
        ui.say("\nInterrupted the test send; the install is saved.", style="yellow")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


def _paste_values(spec: Integration, values: Mapping[str, str]) -> dict[str, object] | None:
    """Each paste item's real value by key, or None when the values are incomplete."""
    try:
        return {item.key: item.value for item in spec.paste(values)}
    except (KeyError, ValueError, BPError):
        return None


def _paste_again(
    spec: Integration, before: dict[str, object] | None, values: Mapping[str, str]
) -> list[str] | None:
    """The paste items an update changed (new or different), by key; None if unknown."""
    after = _paste_values(spec, values)
    if before is None or after is None:
        return None
    return [key for key, value in after.items() if before.get(key) != value]


def _not_exported(
    spec: Integration, values: Mapping[str, str], profile: str
) -> list[tuple[str, str]]:
    """(variable, value) of each secret the environment does not hold as given: under
    --secret-store env nothing else keeps it."""
    from bp_integrate.secrets import env_var
    from bp_integrate.urls import url_secret

    out: list[tuple[str, str]] = []
    for entry, value in split_secrets(spec, values)[1].items():
        variable = env_var(spec.name, entry, profile)
        if os.environ.get(variable) == value:
            continue
        url_field, dot, param = entry.partition(".")
        whole_url = os.environ.get(env_var(spec.name, url_field, profile), "")
        if dot and url_secret(whole_url, param) == value:
            continue
        out.append((variable, value))
    return out


def _say_exports(unexported: list[tuple[str, str]]) -> None:
    from bp_integrate.wizard import masked_tail

    ui.warn(
        "--secret-store env stores no secret: what was given is not kept. Export these "
        "where bp-integrate runs, with the values you gave (masked here):"
    )
    for variable, value in unexported:
        ui.say(f"  export {variable}='{masked_tail(value)}'")
    first = unexported[0][0]
    ui.prose(
        f"To set one without it reaching your shell history: read -rs {first} && export {first}"
    )


def _has_secrets(spec: Integration, values: Mapping[str, str]) -> bool:
    return bool(split_secrets(spec, values)[1])


# ----------------------------------------------------------- the target's side by API
@dataclass
class SideResult:
    """The target's side as this install found or made it (or, in a dry run, would)."""

    side: TargetSide
    plan: SidePlan
    key: str
    key_origin: str
    reads: tuple[ApiCall, ...] = ()
    made: Made | None = None

    def to_json(self) -> dict[str, Any]:
        made = self.made or self.plan.existing
        return {
            "system": self.side.system,
            "reads": [call.to_json() for call in self.reads],
            "writes": [call.to_json() for call in self.plan.writes],
            "made": made.description if made else None,
            "created": bool(made and made.created),
            "where": made.where if made else None,
            "key_from": self.key_origin,
        }


def _by_api_wanted(
    walk: Walkthrough, side: TargetSide, found: tuple[str, str] | None, opts: InstallOptions
) -> bool:
    """Whether to make the target's side by API: asked by flag, implied by a dedicated
    key or --service, or (interactive, with only verify's key) offered."""
    if side.api_only:
        if opts.by_api is False:
            raise UsageError(
                f"{walk.spec.title} can be made only by API ({side.system} has no page for it).",
                "Leave out --by-hand.",
            )
        return True
    if opts.by_api is not None:
        return opts.by_api
    if opts.service or opts.api_key_stdin:
        return True
    if found is None:
        if walk.interactive:
            ui.prose(
                f"Tip: the {side.what} can be made in {side.system} for you, by API: set "
                f"{api_key_env(walk.spec, walk.profile)} to your {side.key_label}, or add "
                "--by-api to be asked for it.",
                style="dim",
            )
        return False
    if found[1] == api_key_env(walk.spec, walk.profile):
        return True
    produced = _produced_fields(walk.spec, side)
    if not walk.interactive or any(f in given_values(walk.spec, walk.sources) for f in produced):
        return False
    fresh = not all(walk.current.get(f) for f in produced)
    return typer.confirm(
        f"Make the {side.what} in {side.system} by API, with {found[1]}?",
        default=fresh,
        err=True,
    )


def _produced_fields(spec: Integration, side: TargetSide) -> list[str]:
    return [
        name
        for step in spec.install_steps
        if step.title in side.replaces_steps
        for name in step.asks
    ]


def target_side(
    walk: Walkthrough, opts: InstallOptions, answers: Mapping[str, str] | None = None
) -> SideResult | None:
    """Find or make the target's side by API, when wanted; its values then fill the
    walkthrough's steps that it replaces (or, `after_walkthrough`, it is made from the
    walkthrough's `answers`). Reads are made even in a dry run; writes are shown first
    and (interactive) confirmed."""
    side = walk.spec.target_side
    if side is None:
        if opts.by_api or opts.service or opts.api_key_stdin:
            raise UsageError(
                f"{walk.spec.title}'s side cannot be made by API here.",
                "Leave out --by-api, --service and --api-key-stdin: the walkthrough says what "
                "to do by hand.",
            )
        return None
    found = side_key(walk.spec, side, walk.profile, opts.api_key_stdin)
    if not _by_api_wanted(walk, side, found, opts):
        return None
    if found is None and not walk.interactive:
        raise UsageError(
            f"Making the {side.what} by API needs a {side.key_label}.",
            f"Set {api_key_env(walk.spec, walk.profile)} or use --api-key-stdin ({side.key_help}); "
            "or --by-hand to paste instead.",
        )
    known = (
        dict(answers)
        if answers is not None
        else {
            **walk.current,
            **given_values(walk.spec, walk.sources),
        }
    )
    while True:
        key, origin = found or (_prompted_key(side), "the prompt")
        try:
            result = _side_calls(walk, opts, side, (key, origin), known, found is None)
        except GoBack:  # `back` at the picker: the key typed before it, again
            continue
        break
    if opts.dry_run and result.made is None:
        return result  # what the writes would make is not known without them
    made = result.made
    assert made is not None  # set by _side_calls unless a dry run has writes to make
    verb = (
        "Created"
        if made.created
        else "Updated"
        if made.updated
        else "Found, and reusing (no duplicate):"
    )
    ui.success(f"{side.system}: {verb} {made.description}.")
    walk.sources.made = dict(made.values)
    walk.sources.done_steps = side.replaces_steps
    return result


def _side_calls(
    walk: Walkthrough,
    opts: InstallOptions,
    side: TargetSide,
    found: tuple[str, str],
    known: Mapping[str, str],
    can_go_back: bool,
) -> SideResult:
    """Read, pick (`back` at the picker raises GoBack when the key was typed), show the
    calls, and (unless a dry run) confirm and make them; one found is reused."""
    key, origin = found
    with ApiClient(side, side_url(side, known, walk.profile), key) as api:
        choice = choose(side, api, opts.service, walk.interactive, can_go_back)
        plan = side.plan(api, known, choice)
        result = SideResult(side, plan, key, origin, tuple(api.log))
        show_calls(walk, result, opts)
        if plan.existing is not None:  # found: reused, nothing to write (a dry run too)
            result.made = plan.existing
        elif opts.dry_run:
            return result
        elif walk.interactive and not typer.confirm("  Make these calls?", default=True, err=True):
            raise typer.Exit(int(ExitCode.ERROR))
        else:
            result.made = side.apply(api, plan)
    return result


def _prompted_key(side: TargetSide) -> str:
    """The target's API key at a hidden prompt; `?` shows where to find it."""
    ui.prose(side.key_help, indent=2, style="dim")
    return ask_with_words(
        prompt_label(f"{side.key_label} (hidden input)"), side.key_help, hide=True
    )


def ask_with_words(
    label: str,
    help_text: str,
    *,
    hide: bool = False,
    default: str | None = None,
    can_go_back: bool = False,
) -> str:
    """A prompt outside the walkthrough's steps that knows its reserved words: `?` or
    `help` shows `help_text`, `back` raises GoBack (or, with nothing before it, says
    so); `\\back` gives the word itself. A reserved word is never taken as the value."""
    while True:
        answer = str(
            typer.prompt(
                label, default=default, hide_input=hide, show_default=bool(default), err=True
            )
        ).strip()
        word = reserved(answer)
        if word == "help":
            ui.prose(help_text, indent=2)
        elif word == BACK and can_go_back:
            raise GoBack
        elif word == BACK:
            ui.prose("This is the first question: there is nothing before it.", indent=2)
        else:
            return unescaped(answer)


def choose(
    side: TargetSide,
    api: ApiClient,
    given: str | None,
    interactive: bool,
    can_go_back: bool = False,
) -> Choice | None:
    """The service (or such) to make it on: --service NAME|ID, else picked from a list
    (type to filter); an unknown one is an error naming the nearest."""
    if not side.choice_label:
        return None
    label = side.choice_label
    options = side.choices(api)
    if not options:
        raise UsageError(
            f"The {side.key_label} sees no {side.system} {label}.",
            f"Create the {label} in {side.system} first, or use a key that sees it.",
        )
    if given:
        return match_choice(side, options, given)
    if not interactive:
        names = ", ".join(c.label for c in options[:10])
        raise UsageError(
            f"Which {side.system} {label}? {side.choice_flag} NAME|ID says.",
            f"The key sees {len(options)}: {names}{'...' if len(options) > 10 else ''}.",
        )
    return pick(side, options, can_go_back)


def match_choice(side: TargetSide, options: list[Choice], given: str) -> Choice:
    import difflib

    wanted = given.strip()
    by_id = [c for c in options if c.id == wanted]
    by_name = [c for c in options if c.name.casefold() == wanted.casefold()]
    for found in (by_id, by_name):
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise UsageError(
                f"{len(found)} {side.system} {side.choice_label}s are named {wanted!r}.",
                f"Give {side.choice_flag} the id: " + ", ".join(c.label for c in found) + ".",
            )
    names = [c.name for c in options]
    close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.5)
    close += [n for n in names if wanted.casefold() in n.casefold() and n not in close][:3]
    hint = f"Did you mean {', '.join(repr(n) for n in close)}? " if close else ""
    raise UsageError(
        f"No {side.system} {side.choice_label} {wanted!r} that this key sees.",
        f"{hint}Give {side.choice_flag} a name or id as {side.system} shows it "
        f"({len(options)} {side.choice_label}s: {', '.join(names[:10])}"
        f"{'...' if len(names) > 10 else ''}).",
    )


def pick(side: TargetSide, options: list[Choice], can_go_back: bool = False) -> Choice:
    """Ask for one of `options`: a number, an exact name or id, or text to filter by;
    `?` says how, `back` (GoBack) asks the key again when it was typed."""
    shown = options
    about = (
        f"Pick the {side.system} {side.choice_label} to make the {side.what} on: type its "
        f"number in the list, its name or id, or part of its name to narrow the list."
    )
    while True:
        ui.say(
            f"\n{side.system} {side.choice_label}s{' (filtered)' if shown is not options else ''}:"
        )
        for number, choice in enumerate(shown[:20], start=1):
            ui.say(f"  {number:>2}. {choice.label}")
        if len(shown) > 20:
            ui.say(f"  ... and {len(shown) - 20} more: type part of a name to filter.")
        answer = ask_with_words(
            prompt_label(
                f"{side.choice_label.capitalize()}: number, name or id (or text to filter)"
            ),
            about,
            can_go_back=can_go_back,
        )
        if answer.isdigit() and 1 <= int(answer) <= min(len(shown), 20):
            return shown[int(answer) - 1]
        exact = [
            c for c in options if answer in (c.id, c.name) or c.name.casefold() == answer.casefold()
        ]
        if len(exact) == 1:
            return exact[0]
        narrowed = [c for c in options if answer.casefold() in c.label.casefold()]
        if len(narrowed) == 1:
            return narrowed[0]
        if not narrowed:
            ui.say(f"  No {side.choice_label} matches {answer!r}; all of them again.")
        shown = narrowed or options


def show_calls(walk: Walkthrough, result: SideResult, opts: InstallOptions) -> None:
    """The calls, before any write: the reads made, then the writes (bodies hold no
    secret; the key is shown masked)."""
    if opts.json_output:
        return
    side, plan = result.side, result.plan
    auth = {name: mask_auth(value) for name, value in side.auth(result.key).items()}
    ui.say(f"\n{side.system} API (key from {result.key_origin}; {auth_line(auth)}):", style="bold")
    for call in result.reads:
        ui.say(f"  read:  {call.shown()}")
    if plan.existing is not None:
        ui.say(f"  found: {plan.existing.description}: reused, nothing to create.")
    for call in plan.writes:
        ui.say(f"  {'would ' if opts.dry_run else ''}{call.what}:")
        ui.say(f"    {call.shown()}")


def mask_auth(value: str) -> str:
    from bp_integrate.redact import mask_header_value

    return (
        mask_header_value(value)
        if "token" not in value.lower()
        else value.split("=", 1)[0] + f"={MASK}"
    )


def auth_line(headers: Mapping[str, str]) -> str:
    return ", ".join(
        f"{name}: {value}" for name, value in headers.items() if name == "Authorization"
    )


def report_dry_run(
    walk: Walkthrough, side: SideResult | None, opts: InstallOptions, checked: bool = False
) -> None:
    """A dry run ends here: nothing was created, nothing saved. `checked`: the walkthrough
    ran, and every value passed the install's checks."""
    if opts.json_output:
        ui.emit_json(
            {
                "integration": walk.spec.name,
                "dry_run": True,
                "checked": checked,
                "by_api": side.to_json() if side else None,
            }
        )
        return
    valid = "every value is valid; " if checked else ""
    if side is None:
        ui.say(
            f"Dry run: {valid}{walk.spec.title} is set up by hand (no API call to show); "
            "nothing saved."
        )
        return
    ui.say(f"Dry run: {valid}nothing was created in {side.side.system}, nothing saved.")


@dataclass
class SideNotice:
    """The target's side as far as it got (set late when it is made after the
    walkthrough), for `created_notice`."""

    side: SideResult | None


@contextmanager
def created_notice(walk: Walkthrough, notice: SideNotice) -> Iterator[None]:
    """If the install fails after the target's side was created, say what exists there
    and that the next run finds and reuses it (nothing is left half made unknowingly)."""
    try:
        yield
    except BaseException:
        side = notice.side
        if side is not None and side.made is not None and side.made.created:
            again = f"install {walk.spec.name}"
            if side.plan.choice is not None:
                again += f" {side.side.choice_flag} {side.plan.choice.id}"
            ui.warn(
                f"{side.side.system} now has {side.made.description} ({side.made.where}), "
                f"but nothing was saved here. Run {command_for(walk.profile, again)} again: "
                "it finds it and reuses it (no duplicate)."
            )
        raise


def keep_api_key(walk: Walkthrough, side: SideResult | None) -> str | None:
    """Keep a key given at the prompt or on stdin as the read-back key (keyring), so
    verify and uninstall can use it; what was done, in words (None: nothing to say)."""
    if side is None or side.key_origin not in ("the prompt", "--api-key-stdin"):
        return None
    if not side.side.key_field:  # the profile's key (BigPanda's): `profile set` keeps it
        return None
    if walk.store_kind != "keyring":
        return (
            f"The {side.side.key_label} was used, not stored: set "
            f"{api_key_env(walk.spec, walk.profile)} when uninstall should use it."
        )
    _stored, kind = keep_readback(walk.profile, walk.spec, {side.side.key_field: side.key})
    return (
        f"The {side.side.key_label} is kept {where_kept(kind)} as {walk.spec.title}'s "
        "read-back key (verify reads back with it; uninstall removes it)."
    )
