"""The app context every command gets as `ctx.obj`: the profile it acts on, the
settings file (read once, when first asked for), and the hints that name that profile.

Commands parse their options, ask the context, call the core and render; none of them
reads the config file or builds a hint's command line by itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bp_integrate.errors import command_for

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bp_integrate.config import Config
    from bp_integrate.engine.plan import Loaded


#: What a profile may be called: it becomes a YAML key and part of a variable's name.
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def complete_profile(incomplete: str) -> list[str]:
    """The profile names starting with `incomplete` (shell completion of -p/--profile)."""
    try:
        from bp_integrate import config

        names = list(config.load().data.get("profiles") or {})
    except Exception:  # completion must never fail loudly
        names = []
    return [n for n in dict.fromkeys(["default", *names]) if n.startswith(incomplete)]


@dataclass
class App:
    profile: str = "default"
    #: Whether --profile (or BP_INTEGRATE_PROFILE) chose it, rather than the default:
    #: `replay --from-run` follows the run's own profile unless one was chosen.
    profile_given: bool = False
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        """The settings file, read on first use (a command that needs none never loads
        YAML)."""
        if self._config is None:
            from bp_integrate import config

            self._config = config.load()
        return self._config

    def load_targets(
        self, names: Sequence[str] | None = None, missing: list[str] | None = None
    ) -> Loaded:
        """The profile's integrations to send to (named, or all), secrets loaded, from
        the settings already read (see `engine.plan.load_targets` for `missing`)."""
        from bp_integrate.engine.plan import load_targets

        return load_targets(self.profile, names, missing, self.config)

    def hint(self, args: str) -> str:
        """`bp-integrate [--profile P] ARGS`: a next step that acts on this profile."""
        return command_for(self.profile, args)
