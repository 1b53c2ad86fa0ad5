"""`bp-integrate install`: the walkthrough, interactive or fully scripted."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from bp_integrate import config, ui
from bp_integrate.commands.common import IntegrationArg, JsonOpt, NoInputOpt
from bp_integrate.commands.show import render_paste
from bp_integrate.errors import BPError, UsageError
from bp_integrate.integrations import get
from bp_integrate.integrations.base import Field, Integration, Step
from bp_integrate.secrets import STORE_KINDS, StoreKind
from bp_integrate.store import load_values, save
from bp_integrate.wizard import Sources, load_answers, parse_sets, paste, run


class TerminalPrompter:
    """Asks on the terminal (stderr), re-asking until a value is valid."""

    def step(self, number: int, total: int, step: Step) -> None:
        con = ui.err()
        con.print()
        con.print(f"Step {number}/{total} - {step.system}: {step.title}", style="bold cyan")
        con.print(f"  {step.text}")
        if step.confidence == "G":
            con.print("  (Part of this step is our reconstruction; see the docs.)", style="dim")

    def ask(self, field: Field, default: str | None) -> str:
        ui.err().print(f"  {field.help}", style="dim")
        answer: str = typer.prompt(
            f"  {field.label}", default=default or "", show_default=bool(default), err=True
        )
        return answer

    def ask_secret(self, field: Field, has_current: bool) -> str:
        ui.err().print(f"  {field.help}", style="dim")
        suffix = " (Enter keeps the stored one)" if has_current else ""
        optional = " (Enter to skip)" if not field.required and not has_current else ""
        answer: str = typer.prompt(
            f"  {field.label}{suffix}{optional}",
            default="",
            hide_input=True,
            show_default=False,
            err=True,
        )
        return answer

    def checkpoint(self, step: Step) -> None:
        while not typer.confirm(f"  Done with '{step.title}'?", default=True, err=True):
            ui.say("  Take your time; finish the step, then answer y (Ctrl-C stops, saving nothing).")

    def warn(self, message: str) -> None:
        ui.warn(message)

    def invalid(self, error: BPError) -> None:
        ui.err().print(f"  {error.message}", style="red")
        if error.hint:
            ui.err().print(f"  {error.hint}")


def read_secret_stdin(fields: list[str], integration: Integration) -> dict[str, str]:
    """`--secret-stdin FIELD`: one line per named field, in order, from stdin."""
    secrets: dict[str, str] = {}
    for name in fields:
        f = integration.field(name)
        if not f.secret:
            raise UsageError(
                f"{name} is not a secret; --secret-stdin is for secrets.", f"Use --set {name}=..."
            )
        line = sys.stdin.readline()
        if not line:
            raise UsageError(
                f"--secret-stdin {name}: standard input ended before the value.",
                "Pipe one line per --secret-stdin field, e.g. printf '%s\\n' \"$KEY\" | ...",
            )
        secrets[name] = line.rstrip("\r\n")
    return secrets


def install_command(
    ctx: typer.Context,
    integration: IntegrationArg,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="FIELD=VALUE", help="Give a setting (not a secret)."),
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
    secret_store: Annotated[
        str,
        typer.Option(
            "--secret-store",
            help="Where secrets go: keyring (default), env (not stored: read from "
            "BP_INTEGRATE_<INTEGRATION>_<FIELD> at use), file (plain text, 0600).",
        ),
    ] = "keyring",
    insecure_storage: Annotated[
        bool,
        typer.Option(
            "--insecure-storage",
            help="Keep secrets in a plain-text 0600 file (same as --secret-store file).",
        ),
    ] = False,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Do not check BigPanda API keys against BigPanda.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Walk through setting up an integration, then print what to paste into BigPanda."""
    profile: str = ctx.obj
    spec = get(integration)
    kind = "file" if insecure_storage else secret_store
    if kind not in STORE_KINDS:
        raise UsageError(f"--secret-store {kind!r} is unknown.", "Use keyring, env or file.")
    store_kind: StoreKind = kind  # type: ignore[assignment]
    cfg = config.load()
    sets = parse_sets(set_ or [], spec)
    file_answers = load_answers(answers, spec) if answers else {}
    secrets = read_secret_stdin(secret_stdin or [], spec)
    interactive = not no_input and not json_output and not secret_stdin and ui.stdin_is_tty()
    existing = cfg.get(profile, spec.name)
    current = load_values(spec, existing, profile, with_secrets=True) if existing else {}
    sources = Sources(sets, file_answers, secrets, os.environ, interactive)
    prompter = TerminalPrompter() if interactive else None
    if interactive:
        verb = "Updating" if existing else "Installing"
        ui.say(f"{verb} {spec.title} in profile {profile!r}. Ctrl-C at any point saves nothing.")
    verifier = None
    if not no_verify:
        from bp_integrate.bigpanda import key_checker

        verifier = key_checker(cfg.api_url(profile))
    plan = run(spec, current, sources, prompter, verifier)
    if not interactive:
        for message in plan.warnings:
            ui.warn(message)
    save(cfg, spec, profile, plan.values, store_kind)
    doc = paste(spec, plan.values, profile, show_secrets=False)
    doc["changed"] = plan.changed
    doc["warnings"] = plan.warnings
    doc["secret_store"] = store_kind
    if json_output:
        ui.emit_json(doc)
        return
    verb = "Updated" if existing else "Installed"
    ui.success(f"\n{verb} {spec.title} in profile {profile!r} (secrets: {store_kind}).")
    render_paste(doc)
    ui.say(f"Test it: bp-integrate send-test incident#new --to {spec.name} --dry-run")
