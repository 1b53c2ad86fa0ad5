"""The BigPanda Notifications Webhook body: envelopes, calibrated shapes, rendering.

Owns what a share's body looks like around the simulated incident: the envelope shapes and
the `metadata` of a share, `render_body` (simulate, envelope, `--set` edits, test marks),
filling an adopted (calibrated) shape, `summary`, and loading a `--payload` file. Reading a
body's event and incident (`event_of`, the one `incident_of`) lives in `events`, below the
test marks that need it, and is re-exported here. Confidence of each choice:
docs/replay.md. Stdlib only.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from bp_integrate import jsonpath
from bp_integrate.bigpanda.events import (  # event_of, incident_of: re-exported (__all__)
    COMMENTED,
    EVENTS,
    event_of,
    incident_of,
    resolve_event,
    status_rank,
)
from bp_integrate.bigpanda.simulator import IncidentSimulator, generated_environment_id
from bp_integrate.bigpanda.tags import validate_tag_name
from bp_integrate.bigpanda.testmark import mark_as_test, truncate
from bp_integrate.errors import UsageError, nearest

__all__ = [
    "DEFAULT_ENVELOPE",
    "ENVELOPE_SHAPES",
    "SUMMARY_MAX",
    "BodySpec",
    "EnvelopeShape",
    "add_alert_tags",
    "envelope",
    "event_of",
    "fill_shape",
    "incident_of",
    "load_payload_file",
    "metadata",
    "profile_environment_id",
    "render_body",
    "summary",
]

SUMMARY_MAX = 1024  # PagerDuty's payload.summary limit [C]

# --------------------------------------------------------------------------- envelope

EnvelopeShape = Literal["share", "event", "incident", "bare"]
ENVELOPE_SHAPES: tuple[str, ...] = get_args(EnvelopeShape)
#: What a real share sends, as far as receivers written against real shares read it [S].
DEFAULT_ENVELOPE: EnvelopeShape = "share"


def profile_environment_id(profile: str, settings: Mapping[str, Any] | None = None) -> str:
    """`metadata.environment_id` for a profile: its `environment_id` setting, if present,
    else a stable id generated from the profile name [G]."""
    configured = (settings or {}).get("environment_id")
    if isinstance(configured, str) and configured.strip():
        return configured.strip()
    return generated_environment_id(profile)


def metadata(event: str, incident: Mapping[str, Any], environment_id: str) -> dict[str, Any]:
    """The `metadata` of a share: where it came from and what triggered it [G but for
    `environment_id`, which receivers written against real shares read [S]].

    `share_id` is stable for one incident and event time (a resent body is the same
    share), `shared_at` is the incident's `updated_at`.
    """
    updated = incident.get("updated_at")
    seed = f"{incident.get('id')}/{event}/{updated}"
    return {
        "environment_id": environment_id,
        "event": event,
        "share_id": hashlib.sha1(seed.encode()).hexdigest()[:24],
        "shared_at": updated,
    }


def envelope(
    event: str,
    incident: dict[str, Any],
    shape: EnvelopeShape = DEFAULT_ENVELOPE,
    comment: str | None = None,
    environment_id: str | None = None,
) -> dict[str, Any]:
    """The webhook body around `incident`, in the chosen envelope shape.

    BigPanda documents the body as the incident object with alerts expanded [C], not the
    envelope; what receivers of real shares read is `incident` and `metadata` [S]:

    - `share` (default): `{"incident": {...}, "metadata": {environment_id, event,
      share_id, shared_at}}`
    - `event`: `{"event_type": "<event>", "incident": {...}}` (bp-integrate 1.x's default [G])
    - `incident`: `{"incident": {...}}`
    - `bare`: the incident object itself.

    `comment` (for `incident#commented`, [G]) is added as a top-level `comment` field; in
    the bare shape it goes on a shallow copy of the incident. The incident is embedded, not
    copied, in the other shapes.
    """
    kind = resolve_event(event)
    if shape == "share":
        env = environment_id
        if env is None:
            environments = incident.get("environments")
            first = environments[0] if isinstance(environments, list) and environments else None
            env = first if isinstance(first, str) else generated_environment_id()
        body: dict[str, Any] = {"incident": incident, "metadata": metadata(kind, incident, env)}
    elif shape == "event":
        body = {"event_type": kind, "incident": incident}
    elif shape == "incident":
        body = {"incident": incident}
    elif shape == "bare":
        body = dict(incident) if comment is not None else incident
    else:
        shown = ", ".join(ENVELOPE_SHAPES)
        guess = nearest(str(shape), list(ENVELOPE_SHAPES))
        hint = f"Did you mean '{guess}'? " if guess else ""
        raise UsageError(f"Unknown envelope shape '{shape}'.", f"{hint}Shapes: {shown}.")
    if comment is not None:
        body["comment"] = comment
    return body


# --------------------------------------------------------------------------- calibrated shapes


def _fresh(value: Any) -> Any:
    """A copy of a template's container value (scalars are shared: they are immutable)."""
    return copy.deepcopy(value) if isinstance(value, dict | list) else value


def _fill(template: Any, ours: Any, event: str) -> Any:
    if isinstance(template, dict) and isinstance(ours, dict):
        return {
            key: _fill(value, ours[key], event) if key in ours else _keep(value, event)
            for key, value in template.items()
        }
    if isinstance(template, list) and isinstance(ours, list):
        first = template[0] if template else None
        if isinstance(first, dict) and all(isinstance(item, dict) for item in ours):
            # Every item of ours, in the captured item's shape (its extra fields kept).
            return [_fill(first, item, event) for item in ours]
        return ours
    return ours


def _keep(value: Any, event: str) -> Any:
    # A field only the captured body has: kept as captured, except an event name, which
    # becomes this event's (a captured `"trigger": "incident#new"` must follow the replay).
    if isinstance(value, str) and value in EVENTS:
        return event
    return _fresh(value)


def is_wrapped(body: Mapping[str, Any]) -> bool:
    """Whether a body carries its incident under `incident` (else it is a bare incident)."""
    return isinstance(body.get("incident"), dict)


def fill_shape(
    template: Mapping[str, Any],
    event: str,
    incident: dict[str, Any],
    environment_id: str,
    comment: str | None = None,
) -> dict[str, Any]:
    """A body in the adopted (captured) shape `template`, filled for this event.

    The template's keys are the body's keys, at every level: where a name matches a field
    of ours (ids, statuses, timestamps, alerts, metadata) the simulator's value goes there;
    a field only the template has is kept as captured (an event name in it becomes this
    event); a field only we have is left out. Lists of objects (alerts, tags) take our
    items, each in the shape of the template's first item.
    """
    kind = resolve_event(event)
    if is_wrapped(template):
        ours: dict[str, Any] = {
            "incident": incident,
            "metadata": metadata(kind, incident, environment_id),
            "event_type": kind,
        }
    else:
        ours = dict(incident)
    if comment is not None:
        ours["comment"] = comment
    body = _fill(dict(template), ours, kind)
    if comment is not None and "comment" not in body:
        body["comment"] = comment  # the commented event's text always travels
    return body  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- render


@dataclass
class BodySpec:
    """How a command shapes each webhook body (the same for every event of a run).

    `calibrated` is the adopted shape of the profile (`calibrate.adopted_shape`), used in
    place of `envelope` when set; `environment_id` goes in `metadata.environment_id` and
    `incident.environments` (`profile_environment_id`; None: the simulator's own).
    """

    envelope: EnvelopeShape = DEFAULT_ENVELOPE
    test_marker: bool = True
    sets: list[tuple[str, str]] = field(default_factory=list)
    payload: dict[str, Any] | None = None  # --payload FILE: the user's own body
    calibrated: dict[str, Any] | None = None
    environment_id: str | None = None


def add_alert_tags(incident: dict[str, Any], tags: Mapping[str, str]) -> None:
    """Set `tags` on every alert of a rendered incident (a scenario step's `tags`)."""
    for alert in incident.get("alerts") or []:
        if not isinstance(alert, dict):
            continue
        existing = [t for t in alert.get("tags") or [] if t.get("name") not in tags]
        alert["tags"] = existing + [{"name": k, "value": str(v)} for k, v in tags.items()]


def render_body(
    simulator: IncidentSimulator,
    event: str,
    spec: BodySpec,
    sets: Sequence[tuple[str, str]] = (),
    tags: Mapping[str, str] | None = None,
    comment: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(body, incident) for `event`: simulated (or the --payload body), then the --set edits.

    The simulator renders fresh dicts, so nothing is deep-copied per event except a
    `--payload` body and the containers only an adopted shape has.
    """
    if spec.environment_id is not None:
        simulator.environment_id = spec.environment_id
    if spec.payload is not None:
        simulator.apply(event, comment=comment)
        body = copy.deepcopy(spec.payload)
    else:
        incident = simulator.apply(event, comment=comment)
        kind = resolve_event(event)
        text = simulator.last_comment if kind == COMMENTED else None
        if spec.calibrated is not None:
            body = fill_shape(spec.calibrated, kind, incident, simulator.environment_id, text)
        else:
            body = envelope(
                kind, incident, spec.envelope, comment=text, environment_id=simulator.environment_id
            )
    incident = incident_of(body)
    if tags:
        for name in tags:
            validate_tag_name(name)
        add_alert_tags(incident, tags)
    for path, value in [*spec.sets, *sets]:
        jsonpath.set_path(body, path, value)
    if spec.test_marker:
        # After the user's edits, so an edited description (or a --payload body) is
        # still marked as a test.
        mark_as_test(body)
    return body, incident_of(body)


# --------------------------------------------------------------------------- reading bodies


def summary(incident: Mapping[str, Any]) -> str:
    """One line describing `incident`, ≤ 1024 characters (PagerDuty's `payload.summary`).

    The most severe active alert's description (the first alert's when none is active), with
    "(+N more alerts)" when other alerts are active; tolerant of hand-edited payloads.
    """
    alerts = [a for a in incident.get("alerts") or [] if isinstance(a, Mapping)]
    active = [a for a in alerts if a.get("active")]

    def rank(alert: Mapping[str, Any]) -> int:
        status = str(alert.get("status", "")).lower()
        try:
            return status_rank(status)
        except UsageError:
            return 0

    lead = max(active, key=rank) if active else (alerts[0] if alerts else None)
    text = ""
    if lead is not None:
        text = str(lead.get("description") or "").strip()
        if not text:
            tags = {
                str(t.get("name")): str(t.get("value"))
                for t in lead.get("tags") or []
                if isinstance(t, Mapping)
            }
            check, host = tags.get("check"), tags.get("host")
            if check and host:
                text = f"{check} is {lead.get('status', 'unknown')} on {host}"
    if not text:
        text = f"BigPanda incident {incident.get('id', '?')} is {incident.get('status', '?')}"
    others = len(active) - 1
    if others > 0:
        text += f" (+{others} more alert{'s' if others > 1 else ''})"
    return truncate(" ".join(text.split()), SUMMARY_MAX)


#: `--payload -`: the body is read from standard input.
PAYLOAD_STDIN = Path("-")


def load_payload_file(path: Path) -> dict[str, Any]:
    """The JSON object in `path` (for `--payload FILE`; `-` is standard input), or a
    UsageError saying what is wrong (read through bp_integrate.loading: bounded in size and
    depth, errors located)."""
    from bp_integrate import loading

    if path == PAYLOAD_STDIN:
        hint = (
            "Pipe one JSON object (the webhook body) in, e.g. bp-integrate send-test new "
            "--payload - < body.json, or give --payload FILE."
        )
        data = loading.load_json_stdin("--payload -", "payload", hint)
        where = f"Payload {loading.STDIN}"
    else:
        hint = "Give --payload a JSON file holding one object (the webhook body)."
        data = loading.load_json(path, "payload file", hint)
        where = f"Payload file {path}"
    if not isinstance(data, dict):
        raise UsageError(f"{where} holds a JSON {type(data).__name__}, not an object.", hint)
    return checked_body(data, where, hint)


def checked_body(body: dict[str, Any], where: str, hint: str) -> dict[str, Any]:
    """`body` if its incident (`incident`, or the body itself) is an object whose `alerts`,
    when given, is a list of objects; else a UsageError naming what is wrong. Every reader
    of a body (summary, tags, the targets' mappings) may then rely on that shape."""
    has_incident = "incident" in body
    incident = body.get("incident") if has_incident else body
    if not isinstance(incident, dict):
        raise UsageError(f"{where}: incident is {_kind(incident)}, not an object.", hint)
    alerts = incident.get("alerts")
    at = "incident.alerts" if has_incident else "alerts"
    if alerts is not None and not isinstance(alerts, list):
        raise UsageError(
            f"{where}: {at} is {_kind(alerts)}, not a list of alert objects.",
            f'Give {at} as a list, like [{{"status": "critical"}}]. ' + hint,
        )
    for index, alert in enumerate(alerts or []):
        if not isinstance(alert, dict):
            raise UsageError(
                f"{where}: {at}[{index}] is {_kind(alert)}, not an alert object.", hint
            )
    return body


def _kind(value: Any) -> str:
    from bp_integrate.jsonpath import json_kind

    kind = json_kind(value)
    return kind if kind == "null" else ("an " if kind == "object" else "a ") + kind
