"""Placeholder: being built."""

from __future__ import annotations

import typer


def demo_command(ctx: typer.Context) -> None:
    """Not built yet."""
    raise typer.Exit(1)
