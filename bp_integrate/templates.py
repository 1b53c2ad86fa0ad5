"""BigPanda's dynamic variables (`{{category.name}}`): what they resolve to for a
simulated share, how a template renders, and which names are known.

Owns the Notifications Webhook v2 template language as far as BigPanda documents it
(docs.bigpanda.io "Dynamic Variables" and "Notifications Webhook v2"; the Notifications
API reference): variables are `{{category.name}}`, blanks inside the braces allowed
(`{{ primaryAlert.tags.host }}` in BigPanda's own examples), in a body, a path, a header
or the Authorization value. What the documents do not say is marked [G] here and in
docs/webhook-v2.md, each behind one constant. Stdlib only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bp_integrate.errors import UsageError, nearest

#: What a variable that resolves to nothing renders as [G: BigPanda does not say]. A
#: string that is exactly that variable becomes this too (not null), so a receiver that
#: expects a string still gets one.
UNRESOLVED: Any = ""
#: A variable: `{{ category.name }}` (blanks inside the braces allowed).
VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
#: A well-formed variable name: a category, then dot-separated names.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_][A-Za-z0-9_-]*)+")
#: A tag name as BigPanda allows it (lowercase a-z0-9_-, starting with a letter, ≤ 64).
_TAG = re.compile(r"[a-z][a-z0-9_-]{0,63}")

#: Categories whose names are the organisation's own (tags): any valid tag name offline.
TAG_CATEGORIES: tuple[str, ...] = ("incidentTags.", "primaryAlert.tags.")
#: Categories whose names are not published at all [G]: any name is taken offline.
OPEN_CATEGORIES: tuple[str, ...] = ("additional_fields.",)

#: The primary alert's fields: BigPanda's Dynamic Variables page [C] (its Email Parser
#: list; the page says the webhook v2 list "may be different").
PRIMARY_ALERT_FIELDS: tuple[str, ...] = (
    "id",
    "status",
    "is_active",
    "primary_property",
    "secondary_property",
    "source_system",
    "incident_key",
    "description",
    "primary",
    "secondary",
    "maintenance",
)
#: The incident's fields. `id`, `start` and `updated_at` appear in BigPanda's own
#: examples [C]; the others follow the webhook's incident object [G].
INCIDENT_FIELDS: tuple[str, ...] = (
    "id",
    "status",
    "severity",
    "is_active",
    "flapping",
    "snoozed",
    "start",
    "end",
    "changed_at",
    "updated_at",
)
#: The share's own metadata [G: the category is documented, its names are ours, the
#: fields of the `metadata` our webhook body carries].
METADATA_FIELDS: tuple[str, ...] = ("environment_id", "event", "share_id", "shared_at")
#: Links to the incident in BigPanda's UI [G: the category is documented, not its names].
LINK_FIELDS: tuple[str, ...] = ("incident", "preview")
#: Who assigned the incident and to whom (`username` in BigPanda's example [C], the
#: rest [G]). A simulated incident is never assigned: these render as UNRESOLVED.
PERSON_FIELDS: tuple[str, ...] = ("username", "email", "name")
#: Where `links.*` point [G]: BigPanda's UI URL of an incident.
LINK_TEMPLATES: dict[str, str] = {
    "incident": "https://a.bigpanda.io/#/app/overview/{environment_id}/active/incidents/{id}",
    "preview": "https://a.bigpanda.io/#/app/incident-preview/{id}",
}

#: Every standard variable, offline (tags come on top: see TAG_CATEGORIES).
STANDARD_VARIABLES: tuple[str, ...] = (
    *(f"incident.{n}" for n in INCIDENT_FIELDS),
    *(f"primaryAlert.{n}" for n in PRIMARY_ALERT_FIELDS),
    *(f"metadata.{n}" for n in METADATA_FIELDS),
    *(f"links.{n}" for n in LINK_FIELDS),
    *(f"assignee.{n}" for n in PERSON_FIELDS),
    *(f"assigner.{n}" for n in PERSON_FIELDS),
)


# --------------------------------------------------------------------------- finding


def variables_in(template: Any) -> Iterator[str]:
    """Every variable name in a template: a string, or JSON data (keys and values)."""
    if isinstance(template, str):
        for match in VARIABLE.finditer(template):
            yield match.group(1)
    elif isinstance(template, Mapping):
        for key, value in template.items():
            yield from variables_in(key)
            yield from variables_in(value)
    elif isinstance(template, list | tuple):
        for item in template:
            yield from variables_in(item)


def syntax_problem(text: str) -> str | None:
    """Why the braces of `text` do not make variables, or None."""
    rest = VARIABLE.sub("", text)
    if "{{" in rest or "}}" in rest:
        return "has a '{{' or '}}' that does not make a {{category.name}} variable"
    for match in VARIABLE.finditer(text):
        if not _NAME.fullmatch(match.group(1)):
            return f"has {match.group(0)!r}, which is not a {{{{category.name}}}} variable"
    return None


def _strings_in(template: Any) -> Iterator[str]:
    if isinstance(template, str):
        yield template
    elif isinstance(template, Mapping):
        for key, value in template.items():
            yield str(key)
            yield from _strings_in(value)
    elif isinstance(template, list | tuple):
        for item in template:
            yield from _strings_in(item)


# --------------------------------------------------------------------------- known names


@dataclass(frozen=True)
class KnownVariables:
    """The variable names a template may use, and where the list came from.

    Online it is what BigPanda's dynamic variables API lists for the organisation
    (`from_api`); offline the documented standard variables, plus any syntactically
    valid tag name under `incidentTags.` and `primaryAlert.tags.` (`offline`).
    """

    names: frozenset[str]
    source: str
    open_prefixes: tuple[str, ...] = ()

    @classmethod
    def offline(cls) -> KnownVariables:
        return cls(
            frozenset(STANDARD_VARIABLES),
            "BigPanda's documented standard variables (offline)",
            TAG_CATEGORIES + OPEN_CATEGORIES,
        )

    @classmethod
    def from_api(cls, answer: Mapping[str, Any]) -> KnownVariables:
        """From `GET /resources/v2.1/fields-resolver/workflows`: each category a list
        of `{"title", "value"}`, `value` being the whole variable name."""
        names = {
            str(item["value"])
            for items in answer.values()
            if isinstance(items, list)
            for item in items
            if isinstance(item, Mapping) and isinstance(item.get("value"), str)
        }
        return cls(frozenset(names), "BigPanda's dynamic variables API for this organisation")

    def knows(self, name: str) -> bool:
        if name in self.names:
            return True
        for prefix in self.open_prefixes:
            rest = name.removeprefix(prefix)
            if rest != name:
                return bool(_TAG.fullmatch(rest)) if prefix in TAG_CATEGORIES else bool(rest)
        return False

    def suggest(self, name: str) -> str | None:
        choices = sorted(self.names)
        guess = nearest(name, choices)
        if guess is None:  # difflib lowercases the name: try the names' own case too
            import difflib

            found = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
            guess = found[0] if found else None
        return guess


def check_template(template: Any, known: KnownVariables, where: str) -> None:
    """Refuse a template whose braces are malformed or that names an unknown variable,
    with the nearest known name."""
    for text in _strings_in(template):
        problem = syntax_problem(text)
        if problem:
            raise UsageError(
                f"{where} {problem}.",
                "Variables look like {{incident.id}} or {{ primaryAlert.tags.host }}.",
            )
    for name in variables_in(template):
        if known.knows(name):
            continue
        guess = known.suggest(name)
        for prefix in TAG_CATEGORIES:
            tag = name.removeprefix(prefix)
            if tag != name and not _TAG.fullmatch(tag):
                fixed = prefix + re.sub(r"[^a-z0-9_-]+", "_", tag.lower())
                hint = f"Did you mean {{{{{fixed}}}}}? " if known.knows(fixed) else ""
                raise UsageError(
                    f"{where} uses {{{{{name}}}}}: {tag!r} is not a BigPanda tag name.",
                    hint + "Tag names are lowercase a-z, 0-9, '_' and '-', start with a "
                    "letter, ≤ 64 characters.",
                )
        hint = f"Did you mean {{{{{guess}}}}}? " if guess else ""
        categories = sorted({n.rsplit(".", 1)[0] for n in known.names} | set(known.open_prefixes))
        raise UsageError(
            f"{where} uses {{{{{name}}}}}, which is not a variable BigPanda knows "
            f"(checked against {known.source}).",
            hint + "Categories: " + ", ".join(c.rstrip(".") for c in categories) + ".",
        )


# --------------------------------------------------------------------------- values


def _status_rank(alert: Mapping[str, Any]) -> int:
    from bp_integrate.bigpanda.events import status_rank

    try:
        return status_rank(str(alert.get("status", "")))
    except UsageError:
        return 0


def primary_alert(incident: Mapping[str, Any]) -> Mapping[str, Any]:
    """BigPanda's primary alert: "the oldest, most severe alert" of the incident [C]."""
    alerts = [a for a in incident.get("alerts") or [] if isinstance(a, Mapping)]
    if not alerts:
        return {}
    return min(alerts, key=lambda a: (-_status_rank(a), _number(a.get("start"))))


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def share_values(
    event: str, incident: Mapping[str, Any], body: Mapping[str, Any]
) -> dict[str, Any]:
    """Every standard variable's value for one share of `incident` (its webhook `body`
    supplies the share's `metadata`), plus its tags: `{"incident.id": ..., ...}`."""
    alert = primary_alert(incident)
    tags = {
        str(t.get("name")): t.get("value")
        for t in alert.get("tags") or []
        if isinstance(t, Mapping)
    }
    snooze = incident.get("snooze")
    values: dict[str, Any] = {
        "incident.id": incident.get("id"),
        "incident.status": incident.get("status"),
        "incident.severity": incident.get("severity"),
        "incident.is_active": incident.get("active"),
        "incident.flapping": incident.get("flapping"),
        "incident.snoozed": snooze.get("snoozed") if isinstance(snooze, Mapping) else None,
        "incident.start": incident.get("start"),
        "incident.end": incident.get("end"),
        "incident.changed_at": incident.get("changed_at"),
        "incident.updated_at": incident.get("updated_at"),
    }
    primary, secondary = alert.get("primary_property"), alert.get("secondary_property")
    source = alert.get("source_system")
    values.update(
        {
            "primaryAlert.id": alert.get("id"),
            "primaryAlert.status": alert.get("status"),
            "primaryAlert.is_active": alert.get("active"),
            "primaryAlert.primary_property": primary,
            "primaryAlert.secondary_property": secondary,
            "primaryAlert.source_system": [source] if isinstance(source, str) else source,
            "primaryAlert.incident_key": alert.get("incident_key"),
            "primaryAlert.description": alert.get("description"),
            "primaryAlert.primary": tags.get(str(primary)) if primary else None,
            "primaryAlert.secondary": tags.get(str(secondary)) if secondary else None,
            "primaryAlert.maintenance": bool(alert.get("maintenance_plans")) if alert else None,
        }
    )
    values.update({f"primaryAlert.tags.{name}": value for name, value in tags.items()})
    meta = body.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    for name in METADATA_FIELDS:
        values[f"metadata.{name}"] = meta.get(name)
    if values["metadata.event"] is None:
        values["metadata.event"] = event
    environments = incident.get("environments")
    environment_id = meta.get("environment_id") or (
        environments[0] if isinstance(environments, list) and environments else ""
    )
    for name, link in LINK_TEMPLATES.items():
        values[f"links.{name}"] = link.format(
            environment_id=environment_id, id=incident.get("id", "")
        )
    for item in incident.get("incident_tags") or []:
        if isinstance(item, Mapping) and isinstance(item.get("tag_id"), str):
            values[f"incidentTags.{item['tag_id']}"] = item.get("tag_value")
    return values


def lookup(name: str, values: Mapping[str, Any]) -> Any:
    """A variable's value, or None when it resolves to nothing. An incident tag is found
    by its id (`incidentTags.itd-9ff554bc0c`, or with `_` for `-`) or by its name [G]."""
    if name in values:
        return values[name]
    tag = name.removeprefix("incidentTags.")
    if tag != name:
        from bp_integrate.bigpanda.testmark import incident_tag_id

        for candidate in (tag.replace("_", "-"), incident_tag_id(tag)):
            found = values.get(f"incidentTags.{candidate}")
            if found is not None:
                return found
    return None


# --------------------------------------------------------------------------- rendering


def as_text(value: Any) -> str:
    """A value inside a longer string [G]: text as is, JSON's words for true/false,
    a list of plain values joined by ', ', anything else as JSON."""
    if value is None:
        return str(UNRESOLVED)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(as_text(v) for v in value)
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def render_text(template: str, values: Mapping[str, Any], encode: bool = False) -> str:
    """A string template rendered; `encode` percent-encodes each value (for a path [G])."""

    def one(match: re.Match[str]) -> str:
        text = as_text(lookup(match.group(1), values))
        return quote(text, safe="-._~") if encode else text

    return VARIABLE.sub(one, template)


def render_json(template: Any, values: Mapping[str, Any]) -> Any:
    """A JSON body template rendered by walking it: strings (and keys) are rendered; a
    string that is exactly one variable keeps the variable's JSON type (a number, a
    boolean, a list), BigPanda's "Send data in the relevant data type" [G: how]."""
    if isinstance(template, str):
        whole = VARIABLE.fullmatch(template.strip())
        if whole is not None:
            value = lookup(whole.group(1), values)
            return UNRESOLVED if value is None else value
        return render_text(template, values)
    if isinstance(template, Mapping):
        return {render_text(str(k), values): render_json(v, values) for k, v in template.items()}
    if isinstance(template, list | tuple):
        return [render_json(item, values) for item in template]
    return template


def render_headers(headers: Mapping[str, str], values: Mapping[str, Any]) -> dict[str, str]:
    return {name: render_text(value, values) for name, value in headers.items()}


def header_problem(value: str) -> str | None:
    """Why a rendered header value cannot travel (RFC 9110 5.5), or None."""
    for char in value:
        if (ord(char) < 32 and char != "\t") or ord(char) == 127:
            return "holds a control character (a line break?) after rendering"
    return None


def join_path(base_url: str, path: str) -> str:
    """`base_url` with a rendered sub-path appended (one '/' between them) [G]."""
    if not path:
        return base_url
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def is_json_object(value: Any) -> bool:
    """A JSON object that encodes (no NaN or infinity, only JSON types)."""
    if not isinstance(value, dict):
        return False
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True
