"""Panopta (FortiMonitor) -> xMatters: Panopta's outage and clear webhooks notify xMatters.

The direction differs from the others (Panopta is the source), but the install has
the same shape: values copied from xMatters, pasted into Panopta. Two setups, as
xMatters documents them: `workflow` (today's Panopta workflow template: one trigger URL
with its recipients, for both detection and close) and `v1.1` (the legacy communication
plan: two inbound integrations, Outage and Clear).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from bp_integrate.errors import UsageError
from bp_integrate.integrations.base import (
    Field,
    Integration,
    PasteItem,
    Planned,
    PlannedRequest,
    SendOptions,
    Skipped,
    Step,
    Webhook,
)
from bp_integrate.integrations.common import check_name_list
from bp_integrate.integrations.xmatters import check_trigger_url, trigger_url_warnings
from bp_integrate.urls import (
    has_masked_secret,
    parse_recipients,
    query_value,
    split_url_secrets,
    with_recipients,
)

#: Panopta variables in the raw payload. `$fqdn` is in FortiMonitor's current pages [C];
#: `$timestamp`, `$services` and `$duration` are in xMatters' v1.1 article [C]; the other
#: names are our reconstruction [G]. The workflow's own Configuration Payload, copied
#: from xMatters, is what to paste (the `payload` setting), when it differs.
DEFAULT_PAYLOAD: dict[str, str] = {
    "outage_id": "$outage_id",
    "fqdn": "$fqdn",
    "name": "$name",
    "severity": "$severity",
    "timestamp": "$timestamp",
    "services": "$services",
    "duration": "$duration",
}
OUTAGE_EVENTS = frozenset({"incident#new", "incident#reopen"})
SETUPS = ("workflow", "v1.1")


def setup_of(values: Mapping[str, str]) -> str:
    """The setup of these settings (an install from before `setup` existed is v1.1)."""
    chosen = values.get("setup")
    if chosen in SETUPS:
        return chosen
    return "v1.1" if values.get("outage_url") else "workflow"


def is_workflow(values: Mapping[str, str]) -> bool:
    return setup_of(values) == "workflow"


def is_v11(values: Mapping[str, str]) -> bool:
    return setup_of(values) == "v1.1"


def default_setup(values: Mapping[str, str]) -> str:
    return setup_of(values)


def check_payload(value: str, _values: Mapping[str, str]) -> str:
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise UsageError(
            f"The raw payload is not valid JSON: {exc}.",
            'Give a JSON object such as {"fqdn": "$fqdn", "timestamp": "$timestamp"}.',
        ) from None
    if not isinstance(parsed, dict):
        raise UsageError("The raw payload must be a JSON object.", "Wrap it in { }.")
    return json.dumps(parsed, separators=(",", ":"))


def check_outage_url(value: str, values: Mapping[str, str]) -> str:
    """A v1.1 inbound integration URL: Panopta's webhook sends no headers, so URL
    authentication (its `apiKey`) is the only way xMatters accepts it."""
    url = check_trigger_url(value, values)
    if not query_value(url, "apiKey"):
        raise UsageError(
            "The inbound integration URL carries no apiKey parameter, and Panopta's webhook "
            "sends no Authorization header: xMatters would answer 401 to every outage.",
            "In xMatters, open the inbound integration with URL authentication chosen and "
            "copy the whole URL (it ends in ?apiKey=...).",
        )
    return url


def check_clear_url(value: str, values: Mapping[str, str]) -> str:
    """The Clear Event URL: its own key, and not the Outage Event URL again."""
    url = check_outage_url(value, values)
    outage = values.get("outage_url", "")
    if outage and _endpoint(url) == _endpoint(outage):
        raise UsageError(
            "The clear URL is the outage URL again: clears would open new outages in xMatters.",
            "Copy the URL of the other inbound integration, 'Panopta Clear Event'.",
        )
    return url


def _endpoint(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.netloc.lower(), parts.path.rstrip("/"))


def target_value(text: str) -> str | list[str] | None:
    """One name -> a string; several comma-separated -> an array; none -> None."""
    names = parse_recipients(text)
    if not names:
        return None
    return names[0] if len(names) == 1 else names


class Panopta(Integration):
    name = "panopta"
    title = "Panopta -> xMatters"
    summary = "Send Panopta (FortiMonitor) outages and clears to xMatters inbound integrations."
    doc_page = "docs/panopta.md"
    aliases = ("fortimonitor",)

    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "setup",
            "xMatters setup: workflow (current) or v1.1 (legacy communication plan)",
            "workflow: xMatters' Panopta workflow template, one trigger URL for detection "
            "and close; v1.1: the older communication plan with two inbound integrations "
            "(Outage, Clear).",
            choices=SETUPS,
            default_from=default_setup,
        ),
        Field(
            "trigger_url",
            "xMatters Panopta trigger URL",
            "Workflows -> Workflow Templates -> Panopta -> install -> choose the "
            "authentication -> copy the trigger URL (with URL authentication it ends in "
            "?apiKey=...).",
            check=check_trigger_url,
            url_with_secrets=True,
            when=is_workflow,
        ),
        Field(
            "recipients",
            "Recipients (comma-separated users or groups, optional)",
            "Added to the trigger URL's 'recipients' parameter; the template's URL already "
            "names the user who installed it.",
            required=False,
            list_value=True,
            check=check_name_list,
            when=is_workflow,
        ),
        Field(
            "outage_url",
            "xMatters 'Panopta Outage Event' inbound integration URL",
            "Log in to xMatters as the integration user -> Workflows -> the Panopta plan -> "
            "Flows/Integration Builder -> Panopta Outage Event -> copy the URL (it ends in "
            "?apiKey=...).",
            check=check_outage_url,
            url_with_secrets=True,
            when=is_v11,
        ),
        Field(
            "clear_url",
            "xMatters 'Panopta Clear Event' inbound integration URL (optional)",
            "Same place, the Panopta Clear Event integration. Without it, clears are not sent.",
            required=False,
            check=check_clear_url,
            url_with_secrets=True,
            when=is_v11,
        ),
        Field(
            "target",
            "xMatters target: a user or group name, or several comma-separated (optional)",
            "Sent as the payload's 'target'. With no recipient in the xMatters form and no "
            "target, xMatters creates no event.",
            required=False,
            list_value=True,
            check=check_name_list,
            when=is_v11,
        ),
        Field(
            "payload",
            "Raw payload template (JSON)",
            "Panopta variables per field. With the workflow, paste the Configuration Payload "
            "xMatters shows; the default names only $fqdn, $timestamp, $services and "
            "$duration from vendor pages, the rest is our reconstruction [G].",
            default=json.dumps(DEFAULT_PAYLOAD, separators=(",", ":")),
            check=check_payload,
            multiline=True,
            confidence="G",
        ),
    )

    install_steps: ClassVar[tuple[Step, ...]] = (
        Step(
            "xMatters",
            "Choose the setup",
            "Current xMatters installs the Panopta workflow template (one trigger URL); "
            "older instances use the v1.1 communication plan (two inbound integrations).",
            asks=("setup",),
        ),
        Step(
            "xMatters",
            "Install the Panopta workflow",
            "Workflows -> Workflow Templates -> Panopta tile -> name it -> Next -> choose "
            "the authentication -> copy the trigger URL and the Configuration Payload. "
            "Send a test signal from there if you like.",
            asks=("trigger_url", "recipients", "payload"),
            checkpoint=True,
            when=is_workflow,
        ),
        Step(
            "Panopta",
            "Configure the webhook",
            "Settings -> Integrations -> Webhook -> Configure. Title: xMatters; Trigger "
            "Event: Incident Detection and Incident Close; Request Method: POST; Postback "
            "URL and Raw payload as shown below; no headers. Then add it to a Notification "
            "Schedule, and test it with Panopta's Outage Simulator.",
            checkpoint=True,
            shows_paste=True,
            when=is_workflow,
        ),
        Step(
            "xMatters",
            "Create the integration user",
            "Users -> Add: a user with the REST Web Service User role (the inbound "
            "integrations authenticate as this user).",
            checkpoint=True,
            when=is_v11,
        ),
        Step(
            "xMatters",
            "Import the Panopta communication plan",
            "Workflows -> Import -> the Panopta plan file. Give the integration user access "
            "and sender permissions on both forms (Panopta Outage Event and Panopta Clear "
            "Event), and set the forms' recipients. Response callbacks are off by default.",
            checkpoint=True,
            when=is_v11,
        ),
        Step(
            "xMatters",
            "Copy the inbound integration URLs",
            "Log in as the integration user; open each inbound integration (Outage, Clear) "
            "and copy its URL (URL authentication is the plan's default).",
            asks=("outage_url", "clear_url", "target", "payload"),
            when=is_v11,
        ),
        Step(
            "Panopta",
            "Install the webhook: outage",
            "Configuration -> Integrations -> Webhook -> Install. Label it; Outage webhook: "
            "method POST, Postback URL = the outage URL shown below, no headers, payload "
            "type Raw, and the raw JSON payload shown below.",
            checkpoint=True,
            shows_paste=True,
            when=is_v11,
        ),
        Step(
            "Panopta",
            "Install the webhook: clear",
            "Untick 'Same as Outage' and repeat with the clear URL and clear payload shown "
            "above. Then add the webhook to a Notification Schedule, and test it with "
            "Panopta's Outage Simulator.",
            checkpoint=True,
            when=is_v11,
        ),
    )

    uninstall_steps: ClassVar[tuple[Step, ...]] = (
        Step(
            "Panopta",
            "Stop sending",
            "Remove the webhook from every Notification Schedule that uses it.",
            checkpoint=True,
        ),
        Step(
            "Panopta",
            "Delete the webhook",
            "Configuration -> Integrations -> the webhook -> Delete.",
            checkpoint=True,
        ),
        Step(
            "xMatters",
            "Disable the inbound integrations",
            "Workflows -> the Panopta plan -> disable (or delete) the plan and its "
            "integration user. Deleting removes no events already created.",
            checkpoint=True,
        ),
    )

    def full_uninstall_steps(self) -> tuple[Step, ...]:
        # No BigPanda App Key is involved: the generic BigPanda steps do not apply.
        return self.uninstall_steps

    def warnings(self, values: Mapping[str, str]) -> list[str]:
        found: list[str] = []
        for name in ("trigger_url", "outage_url", "clear_url"):
            if values.get(name):
                found += trigger_url_warnings(values[name])
        return found

    def final_notes(self, values: Mapping[str, str]) -> list[str]:
        notes = ["Add the webhook to a Notification Schedule in Panopta, or nothing is sent."]
        if is_v11(values) and not values.get("clear_url"):
            notes.append("No clear URL: xMatters events will not end when Panopta clears.")
        return notes

    def raw_payload(self, values: Mapping[str, str], kind: str) -> dict[str, Any]:
        template: dict[str, Any] = json.loads(values.get("payload") or json.dumps(DEFAULT_PAYLOAD))
        body: dict[str, Any] = {"event": kind, **template}
        target = target_value(values.get("target", "")) if is_v11(values) else None
        if target is not None:
            body["target"] = target
        return body

    def postback_url(self, values: Mapping[str, str], kind: str) -> str | None:
        """Where Panopta posts an outage or a clear (None: clears are not sent)."""
        if is_workflow(values):
            recipients = parse_recipients(values.get("recipients", ""))
            return with_recipients(values["trigger_url"], recipients)
        return values.get(f"{kind}_url") or None

    def webhook(self, values: Mapping[str, str]) -> Webhook:
        url = self.postback_url(values, "outage")
        if url is None:  # a v1.1 install without its outage URL (hand-edited settings)
            raise KeyError("outage_url")
        return Webhook(url, {})

    paste_target = "Panopta"

    def paste(self, values: Mapping[str, str]) -> list[PasteItem]:
        """Panopta's webhook form (Settings -> Integrations -> Webhook): method POST, no
        headers, payload type Raw. The workflow takes one webhook for detection and close;
        v1.1 one each, the Clear one with "Same as Outage" unticked."""
        if is_workflow(values):
            hooks = [("outage", "Webhook (Incident Detection and Incident Close; POST, Raw)")]
        else:
            hooks = [("outage", "Outage webhook (method POST, no headers, payload type Raw)")]
            if values.get("clear_url"):
                hooks.append(("clear", "Clear webhook (untick 'Same as Outage'; POST, Raw)"))
        items: list[PasteItem] = []
        for kind, group in hooks:
            url = self.postback_url(values, kind)
            if url is None:
                raise KeyError(f"{kind}_url")
            secret = bool(split_url_secrets(url)[1]) or has_masked_secret(url)
            items.append(PasteItem(f"{kind}.url", "Postback URL", url, secret, group))
            payload = self.raw_payload(values, kind)
            items.append(PasteItem(f"{kind}.payload", "Raw payload", payload, group=group))
        return items

    def substituted(self, incident: Mapping[str, Any], kind: str, values: Mapping[str, str]) -> Any:
        """The raw payload as Panopta would fill it for this incident."""
        alerts = incident.get("alerts") or [{}]
        tags = {t.get("name"): t.get("value") for t in alerts[0].get("tags") or []}
        start = int(incident.get("start") or 0)
        now = int(incident.get("updated_at") or start)
        variables = {
            "$outage_id": str(incident.get("id", "")),
            "$fqdn": str(tags.get("host") or "server.example.com"),
            "$name": str(tags.get("host") or "server"),
            "$severity": str(incident.get("status") or "critical"),
            "$timestamp": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "$services": str(tags.get("check") or "ping"),
            "$duration": str(max(0, now - start)),
        }

        def fill(value: Any) -> Any:
            if isinstance(value, str):
                for name, real in sorted(variables.items(), key=lambda kv: -len(kv[0])):
                    value = value.replace(name, real)
                return value
            if isinstance(value, list):
                return [fill(v) for v in value]
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            return value

        return fill(self.raw_payload(values, kind))

    def plan(
        self,
        event: str,
        incident: dict[str, Any],
        body: dict[str, Any],
        values: Mapping[str, str],
        options: SendOptions,
    ) -> list[Planned]:
        if event in OUTAGE_EVENTS:
            kind = "outage"
        elif event == "incident#closed":
            kind = "clear"
        else:
            return [Skipped(self.name, event, "Panopta sends only outage (new, reopen) and clear")]
        url = self.postback_url(values, kind)
        if url is None:
            return [Skipped(self.name, event, "no clear_url is set, so no clear is sent")]
        payload = self.substituted(incident, kind, values)
        if options.test_marker and isinstance(payload, dict):
            payload["name"] = f"[TEST] {payload.get('name', '')}".strip()
            payload["bp_integrate_test"] = True
        return [
            PlannedRequest(
                self.name,
                event,
                "POST",
                url,
                {"Content-Type": "application/json"},
                payload,
                response_id_key="requestId",
                label=kind,
            )
        ]


INTEGRATION = Panopta()
