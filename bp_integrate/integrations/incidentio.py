"""incident.io: BigPanda's native webhook feeds an incident.io BigPanda alert source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from bp_integrate.integrations.base import (
    UNINSTALL_DELETE_IN_BIGPANDA,
    UNINSTALL_STOP_SENDING,
    Field,
    Integration,
    ReadQuery,
    Step,
    TargetRecord,
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


class IncidentIO(Integration):
    name = "incidentio"
    title = "incident.io"
    summary = "Fire and resolve incident.io alerts from BigPanda's native webhook."
    doc_page = "docs/incidentio.md"
    aliases = ("incident.io", "incident-io")
    response_id_key = "deduplication_key"
    request_label = "alert"

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
            "Settings -> Integrations -> BigPanda -> paste the API key. incident.io checks "
            "it against BigPanda before storing it (bp-integrate checked it too).",
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
