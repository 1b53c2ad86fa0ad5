"""Checks shared by several integrations (tag names, App Keys, BigPanda keys)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bp_integrate.errors import UsageError

TAG_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def check_tag_name(value: str, _values: Mapping[str, str] | None = None) -> str:
    """BigPanda tag names: lowercase a-z0-9_-, start with a letter, at most 64 characters."""
    if not TAG_RE.match(value):
        reason = (
            "is longer than 64 characters"
            if len(value) > 64
            else "must start with a lowercase letter and use only a-z, 0-9, '_' and '-'"
        )
        raise UsageError(
            f"{value!r} is not a BigPanda tag name: it {reason}.",
            f"Use the tag's name as BigPanda shows it, e.g. {value.lower().strip()[:64]!r}"
            if value.lower() != value
            else "Tag names look like 'pd_routing_key' or 'service-owner'.",
        )
    return value


def check_token(value: str, _values: Mapping[str, str] | None = None) -> str:
    """A key pasted from a web page: no spaces inside (a sign of a bad copy)."""
    if any(c.isspace() for c in value):
        raise UsageError(
            "The key contains spaces or line breaks.",
            "Copy the key again, without surrounding text.",
        )
    return value
