"""Safety rails on real sends: which targets are real (not loopback), whether a storm may
go to them and at what default rate, and whether send-test may page every target at once.

Plain functions over the targets' URLs (`Integration.urls(values)`); the commands call
them before anything is sent and own the prompts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bp_integrate.errors import UsageError
from bp_integrate.urls import is_loopback_host, urlsplit

#: The storm rate (events per second) used against real targets unless --rate is given.
#: Each event goes once to each target, so this is also requests per second per target:
#: PagerDuty's Events API allows about 120 events a minute per routing key (2/s), the
#: tightest documented limit of the supported vendors.
REAL_TARGET_RATE = 2.0
REAL_TARGETS_FLAG = "--real-targets"


def real_hosts(urls: Iterable[str]) -> list[str]:
    """The hosts of `urls` that are not loopback, in order, each once."""
    hosts: list[str] = []
    for url in urls:
        host = urlsplit(url).hostname or ""
        if host and not is_loopback_host(host) and host not in hosts:
            hosts.append(host)
    return hosts


def real_targets(urls_by_target: Mapping[str, Sequence[str]]) -> list[str]:
    """The targets that send to at least one non-loopback host."""
    return [name for name, urls in urls_by_target.items() if real_hosts(urls)]


def storm_rate(urls: Iterable[str], rate: float | None, allow_real: bool) -> float | None:
    """The rate a storm runs at, or a UsageError if it would hit real hosts unasked.

    Every target on loopback (the emulator, a local receiver): the user's rate, else no
    limit. Any real host: refused without --real-targets; allowed, the user's rate or
    REAL_TARGET_RATE.
    """
    hosts = real_hosts(urls)
    if not hosts:
        return rate
    if not allow_real:
        shown = ", ".join(hosts[:5]) + (f" and {len(hosts) - 5} more" if len(hosts) > 5 else "")
        raise UsageError(
            f"Storm mode would send to real services ({shown}): every incident may page "
            "someone, and vendors rate-limit (the tightest documented limit is about 120 "
            "events a minute per key).",
            f"Add {REAL_TARGETS_FLAG} if that is what you want (the default rate is then "
            f"{REAL_TARGET_RATE:g} events/s; --rate changes it), or storm the emulator: "
            "bp-integrate demo.",
        )
    return rate if rate is not None else REAL_TARGET_RATE


def check_send_all(
    urls_by_target: Mapping[str, Sequence[str]],
    chose: bool,
    interactive: bool,
) -> list[str]:
    """Whether send-test may go to every installed target.

    Returns the real targets to confirm on a terminal (an empty list: go ahead).
    `chose` is --to or --all given. Without a terminal and with more than one real
    target, a UsageError naming both flags.
    """
    real = real_targets(urls_by_target)
    if chose or len(real) <= 1:
        return []
    if not interactive:
        raise UsageError(
            f"send-test would send to {len(real)} real services at once ({', '.join(real)}), "
            "which may page each one's on-call.",
            f"Choose: --to {real[0]} (repeat --to for more), or --all to send to every "
            "installed integration.",
        )
    return real
