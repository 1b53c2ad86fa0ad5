"""Panopta (FortiMonitor) -> xMatters: Panopta's outage and clear webhooks notify xMatters.

The direction differs from the others (Panopta is the source), but the install has
the same shape: values copied from xMatters, pasted into Panopta. Two setups, as
xMatters documents them: `workflow` (today's Panopta workflow template: one trigger URL
with its recipients, for both detection and close) and `v1.1` (the legacy communication
plan: two inbound integrations, Outage and Clear).

What `show` tells the admin to paste and what a test sends come from one place,
`Panopta.hooks`: each webhook as configured in Panopta (its URL, the Panopta triggers it
fires on, its Raw payload). A test plays the trigger Panopta would fire for the event and
sends that webhook's payload, filled as Panopta fills it, to that webhook's URL. With
`workflow` one webhook, and so one payload, serves Incident Detection and Incident Close:
a test of a close sends the same template as a detection, as Panopta does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
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
SETUPS = ("workflow", "v1.1")

#: Panopta's webhook triggers [C: the names in xMatters' current Panopta page].
DETECTION, CLOSE = "Incident Detection", "Incident Close"
#: The Panopta trigger a BigPanda-style test event plays [G: our mapping]; Panopta has no
#: update, so every other event is skipped.
TRIGGER_OF_EVENT: dict[str, str] = {
    "incident#new": DETECTION,
    "incident#reopen": DETECTION,
    "incident#closed": CLOSE,
}
#: Panopta's webhook form, both setups: method POST, payload type Raw, no header added by
#: the admin [C]. Content-Type is what any JSON request carries, not a pasted header [G for
#: the exact value Panopta sends].
METHOD = "POST"
SENT_HEADERS: dict[str, str] = {"Content-Type": "application/json"}


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


@dataclass(frozen=True)
class PanoptaHook:
    """One webhook as the admin configures it in Panopta: what `show` says to paste, and
    what a test sends when Panopta fires one of its `triggers` (one source for both)."""

    #: Paste keys are `<key>.url` and `<key>.payload` (`outage`, `clear`).
    key: str
    #: The heading `show` prints above its values.
    group: str
    #: The Panopta triggers it fires on (DETECTION, CLOSE).
    triggers: tuple[str, ...]
    #: The Postback URL.
    url: str
    #: The Raw payload, its Panopta variables ($fqdn...) not yet filled.
    payload: dict[str, Any]


def panopta_variables(incident: Mapping[str, Any]) -> dict[str, str]:
    """What Panopta's variables stand for, for a simulated BigPanda-style incident [G: the
    mapping is ours; Panopta fills them from its own outage]."""
    alerts = incident.get("alerts") or [{}]
    tags = {t.get("name"): t.get("value") for t in alerts[0].get("tags") or []}
    start = int(incident.get("start") or 0)
    now = int(incident.get("updated_at") or start)
    return {
        "$outage_id": str(incident.get("id", "")),
        "$fqdn": str(tags.get("host") or "server.example.com"),
        "$name": str(tags.get("host") or "server"),
        # The outage's severity, which a close does not lower (BigPanda's `severity`: the
        # highest status reached), rather than the `ok` of a closed incident's status.
        "$severity": str(incident.get("severity") or incident.get("status") or "critical"),
        "$timestamp": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "$services": str(tags.get("check") or "ping"),
        "$duration": str(max(0, now - start)),
    }


def fill(template: Any, variables: Mapping[str, str]) -> Any:
    """The payload template with each `$variable` in its strings replaced, as Panopta
    replaces them (longest name first, so `$name` does not eat `$name_x`); a name Panopta
    would not know is left as written."""
    if isinstance(template, str):
        for name, real in sorted(variables.items(), key=lambda kv: -len(kv[0])):
            template = template.replace(name, real)
        return template
    if isinstance(template, list):
        return [fill(v, variables) for v in template]
    if isinstance(template, dict):
        return {k: fill(v, variables) for k, v in template.items()}
    return template


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
            "URL and Raw payload as shown below; no headers. Panopta sends this one payload "
            "on detection and on close. Then add it to a Notification Schedule, and test it "
            "with Panopta's Outage Simulator.",
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
            "Settings -> Integrations -> the xMatters webhook -> Delete.",
            checkpoint=True,
            when=is_workflow,
        ),
        Step(
            "Panopta",
            "Delete the webhook",
            "Configuration -> Integrations -> the webhook -> Delete.",
            checkpoint=True,
            when=is_v11,
        ),
        Step(
            "xMatters",
            "Disable or remove the Panopta workflow",
            "Workflows -> the Panopta workflow -> disable it (or delete it), so its trigger "
            "URL starts no more flows. Deleting removes no events already created.",
            checkpoint=True,
            confidence="G",
            when=is_workflow,
        ),
        Step(
            "xMatters",
            "Disable the inbound integrations",
            "Workflows -> the Panopta plan -> disable (or delete) the plan and its "
            "integration user. Deleting removes no events already created.",
            checkpoint=True,
            when=is_v11,
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

    def template(self, values: Mapping[str, str]) -> dict[str, Any]:
        """The `payload` setting: the Raw payload's fields, Panopta variables unfilled."""
        found: dict[str, Any] = json.loads(values.get("payload") or json.dumps(DEFAULT_PAYLOAD))
        return found

    def hooks(self, values: Mapping[str, str]) -> list[PanoptaHook]:
        """The webhooks the admin configures in Panopta, in the order `show` lists them.

        `workflow`: one webhook for Incident Detection and Incident Close, its Raw payload
        the `payload` setting as is (the Configuration Payload xMatters shows [C]): Panopta
        sends that same template on both triggers, so nothing is added to it that would be
        true of only one (an `"event": "outage"` would be sent on every close too).
        `v1.1`: the Outage webhook (Incident Detection) and, with a clear URL, the Clear one
        (Incident Close; "Same as Outage" unticked [C]), each payload naming its event and
        the `target` (the Clear Event form reads `target` too [C])."""
        template = self.template(values)
        if is_workflow(values):
            recipients = parse_recipients(values.get("recipients", ""))
            url = with_recipients(values["trigger_url"], recipients)
            group = f"Webhook ({DETECTION} and {CLOSE}; {METHOD}, Raw)"
            return [PanoptaHook("outage", group, (DETECTION, CLOSE), url, template)]
        if not values.get("outage_url"):  # a v1.1 install without it (hand-edited settings)
            raise KeyError("outage_url")
        target = target_value(values.get("target", ""))
        extra: dict[str, Any] = {} if target is None else {"target": target}
        found = [
            PanoptaHook(
                "outage",
                f"Outage webhook (method {METHOD}, no headers, payload type Raw)",
                (DETECTION,),
                values["outage_url"],
                {"event": "outage", **template, **extra},
            )
        ]
        if values.get("clear_url"):
            found.append(
                PanoptaHook(
                    "clear",
                    f"Clear webhook (untick 'Same as Outage'; {METHOD}, Raw)",
                    (CLOSE,),
                    values["clear_url"],
                    {"event": "clear", **template, **extra},
                )
            )
        return found

    def hook_for(self, values: Mapping[str, str], trigger: str) -> PanoptaHook | None:
        """The webhook Panopta fires on `trigger` (None: none is configured for it)."""
        return next((h for h in self.hooks(values) if trigger in h.triggers), None)

    def webhook(self, values: Mapping[str, str]) -> Webhook:
        return Webhook(self.hooks(values)[0].url, {})

    paste_target = "Panopta"

    def paste(self, values: Mapping[str, str]) -> list[PasteItem]:
        """Panopta's webhook form (Settings -> Integrations -> Webhook): method POST, no
        headers, payload type Raw; one group of values per webhook (`hooks`)."""
        items: list[PasteItem] = []
        for hook in self.hooks(values):
            secret = bool(split_url_secrets(hook.url)[1]) or has_masked_secret(hook.url)
            items.append(PasteItem(f"{hook.key}.url", "Postback URL", hook.url, secret, hook.group))
            items.append(
                PasteItem(f"{hook.key}.payload", "Raw payload", hook.payload, group=hook.group)
            )
        return items

    def plan(
        self,
        event: str,
        incident: dict[str, Any],
        body: dict[str, Any],
        values: Mapping[str, str],
        options: SendOptions,
    ) -> list[Planned]:
        """What Panopta sends when it fires the trigger `event` stands for: the webhook
        `show` says to configure for that trigger, its payload filled for this incident."""
        trigger = TRIGGER_OF_EVENT.get(event)
        if trigger is None:
            return [Skipped(self.name, event, "Panopta sends only outage (new, reopen) and clear")]
        hook = self.hook_for(values, trigger)
        if hook is None:
            return [Skipped(self.name, event, "no clear_url is set, so no clear is sent")]
        payload = fill(hook.payload, panopta_variables(incident))
        if options.test_marker and isinstance(payload, dict):
            payload["name"] = f"[TEST] {payload.get('name', '')}".strip()
            payload["bp_integrate_test"] = True
        # v1.1: the webhook's name (outage, clear); workflow: the trigger, as one webhook
        # serves both.
        label = hook.key if len(hook.triggers) == 1 else trigger.removeprefix("Incident ").lower()
        return [
            PlannedRequest(
                self.name,
                event,
                METHOD,
                hook.url,
                dict(SENT_HEADERS),
                payload,
                response_id_key="requestId",
                label=label,
            )
        ]


INTEGRATION = Panopta()
