"""What an emulated target is, and the registry that finds them.

This module owns :class:`Target` (what one emulated system declares: its routes,
its settings, its state, its URLs, the values that install the matching
integration against the emulator, and a summary of what it ended with),
:class:`TargetState` (the base of each target's own state, guarded by the one
lock the emulator shares), and :func:`targets`, which finds every module of
this package that defines a ``TARGET``: adding an emulated system is adding one
module, and nothing here or in :mod:`.app`, :mod:`.state` or :mod:`.config`
names it. Bodies are unwrapped by `bp_integrate.bigpanda.webhook.incident_of`, the
one place that unwraps BigPanda's webhook envelope.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import pkgutil
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from .wire import Handler, Request

#: Modules of this package that are plumbing, not emulated systems.
_PLUMBING = frozenset(
    {
        "app",
        "capture",
        "config",
        "context",
        "protocol",
        "records",
        "server",
        "state",
        "target",
        "wire",
    }
)


#: The most records of one kind (alerts, incidents, events, clears, comments, shares,
#: receivers' bodies) an emulated target keeps, and the most they may cost together
#: (`record_cost`): past either, the oldest are dropped (and counted). The twelve kinds
#: of the five targets stay under 12 x 10 MiB = 120 MiB at worst: within the 128 MiB the
#: emulator allows for what it remembers (its request log has its own, state.py).
MAX_TARGET_RECORDS = 10_000
KIND_BUDGET_BYTES = 10 * 1024 * 1024
#: The most entries one record keeps in a list that grows with each event it takes
#: (a PagerDuty incident's actions, an incident.io alert's history, an activity log).
MAX_RECORD_ENTRIES = 100
#: What one object (a record, a dict, a list) costs beyond its strings, roughly.
OBJECT_BYTES = 64
#: The most objects of one kind an admin API of the emulator makes (maintenance plans,
#: AutoShare rules, Webhook v2 integrations, incident.io alert sources, PagerDuty
#: service integrations). These are not dropped like records (a script relies on what
#: it made): past the limit a create is refused, as a quota would be [G: the services'
#: own quotas are not published], so no loop can grow the emulator without bound.
MAX_ADMIN_OBJECTS = 1_000


class AdminLimit(Exception):
    """A create past :data:`MAX_ADMIN_OBJECTS`; its text is the answer's message."""

    def __init__(self, kind: str, limit: int) -> None:
        super().__init__(
            f"the emulator keeps at most {limit} {kind}: delete some first, "
            "or start again from nothing (POST /_reset)"
        )


_T = TypeVar("_T")


def record_cost(value: Any) -> int:
    """Roughly what ``value`` holds in memory, in bytes: its strings' lengths (at most 4
    bytes a character) plus OBJECT_BYTES an object. Iterative; for what a target keeps."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        total += OBJECT_BYTES
        if isinstance(item, str):
            total += len(item) if item.isascii() else 4 * len(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | deque):
            stack.extend(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(vars(item).values())
    return total


class Kept(Generic[_T]):
    """The newest records of one kind a target keeps, oldest first: at most ``limit`` of
    them costing at most ``budget`` bytes together (each priced by `record_cost` when
    added). Adding past either drops the oldest, counted in ``dropped``; `append` returns
    them, for the target to forget in its indexes. Read like a list (iterate, ``len``,
    ``[i]``, ``[-1]``); the target's lock guards it."""

    def __init__(self, limit: int = MAX_TARGET_RECORDS, budget: int = KIND_BUDGET_BYTES) -> None:
        self.limit = limit
        self.budget = budget
        self._items: deque[tuple[_T, int]] = deque()
        self.bytes = 0
        self.dropped = 0

    def append(self, item: _T) -> list[_T]:
        cost = record_cost(item)
        self._items.append((item, cost))
        self.bytes += cost
        gone: list[_T] = []
        while len(self._items) > self.limit or (self.bytes > self.budget and len(self._items) > 1):
            old, old_cost = self._items.popleft()
            self.bytes -= old_cost
            self.dropped += 1
            gone.append(old)
        return gone

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0
        self.dropped = 0

    def __iter__(self) -> Iterator[_T]:
        return (item for item, _ in self._items)

    def __reversed__(self) -> Iterator[_T]:
        return (item for item, _ in reversed(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> _T:
        return self._items[index][0]


def keep_last(entries: list[Any], limit: int = MAX_RECORD_ENTRIES) -> None:
    """Drop all but the newest ``limit`` of a record's growing list, in place."""
    if len(entries) > limit:
        del entries[:-limit]


class TargetState:
    """Base of a target's own state: what it ended with, under the shared lock.

    Subclasses mutate only while holding ``self._lock`` (the emulator's one
    re-entrant lock, so a reader on another thread sees a consistent picture)
    and hand out copies.
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready sections of ``/_state`` (a target may own more than one)."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget everything this target received."""
        raise NotImplementedError


class TargetSettings:
    """Base of a target's settings (a frozen dataclass with defaults for every field)."""

    def secrets(self) -> tuple[str, ...]:
        """Every secret value these settings hold, to scrub from anything echoed back."""
        return ()


@dataclass(frozen=True)
class Route:
    """One endpoint of an emulated target: ``name`` is the ``route`` in the request log."""

    method: str
    path: str
    name: str
    handler: Handler


@dataclass(frozen=True)
class Target:
    """What one emulated system declares (one module-level ``TARGET`` per module).

    * ``routes`` and ``path_prefixes`` (a request under one of these that matches
      no route is still logged as this target's);
    * ``settings``: a frozen dataclass type, its fields the keyword arguments
      :class:`~.config.EmulatorConfig` accepts for this target;
    * ``state``: builds the target's :class:`TargetState` from the shared lock;
    * ``urls(base_url, settings)``: ready-to-use URLs, no secrets in them;
    * ``install_values(base_url, config)``: per integration name, the settings
      (secrets included) that install it against this emulator (the whole
      :class:`~.config.EmulatorConfig`, as one integration may need values from
      more than one target);
    * ``credentials(settings)``: one line naming the demo credentials accepted;
    * ``summary(snapshot)``: one line per thing worth telling from ``/_state``;
    * ``label(request, settings)``: the (target, route) a matched request is
      logged under, when the route alone does not tell (e.g. several
      integrations behind one path); ``None`` keeps the defaults.
    """

    name: str
    order: int
    routes: tuple[Route, ...]
    path_prefixes: tuple[str, ...]
    settings: type[TargetSettings]
    state: Callable[[threading.RLock], TargetState]
    urls: Callable[[str, Any], dict[str, str]]
    install_values: Callable[[str, Any], dict[str, dict[str, str]]]
    credentials: Callable[[Any], str]
    summary: Callable[[dict[str, Any]], list[str]]
    label: Callable[[Request, Any], tuple[str, str] | None] | None = None
    #: Per integration name, the read-back credentials this emulated target accepts
    #: (``verify`` in the demo reads the target back with them).
    readback_values: Callable[[Any], dict[str, dict[str, str]]] | None = None


@functools.cache
def targets() -> tuple[Target, ...]:
    """Every emulated target, found as a ``TARGET`` in a module of this package."""
    found: list[Target] = []
    for info in pkgutil.iter_modules(_package_path()):
        if info.name in _PLUMBING or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__package__}.{info.name}")
        target = getattr(module, "TARGET", None)
        if isinstance(target, Target):
            found.append(target)
    return tuple(sorted(found, key=lambda t: (t.order, t.name)))


def _package_path() -> list[str]:
    package = importlib.import_module(__package__ or "bp_integrate.emulator")
    return list(package.__path__)


def target_for_path(path: str) -> str:
    """The emulated system a path belongs to (``unknown`` if none)."""
    for target in targets():
        if any(path.startswith(prefix) for prefix in target.path_prefixes):
            return target.name
    return "unknown"
