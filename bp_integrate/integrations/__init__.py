"""The registry of integrations: one module each in this package, found by name.

A new integration is one new module here defining `INTEGRATION`; nothing else names
it. Listing the names reads this folder (no module is imported until one is used).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from bp_integrate.errors import UsageError, nearest
from bp_integrate.integrations.base import Integration

#: Modules here that are not integrations.
_NOT_INTEGRATIONS = frozenset({"base", "common"})
#: The first four keep the order `list` always showed; later ones follow by name.
_FIRST = ("xmatters", "pagerduty", "incidentio", "panopta")


def _discover() -> tuple[str, ...]:
    found = {
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not m.ispkg and m.name not in _NOT_INTEGRATIONS and not m.name.startswith("_")
    }
    first = [n for n in _FIRST if n in found]
    return (*first, *sorted(found - set(first)))


#: The order `list` shows them in.
NAMES: tuple[str, ...] = _discover()


def get(name: str) -> Integration:
    key = name.lower()
    if key not in NAMES:
        key = next((i.name for i in all_integrations() if key in i.aliases), key)
    if key not in NAMES:
        guess = nearest(name, list(NAMES))
        raise UsageError(
            f"Unknown integration {name!r}.",
            (f"Did you mean {guess!r}? " if guess else "")
            + f"Choose one of: {', '.join(NAMES)} (bp-integrate list).",
        )
    module = importlib.import_module(f"bp_integrate.integrations.{key}")
    integration: Integration = module.INTEGRATION
    return integration


def all_integrations() -> list[Integration]:
    return [
        importlib.import_module(f"bp_integrate.integrations.{name}").INTEGRATION for name in NAMES
    ]
