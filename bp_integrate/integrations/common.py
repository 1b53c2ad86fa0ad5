"""Checks shared by several integrations (tag names, App Keys, BigPanda keys)."""

from __future__ import annotations

from collections.abc import Mapping

# BigPanda's tag rule lives with BigPanda (bigpanda/tags.py); re-exported for the fields here.
from bp_integrate.bigpanda.tags import validate_tag_name as validate_tag_name
from bp_integrate.errors import UsageError


def check_tag_name(value: str, _values: Mapping[str, str] | None = None) -> str:
    """`validate_tag_name` as a field check."""
    return validate_tag_name(value)


def check_token(value: str, _values: Mapping[str, str] | None = None) -> str:
    """A key pasted from a web page: no spaces inside (a sign of a bad copy)."""
    if any(c.isspace() for c in value):
        raise UsageError(
            "The key contains spaces or line breaks.",
            "Copy the key again, without surrounding text.",
        )
    return value


def check_name_list(value: str, _values: Mapping[str, str] | None = None) -> str:
    """A comma-separated list of names, normalised: `Cloud Devops, alice, ,` ->
    `Cloud Devops, alice` (each name trimmed, empty ones dropped)."""
    return ", ".join(name.strip() for name in value.split(",") if name.strip())
