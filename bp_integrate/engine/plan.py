"""Targets and plans: what a run sends, worked out without sending anything.

`load_targets` reads a profile's installed integrations with their secrets once and
feeds every secret of the profile (not only the chosen targets': a `--to xmatters` body
can still carry PagerDuty's override key in a tag) to the one `Redactor`.
`IncidentPlan` walks one incident through a scenario, rendering each step's body and
asking every target what requests that means: the run engine sends those plans, and
`plan_scenario` (--dry-run, --as-curl) shows them.
"""

from __future__ import annotations

import copy
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bp_integrate.bigpanda.simulator import IncidentSimulator
from bp_integrate.bigpanda.webhook import BodySpec, incident_of, render_body
from bp_integrate.config import Installed
from bp_integrate.errors import BPError, ConfigError, command_for
from bp_integrate.integrations import get as get_integration
from bp_integrate.integrations.base import (
    Integration,
    Planned,
    PlannedRequest,
    SendOptions,
    Skipped,
)
from bp_integrate.loading import compact_json
from bp_integrate.redact import Redactor

if TYPE_CHECKING:
    from bp_integrate.config import Config
    from bp_integrate.scenarios import Scenario, ScenarioStep


@dataclass(frozen=True)
class Target:
    """One installed integration, with its values (secrets real) ready to plan with."""

    integration: Integration
    values: dict[str, str]
    item: Installed

    @property
    def name(self) -> str:
        return self.integration.name


@dataclass
class Loaded:
    """The targets of a run, and the redactor that knows every secret of the profile."""

    targets: list[Target]
    secrets: Redactor
    #: Every integration whose secrets the redactor learns per event (targets and the
    #: profile's other installed integrations).
    sources: list[Target]


def load_targets(
    profile: str,
    names: Sequence[str] | None = None,
    missing: list[str] | None = None,
    cfg: Config | None = None,
) -> Loaded:
    """The named integrations (or every installed one) of `profile`, secrets loaded.

    Given a `missing` list (a dry run), an unset secret is `****` and named there.
    `cfg`: the settings the command already read (`App.config`), else read here."""
    from bp_integrate import config
    from bp_integrate.store import load_values, require_installed

    if cfg is None:
        cfg = config.load()
    installed = cfg.installed(profile)
    chosen: list[Target] = []
    if names:
        for name in names:
            spec = get_integration(name)
            if any(t.name == spec.name for t in chosen):
                continue
            item = require_installed(cfg, profile, spec.name)
            chosen.append(
                Target(spec, load_values(spec, item, profile, True, missing=missing), item)
            )
    else:
        if not installed:
            raise ConfigError(
                f"No integration is installed in profile {profile!r}: nothing to send to.",
                f"Install one first: {command_for(profile, 'install <integration>')} "
                "(bp-integrate list shows them all).",
            )
        for name, item in installed.items():
            spec = get_integration(name)
            chosen.append(
                Target(spec, load_values(spec, item, profile, True, missing=missing), item)
            )
    sources = list(chosen)
    for name, item in installed.items():
        if any(t.name == name for t in chosen):
            continue
        # Not sent to, but its secrets may still ride in a body (an override key in a
        # tag): learn what can be loaded; a secret missing there is no error here.
        try:
            spec = get_integration(name)
            values = load_values(spec, item, profile, True, strict=False)
        except BPError:
            continue
        sources.append(Target(spec, values, item))
    return Loaded(chosen, build_redactor(sources), sources)


def build_redactor(targets: Sequence[Target], enabled: bool = True) -> Redactor:
    """A redactor knowing every secret the given integrations hold."""
    redactor = Redactor(enabled=enabled)
    for target in targets:
        redactor.add(*target.integration.secrets(target.values))
    return redactor


def target_urls(targets: Sequence[Target]) -> list[str]:
    """Every URL the targets may send to (their webhook URL and URL settings)."""
    urls: list[str] = []
    for target in targets:
        for url in target.integration.urls(target.values):
            if url not in urls:
                urls.append(url)
    return urls


# --------------------------------------------------------------------------- planning


def plan_event(
    targets: Sequence[Target],
    event: str,
    incident: dict[str, Any],
    body: dict[str, Any],
    options: SendOptions,
    redactor: Redactor,
    sources: Sequence[Target] = (),
) -> list[Planned]:
    """Every request (or skip) the targets need for this event.

    Before anything is planned, the redactor learns the secrets this body carries for
    any integration of the profile (`sources`), planned for or not.
    """
    for source in sources or targets:
        redactor.add(*source.integration.event_secrets(incident, source.values))
    planned: list[Planned] = []
    for target in targets:
        for item in target.integration.plan(event, incident, body, target.values, options):
            if isinstance(item, PlannedRequest):
                redactor.add(*item.secret_values)
                for header in item.secret_headers:
                    if header in item.headers:
                        redactor.add_header_value(item.headers[header])
            planned.append(item)
    return planned


@dataclass
class PlannedStep:
    """One step of one incident, ready to send: its body and every request or skip."""

    event: str
    incident_id: str
    body: dict[str, Any]
    planned: list[Planned]

    @property
    def requests(self) -> list[PlannedRequest]:
        return [p for p in self.planned if isinstance(p, PlannedRequest)]

    @property
    def skipped(self) -> list[Skipped]:
        return [p for p in self.planned if isinstance(p, Skipped)]


class IncidentPlan:
    """One test incident through a scenario: each step's body, and what it means to the
    targets. Alert tags a step sets stay on every alert from then on."""

    def __init__(
        self,
        scenario: Scenario,
        spec: BodySpec,
        incident_id: str | None = None,
    ) -> None:
        recorded_id = next(
            (str(incident_of(s.body).get("id")) for s in scenario.steps if s.body is not None),
            None,
        )
        self.spec = spec
        self.simulator = IncidentSimulator(
            incident_id=incident_id or recorded_id,
            tags=scenario.tags,
            test_marker=spec.test_marker,
        )
        self.step_tags: dict[str, str] = {}
        self.options = SendOptions(test_marker=spec.test_marker)

    @property
    def incident_id(self) -> str:
        return self.simulator.incident_id

    def body(self, step: ScenarioStep) -> tuple[dict[str, Any], dict[str, Any]]:
        if step.body is not None:
            body = copy.deepcopy(step.body)
            return body, incident_of(body)
        self.step_tags.update(dict(step.tags))
        return render_body(
            self.simulator,
            step.event,
            self.spec,
            sets=step.sets,
            tags=self.step_tags or None,
            comment=step.comment,
        )

    def plan(
        self,
        step: ScenarioStep,
        targets: Sequence[Target],
        redactor: Redactor,
        sources: Sequence[Target] = (),
    ) -> PlannedStep:
        body, incident = self.body(step)
        options = self.options
        planned = plan_event(targets, step.event, incident, body, options, redactor, sources)
        return PlannedStep(step.event, str(incident.get("id", self.incident_id)), body, planned)


def plan_scenario(
    scenario: Scenario,
    loaded: Loaded,
    redactor: Redactor,
    spec: BodySpec,
    incident_id: str | None = None,
) -> Iterator[tuple[int, PlannedStep]]:
    """Every step's requests, exactly as a run would send them, sending nothing."""
    incident = IncidentPlan(scenario, spec, incident_id)
    for index, step in enumerate(scenario.steps, start=1):
        yield index, incident.plan(step, loaded.targets, redactor, loaded.sources)


def check_plan(
    scenario: Scenario, loaded: Loaded, spec: BodySpec, incident_id: str | None = None
) -> None:
    """Render and plan every step once, sending nothing: a bad `--set` edit or a step's
    bad value is an error before the first send, not half-way through a run."""
    for _ in plan_scenario(scenario, loaded, loaded.secrets, spec, incident_id):
        pass


# --------------------------------------------------------------------------- showing


def encode_body(body: Any) -> bytes:
    """A body as it is sent: compact JSON, non-ASCII as the UTF-8 it is (`loading.compact_json`,
    the one writer: orjson, 8 % of a storm's time before it, benchmarks/README.md)."""
    return compact_json(body)


def shown_request(request: PlannedRequest, redactor: Redactor) -> dict[str, Any]:
    """A planned request as --dry-run shows it (masked unless the redactor is off)."""
    return {
        "integration": request.integration,
        "event": request.event,
        "label": request.label,
        "method": request.method,
        "url": redactor.url(request.url),
        "headers": redactor.headers(request.headers, request.secret_headers),
        "body": redactor.value(request.body),
    }


def as_curl_command(
    request: PlannedRequest, redactor: Redactor, env_refs: Mapping[str, str] | None = None
) -> str:
    """The request as a curl command (masked unless the redactor is off).

    With `env_refs` ({secret: variable}) a masked secret that has a variable of its own
    is written as `"${VARIABLE}"`, so the command works once the variable is exported;
    secrets without one (a Basic token built from two values) stay `****`.
    """
    shown = shown_request(request, redactor)
    raw = shown_request(request, redactor.view(enabled=False)) if redactor.enabled else shown
    refs = dict(env_refs or {}) if redactor.enabled else {}

    def arg(masked: str, unmasked: str) -> str:
        return _shell_with_refs(masked, unmasked, refs, redactor)

    parts = ["curl", "-sS", "-X", request.method, arg(shown["url"], raw["url"])]
    for name, value in shown["headers"].items():
        parts += ["-H", arg(f"{name}: {value}", f"{name}: {raw['headers'][name]}")]
    # The body as it is sent (encode_body): non-ASCII as is, not \u-escaped.
    body, raw_body = (encode_body(s["body"]).decode("utf-8") for s in (shown, raw))
    parts += ["--data-raw", arg(body, raw_body)]
    return " ".join(parts)


def _shell_with_refs(
    masked: str, unmasked: str, refs: Mapping[str, str], redactor: Redactor
) -> str:
    """One shell word: `masked` quoted, or, when `unmasked` holds secrets that have a
    variable, the unmasked text with each such secret as "${VAR}" (the rest redacted)."""
    found = [s for s in sorted(refs, key=len, reverse=True) if s and s in unmasked]
    if not found:
        return shlex.quote(masked)
    pattern = re.compile("|".join(re.escape(s) for s in found))
    out: list[str] = []
    last = 0
    for match in pattern.finditer(unmasked):
        literal = redactor.text(unmasked[last : match.start()])
        if literal:
            out.append(shlex.quote(literal))
        out.append(f'"${{{refs[match.group(0)]}}}"')
        last = match.end()
    if unmasked[last:]:
        out.append(shlex.quote(redactor.text(unmasked[last:])))
    return "".join(out)


def skipped_json(item: Skipped) -> dict[str, str]:
    return {"integration": item.integration, "event": item.event, "reason": item.reason}
