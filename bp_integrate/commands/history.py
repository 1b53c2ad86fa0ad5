"""Placeholder: being built."""

from __future__ import annotations

import typer


def history_command(ctx: typer.Context) -> None:
    """Not built yet."""
    raise typer.Exit(1)
