"""PagerDuty: BigPanda creates and resolves PagerDuty incidents through Events API v2."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from bp_integrate.bigpanda.events import severity_to_pagerduty
from bp_integrate.bigpanda.webhook import summary
from bp_integrate.errors import UsageError, nearest, plural
from bp_integrate.integrations.base import (
    UNINSTALL_DELETE_IN_BIGPANDA,
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
    ReadQuery,
    SendOptions,
    SidePlan,
    Skipped,
    Step,
    TargetRecord,
    TargetSide,
    Webhook,
    header_items,
    origin_of,
    records_of,
)
from bp_integrate.integrations.common import check_tag_name, check_token
from bp_integrate.urls import check_url

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
#: PagerDuty's EU service region's Events API [C].
EU_EVENTS_URL = "https://events.eu.pagerduty.com/v2/enqueue"
#: The key under which the walkthrough gives defaults the profile's BigPanda region
#: (bp_integrate.wizard.REGION; integrations sit below the wizard and cannot import it).
BIGPANDA_REGION = "bigpanda.region"
DEFAULT_FIELD_HEADER = "x-bp-field-{field}"
OVERRIDE_HEADER = "x-bp-config-pdfield"
#: BigPanda's custom-headers page: `x-bp-mapping-fields: bp_field1=field1,...` [C].
MAPPING_HEADER = "x-bp-mapping-fields"
FIELD_MAP_STYLES = ("per-field", "mapping-header")
#: Events v2: dedup_key is at most 255 characters [C].
DEDUP_KEY_MAX = 255
#: Events v2 `payload` properties (PagerDuty's schema, components.schemas.Payload).
PAYLOAD_FIELDS = ("summary", "timestamp", "severity", "source", "component", "group", "class")
SEVERITIES = ("critical", "error", "warning", "info")
INTEGRATION_KEY = re.compile(r"^(?:[0-9a-fA-F]{32}|R[0-9A-Za-z]{31})$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

TRIGGER_EVENTS = frozenset(
    {"incident#new", "incident#updated", "incident#reopen", "incident#become-flapping", "manual"}
)
SKIP_REASONS = {
    "incident#commented": "PagerDuty takes comments as notes through its REST API, which needs "
    "a REST API token; Events v2 has no comment action",
    "incident#snoozed": "Events v2 has no snooze; BigPanda's snooze is not mapped to PagerDuty",
    "incident-tag#upserted": "tag changes are not mapped to an Events v2 action",
    "incident-tag#removed": "tag changes are not mapped to an Events v2 action",
    "default": "the catch-all event is not mapped to an Events v2 action",
}


def check_integration_key(value: str, _values: Mapping[str, str]) -> str:
    if not INTEGRATION_KEY.match(value):
        raise UsageError(
            f"That is not a PagerDuty integration key ({plural(len(value), 'character')}).",
            "An Events API v2 integration key is 32 hexadecimal characters (Services -> the "
            "service -> Integrations -> Events API V2 -> Integration Key); a ruleset routing "
            "key is 32 characters starting with 'R'.",
        )
    return value


def parse_field_map(text: str) -> dict[str, str]:
    """`component=service,group=team` -> {"component": "service", "group": "team"}."""
    mapping: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        pd_field, sep, tag = (s.strip() for s in item.partition("="))
        if not sep or not pd_field or not tag:
            raise UsageError(
                f"{item!r} in field_map is not pd_field=bp_tag.",
                "Write mappings as pd_field=bp_tag, comma-separated, e.g. "
                "'component=service,group=team'.",
            )
        if pd_field not in PAYLOAD_FIELDS and not pd_field.startswith("custom_details."):
            guess = nearest(pd_field, list(PAYLOAD_FIELDS))
            raise UsageError(
                f"{pd_field!r} is not a PagerDuty Events v2 payload field.",
                (f"Did you mean {guess!r}? " if guess else "")
                + f"Use one of {', '.join(PAYLOAD_FIELDS)}, or custom_details.<name>.",
            )
        mapping[pd_field] = check_tag_name(tag)
    return mapping


def check_field_map(value: str, _values: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in parse_field_map(value).items())


def check_field_header(value: str, _values: Mapping[str, str]) -> str:
    if "{field}" not in value or not HEADER_NAME.match(value.replace("{field}", "x")):
        raise UsageError(
            f"{value!r} is not a header name template.",
            f"It must contain {{field}} and only header-name characters, e.g. "
            f"{DEFAULT_FIELD_HEADER!r}.",
        )
    return value


def check_events_url(value: str, _values: Mapping[str, str]) -> str:
    return check_url(value, "The PagerDuty Events API URL")


def default_events_url(values: Mapping[str, str]) -> str | None:
    """An EU BigPanda profile is offered PagerDuty's EU host (an EU organization's
    PagerDuty account is usually in the EU service region too)."""
    return EU_EVENTS_URL if values.get(BIGPANDA_REGION) == "eu" else None


def alert_tags(incident: Mapping[str, Any]) -> dict[str, str]:
    """Tags of the incident's alerts (first alert wins), then incident tags (by their
    `tag_id`, `itd-...`)."""
    tags: dict[str, str] = {}
    # A hand-edited --payload body may hold anything: what is not an object is skipped.
    for alert in _objects(incident.get("alerts")):
        for tag in _objects(alert.get("tags")):
            tags.setdefault(str(tag.get("name")), str(tag.get("value")))
    for tag in _objects(incident.get("incident_tags")):
        tags.setdefault(str(tag.get("tag_id")), str(tag.get("tag_value")))
    return tags


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


#: PagerDuty's REST API: the versioning `Accept` header of its description.
REST_ACCEPT = "application/vnd.pagerduty+json;version=2"
#: The integration type made on the service (PagerDuty's REST description, `Integration`).
EVENTS_V2_TYPE = "events_api_v2_inbound_integration"
#: Services asked for per page (`limit`; PagerDuty pages with limit/offset/more).
SERVICES_PAGE = 100
ADD_STEP = "Add an Events API v2 integration to the service"


def rest_url(values: Mapping[str, str]) -> str:
    """PagerDuty's REST API beside its Events API: events[.eu].pagerduty.com ->
    api[.eu].pagerduty.com (the emulator serves both on one origin)."""
    return origin_of(values.get("events_url") or EVENTS_URL).replace("://events.", "://api.", 1)


class PagerDutyService(TargetSide):
    """The Events API v2 integration named "BigPanda" on a PagerDuty service, made with
    PagerDuty's REST API (`POST /services/{id}/integrations`); its `integration_key` is
    stored without being shown. PagerDuty's REST description has no DELETE for a
    service integration (only GET and PUT), so uninstall says where to delete it."""

    system = "PagerDuty"
    what = "Events API v2 integration"
    key_label = "PagerDuty REST API key"
    key_help = (
        "PagerDuty: Integrations -> API Access Keys -> Create New API Key (not read-only), "
        "or a user's API token (My Profile -> User Settings -> Create API User Token)."
    )
    permission = (
        "write access to the service: a General Access REST API key that is not "
        "read-only, or the API token of a user who may manage the service (Manager role "
        "or above on it); with scoped OAuth, services.read and services.write"
    )
    rate_limit = (
        "PagerDuty's REST API allows about 960 requests a minute per key and says when to "
        "retry in its ratelimit-reset header; run again in a minute."
    )
    interval = 0.1
    replaces_steps = (ADD_STEP,)
    removal_step = "Delete the BigPanda integration on the service"
    choice_label = "service"

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Token token={key}", "Accept": REST_ACCEPT}

    def api_url(self, values: Mapping[str, str]) -> str:
        return rest_url(values)

    def detail(self, answer: Any) -> str:
        error = answer.get("error") if isinstance(answer, dict) else None
        if not isinstance(error, dict):
            return ""
        found = [str(error.get("message") or "")]
        found += [str(e) for e in error.get("errors") or [] if isinstance(e, str)]
        return "; ".join(f for f in found if f)

    def choices(self, api: ApiClient) -> list[Choice]:
        """Every service the key sees (`GET /services`, page after page, by name)."""
        found: list[Choice] = []
        offset = 0
        while True:
            params = {"limit": str(SERVICES_PAGE), "offset": str(offset), "sort_by": "name"}
            answer = api.call("GET", "/services", "Listing PagerDuty services", params)
            services = answer.get("services") if isinstance(answer, dict) else None
            for item in services or []:
                if isinstance(item, dict) and item.get("id"):
                    found.append(Choice(str(item["id"]), str(item.get("name") or item["id"])))
            if not (isinstance(answer, dict) and answer.get("more")) or not services:
                return found
            offset += len(services)

    def plan(self, api: ApiClient, values: Mapping[str, str], choice: Choice | None) -> SidePlan:
        assert choice is not None, "PagerDuty needs a service"
        path = f"/services/{choice.id}"
        what = f"Reading the PagerDuty service {choice.label}"
        answer = api.call("GET", path, what, {"include[]": ["integrations"]})
        service = answer.get("service") if isinstance(answer, dict) else None
        ours = [
            item
            for item in (service or {}).get("integrations") or []
            if isinstance(item, dict)
            and str(item.get("name", "")).lower() == self.name.lower()
            and str(item.get("type", "")).startswith(EVENTS_V2_TYPE)
        ]
        if ours:
            integration = ours[0]
            key = integration.get("integration_key")
            if not key:
                one = f"{path}/integrations/{integration['id']}"
                what = f"Reading the integration {integration['id']} on {choice.label}"
                got = api.call("GET", one, what)
                key = (got or {}).get("integration", {}).get("integration_key")
            if key:
                made = self._made(choice, str(integration.get("id")), str(key), created=False)
                return SidePlan((), made, choice)
        body = {
            "integration": {
                "type": EVENTS_V2_TYPE,
                "name": self.name,
                "service": {"id": choice.id, "type": "service_reference"},
            }
        }
        write = ApiCall(
            "POST",
            api.url(f"{path}/integrations"),
            f'Create the Events API v2 integration "{self.name}" on the service {choice.label}',
            body,
        )
        return SidePlan((write,), None, choice)

    def apply(self, api: ApiClient, plan: SidePlan) -> Made:
        assert plan.choice is not None and plan.writes
        write = plan.writes[0]
        path = f"/services/{plan.choice.id}/integrations"
        answer = api.call("POST", path, write.what, body=write.body)
        integration = answer.get("integration") if isinstance(answer, dict) else None
        ident = str((integration or {}).get("id") or "")
        key = (integration or {}).get("integration_key")
        if not key and ident:
            got = api.call("GET", f"{path}/{ident}", f"Reading the integration {ident}")
            key = (got or {}).get("integration", {}).get("integration_key")
        if not key:
            from bp_integrate.bigpanda.api import APIError

            raise APIError(
                f"{write.what}: PagerDuty answered without the integration key.",
                f"Find it in PagerDuty ({self._where(plan.choice)}), then run install "
                "again: it finds the integration and reuses it.",
                200,
            )
        return self._made(plan.choice, ident, str(key), created=True)

    def _where(self, choice: Choice) -> str:
        return f"Services -> Service Directory -> {choice.name} -> Integrations -> {self.name}"

    def _made(self, choice: Choice, ident: str, key: str, created: bool) -> Made:
        return Made(
            {"integration_key": key, "service": choice.label},
            f'the Events API v2 integration "{self.name}" ({ident}) on the PagerDuty '
            f"service {choice.label}",
            self._where(choice),
            created,
        )

    def by_hand(self, values: Mapping[str, str]) -> str:
        service = values.get("service") or "the service"
        return (
            "PagerDuty's REST API has no call that deletes a service integration (its "
            "description lists only GET and PUT for one), so delete it in PagerDuty: "
            f"Services -> Service Directory -> {service} -> Integrations -> the "
            f'"{self.name}" integration -> Delete Integration.'
        )


def tag_value(tags: Mapping[str, str], name: str) -> str | None:
    """A tag by name: an alert tag, or an incident tag whose id is that name's."""
    from bp_integrate.bigpanda.testmark import incident_tag_id

    found = tags.get(name)
    return found if found is not None else tags.get(incident_tag_id(name))


class PagerDuty(Integration):
    name = "pagerduty"
    share_system = "pagerduty"
    title = "PagerDuty"
    summary = "Create, update and resolve PagerDuty incidents through Events API v2."
    doc_page = "docs/pagerduty.md"
    aliases = ("pd",)
    target_side = PagerDutyService()
    region_bound = True  # an eu profile sends to PagerDuty's EU events host
    credential_fields = ("integration_key",)

    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "integration_key",
            "PagerDuty integration key",
            "Services -> the service -> Integrations -> Events API V2 -> Integration Key "
            "(32 characters).",
            secret=True,
            check=check_integration_key,
        ),
        Field(
            "app_key",
            "BigPanda App Key for PagerDuty (optional, recorded for later)",
            "BigPanda -> Integrations -> New Integration -> PagerDuty shows the App Key.",
            secret=True,
            required=False,
            check=check_token,
        ),
        Field(
            "override_tag",
            "Alert tag holding an override integration key (optional)",
            "Name of a BigPanda alert tag whose value is another integration key; alerts "
            "that carry it go to that service instead. Emits the header x-bp-config-pdfield.",
            required=False,
            check=check_tag_name,
        ),
        Field(
            "field_map",
            "Map tags to PagerDuty fields, pd_field=bp_tag,... (optional)",
            f"e.g. 'component=service,group=team'; PagerDuty fields: {', '.join(PAYLOAD_FIELDS)} "
            "or custom_details.<name>.",
            required=False,
            check=check_field_map,
        ),
        Field(
            "field_header_format",
            "Header name format for field mappings",
            "Our reconstruction of BigPanda's header convention [G]; change it if your "
            "tenant's PagerDuty page shows another one.",
            default=DEFAULT_FIELD_HEADER,
            check=check_field_header,
            confidence="G",
            when=lambda values: values.get("field_map_style") != "mapping-header",
        ),
        Field(
            "field_map_style",
            "How field mappings are sent: per-field or mapping-header",
            "BigPanda's custom-headers page reads two ways: per-field = one header per "
            "mapping (x-bp-field-<pd_field>: <bp_tag>, our reconstruction [G]); "
            "mapping-header = one header x-bp-mapping-fields: bp_tag=pd_field,... (the form "
            "that page shows for ServiceNow [C]). Pick what your tenant accepts.",
            default="per-field",
            choices=FIELD_MAP_STYLES,
            confidence="G",
        ),
        Field(
            "events_url",
            "Events API v2 URL",
            "PagerDuty's Events API endpoint: events.pagerduty.com, or "
            "events.eu.pagerduty.com for an account in PagerDuty's EU service region "
            "(its web address ends in .eu.pagerduty.com); otherwise change it only for a "
            "proxy or the emulator.",
            default=EVENTS_URL,
            default_from=default_events_url,
            check=check_events_url,
        ),
        Field(
            "service",
            "PagerDuty service of the integration (recorded, optional)",
            "The service the integration key belongs to, as 'Name (ID)': recorded when "
            "install creates the integration by API, so uninstall can say where it is.",
            required=False,
            asked=False,
        ),
    )

    install_steps: ClassVar[tuple[Step, ...]] = (
        Step(
            "PagerDuty",
            "Add an Events API v2 integration to the service",
            "Services -> Service Directory -> the service -> Integrations -> Add an "
            "integration -> Events API V2 (or BigPanda, if listed) -> Add. Copy the "
            "Integration Key.",
            asks=("integration_key",),
            checkpoint=True,
        ),
        Step(
            "BigPanda",
            "Create the PagerDuty integration",
            "Integrations -> New Integration -> PagerDuty -> Integrate. Paste the "
            "integration key. The App Key it shows is optional to record here.",
            asks=("app_key",),
        ),
        Step(
            "BigPanda",
            "Optional: route some alerts to another service, and map fields",
            "Custom headers on the integration: x-bp-config-pdfield names the alert tag that "
            "holds another integration key; one header per PagerDuty field you map from a "
            "BigPanda tag (header format is our reconstruction [G]).",
            asks=(
                "override_tag",
                "field_map",
                "field_map_style",
                "field_header_format",
                "events_url",
            ),
            confidence="G",
        ),
        Step(
            "BigPanda",
            "Add the custom headers",
            "Add each header shown below to the PagerDuty integration, then save.",
            checkpoint=True,
            shows_paste=True,
            # With no override tag and no field map there is no header to add.
            when=lambda values: bool(values.get("override_tag") or values.get("field_map")),
        ),
    )

    uninstall_steps: ClassVar[tuple[Step, ...]] = (
        Step(
            "PagerDuty",
            "Resolve open incidents from the integration",
            "Resolve the PagerDuty incidents BigPanda opened, so none stay open with no "
            "one to close them.",
            checkpoint=True,
        ),
        UNINSTALL_STOP_SENDING,
        Step(
            "PagerDuty",
            "Delete the BigPanda integration on the service",
            "Configuration -> Services -> the service -> Integrations -> the BigPanda "
            "integration -> Delete Integration. PagerDuty's REST API cannot delete it, "
            "so this step is by hand even when install made it by API.",
            checkpoint=True,
        ),
        UNINSTALL_DELETE_IN_BIGPANDA,
    )

    def field_map(self, values: Mapping[str, str]) -> dict[str, str]:
        return parse_field_map(values.get("field_map", ""))

    def webhook(self, values: Mapping[str, str]) -> Webhook:
        headers: dict[str, str] = {}
        if values.get("override_tag"):
            headers[OVERRIDE_HEADER] = values["override_tag"]
        mapping = self.field_map(values)
        if values.get("field_map_style") == "mapping-header":
            if mapping:
                headers[MAPPING_HEADER] = ",".join(f"{tag}={f}" for f, tag in mapping.items())
        else:
            fmt = values.get("field_header_format") or DEFAULT_FIELD_HEADER
            for pd_field, tag in mapping.items():
                headers[fmt.replace("{field}", pd_field)] = tag
        return Webhook(values.get("events_url") or EVENTS_URL, headers)

    def paste(self, values: Mapping[str, str]) -> list[PasteItem]:
        """BigPanda's PagerDuty page takes the integration key, then custom headers (the
        Events API URL is no field there: BigPanda knows it)."""
        key = PasteItem("integration_key", "Integration key", values["integration_key"], True)
        return [key, *header_items(self.webhook(values))]

    def event_secrets(self, incident: Mapping[str, Any], values: Mapping[str, str]) -> list[str]:
        """The override tag's value is another service's integration key: a secret in
        every body that carries it, wherever that body goes."""
        override = values.get("override_tag")
        found = alert_tags(incident).get(override) if override else None
        return [found] if found else []

    def routing_key(self, incident: Mapping[str, Any], values: Mapping[str, str]) -> str:
        override = values.get("override_tag")
        if override:
            found = alert_tags(incident).get(override)
            if found:
                return found
        return values["integration_key"]

    def plan(
        self,
        event: str,
        incident: dict[str, Any],
        body: dict[str, Any],
        values: Mapping[str, str],
        options: SendOptions,
    ) -> list[Planned]:
        url = values.get("events_url") or EVENTS_URL
        dedup_key = str(incident.get("id", ""))
        if len(dedup_key) > DEDUP_KEY_MAX:
            raise UsageError(
                f"The incident id is {len(dedup_key)} characters long: PagerDuty's dedup_key "
                f"takes at most {DEDUP_KEY_MAX}, so PagerDuty would refuse every event.",
                "Give a shorter --incident-id (BigPanda's own ids are 24 characters).",
            )
        routing_key = self.routing_key(incident, values)
        if event == "incident#closed":
            event_body: dict[str, Any] = {
                "routing_key": routing_key,
                "event_action": "resolve",
                "dedup_key": dedup_key,
            }
        elif event in TRIGGER_EVENTS:
            event_body = self._trigger(incident, routing_key, dedup_key, values)
        else:
            reason = SKIP_REASONS.get(event, f"{event} is not mapped to an Events v2 action")
            return [Skipped(self.name, event, reason)]
        headers = {"Content-Type": "application/json"}
        return [
            PlannedRequest(
                self.name,
                event,
                "POST",
                url,
                headers,
                event_body,
                response_id_key="dedup_key",
                label=str(event_body["event_action"]),
                secret_values=(routing_key,),
            )
        ]

    def _trigger(
        self,
        incident: Mapping[str, Any],
        routing_key: str,
        dedup_key: str,
        values: Mapping[str, str],
    ) -> dict[str, Any]:
        tags = alert_tags(incident)
        override = values.get("override_tag")
        # The override tag's value is another service's routing key: never a detail.
        shown_tags = {k: v for k, v in tags.items() if k != override}
        status = str(incident.get("status") or "critical")
        payload: dict[str, Any] = {
            "summary": summary(incident),
            "source": tags.get("host") or str(incident.get("id", "bigpanda")),
            "severity": severity_to_pagerduty(status),
            "custom_details": {
                "bigpanda_incident_id": incident.get("id"),
                "status": status,
                "flapping": bool(incident.get("flapping")),
                "tags": shown_tags,
            },
        }
        stamp = incident.get("updated_at") or incident.get("start")
        if isinstance(stamp, int | float):
            from datetime import UTC, datetime

            payload["timestamp"] = datetime.fromtimestamp(stamp, UTC).isoformat()
        for pd_field, tag in self.field_map(values).items():
            value = tag_value(tags, tag)
            if value is None or tag == override:
                continue
            if pd_field.startswith("custom_details."):
                payload["custom_details"][pd_field.split(".", 1)[1]] = value
            elif pd_field != "severity" or value in SEVERITIES:
                payload[pd_field] = value[:1024] if pd_field == "summary" else value
        return {
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": payload,
            "client": "BigPanda",
        }

    # -- read-back -------------------------------------------------------------------
    readback_fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "readback_api_key",
            "PagerDuty REST API key (read-only is enough for verify)",
            "PagerDuty: Integrations -> API Access Keys -> Create New API Key (read-only). "
            "Lets verify find the incident by its incident_key; one that is not read-only "
            "also lets install create the Events API v2 integration on the service.",
            secret=True,
            required=False,
        ),
    )

    def readback_query(
        self, incident_id: str, values: Mapping[str, str], creds: Mapping[str, str]
    ) -> ReadQuery | None:
        key = creds.get("readback_api_key")
        if not key:
            return None
        # The REST API sits beside the Events API: events[.eu].pagerduty.com -> api[.eu]...
        origin = origin_of(values.get("events_url") or EVENTS_URL)
        origin = origin.replace("://events.", "://api.", 1)
        return ReadQuery(
            "GET",
            origin + "/incidents",
            # PagerDuty's REST description: `Accept` is the versioning header.
            {
                "Authorization": f"Token token={key}",
                "Accept": "application/vnd.pagerduty+json;version=2",
            },
            {"incident_key": incident_id},
        )

    def readback_records(
        self, answer: Any, creds: Mapping[str, str] | None = None
    ) -> list[TargetRecord]:
        """Every incident with the key: a trigger after a resolve opens a new PagerDuty
        incident with the same incident_key, so there may be several; each carries its
        `created_at` (ISO 8601 UTC), which read-back uses to judge the newest."""
        return records_of(answer, "incidents", "resolved")


INTEGRATION = PagerDuty()
