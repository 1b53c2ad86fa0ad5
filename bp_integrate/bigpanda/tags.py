"""BigPanda's rule for tag names [C], in one place: the simulator, the body's `--set`
tags, scenarios and the integrations' tag fields all check names through it. Stdlib only.
"""

from __future__ import annotations

import re

from bp_integrate.errors import UsageError

TAG_NAME_MAX = 64
_TAG_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


def validate_tag_name(name: str) -> str:
    """`name` unchanged if BigPanda accepts it as a tag name, else a UsageError with a fix.

    BigPanda's rule [C]: lowercase `a-z0-9_-`, starting with a letter, at most 64 characters.
    """
    if _TAG_NAME.fullmatch(name):
        return name
    if not name:
        raise UsageError("A tag name is empty.", "Tag names look like `env` or `service_name`.")
    if len(name) > TAG_NAME_MAX:
        problem = f"is {len(name)} characters long (at most {TAG_NAME_MAX})"
    elif not name[0].isalpha() or not name[0].isascii():
        problem = "must start with a letter"
    elif name != name.lower():
        problem = "must be lowercase"
    else:
        problem = "may only contain a-z, 0-9, '_' and '-'"
    fixed = re.sub(r"[^a-z0-9_-]+", "_", name.lower()).strip("_")
    fixed = re.sub(r"^[^a-z]+", "", fixed)[:TAG_NAME_MAX]
    hint = "Tag names are lowercase a-z, 0-9, '_' and '-', start with a letter, ≤ 64 characters"
    hint += f"; try '{fixed}'." if fixed and _TAG_NAME.fullmatch(fixed) else "."
    raise UsageError(f"'{name}' is not a BigPanda tag name: it {problem}.", hint)
