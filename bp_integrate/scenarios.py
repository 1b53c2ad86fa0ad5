"""Replay scenarios: the built-in ones and the YAML scenario file format.

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
`{status: [200, 202]}` (the answer's status), `{outcome: ok|rejected|network}`, or a
mapping from integration name to one of those. Without `expect` a step passes when
every target answers 2xx or skips the event for a documented reason.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bp_integrate import payloads
from bp_integrate.errors import ExitCode, UsageError, nearest
from bp_integrate.history import RunRecorder
from bp_integrate.integrations.base import Planned, PlannedRequest, Skipped
from bp_integrate.redact import Redactor
from bp_integrate.sender import (
    CLOSING_EVENTS,
    OPENING_EVENTS,
    BodySpec,
    SendResult,
    Session,
    Target,
    failure_detail,
    incident_of,
    plan_event,
    render_body,
    skipped_json,
)

_R = TypeVar("_R")

FORMAT_HINT = "The format is in docs/replay.md (examples: examples/scenarios/*.yaml)."
#: The longest wait a step may ask for before it is sent (an hour).
DELAY_MAX = 3600.0


@dataclass(frozen=True)
class Expectation:
    """What one target should do with a step: skip it, or answer one of these statuses."""

    skipped: bool = False
    statuses: tuple[int, ...] = ()
    outcome: str | None = None

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
        return None

    def to_json(self) -> Any:
        if self.skipped:
            return "skipped"
        data: dict[str, Any] = {}
        if self.statuses:
            data["status"] = list(self.statuses)
        if self.outcome:
            data["outcome"] = self.outcome
        return data


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

    def has_expectations(self) -> bool:
        return self.expect is not None or bool(self.expect_by_target)


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[ScenarioStep, ...]
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    source: str = "built-in"


def builtin(name: str) -> Scenario | None:
    events = payloads.BUILTIN_SCENARIOS.get(name)
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
        names = list(payloads.BUILTIN_SCENARIOS)
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
        tag = _located(where, payloads.validate_tag_name, str(name))
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
    event = _located(where, payloads.resolve_event, str(raw["event"]))
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
    if isinstance(raw, dict) and set(raw) <= {"status", "outcome"} and raw:
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
        if outcome is not None and outcome not in ("ok", "rejected", "network"):
            raise UsageError(f"{where}: expect.outcome is ok, rejected or network.", FORMAT_HINT)
        return Expectation(statuses=statuses, outcome=outcome)
    raise UsageError(
        f"{where}: expect must be 'skipped', {{status: N}} or per-target mappings.", FORMAT_HINT
    )


def _expect(raw: Any, where: str) -> tuple[Expectation | None, tuple[tuple[str, Expectation], ...]]:
    if raw is None:
        return None, ()
    if isinstance(raw, Mapping) and raw and not set(raw) <= {"status", "outcome"}:
        from bp_integrate.integrations import get as get_integration

        pairs = []
        for name, value in raw.items():
            spec = _located(where, get_integration, str(name))
            pairs.append((spec.name, _one_expectation(value, f"{where}: expect.{name}")))
        return None, tuple(pairs)
    return _one_expectation(raw, where), ()


# --------------------------------------------------------------------------- running


@dataclass
class StepReport:
    """What one step did: per request results, skips, and whether it met expectations."""

    index: int
    event: str
    incident_id: str
    results: list[SendResult]
    skipped: list[Skipped]
    problems: list[str]
    cleanup: bool = False

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "cleanup" if self.cleanup else "step",
            "step": self.index,
            "event": self.event,
            "incident_id": self.incident_id,
            "passed": self.passed,
            "problems": self.problems,
            "results": [r.to_json() for r in self.results],
            "skipped": [skipped_json(s) for s in self.skipped],
        }


@dataclass
class ScenarioReport:
    scenario: str
    incident_id: str
    steps: list[StepReport] = field(default_factory=list)
    cleanup: list[StepReport] = field(default_factory=list)
    cleanup_note: str = ""
    interrupted: bool = False
    passed_units: int = 0
    failed_units: int = 0
    failure_kinds: set[str] = field(default_factory=set)

    def outcome(self) -> tuple[str, ExitCode]:
        """("success"|"partial"|"failure"|"interrupted", exit code)."""
        if self.interrupted:
            return "interrupted", ExitCode.INTERRUPTED
        if self.failed_units == 0:
            return "success", ExitCode.OK
        if self.passed_units == 0:
            kinds = self.failure_kinds
            code = ExitCode.NETWORK if kinds == {"network"} else ExitCode.REJECTED
            return "failure", code
        return "partial", ExitCode.PARTIAL

    def to_json(self) -> dict[str, Any]:
        outcome, code = self.outcome()
        return {
            "type": "summary",
            "scenario": self.scenario,
            "incident_id": self.incident_id,
            "outcome": outcome,
            "exit_code": int(code),
            "steps": len(self.steps),
            "passed": self.passed_units,
            "failed": self.failed_units,
            "interrupted": self.interrupted,
            "cleanup": self.cleanup_note,
        }


StepHook = Callable[[int, ScenarioStep], None]
ReportHook = Callable[[StepReport], None]


class ScenarioRunner:
    """Sends a scenario's steps in order about one incident, then cleans up.

    Runs synchronously over a `Session` (one event loop, one HTTP client), so Ctrl-C
    between or during steps lands here: the incident is then closed on every target
    where it was left open (unless `cleanup` is off), and the report says so.
    """

    def __init__(
        self,
        scenario: Scenario,
        targets: Sequence[Target],
        redactor: Redactor,
        session: Session | None,
        body_spec: BodySpec,
        recorder: RunRecorder | None = None,
        incident_id: str | None = None,
        cleanup: bool = True,
        before_step: StepHook | None = None,
        on_report: ReportHook | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.scenario = scenario
        self.targets = list(targets)
        self.redactor = redactor
        self.session = session
        self.body_spec = body_spec
        self.recorder = recorder
        self.cleanup_enabled = cleanup
        self.before_step = before_step
        self.on_report = on_report
        self.sleep = sleep
        recorded_id = next(
            (str(incident_of(s.body).get("id")) for s in scenario.steps if s.body is not None),
            None,
        )
        self.simulator = payloads.IncidentSimulator(
            incident_id=incident_id or recorded_id,
            tags=scenario.tags,
            test_marker=body_spec.test_marker,
        )
        self.step_tags: dict[str, str] = {}
        #: integration -> True while the test incident is (maybe) open there.
        self.open: dict[str, bool] = {}
        self.seq = 0

    @property
    def incident_id(self) -> str:
        return self.simulator.incident_id

    def run(self) -> ScenarioReport:
        report = ScenarioReport(self.scenario.name, self.incident_id)
        try:
            for index, step in enumerate(self.scenario.steps, start=1):
                if step.delay:
                    self.sleep(step.delay)
                if self.before_step is not None:
                    self.before_step(index, step)
                step_report = self._run_step(index, step, report)
                report.steps.append(step_report)
                if self.on_report is not None:
                    self.on_report(step_report)
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            self._cleanup(report)
        return report

    # ---- one step

    def _body(self, step: ScenarioStep) -> tuple[dict[str, Any], dict[str, Any]]:
        if step.body is not None:
            body = copy.deepcopy(step.body)
            return body, incident_of(body)
        self.step_tags.update(dict(step.tags))
        return render_body(
            self.simulator,
            step.event,
            self.body_spec,
            sets=step.sets,
            tags=self.step_tags or None,
            comment=step.comment,
        )

    def _live_session(self) -> Session:
        if self.session is None:
            raise RuntimeError("no session: plan_steps() is the way to look without sending")
        return self.session

    def plan_steps(self) -> Iterator[tuple[int, ScenarioStep, list[Planned]]]:
        """Every step's requests, exactly as `run` would send them, sending nothing."""
        for index, step in enumerate(self.scenario.steps, start=1):
            yield index, step, self._plan(step)[2]

    def _plan(self, step: ScenarioStep) -> tuple[dict[str, Any], dict[str, Any], list[Planned]]:
        body, incident = self._body(step)
        options = self.body_spec.send_options(step.comment)
        planned = plan_event(self.targets, step.event, incident, body, options, self.redactor)
        return body, incident, planned

    def _run_step(self, index: int, step: ScenarioStep, report: ScenarioReport) -> StepReport:
        body, incident, planned = self._plan(step)
        self.seq += 1
        seq = self.seq
        incident_id = str(incident.get("id", self.incident_id))
        if self.recorder is not None:
            self.recorder.event(seq, step.event, incident_id, body)
        skipped = [p for p in planned if isinstance(p, Skipped)]
        if step.event in OPENING_EVENTS:
            # Sent or in flight: if we are interrupted now, the target may have it open.
            for p in planned:
                if isinstance(p, PlannedRequest):
                    self.open.setdefault(p.integration, False)
        try:
            results = self._live_session().deliver(planned, self.redactor)
        except KeyboardInterrupt:
            if step.event in OPENING_EVENTS:
                for p in planned:
                    if isinstance(p, PlannedRequest):
                        self.open[p.integration] = True
            raise
        self._track(step.event, results)
        problems = self._judge(step, results, skipped, report)
        if self.recorder is not None:
            for result in results:
                self.recorder.send(seq, result.to_json(), result.ok)
            for skip in skipped:
                self.recorder.skipped(seq, skip.integration, skip.event, skip.reason)
        return StepReport(index, step.event, incident_id, results, skipped, problems)

    def _track(self, event: str, results: Sequence[SendResult]) -> None:
        for result in results:
            if event in OPENING_EVENTS and (result.ok or result.maybe_received):
                # A timed-out opening send may have been taken (the retry policy assumes
                # so too): clean it up as if it were open.
                self.open[result.integration] = True
            elif event in CLOSING_EVENTS and result.ok:
                self.open[result.integration] = False

    def _judge(
        self,
        step: ScenarioStep,
        results: Sequence[SendResult],
        skipped: Sequence[Skipped],
        report: ScenarioReport,
    ) -> list[str]:
        problems: list[str] = []
        for target in self.targets:
            name = target.name
            mine = [r for r in results if r.integration == name]
            skips = [s for s in skipped if s.integration == name]
            expectation = step.expectation_for(name)
            if expectation is None:
                bad = [r for r in mine if not r.ok]
                for r in bad:
                    problems.append(f"{name}: {failure_detail(r)}")
                    report.failure_kinds.add(r.outcome)
                if mine or skips:
                    if bad:
                        report.failed_units += 1
                    elif mine:
                        report.passed_units += 1
                continue
            if not mine and not skips:
                continue
            checks = (
                [expectation.check(skipped=True, status=None, outcome=None)]
                if skips and not mine
                else [
                    expectation.check(skipped=False, status=r.status, outcome=r.outcome)
                    for r in mine
                ]
            )
            failures = [c for c in checks if c is not None]
            if failures:
                problems.extend(f"{name}: {c}" for c in failures)
                report.failed_units += 1
                kinds = {r.outcome for r in mine if not r.ok}
                report.failure_kinds |= kinds or {"expectation"}
            else:
                report.passed_units += 1
        return problems

    # ---- cleanup

    def _cleanup(self, report: ScenarioReport) -> None:
        still_open = [t for t in self.targets if self.open.get(t.name)]
        if not still_open:
            report.cleanup_note = "nothing to clean up: the test incident is not left open"
            return
        names = ", ".join(t.name for t in still_open)
        if not self.cleanup_enabled:
            report.cleanup_note = (
                f"--no-cleanup: incident {self.incident_id} is left open on {names}"
            )
            return
        done: list[str] = []
        failed: list[str] = []
        by_event: dict[str, list[Target]] = {}
        for target in still_open:
            by_event.setdefault(target.integration.close_event, []).append(target)
        for event, group in by_event.items():
            step = ScenarioStep(event)
            try:
                body, incident = render_body(self.simulator, event, self.body_spec)
                planned = plan_event(
                    group, event, incident, body, self.body_spec.send_options(), self.redactor
                )
                self.seq += 1
                if self.recorder is not None:
                    self.recorder.event(self.seq, event, self.incident_id, body)
                results = self._live_session().deliver(planned, self.redactor)
            except KeyboardInterrupt:
                failed.extend(t.name for t in group)
                break
            self._track(event, results)
            skipped = [p for p in planned if isinstance(p, Skipped)]
            if self.recorder is not None:
                for result in results:
                    self.recorder.send(self.seq, {**result.to_json(), "cleanup": True}, result.ok)
            cleanup_report = StepReport(
                len(report.steps) + len(report.cleanup) + 1,
                step.event,
                self.incident_id,
                results,
                skipped,
                [f"{r.integration}: {failure_detail(r)}" for r in results if not r.ok],
                cleanup=True,
            )
            report.cleanup.append(cleanup_report)
            if self.on_report is not None:
                self.on_report(cleanup_report)
            done.extend(r.integration for r in results if r.ok)
            failed.extend(r.integration for r in results if not r.ok)
            failed.extend(s.integration for s in skipped)
        parts = []
        if done:
            parts.append(f"closed incident {self.incident_id} on {', '.join(done)}")
        if failed:
            parts.append(f"could NOT close it on {', '.join(failed)}: close it there by hand")
        report.cleanup_note = "cleanup: " + "; ".join(parts)
