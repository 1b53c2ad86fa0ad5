"""Options and helpers shared by several commands."""

from __future__ import annotations

from typing import Annotated

import typer

from bp_integrate.integrations import NAMES

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout (for scripts).")]
ShowSecretsOpt = Annotated[
    bool, typer.Option("--show-secrets", help="Show secrets in full instead of ****.")
]
NoInputOpt = Annotated[
    bool,
    typer.Option(
        "--no-input", envvar="BP_INTEGRATE_NO_INPUT", help="Never prompt; fail if a value is missing."
    ),
]


def complete_integration(incomplete: str) -> list[str]:
    return [name for name in NAMES if name.startswith(incomplete)]


IntegrationArg = Annotated[
    str,
    typer.Argument(
        help=f"One of: {', '.join(NAMES)}.",
        autocompletion=complete_integration,
        show_default=False,
    ),
]
