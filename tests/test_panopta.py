"""Panopta -> xMatters: a test sends exactly what the pasted webhook makes Panopta send.

`show` says what to configure in Panopta (Postback URL, Raw payload); `send-test` plays
Panopta firing that webhook. Both read `Panopta.hooks`, and these tests hold the dry run
to the paste, per setup and per Panopta trigger (a test that could pass while the real
chain cannot, a clear Panopta never sends, proves nothing):

- `workflow`: one webhook, one payload, for Incident Detection and Incident Close, so a
  test of a close sends the same template, to the same URL, as a detection;
- `v1.1`: the Outage webhook on detection, the Clear webhook (its own URL and payload) on
  close, and no close at all without a clear URL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import XM_URL, MemoryKeyring, invoke, pasted
from typer.testing import CliRunner

from bp_integrate.integrations.base import PlannedRequest, SendOptions
from bp_integrate.integrations.panopta import CLOSE, DETECTION, INTEGRATION, fill

CLEAR_URL = XM_URL.replace("0f6c8e8a", "1f6c8e8a")

#: A BigPanda-style incident given to `send-test --payload`, so the dry run's values are
#: known: what Panopta's variables become for it [G: our mapping, docs/panopta.md].
INCIDENT: dict[str, Any] = {
    "id": "65f1c0de9a1b2c3d4e5f6a7b",
    "status": "ok",
    "severity": "critical",
    "start": 1714557600,
    "updated_at": 1714557900,
    "alerts": [
        {"tags": [{"name": "host", "value": "db-1.example.com"}, {"name": "check", "value": "CPU"}]}
    ],
}
FILLED = {
    "$outage_id": "65f1c0de9a1b2c3d4e5f6a7b",
    "$fqdn": "db-1.example.com",
    "$name": "db-1.example.com",
    "$severity": "critical",
    "$timestamp": "2024-05-01 10:05:00 UTC",
    "$services": "CPU",
    "$duration": "300",
}

WORKFLOW = (
    "--set",
    f"trigger_url={XM_URL}?apiKey=****",
    "--set",
    "recipients=Ops Team",
)
V11 = (
    "--set",
    "setup=v1.1",
    "--set",
    f"outage_url={XM_URL}?apiKey=****",
    "--set",
    f"clear_url={CLEAR_URL}?apiKey=****",
    "--set",
    "target=ops",
)
KEYS = {
    "BP_INTEGRATE_PANOPTA_TRIGGER_URL_APIKEY": "wk",
    "BP_INTEGRATE_PANOPTA_OUTAGE_URL_APIKEY": "ok",
    "BP_INTEGRATE_PANOPTA_CLEAR_URL_APIKEY": "ck",
}
#: The webhook (paste key) Panopta fires for each test event, per setup: the contract.
FIRED = {
    "workflow": {
        "incident#new": "outage",
        "incident#reopen": "outage",
        "incident#closed": "outage",
    },
    "v1.1": {"incident#new": "outage", "incident#reopen": "outage", "incident#closed": "clear"},
}


def install(runner: CliRunner, *args: str) -> None:
    result = invoke(runner, "install", "panopta", "--no-input", "--no-verify", *args, **KEYS)
    assert result.exit_code == 0, result.stderr


def shown(runner: CliRunner) -> dict[str, Any]:
    result = invoke(runner, "show", "panopta", "--json", "--show-secrets")
    assert result.exit_code == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def dry_run(runner: CliRunner, tmp_path: Path, event: str, *extra: str) -> dict[str, Any]:
    body = tmp_path / "incident.json"
    body.write_text(json.dumps({"incident": INCIDENT}))
    args = ("send-test", event, "--to", "panopta", "--dry-run", "--json", "--show-secrets")
    result = invoke(runner, *args, "--payload", str(body), *extra)
    assert result.exit_code == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def one_request(doc: dict[str, Any]) -> dict[str, Any]:
    assert doc["skipped"] == []
    [request] = doc["requests"]
    assert isinstance(request, dict)
    return request


def groups(doc: dict[str, Any]) -> dict[str, str]:
    """Paste key prefix -> the heading `show` prints above that webhook."""
    return {item["key"].partition(".")[0]: item["group"] for item in doc["paste"]}


@pytest.mark.parametrize(("setup", "args"), [("workflow", WORKFLOW), ("v1.1", V11)])
@pytest.mark.parametrize("event", ["incident#new", "incident#reopen", "incident#closed"])
def test_the_dry_run_sends_what_the_pasted_webhook_makes_panopta_send(
    runner: CliRunner,
    memory_keyring: MemoryKeyring,
    tmp_path: Path,
    setup: str,
    args: tuple[str, ...],
    event: str,
) -> None:
    install(runner, *args)
    doc = shown(runner)
    hook = FIRED[setup][event]
    request = one_request(dry_run(runner, tmp_path, event, "--no-test-marker"))
    assert request["method"] == "POST"
    assert "POST" in groups(doc)[hook]  # the method the paste instructions give
    assert request["url"] == pasted(doc, f"{hook}.url")
    assert request["headers"] == {"Content-Type": "application/json"}  # none pasted
    assert request["body"] == fill(pasted(doc, f"{hook}.payload"), FILLED)
    # The test marker is the only difference, and only when asked for (the default).
    marked = one_request(dry_run(runner, tmp_path, event))
    assert marked["body"] == {
        **request["body"],
        "name": f"[TEST] {request['body']['name']}",
        "bp_integrate_test": True,
    }


def test_workflow_close_is_the_one_payload_panopta_sends_on_detection_too(
    runner: CliRunner, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    """The bug: `show` gave one payload (with `"event": "outage"`) for detection and close,
    while the test of a close sent `"event": "clear"`, which real Panopta never does."""
    install(runner, *WORKFLOW)
    doc = shown(runner)
    assert [item["key"] for item in doc["paste"]] == ["outage.url", "outage.payload"]
    assert groups(doc)["outage"] == "Webhook (Incident Detection and Incident Close; POST, Raw)"
    # The Raw payload is the `payload` setting as is: nothing true of only one trigger.
    assert pasted(doc, "outage.payload") == json.loads(doc["settings"]["payload"])
    assert "event" not in pasted(doc, "outage.payload")
    new = one_request(dry_run(runner, tmp_path, "incident#new", "--no-test-marker"))
    closed = one_request(dry_run(runner, tmp_path, "incident#closed", "--no-test-marker"))
    assert (new["label"], closed["label"]) == ("detection", "close")
    assert closed["url"] == new["url"] == f"{XM_URL}?apiKey=wk&recipients=Ops%20Team"
    assert closed["body"] == new["body"]  # the same incident, the same template
    assert "event" not in closed["body"]


def test_workflow_custom_configuration_payload_is_sent_as_pasted(
    runner: CliRunner, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    """xMatters' own Configuration Payload, whatever its shape: filled as Panopta fills it
    (a variable in a longer string, in a nested object, in a list); a name bp-integrate
    does not know is left as written rather than guessed."""
    template = {
        "summary": "$name is down since $timestamp",
        "details": {"host": "$fqdn", "checks": ["$services"], "x": "$unknown_var"},
        "priority": 1,
    }
    install(runner, *WORKFLOW, "--set", "payload=" + json.dumps(template))
    doc = shown(runner)
    assert pasted(doc, "outage.payload") == template
    for event in ("incident#new", "incident#closed"):
        body = one_request(dry_run(runner, tmp_path, event, "--no-test-marker"))["body"]
        assert body == {
            "summary": "db-1.example.com is down since 2024-05-01 10:05:00 UTC",
            "details": {"host": "db-1.example.com", "checks": ["CPU"], "x": "$unknown_var"},
            "priority": 1,
        }


def test_v11_each_trigger_has_its_own_webhook_and_payload(
    runner: CliRunner, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    install(runner, *V11)
    doc = shown(runner)
    assert pasted(doc, "outage.payload")["event"] == "outage"
    assert pasted(doc, "clear.payload")["event"] == "clear"
    assert pasted(doc, "clear.payload")["target"] == "ops"
    new = one_request(dry_run(runner, tmp_path, "incident#new", "--no-test-marker"))
    closed = one_request(dry_run(runner, tmp_path, "incident#closed", "--no-test-marker"))
    assert (new["label"], closed["label"]) == ("outage", "clear")
    assert (new["url"], closed["url"]) == (f"{XM_URL}?apiKey=ok", f"{CLEAR_URL}?apiKey=ck")
    assert (new["body"]["event"], closed["body"]["event"]) == ("outage", "clear")


def test_v11_without_a_clear_url_sends_no_close(
    runner: CliRunner, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    install(runner, *V11[:6], "--set", "clear_url=")
    doc = shown(runner)
    assert not [i for i in doc["paste"] if i["key"].startswith("clear.")]  # nothing pasted
    closed = dry_run(runner, tmp_path, "incident#closed")
    assert closed["requests"] == []
    assert [s["reason"] for s in closed["skipped"]] == ["no clear_url is set, so no clear is sent"]


@pytest.mark.parametrize(
    "values",
    [
        {"setup": "workflow", "trigger_url": f"{XM_URL}?apiKey=k", "recipients": "a, b"},
        {"setup": "v1.1", "outage_url": f"{XM_URL}?apiKey=k", "target": "ops"},
        {
            "setup": "v1.1",
            "outage_url": f"{XM_URL}?apiKey=k",
            "clear_url": f"{CLEAR_URL}?apiKey=c",
            "payload": '{"host":"$fqdn","since":"$duration"}',
        },
    ],
)
def test_paste_and_plan_read_the_same_hooks(values: dict[str, str]) -> None:
    """One source: every webhook `hooks` lists is pasted as is, and the request planned
    for each trigger is that webhook's URL and payload, filled."""
    hooks = INTEGRATION.hooks(values)
    items = {item.key: item for item in INTEGRATION.paste(values)}
    assert set(items) == {f"{h.key}.{part}" for h in hooks for part in ("url", "payload")}
    for hook in hooks:
        assert items[f"{hook.key}.url"].value == hook.url
        assert items[f"{hook.key}.payload"].value == hook.payload
        assert items[f"{hook.key}.url"].group == items[f"{hook.key}.payload"].group == hook.group
    for event, trigger in (("incident#new", DETECTION), ("incident#closed", CLOSE)):
        hook = INTEGRATION.hook_for(values, trigger)
        planned = INTEGRATION.plan(event, INCIDENT, {}, values, SendOptions(test_marker=False))
        if hook is None:
            assert [type(p).__name__ for p in planned] == ["Skipped"]
            continue
        [request] = planned
        assert isinstance(request, PlannedRequest)
        assert (request.method, request.url) == ("POST", hook.url)
        assert request.body == fill(hook.payload, FILLED)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            WORKFLOW,
            [
                "Panopta: Stop sending",
                "Panopta: Delete the webhook",
                "xMatters: Disable or remove the Panopta workflow",
            ],
        ),
        (
            V11,
            [
                "Panopta: Stop sending",
                "Panopta: Delete the webhook",
                "xMatters: Disable the inbound integrations",
            ],
        ),
    ],
)
def test_uninstall_steps_follow_the_setup(
    runner: CliRunner, memory_keyring: MemoryKeyring, args: tuple[str, ...], expected: list[str]
) -> None:
    install(runner, *args)
    result = invoke(runner, "uninstall", "panopta", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["steps"] == expected
