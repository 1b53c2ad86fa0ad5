"""`bp-integrate set INTEGRATION FIELD`: change one secret or setting of an installed
integration without the walkthrough (rotate a key), then say what to paste again.

The value comes from a hidden prompt or one line of stdin (never the command line), is
checked by the field's own check, and is stored where that install keeps its values
(`store.save`, in the store the install chose). What changed in what the admin pastes
is worked out from the integration's own `paste()` before and after.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bp_integrate import ui
from bp_integrate.commands.common import IntegrationArg, JsonOpt
from bp_integrate.errors import SecretsError, UsageError

if TYPE_CHECKING:
    from bp_integrate.app import App
    from bp_integrate.config import Installed
    from bp_integrate.integrations.base import Field, Integration, PasteItem


def complete_field(ctx: typer.Context, incomplete: str) -> list[str]:
    try:
        from bp_integrate.integrations import get

        spec = get(str(ctx.params.get("integration") or ""))
    except Exception:  # completion must never fail loudly
        return []
    return [f.name for f in spec.fields if f.name.startswith(incomplete)]


@dataclass(frozen=True)
class SetRequest:
    integration: str
    field: str
    from_stdin: bool = False
    dry_run: bool = False


@dataclass
class SetResult:
    """What `set` did (or, in a dry run, would do); values shown masked."""

    profile: str
    integration: Integration
    target: Field
    store: str
    #: Where the value is kept, for the admin (`kept_in`).
    kept: str
    before: str
    after: str
    changed: bool
    dry_run: bool
    paste_again: list[PasteItem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "integration": self.integration.name,
            "field": self.target.name,
            "secret": is_secret(self.target),
            "store": self.store,
            "before": self.before,
            "after": self.after,
            "changed": self.changed,
            "dry_run": self.dry_run,
            "paste_into": self.integration.paste_target,
            "paste_again": [item.to_json(False) for item in self.paste_again],
        }


def is_secret(f: Field) -> bool:
    return f.secret or f.url_with_secrets


def kept_in(target: Field, value: str, store: str) -> str:
    """Where `set` keeps a value: a secret in the install's store; a URL in the settings
    file, any key it carries (`?apiKey=`) in the store; any other setting in the file."""
    from bp_integrate.urls import split_url_secrets

    if target.secret:
        return f"the {store} store"
    keys = split_url_secrets(value)[1] if target.url_with_secrets else {}
    if keys:
        return f"the settings file, its {'key' if len(keys) == 1 else 'keys'} in the {store} store"
    return "the settings file"


def set_command(
    ctx: typer.Context,
    integration: IntegrationArg,
    field_name: Annotated[
        str,
        typer.Argument(
            metavar="FIELD",
            help="The field to change: a secret (password, integration_key, secret...) or a "
            "setting (recipients...). bp-integrate show INTEGRATION --json lists them.",
            autocompletion=complete_field,
            show_default=False,
        ),
    ],
    stdin: Annotated[
        bool,
        typer.Option("--stdin", help="Read the new value from one line of stdin (for scripts)."),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Check the value and show what would change; store nothing."
        ),
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Change one secret or setting of an installed integration (rotate a key).

    The new value is asked with a hidden prompt (or read from one line of stdin with
    --stdin), checked as install checks it, and stored where the install keeps its
    values; then it says what to paste again (masked). The other values are kept.

    Examples:

    bp-integrate set xmatters password

    printf '%s\\n' "$NEW_KEY" | bp-integrate set pagerduty integration_key --stdin

    bp-integrate set xmatters recipients --dry-run
    """
    request = SetRequest(integration, field_name, stdin, dry_run)
    result = run_set(ctx.obj, request)
    render(result, ctx.obj, json_output)


def run_set(app: App, request: SetRequest) -> SetResult:
    """Check, then store (unless a dry run) one new value; what changed for the admin."""
    from bp_integrate.integrations import get
    from bp_integrate.store import require_installed

    spec = get(request.integration)
    item = require_installed(app.config, app.profile, spec.name)
    target = spec.field(request.field)  # an unknown field: the nearest name
    current = current_values(spec, item, app.profile, request)
    if not target.applies(current):
        raise UsageError(
            f"{spec.name}.{target.name} does not apply to this install's settings.",
            f"See them with {app.hint(f'show {spec.name}')}; install again to change the setup.",
        )
    if is_secret(target) and item.secret_store == "env" and not request.dry_run:
        from bp_integrate.secrets import env_var

        variable = env_var(spec.name, target.name, app.profile)
        reinstall = app.hint(f"install {spec.name} --secret-store keyring")
        raise UsageError(
            f"This install of {spec.title} keeps its secrets in environment variables "
            "(--secret-store env): there is nothing stored to change.",
            f"Set {variable} to the new value wherever bp-integrate runs, or store it: "
            f"{reinstall}.",
        )
    raw = read_value(target, request)
    new = target.validate(raw, current)
    from bp_integrate.wizard import identity_changed

    renamed = identity_changed(spec, target, current.get(target.name, ""), new, app.profile)
    if renamed is not None:  # a new one on the target's side, the old one left behind
        raise renamed
    updated = {**current, target.name: new}
    for warning in spec.warnings(updated):
        ui.warn(warning)
    before, after = paste_items(spec, current), paste_items(spec, updated)
    result = SetResult(
        profile=app.profile,
        integration=spec,
        target=target,
        store=item.secret_store,
        kept=kept_in(target, new, item.secret_store),
        before=shown_value(target, current.get(target.name, "")),
        after=shown_value(target, new),
        changed=new != current.get(target.name),
        dry_run=request.dry_run,
        paste_again=[
            i for i in after.values() if i.value != getattr(before.get(i.key), "value", _GONE)
        ],
    )
    if result.changed and not request.dry_run:
        from bp_integrate.store import save

        save(app.config, spec, app.profile, updated, item.secret_store)
    return result


_GONE = object()


def current_values(
    spec: Integration, item: Installed, profile: str, request: SetRequest
) -> dict[str, str]:
    """The install's values as they are used, secrets real: what the new one joins.

    Storing writes them all back, so a secret the store does not have, or one an
    environment variable supplies instead of the store, would be written as it is
    here: refused, naming the fix (a dry run stores nothing and needs neither).
    """
    from bp_integrate.secrets import env_var
    from bp_integrate.store import load_values

    missing: list[str] = []
    try:
        values = load_values(spec, item, profile, with_secrets=True, strict=False, missing=missing)
    except SecretsError:
        if not request.dry_run:
            raise
        return load_values(spec, item, profile, with_secrets=False, strict=False)
    if request.dry_run or item.secret_store == "env":
        return values
    # The secrets this value replaces (a URL's keys go with the URL) need not be there.
    others = [s for s in item.secret_fields if s.partition(".")[0] != request.field]
    missing = [m for m in missing if m in {env_var(spec.name, s, profile) for s in others}]
    if missing:
        raise SecretsError(
            f"Other secrets of {spec.title} are missing from its {item.secret_store} store "
            f"({', '.join(missing)}), and storing this value writes them all back.",
            f"Run bp-integrate --profile {profile} install {spec.name} to enter them again.",
        )
    overriding = [
        env_var(spec.name, s, profile)
        for s in others
        if os.environ.get(env_var(spec.name, s, profile))
        or ("." in s and os.environ.get(env_var(spec.name, s.partition(".")[0], profile)))
    ]
    if overriding:
        raise UsageError(
            f"{', '.join(overriding)} is set and overrides the stored secret: storing this "
            f"value would store the variable's value for profile {profile!r} too.",
            f"Run it without the variable: env -u {overriding[0]} bp-integrate ...",
        )
    return values


def read_value(target: Field, request: SetRequest) -> str:
    """The new value: one line of stdin, or a prompt (hidden for a secret)."""
    if request.from_stdin:
        from bp_integrate.loading import read_stdin_line

        hint = f"Pipe the new {target.label} on one line, e.g. printf '%s\\n' \"$VALUE\" | ..."
        raw = read_stdin_line("--stdin", hint)
        if raw is None:
            raise UsageError(f"--stdin: no {target.label} on standard input.", hint)
        return raw
    if not ui.stdin_is_tty():
        raise UsageError(
            f"The new {target.label} is asked on the terminal, but stdin is not a terminal.",
            "Pipe it in with --stdin (never put a secret on the command line).",
        )
    ui.prose(target.help)
    hidden = is_secret(target)
    label = f"New {target.label}" + (" (hidden input)" if hidden else "")
    return str(typer.prompt(label, hide_input=hidden, err=True))


def paste_items(spec: Integration, values: dict[str, str]) -> dict[str, PasteItem]:
    """{key: item} of what the admin pastes with these values ({} if they are incomplete)."""
    try:
        return {item.key: item for item in spec.paste(values)}
    except (KeyError, NotImplementedError, UsageError):
        return {}


def shown_value(target: Field, value: str) -> str:
    """A value as it may be shown: a secret masked (a URL keeps all but its keys)."""
    from bp_integrate.urls import MASK, mask_url

    if target.url_with_secrets:
        return mask_url(value)
    if target.secret:
        return MASK if value else "(none)"
    return value or "(empty)"


def render(result: SetResult, app: App, json_output: bool) -> None:
    if json_output:
        ui.emit_json(result.to_json())
        return
    spec, name = result.integration, f"{result.integration.name}.{result.target.name}"
    if not result.changed:
        ui.say(f"{name} is already that value: nothing changed, nothing to paste again.")
        return
    change = "" if result.target.secret else f": {result.before} -> {result.after}"
    if result.dry_run:
        ui.say(f"Dry run: {name} would change{change} (in {result.kept}). Nothing was stored.")
    else:
        ui.success(f"{name} changed{change} (in {result.kept}, profile {result.profile!r}).")
    if not result.paste_again:
        ui.prose(f"Nothing to paste again: {spec.paste_target} keeps what it has.")
        return
    verb = "would need" if result.dry_run else "needs"
    ui.prose(
        f"{spec.paste_target} {verb} the new value{'s' if len(result.paste_again) > 1 else ''}:"
    )
    for item in result.paste_again:
        label = f"{item.header} header" if item.header else item.label
        ui.data(f"paste the new {label} into {spec.paste_target}:")
        shown = item.shown(False)
        ui.data(shown if isinstance(shown, str) else "(the JSON payload)")
    ui.prose(
        "Each value in full, for pasting: "
        + app.hint(f"show {spec.name} --field {result.paste_again[0].key} --show-secrets")
    )
