"""xMatters: BigPanda shares incidents to an xMatters workflow's HTTP trigger."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from bp_integrate.errors import UsageError
from bp_integrate.integrations.base import (
    UNINSTALL_DELETE_IN_BIGPANDA,
    UNINSTALL_STOP_SENDING,
    Field,
    Integration,
    ReadQuery,
    Step,
    TargetRecord,
    Webhook,
    basic_auth,
    origin_of,
    timestamp,
)
from bp_integrate.integrations.common import check_name_list, check_token
from bp_integrate.urls import (
    check_url,
    is_loopback_host,
    parse_recipients,
    query_value,
    with_recipients,
)

TRIGGER_PATH = re.compile(
    r"^/api/integration/1/functions/"
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/triggers/?$"
)
TRIGGER_EXAMPLE = "https://<company>.xmatters.com/api/integration/1/functions/<uuid>/triggers"


def check_trigger_url(value: str, _values: Mapping[str, str]) -> str:
    url = check_url(value, "The xMatters trigger URL")
    if not TRIGGER_PATH.match(urlsplit(url).path):
        raise UsageError(
            f"{urlsplit(url).path!r} is not an xMatters HTTP trigger path.",
            f"The trigger URL looks like {TRIGGER_EXAMPLE}; copy it from the workflow's "
            "BigPanda trigger (Workflows -> the workflow -> Flows -> the HTTP trigger).",
        )
    return url


def trigger_url_warnings(url: str) -> list[str]:
    host = urlsplit(url).hostname or ""
    if host and not host.endswith(".xmatters.com") and not is_loopback_host(host):
        return [f"{host} is not an xmatters.com host: check that this is your xMatters instance."]
    return []


@functools.lru_cache(maxsize=64)
def _trigger_url(trigger_url: str, recipients: str) -> str:
    """The URL an event is sent to: the trigger URL with its recipients (a storm sends to
    the same one thousands of times, so it is worked out once)."""
    return with_recipients(trigger_url, parse_recipients(recipients))


def check_username(value: str, _values: Mapping[str, str]) -> str:
    if ":" in value:
        raise UsageError(
            f"The user name {value!r} contains ':', which Basic auth cannot carry.",
            "RFC 7617: the user-id ends at the first colon. Use an integration user "
            "without ':' in its name (the password may contain ':').",
        )
    return value


def default_auth(values: Mapping[str, str]) -> str:
    return "url" if query_value(values.get("trigger_url", ""), "apiKey") else "basic"


def check_auth(value: str, values: Mapping[str, str]) -> str:
    if value == "url" and not query_value(values.get("trigger_url", ""), "apiKey"):
        raise UsageError(
            "auth is 'url' but the trigger URL carries no apiKey parameter.",
            "Copy the trigger URL again with URL authentication chosen in xMatters "
            "(it ends in ?apiKey=...), or set auth=basic.",
        )
    return value


def is_basic(values: Mapping[str, str]) -> bool:
    return values.get("auth") == "basic"


#: The BigPanda workflow form's properties read-back relies on. Their names are not
#: public: these are our guesses [G], overridable as read-back settings.
INCIDENT_PROPERTY = "incident_id"
EVENT_PROPERTY = "event_type"


def is_close(properties: Mapping[str, Any], name: str) -> bool:
    """Whether an event's form properties say it is BigPanda's close: the event-type
    property ends in ``closed``; without that property, any property holding
    ``incident#closed`` (the workflow may name it otherwise)."""
    if name in properties:
        return str(properties[name]).strip().lower().endswith("closed")
    return any(str(v).strip().lower() == "incident#closed" for v in properties.values())


class XMatters(Integration):
    name = "xmatters"
    share_system = "xmatters"
    title = "xMatters"
    summary = "Notify on-call people in xMatters through a workflow's HTTP trigger."
    doc_page = "docs/xmatters.md"
    response_id_key = "requestId"
    request_label = "trigger"
    #: Basic authentication: the user's password or name; URL authentication: the apiKey
    #: in the trigger URL.
    credential_fields = ("password", "username", "trigger_url")

    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "app_key",
            "BigPanda App Key for xMatters (optional, recorded for later)",
            "Optional: recorded so later commands can find this integration in BigPanda.",
            secret=True,
            required=False,
            check=check_token,
        ),
        Field(
            "trigger_url",
            "xMatters trigger URL",
            f"Looks like {TRIGGER_EXAMPLE}; with URL authentication it ends in ?apiKey=...",
            check=check_trigger_url,
            url_with_secrets=True,
        ),
        Field(
            "auth",
            "Authentication (url, basic or none)",
            "url: the apiKey rides in the trigger URL; basic: an Authorization header "
            "with the integration user's name and password; none: no credentials.",
            choices=("url", "basic", "none"),
            default_from=default_auth,
            check=check_auth,
        ),
        Field(
            "username",
            "xMatters integration user name",
            "The xMatters user the BigPanda workflow authenticates as.",
            when=is_basic,
            check=check_username,
        ),
        Field(
            "password",
            "xMatters integration user password",
            "The password of that xMatters user.",
            secret=True,
            when=is_basic,
        ),
        Field(
            "recipients",
            "Recipients (comma-separated users or groups, optional)",
            "xMatters user or group names, e.g. 'Cloud Devops, alice'.",
            required=False,
            list_value=True,
            check=check_name_list,
        ),
    )

    install_steps: ClassVar[tuple[Step, ...]] = (
        Step(
            "BigPanda",
            "Create an App Key for xMatters",
            "Integrations -> New Integration -> xMatters -> Integrate. One App Key per "
            "integrated system. Copy the App Key.",
            asks=("app_key",),
        ),
        Step(
            "xMatters",
            "Install the BigPanda workflow",
            "Workflows -> Workflow Templates -> BigPanda tile -> give it a name (and an "
            "optional description) -> Install. Choose the authentication option (URL "
            "authentication puts the key in the URL; Basic uses an integration user). "
            "Copy the trigger URL it shows.",
            asks=("trigger_url", "auth", "username", "password"),
            checkpoint=True,
        ),
        Step(
            "BigPanda",
            "Choose who is notified",
            "Recipients are added to the URL's 'recipients' parameter. The workflow "
            "template's URL already names the user who installed it; any names you add "
            "here are merged with it.",
            asks=("recipients",),
        ),
        Step(
            "BigPanda",
            "Configure the webhook",
            "On the xMatters integration page in BigPanda, paste the Callback URL and the "
            "headers shown below, then Configure Webhook.",
            checkpoint=True,
            shows_paste=True,
        ),
    )

    uninstall_steps: ClassVar[tuple[Step, ...]] = (
        Step(
            "xMatters",
            "Disable or remove the BigPanda workflow in xMatters",
            "Workflows -> the BigPanda workflow -> disable it (or delete it), so xMatters "
            "neither sends to nor accepts traffic from BigPanda.",
            checkpoint=True,
        ),
        UNINSTALL_STOP_SENDING,
        UNINSTALL_DELETE_IN_BIGPANDA,
    )

    def warnings(self, values: Mapping[str, str]) -> list[str]:
        return trigger_url_warnings(values.get("trigger_url", ""))

    def webhook(self, values: Mapping[str, str]) -> Webhook:
        url = _trigger_url(values["trigger_url"], values.get("recipients", ""))
        headers = {"Content-Type": "application/json"}
        secret: frozenset[str] = frozenset()
        if values.get("auth") == "basic":
            headers["Authorization"] = basic_auth(values["username"], values["password"])
            secret = frozenset({"Authorization"})
        return Webhook(url, headers, secret)

    # -- read-back -------------------------------------------------------------------
    readback_fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "readback_username",
            "xMatters REST user",
            "xMatters: Users -> Add a user with the REST Web Service User role. Lets verify "
            "find the event (GET /api/xm/1/events) and terminate it when cleaning up.",
            required=False,
        ),
        Field(
            "readback_password",
            "xMatters REST user's password",
            "The password of that REST user.",
            secret=True,
            required=False,
        ),
        Field(
            "readback_incident_property",
            f"BigPanda workflow property holding the incident id (guess: {INCIDENT_PROPERTY})",
            f"Our guess [G]: {INCIDENT_PROPERTY}. The real name is in xMatters: Workflows -> "
            "the BigPanda workflow -> Messaging (forms) -> the form -> its properties; give "
            "the one that holds the BigPanda incident id (an empty value keeps the guess).",
            required=False,
            default=INCIDENT_PROPERTY,
            confidence="G",
        ),
        Field(
            "readback_event_property",
            f"BigPanda workflow property holding the event type (guess: {EVENT_PROPERTY})",
            f"Our guess [G]: {EVENT_PROPERTY}. In the same form, the property that holds "
            "BigPanda's event type (incident#new, incident#closed...): an event whose value "
            "ends in 'closed' is a close (an empty value keeps the guess).",
            required=False,
            default=EVENT_PROPERTY,
            confidence="G",
        ),
    )

    def _rest_auth(self, creds: Mapping[str, str]) -> dict[str, str] | None:
        user, password = creds.get("readback_username"), creds.get("readback_password")
        if not user or not password:
            return None
        return {"Authorization": basic_auth(user, password), "Accept": "application/json"}

    def readback_query(
        self, incident_id: str, values: Mapping[str, str], creds: Mapping[str, str]
    ) -> ReadQuery | None:
        """``GET /api/xm/1/events`` for the workflow's events of the incident, with their
        form properties (``embed=properties``: the list leaves them out otherwise)."""
        headers = self._rest_auth(creds)
        if headers is None:
            return None
        return ReadQuery(
            "GET",
            origin_of(values["trigger_url"]) + "/api/xm/1/events",
            headers,
            {
                "propertyName": creds.get("readback_incident_property") or INCIDENT_PROPERTY,
                "propertyValue": incident_id,
                "embed": "properties",
            },
        )

    def readback_records(
        self, answer: Any, creds: Mapping[str, str] | None = None
    ) -> list[TargetRecord]:
        """One record per xMatters event, created at its ``created``. Every trigger of
        the workflow is an event of its own, so an event is resolved when it was
        terminated or when it is the close's own event (its event-type property ends in
        ``closed``). An answer of another shape holds no records."""
        items = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            return []
        name = (creds or {}).get("readback_event_property") or EVENT_PROPERTY
        records = []
        for event in items:
            if not isinstance(event, dict):
                continue
            properties = event.get("properties")
            closes = is_close(properties if isinstance(properties, dict) else {}, name)
            status = str(event.get("status") or "")
            ended = closes or status.upper().startswith("TERMINATED")
            records.append(
                TargetRecord(
                    str(event.get("id", "")),
                    "resolved" if ended else "open",
                    status + (" (close received)" if closes else ""),
                    timestamp(event.get("created")),
                )
            )
        return records

    def terminate_query(
        self, record: TargetRecord, values: Mapping[str, str], creds: Mapping[str, str]
    ) -> ReadQuery | None:
        headers = self._rest_auth(creds)
        if headers is None or record.state != "open":
            return None
        return ReadQuery(
            "POST",
            origin_of(values["trigger_url"]) + "/api/xm/1/events",
            {**headers, "Content-Type": "application/json"},
            body={"id": record.id, "status": "TERMINATED"},
        )


INTEGRATION = XMatters()
