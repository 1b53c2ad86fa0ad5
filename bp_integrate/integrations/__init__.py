"""The registry of integrations: one module each in this package, found by name."""

from __future__ import annotations

import importlib

from bp_integrate.errors import UsageError, nearest
from bp_integrate.integrations.base import Integration

#: The order `list` shows them in. A new integration is a new module plus its name here.
NAMES: tuple[str, ...] = ("xmatters", "pagerduty", "incidentio", "panopta")
ALIASES = {
    "incident.io": "incidentio",
    "incident-io": "incidentio",
    "pd": "pagerduty",
    "fortimonitor": "panopta",
}


def get(name: str) -> Integration:
    key = ALIASES.get(name.lower(), name.lower())
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
    return [get(name) for name in NAMES]
