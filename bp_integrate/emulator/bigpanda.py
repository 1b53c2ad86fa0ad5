"""The emulated BigPanda, held to BigPanda's published API descriptions.

Every BigPanda route answers in the shape of BigPanda's OpenAPI descriptions
(``tests/data/reference/bigpanda/``; ``tests/test_bigpanda_contract.py`` validates the
requests and answers against them, and docs/emulator.md names the operation each
route is held to):

* Environments API: list (a bare array), create, get, update, delete. An environment
  has a BPQL ``filter``; an incident belongs to every environment whose filter
  matches it (an empty filter, as the demo environments have, matches everything).
* Alerts API ``POST /data/v2/alerts``: one alert, or the batch ``{"app_key",
  "alerts": [...]}``; the org token as ``Authorization: Bearer`` or, as BigPanda's
  Alerts page allows, ``?access_token=``; 201, or 204 when every alert was an exact
  duplicate (BigPanda's docs say so).
* Incidents API v2: search (``{"total", "items"}``; a BPQL subset), get incident,
  activities (a bare array of ``{id, type, timestamp, created_by, params}``, only the
  documented types), resolve, comment.
* Maintenance Plans API v2: create, get, update, delete, stop, and the ordered list.
  While a plan runs (between ``start`` and ``end``, not stopped or deleted), an alert
  its ``condition`` (BPQL object syntax) matches is marked for maintenance. As
  BigPanda documents for V2 plans, such alerts still correlate into an incident; an
  incident made only of alerts in maintenance sits in the ``maintenance`` folder and
  is not shared: AutoShare shares it only if an update takes it out of maintenance.
  Nothing is dropped (dropping is V1 plans' suppression, not emulated).
* Notifications API (Webhook v2, API-only in BigPanda): create, list, get, update
  (PATCH), delete, and the organisation's dynamic variables. Every success answers an
  array of integrations, as the reference's ``webhookv2-200response`` says; an
  Authorization value is kept (BigPanda stores it encrypted) and answered masked [G].

Errors are ``{"status": N, "errors": [...]}``, the references' ``generic400response``
and ``generic404response``; 401 and 500, which the references give no body for, take
the same shape [G].

The core behind them: incidents made from alerts (same primary and secondary
property within ``bigpanda_correlation_window`` -> one incident), and AutoShare:
rules registered through the emulator-only ``POST /_bigpanda/autoshare`` (standing in
for BigPanda's UI) share a new incident of their environment, and later its close, to
the integration's target by asking the integration what it sends (the run engine's
planning: no second body builder here); each share writes an ``incident_shared``
activity naming ``<share_system>.<name>``. A rule to a Webhook v2 integration this
BigPanda holds (by its ``bigpanda_name``) renders the workflow BigPanda holds at share
time: each trigger's templates, its path, method and headers. Emulator-only faults: a
rule may drop or delay its shares; ``POST /_bigpanda/environments`` adds an environment that uses
incident tags (its search answers 500, as BigPanda documents); ``POST
/_bigpanda/region`` makes every BigPanda call answer 401, as a key of the other
region does.
"""

from __future__ import annotations

import asyncio
import copy
import fnmatch
import json
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bp_integrate.bigpanda.api import bpql_object, parse_bpql

from .context import (
    BodyError,
    bearer_token,
    json_response,
    outcome,
    read_json,
    same_secret,
    settings_of,
    target_state,
)
from .target import (
    MAX_ADMIN_OBJECTS,
    AdminLimit,
    Kept,
    Route,
    Target,
    TargetSettings,
    TargetState,
    keep_last,
)
from .wire import Request, Response

__all__ = ["TARGET", "parse_bpql"]

#: The BigPanda environments the emulated BigPanda API lists, as (id, name); their
#: filters are empty (every incident is theirs).
DEMO_BIGPANDA_ENVIRONMENTS: tuple[tuple[str, str], ...] = (
    ("64f0c0de0000000000000001", "Production"),
    ("64f0c0de0000000000000002", "Staging"),
)
BP_ENV = "/resources/v2.0/environments"
ALERTS_PATH = "/data/v2/alerts"
INCIDENTS_PATH = "/resources/v2.0/incidents"
PLANS_PATH = "/resources/v2.0/maintenance-plans"
ORDERED_PLANS_PATH = "/resources/v2.0/ordered-maintenance-plans"
V2_INTEGRATIONS_PATH = "/resources/v2.1/integrations"
DYNAMIC_VARIABLES_PATH = "/resources/v2.1/fields-resolver/workflows"
#: The demo organisation's incident tags (dynamic variables `incidentTags.<name>`).
DEMO_INCIDENT_TAGS: tuple[str, ...] = ("priority", "bp_integrate_test")
#: Alert tags every demo organisation has (more come from the alerts it receives).
DEMO_ALERT_TAGS: tuple[str, ...] = ("host", "check", "service", "bp_integrate_canary")
ALERT_STATUSES = ("ok", "critical", "warning", "unknown", "acknowledged")
#: The primary property BigPanda picks when an alert names none, in this order.
PRIMARY_PROPERTIES = ("host", "service", "application", "device")
#: The activity types the Activities reference lists (and no others).
ACTIVITY_TYPES = (
    "incident_created",
    "incident_assigned",
    "incident_unassigned",
    "incident_become_flapping",
    "incident_commented",
    "incident_resolved_ui_manually",
    "incident_resolved_api",
    "incident_alerts_resolved",
    "incident_tag_removed",
    "incident_tag_updated",
    "incident_merged_destination",
    "incident_merged_source",
    "incident_rcc_update",
    "incident_shared",
    "incident_splitted_destination",
    "incident_splitted_source",
    "incident_snoozed",
    "incident_unsnoozed",
    "incident_opened",
    "incident_reopen",
    "incident_resolved_by_alerts",
)
#: The search's documented folders.
FOLDERS = ("active", "shared", "snoozed", "resolved", "unhandled", "maintenance")
#: The user behind the demo User API key (`created_by` of what it does) [G].
API_USER_ID = "64f0c0de00000000000000ff"
#: `created_by` of what BigPanda does by itself (correlation, AutoShare) [G].
SYSTEM_USER = "system"
SEVERITY_RANK = {"ok": 0, "acknowledged": 1, "unknown": 2, "warning": 3, "critical": 4}
PLAN_FREQUENCIES = ("Once", "Daily", "Weekly", "Monthly")
POST_MAINTENANCE_ACTIONS = ("Resolve", "Reactivate", "None")


@dataclass(frozen=True)
class BigPandaSettings(TargetSettings):
    """The User API Key and environments the emulated BigPanda API knows (demo values)."""

    bigpanda_api_key: str = "demo-bigpanda-user-key"
    bigpanda_environments: tuple[tuple[str, str], ...] = DEMO_BIGPANDA_ENVIRONMENTS
    #: The org token the Alerts API takes, and the app key of the one inbound REST
    #: integration the emulated BigPanda knows.
    bigpanda_org_token: str = "demo-bigpanda-org-token"
    bigpanda_app_key: str = "demo-canary-app-key"
    #: Alerts on the same host and check within this many seconds make one incident.
    bigpanda_correlation_window: float = 3600.0

    def __post_init__(self) -> None:
        if not self.bigpanda_api_key:
            raise ValueError("bigpanda_api_key may not be empty")
        if not self.bigpanda_org_token or not self.bigpanda_app_key:
            raise ValueError("bigpanda_org_token and bigpanda_app_key may not be empty")

    def secrets(self) -> tuple[str, ...]:
        return (self.bigpanda_api_key, self.bigpanda_org_token, self.bigpanda_app_key)


# ------------------------------------------------------------------------ BPQL
def bpql_problem(condition: Any, depth: int = 0) -> str | None:
    """Why ``condition`` is not BPQL object syntax the emulator evaluates, or None.

    Taken: ``=``, ``!=``, ``===``, ``IN``, ``NOT IN`` on ``[tag, value]`` (a value may
    be ``{"type": "regex" | "formal-regex", "value"}``), and ``AND`` / ``OR`` of
    conditions, as BigPanda's "BPQL Object Syntax" page lists them.
    """
    if depth > 32:
        return "the condition is nested too deep"
    if not isinstance(condition, dict) or len(condition) != 1:
        return 'a condition is an object with one operator, e.g. {"=": ["host", "a"]}'
    ((op, args),) = condition.items()
    op = str(op).upper()
    if op in ("AND", "OR"):
        if not isinstance(args, list) or not args:
            return f"{op} takes a list of conditions"
        for arg in args:
            problem = bpql_problem(arg, depth + 1)
            if problem:
                return problem
        return None
    if op not in ("=", "!=", "===", "IN", "NOT IN"):
        return f"operator {op!r} is not one BPQL object syntax has"
    if not isinstance(args, list) or len(args) != 2 or not isinstance(args[0], str):
        return f"{op} takes [tag, value]"
    values = args[1] if op in ("IN", "NOT IN") else [args[1]]
    if not isinstance(values, list):
        return f"{op} takes [tag, [values]]"
    for value in values:
        if isinstance(value, dict):
            kind, pattern = value.get("type"), value.get("value")
            if kind not in ("regex", "formal-regex") or not isinstance(pattern, str):
                return 'a special value is {"type": "regex" | "formal-regex", "value": ...}'
            if kind == "formal-regex":
                try:
                    re.compile(pattern)
                except re.error as exc:
                    return f"invalid regular expression {pattern!r}: {exc}"
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            return "values are strings"
    return None


def bpql_matches(condition: Any, fields: Mapping[str, str]) -> bool:
    """Whether ``fields`` (tag names in lower case) satisfy a BPQL object (one that
    :func:`bpql_problem` passed). Tag names are case-insensitive, ``=`` compares values
    case-insensitively, ``===`` exactly."""
    ((op, args),) = condition.items()
    op = str(op).upper()
    if op in ("AND", "OR"):
        results = (bpql_matches(arg, fields) for arg in args)
        return all(results) if op == "AND" else any(results)
    name, expected = args
    value = fields.get(str(name).lower())
    if op in ("IN", "NOT IN"):
        hit = value is not None and any(_bpql_equal(value, e, False) for e in expected)
        return hit if op == "IN" else not hit
    hit = value is not None and _bpql_equal(value, expected, op == "===")
    return not hit if op == "!=" else hit


def _bpql_equal(value: str, expected: Any, exact: bool) -> bool:
    if isinstance(expected, dict):
        pattern = str(expected.get("value", ""))
        if expected.get("type") == "formal-regex":
            return re.fullmatch(pattern, value) is not None
        return fnmatch.fnmatchcase(value.lower(), pattern.lower())  # wildcard *
    return value == str(expected) if exact else value.lower() == str(expected).lower()


def bpql_string_matches(query: str, fields: Mapping[str, str]) -> bool:
    """Whether ``fields`` match a BPQL string of the emulated subset ("" and "*": all)."""
    if query.strip() in ("", "*"):
        return True
    return bpql_matches(bpql_object(query), fields)


def _bpql_string_ok(query: str) -> bool:
    return query.strip() in ("", "*") or parse_bpql(query) is not None


# ---------------------------------------------------------------------- records
@dataclass
class Environment:
    """A BigPanda environment: the incidents its BPQL ``filter`` matches ("" = all)."""

    id: str
    name: str
    description: str = ""
    filter: str = ""
    roles: list[dict[str, str]] = field(default_factory=list)
    read_only_roles: list[dict[str, str]] = field(default_factory=list)
    #: Emulator-only: BigPanda's search answers 500 on environments with incident tags.
    incident_tags: bool = False

    def includes(self, fields: Mapping[str, str]) -> bool:
        return bpql_string_matches(self.filter, fields)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "filter": self.filter,
            "roles": copy.deepcopy(self.roles),
            "read_only_roles": copy.deepcopy(self.read_only_roles),
        }


@dataclass
class MaintenancePlan:
    """A Maintenance Plans V2 plan (emulated as one window from ``start`` to ``end``)."""

    id: str
    maintenance_key: str
    name: str
    condition: dict[str, Any]
    start: int
    end: int
    created_at: int
    updated_at: int
    description: str = ""
    frequency: str = "Once"
    custom_tags: list[dict[str, str]] = field(default_factory=list)
    post_maintenance_action: str = "None"
    time_zone: str = "UTC"
    stopped_at: int | None = None

    def status(self, now: float) -> str:
        if self.stopped_at is not None or now >= self.end:
            return "done"
        return "running" if now >= self.start else "planned"

    def silences(self, fields: Mapping[str, str], now: float) -> bool:
        return self.status(now) == "running" and bpql_matches(self.condition, fields)

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status(now),
            "maintenance_key": self.maintenance_key,
            "name": self.name,
            "condition": copy.deepcopy(self.condition),
            "start": self.start,
            "end": self.end,
            "description": self.description,
            "custom_tags": copy.deepcopy(self.custom_tags),
            "created_by": API_USER_ID,
            "created_at": self.created_at,
            "updated_by": API_USER_ID,
            "updated_at": self.updated_at,
            "frequency": self.frequency,
            "post_maintenance_action": self.post_maintenance_action,
            "time_zone": self.time_zone,
        }


@dataclass
class BigPandaResolution:
    """A BigPanda incident resolved through the Incidents API v2."""

    environment_id: str
    incident_id: str
    comments: str | None
    received_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "environment_id": self.environment_id,
            "incident_id": self.incident_id,
            "comments": self.comments,
            "received_at": self.received_at,
        }


@dataclass
class BigPandaComment:
    """A comment added to a BigPanda incident through the Incidents API v2."""

    environment_id: str
    incident_id: str
    comment: str
    received_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "environment_id": self.environment_id,
            "incident_id": self.incident_id,
            "comment": self.comment,
            "received_at": self.received_at,
        }


@dataclass
class AutoShareRule:
    """An AutoShare rule (BigPanda's UI only; the emulator takes it on an emulator-only
    endpoint): incidents of ``environment_id`` whose alerts carry the tag ``tag`` (any
    incident when ``tag`` is empty) are shared to ``integration`` with its ``values``
    (secrets included, never shown). ``bigpanda_name`` is the name the integration has
    in BigPanda (its activities' ``share_target`` is ``<share_system>.<bigpanda_name>``).
    ``drop``/``delay`` are faults."""

    id: str
    environment_id: str
    integration: str
    values: dict[str, str]
    bigpanda_name: str
    tag: str = ""
    drop: bool = False
    delay: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "environment_id": self.environment_id,
            "integration": self.integration,
            "bigpanda_name": self.bigpanda_name,
            "tag": self.tag,
            "drop": self.drop,
            "delay": self.delay,
        }


@dataclass
class CoreIncident:
    """An incident the emulated BigPanda made from alerts (one alert: the events of one
    primary and secondary property)."""

    id: str
    host: str
    check: str
    tags: dict[str, str]
    #: What BPQL matches: the alert's fields, tag names in lower case.
    fields: dict[str, str]
    status: str
    start: float
    changed_at: float
    end: float | None = None
    severity: str = "ok"
    alert_ids: list[str] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)
    shared_with: list[str] = field(default_factory=list)
    #: The plans its alert is in maintenance by (empty: not in maintenance).
    maintenance: list[str] = field(default_factory=list)
    simulator: Any = None

    @property
    def active(self) -> bool:
        return self.end is None

    def folders(self) -> list[str]:
        if not self.active:
            return ["resolved"]
        if self.maintenance:
            return ["maintenance"]
        return ["active", "shared"] if self.shared_with else ["active"]

    def to_json(self, environment_ids: list[str]) -> dict[str, Any]:
        """The Incidents v2 object (``incidents_v2_response``)."""
        doc: dict[str, Any] = {
            "id": self.id,
            "status": self.status.capitalize(),
            "active": self.active,
            "severity": self.severity.capitalize(),
            "flapping": False,
            "shared": bool(self.shared_with),
            "maintenance": {"plan_ids": list(self.maintenance)} if self.maintenance else {},
            "start": int(self.start),
            "changed_at": int(self.changed_at),
            "updated_at": int(self.changed_at),
            "alerts": [{"alert_id": a} for a in self.alert_ids],
            "environments": environment_ids,
            "folders": self.folders(),
            "incident_tags": [],
            "correlation_matchers_log": [],
        }
        if self.end is not None:
            doc["end"] = int(self.end)
        return doc


class BigPandaState(TargetState):
    """Incidents resolved and comments added through the emulated Incidents API, and
    the core: environments, maintenance plans, alerts, incidents, their activities,
    AutoShare rules, the shares made, and faults."""

    def __init__(self, lock: Any) -> None:
        super().__init__(lock)
        # The newest of each kind (target.Kept); `_incidents` indexes `_kept_incidents`.
        self._resolutions: Kept[BigPandaResolution] = Kept()
        self._comments: Kept[BigPandaComment] = Kept()
        self._alerts: Kept[dict[str, Any]] = Kept()
        self._kept_incidents: Kept[CoreIncident] = Kept()
        self._incidents: dict[str, CoreIncident] = {}
        self._rules: list[AutoShareRule] = []
        #: Made from the settings when first asked for (the settings come per request).
        self._environments: dict[str, Environment] | None = None
        self._plans: dict[str, MaintenancePlan] = {}
        self._shares: Kept[dict[str, Any]] = Kept()
        #: Webhook v2 integrations by id (`webhook_v2.<name>`), Authorization included.
        self._integrations: dict[str, dict[str, Any]] = {}
        self.wrong_region = False
        #: Shares in flight (kept so the event loop does not drop them).
        self.tasks: set[asyncio.Task[None]] = set()

    def bigpanda_resolutions(self) -> list[BigPandaResolution]:
        with self._lock:
            return copy.deepcopy(list(self._resolutions))

    def bigpanda_comments(self) -> list[BigPandaComment]:
        with self._lock:
            return copy.deepcopy(list(self._comments))

    def bigpanda_resolve(
        self, environment_id: str, incident_id: str, comments: str | None, now: float
    ) -> CoreIncident | None:
        """Record the resolution; close the incident if the core has it open (the
        closed incident, to share the close, else None)."""
        with self._lock:
            self._resolutions.append(BigPandaResolution(environment_id, incident_id, comments, now))
            incident = self._incidents.get(incident_id)
            if incident is None or not incident.active:
                return None
            incident.status, incident.end, incident.changed_at = "ok", now, now
            incident.fields["status"] = "ok"
            params = {"annotation": comments} if comments else {}
            _activity(incident, "incident_resolved_api", params, now, API_USER_ID)
            return _copy_incident(incident)

    def bigpanda_comment(
        self, environment_id: str, incident_id: str, comment: str, now: float
    ) -> None:
        with self._lock:
            self._comments.append(BigPandaComment(environment_id, incident_id, comment, now))
            incident = self._incidents.get(incident_id)
            if incident is not None:
                _activity(incident, "incident_commented", {"comment": comment}, now, API_USER_ID)

    # -- environments -----------------------------------------------------------------
    def _environment_map(self, settings: BigPandaSettings) -> dict[str, Environment]:
        if self._environments is None:
            self._environments = {
                env_id: Environment(env_id, name) for env_id, name in settings.bigpanda_environments
            }
        return self._environments

    def environments(self, settings: BigPandaSettings) -> list[Environment]:
        with self._lock:
            return copy.deepcopy(list(self._environment_map(settings).values()))

    def environment(self, settings: BigPandaSettings, env_id: str) -> Environment | None:
        with self._lock:
            return copy.deepcopy(self._environment_map(settings).get(env_id))

    def put_environment(self, settings: BigPandaSettings, environment: Environment) -> None:
        with self._lock:
            self._environment_map(settings)[environment.id] = copy.deepcopy(environment)

    def delete_environment(self, settings: BigPandaSettings, env_id: str) -> bool:
        with self._lock:
            return self._environment_map(settings).pop(env_id, None) is not None

    # -- maintenance plans ------------------------------------------------------------
    def plans(self) -> list[MaintenancePlan]:
        with self._lock:
            return copy.deepcopy(list(self._plans.values()))

    def plan(self, plan_id: str) -> MaintenancePlan | None:
        with self._lock:
            return copy.deepcopy(self._plans.get(plan_id))

    def put_plan(self, plan: MaintenancePlan) -> None:
        """Keep ``plan`` (new or changed); :class:`AdminLimit` for a new one past the limit."""
        with self._lock:
            if plan.id not in self._plans and len(self._plans) >= MAX_ADMIN_OBJECTS:
                raise AdminLimit("maintenance plans", MAX_ADMIN_OBJECTS)
            self._plans[plan.id] = copy.deepcopy(plan)

    def delete_plan(self, plan_id: str) -> bool:
        with self._lock:
            return self._plans.pop(plan_id, None) is not None

    # -- the core ------------------------------------------------------------------
    def add_rule(self, rule: AutoShareRule) -> None:
        """Keep ``rule``; :class:`AdminLimit` past the limit."""
        with self._lock:
            if len(self._rules) >= MAX_ADMIN_OBJECTS:
                raise AdminLimit("AutoShare rules", MAX_ADMIN_OBJECTS)
            self._rules.append(rule)

    def rules(self) -> list[AutoShareRule]:
        with self._lock:
            return copy.deepcopy(self._rules)

    def incident(self, incident_id: str) -> CoreIncident | None:
        with self._lock:
            found = self._incidents.get(incident_id)
            return None if found is None else _copy_incident(found)

    def incidents(self) -> list[CoreIncident]:
        with self._lock:
            return [_copy_incident(i) for i in self._incidents.values()]

    def mark_shared(self, incident_id: str, rule_id: str) -> None:
        with self._lock:
            live = self._incidents.get(incident_id)
            if live is not None and rule_id not in live.shared_with:
                live.shared_with.append(rule_id)

    def core_incident(self, incident_id: str) -> CoreIncident | None:
        """The live incident (callers hold the lock while they change it)."""
        return self._incidents.get(incident_id)

    def add_activity(
        self, incident_id: str, kind: str, params: dict[str, Any], created_by: str = SYSTEM_USER
    ) -> None:
        with self._lock:
            incident = self._incidents.get(incident_id)
            if incident is not None:
                _activity(incident, kind, params, time.time(), created_by)

    def record_share(self, share: dict[str, Any]) -> None:
        with self._lock:
            self._shares.append(share)

    # -- Webhook v2 integrations ----------------------------------------------------
    def v2_integrations(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._integrations.values()))

    def v2_integration(self, integration_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._integrations.get(integration_id)
            return None if found is None else copy.deepcopy(found)

    def put_v2_integration(self, integration_id: str, doc: dict[str, Any]) -> None:
        """Keep ``doc``; :class:`AdminLimit` for a new integration past the limit."""
        with self._lock:
            full = len(self._integrations) >= MAX_ADMIN_OBJECTS
            if integration_id not in self._integrations and full:
                raise AdminLimit("Webhook v2 integrations", MAX_ADMIN_OBJECTS)
            self._integrations[integration_id] = copy.deepcopy(doc)

    def delete_v2_integration(self, integration_id: str) -> bool:
        with self._lock:
            return self._integrations.pop(integration_id, None) is not None

    def alert_tag_names(self) -> set[str]:
        with self._lock:
            return {str(name) for alert in self._alerts for name in alert.get("tags", {})}

    def alert(
        self, alert: dict[str, Any], window: float, now: float
    ) -> tuple[str, CoreIncident | None, str | None]:
        """Take one alert; return (what happened, the incident, the event to share).

        ``what`` is ``duplicate`` (exactly the last alert again: 204), ``ignored``
        (an ok for no open incident) or ``accepted``; the event is ``incident#new``
        when an incident opened out of maintenance (or an update took it out of
        maintenance) and ``incident#closed`` when it closed.
        """
        with self._lock:
            key = (alert["host"], alert["check"])
            same = [a for a in self._alerts if (a["host"], a["check"]) == key]
            if same and _alert_fields(same[-1]) == _alert_fields(alert):
                return "duplicate", None, None
            alert = {**alert, "id": secrets.token_hex(12), "received_at": now}
            self._alerts.append(alert)
            incident = next(
                (
                    i
                    for i in reversed(self._incidents.values())
                    if (i.host, i.check) == key and (i.active or now - i.start <= window)
                ),
                None,
            )
            status = alert["status"]
            if status == "ok":
                if incident is None or not incident.active:
                    return "ignored", incident, None
                incident.status, incident.end, incident.changed_at = "ok", now, now
                incident.fields["status"] = "ok"
                _activity(incident, "incident_resolved_by_alerts", {}, now, SYSTEM_USER)
                return "accepted", _copy_incident(incident), "incident#closed"
            silenced = [p.id for p in self._plans.values() if p.silences(alert["fields"], now)]
            if incident is not None and incident.active:
                left_maintenance = bool(incident.maintenance) and not silenced
                incident.status, incident.changed_at = status, now
                incident.severity = _worse(incident.severity, status)
                incident.fields = dict(alert["fields"])
                incident.maintenance = silenced
                event = "incident#new" if left_maintenance and not incident.shared_with else None
                return "accepted", _copy_incident(incident), event
            created = CoreIncident(
                id=secrets.token_hex(12),
                host=key[0],
                check=key[1],
                tags=dict(alert["tags"]),
                fields=dict(alert["fields"]),
                status=status,
                start=now,
                changed_at=now,
                severity=status,
                alert_ids=[alert["id"]],
                maintenance=silenced,
            )
            _activity(created, "incident_created", {}, now, SYSTEM_USER)
            self._incidents[created.id] = created
            for old in self._kept_incidents.append(created):
                self._incidents.pop(old.id, None)
            return "accepted", _copy_incident(created), None if silenced else "incident#new"

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            environments = list((self._environments or {}).values())
            now = time.time()
            return {
                "bigpanda": {
                    "resolved_incidents": [r.to_json() for r in self._resolutions],
                    "comments": [c.to_json() for c in self._comments],
                    "alerts": len(self._alerts),
                    "incidents": [
                        {
                            **i.to_json(_environment_ids(environments, i)),
                            "host": i.host,
                            "check": i.check,
                            "tags": dict(i.tags),
                        }
                        for i in self._incidents.values()
                    ],
                    "autoshare_rules": [r.to_json() for r in self._rules],
                    "shares": copy.deepcopy(list(self._shares)),
                    "environments": [e.to_json() for e in environments],
                    "maintenance_plans": [p.to_json(now) for p in self._plans.values()],
                    "webhook_v2_integrations": [_v2_answer(i) for i in self._integrations.values()],
                }
            }

    def reset(self) -> None:
        with self._lock:
            self._resolutions.clear()
            self._comments.clear()
            self._alerts.clear()
            self._kept_incidents.clear()
            self._incidents.clear()
            self._rules.clear()
            self._environments = None
            self._plans.clear()
            self._shares.clear()
            self._integrations.clear()
            self.wrong_region = False


#: The newest activities an incident keeps (a storm on one host and check adds one an
#: alert): enough for every share and resolve a run makes.
ACTIVITIES_KEPT = 1000


def _activity(
    incident: CoreIncident, kind: str, params: dict[str, Any], now: float, created_by: str
) -> None:
    """Add an activity in the documented shape (the caller holds the lock)."""
    assert kind in ACTIVITY_TYPES, kind
    incident.activities.append(
        {
            "id": secrets.token_hex(16),
            "type": kind,
            "timestamp": int(now),
            "created_by": created_by,
            "params": params,
        }
    )
    keep_last(incident.activities, ACTIVITIES_KEPT)


def _worse(severity: str, status: str) -> str:
    return status if SEVERITY_RANK.get(status, 0) > SEVERITY_RANK.get(severity, 0) else severity


def _environment_ids(environments: list[Environment], incident: CoreIncident) -> list[str]:
    return [e.id for e in environments if e.includes(incident.fields)]


def _copy_incident(incident: CoreIncident) -> CoreIncident:
    simulator, incident.simulator = incident.simulator, None
    try:
        return copy.deepcopy(incident)
    finally:
        incident.simulator = simulator


def _alert_fields(alert: dict[str, Any]) -> tuple[Any, ...]:
    return (alert["status"], alert["description"], sorted(alert["tags"].items()))


def _error(status: int, message: str) -> Response:
    """BigPanda's error answer (``generic400response`` / ``generic404response``)."""
    return json_response({"status": status, "errors": [message]}, status=status)


def _done(status: int) -> Response:
    """BigPanda's success answer without data (``generic200response``/``202``); a 204
    carries no body (HTTP), whatever the reference's ``generic204response`` says."""
    if status == 204:
        return Response(204)
    return json_response({"status": status, "data": {}}, status=status)


def _json_object(request: Request, oc: Any = None) -> dict[str, Any] | Response:
    """The request's JSON object, or the 400 BigPanda answers (the reason noted in `oc`)."""
    try:
        body = read_json(request)
    except BodyError as exc:
        if oc is not None:
            oc.reject(str(exc))
        return _error(400, str(exc))
    if not isinstance(body, dict):
        if oc is not None:
            oc.reject("request body must be a JSON object")
        return _error(400, "Request body must be a JSON object")
    return body


def _refuse(request: Request, status: int, message: str) -> Response:
    outcome(request).reject(message)
    return _error(status, message)


def _wrong_region(request: Request) -> Response | None:
    if not target_state(request, BigPandaState).wrong_region:
        return None
    outcome(request).reject("the key belongs to the other BigPanda region (injected fault)")
    return _error(401, "Unauthorized")


def _check(request: Request) -> Response | None:
    """The refusal to answer when the request's key or environment is wrong, else None."""
    oc = outcome(request)
    refused = _wrong_region(request)
    if refused is not None:
        return refused
    settings = settings_of(request, BigPandaSettings)
    if not same_secret(bearer_token(request), settings.bigpanda_api_key):
        oc.reject("not authenticated: missing or wrong 'Authorization: Bearer <User API Key>'")
        return _error(401, "Unauthorized")
    env = request.match_info.get("env_id")
    if env is not None and target_state(request, BigPandaState).environment(settings, env) is None:
        oc.reject(f"no environment with id {env}")
        return _error(404, f"Environment {env} not found")
    return None


def _checked_body(request: Request) -> dict[str, Any] | Response:
    """The request's JSON object once its key (and region) passed `_check`, or the
    answer that refuses it: the start of every emulated call that takes a body."""
    refused = _check(request)
    if refused is not None:
        return refused
    return _json_object(request, outcome(request))


def _int_param(request: Request, name: str, default: int, low: int = 1) -> int | Response:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low:
        return _refuse(request, 400, f"{name} must be an integer of at least {low}")
    return value


def _page(items: list[Any], page: int, size: int) -> list[Any]:
    return items[(page - 1) * size : page * size]


# ----------------------------------------------------------------- environments
def handle_environments(request: Request) -> Response:
    """``GET /resources/v2.0/environments``: a bare array of environment objects."""
    refused = _check(request)
    if refused is not None:
        return refused
    outcome(request).note = "key accepted"
    settings = settings_of(request, BigPandaSettings)
    environments = target_state(request, BigPandaState).environments(settings)
    return json_response([e.to_json() for e in environments])


def _environment_fields(
    request: Request, body: dict[str, Any], into: Environment
) -> Environment | Response:
    """``into`` with the body's environment_object fields, or BigPanda's 400."""
    updated = copy.deepcopy(into)
    if "name" in body:
        if not isinstance(body["name"], str) or not body["name"].strip():
            return _refuse(request, 400, "name must be a non-empty string")
        updated.name = body["name"]
    for name in ("description", "filter"):
        if name in body:
            if not isinstance(body[name], str):
                return _refuse(request, 400, f"{name} must be a string")
            setattr(updated, name, body[name])
    if not _bpql_string_ok(updated.filter):
        return _refuse(
            request,
            400,
            f"filter {updated.filter!r} is outside the emulated BPQL subset "
            '(tag = "value" joined by and)',
        )
    for name in ("roles", "read_only_roles"):
        if name in body:
            roles = body[name]
            if not isinstance(roles, list) or not all(isinstance(r, dict) for r in roles):
                return _refuse(request, 400, f"{name} must be a list of {{id, name}} objects")
            setattr(updated, name, [{k: str(v) for k, v in r.items()} for r in roles])
    return updated


def handle_create_environment(request: Request) -> Response:
    """``POST /resources/v2.0/environments`` (``environment_object``; 200 with it)."""
    body = _checked_body(request)
    if isinstance(body, Response):
        return body
    if "name" not in body:
        return _refuse(request, 400, "name is required")
    created = _environment_fields(request, body, Environment(secrets.token_hex(12), ""))
    if isinstance(created, Response):
        return created
    settings = settings_of(request, BigPandaSettings)
    target_state(request, BigPandaState).put_environment(settings, created)
    outcome(request).note = f"environment {created.id} created"
    return json_response(created.to_json())


def handle_get_environment(request: Request) -> Response:
    """``GET /resources/v2.0/environments/{environment_id}``."""
    refused = _check(request)
    if refused is not None:
        return refused
    settings = settings_of(request, BigPandaSettings)
    found = target_state(request, BigPandaState).environment(settings, request.match_info["env_id"])
    if found is None:  # deleted since _check looked
        return _refuse(request, 404, "Environment not found")
    return json_response(found.to_json())


def handle_update_environment(request: Request) -> Response:
    """``PATCH /resources/v2.0/environments/{environment_id}`` (202 with the environment;
    lenient: the fields sent are changed, ``name`` may be left out)."""
    body = _checked_body(request)
    if isinstance(body, Response):
        return body
    settings = settings_of(request, BigPandaSettings)
    state = target_state(request, BigPandaState)
    found = state.environment(settings, request.match_info["env_id"])
    if found is None:
        return _refuse(request, 404, "Environment not found")
    updated = _environment_fields(request, body, found)
    if isinstance(updated, Response):
        return updated
    state.put_environment(settings, updated)
    return json_response(updated.to_json(), status=202)


def handle_delete_environment(request: Request) -> Response:
    """``DELETE /resources/v2.0/environments/{environment_id}`` (200)."""
    refused = _check(request)
    if refused is not None:
        return refused
    settings = settings_of(request, BigPandaSettings)
    target_state(request, BigPandaState).delete_environment(settings, request.match_info["env_id"])
    outcome(request).note = "environment deleted"
    return _done(200)


# ------------------------------------------------------------ incident actions
def handle_resolve(request: Request) -> Response:
    """``POST /resources/v2.0/environments/{env_id}/incidents/{incident_id}/resolve``
    (``{"comments"}``, 202). An incident the core has open is closed, and its close
    shared; any other id is only recorded (lenient)."""
    refused = _check(request)
    if refused is not None:
        return refused
    oc = outcome(request)
    oc.action = "resolve"
    oc.key = request.match_info["incident_id"]
    body = _json_object(request, oc)
    if isinstance(body, Response):
        return body
    comments = body.get("comments")
    if not isinstance(comments, str):
        return _refuse(request, 400, "comments is required (a string)")
    state = target_state(request, BigPandaState)
    closed = state.bigpanda_resolve(request.match_info["env_id"], oc.key, comments, time.time())
    if closed is not None:
        _schedule_shares(request, state, closed, "incident#closed")
    oc.note = "incident resolved"
    return _done(202)


def handle_comment(request: Request) -> Response:
    """``POST /resources/v2.0/environments/{env_id}/incidents/{incident_id}/comments``."""
    refused = _check(request)
    if refused is not None:
        return refused
    oc = outcome(request)
    oc.action = "comment"
    oc.key = request.match_info["incident_id"]
    body = _json_object(request, oc)
    if isinstance(body, Response):
        return body
    comment = body.get("comment")
    if not isinstance(comment, str) or not comment.strip():
        return _refuse(request, 400, 'Body must be {"comment": "<non-empty string>"}')
    target_state(request, BigPandaState).bigpanda_comment(
        request.match_info["env_id"], oc.key, comment, time.time()
    )
    oc.note = "comment added"
    return _done(204)


# ------------------------------------------------------------------ alerts API
def _parse_alert(raw: Any) -> dict[str, Any] | str:
    """One ``standard_alert`` as the core takes it, or what is wrong with it."""
    if not isinstance(raw, dict):
        return "an alert must be a JSON object"
    status = raw.get("status")
    if status not in ALERT_STATUSES:
        return f"status must be one of {', '.join(ALERT_STATUSES)}"
    primary = raw.get("primary_property")
    if not isinstance(primary, str) or not primary:
        primary = next((p for p in PRIMARY_PROPERTIES if raw.get(p)), "host")
    value = raw.get(primary)
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
        return f"the primary property ({primary}) is missing"
    secondary = raw.get("secondary_property")
    if not isinstance(secondary, str) or not secondary:
        secondary = "check"
    timestamp = raw.get("timestamp")
    if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, int)):
        return "timestamp must be an integer (Unix epoch seconds)"
    reserved = {"app_key", "status", "host", "check", "description", "timestamp"}
    return {
        "host": str(value),
        "check": str(raw.get(secondary) or ""),
        "status": status,
        "description": str(raw.get("description") or ""),
        "tags": {k: _text(v) for k, v in raw.items() if k not in reserved},
        "fields": {k.lower(): _text(v) for k, v in raw.items() if k != "app_key"},
    }


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value)


def handle_alert(request: Request) -> Response:
    """``POST /data/v2/alerts``: one alert, or ``{"app_key", "alerts": [...]}`` (org
    token as a Bearer header or ``?access_token=``; ``app_key`` in the body)."""
    oc = outcome(request)
    refused = _wrong_region(request)
    if refused is not None:
        return refused
    settings = settings_of(request, BigPandaSettings)
    token = bearer_token(request) or request.query.get("access_token")
    if not same_secret(token, settings.bigpanda_org_token):
        oc.reject("not authenticated: missing or wrong 'Authorization: Bearer <org token>'")
        return _error(401, "Unauthorized")
    body = _json_object(request, oc)
    if isinstance(body, Response):
        return body
    batch = "alerts" in body
    raw_alerts = body.get("alerts") if batch else [body]
    if not isinstance(raw_alerts, list) or not raw_alerts:
        return _refuse(request, 400, "alerts must be a non-empty list of alert objects")
    app_key = body.get("app_key")
    if not isinstance(app_key, str) or not same_secret(app_key, settings.bigpanda_app_key):
        oc.reject("app_key is missing or names no integration")
        return _error(400, "Invalid app_key: no inbound integration has this app key")
    alerts: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_alerts):
        parsed = _parse_alert(raw)
        if isinstance(parsed, str):
            return _refuse(request, 400, f"alerts[{index}]: {parsed}" if batch else parsed)
        alerts.append(parsed)
    oc.action, oc.key = alerts[0]["status"], alerts[0]["host"]
    state = target_state(request, BigPandaState)
    notes: list[str] = []
    for alert in alerts:
        what, incident, event = state.alert(
            alert, settings.bigpanda_correlation_window, time.time()
        )
        notes.append(
            {"duplicate": "duplicate alert", "ignored": "ok for no open incident"}.get(
                what, f"alert accepted ({event or _quiet(incident)})"
            )
        )
        if incident is not None and event is not None:
            _schedule_shares(request, state, incident, event)
    oc.note = "; ".join(notes)
    if all(n == "duplicate alert" for n in notes):
        return Response(204)
    return json_response("Created", status=201)


def _quiet(incident: CoreIncident | None) -> str:
    if incident is not None and incident.maintenance:
        return "in maintenance: not shared"
    return "incident updated"


# ---------------------------------------------------------------- AutoShare
def _schedule_shares(
    request: Request, state: BigPandaState, incident: CoreIncident, event: str
) -> None:
    settings = settings_of(request, BigPandaSettings)
    for rule in state.rules():
        if event == "incident#new":
            environment = state.environment(settings, rule.environment_id)
            if environment is None or not environment.includes(incident.fields):
                continue
            if rule.tag and rule.tag not in incident.tags:
                continue
            state.mark_shared(incident.id, rule.id)
        elif rule.id not in incident.shared_with:
            continue
        task = asyncio.ensure_future(_share(state, incident.id, event, rule))
        state.tasks.add(task)
        task.add_done_callback(state.tasks.discard)


#: How long the emulated BigPanda waits for a target to answer a share (seconds).
SHARE_TIMEOUT = 10.0


async def _share(state: BigPandaState, incident_id: str, event: str, rule: AutoShareRule) -> None:
    """Share ``event`` to the rule's integration as BigPanda would: the body and the
    requests come from the integration itself (the run engine's planning). A first
    share writes the ``incident_shared`` activity; every share is kept in the state."""
    if rule.delay:
        await asyncio.sleep(rule.delay)
    if rule.drop:
        return
    from bp_integrate.engine.plan import encode_body
    from bp_integrate.http import NetworkFailure, async_sender
    from bp_integrate.integrations import get as get_integration

    answers: list[int | str] = []
    try:
        requests = _planned(state, incident_id, event, rule)
    except Exception as exc:  # the rule's values cannot be planned: the state says so
        requests = []
        answers.append(f"not planned: {type(exc).__name__}")
    sender = async_sender()  # the tool's own send path: the same bytes, client and failures
    try:
        for item in requests:
            try:
                answer = await sender.request(
                    item.method, item.url, item.headers, encode_body(item.body), SHARE_TIMEOUT
                )
                answers.append(answer.status)
            except NetworkFailure as exc:
                answers.append(exc.kind.value)
    finally:
        await sender.aclose()
    share_target = f"{get_integration(rule.integration).share_system}.{rule.bigpanda_name}"
    if event == "incident#new":
        params = {"share_target": share_target, "share_auto": True}
        state.add_activity(incident_id, "incident_shared", params)
    state.record_share(
        {
            "incident_id": incident_id,
            "event": event,
            "rule_id": rule.id,
            "integration": rule.integration,
            "share_target": share_target,
            "responses": answers,
        }
    )


def _planned(state: BigPandaState, incident_id: str, event: str, rule: AutoShareRule) -> list[Any]:
    from bp_integrate.bigpanda.simulator import IncidentSimulator
    from bp_integrate.bigpanda.webhook import BodySpec, render_body
    from bp_integrate.config import Installed
    from bp_integrate.engine.plan import Target as PlanTarget
    from bp_integrate.engine.plan import plan_event
    from bp_integrate.integrations import get as get_integration
    from bp_integrate.integrations.base import PlannedRequest, SendOptions
    from bp_integrate.redact import Redactor

    with state._lock:
        incident = state.core_incident(incident_id)
        if incident is None:
            return []
        if incident.simulator is None:
            incident.simulator = IncidentSimulator(
                incident_id=incident.id,
                start=int(incident.start),
                tags={"host": incident.host, "check": incident.check or "check"},
                test_marker=False,
                environment_id=rule.environment_id,
            )
        simulator = incident.simulator
        tags = dict(incident.tags)
        spec = BodySpec(test_marker=False, environment_id=rule.environment_id)
        body, rendered = render_body(simulator, event, spec, tags=tags)
    integration = get_integration(rule.integration)
    held = _held_v2(state, rule)
    if held is not None:
        # BigPanda renders the workflow it holds (as it holds it now), with the same
        # renderer the product plans its test sends with.
        from bp_integrate.integrations.webhook_v2 import render, request_headers

        request = render(held.get("workflow_config") or {}, event, rendered, body)
        if request is None:  # the trigger is disabled: no share
            return []
        headers = request_headers(request)
        return [
            PlannedRequest(
                integration.name, event, request.method, request.url, headers, request.body
            )
        ]
    target = PlanTarget(integration, rule.values, Installed(integration.name, rule.values))
    planned = plan_event([target], event, rendered, body, SendOptions(spec.test_marker), Redactor())
    return [p for p in planned if isinstance(p, PlannedRequest)]


def _held_v2(state: BigPandaState, rule: AutoShareRule) -> dict[str, Any] | None:
    """The Webhook v2 integration this BigPanda holds under the rule's name, if the rule
    shares to one (else the rule's own values are planned)."""
    from bp_integrate.integrations import get as get_integration
    from bp_integrate.integrations.webhook_v2 import PARENT_SYSTEM_ID, integration_id

    if get_integration(rule.integration).share_system != PARENT_SYSTEM_ID:
        return None
    return state.v2_integration(integration_id(rule.bigpanda_name))


# --------------------------------------------------------------- incidents API
def handle_search(request: Request) -> Response:
    """``GET /resources/v2.0/environments/{env_id}/incidents?query=<BPQL>``: the
    environment's incidents that match, newest change first, as ``{"total", "items"}``."""
    refused = _check(request)
    if refused is not None:
        return refused
    oc = outcome(request)
    settings = settings_of(request, BigPandaSettings)
    state = target_state(request, BigPandaState)
    environment = state.environment(settings, request.match_info["env_id"])
    if environment is None:
        return _refuse(request, 404, "Environment not found")
    if environment.incident_tags:
        oc.reject("search on an environment that uses incident tags (BigPanda answers 500)")
        return _error(500, "Internal Server Error")
    query = request.query.get("query", "")
    if not _bpql_string_ok(query):
        return _refuse(request, 400, f"query outside the emulated BPQL subset: {query}")
    page = _int_param(request, "page", 1)
    if isinstance(page, Response):
        return page
    page_size = _int_param(request, "page_size", 10)
    if isinstance(page_size, Response):
        return page_size
    if request.query.get("expand") == "alerts" and page_size > 10:
        return _refuse(request, 400, "page_size cannot be larger than 10 with expand=alerts")
    folder = request.query.get("folder")
    if folder is not None and folder not in FOLDERS:
        return _refuse(request, 400, f"folder must be one of {', '.join(FOLDERS)}")
    environments = state.environments(settings)
    found = [
        i
        for i in state.incidents()
        if environment.includes(i.fields)
        and bpql_string_matches(query, i.fields)
        and (folder is None or folder in i.folders())
    ]
    found.sort(key=lambda i: i.changed_at, reverse=True)
    oc.note = f"{len(found)} incident(s) found"
    items = [
        i.to_json(_environment_ids(environments, i))
        for i in _page(found, page, min(page_size, 100))
    ]
    return json_response({"total": len(found), "items": items})


def _incident(request: Request) -> tuple[CoreIncident, list[Environment]] | Response:
    """The incident the path names, or BigPanda's answer when there is none to give."""
    refused = _check(request)
    if refused is not None:
        return refused
    settings = settings_of(request, BigPandaSettings)
    state = target_state(request, BigPandaState)
    incident = state.incident(request.match_info["incident_id"])
    environments = state.environments(settings)
    env = request.match_info.get("env_id")
    if incident is None or (
        env is not None and env not in _environment_ids(environments, incident)
    ):
        return _refuse(request, 404, "Incident not found")
    return incident, environments


def handle_get_incident(request: Request) -> Response:
    """``GET /resources/v2.0/environments/{env_id}/incidents/{incident_id}``."""
    found = _incident(request)
    if isinstance(found, Response):
        return found
    incident, environments = found
    return json_response(incident.to_json(_environment_ids(environments, incident)))


def handle_activities(request: Request) -> Response:
    """``GET /resources/v2.0/incidents/{incident_id}/activities?types=a,b&page&per_page``:
    a bare array, most recent first."""
    found = _incident(request)
    if isinstance(found, Response):
        return found
    incident = found[0]
    page = _int_param(request, "page", 1)
    if isinstance(page, Response):
        return page
    per_page = _int_param(request, "per_page", 20)
    if isinstance(per_page, Response):
        return per_page
    wanted = {t.strip() for t in request.query.get("types", "").split(",") if t.strip()}
    items = [a for a in reversed(incident.activities) if not wanted or a["type"] in wanted]
    return json_response(_page(items, page, per_page))


# -------------------------------------------------------- maintenance plans API
def _plan_fields(
    request: Request, body: dict[str, Any], into: MaintenancePlan
) -> MaintenancePlan | Response:
    """``into`` with the body's ``maintenance_plan_object`` fields, or BigPanda's 400."""
    plan = copy.deepcopy(into)
    strings = ("name", "description", "time_zone", "maintenance_key")
    for name in strings:
        if name in body:
            if not isinstance(body[name], str) or (name == "name" and not body[name].strip()):
                return _refuse(request, 400, f"{name} must be a non-empty string")
            setattr(plan, name, body[name])
    if "condition" in body:
        condition = body["condition"]
        problem = bpql_problem(condition)
        if problem is None and len(json.dumps(condition)) > 80_000:
            problem = "the condition is longer than 80,000 characters"
        if problem is not None:
            return _refuse(request, 400, f"condition (BPQL object syntax): {problem}")
        plan.condition = copy.deepcopy(condition)
    for name in ("start", "end"):
        if name in body:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int):
                return _refuse(request, 400, f"{name} must be an integer (Unix epoch seconds)")
            setattr(plan, name, value)
    if "frequency" in body:
        if body["frequency"] not in PLAN_FREQUENCIES:
            return _refuse(request, 400, f"frequency must be one of {', '.join(PLAN_FREQUENCIES)}")
        plan.frequency = body["frequency"]
    if "post_maintenance_action" in body:
        if body["post_maintenance_action"] not in POST_MAINTENANCE_ACTIONS:
            actions = ", ".join(POST_MAINTENANCE_ACTIONS)
            return _refuse(request, 400, f"post_maintenance_action must be one of {actions}")
        plan.post_maintenance_action = body["post_maintenance_action"]
    if "custom_tags" in body:
        tags = body["custom_tags"]
        if not isinstance(tags, list) or not all(
            isinstance(t, dict) and isinstance(t.get("name"), str) for t in tags
        ):
            return _refuse(request, 400, "custom_tags must be a list of {name, value} objects")
        plan.custom_tags = [{"name": t["name"], "value": str(t.get("value", ""))} for t in tags]
    if plan.end <= plan.start:
        return _refuse(request, 400, "end must be after start")
    return plan


def handle_create_plan(request: Request) -> Response:
    """``POST /resources/v2.0/maintenance-plans`` (201 with the plan). Recurring plans are
    taken but emulated as one window from ``start`` to ``end``."""
    body = _checked_body(request)
    if isinstance(body, Response):
        return body
    missing = [name for name in ("name", "condition", "start", "end") if name not in body]
    if missing:
        return _refuse(request, 400, f"{', '.join(missing)} is required")
    now = int(time.time())
    plan_id = secrets.token_hex(12)
    blank = MaintenancePlan(plan_id, f"MNT-{plan_id[:12]}", "", {}, 0, 0, now, now)
    plan = _plan_fields(request, body, blank)
    if isinstance(plan, Response):
        return plan
    try:
        target_state(request, BigPandaState).put_plan(plan)
    except AdminLimit as exc:
        return _refuse(request, 400, str(exc))
    outcome(request).note = f"maintenance plan {plan.id} ({plan.status(now)})"
    return json_response(plan.to_json(now), status=201)


def _plan(request: Request) -> MaintenancePlan | Response:
    refused = _check(request)
    if refused is not None:
        return refused
    plan = target_state(request, BigPandaState).plan(request.match_info["maintenance_id"])
    if plan is None:
        return _refuse(request, 404, "Maintenance plan not found")
    return plan


def handle_get_plan(request: Request) -> Response:
    """``GET /resources/v2.0/maintenance-plans/{maintenance_id}``."""
    plan = _plan(request)
    return plan if isinstance(plan, Response) else json_response(plan.to_json(time.time()))


def handle_update_plan(request: Request) -> Response:
    """``PATCH /resources/v2.0/maintenance-plans/{maintenance_id}`` (204): any field of a
    planned plan, only ``end`` of a running one (as BigPanda documents)."""
    plan = _plan(request)
    if isinstance(plan, Response):
        return plan
    body = _json_object(request, outcome(request))
    if isinstance(body, Response):
        return body
    now = time.time()
    status = plan.status(now)
    if status == "done":
        return _refuse(request, 400, "a plan that is done cannot be updated")
    updated = _plan_fields(request, body, plan)
    if isinstance(updated, Response):
        return updated
    if status == "running":
        changed = {
            name
            for name, value in updated.to_json(now).items()
            if plan.to_json(now)[name] != value and name not in ("end", "status")
        }
        if changed:
            return _refuse(request, 400, "only end can be updated in a running plan")
    updated.updated_at = int(now)
    target_state(request, BigPandaState).put_plan(updated)
    return _done(204)


def handle_delete_plan(request: Request) -> Response:
    """``DELETE /resources/v2.0/maintenance-plans/{maintenance_id}`` (204)."""
    plan = _plan(request)
    if isinstance(plan, Response):
        return plan
    target_state(request, BigPandaState).delete_plan(plan.id)
    outcome(request).note = "maintenance plan deleted"
    return _done(204)


def handle_stop_plan(request: Request) -> Response:
    """``POST /resources/v2.0/maintenance-plans/{maintenance_id}/stop`` (204; only a
    running plan can be stopped)."""
    plan = _plan(request)
    if isinstance(plan, Response):
        return plan
    now = time.time()
    if plan.status(now) != "running":
        return _refuse(request, 400, "only a running plan can be stopped")
    plan.stopped_at = plan.updated_at = int(now)
    target_state(request, BigPandaState).put_plan(plan)
    outcome(request).note = "maintenance plan stopped"
    return _done(204)


def handle_list_plans(request: Request) -> Response:
    """``GET /resources/v2.0/ordered-maintenance-plans``: a bare array (``status``,
    ``search_text``, ``sort_by``, ``order``, ``page``, ``per_page``)."""
    refused = _check(request)
    if refused is not None:
        return refused
    page = _int_param(request, "page", 1)
    if isinstance(page, Response):
        return page
    per_page = _int_param(request, "per_page", 100)
    if isinstance(per_page, Response):
        return per_page
    now = time.time()
    status = request.query.get("status")
    text = request.query.get("search_text", "").lower()
    plans = [
        p
        for p in target_state(request, BigPandaState).plans()
        if (status is None or p.status(now) == status)
        and (text in p.name.lower() or text in p.description.lower())
    ]
    sort_by = request.query.get("sort_by", "created_at")
    keys = {"created_at": "created_at", "updated_at": "updated_at", "next_run": "start"}
    if sort_by not in keys:
        return _refuse(request, 400, "sort_by must be one of updated_at, created_at, next_run")
    plans.sort(key=lambda p: int(getattr(p, keys[sort_by])))
    if request.query.get("order", "desc") == "desc":
        plans.reverse()
    return json_response([p.to_json(now) for p in _page(plans, page, per_page)])


# ------------------------------------------------- Notifications API (Webhook v2)
_V2_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def _v2_answer(doc: Mapping[str, Any]) -> dict[str, Any]:
    """An integration as BigPanda answers it (`workflow`): Authorization masked [G]."""
    from bp_integrate.integrations.webhook_v2 import masked

    return {
        "name": doc["name"],
        "parent_system_id": doc["parent_system_id"],
        "workflow_config": masked(doc["workflow_config"]),
    }


def _v2_workflow_problem(config: Any) -> str | None:
    """Why a `workflow_config` is not one BigPanda takes (the reference's `WorkflowConfig`
    and the Notifications Webhook v2 page: `default` required, bodies JSON objects)."""
    from bp_integrate.integrations.webhook_v2 import EVENT_KEY, METHODS, TRIGGERS

    if not isinstance(config, dict):
        return "workflow_config must be an object"
    settings = config.get("config")
    if not isinstance(settings, dict) or not isinstance(settings.get("base_url"), str):
        return "workflow_config.config.base_url is required"
    if not re.match(r"https?://[^/\s]+", settings["base_url"]):
        return "workflow_config.config.base_url must be an http(s) URL"
    if not isinstance(settings.get("expects_callbacks", False), bool):
        return "workflow_config.config.expects_callbacks must be a boolean"
    events = config.get("events")
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return "workflow_config.events must be an array of objects"
    seen: set[str] = set()
    for entry in events:
        trigger = entry.get(EVENT_KEY)
        if trigger not in TRIGGERS or trigger in seen:
            return f"events: {trigger!r} is not a trigger, or is given twice"
        seen.add(str(trigger))
        if not isinstance(entry.get("enabled", True), bool):
            return f"events: {trigger}.enabled must be a boolean"
        if not isinstance(entry.get("body", {}), dict):
            return f"events: {trigger}.body must be a JSON object"
        for key in ("headers", "path", "authorization"):
            if not isinstance(entry.get(key, ""), str):
                return f"events: {trigger}.{key} must be a string"
        if entry.get("method", "POST") not in METHODS:
            return f"events: {trigger}.method must be one of {', '.join(METHODS)}"
    if "default" not in seen:
        return "events: the default trigger must be defined"
    return None


def handle_v2_create(request: Request) -> Response:
    """``POST /resources/v2.1/integrations``: 201 with the integration (in an array)."""
    from bp_integrate.integrations.webhook_v2 import PARENT_SYSTEM_ID, integration_id

    body = _checked_body(request)
    if isinstance(body, Response):
        return body
    name = body.get("name")
    if not isinstance(name, str) or not _V2_NAME.fullmatch(name):
        return _refuse(request, 400, "name is required: letters, digits, '_' and '-'")
    if body.get("parent_system_id") != PARENT_SYSTEM_ID:
        return _refuse(request, 400, f"parent_system_id must be {PARENT_SYSTEM_ID}")
    problem = _v2_workflow_problem(body.get("workflow_config"))
    if problem:
        return _refuse(request, 400, problem)
    state = target_state(request, BigPandaState)
    ident = integration_id(name)
    if state.v2_integration(ident) is not None:  # [G] BigPanda's answer is not documented
        return _refuse(request, 400, f"an integration named {name} already exists")
    doc = {"name": name, "parent_system_id": PARENT_SYSTEM_ID, **_keep(body)}
    try:
        state.put_v2_integration(ident, doc)
    except AdminLimit as exc:
        return _refuse(request, 400, str(exc))
    outcome(request).note = f"created {ident}"
    return json_response([_v2_answer(doc)], status=201)


def _keep(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"workflow_config": copy.deepcopy(body["workflow_config"])}


def handle_v2_list(request: Request) -> Response:
    """``GET /resources/v2.1/integrations``: every Webhook v2 integration (an array)."""
    refused = _check(request)
    if refused is not None:
        return refused
    state = target_state(request, BigPandaState)
    return json_response([_v2_answer(d) for d in state.v2_integrations()])


def _v2_held(request: Request) -> tuple[str, dict[str, Any]] | Response:
    refused = _check(request)
    if refused is not None:
        return refused
    ident = request.match_info["integration_id"]
    held = target_state(request, BigPandaState).v2_integration(ident)
    if held is None:
        return _refuse(request, 404, f"Integration {ident} not found")
    return ident, held


def handle_v2_get(request: Request) -> Response:
    """``GET /resources/v2.1/integrations/{integration_id}``: the integration, in an
    array (as the reference's 200 says); 404."""
    found = _v2_held(request)
    if isinstance(found, Response):
        return found
    return json_response([_v2_answer(found[1])])


def handle_v2_update(request: Request) -> Response:
    """``PATCH /resources/v2.1/integrations/{integration_id}`` ``{"workflow_config"}``:
    the whole workflow replaced; 200 with the integration (in an array); 404."""
    found = _v2_held(request)
    if isinstance(found, Response):
        return found
    ident, held = found
    body = _json_object(request, outcome(request))
    if isinstance(body, Response):
        return body
    problem = _v2_workflow_problem(body.get("workflow_config"))
    if problem:
        return _refuse(request, 400, problem)
    held.update(_keep(body))
    target_state(request, BigPandaState).put_v2_integration(ident, held)
    outcome(request).note = f"updated {ident}"
    return json_response([_v2_answer(held)])


def handle_v2_delete(request: Request) -> Response:
    """``DELETE /resources/v2.1/integrations/{app_key}``: 204; 404. An integration's App
    Key here is its id, as the reference's example (`webhook_v2.p0channel`) reads [G]."""
    refused = _check(request)
    if refused is not None:
        return refused
    key = request.match_info["integration_id"]
    if not target_state(request, BigPandaState).delete_v2_integration(key):
        return _refuse(request, 404, f"Integration {key} not found")
    outcome(request).note = f"deleted {key}"
    return _done(204)


def handle_dynamic_variables(request: Request) -> Response:
    """``GET /resources/v2.1/fields-resolver/workflows``: the demo organisation's
    variables by category, each ``{"title", "value"}``: the standard ones, its incident
    tags, and the alert tags it knows (the demo's and every received alert's)."""
    from bp_integrate import templates

    refused = _check(request)
    if refused is not None:
        return refused
    received = target_state(request, BigPandaState).alert_tag_names()
    alert_tags = sorted(
        {*DEMO_ALERT_TAGS, *(t for t in received if re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", t))}
    )

    def listed(category: str, names: Any) -> list[dict[str, str]]:
        return [{"title": n, "value": f"{category}.{n}"} for n in names]

    return json_response(
        {
            "incident": listed("incident", templates.INCIDENT_FIELDS),
            "incidentTags": listed("incidentTags", DEMO_INCIDENT_TAGS),
            "primaryAlert.tags": listed("primaryAlert.tags", alert_tags),
            "primaryAlert": listed("primaryAlert", templates.PRIMARY_ALERT_FIELDS),
            "metadata": listed("metadata", templates.METADATA_FIELDS),
            "links": listed("links", templates.LINK_FIELDS),
            "assignee": listed("assignee", templates.PERSON_FIELDS),
            "assigner": listed("assigner", templates.PERSON_FIELDS),
            "additional_fields": [],
        }
    )


# ------------------------------------------------------- emulator-only endpoints
def _admin_error(status: int, message: str) -> Response:
    """An emulator-only endpoint's refusal (not BigPanda's API: its own shape)."""
    return json_response({"status": status, "message": message}, status=status)


def handle_add_rule(request: Request) -> Response:
    """``POST /_bigpanda/autoshare``: what an admin does in BigPanda's AutoShare screen."""
    from bp_integrate.errors import BPError
    from bp_integrate.integrations import get as get_integration

    try:
        body = read_json(request)
    except BodyError as exc:
        return _admin_error(400, str(exc))
    if not isinstance(body, dict):
        return _admin_error(400, "Request body must be a JSON object")
    values = body.get("values")
    env = body.get("environment_id")
    if not isinstance(env, str) or not env:
        return _admin_error(400, "environment_id is required")
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in values.items()
    ):
        return _admin_error(400, "values must be an object of strings (the integration's settings)")
    try:
        integration = get_integration(str(body.get("integration", "")))
    except BPError as exc:
        return _admin_error(400, exc.message)
    bigpanda_name = body.get("bigpanda_name") or integration.name
    if not isinstance(bigpanda_name, str):
        return _admin_error(400, "bigpanda_name must be a string (the integration's name there)")
    missing = [
        f.name
        for f in integration.fields
        if f.required and f.applies(values) and not values.get(f.name)
    ]
    held = _held_v2(
        target_state(request, BigPandaState),
        AutoShareRule("", env, integration.name, {}, bigpanda_name),
    )
    if missing and held is None:  # the share could not be planned: say so now
        return _admin_error(400, f"values lack {integration.title}'s {', '.join(missing)}")
    delay = body.get("delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 600:
        return _admin_error(400, "delay must be a number of seconds from 0 to 600")
    rule = AutoShareRule(
        id=secrets.token_hex(6),
        environment_id=env,
        integration=integration.name,
        values=dict(values),
        bigpanda_name=bigpanda_name,
        tag=str(body.get("tag") or ""),
        drop=bool(body.get("drop", False)),
        delay=float(delay),
    )
    try:
        target_state(request, BigPandaState).add_rule(rule)
    except AdminLimit as exc:
        outcome(request).reject(str(exc))
        return _admin_error(400, str(exc))
    return json_response(rule.to_json(), status=201)


def handle_add_environment(request: Request) -> Response:
    """``POST /_bigpanda/environments``: ``{"id", "name", "filter", "incident_tags":
    bool}`` (an environment with a chosen id, or one that uses incident tags)."""
    try:
        body = read_json(request)
    except BodyError as exc:
        return _admin_error(400, str(exc))
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        return _admin_error(400, 'Body must be {"id": ..., "name": ..., "incident_tags": bool}')
    filter_ = body.get("filter") or ""
    if not isinstance(filter_, str) or not _bpql_string_ok(filter_):
        return _admin_error(400, 'filter must be BPQL of the emulated subset (tag = "value")')
    environment = Environment(
        body["id"],
        str(body.get("name") or body["id"]),
        filter=filter_,
        incident_tags=bool(body.get("incident_tags")),
    )
    settings = settings_of(request, BigPandaSettings)
    target_state(request, BigPandaState).put_environment(settings, environment)
    return json_response({"id": body["id"]}, status=201)


def handle_region(request: Request) -> Response:
    """``POST /_bigpanda/region`` ``{"wrong": true}``: keys now belong to the other region."""
    try:
        body = read_json(request)
    except BodyError as exc:
        return _admin_error(400, str(exc))
    wrong = bool(body.get("wrong")) if isinstance(body, dict) else False
    target_state(request, BigPandaState).wrong_region = wrong
    return json_response({"wrong_region": wrong})


def _summary(snapshot: dict[str, Any]) -> list[str]:
    section = snapshot["bigpanda"]
    resolved, comments = len(section["resolved_incidents"]), len(section["comments"])
    if not resolved and not comments:
        return []
    return [f"BigPanda: {resolved} incident(s) resolved, {comments} comment(s) added"]


ENV_ONE = BP_ENV + "/{env_id}"
INCIDENT_ONE = ENV_ONE + "/incidents/{incident_id}"
PLAN_ONE = PLANS_PATH + "/{maintenance_id}"
#: One Webhook v2 integration: its id (GET, PATCH) or its App Key (DELETE), one segment.
V2_ONE = V2_INTEGRATIONS_PATH + "/{integration_id}"

TARGET = Target(
    name="bigpanda",
    order=90,
    routes=(
        Route("GET", BP_ENV, "bigpanda_environments", handle_environments),
        Route("POST", BP_ENV, "bigpanda_create_environment", handle_create_environment),
        Route("GET", ENV_ONE, "bigpanda_environment", handle_get_environment),
        Route("PATCH", ENV_ONE, "bigpanda_update_environment", handle_update_environment),
        Route("DELETE", ENV_ONE, "bigpanda_delete_environment", handle_delete_environment),
        Route("POST", ALERTS_PATH, "bigpanda_alerts", handle_alert),
        Route("GET", ENV_ONE + "/incidents", "bigpanda_search", handle_search),
        Route("GET", INCIDENT_ONE, "bigpanda_incident", handle_get_incident),
        Route(
            "GET",
            INCIDENTS_PATH + "/{incident_id}/activities",
            "bigpanda_activities",
            handle_activities,
        ),
        Route("POST", INCIDENT_ONE + "/resolve", "bigpanda_resolve", handle_resolve),
        Route("POST", INCIDENT_ONE + "/comments", "bigpanda_comment", handle_comment),
        Route("POST", PLANS_PATH, "bigpanda_create_plan", handle_create_plan),
        Route("GET", PLAN_ONE, "bigpanda_plan", handle_get_plan),
        Route("PATCH", PLAN_ONE, "bigpanda_update_plan", handle_update_plan),
        Route("DELETE", PLAN_ONE, "bigpanda_delete_plan", handle_delete_plan),
        Route("POST", PLAN_ONE + "/stop", "bigpanda_stop_plan", handle_stop_plan),
        Route("GET", ORDERED_PLANS_PATH, "bigpanda_plans", handle_list_plans),
        Route("POST", V2_INTEGRATIONS_PATH, "bigpanda_v2_create", handle_v2_create),
        Route("GET", V2_INTEGRATIONS_PATH, "bigpanda_v2_list", handle_v2_list),
        Route("GET", V2_ONE, "bigpanda_v2_get", handle_v2_get),
        Route("PATCH", V2_ONE, "bigpanda_v2_update", handle_v2_update),
        Route("DELETE", V2_ONE, "bigpanda_v2_delete", handle_v2_delete),
        Route("GET", DYNAMIC_VARIABLES_PATH, "bigpanda_v2_variables", handle_dynamic_variables),
        Route("POST", "/_bigpanda/autoshare", "bigpanda_add_rule", handle_add_rule),
        Route("POST", "/_bigpanda/environments", "bigpanda_add_env", handle_add_environment),
        Route("POST", "/_bigpanda/region", "bigpanda_region", handle_region),
    ),
    path_prefixes=("/resources/", "/data/v2/"),
    settings=BigPandaSettings,
    state=BigPandaState,
    urls=lambda base, settings: {"bigpanda_api": base, "bigpanda_alerts": base + ALERTS_PATH},
    install_values=lambda base, config: {},
    credentials=lambda settings: (
        f"BigPanda API key {settings.bigpanda_api_key}, org token "
        f"{settings.bigpanda_org_token}, canary app key {settings.bigpanda_app_key}"
    ),
    summary=_summary,
)
