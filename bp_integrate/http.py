"""The one place HTTP clients are made: timeouts, user agent, transport.

httpx is imported here and only when a command actually sends, so `--help` and the
wizards stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bp_integrate import __version__

if TYPE_CHECKING:
    import httpx

USER_AGENT = f"bp-integrate/{__version__}"
DEFAULT_TIMEOUT = 10.0


def sync_client(timeout: float = DEFAULT_TIMEOUT) -> httpx.Client:
    """For single calls (key checks): httpx's own sync client is plenty."""
    import httpx

    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        trust_env=False,
    )
