"""Placeholder: being built."""

from __future__ import annotations

import typer


def replay_command(ctx: typer.Context) -> None:
    """Not built yet."""
    raise typer.Exit(1)
