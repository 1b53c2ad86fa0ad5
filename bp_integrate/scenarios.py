"""Replay scenarios: the built-in ones and the YAML scenario file format (the format
only: bp_integrate.engine runs them).

A scenario is a list of steps sent to the targets in order, all about ONE incident
(one `incident.id` per run). Built-in: `lifecycle` (new, updated, closed, reopen,
closed), `flapping` (new, become-flapping, updated, closed), `comment` (new,
commented, closed).

A scenario file is YAML (examples in examples/scenarios/)::

    name: disk-full            # optional; defaults to the file name
    description: ...           # optional
    tags:                      # optional alert tags for the whole incident
      service: checkout
    steps:
      - event: incident#new    # a BigPanda event; forgiving spellings work (new, close)
        expect: {status: 202}  # optional: what every target must answer
      - event: updated
        delay: 1.5             # optional: seconds to wait before this step
        set:                   # optional: payload edits, as --set PATH=VALUE
          incident.alerts[0].description: Disk 97% full on db-3
        tags:                  # optional: alert tags set on every alert from now on
          priority: P1
      - event: commented
        comment: "Looking into it"   # optional: the comment text
        expect:                # per target: skipped, or {status: N | [N, ...]}
          pagerduty: skipped
          xmatters: {status: 202}
      - event: closed

`expect` is `skipped` (the target must skip the event), `{status: 202}` or
`{status: [200, 202]}` (the answer's status), `{outcome: ok|rejected|network}`, a
target-side state read back under --verify (`{incident: resolved}`, `{event: open}`,
`{alert: firing}`: ours, open/resolved, or the target's own word), or a mapping from
integration name to one of those. Without `expect` a step passes when
every target answers 2xx or skips the event for a documented reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bp_integrate.bigpanda.events import BUILTIN_SCENARIOS, resolve_event
from bp_integrate.bigpanda.tags import validate_tag_name
from bp_integrate.errors import UsageError, nearest

_R = TypeVar("_R")

FORMAT_HINT = "The format is in docs/replay.md (examples: examples/scenarios/*.yaml)."
#: What a target's record is called in `expect` (target side, checked by --verify).
TARGET_NOUNS = ("incident", "event", "alert")
EXPECT_KEYS = frozenset({"status", "outcome", *TARGET_NOUNS})
#: The longest wait a step may ask for before it is sent (an hour), and the most all
#: the steps' waits of one scenario may add up to (an hour too: a replay is a test).
DELAY_MAX = 3600.0
DELAY_TOTAL_MAX = 3600.0


@dataclass(frozen=True)
class Expectation:
    """What one target should do with a step: skip it, or answer one of these statuses."""

    skipped: bool = False
    statuses: tuple[int, ...] = ()
    outcome: str | None = None
    #: Target side (read back with --verify): the state the target must show, in its
    #: own word (`triggered`, `firing`...) or ours (`open`, `resolved`).
    target_state: str | None = None

    def check(self, *, skipped: bool, status: int | None, outcome: str | None) -> str | None:
        """None if met, else what differed (in words)."""
        if self.skipped:
            return None if skipped else f"expected a skip, got {_got(status, outcome)}"
        if skipped:
            return "expected a send, but the target skipped the event"
        if self.statuses and status not in self.statuses:
            wanted = " or ".join(str(s) for s in self.statuses)
            return f"expected status {wanted}, got {_got(status, outcome)}"
        if self.outcome and outcome != self.outcome:
            return f"expected {self.outcome}, got {_got(status, outcome)}"
        if self.target_state and not self.statuses and not self.outcome and outcome != "ok":
            return f"expected a send the target accepts, got {_got(status, outcome)}"
        return None


def _got(status: int | None, outcome: str | None) -> str:
    if status is not None:
        return f"HTTP {status}"
    return outcome or "nothing"


@dataclass(frozen=True)
class ScenarioStep:
    event: str
    delay: float = 0.0
    sets: tuple[tuple[str, str], ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    comment: str | None = None
    expect: Expectation | None = None
    expect_by_target: tuple[tuple[str, Expectation], ...] = ()
    #: A recorded webhook body (replay --from-run): sent as is instead of a simulated one.
    body: dict[str, Any] | None = field(default=None, compare=False)

    def expectation_for(self, integration: str) -> Expectation | None:
        for name, expectation in self.expect_by_target:
            if name == integration:
                return expectation
        return self.expect


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[ScenarioStep, ...]
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    source: str = "built-in"


def builtin(name: str) -> Scenario | None:
    events = BUILTIN_SCENARIOS.get(name)
    if events is None:
        return None
    return Scenario(name, tuple(ScenarioStep(e) for e in events))


def load(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a scenario file."""
    found = builtin(name_or_path)
    if found is not None:
        return found
    path = Path(name_or_path).expanduser()
    looks_like_file = path.suffix in (".yaml", ".yml") or "/" in name_or_path
    if path.is_dir():
        raise UsageError(
            f"{path} is a folder, not a scenario file.",
            "Give a scenario file inside it (e.g. examples/scenarios/disk-full.yaml). "
            + FORMAT_HINT,
        )
    if not path.is_file():
        names = list(BUILTIN_SCENARIOS)
        guess = nearest(name_or_path, names) if not looks_like_file else None
        if looks_like_file:
            raise UsageError(f"Scenario file {path} does not exist.", FORMAT_HINT)
        raise UsageError(
            f"Unknown scenario {name_or_path!r}.",
            (f"Did you mean {guess!r}? " if guess else "")
            + f"Built-in scenarios: {', '.join(names)}; or give a scenario file (.yaml).",
        )
    return load_file(path)


def load_file(path: Path) -> Scenario:
    """A scenario file through the one bounded loader (errors exit 2, naming the place)."""
    from bp_integrate import loading

    data = loading.load_yaml(path, "scenario file", FORMAT_HINT)
    loading.string_keys(data, "scenario file", str(path), UsageError, FORMAT_HINT)
    return parse(data, str(path), default_name=path.stem)


def parse(data: Any, where: str, default_name: str = "scenario") -> Scenario:
    """A Scenario from the parsed YAML, or a UsageError naming the bad place."""
    if isinstance(data, list):
        data = {"steps": data}
    if not isinstance(data, dict):
        raise UsageError(f"{where}: a scenario is a mapping with 'steps'.", FORMAT_HINT)
    unknown = set(data) - {"name", "description", "tags", "steps"}
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}.", FORMAT_HINT)
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise UsageError(f"{where}: 'steps' must be a non-empty list.", FORMAT_HINT)
    steps = tuple(_step(raw, f"{where}: step {i}") for i, raw in enumerate(raw_steps, start=1))
    waited = math.fsum(step.delay for step in steps)
    if waited > DELAY_TOTAL_MAX:
        raise UsageError(
            f"{where}: the steps' delays add up to {waited:g} s; a scenario may wait at most "
            f"{DELAY_TOTAL_MAX:.0f} s in all ({DELAY_MAX:.0f} s a step).",
            "Shorten the delays (a target sees the same events sooner). " + FORMAT_HINT,
        )
    return Scenario(
        name=str(data.get("name") or default_name),
        steps=steps,
        description=str(data.get("description") or ""),
        tags=_tags(data.get("tags"), f"{where}: tags"),
        source=where,
    )


def _located(where: str, check: Callable[[str], _R], value: str) -> _R:
    """`check(value)`, its UsageError (if any) prefixed with the file and step."""
    try:
        return check(value)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc.message}", exc.hint) from None


def _tags(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UsageError(f"{where} must be a mapping of tag name to value.", FORMAT_HINT)
    tags: dict[str, str] = {}
    for name, value in raw.items():
        tag = _located(where, validate_tag_name, str(name))
        tags[tag] = "" if value is None else str(value)
    return tags


def _step(raw: Any, where: str) -> ScenarioStep:
    if isinstance(raw, str):
        raw = {"event": raw}
    if not isinstance(raw, dict) or "event" not in raw:
        raise UsageError(f"{where} needs an 'event'.", FORMAT_HINT)
    unknown = set(raw) - {"event", "delay", "set", "tags", "comment", "expect"}
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}.", FORMAT_HINT)
    event = _located(where, resolve_event, str(raw["event"]))
    delay = raw.get("delay", 0) or 0
    # NaN and infinity are YAML numbers too (.nan, .inf): refused here, before a send.
    if (
        isinstance(delay, bool)
        or not isinstance(delay, int | float)
        or not math.isfinite(delay)
        or not 0 <= delay <= DELAY_MAX
    ):
        raise UsageError(
            f"{where}: delay must be a number of seconds from 0 to {DELAY_MAX:.0f}, got {delay!r}.",
            "e.g. delay: 1.5. " + FORMAT_HINT,
        )
    sets_raw = raw.get("set") or {}
    if not isinstance(sets_raw, dict):
        raise UsageError(f"{where}: 'set' must be a mapping of PATH: VALUE.", FORMAT_HINT)
    import json

    sets = tuple((str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in sets_raw.items())
    comment = raw.get("comment")
    expect, by_target = _expect(raw.get("expect"), where)
    return ScenarioStep(
        event=event,
        delay=float(delay),
        sets=sets,
        tags=tuple(_tags(raw.get("tags"), f"{where}: tags").items()),
        comment=None if comment is None else str(comment),
        expect=expect,
        expect_by_target=by_target,
    )


def _one_expectation(raw: Any, where: str) -> Expectation:
    if raw == "skipped" or raw == "skip":
        return Expectation(skipped=True)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return Expectation(statuses=(raw,))
    if isinstance(raw, dict) and set(raw) <= EXPECT_KEYS and raw:
        status = raw.get("status")
        statuses: tuple[int, ...] = ()
        if isinstance(status, int) and not isinstance(status, bool):
            statuses = (status,)
        elif isinstance(status, list) and all(
            isinstance(s, int) and not isinstance(s, bool) for s in status
        ):
            statuses = tuple(status)
        elif status is not None:
            raise UsageError(f"{where}: expect.status must be a number or a list.", FORMAT_HINT)
        outcome = raw.get("outcome")
        if outcome is not None:
            from typing import get_args

            from bp_integrate.failures import Outcome  # the one list of outcomes

            if outcome not in get_args(Outcome):
                raise UsageError(
                    f"{where}: expect.outcome is {', '.join(get_args(Outcome))}.", FORMAT_HINT
                )
        nouns = [k for k in TARGET_NOUNS if k in raw]
        if len(nouns) > 1:
            raise UsageError(f"{where}: expect names the target's record once.", FORMAT_HINT)
        state = raw.get(nouns[0]) if nouns else None
        if state is not None and (not isinstance(state, str) or not state.strip()):
            raise UsageError(
                f"{where}: expect.{nouns[0]} is a state such as open or resolved.", FORMAT_HINT
            )
        return Expectation(statuses=statuses, outcome=outcome, target_state=state)
    raise UsageError(
        f"{where}: expect must be 'skipped', {{status: N}} or per-target mappings.", FORMAT_HINT
    )


def _expect(raw: Any, where: str) -> tuple[Expectation | None, tuple[tuple[str, Expectation], ...]]:
    if raw is None:
        return None, ()
    if isinstance(raw, Mapping) and raw and not set(raw) <= EXPECT_KEYS:
        from bp_integrate.integrations import get as get_integration

        pairs = []
        for name, value in raw.items():
            spec = _located(where, get_integration, str(name))
            pairs.append((spec.name, _one_expectation(value, f"{where}: expect.{name}")))
        return None, tuple(pairs)
    return _one_expectation(raw, where), ()
