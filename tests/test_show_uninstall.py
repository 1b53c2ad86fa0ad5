"""`show` (what to paste, masked unless asked) and `uninstall` (the ordered checklist)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import PD_KEY, XM_URL, MemoryKeyring, invoke, pasted
from typer.testing import CliRunner

TTY = {"BP_INTEGRATE_ASSUME_TTY": "1"}
SERVICE = "bp-integrate"
IO_URL = "https://api.incident.io/v2/alert_events/bigpanda/01J0BPDEM0S0VRCE0000000000"
CLEAR_URL = XM_URL.replace("0f6c8e8a", "1f6c8e8a")


def install(runner: CliRunner, *args: str, **env: str) -> None:
    result = invoke(runner, "install", *args, "--no-input", **env)
    assert result.exit_code == 0, result.stderr


def show(runner: CliRunner, *args: str) -> dict[str, Any]:
    result = invoke(runner, "show", *args, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # JSON mode: nothing else anywhere
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.fixture
def xmatters_basic(runner: CliRunner, memory_keyring: MemoryKeyring) -> None:
    install(
        runner,
        "xmatters",
        "--set",
        f"trigger_url={XM_URL}?apiKey=****&recipients=jdoe",
        "--set",
        "auth=basic",
        "--set",
        "username=José",
        "--set",
        "recipients=Cloud Devops",
        BP_INTEGRATE_XMATTERS_PASSWORD="pässword",
        BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY="k3y",
        BP_INTEGRATE_XMATTERS_APP_KEY="appk",
    )


# ---------------------------------------------------------------------- show
def test_show_json_masks_secrets(runner: CliRunner, xmatters_basic: None) -> None:
    doc = show(runner, "xmatters")
    assert doc["integration"] == "xmatters"
    assert doc["profile"] == "default"
    assert doc["webhook"] == {
        "url": f"{XM_URL}?apiKey=****&recipients=jdoe,Cloud%20Devops",
        "headers": {"Content-Type": "application/json", "Authorization": "Basic ****"},
    }
    assert doc["settings"] == {
        "app_key": "****",
        "trigger_url": f"{XM_URL}?apiKey=****&recipients=jdoe",
        "auth": "basic",
        "username": "José",
        "password": "****",
        "recipients": "Cloud Devops",
    }
    assert doc["secret_store"] == "keyring"
    assert "k3y" not in json.dumps(doc) and "pässword" not in json.dumps(doc)


def test_show_secrets_gives_the_exact_values(runner: CliRunner, xmatters_basic: None) -> None:
    doc = show(runner, "xmatters", "--show-secrets")
    assert doc["webhook"] == {
        "url": f"{XM_URL}?apiKey=k3y&recipients=jdoe,Cloud%20Devops",
        # base64(UTF-8 "José:pässword")
        "headers": {
            "Content-Type": "application/json",
            "Authorization": "Basic Sm9zw6k6cMOkc3N3b3Jk",
        },
    }
    assert doc["settings"]["password"] == "pässword"
    assert doc["settings"]["app_key"] == "appk"


def test_show_text_is_the_paste_block(runner: CliRunner, xmatters_basic: None) -> None:
    result = invoke(runner, "show", "xmatters")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:9] == [
        "xMatters (profile default): paste into BigPanda",
        "",
        "Callback URL:",
        f"{XM_URL}?apiKey=****&recipients=jdoe,Cloud%20Devops",
        "",
        "Header name:",
        "Authorization",
        "Header value:",
        "Basic ****",
    ]
    # The AutoShare reminder is said at the install, not at every show.
    assert "AutoShare" not in result.stderr
    result = invoke(runner, "show", "xmatters", "--show-secrets")
    assert "Basic Sm9zw6k6cMOkc3N3b3Jk" in result.stdout.splitlines()


def test_show_field_prints_one_value_alone(runner: CliRunner, xmatters_basic: None) -> None:
    result = invoke(runner, "show", "xmatters", "--field", "header:Authorization", "--show-secrets")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Basic Sm9zw6k6cMOkc3N3b3Jk\n"
    url = invoke(runner, "show", "xmatters", "--field", "url")
    assert url.stdout == f"{XM_URL}?apiKey=****&recipients=jdoe,Cloud%20Devops\n"
    assert "--show-secrets" in url.stderr  # it says how to see the masked key
    assert invoke(runner, "show", "xmatters", "--field", "username").stdout == "José\n"
    bad = invoke(runner, "show", "xmatters", "--field", "ulr")
    assert bad.exit_code == 2 and "Did you mean 'url'?" in bad.stderr


def test_show_pagerduty_and_incidentio(runner: CliRunner, memory_keyring: MemoryKeyring) -> None:
    install(
        runner,
        "pagerduty",
        "--set",
        "override_tag=pd_key",
        "--set",
        "field_map=component=service",
        BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=PD_KEY,
    )
    doc = show(runner, "pagerduty")
    assert doc["webhook"] == {
        "url": "https://events.pagerduty.com/v2/enqueue",
        "headers": {"x-bp-config-pdfield": "pd_key", "x-bp-field-component": "service"},
    }
    assert doc["settings"]["integration_key"] == "****"
    assert show(runner, "pagerduty", "--show-secrets")["settings"]["integration_key"] == PD_KEY
    install(
        runner, "incidentio", "--set", f"callback_url={IO_URL}", BP_INTEGRATE_INCIDENTIO_SECRET="sh"
    )
    assert show(runner, "incidentio")["webhook"]["headers"]["Authorization"] == "Bearer ****"
    doc = show(runner, "incidentio", "--show-secrets")
    assert doc["webhook"] == {
        "url": IO_URL,
        "headers": {"Content-Type": "application/json", "Authorization": "Bearer sh"},
    }


def test_show_panopta_raw_payloads(runner: CliRunner, memory_keyring: MemoryKeyring) -> None:
    install(
        runner,
        "panopta",
        "--set",
        f"outage_url={XM_URL}?apiKey=****",
        "--set",
        f"clear_url={CLEAR_URL}?apiKey=****",
        "--set",
        "target=Ops Team",
        BP_INTEGRATE_PANOPTA_OUTAGE_URL_APIKEY="ok",
        BP_INTEGRATE_PANOPTA_CLEAR_URL_APIKEY="ck",
    )
    doc = show(runner, "panopta")
    variables = {
        "outage_id": "$outage_id",
        "fqdn": "$fqdn",
        "name": "$name",
        "severity": "$severity",
        "timestamp": "$timestamp",
        "services": "$services",
        "duration": "$duration",
    }
    assert doc["paste_into"] == "Panopta"
    assert pasted(doc, "outage.url") == f"{XM_URL}?apiKey=****"
    assert pasted(doc, "outage.payload") == {"event": "outage", **variables, "target": "Ops Team"}
    assert pasted(doc, "clear.url") == f"{CLEAR_URL}?apiKey=****"
    assert pasted(doc, "clear.payload") == {"event": "clear", **variables, "target": "Ops Team"}
    full = show(runner, "panopta", "--show-secrets")
    assert pasted(full, "outage.url") == f"{XM_URL}?apiKey=ok"
    assert pasted(full, "clear.url") == f"{CLEAR_URL}?apiKey=ck"
    # several targets -> an array
    install(runner, "panopta", "--set", "target=ops, dba")
    payload = pasted(show(runner, "panopta"), "outage.payload")
    assert payload["target"] == ["ops", "dba"]
    text = invoke(runner, "show", "panopta").stdout
    assert "\nOutage webhook (method POST, no headers, payload type Raw):\n" in text
    assert f"Postback URL:\n{XM_URL}?apiKey=****\n" in text
    assert "\nClear webhook (untick 'Same as Outage'; POST, Raw):\n" in text
    assert text.count(f"{XM_URL}?apiKey=****") == 2  # the webhook, and settings.outage_url
    assert '\n  "event": "clear",\n' in text
    one = invoke(runner, "show", "panopta", "--field", "payload").stdout
    assert json.loads(one) == payload


def test_show_not_installed(runner: CliRunner, memory_keyring: MemoryKeyring) -> None:
    result = invoke(runner, "show", "pagerduty")
    assert result.exit_code == 3
    assert "PagerDuty is not installed in profile 'default'." in result.stderr
    assert "Run: bp-integrate --profile default install pagerduty" in result.stderr
    assert "Traceback" not in result.stderr


def test_show_secrets_when_a_secret_went_missing(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    install(runner, "pagerduty", BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=PD_KEY)
    memory_keyring.entries.clear()
    result = invoke(runner, "show", "pagerduty", "--show-secrets")
    assert result.exit_code == 4
    assert "The secret 'integration_key' of PagerDuty" in result.stderr
    assert "BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY" in result.stderr
    # masked show still works, and a re-install asks for the lost secret only
    assert invoke(runner, "show", "pagerduty").exit_code == 0
    result = invoke(runner, "install", "pagerduty", "--no-input")
    assert result.exit_code == 2
    assert "No value for pagerduty.integration_key" in result.stderr


def test_show_says_a_secret_missing_from_the_store_is_not_set(
    runner: CliRunner, xmatters_basic: None, memory_keyring: MemoryKeyring
) -> None:
    """A secret the install lists but the store lost is not `****` as if it were there:
    what it goes into is not set (null and `missing` in JSON); the others stay masked."""
    assert show(runner, "xmatters")["missing_secrets"] == []
    del memory_keyring.entries[(SERVICE, "default/xmatters/password")]

    doc = show(runner, "xmatters")
    [header] = [i for i in doc["paste"] if i["key"] == "header:Authorization"]
    assert header["value"] is None and header["missing"] is True
    [url] = [i for i in doc["paste"] if i["key"] == "url"]  # its key is still stored
    assert url["value"] == f"{XM_URL}?apiKey=****&recipients=jdoe,Cloud%20Devops"
    assert url["missing"] is False
    assert doc["webhook"]["headers"]["Authorization"] is None
    assert doc["webhook"]["url"] == url["value"]
    assert doc["settings"]["password"] is None
    assert doc["settings"]["app_key"] == "****"  # present: masked as before
    [missing] = doc["missing_secrets"]
    assert missing["field"] == "password"
    assert missing["message"] == (
        "The secret 'password' of xMatters (profile 'default') is not in the keyring store."
    )
    assert "bp-integrate --profile default set xmatters password --stdin" in missing["hint"]

    result = invoke(runner, "show", "xmatters")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[5:9] == ["Header name:", "Authorization", "Header value:", "(not set)"]
    assert "  password: (not set)" in lines
    assert "  app_key: ****" in lines
    assert "****" not in lines[8]
    stderr = " ".join(result.stderr.split())
    assert "warning: The secret 'password' of xMatters (profile 'default') is not in the " in (
        stderr
    )
    assert "bp-integrate --profile default set xmatters password --stdin" in stderr
    # One value alone: the secret's error, as --show-secrets gives it (exit 4).
    one = invoke(runner, "show", "xmatters", "--field", "header:Authorization")
    assert one.exit_code == 4 and one.stdout == ""
    assert "The secret 'password' of xMatters" in one.stderr
    assert invoke(runner, "show", "xmatters", "--field", "url").exit_code == 0


def test_show_says_a_url_key_missing_from_the_store_is_not_set(
    runner: CliRunner, xmatters_basic: None, memory_keyring: MemoryKeyring
) -> None:
    del memory_keyring.entries[(SERVICE, "default/xmatters/trigger_url.apiKey")]
    doc = show(runner, "xmatters")
    assert pasted(doc, "url") is None and doc["webhook"]["url"] is None
    assert doc["settings"]["trigger_url"] is None
    assert pasted(doc, "header:Authorization") == "Basic ****"  # the password is there
    assert [m["field"] for m in doc["missing_secrets"]] == ["trigger_url.apiKey"]
    assert "Callback URL:\n(not set)\n" in invoke(runner, "show", "xmatters").stdout


def test_show_says_an_unset_variable_of_the_env_store_is_not_set(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    install(
        runner, "pagerduty", "--secret-store", "env", BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=PD_KEY
    )
    doc = show(runner, "pagerduty")  # the variable is not set here
    assert pasted(doc, "integration_key") is None
    [missing] = doc["missing_secrets"]
    said = missing["message"]
    assert "is not set in the environment (BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY)" in said
    result = invoke(runner, "show", "pagerduty", BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=PD_KEY)
    assert "Integration key:\n****\n" in result.stdout and result.stderr == ""


# ------------------------------------------------------------------ uninstall
XM_UNINSTALL = [
    "Step 1/4 - BigPanda: Replacing it? Configure the new integration first",
    "Step 2/4 - xMatters: Disable or remove the BigPanda workflow in xMatters",
    "Step 3/4 - BigPanda: Stop sending",
    "Step 4/4 - BigPanda: Delete the integration in BigPanda",
]


def steps(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Step ")]


def test_uninstall_interactive_checklist_in_order(
    runner: CliRunner, xmatters_basic: None, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    # not replacing it (n): step 1 asks nothing more; then each step done (y)
    result = invoke(runner, "uninstall", "xmatters", input="n\ny\ny\ny\ny\n", **TTY)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("Uninstalling xMatters from profile 'default'.\n")
    assert steps(result.stderr) == XM_UNINSTALL
    assert result.stderr.count("Is another integration replacing this one? [y/N]") == 1
    assert result.stderr.count("Done? [y/N]") == 3
    assert "Remove xMatters's settings and stored secrets from profile 'default'? [y/N]" in (
        result.stderr
    )
    assert [line for line in result.stdout.splitlines() if line.startswith("  - ")] == [
        f"  - settings of xmatters in profile 'default' ({isolated / 'config.yaml'})",
        "  - keyring entry default/xmatters/app_key (service bp-integrate)",
        "  - keyring entry default/xmatters/password (service bp-integrate)",
        "  - keyring entry default/xmatters/trigger_url.apiKey (service bp-integrate)",
    ]
    assert memory_keyring.entries == {}
    assert "xmatters" not in (isolated / "config.yaml").read_text(encoding="utf-8")
    listing = json.loads(invoke(runner, "list", "--json").stdout)
    assert not any(r["installed"] for r in listing["integrations"])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "pagerduty",
            [
                "BigPanda: Replacing it? Configure the new integration first",
                "PagerDuty: Resolve open incidents from the integration",
                "BigPanda: Stop sending",
                "PagerDuty: Delete the BigPanda integration on the service",
                "BigPanda: Delete the integration in BigPanda",
            ],
        ),
        (
            "incidentio",
            [
                "BigPanda: Replacing it? Configure the new integration first",
                "BigPanda: Stop sending",
                "incident.io: Remove the BigPanda alert source",
                "incident.io: Disconnect BigPanda",
                "BigPanda: Revoke the service account's API key",
                "BigPanda: Delete the integration in BigPanda",
            ],
        ),
        (
            "panopta",
            [
                "Panopta: Stop sending",
                "Panopta: Delete the webhook",
                "xMatters: Disable the inbound integrations",
            ],
        ),
    ],
)
def test_uninstall_yes_json_lists_steps_and_removals(
    runner: CliRunner, memory_keyring: MemoryKeyring, name: str, expected: list[str]
) -> None:
    env = {
        "BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY": PD_KEY,
        "BP_INTEGRATE_INCIDENTIO_SECRET": "s",
        "BP_INTEGRATE_INCIDENTIO_CALLBACK_URL": IO_URL,
        "BP_INTEGRATE_PANOPTA_OUTAGE_URL": XM_URL + "?apiKey=outage-key",
    }
    install(runner, name, "--no-verify", **env)
    result = invoke(runner, "uninstall", name, "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["steps"] == expected
    assert doc["installed"] is True
    assert doc["removed"][0].startswith(f"settings of {name} in profile 'default'")
    assert memory_keyring.entries == {}
    # again: not installed, says so, exit 0
    again = invoke(runner, "uninstall", name, "--yes")
    assert again.exit_code == 0
    assert "is not installed in profile 'default': nothing to do." in again.stderr
    doc = json.loads(invoke(runner, "uninstall", name, "--json").stdout)
    assert doc == {"integration": name, "profile": "default", "installed": False, "removed": []}


def test_webhook_uninstall_says_what_deleting_an_outbound_webhook_does(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    """The generic webhook only posts out of BigPanda: its last step says so, not that
    "the other system's traffic to BigPanda is rejected" (there is none)."""
    install(runner, "webhook", "--set", "url=https://hooks.example.com/bigpanda")
    result = invoke(runner, "uninstall", "webhook", "--no-input")
    last = result.stderr[result.stderr.index("Step 4/4 - ") :].splitlines()[:2]
    assert last == [
        "Step 4/4 - BigPanda: Delete the integration in BigPanda",
        "  Integrations -> the integration -> trash icon. The webhook only posts from BigPanda "
        "to the receiver (nothing sends to BigPanda with its App Key), so deleting it ends "
        "those posts and nothing else. Deleting removes no data from BigPanda or the "
        "receiver; remove old incidents there by hand if you need to.",
    ]


def test_uninstall_without_terminal_or_yes_is_refused(
    runner: CliRunner, xmatters_basic: None, memory_keyring: MemoryKeyring
) -> None:
    before = dict(memory_keyring.entries)
    result = invoke(runner, "uninstall", "xmatters")
    assert result.exit_code == 2
    assert "needs each step confirmed" in result.stderr
    assert "bp-integrate uninstall xmatters --yes" in result.stderr
    assert memory_keyring.entries == before
    assert "Traceback" not in result.stderr


def test_uninstall_interrupted_removes_nothing(
    runner: CliRunner, xmatters_basic: None, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    before = (isolated / "config.yaml").read_bytes()
    keys = dict(memory_keyring.entries)
    result = invoke(runner, "uninstall", "xmatters", input="y\ny\n", **TTY)
    assert result.exit_code == 130
    assert (isolated / "config.yaml").read_bytes() == before
    assert memory_keyring.entries == keys


def test_uninstall_not_installed_text(runner: CliRunner) -> None:
    result = invoke(runner, "uninstall", "panopta")
    assert result.exit_code == 0
    assert result.stderr.strip() == (
        "Panopta -> xMatters is not installed in profile 'default': nothing to do."
    )


def test_uninstall_env_and_file_stores(
    runner: CliRunner, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    install(
        runner, "pagerduty", "--secret-store", "env", BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=PD_KEY
    )
    result = invoke(runner, "uninstall", "pagerduty", "--yes")
    assert result.exit_code == 0
    assert "not removed: BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY (an environment variable" in (
        result.stderr
    )
    install(
        runner, "pagerduty", "--insecure-storage", BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=PD_KEY
    )
    secrets_file = isolated / "INSECURE-plaintext-secrets.json"
    assert PD_KEY in secrets_file.read_text(encoding="utf-8")
    result = invoke(runner, "uninstall", "pagerduty", "--yes")
    assert result.exit_code == 0
    assert (
        f"  - entry in {secrets_file} default/pagerduty/integration_key"
        in result.stdout.splitlines()
    )
    assert PD_KEY not in secrets_file.read_text(encoding="utf-8")
