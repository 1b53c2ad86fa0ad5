"""Options and helpers shared by several commands."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

import typer

from bp_integrate.errors import UsageError
from bp_integrate.integrations import NAMES
from bp_integrate.secrets import STORE_KINDS, StoreKind

if TYPE_CHECKING:
    from bp_integrate.integrations.base import Integration

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout (for scripts).")]
ShowSecretsOpt = Annotated[
    bool, typer.Option("--show-secrets", help="Show secrets in full instead of ****.")
]
NoInputOpt = Annotated[
    bool,
    typer.Option(
        "--no-input",
        envvar="BP_INTEGRATE_NO_INPUT",
        help="Never prompt; fail if a value is missing.",
    ),
]


def complete_integration(incomplete: str) -> list[str]:
    return [name for name in NAMES if name.startswith(incomplete)]


def complete_run_id(incomplete: str) -> list[str]:
    """`replay --from-run`: the recorded run ids (newest first), not file names."""
    try:
        from bp_integrate.history import run_files

        return [p.stem for p in run_files() if p.stem.startswith(incomplete)]
    except Exception:  # completion must never fail loudly
        return []


def complete_field_key(ctx: typer.Context, incomplete: str) -> list[str]:
    """`show INTEGRATION --field`: what it can print (the paste items of the profile's
    install, then its settings), not file names; the integration's field names when it
    is not installed. The integration is read from the words typed: a parse that stops
    at the unfinished `--field` leaves it in `ctx.args`, not in `ctx.params`."""
    words = [*ctx.args, *ctx.meta.get("bp_argv", [])]
    named = [a for a in words if a in NAMES]
    try:
        from bp_integrate import config
        from bp_integrate.integrations import get

        spec = get(str(ctx.params.get("integration") or (named[-1] if named else "")))
    except Exception:  # completion must never fail loudly
        return []
    keys = [f.name for f in spec.fields]
    try:
        from bp_integrate.store import load_values
        from bp_integrate.wizard import paste

        profile = str(ctx.find_root().params.get("profile") or config.DEFAULT_PROFILE)
        item = config.load().get(profile, spec.name)
        if item is not None:
            values = load_values(spec, item, profile, with_secrets=False, strict=False)
            doc = paste(spec, values, profile, show_secrets=False)
            keys = [i["key"] for i in doc["paste"]] + [k for k in doc["settings"] if k not in keys]
            keys += [f.name for f in spec.fields if f.name not in keys]
    except Exception:  # a damaged install: the field names still complete
        pass
    return [k for k in dict.fromkeys(keys) if k.startswith(incomplete)]


IntegrationArg = Annotated[
    str,
    typer.Argument(
        help=f"One of: {', '.join(NAMES)}.",
        autocompletion=complete_integration,
        show_default=False,
    ),
]


#: profile set and verify-setup: agree beforehand to a move of verify's stored secrets
#: to the env store (which keeps nothing, so they are deleted from their store).
YesMoveOpt = Annotated[
    bool,
    typer.Option(
        "--yes",
        "-y",
        help="Do not ask before moving verify's stored secrets to --secret-store env "
        "(which deletes them from their store).",
    ),
]
SecretStoreOpt = Annotated[
    str | None,
    typer.Option(
        "--secret-store",
        metavar="STORE",
        help="Where secrets go: keyring (default; an update keeps the current choice), env "
        "(not stored: read from each secret's BP_INTEGRATE_ variable at use), file (plain "
        "text, 0600).",
        show_default=False,
    ),
]
InsecureStorageOpt = Annotated[
    bool,
    typer.Option(
        "--insecure-storage",
        help="Keep secrets in a plain-text 0600 file (same as --secret-store file).",
    ),
]


def store_kind_of(
    secret_store: str | None, insecure_storage: bool, current: StoreKind | None = None
) -> StoreKind:
    """--secret-store / --insecure-storage, checked (shared with `profile set`).

    Neither given: the store the secrets are in now (`current`), else the keyring.
    """
    if secret_store is None and not insecure_storage:
        return current or "keyring"
    secret_store = secret_store or "keyring"
    if insecure_storage and secret_store not in ("keyring", "file"):
        raise UsageError(
            f"--insecure-storage and --secret-store {secret_store} contradict each other.",
            "Choose one.",
        )
    kind = "file" if insecure_storage else secret_store
    for choice in STORE_KINDS:
        if kind == choice:
            return choice
    raise UsageError(f"--secret-store {kind!r} is unknown.", "Use keyring, env or file.")


def scripted_answers(
    spec: Integration, values: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """An install's answers as a script gives them: (the secret ones as the environment
    variables `install --no-input` reads, the others as `--set` values)."""
    from bp_integrate.secrets import env_var

    secret = {f.name for f in spec.fields if f.secret or f.url_with_secrets}
    environ = {env_var(spec.name, k): v for k, v in values.items() if k in secret}
    return environ, {k: v for k, v in values.items() if k not in secret}
