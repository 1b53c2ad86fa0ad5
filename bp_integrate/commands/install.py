"""`bp-integrate install`: the walkthrough, interactive or fully scripted."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated

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
from bp_integrate.commands.show import render_paste
from bp_integrate.errors import BPError, ExitCode, UsageError, command_for
from bp_integrate.integrations import get
from bp_integrate.integrations.base import Field, Integration, Step
from bp_integrate.secrets import StoreKind
from bp_integrate.store import load_values, save, split_secrets
from bp_integrate.urls import MASK, mask_url
from bp_integrate.wizard import BACK, Sources, load_answers, parse_sets, paste, run


class TerminalPrompter:
    """Asks on the terminal (stderr), re-asking until a value is valid.

    Each hint line is printed once per step: re-asking after an empty or bad value
    repeats only the error.
    """

    def __init__(self, profile: str, show_secrets: bool) -> None:
        self.profile = profile
        self.show_secrets = show_secrets
        self._hinted: set[str] = set()

    def _hint(self, text: str | None, style: str | None = "dim") -> None:
        if text and text not in self._hinted:
            self._hinted.add(text)
            ui.prose(text, indent=2, style=style)

    def _label(self, text: str) -> str:
        """A prompt's text, wrapped at words like prose (the answer follows its end)."""
        con = ui.err()
        if not con.is_terminal:
            return f"  {text}"
        # Room for the default and the answer: a wrapped label ends well before the edge.
        return ui.wrapped(text, con.width - 12, indent=2)

    def step(self, number: int, total: int, step: Step) -> None:
        self._hinted.clear()
        con = ui.err()
        con.print()
        con.print(f"Step {number}/{total} - {step.system}: {step.title}", style="bold cyan")
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
        answer = typer.prompt(
            self._label(field.label), default=default or "", show_default=bool(default), err=True
        )
        return answer

    def show_paste(self, integration: Integration, values: Mapping[str, str]) -> None:
        def line(text: str, style: str | None = None) -> None:
            ui.err().print(text, style=style)

        reveal = self.show_secrets
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
    on_terminal = _real_tty()
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


def _real_tty() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def open_checked_store(kind: StoreKind) -> None:
    """Fail before any question if the chosen store cannot work; warn about a plain file."""
    from bp_integrate.secrets import INSECURE_FILE, open_store

    open_store(kind).check()
    if kind == "file":
        ui.warn(
            f"--insecure-storage: secrets are kept in plain text in {INSECURE_FILE} "
            "(mode 0600) in the config folder. Anyone who can read it can use them."
        )


def install_command(
    ctx: typer.Context,
    integration: IntegrationArg,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="FIELD=VALUE",
            help="Give a setting of the integration (not a secret). Here --set is a "
            "setting; on send-test and replay it edits the event body.",
        ),
    ] = None,
    answers: Annotated[
        Path | None,
        typer.Option("--answers", metavar="FILE.yaml", help="Settings from a YAML file."),
    ] = None,
    secret_stdin: Annotated[
        list[str] | None,
        typer.Option(
            "--secret-stdin", metavar="FIELD", help="Read this secret from a line of stdin."
        ),
    ] = None,
    no_input: NoInputOpt = False,
    secret_store: SecretStoreOpt = None,
    insecure_storage: InsecureStorageOpt = False,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Do not check BigPanda API keys against BigPanda.")
    ] = False,
    show_secrets: ShowSecretsOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Walk through setting up an integration, then print what to paste into BigPanda.

    --set FIELD=VALUE here gives a setting of the integration (on send-test and replay,
    --set edits the event body instead).

    Examples:

    bp-integrate install xmatters

    bp-integrate -p prod install pagerduty --secret-store env --no-input

    bp-integrate install xmatters --set auth=basic --set username=bp --secret-stdin password

    bp-integrate install panopta --answers examples/answers/panopta.yaml --json
    """
    profile = ctx.obj.profile
    spec = get(integration)
    cfg = config.load()
    sets = parse_sets(set_ or [], spec)
    file_answers = load_answers(answers, spec) if answers else {}
    existing = cfg.get(profile, spec.name)
    store_kind = store_kind_of(
        secret_store, insecure_storage, existing.secret_store if existing else None
    )
    open_checked_store(store_kind)
    # An update starts from the stored values; one whose secret is gone is asked again.
    current = (
        load_values(spec, existing, profile, with_secrets=True, strict=False) if existing else {}
    )
    secrets = read_secret_stdin(secret_stdin or [], spec)
    interactive = not no_input and not json_output and ui.stdin_is_tty()
    sources = Sources(sets, file_answers, secrets, os.environ, interactive)
    prompter = TerminalPrompter(profile, show_secrets) if interactive else None
    if interactive:
        verb = "Updating" if existing else "Installing"
        ui.say(f"{verb} {spec.title} in profile {profile!r}. Ctrl-C at any point saves nothing.")
        if store_kind == "env":
            ui.prose(
                "--secret-store env: secrets are read from environment variables when used, "
                "never stored. What you type is checked, then not kept: the variables to "
                "export are listed at the end."
            )
    verifier: Callable[[str], int] | None = None
    if not no_verify:
        from bp_integrate.bigpanda.api import check_key

        api_url = cfg.api_url(profile)

        def verifier(key: str) -> int:
            return check_key(api_url, key)  # how many environments the key sees

    plan = run(spec, current, sources, prompter, verifier)
    if not interactive:
        for message in plan.warnings:
            ui.warn(message)
    # Paste items to compare before `save`: an update says what BigPanda needs again.
    before = _paste_values(spec, current) if existing else None
    save(cfg, spec, profile, plan.values, store_kind)
    unexported = _not_exported(spec, plan.values) if store_kind == "env" else []
    # Secrets stay masked unless asked for by flag: a terminal may be shared or recorded.
    reveal = show_secrets
    doc = paste(spec, plan.values, profile, show_secrets=reveal)
    doc["changed"] = plan.changed
    doc["warnings"] = plan.warnings
    doc["secret_store"] = store_kind
    doc["not_exported"] = [variable for variable, _ in unexported]
    again = _paste_again(spec, before, plan.values) if before is not None else None
    if again is not None:
        doc["paste_again"] = again
    if json_output:
        ui.emit_json(doc)
        return
    verb = "Updated" if existing else "Installed"
    ui.success(f"\n{verb} {spec.title} in profile {profile!r} (secrets: {store_kind}).")
    render_paste(doc)
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
    ui.say(f"Test it: {command_for(profile, f'send-test incident#new --to {spec.name} --dry-run')}")
    if interactive and not unexported:
        offer_test_send(ctx, spec)
    if spec.readback_fields:
        # Read-back credentials live in the keyring (or BP_INTEGRATE_* variables), as
        # `profile set --readback` keeps them.
        if interactive and store_kind == "keyring":
            offer_readback(profile, spec)
        else:
            ui.say(
                "For bp-integrate verify to read events back at the target: "
                f"{command_for(profile, f'profile set --readback {spec.name}')}"
            )


def offer_readback(profile: str, spec: Integration) -> None:
    """Opt in to `verify`'s read-back (default No): the target API credentials that let
    verify find what BigPanda shared, kept in the keyring."""
    from bp_integrate.readback import store_creds

    try:
        wanted = typer.confirm(
            f"Set up read-back so `bp-integrate verify` can find events in {spec.title}?",
            default=False,
            err=True,
        )
        if not wanted:
            return
        answers = {}
        for f in spec.readback_fields:
            ui.say(f"  {f.help}", style="dim")
            answers[f.name] = str(
                typer.prompt(
                    f"  {f.label}" + (" (hidden input)" if f.secret else ""),
                    default=f.default,
                    hide_input=f.secret,
                    err=True,
                )
            )
    except (typer.Abort, KeyboardInterrupt, EOFError):
        ui.say("\nNo read-back set up; the install is saved.")
        return
    stored = store_creds(spec, profile, answers)
    if stored:
        from bp_integrate.fs import locked

        cfg = config.load()
        with locked(cfg.path, f"the config file {cfg.path}"):
            cfg = config.load()
            cfg.set_readback_stored(profile, spec.name, stored)  # removed with the install
            cfg.save()
        ui.success(f"Read-back credentials kept in the keyring ({', '.join(stored)}).")


def offer_test_send(ctx: typer.Context, spec: Integration) -> None:
    """One real test event (default No), sent exactly as `send-test` sends it.

    The install is saved by now: Ctrl-C or end of input here is a No, not an
    "Interrupted: nothing was changed"."""
    ui.say("")
    ui.prose(
        f"A test event (incident#new) reaches the real {spec.title} and may notify people; "
        "it is marked [TEST] and recorded in the history, like send-test."
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


def _not_exported(spec: Integration, values: Mapping[str, str]) -> list[tuple[str, str]]:
    """(variable, value) of each secret the environment does not hold as given: under
    --secret-store env nothing else keeps it."""
    from bp_integrate.secrets import env_var
    from bp_integrate.urls import query_value

    out: list[tuple[str, str]] = []
    for entry, value in split_secrets(spec, values)[1].items():
        variable = env_var(spec.name, entry)
        if os.environ.get(variable) == value:
            continue
        url_field, dot, param = entry.partition(".")
        whole_url = os.environ.get(env_var(spec.name, url_field), "")
        if dot and query_value(whole_url, param) == value:
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
