"""incident.io: BigPanda's native webhook feeds an incident.io BigPanda alert source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from bp_integrate.integrations.base import (
    UNINSTALL_DELETE_IN_BIGPANDA,
    UNINSTALL_STOP_SENDING,
    ApiCall,
    ApiClient,
    Choice,
    Field,
    Integration,
    Made,
    ReadQuery,
    SidePlan,
    Step,
    TargetRecord,
    TargetSide,
    Webhook,
    origin_of,
    records_of,
)
from bp_integrate.integrations.common import check_token
from bp_integrate.urls import check_url

#: The URL family is [S]; incident.io names this source type `big_panda` (its SDK's
#: AlertSourceV2SourceType and its Terraform provider's alert_source docs) [C]; `bigpanda`
#: was our first reconstruction and is accepted too.
CALLBACK_PREFIXES = ("/v2/alert_events/big_panda/", "/v2/alert_events/bigpanda/")
#: Alerts asked for per read-back (``page_size``: required, 1 to 50, default 25).
PAGE_SIZE = 25


def check_callback_url(value: str, _values: Mapping[str, str]) -> str:
    return check_url(value, "The incident.io Callback URL")


def check_api_url(value: str, _values: Mapping[str, str]) -> str:
    return check_url(value, "The incident.io API URL").rstrip("/")


API_URL = "https://api.incident.io"
SOURCES_PATH = "/v2/alert_sources"
#: incident.io's own name for BigPanda's source type (its SDK's AlertSourceV2SourceType).
SOURCE_TYPE = "big_panda"
CREATE_STEP = "Create the BigPanda alert source"


def _text_doc(name: str, label: str) -> dict[str, str]:
    """A template binding that shows one field of the event's payload, in the rich-text
    form incident.io's Terraform provider documents for alert sources [G for BigPanda's
    source, whose own mapping of the webhook body incident.io does not publish]."""
    import json

    var = {"type": "varSpec", "attrs": {"name": name, "label": label, "missing": False}}
    doc = {"type": "doc", "content": [{"type": "paragraph", "content": [var]}]}
    return {"literal": json.dumps(doc, separators=(",", ":"))}


#: The alert source's template: required by `POST /v2/alert_sources` (the SDK's
#: AlertTemplatePayloadV2: attributes, description, expressions, title).
TEMPLATE = {
    "title": _text_doc("title", "Payload -> Title"),
    "description": _text_doc("description", "Payload -> Description"),
    "attributes": [],
    "expressions": [],
}


def source_id_of(callback_url: str) -> str:
    """The alert source's id: the last part of its Callback URL's path."""
    return urlsplit(callback_url).path.rstrip("/").rpartition("/")[2]


class IncidentIoSource(TargetSide):
    """The BigPanda alert source, made with incident.io's alert sources V2 API
    (`POST /v2/alert_sources`, `source_type: big_panda`, named "BigPanda"): its
    `alert_events_url` becomes the Callback URL and its `secret_token` the secret.
    A re-run finds it by name and type (`GET /v2/alert_sources`) and reads its secret
    (`GET /v2/alert_sources/{id}`); uninstall deletes it (`DELETE`, after confirmation)."""

    system = "incident.io"
    what = "BigPanda alert source"
    key_label = "incident.io API key"
    key_help = "incident.io: Settings -> API keys -> Add new, with the role below."
    permission = (
        "a role that may create and delete alert sources (incident.io's alert "
        "configuration; Settings -> API keys lists the roles: pick the one that manages "
        "on-call and alert resources, plus 'View data' for verify's read-back)"
    )
    rate_limit = (
        "incident.io allows 1,200 API requests a minute per key and says when to retry "
        "in Retry-After; run again in a minute."
    )
    replaces_steps = (CREATE_STEP,)
    removal_step = "Remove the BigPanda alert source"

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}", "Accept": "application/json"}

    def api_url(self, values: Mapping[str, str]) -> str:
        return values.get("api_url") or API_URL

    def detail(self, answer: Any) -> str:
        errors = answer.get("errors") if isinstance(answer, dict) else None
        return "; ".join(
            str(e.get("message")) for e in errors or [] if isinstance(e, dict) and e.get("message")
        )

    def plan(self, api: ApiClient, values: Mapping[str, str], choice: Choice | None) -> SidePlan:
        what = "Listing incident.io alert sources"
        answer = api.call("GET", SOURCES_PATH, what)
        sources = answer.get("alert_sources") if isinstance(answer, dict) else None
        ours = [
            s
            for s in sources or []
            if isinstance(s, dict)
            and s.get("source_type") == SOURCE_TYPE
            and str(s.get("name", "")).lower() == self.name.lower()
        ]
        if ours:
            path = f"{SOURCES_PATH}/{ours[0].get('id')}"
            what = f"Reading the alert source {ours[0].get('id')}"
            shown = api.call("GET", path, what)
            made = self._made(api, (shown or {}).get("alert_source"), created=False)
            if made is not None:
                return SidePlan((), made)
        body = {"name": self.name, "source_type": SOURCE_TYPE, "template": TEMPLATE}
        write = ApiCall(
            "POST",
            api.url(SOURCES_PATH),
            f'Create the incident.io alert source "{self.name}" (source type {SOURCE_TYPE})',
            body,
        )
        return SidePlan((write,))

    def apply(self, api: ApiClient, plan: SidePlan) -> Made:
        write = plan.writes[0]
        answer = api.call("POST", SOURCES_PATH, write.what, body=write.body)
        made = self._made(api, (answer or {}).get("alert_source"), created=True)
        if made is None:
            from bp_integrate.bigpanda.api import APIError

            raise APIError(
                f"{write.what}: incident.io answered without the source's id or secret.",
                "Check Alerts -> Sources in incident.io, then run install again: it finds "
                f'the "{self.name}" source and reuses it.',
                200,
            )
        return made

    def _made(self, api: ApiClient, source: Any, created: bool) -> Made | None:
        if not isinstance(source, dict) or not source.get("id") or not source.get("secret_token"):
            return None
        ident = str(source["id"])
        url = source.get("alert_events_url") or api.url(f"/v2/alert_events/{SOURCE_TYPE}/{ident}")
        values = {"callback_url": str(url), "secret": str(source["secret_token"])}
        if api.base_url != API_URL:
            values["api_url"] = api.base_url
        return Made(
            values,
            f'the incident.io alert source "{source.get("name") or self.name}" ({ident})',
            f"Alerts -> Sources -> {source.get('name') or self.name}",
            created,
        )

    def removal(self, values: Mapping[str, str]) -> list[ApiCall]:
        ident = source_id_of(values.get("callback_url", ""))
        if not ident:
            return []
        url = self.api_url(values) + f"{SOURCES_PATH}/{ident}"
        return [ApiCall("DELETE", url, f"Delete the incident.io alert source {ident}")]

    def remove(self, api: ApiClient, values: Mapping[str, str]) -> str:
        [call] = self.removal(values)
        ident = source_id_of(values["callback_url"])
        api.call("DELETE", f"{SOURCES_PATH}/{ident}", call.what, missing_ok=True)
        return f"Deleted the incident.io alert source {ident} (or it was already gone)."

    def by_hand(self, values: Mapping[str, str]) -> str:
        ident = source_id_of(values.get("callback_url", ""))
        which = f"the BigPanda source ({ident})" if ident else "the BigPanda source"
        return f"Delete it in incident.io: Alerts -> Sources -> {which} -> Delete."


class IncidentIO(Integration):
    name = "incidentio"
    title = "incident.io"
    summary = "Fire and resolve incident.io alerts from BigPanda's native webhook."
    doc_page = "docs/incidentio.md"
    aliases = ("incident.io", "incident-io")
    response_id_key = "deduplication_key"
    request_label = "alert"
    target_side = IncidentIoSource()
    credential_fields = ("secret",)  # sent as `Authorization: Bearer`

    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "bigpanda_api_key",
            "BigPanda API key for incident.io write-back (optional)",
            "BigPanda -> Settings -> Access Management -> API Keys: a key of the service "
            "account made for incident.io (Admin role), with no expiry. incident.io uses it "
            "to close BigPanda incidents.",
            secret=True,
            required=False,
            check=check_token,
            bigpanda_key=True,
        ),
        Field(
            "callback_url",
            "incident.io Callback URL",
            "incident.io -> Alerts -> Sources -> New alert source -> BigPanda shows it; "
            "it looks like https://api.incident.io/v2/alert_events/bigpanda/<id>.",
            check=check_callback_url,
        ),
        Field(
            "secret",
            "incident.io alert source secret",
            "Shown next to the Callback URL; BigPanda sends it as 'Authorization: Bearer'.",
            secret=True,
            check=check_token,
        ),
        Field(
            "app_key",
            "BigPanda App Key of the webhook (optional, recorded for later)",
            "BigPanda -> Integrations -> the Notifications Webhook shows the App Key.",
            secret=True,
            required=False,
            check=check_token,
        ),
        Field(
            "api_url",
            "incident.io API URL",
            "incident.io's API, where install creates the alert source by API; change only "
            "for a proxy or the emulator (empty: https://api.incident.io).",
            required=False,
            check=check_api_url,
            asked=False,
        ),
    )

    install_steps: ClassVar[tuple[Step, ...]] = (
        Step(
            "BigPanda",
            "Create a service account with the Admin role, and its API key",
            "incident.io keeps this key to close the BigPanda incident when its alert is "
            "resolved in incident.io. Settings -> Access Management -> Service Accounts -> "
            "new service account for incident.io (e.g. 'incident.io') with the Admin role "
            "(incident.io's BigPanda page asks for it). Then Settings -> Access Management -> "
            "API Keys -> Create Key -> choose the service account, no expiration (note the "
            "date if you set one). A service account's key survives staff changes, and "
            "BigPanda shows the incidents incident.io resolves as resolved by that account. "
            "Copy the key.",
            asks=("bigpanda_api_key",),
        ),
        Step(
            "incident.io",
            "Connect BigPanda",
            # Whether bp-integrate checked the key is said where it did (step 1, "the key
            # works"): not when the key was skipped or --no-verify given.
            "Settings -> Integrations -> BigPanda -> paste the API key. incident.io checks "
            "it against BigPanda before storing it.",
            checkpoint=True,
        ),
        Step(
            "incident.io",
            "Create the BigPanda alert source",
            "Alerts -> Sources -> New alert source -> BigPanda. Copy the Callback URL and "
            "the secret.",
            asks=("callback_url", "secret"),
            checkpoint=True,
        ),
        Step(
            "BigPanda",
            "Create the Notifications Webhook",
            "Integrations -> New Integration -> Notifications Webhook. Paste the Callback "
            "URL and the Authorization header shown below. Record the App Key if you want.",
            asks=("app_key",),
            checkpoint=True,
            shows_paste=True,
        ),
    )

    uninstall_steps: ClassVar[tuple[Step, ...]] = (
        UNINSTALL_STOP_SENDING,
        Step(
            "incident.io",
            "Remove the BigPanda alert source",
            "Alerts -> Sources -> the BigPanda source -> Delete.",
            checkpoint=True,
        ),
        Step(
            "incident.io",
            "Disconnect BigPanda",
            "Undoes 'Connect BigPanda': Settings -> Integrations -> BigPanda -> Remove, "
            "unless another alert source still uses it.",
            checkpoint=True,
        ),
        Step(
            "BigPanda",
            "Revoke the service account's API key",
            "Settings -> Access Management -> API Keys -> the key given to incident.io -> "
            "Delete (once incident.io no longer uses it).",
            checkpoint=True,
        ),
        UNINSTALL_DELETE_IN_BIGPANDA,
    )

    def warnings(self, values: Mapping[str, str]) -> list[str]:
        path = urlsplit(values.get("callback_url", "")).path
        if path and not path.startswith(CALLBACK_PREFIXES):
            return [
                f"The Callback URL path {path!r} does not start with {CALLBACK_PREFIXES[0]} "
                "(the usual shape of a BigPanda alert source's URL): check you copied the "
                "BigPanda source's Callback URL."
            ]
        return []

    def final_notes(self, values: Mapping[str, str]) -> list[str]:
        notes = super().final_notes(values)
        if not values.get("bigpanda_api_key"):
            notes.append(
                "No BigPanda API key was given: resolving the alert in incident.io will not "
                "close the BigPanda incident, which stays open and can re-fire the alert."
            )
        return notes

    def webhook(self, values: Mapping[str, str]) -> Webhook:
        return Webhook(
            values["callback_url"],
            {"Content-Type": "application/json", "Authorization": f"Bearer {values['secret']}"},
            frozenset({"Authorization"}),
        )

    # -- read-back -------------------------------------------------------------------
    readback_fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "readback_api_key",
            "incident.io API key (can view alerts)",
            "incident.io: Settings -> API keys -> Add new (View data). Lets verify find "
            "the alert by its deduplication key (the BigPanda incident id).",
            secret=True,
            required=False,
        ),
    )

    def readback_query(
        self, incident_id: str, values: Mapping[str, str], creds: Mapping[str, str]
    ) -> ReadQuery | None:
        """``GET /v2/alerts`` filtered on the deduplication key (the BigPanda incident
        id), with ``page_size``, which the API reference lists as required."""
        key = creds.get("readback_api_key")
        if not key:
            return None
        return ReadQuery(
            "GET",
            origin_of(values["callback_url"]) + "/v2/alerts",
            {"Authorization": f"Bearer {key}", "Accept": "application/json"},
            {"page_size": str(PAGE_SIZE), "deduplication_key[is]": incident_id},
        )

    def readback_records(
        self, answer: Any, creds: Mapping[str, str] | None = None
    ) -> list[TargetRecord]:
        """One record per alert (the SDK's ``AlertV2``), created at its ``created_at``;
        an answer of another shape holds no records."""
        alerts = answer.get("alerts") if isinstance(answer, dict) else None
        if not isinstance(alerts, list):
            return []
        return records_of({"alerts": alerts}, "alerts", "resolved")


INTEGRATION = IncidentIO()
