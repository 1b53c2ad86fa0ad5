"""Panopta (FortiMonitor) -> xMatters: Panopta's outage and clear webhooks notify xMatters.

The direction differs from the others (Panopta is the source), but the install has
the same shape: values copied from xMatters, pasted into Panopta.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

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
from bp_integrate.urls import has_masked_secret, parse_recipients, split_url_secrets

#: Panopta variables in the raw payload. timestamp, services, duration and fqdn are
#: documented [C]; the other names are our reconstruction [G] (override: `payload`).
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
            "outage_url",
            "xMatters 'Panopta Outage Event' inbound integration URL",
            "Log in to xMatters as the integration user -> Workflows -> the Panopta plan -> "
            "Flows/Integration Builder -> Panopta Outage Event -> copy the URL.",
            check=check_trigger_url,
            url_with_secrets=True,
        ),
        Field(
            "clear_url",
            "xMatters 'Panopta Clear Event' inbound integration URL (optional)",
            "Same place, the Panopta Clear Event integration. Without it, clears are not sent.",
            required=False,
            check=check_trigger_url,
            url_with_secrets=True,
        ),
        Field(
            "target",
            "xMatters target: a user or group name, or several comma-separated (optional)",
            "Sent as the payload's 'target'. With no recipient in the xMatters form and no "
            "target, xMatters creates no event.",
            required=False,
            list_value=True,
            check=check_name_list,
        ),
        Field(
            "payload",
            "Raw payload template (JSON)",
            "Panopta variables per field; only $timestamp, $services, $duration and $fqdn "
            "are confirmed, the rest is our reconstruction [G].",
            default=json.dumps(DEFAULT_PAYLOAD, separators=(",", ":")),
            check=check_payload,
            multiline=True,
            confidence="G",
        ),
    )

    install_steps: ClassVar[tuple[Step, ...]] = (
        Step(
            "xMatters",
            "Create the integration user",
            "Users -> Add: a user with the REST Web Service User role (the inbound "
            "integrations authenticate as this user).",
            checkpoint=True,
        ),
        Step(
            "xMatters",
            "Import the Panopta communication plan",
            "Workflows -> Import -> the Panopta plan file. Give the integration user access "
            "and sender permissions on both forms (Panopta Outage Event and Panopta Clear "
            "Event), and set the forms' recipients. Response callbacks are off by default.",
            checkpoint=True,
        ),
        Step(
            "xMatters",
            "Copy the inbound integration URLs",
            "Log in as the integration user; open each inbound integration (Outage, Clear) "
            "and copy its URL (URL authentication is the plan's default).",
            asks=("outage_url", "clear_url", "target", "payload"),
        ),
        Step(
            "Panopta",
            "Install the webhook: outage",
            "Configuration -> Integrations -> Webhook -> Install. Label it; Outage webhook: "
            "method POST, Postback URL = the outage URL below, no headers, payload type Raw, "
            "and the raw JSON payload below.",
            checkpoint=True,
            shows_paste=True,
        ),
        Step(
            "Panopta",
            "Install the webhook: clear",
            "Untick 'Same as Outage' and repeat with the clear URL and clear payload below. "
            "Then add the webhook to a Notification Schedule, and test it with Panopta's "
            "Outage Simulator.",
            checkpoint=True,
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
        found = trigger_url_warnings(values.get("outage_url", ""))
        if values.get("clear_url"):
            found += trigger_url_warnings(values["clear_url"])
        return found

    def final_notes(self, values: Mapping[str, str]) -> list[str]:
        notes = ["Add the webhook to a Notification Schedule in Panopta, or nothing is sent."]
        if not values.get("clear_url"):
            notes.append("No clear URL: xMatters events will not end when Panopta clears.")
        return notes

    def raw_payload(self, values: Mapping[str, str], kind: str) -> dict[str, Any]:
        template: dict[str, Any] = json.loads(values.get("payload") or json.dumps(DEFAULT_PAYLOAD))
        body: dict[str, Any] = {"event": kind, **template}
        target = target_value(values.get("target", ""))
        if target is not None:
            body["target"] = target
        return body

    def webhook(self, values: Mapping[str, str]) -> Webhook:
        return Webhook(values["outage_url"], {})

    paste_target = "Panopta"

    def paste(self, values: Mapping[str, str]) -> list[PasteItem]:
        """Panopta's webhook form (Configuration -> Integrations -> Webhook): method POST,
        no headers, payload type Raw; the Clear webhook unticks "Same as Outage"."""
        items: list[PasteItem] = []
        hooks = [("outage", "Outage webhook (method POST, no headers, payload type Raw)")]
        if values.get("clear_url"):
            hooks.append(("clear", "Clear webhook (untick 'Same as Outage'; POST, Raw)"))
        for kind, group in hooks:
            url = values[f"{kind}_url"]
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
            kind, url = "outage", values["outage_url"]
        elif event == "incident#closed":
            if not values.get("clear_url"):
                return [Skipped(self.name, event, "no clear_url is set, so no clear is sent")]
            kind, url = "clear", values["clear_url"]
        else:
            return [Skipped(self.name, event, "Panopta sends only outage (new, reopen) and clear")]
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
