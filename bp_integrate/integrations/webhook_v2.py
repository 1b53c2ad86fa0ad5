"""BigPanda's Notifications Webhook v2: per trigger, a body template BigPanda renders
with dynamic variables, sent to a sub-path of a base URL with its own method and
headers. API-only in BigPanda (no UI creates or edits it).

Owns the integration's fields, the `workflow_config` BigPanda holds (`workflow_config`,
`create_body`), the checks a template passes before BigPanda sees it
(`validate_values`), what a share sends (`plan`: the trigger's configuration rendered
with the simulated incident, as BigPanda renders it), and the side in BigPanda by API
as plain functions over a `BigPandaClient`: find (`find_existing`), create or update
(`plan_install`, showing the difference first), delete (`plan_uninstall`), `apply` a
plan, and `export_answers` (what BigPanda holds, as an answers file install takes back).
The template language itself is `bp_integrate.templates`. Confidence: docs/webhook-v2.md.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from bp_integrate import templates
from bp_integrate.errors import UsageError, nearest
from bp_integrate.integrations.base import (
    UNINSTALL_STOP_SENDING,
    ApiCall,
    ApiClient,
    Choice,
    Field,
    Integration,
    Made,
    PasteItem,
    Planned,
    PlannedRequest,
    SendOptions,
    SidePlan,
    Skipped,
    Step,
    TargetSide,
    Webhook,
    webhook_url_item,
)
from bp_integrate.integrations.common import check_token
from bp_integrate.integrations.webhook import parse_headers
from bp_integrate.templates import KnownVariables
from bp_integrate.urls import MASK, check_url, mask_url, masked_params

if TYPE_CHECKING:
    from bp_integrate.bigpanda.api import BigPandaClient

#: `parent_system_id` of every Webhook v2 integration, and the first part of its id
#: (`webhook_v2.<name>`) [C: BigPanda's Notifications API reference].
PARENT_SYSTEM_ID = "webhook_v2"
#: How an entry of `workflow_config.events` names its trigger [G: the reference's event
#: schema has no such property]. Change it here if BigPanda answers otherwise.
EVENT_KEY = "event"
#: The triggers, in the order of BigPanda's Notifications Webhook v2 page [C].
DEFAULT_TRIGGER = "default"
TRIGGERS: tuple[str, ...] = (
    DEFAULT_TRIGGER,
    "incident#new",
    "incident#updated",
    "incident-tag#upserted",
    "incident-tag#removed",
    "incident#snoozed",
    "incident#commented",
    "incident#reopen",
    "incident#become-flapping",
    "incident#closed",
    "manual",
)
#: The methods a trigger may use [C: the reference's enum].
METHODS: tuple[str, ...] = ("POST", "PUT", "PATCH")
#: The settings of one trigger an answers file's `templates` may give.
TRIGGER_KEYS: tuple[str, ...] = ("enabled", "body", "path", "headers", "method")
#: A BigPanda integration name [G: not documented; BigPanda's examples are like
#: `p0channel`]: letters, digits, `_` and `-`.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

#: The body sent when no template is given: the incident's id and status, the primary
#: alert's host and check, links and the share's metadata.
DEFAULT_BODY: dict[str, Any] = {
    "incident_id": "{{incident.id}}",
    "status": "{{incident.status}}",
    "severity": "{{incident.severity}}",
    "active": "{{incident.is_active}}",
    "host": "{{primaryAlert.tags.host}}",
    "check": "{{primaryAlert.tags.check}}",
    "description": "{{primaryAlert.description}}",
    "started_at": "{{incident.start}}",
    "updated_at": "{{incident.updated_at}}",
    "link": "{{links.incident}}",
    "share": {
        "event": "{{metadata.event}}",
        "environment_id": "{{metadata.environment_id}}",
        "share_id": "{{metadata.share_id}}",
    },
}


# --------------------------------------------------------------------------- field checks


def check_name(value: str, _values: Mapping[str, str]) -> str:
    if not _NAME.fullmatch(value):
        raise UsageError(
            f"{value!r} is not a name BigPanda takes for an integration.",
            "Use letters, digits, '_' and '-' (at most 64), e.g. ticketing_v2.",
        )
    return value


def check_base_url(value: str, _values: Mapping[str, str]) -> str:
    return check_url(value, "The base URL")


def resolve_trigger(name: str) -> str:
    """A trigger from a forgiving spelling (`closed`, `incident#closed`, `default`)."""
    from bp_integrate.bigpanda.events import resolve_event

    key = name.strip()
    if key.lower() == DEFAULT_TRIGGER:
        return DEFAULT_TRIGGER
    try:
        found = resolve_event(key)
    except UsageError:
        guess = nearest(key, list(TRIGGERS))
        raise UsageError(
            f"{name!r} is not a Webhook v2 trigger.",
            (f"Did you mean {guess!r}? " if guess else "") + f"Triggers: {', '.join(TRIGGERS)}.",
        ) from None
    return found


def check_triggers(value: str, _values: Mapping[str, str]) -> str:
    found: list[str] = []
    for item in value.split(","):
        if item.strip() and resolve_trigger(item) not in found:
            found.append(resolve_trigger(item))
    if not found:
        raise UsageError("No trigger is enabled.", "Give at least one, e.g. default.")
    return ", ".join(t for t in TRIGGERS if t in found)


def _document(value: str, what: str) -> Any:
    """Inline JSON (what the settings file stores), else the path of a JSON or YAML file."""
    from bp_integrate import loading

    text = value.strip()
    hint = f"Give {what} as the path of a JSON or YAML file (or inline JSON)."
    if text.startswith(("{", "[")):
        return loading.parse_json(text, what, "the value", UsageError, hint)
    path = Path(text).expanduser()
    if path.suffix.lower() in (".yaml", ".yml"):
        return loading.load_yaml(path, what, hint)
    return loading.load_json(path, what, hint)


def _compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def check_body(value: str, _values: Mapping[str, str]) -> str:
    body = _document(value, "the body template")
    _check_body_shape(body, "The body template")
    templates.check_template(body, KnownVariables.offline(), "The body template")
    return _compact(body)


def _check_body_shape(body: Any, where: str) -> None:
    if not templates.is_json_object(body):
        raise UsageError(
            f"{where} is not a JSON object (BigPanda sends a JSON object as the body).",
            'Write it as {"key": "value", ...}; a variable that is a whole string value '
            '("{{incident.start}}") keeps its type (a number stays a number).',
        )


def check_templates(value: str, _values: Mapping[str, str]) -> str:
    data = _document(value, "the per-trigger templates")
    if not isinstance(data, dict):
        raise UsageError(
            "The per-trigger templates are not a mapping of trigger: settings.",
            "e.g. {incident#closed: {method: PATCH, path: /tickets/{{incident.id}}}}.",
        )
    normal: dict[str, dict[str, Any]] = {}
    for raw, settings in data.items():
        trigger = resolve_trigger(str(raw))
        if not isinstance(settings, dict):
            raise UsageError(
                f"The templates of {trigger} are not a mapping.",
                f"Give {trigger} some of: {', '.join(TRIGGER_KEYS)}.",
            )
        for key in settings:
            if key not in TRIGGER_KEYS:
                guess = nearest(str(key), list(TRIGGER_KEYS))
                raise UsageError(
                    f"The templates of {trigger} have an unknown setting {key!r}.",
                    (f"Did you mean {guess!r}? " if guess else "")
                    + f"Settings: {', '.join(TRIGGER_KEYS)}.",
                )
        one = dict(settings)
        if "enabled" in one and not isinstance(one["enabled"], bool):
            raise UsageError(f"{trigger}: enabled must be true or false.", "e.g. enabled: false")
        if "body" in one:
            _check_body_shape(one["body"], f"The body template of {trigger}")
        if "method" in one:
            one["method"] = _method(str(one["method"]), trigger)
        if "headers" in one:
            one["headers"] = _headers_mapping(one["headers"], trigger)
        if "path" in one and not isinstance(one["path"], str):
            raise UsageError(
                f"{trigger}: path must be text.", "e.g. path: /tickets/{{incident.id}}"
            )
        normal[trigger] = one
    return _compact({t: normal[t] for t in TRIGGERS if t in normal})


def _method(value: str, where: str) -> str:
    method = value.strip().upper()
    if method not in METHODS:
        raise UsageError(
            f"{where}: method {value!r} is not one BigPanda sends.",
            f"Use one of {', '.join(METHODS)}.",
        )
    return method


def _headers_mapping(value: Any, where: str) -> dict[str, str]:
    if isinstance(value, str):
        return headers_from_wire(value) if value.strip().startswith("{") else parse_headers(value)
    if isinstance(value, dict) and all(isinstance(v, str | int | float) for v in value.values()):
        return parse_headers(",".join(f"{k}={v}" for k, v in value.items()))
    raise UsageError(f"{where}: headers must map names to values.", "e.g. headers: {X-Team: ops}")


def check_template_headers(value: str, _values: Mapping[str, str]) -> str:
    headers = parse_headers(value)
    templates.check_template(headers, KnownVariables.offline(), "The headers")
    return ",".join(f"{name}={v}" for name, v in headers.items())


def check_path(value: str, _values: Mapping[str, str]) -> str:
    templates.check_template(value, KnownVariables.offline(), "The sub-path")
    if any(c.isspace() for c in value) or "?" in value or "#" in value:
        raise UsageError(
            "The sub-path holds a space, '?' or '#'.",
            "Give only a path, e.g. /tickets/{{incident.id}}.",
        )
    return value


def check_authorization(value: str, _values: Mapping[str, str]) -> str:
    scheme, sep, token = value.strip().partition(" ")
    if scheme not in ("Basic", "Bearer") or not sep or not token.strip():
        raise UsageError(
            "The Authorization value must be 'Basic <base64>' or 'Bearer <token>'.",
            "BigPanda builds the header from a Basic or Bearer value (bp-integrate encode "
            "basic-auth makes a Basic one); it may hold variables, e.g. Bearer "
            "{{incidentTags.api_token}}.",
        )
    templates.check_template(value, KnownVariables.offline(), "The Authorization value")
    return value.strip()


# --------------------------------------------------------------------------- headers on the wire


#: How a trigger's headers travel in `workflow_config.events[].headers`, which the
#: reference types as a string (its example: `"x-client-id" : "{{ primaryAlert.tags.host
#: }}"`) [G]: we send a JSON object as text. `headers_from_wire` reads that, a bare
#: member list like the reference's example, and an object.
def headers_to_wire(headers: Mapping[str, str]) -> str:
    return _compact(dict(headers)) if headers else ""


def headers_from_wire(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if not isinstance(value, str) or not value.strip():
        return {}
    text = value.strip()
    if not text.startswith("{"):
        text = "{" + text + "}"
    try:
        data = json.loads(text)
    except ValueError:
        raise UsageError(
            f"BigPanda holds headers bp-integrate cannot read: {value!r}.",
            'Headers are a JSON object as text, e.g. {"X-Team": "ops"}.',
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"BigPanda holds headers that are not an object: {value!r}.", "")
    return {str(k): str(v) for k, v in data.items()}


# --------------------------------------------------------------------------- workflow_config


def integration_id(name: str) -> str:
    """The integration's id in BigPanda: `webhook_v2.<name>` [C]."""
    return f"{PARENT_SYSTEM_ID}.{name}"


def _triggers(values: Mapping[str, str]) -> list[str]:
    raw = values.get("triggers") or DEFAULT_TRIGGER
    return [t.strip() for t in check_triggers(raw, values).split(",") if t.strip()]


def _overrides(values: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    raw = values.get("templates", "")
    return json.loads(check_templates(raw, values)) if raw.strip() else {}


def _base_settings(values: Mapping[str, str]) -> dict[str, Any]:
    """The settings every trigger takes unless its own templates say otherwise."""
    raw = values.get("body", "")
    body = _document(raw, "the body template") if raw.strip() else DEFAULT_BODY
    return {
        "body": body,
        "path": values.get("path", ""),
        "headers": parse_headers(values.get("headers", "")),
        "method": (values.get("method") or "POST").upper(),
    }


def _entry(trigger: str, enabled: bool, settings: Mapping[str, Any], auth: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        EVENT_KEY: trigger,
        "enabled": enabled,
        "body": settings["body"],
        "headers": headers_to_wire(settings["headers"]),
        "path": settings["path"],
        "method": settings["method"],
    }
    if auth:
        entry["authorization"] = auth
    return entry


def workflow_config(values: Mapping[str, str]) -> dict[str, Any]:
    """The `workflow_config` these settings give BigPanda (the Authorization value as
    given: mask it with `masked` before showing).

    Every enabled trigger gets an entry of its own (the base settings, overridden by its
    `templates`); a trigger whose templates say `enabled: false` an entry that
    suppresses it. `default` is always defined (BigPanda requires it): when it is not
    among the enabled triggers, it is sent disabled, so a trigger with no entry of its
    own (which falls back to `default`) sends nothing [G: the fallback is documented, a
    disabled default's effect is our reading].
    """
    enabled = _triggers(values)
    overrides = _overrides(values)
    base = _base_settings(values)
    auth = values.get("authorization", "")
    events: list[dict[str, Any]] = []
    for trigger in TRIGGERS:
        own = overrides.get(trigger, {})
        on = trigger in enabled and own.get("enabled", True) is not False
        if own.get("enabled") is False and trigger in enabled:
            raise UsageError(
                f"{trigger} is among the enabled triggers and its templates say enabled: false.",
                f"Remove {trigger} from triggers, or enabled: false from its templates.",
            )
        if trigger in enabled or trigger in overrides or trigger == DEFAULT_TRIGGER:
            settings = {**base, **{k: v for k, v in own.items() if k != "enabled"}}
            if "headers" in own:
                settings["headers"] = own["headers"]
            events.append(_entry(trigger, on, settings, auth))
    config = {
        "base_url": values["base_url"],
        "expects_callbacks": values.get("expects_callbacks", "false") == "true",
    }
    return {"config": config, "events": events}


def create_body(values: Mapping[str, str]) -> dict[str, Any]:
    """The body of `POST /resources/v2.1/integrations` for these settings."""
    return {
        "name": values["name"],
        "parent_system_id": PARENT_SYSTEM_ID,
        "workflow_config": workflow_config(values),
    }


def masked(document: Any) -> Any:
    """A copy of a create/PATCH body (or a workflow) with every Authorization masked
    (`Bearer ****`): what BigPanda answers [G] (it stores Authorization encrypted; the
    base URL is where it sends, answered as it is)."""
    return _masked(document, base_url=False)


def for_display(document: Any) -> Any:
    """`masked`, and the base URL's secrets too (a key in its query, the path of a Slack
    or Teams webhook URL): what a plan, a difference and `show --remote` show."""
    return _masked(document, base_url=True)


def _masked(document: Any, base_url: bool) -> Any:
    if isinstance(document, dict):
        return {k: _masked_item(k, v, base_url) for k, v in document.items()}
    if isinstance(document, list):
        return [_masked(item, base_url) for item in document]
    return document


def _masked_item(key: str, value: Any, base_url: bool = True) -> Any:
    if key == "authorization":
        return _mask_auth(value)
    if key == "base_url" and base_url and isinstance(value, str):
        return mask_url(value)
    return _masked(value, base_url)


def _mask_auth(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value
    scheme, sep, _token = value.partition(" ")
    return f"{scheme} {MASK}" if sep else MASK


def entry_for(config: Mapping[str, Any], trigger: str) -> dict[str, Any] | None:
    """The events entry BigPanda uses for `trigger`: its own, else `default`'s [C]."""
    events = [e for e in config.get("events") or [] if isinstance(e, dict)]
    for name in (trigger, DEFAULT_TRIGGER):
        for entry in events:
            if entry.get(EVENT_KEY) == name:
                return entry
    return None


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Rendered:
    """One trigger's request, rendered: what BigPanda sends for one share."""

    trigger: str
    method: str
    url: str
    headers: dict[str, str]
    body: Any
    authorization: str = ""


def render(
    config: Mapping[str, Any],
    event: str,
    incident: Mapping[str, Any],
    body: Mapping[str, Any],
) -> Rendered | None:
    """The request for `event` (None: that trigger is disabled): its entry (or
    `default`'s), each template rendered with the share's values."""
    entry = entry_for(config, event)
    if entry is None or entry.get("enabled") is False:
        return None
    values = templates.share_values(event, incident, body)
    base_url = str((config.get("config") or {}).get("base_url", ""))
    path = templates.render_text(str(entry.get("path") or ""), values, encode=True)
    headers = templates.render_headers(headers_from_wire(entry.get("headers")), values)
    auth = entry.get("authorization")
    authorization = templates.render_text(auth, values) if isinstance(auth, str) else ""
    template = entry.get("body") or {}
    if isinstance(template, str):  # held as JSON text (the reference's example is text)
        template = json.loads(template)
    return Rendered(
        str(entry.get(EVENT_KEY, event)),
        str(entry.get("method") or "POST").upper(),
        templates.join_path(base_url, path),
        headers,
        templates.render_json(template, values),
        authorization,
    )


def request_headers(rendered: Rendered) -> dict[str, str]:
    """The headers BigPanda sends: JSON, the trigger's own, then Authorization."""
    headers = {"Content-Type": "application/json", **rendered.headers}
    if rendered.authorization:
        headers["Authorization"] = rendered.authorization
    return headers


# --------------------------------------------------------------------------- checks


def sample_share(event: str = "incident#new") -> tuple[dict[str, Any], dict[str, Any]]:
    """(incident, body) of a simulated share, to render templates with before BigPanda
    does (the one simulator, the one webhook body)."""
    from bp_integrate.bigpanda.simulator import IncidentSimulator
    from bp_integrate.bigpanda.webhook import BodySpec, render_body

    simulator = IncidentSimulator(test_marker=False)
    if event != "incident#new":
        render_body(simulator, "incident#new", BodySpec(test_marker=False))
    body, incident = render_body(simulator, event, BodySpec(test_marker=False))
    return incident, body


def validate_workflow(config: Mapping[str, Any], known: KnownVariables) -> None:
    """Refuse a workflow BigPanda would render badly, before any API call: every
    variable known (the nearest named for a typo), every body a JSON object before and
    after rendering, every rendered path and header fit to send."""
    events = [e for e in config.get("events") or [] if isinstance(e, dict)]
    if not any(e.get(EVENT_KEY) == DEFAULT_TRIGGER for e in events):
        raise UsageError(
            "The workflow defines no default trigger (BigPanda requires one).",
            "Add default to triggers, or give it templates.",
        )
    for entry in events:
        trigger = str(entry.get(EVENT_KEY))
        where = f"{trigger}:"
        for key, what in (
            ("body", "body"),
            ("path", "path"),
            ("headers", "headers"),
            ("authorization", "Authorization"),
        ):
            templates.check_template(entry.get(key) or "", known, f"{where} the {what}")
        _check_body_shape(entry.get("body"), f"{where} the body")
        if str(entry.get("method") or "POST").upper() not in METHODS:
            raise UsageError(f"{where} method {entry.get('method')!r}.", f"Use {METHODS}.")
        if entry.get("enabled") is False:
            continue
        check_event = trigger if trigger not in (DEFAULT_TRIGGER, "manual") else "incident#new"
        incident, body = sample_share(check_event)
        rendered = render(config, trigger, incident, body)
        if rendered is None:
            continue
        if not templates.is_json_object(rendered.body):
            raise UsageError(
                f"{where} the body does not render to a JSON object.",
                "A whole-string variable takes the variable's type: the body itself must "
                "stay an object.",
            )
        from urllib.parse import urlsplit

        parts = urlsplit(rendered.url)
        if not parts.scheme or not parts.hostname or any(c.isspace() for c in rendered.url):
            raise UsageError(f"{where} the path renders to a URL that cannot be sent.", "")
        for name, value in request_headers(rendered).items():
            problem = templates.header_problem(value)
            if problem:
                raise UsageError(f"{where} the header {name} {problem}.", "Check its template.")


def validate_values(values: Mapping[str, str], known: KnownVariables | None = None) -> None:
    """`validate_workflow` for install's values (offline unless `known` comes from the
    organisation's dynamic variables API: `known_variables(client)`)."""
    validate_workflow(workflow_config(values), known or KnownVariables.offline())


def known_variables(client: BigPandaClient | None) -> KnownVariables:
    """The variables this organisation's BigPanda knows (its dynamic variables API), or
    the documented standard ones when there is no client."""
    if client is None:
        return KnownVariables.offline()
    return KnownVariables.from_api(client.dynamic_variables())


# --------------------------------------------------------------------------- BigPanda's side


@dataclass(frozen=True)
class IntegrationCall:
    """One call to BigPanda's Notifications API, exactly as made (`body` real: show
    `shown()`)."""

    method: str
    path: str
    body: dict[str, Any] | None
    what: str

    def shown(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "body": for_display(self.body)}


@dataclass(frozen=True)
class IntegrationPlan:
    """What install or uninstall does in BigPanda: `action`, the calls (none for
    `unchanged` and `absent`), and for an update the difference, line by line."""

    action: Literal["create", "update", "unchanged", "delete", "absent"]
    integration_id: str
    calls: tuple[IntegrationCall, ...] = ()
    difference: tuple[str, ...] = ()
    held: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "integration_id": self.integration_id,
            "calls": [c.shown() for c in self.calls],
            "difference": list(self.difference),
        }


def named(listed: Any, name: str | None) -> dict[str, Any] | None:
    """The Webhook v2 integration named `name` in a list BigPanda answered, or None."""
    for item in listed if isinstance(listed, list) else []:
        if (
            isinstance(item, dict)
            and item.get("name") == name
            and item.get("parent_system_id", PARENT_SYSTEM_ID) == PARENT_SYSTEM_ID
        ):
            return dict(item)
    return None


def find_existing(client: BigPandaClient, name: str) -> dict[str, Any] | None:
    """The Webhook v2 integration named `name` BigPanda holds, or None."""
    return named(client.list_integrations(), name)


def _normal_events(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Events by trigger, each in one form (headers as a mapping, a body held as text
    parsed), so what BigPanda holds and what we would send compare."""
    found: dict[str, dict[str, Any]] = {}
    for entry in config.get("events") or []:
        if not isinstance(entry, dict):
            continue
        body = entry.get("body") or {}
        if isinstance(body, str):
            with contextlib.suppress(ValueError):
                body = json.loads(body)
        found[str(entry.get(EVENT_KEY))] = {
            "enabled": entry.get("enabled", True) is not False,
            "body": body,
            "path": entry.get("path") or "",
            "headers": headers_from_wire(entry.get("headers")),
            "method": str(entry.get("method") or "POST").upper(),
            "authorization": entry.get("authorization") or "",
        }
    return found


def _auth_differs(held: str, ours: str) -> bool:
    """BigPanda stores Authorization encrypted [C]; what a GET shows of it is not
    documented [G]: a masked value counts as the same one when both are set."""
    if not held or not ours:
        return bool(held) != bool(ours)
    if MASK in held or "*" in held:
        return False
    return held != ours


def difference(held: Mapping[str, Any], ours: Mapping[str, Any]) -> list[str]:
    """What an update changes, one line each (`- held` / `+ ours`); empty when nothing
    does. `held` and `ours` are workflow_configs; Authorization values are masked."""
    lines: list[str] = []
    held_config = held.get("config") or {}
    for key in ("base_url", "expects_callbacks"):
        before, after = held_config.get(key), (ours.get("config") or {}).get(key)
        if before != after:
            lines += [
                f"- config.{key}: {json.dumps(_masked_item(key, before))}",
                f"+ config.{key}: {json.dumps(_masked_item(key, after))}",
            ]
    before_events, after_events = _normal_events(held), _normal_events(ours)
    for trigger in TRIGGERS:
        a, b = before_events.get(trigger), after_events.get(trigger)
        if a is None and b is None:
            continue
        if a is None or b is None:
            sign, entry = ("+", b) if a is None else ("-", a)
            assert entry is not None
            state = "enabled" if entry["enabled"] else "disabled"
            lines.append(f"{sign} {trigger} ({state})")
            continue
        for key in ("enabled", "method", "path", "headers", "body"):
            if a[key] != b[key]:
                lines += [
                    f"- {trigger}.{key}: {json.dumps(a[key], sort_keys=True)}",
                    f"+ {trigger}.{key}: {json.dumps(b[key], sort_keys=True)}",
                ]
        if _auth_differs(a["authorization"], b["authorization"]):
            lines += [
                f"- {trigger}.authorization: {json.dumps(_mask_auth(a['authorization']))}",
                f"+ {trigger}.authorization: {json.dumps(_mask_auth(b['authorization']))}",
            ]
    return lines


INTEGRATIONS_PATH = "/resources/v2.1/integrations"


def plan_install(
    client: BigPandaClient | None,
    values: Mapping[str, str],
    known: KnownVariables | None = None,
    held: Mapping[str, Any] | None = None,
) -> IntegrationPlan:
    """What install does in BigPanda: checks the templates first (against `known`, else
    the organisation's dynamic variables when there is a client, else offline; a
    UsageError before any change), then finds an integration of the same name: none ->
    create it; one -> update it (PATCH) when it differs, with the difference; else
    nothing. Without a client (`--dry-run` offline) it plans a create. `held` may be
    given instead of asking BigPanda."""
    validate_values(values, known or known_variables(client))
    ident = integration_id(values["name"])
    if held is None and client is not None:
        held = find_existing(client, values["name"])
    if held is None:
        body = create_body(values)
        call = IntegrationCall("POST", INTEGRATIONS_PATH, body, f"Create {ident}")
        return IntegrationPlan("create", ident, (call,))
    ours = workflow_config(values)
    lines = difference(held.get("workflow_config") or {}, ours)
    if not lines:
        return IntegrationPlan("unchanged", ident, held=dict(held))
    patch = {"workflow_config": ours}
    call = IntegrationCall("PATCH", f"{INTEGRATIONS_PATH}/{ident}", patch, f"Update {ident}")
    return IntegrationPlan("update", ident, (call,), tuple(lines), dict(held))


def plan_uninstall(client: BigPandaClient | None, values: Mapping[str, str]) -> IntegrationPlan:
    """What uninstall does in BigPanda: delete the integration by its App Key (the
    `app_key` setting, else its id, as the reference's example shows [G]); nothing
    when BigPanda holds none of that name (already gone)."""
    ident = integration_id(values["name"])
    if client is not None and find_existing(client, values["name"]) is None:
        return IntegrationPlan("absent", ident)
    key = values.get("app_key") or ident
    call = IntegrationCall("DELETE", f"{INTEGRATIONS_PATH}/{key}", None, f"Delete {ident}")
    return IntegrationPlan("delete", ident, (call,))


def apply(client: BigPandaClient, plan: IntegrationPlan) -> dict[str, Any] | None:
    """Make the plan's calls; the integration BigPanda then holds (None once deleted)."""
    result: dict[str, Any] | None = plan.held
    for call in plan.calls:
        if call.method == "POST" and call.body is not None:
            result = client.create_integration(call.body)
        elif call.method == "PATCH" and call.body is not None:
            result = client.update_integration(plan.integration_id, call.body["workflow_config"])
        elif call.method == "DELETE":
            client.delete_integration(call.path.rsplit("/", 1)[-1])
            result = None
    return result


def export_answers(held: Mapping[str, Any]) -> dict[str, Any]:
    """What BigPanda holds for one integration, as an answers file install accepts back
    (`{"webhook_v2": {...}}`; export then install is a no-op). The Authorization value
    is a secret and is never written: set BP_INTEGRATE_WEBHOOK_V2_AUTHORIZATION; nor are
    the base URL's secrets (`****`: install keeps the ones it stored, else their
    variable gives them)."""
    config = held.get("workflow_config") or {}
    events = _normal_events(config)
    default = events.get(DEFAULT_TRIGGER) or {
        "body": DEFAULT_BODY,
        "path": "",
        "headers": {},
        "method": "POST",
        "enabled": True,
    }
    answers: dict[str, Any] = {
        "name": held.get("name"),
        "base_url": mask_url(str((config.get("config") or {}).get("base_url", ""))),
        "expects_callbacks": bool((config.get("config") or {}).get("expects_callbacks")),
        "triggers": [t for t in TRIGGERS if t in events and events[t]["enabled"]],
        "method": default["method"],
    }
    if default["path"]:
        answers["path"] = default["path"]
    if default["headers"]:
        answers["headers"] = ",".join(f"{k}={v}" for k, v in default["headers"].items())
    answers["body"] = default["body"]
    own: dict[str, Any] = {}
    for trigger in TRIGGERS[1:]:
        entry = events.get(trigger)
        if entry is None:
            continue
        if not entry["enabled"]:
            own[trigger] = {"enabled": False}
            continue
        diff = {
            k: entry[k] for k in ("body", "path", "headers", "method") if entry[k] != default[k]
        }
        if diff:
            own[trigger] = diff
    if own:
        answers["templates"] = own
    return {"webhook_v2": answers}


def export_text(held: Mapping[str, Any]) -> str:
    """`export_answers` as YAML text, with a first line naming the secret to set."""
    import yaml

    answers = export_answers(held)
    head = (
        "# bp-integrate answers for a BigPanda Notifications Webhook v2 integration, as\n"
        "# BigPanda holds it. Set BP_INTEGRATE_WEBHOOK_V2_AUTHORIZATION if it uses one, then:\n"
        "#   bp-integrate install webhook_v2 --no-input --answers THIS_FILE\n"
    )
    hidden = masked_params(answers["webhook_v2"]["base_url"])
    if hidden:
        from bp_integrate.secrets import env_var

        names = " and ".join(env_var(PARENT_SYSTEM_ID, f"base_url.{p}") for p in hidden)
        head += (
            "# Its base URL carries a secret, written ****: install keeps the one it stored;\n"
            f"# elsewhere set {names} to what **** stands for.\n"
        )
    text: str = yaml.safe_dump(answers, sort_keys=False, allow_unicode=True)
    return head + text


def values_from_held(held: Mapping[str, Any], authorization: str = "") -> dict[str, str]:
    """Settings (as install stores them) that give the workflow BigPanda holds: what
    the emulated BigPanda shares with, and a round trip of `export_answers`."""
    answers = export_answers(held)["webhook_v2"]
    config = (held.get("workflow_config") or {}).get("config") or {}
    values: dict[str, str] = {
        "name": str(answers["name"]),
        "base_url": str(config.get("base_url", "")),  # the real one: where shares go
        "expects_callbacks": "true" if answers["expects_callbacks"] else "false",
        "triggers": ", ".join(answers["triggers"]) or DEFAULT_TRIGGER,
        "method": str(answers["method"]),
        "path": str(answers.get("path", "")),
        "headers": str(answers.get("headers", "")),
        "body": _compact(answers["body"]),
    }
    if "templates" in answers:
        values["templates"] = _compact(answers["templates"])
    if authorization:
        values["authorization"] = authorization
    return values


# ------------------------------------------------------ the install hook (BigPanda's side)
DYNAMIC_VARIABLES_PATH = "/resources/v2.1/fields-resolver/workflows"


class BigPandaSide(TargetSide):
    """BigPanda's side of a Webhook v2 integration through the one install hook: made
    from the walkthrough's answers (templates checked against the organisation's own
    variables first), found by name and updated with the difference shown, removed by
    its App Key. The key is the profile's BigPanda User API key, not a vendor's."""

    system = "BigPanda"
    what = "Notifications Webhook v2 integration"
    name = "bp_integrate"
    key_label = "BigPanda User API key"
    key_help = (
        "the profile's User API key (bp-integrate profile set --api-key-stdin): a "
        "service account's key whose role manages Integrations."
    )
    permission = "Integrations (full access)"
    key_field = ""  # the profile's key: kept by `profile set`, not as a read-back key
    rate_limit = "BigPanda allows about 5 requests per second; wait a minute and run again."
    interval = 0.2
    removal_step = "Delete the integration"
    api_only = True
    after_walkthrough = True
    uses_bigpanda = True

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}", "Accept": "application/json"}

    def api_url(self, values: Mapping[str, str]) -> str:
        raise NotImplementedError("the profile's BigPanda host (uses_bigpanda)")

    def plan(self, api: ApiClient, values: Mapping[str, str], choice: Choice | None) -> SidePlan:
        listed = api.call("GET", INTEGRATIONS_PATH, "find an integration of this name")
        held = named(listed, values.get("name"))
        answer = api.call("GET", DYNAMIC_VARIABLES_PATH, "read this organisation's variables")
        known = KnownVariables.from_api(answer) if isinstance(answer, dict) else None
        planned = plan_install(None, values, known, held=held)
        ident = planned.integration_id
        where = f"BigPanda -> Integrations -> {ident}"
        if planned.action == "unchanged":
            made = Made({}, f"{ident} (already as configured)", where)
            return SidePlan((), existing=made)
        [call] = planned.calls
        what = f"create {ident}" if planned.action == "create" else f"update {ident}"
        if planned.difference:
            what += " (" + "; ".join(planned.difference) + ")"
        shown = ApiCall(call.method, api.url(call.path), what, for_display(call.body))
        # The real body (its Authorization included) stays in memory for `apply`.
        context = {
            "action": planned.action,
            "id": ident,
            "path": call.path,
            "body": json.dumps(call.body),
        }
        return SidePlan((shown,), context=context)

    def apply(self, api: ApiClient, plan: SidePlan) -> Made:
        [call] = plan.writes
        action, ident = plan.context["action"], plan.context["id"]
        body = json.loads(plan.context["body"])
        api.call(call.method, plan.context["path"], call.what, body=body)
        where = f"BigPanda -> Integrations -> {ident}"
        return Made({}, ident, where, created=action == "create", updated=action == "update")

    def _path(self, values: Mapping[str, str]) -> str:
        return f"{INTEGRATIONS_PATH}/{values.get('app_key') or integration_id(values['name'])}"

    def removal(self, values: Mapping[str, str]) -> list[ApiCall]:
        if not values.get("name"):
            return []
        ident = integration_id(values["name"])
        return [ApiCall("DELETE", self._path(values), f"delete {ident} in BigPanda")]

    def remove(self, api: ApiClient, values: Mapping[str, str]) -> str:
        ident = integration_id(values["name"])
        api.call("DELETE", self._path(values), f"delete {ident}", missing_ok=True)
        return f"BigPanda: {ident} deleted (or already gone)."

    def by_hand(self, values: Mapping[str, str]) -> str:
        ident = integration_id(values.get("name") or "NAME")
        return f"In BigPanda: Integrations -> {ident} -> the trash icon."

    def held(self, api: ApiClient, values: Mapping[str, str]) -> dict[str, Any] | None:
        listed = api.call("GET", INTEGRATIONS_PATH, "read the integration BigPanda holds")
        found = named(listed, values.get("name"))
        return for_display(found) if found is not None else None

    def export(self, held: Mapping[str, Any]) -> str | None:
        return export_text(held)

    def detail(self, answer: Any) -> str:
        errors = answer.get("errors") if isinstance(answer, dict) else None
        return "; ".join(str(e) for e in errors)[:300] if isinstance(errors, list) else ""


# --------------------------------------------------------------------------- the integration


class NotificationsWebhookV2(Integration):
    name = "webhook_v2"
    title = "Notifications Webhook v2"
    summary = "Per-trigger JSON templates BigPanda renders, created in BigPanda by API."
    doc_page = "docs/webhook-v2.md"
    aliases = ("webhook-v2", "webhookv2", "notifications-webhook-v2")
    request_label = "webhook v2"
    #: Its activities name `webhook_v2.<name>`, as its id does [G: the Activities
    #: reference shows `webhook.<name>` for the classic webhook only].
    share_system = "webhook_v2"
    target_side = BigPandaSide()
    region_bound = True  # made by API at the profile's BigPanda host

    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "name",
            "Name of the integration in BigPanda",
            "Letters, digits, '_' and '-'; its id in BigPanda becomes webhook_v2.<name>. "
            "A re-install keeps it (to change it: uninstall, then install).",
            default="bp_integrate",
            check=check_name,
            identifies=integration_id,
        ),
        Field(
            "base_url",
            "Base URL of the receiver",
            "Where BigPanda sends each share: an https:// URL; a trigger's sub-path is "
            "appended to it (http:// only on this machine, e.g. the emulator). A URL that "
            "carries a secret (a Slack, Discord or Teams webhook URL, a ?token=) is kept as "
            "one: give it in the environment or at the prompt, not in a file or on the "
            "command line.",
            check=check_base_url,
        ),
        Field(
            "triggers",
            "Triggers that share (comma-separated)",
            "default covers every trigger without settings of its own; without default, "
            "only the triggers listed share. Triggers: " + ", ".join(TRIGGERS) + ".",
            default=DEFAULT_TRIGGER,
            list_value=True,
            check=check_triggers,
        ),
        Field(
            "body",
            "Body template: a JSON or YAML file (optional)",
            "The JSON object each share sends, with {{category.name}} variables; without "
            "one, a body with the incident's id, status, host, check, links and share.",
            required=False,
            check=check_body,
            multiline=True,
        ),
        Field(
            "path",
            "Sub-path appended to the base URL (optional)",
            "e.g. /tickets/{{incident.id}}; variables are percent-encoded.",
            required=False,
            check=check_path,
        ),
        Field(
            "headers",
            "Headers (optional: NAME=VALUE,NAME=VALUE)",
            "Extra headers, values may hold variables; put secrets in authorization.",
            required=False,
            check=check_template_headers,
        ),
        Field(
            "method",
            "HTTP method",
            "POST, PUT or PATCH (per trigger in templates).",
            default="POST",
            choices=METHODS,
        ),
        Field(
            "templates",
            "Per-trigger settings: a JSON or YAML file (optional)",
            "trigger: {body, path, headers, method, enabled}, for triggers that differ "
            "from the settings above, e.g. incident#closed: {method: PATCH}.",
            required=False,
            check=check_templates,
            multiline=True,
        ),
        Field(
            "authorization",
            "Authorization value (optional: 'Basic ...' or 'Bearer ...')",
            "BigPanda builds the Authorization header from it and stores it encrypted; "
            "kept here as a secret.",
            secret=True,
            required=False,
            check=check_authorization,
        ),
        Field(
            "expects_callbacks",
            "Lock updates until the receiver calls back",
            "true: after the first share BigPanda sends no update until a callback "
            "arrives or 15 minutes pass (BigPanda's Callback Service).",
            default="false",
            choices=("true", "false"),
        ),
        Field(
            "app_key",
            "App Key of the integration (optional: to delete it by)",
            "BigPanda deletes a Webhook v2 integration by its App Key (Integrations tab); "
            "without one, its id is used.",
            secret=True,
            required=False,
            check=check_token,
            confidence="G",
        ),
    )

    install_steps: ClassVar[tuple[Step, ...]] = (
        Step(
            "Receiver",
            "Know where and how BigPanda must send",
            "The receiver's base URL, what it checks (an Authorization value), and which "
            "triggers it wants.",
            asks=("name", "base_url", "authorization", "triggers", "expects_callbacks"),
        ),
        Step(
            "bp-integrate",
            "Write the templates",
            "The body BigPanda sends (a JSON or YAML file), the sub-path, headers and "
            "method; per trigger where they differ. Each is checked against BigPanda's "
            "variables and rendered with a simulated incident before BigPanda sees it.",
            asks=("body", "path", "headers", "method", "templates"),
            checkpoint=True,
        ),
        Step(
            "BigPanda",
            "Create the integration by API",
            "Webhook v2 is API-only: bp-integrate creates it (or updates one of the same "
            "name) with the profile's User API key, after showing the request.",
            asks=("app_key",),
        ),
    )

    uninstall_steps: ClassVar[tuple[Step, ...]] = (
        UNINSTALL_STOP_SENDING,
        Step(
            "BigPanda",
            "Delete the integration",
            "bp-integrate deletes it by API (DELETE /resources/v2.1/integrations/<App Key>), "
            "or: Integrations -> the integration -> trash icon. Deleting removes no data.",
            checkpoint=True,
        ),
    )

    def webhook(self, values: Mapping[str, str]) -> Webhook:
        headers = {"Content-Type": "application/json"}
        headers.update(parse_headers(values.get("headers", "")))
        secret: frozenset[str] = frozenset()
        if values.get("authorization"):
            headers["Authorization"] = values["authorization"]
            secret = frozenset({"Authorization"})
        return Webhook(values["base_url"], headers, secret)

    def paste(self, values: Mapping[str, str]) -> list[PasteItem]:
        """Nothing is pasted (BigPanda's side is made by API): the base URL and its
        Authorization, for reference."""
        hook = self.webhook(values)
        items = [webhook_url_item(hook, "Base URL")]
        if "Authorization" in hook.headers:
            items.append(
                PasteItem(
                    "header:Authorization", "Authorization", hook.headers["Authorization"], True
                )
            )
        return items

    def final_notes(self, values: Mapping[str, str]) -> list[str]:
        return [
            f"BigPanda lists it as {integration_id(values.get('name') or 'NAME')} "
            "(Integrations tab); share to it from an AutoShare rule.",
            *super().final_notes(values),
        ]

    def plan(
        self,
        event: str,
        incident: dict[str, Any],
        body: dict[str, Any],
        values: Mapping[str, str],
        options: SendOptions,
    ) -> list[Planned]:
        """What BigPanda sends for `event`: the trigger's settings (else `default`'s),
        each template rendered with this share's values."""
        config = workflow_config(values)
        rendered = render(config, event, incident, body)
        if rendered is None:
            return [Skipped(self.name, event, f"the {event} trigger is disabled (no share)")]
        headers = request_headers(rendered)
        return [
            PlannedRequest(
                self.name,
                event,
                rendered.method,
                rendered.url,
                headers,
                rendered.body,
                secret_headers=frozenset({"Authorization"} & set(headers)),
                label=f"{self.request_label} {rendered.trigger}",
            )
        ]


INTEGRATION = NotificationsWebhookV2()

__all__ = [
    "DEFAULT_BODY",
    "EVENT_KEY",
    "INTEGRATION",
    "PARENT_SYSTEM_ID",
    "TRIGGERS",
    "IntegrationCall",
    "IntegrationPlan",
    "apply",
    "create_body",
    "difference",
    "export_answers",
    "export_text",
    "find_existing",
    "for_display",
    "integration_id",
    "known_variables",
    "masked",
    "plan_install",
    "plan_uninstall",
    "render",
    "validate_values",
    "validate_workflow",
    "values_from_held",
    "workflow_config",
]
