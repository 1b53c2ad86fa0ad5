"""`install` and `list`: the walkthrough as a user runs it, interactive and scripted."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import PD_KEY, XM_URL, MemoryKeyring, invoke, pasted
from typer.testing import CliRunner

from bp_integrate.emulator import EmulatorConfig, EmulatorServer
from bp_integrate.ui import wrapped

TTY = {"BP_INTEGRATE_ASSUME_TTY": "1"}
IO_URL = "https://api.incident.io/v2/alert_events/bigpanda/01J0BPDEM0S0VRCE0000000000"
SERVICE = "bp-integrate"


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def paste_block(stdout: str) -> list[str]:
    """The paste block on stdout (CliRunner echoes typed input before it)."""
    out = lines(stdout)
    start = next(i for i, line in enumerate(out) if "paste into" in line)
    return out[start:]


def no_traceback(result: Any) -> None:
    assert "Traceback" not in result.stdout + result.stderr


def config_text(isolated: Path) -> str:
    return (isolated / "config.yaml").read_text(encoding="utf-8")


def install_json(runner: CliRunner, *args: str, **env: str) -> dict[str, Any]:
    result = invoke(runner, "install", *args, "--no-input", "--json", **env)
    assert result.exit_code == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


# ------------------------------------------------------------------------------ list
def test_list_shows_every_integration_and_installed_status(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    result = invoke(runner, "list", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["profile"] == "default"
    assert [(r["integration"], r["installed"]) for r in doc["integrations"]] == [
        ("xmatters", False),
        ("pagerduty", False),
        ("incidentio", False),
        ("panopta", False),
        ("webhook", False),
        ("webhook_v2", False),
    ]
    install_json(runner, "pagerduty", BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=PD_KEY)
    doc = json.loads(invoke(runner, "list", "--json").stdout)
    installed = {r["integration"]: r["installed"] for r in doc["integrations"]}
    assert installed == {
        "xmatters": False,
        "pagerduty": True,
        "incidentio": False,
        "panopta": False,
        "webhook": False,
        "webhook_v2": False,
    }
    text = invoke(runner, "list")
    assert text.exit_code == 0
    rows = {line.split()[0]: line.split()[1] for line in lines(text.stdout) if line}
    assert rows == {
        "xmatters": "-",
        "pagerduty": "installed",
        "incidentio": "-",
        "panopta": "-",
        "webhook": "-",
        "webhook_v2": "-",
    }
    # another profile sees nothing installed
    other = json.loads(invoke(runner, "--profile", "prod", "list", "--json").stdout)
    assert not any(r["installed"] for r in other["integrations"])


# ------------------------------------------------------------------ interactive
XM_BASIC_INPUT = "\n".join(
    [
        "",  # app_key: Enter skips (optional secret)
        "http://acme.xmatters.com/api/integration/1/functions/x/triggers",  # refused: http
        XM_URL + "?recipients=jdoe",
        "basic",  # auth (default is basic: no apiKey)
        "xm:user",  # refused: ':' in a Basic user-id
        "xm-user",
        "p:ss wörd",  # password (hidden)
        "n",  # checkpoint: back to this step's values, each offered as the default
        "",  # the URL as given
        "",  # auth as given
        "",  # the user as given
        "",  # the password: Enter keeps the one given
        "y",
        "Cloud Devops, jdoe",  # recipients
        "y",  # checkpoint: configured the webhook
    ]
)


def test_xmatters_interactive_basic_auth_every_step_in_order(
    runner: CliRunner, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    result = invoke(
        runner, "install", "xmatters", "--show-secrets", input=XM_BASIC_INPUT + "\n", **TTY
    )
    assert result.exit_code == 0, result.stderr
    err = result.stderr
    steps = [line.strip() for line in lines(err) if line.startswith("Step ")]
    assert steps == [
        "Step 1/4 - BigPanda: Create an App Key for xMatters",
        "Step 2/4 - xMatters: Install the BigPanda workflow",
        "Step 3/4 - BigPanda: Choose who is notified",
        "Step 4/4 - BigPanda: Configure the webhook",
    ]
    # re-asked until valid, with the reason each time
    assert "The xMatters trigger URL must use https, not http (acme.xmatters.com)." in err
    assert "contains ':', which Basic auth cannot carry" in err
    assert err.count("Done with 'Install the BigPanda workflow'?") == 2
    assert "Again, then: Enter keeps each value as you gave it." in err
    assert err.count("Done with 'Configure the webhook'?") == 1
    # the exact settings to paste, then the AutoShare reminder
    # Each value alone on its line from column 0 (copy-ready); no Content-Type to paste.
    assert paste_block(result.stdout)[:9] == [
        "xMatters (profile default): paste into BigPanda",
        "",
        "Callback URL:",
        f"{XM_URL}?recipients=jdoe,Cloud%20Devops",
        "",
        "Header name:",
        "Authorization",
        "Header value:",
        "Basic eG0tdXNlcjpwOnNzIHfDtnJk",
    ]
    assert "Reminder: Create an AutoShare rule for this integration in BigPanda" in err
    assert "incidents that already exist are not shared" in err
    assert memory_keyring.entries == {(SERVICE, "default/xmatters/password"): "p:ss wörd"}
    assert "p:ss wörd" not in config_text(isolated)
    no_traceback(result)


def test_interactive_paste_is_masked_without_a_terminal_and_says_how_to_see_it(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    answers = XM_BASIC_INPUT.rsplit("\n", 1)[0] + "\nn\ny\n"  # "show secrets?" -> no
    result = invoke(runner, "install", "xmatters", input=answers, **TTY)
    assert result.exit_code == 0, result.stderr
    block = paste_block(result.stdout)
    assert block[block.index("Header value:") + 1] == "Basic ****"
    assert "eG0tdXNlcjpwOnNzIHfDtnJk" not in result.stdout + result.stderr
    assert "bp-integrate show xmatters --show-secrets" in result.stderr
    # The values are shown at the paste step, before "Done?", not only at the end.
    shown = result.stderr.index("Header value:\nBasic ****")
    assert shown < result.stderr.index("Done with 'Configure the webhook'?")


def test_walkthrough_reveals_secrets_at_the_paste_step_only_when_asked(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    answers = XM_BASIC_INPUT.rsplit("\n", 1)[0] + "\ny\ny\n"  # "show secrets?" -> yes
    result = invoke(runner, "install", "xmatters", input=answers, **TTY)
    assert result.exit_code == 0, result.stderr
    assert "Show the secret values (****) so you can copy them? [y/N]" in result.stderr
    revealed = result.stderr.index("Header value:\nBasic eG0tdXNlcjpwOnNzIHfDtnJk")
    assert revealed < result.stderr.index("Done with 'Configure the webhook'?")
    # stdout (data, maybe logged) stays masked without --show-secrets
    assert "eG0tdXNlcjpwOnNzIHfDtnJk" not in result.stdout


def test_xmatters_url_auth_default_and_recipient_merge(
    runner: CliRunner, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    url = XM_URL + "?apiKey=k&recipients=jdoe"
    answers = ["app-key-1", url, "", "y", "Cloud Devops, jdoe", "y"]
    result = invoke(
        runner, "install", "xmatters", "--show-secrets", input="\n".join(answers) + "\n", **TTY
    )
    assert result.exit_code == 0, result.stderr
    assert "Authentication (url, basic or none) [url]" in result.stderr
    assert paste_block(result.stdout)[:5] == [
        "xMatters (profile default): paste into BigPanda",
        "",
        "Callback URL:",
        f"{XM_URL}?apiKey=k&recipients=jdoe,Cloud%20Devops",
        "",
    ]
    assert memory_keyring.entries == {
        (SERVICE, "default/xmatters/trigger_url.apiKey"): "k",
        (SERVICE, "default/xmatters/app_key"): "app-key-1",
    }
    text = config_text(isolated)
    assert f"trigger_url: {XM_URL}?apiKey=****&recipients=jdoe" in text
    assert "app-key-1" not in text


def test_rerun_offers_current_values_keeps_secret_and_masked_url_key(
    runner: CliRunner, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    install_json(
        runner,
        "xmatters",
        "--set",
        f"trigger_url={XM_URL}?apiKey=****",
        "--set",
        "auth=url",
        "--set",
        "recipients=ops",
        BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY="real-key",
        BP_INTEGRATE_XMATTERS_APP_KEY="app-1",
    )
    # Enter everywhere: every current value is the default, the secrets stay
    result = invoke(runner, "install", "xmatters", input="\n" * 8, **TTY)
    assert result.exit_code == 0, result.stderr
    err = result.stderr
    assert "Updating xMatters in profile 'default'" in err
    # the hidden prompt says so, and shows enough of the stored secret to recognise it
    assert "[hidden input; Enter keeps the stored one (****)]" in err  # "app-1": too short
    # masked default; a URL that may carry a key is typed without echo
    assert (
        f"xMatters trigger URL (hidden input: paste and press Enter) [{XM_URL}?apiKey=****]" in err
    )
    assert "real-key" not in err + result.stdout
    assert "Recipients (comma-separated users or groups, optional) [ops]" in err
    assert memory_keyring.entries == {
        (SERVICE, "default/xmatters/trigger_url.apiKey"): "real-key",
        (SERVICE, "default/xmatters/app_key"): "app-1",
    }
    show = json.loads(invoke(runner, "show", "xmatters", "--json", "--show-secrets").stdout)
    assert show["webhook"]["url"] == f"{XM_URL}?apiKey=real-key&recipients=ops"
    assert show["settings"]["app_key"] == "app-1"
    # now change: new recipients, switch to basic auth; the masked URL keeps the key
    answers = ["", "", "basic", "xm-user", "newpass", "y", "sre", "n", "y"]  # n: stay masked
    result = invoke(runner, "install", "xmatters", "--json", input="\n".join(answers) + "\n", **TTY)
    # --json is never interactive: the stored values are kept as they are
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["changed"] == []
    result = invoke(runner, "install", "xmatters", input="\n".join(answers) + "\n", **TTY)
    assert result.exit_code == 0, result.stderr
    show = json.loads(invoke(runner, "show", "xmatters", "--json", "--show-secrets").stdout)
    assert show["webhook"]["url"] == f"{XM_URL}?apiKey=real-key&recipients=sre"
    assert show["webhook"]["headers"]["Authorization"] == "Basic eG0tdXNlcjpuZXdwYXNz"
    # changed secrets: all of them written under the next generation of names (`#1`)
    assert memory_keyring.entries[(SERVICE, "default/xmatters/password#1")] == "newpass"
    assert memory_keyring.entries[(SERVICE, "default/xmatters/trigger_url.apiKey#1")] == "real-key"
    assert "real-key" not in config_text(isolated)


def test_rerun_switching_away_from_basic_removes_the_stale_password(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    env = {"BP_INTEGRATE_XMATTERS_PASSWORD": "pw"}
    install_json(runner, "xmatters", "--set", f"trigger_url={XM_URL}", "--set", "username=u", **env)
    assert (SERVICE, "default/xmatters/password") in memory_keyring.entries
    install_json(runner, "xmatters", "--set", "auth=none")
    assert memory_keyring.entries == {}
    show = json.loads(invoke(runner, "show", "xmatters", "--json").stdout)
    assert show["settings"]["auth"] == "none"
    assert show["webhook"]["headers"] == {"Content-Type": "application/json"}


def test_pagerduty_interactive_headers(runner: CliRunner, memory_keyring: MemoryKeyring) -> None:
    answers = [
        "",  # BigPanda region: us (the default profile's first PagerDuty install asks it)
        "not-a-key",  # refused
        PD_KEY,
        "y",
        "",  # app_key skipped
        "PD_Key",  # refused: tag names are lowercase
        "pd_key",
        "component=service,urgency=prio",  # refused: urgency is not a payload field
        "component=service, group=team",
        "",  # field map style: per-field (default)
        "",  # field header format: default
        "",  # events url: default
        "y",
    ]
    result = invoke(
        runner, "install", "pagerduty", "--show-secrets", input="\n".join(answers) + "\n", **TTY
    )
    assert result.exit_code == 0, result.stderr
    err = result.stderr
    assert "That is not a PagerDuty integration key (9 characters)." in err
    assert "'PD_Key' is not a BigPanda tag name" in err
    # No REST API key: the tip says how to have the integration made by API, and on an
    # 80-column terminal it wraps where the words do (no "or" / "--by-api)," lines).
    tip = err[err.index("Tip: ") :].splitlines()[0]  # after the region's prompt
    assert tip == (
        "Tip: the Events API v2 integration can be made in PagerDuty for you, by API: set "
        "BP_INTEGRATE_PAGERDUTY_API_KEY to your PagerDuty REST API key, or add --by-api to "
        "be asked for it."
    )
    lines = wrapped(tip, 79).splitlines()  # ui.prose on an 80-column terminal
    assert all(len(a) + 1 + len(b.split()[0]) > 79 for a, b in itertools.pairwise(lines))
    assert "'urgency' is not a PagerDuty Events v2 payload field." in err
    # No "Events API URL": BigPanda's PagerDuty page has no such field.
    assert paste_block(result.stdout)[:19] == [
        "PagerDuty (profile default): paste into BigPanda",
        "",
        "Integration key:",
        PD_KEY,
        "",
        "Header name:",
        "x-bp-config-pdfield",
        "Header value:",
        "pd_key",
        "",
        "Header name:",
        "x-bp-field-component",
        "Header value:",
        "service",
        "",
        "Header name:",
        "x-bp-field-group",
        "Header value:",
        "team",
    ]
    assert memory_keyring.entries == {(SERVICE, "default/pagerduty/integration_key"): PD_KEY}


def test_a_one_character_key_is_1_character(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    result = invoke(
        runner, "install", "pagerduty", "--no-input", BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY="x"
    )
    assert result.exit_code == 2
    assert "That is not a PagerDuty integration key (1 character)." in result.stderr


def test_pagerduty_ruleset_key_and_custom_header_format(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    ruleset = "R" + "0A1b2C3d" * 3 + "0A1b2C3"
    assert len(ruleset) == 32
    doc = install_json(
        runner,
        "pagerduty",
        "--set",
        "field_map=custom_details.owner=owner",
        "--set",
        "field_header_format=x-bp-pd-{field}",
        BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=ruleset,
    )
    assert doc["webhook"]["headers"] == {"x-bp-pd-custom_details.owner": "owner"}
    assert doc["settings"]["integration_key"] == "****"


def test_incidentio_interactive_bearer_header(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    answers = ["", "y", IO_URL, "with space", "s3cr3t-value", "y", "", "y"]
    result = invoke(
        runner, "install", "incidentio", "--show-secrets", input="\n".join(answers) + "\n", **TTY
    )
    assert result.exit_code == 0, result.stderr
    assert "The key contains spaces or line breaks." in result.stderr
    assert paste_block(result.stdout)[:9] == [
        "incident.io (profile default): paste into BigPanda",
        "",
        "Callback URL:",
        IO_URL,
        "",
        "Header name:",
        "Authorization",
        "Header value:",
        "Bearer s3cr3t-value",
    ]
    assert "No BigPanda API key was given" in result.stderr
    assert "Create an AutoShare rule" in result.stderr
    # The key was skipped: step 2 claims no check of it.
    assert "incident.io checks it against BigPanda before storing it.\n" in result.stderr
    assert "checked it too" not in result.stderr and "the key works" not in result.stderr


def test_panopta_interactive_target_list_and_payloads(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    outage = XM_URL + "?apiKey=ok1"
    clear = XM_URL.replace("0f6c8e8a", "1f6c8e8a") + "?apiKey=ck2"
    answers = ["v1.1", "y", "y", outage, clear, "Ops Team, jdoe", "", "y", "y"]
    result = invoke(
        runner, "install", "panopta", "--show-secrets", input="\n".join(answers) + "\n", **TTY
    )
    assert result.exit_code == 0, result.stderr
    out = "\n".join(paste_block(result.stdout))
    assert f"Postback URL:\n{outage}\n" in out
    assert f"Postback URL:\n{clear}\n" in out
    assert '  "target": [\n' in out
    assert memory_keyring.entries == {
        (SERVICE, "default/panopta/outage_url.apiKey"): "ok1",
        (SERVICE, "default/panopta/clear_url.apiKey"): "ck2",
    }


# --------------------------------------------------------------- non-interactive
def test_set_and_env_secret_no_input(runner: CliRunner, memory_keyring: MemoryKeyring) -> None:
    doc = install_json(
        runner,
        "xmatters",
        "--set",
        f"trigger_url={XM_URL}",
        "--set",
        "auth=basic",
        "--set",
        "username=xm-user",
        "--set",
        "recipients=Cloud Devops",
        "--show-secrets",
        BP_INTEGRATE_XMATTERS_PASSWORD="p:ss wörd",
    )
    assert doc["webhook"] == {
        "url": f"{XM_URL}?recipients=Cloud%20Devops",
        "headers": {
            "Content-Type": "application/json",
            "Authorization": "Basic eG0tdXNlcjpwOnNzIHfDtnJk",
        },
    }
    assert doc["secret_store"] == "keyring"
    assert memory_keyring.entries == {(SERVICE, "default/xmatters/password"): "p:ss wörd"}


def test_json_install_masks_by_default(runner: CliRunner, memory_keyring: MemoryKeyring) -> None:
    doc = install_json(
        runner,
        "incidentio",
        "--set",
        f"callback_url={IO_URL}",
        BP_INTEGRATE_INCIDENTIO_SECRET="s3cr3t",
    )
    assert doc["webhook"]["headers"]["Authorization"] == "Bearer ****"
    assert doc["settings"]["secret"] == "****"
    assert doc["changed"] == ["callback_url", "secret"]


def test_answers_file(runner: CliRunner, memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    answers = tmp_path / "panopta.yaml"
    answers.write_text(
        f"panopta:\n  outage_url: {XM_URL}?apiKey=****\n  target: [ops, dba]\n",
        encoding="utf-8",
    )
    key = {"BP_INTEGRATE_PANOPTA_OUTAGE_URL_APIKEY": "outage-key"}
    doc = install_json(runner, "panopta", "--answers", str(answers), **key)
    assert doc["webhook"]["url"] == XM_URL + "?apiKey=****"
    assert pasted(doc, "outage.payload")["target"] == ["ops", "dba"]
    assert not [i for i in doc["paste"] if i["key"].startswith("clear.")]
    # --set wins over the file
    doc = install_json(runner, "panopta", "--answers", str(answers), "--set", "target=ops", **key)
    assert pasted(doc, "outage.payload")["target"] == "ops"


def test_secret_stdin_pipes_secrets_in_order(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    result = invoke(
        runner,
        "install",
        "incidentio",
        "--no-input",
        "--no-verify",
        "--set",
        f"callback_url={IO_URL}",
        "--secret-stdin",
        "secret",
        "--secret-stdin",
        "bigpanda_api_key",
        input="s3cr3t\nbp-user-key\n",
    )
    assert result.exit_code == 0, result.stderr
    assert memory_keyring.entries == {
        (SERVICE, "default/incidentio/secret"): "s3cr3t",
        (SERVICE, "default/incidentio/bigpanda_api_key"): "bp-user-key",
    }


def test_secret_stdin_keeps_the_walkthrough_interactive(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    """--secret-stdin takes the first line(s); the other values are still asked."""
    # the stdin line first, then the questions ("n": keep secrets masked)
    answers = ["s3cr3t", "", "y", IO_URL, "y", "", "n", "y"]
    result = invoke(
        runner,
        "install",
        "incidentio",
        "--secret-stdin",
        "secret",
        input="\n".join(answers) + "\n",
        **TTY,
    )
    assert result.exit_code == 0, result.stderr
    assert "Step 1/4" in result.stderr
    assert "incident.io alert source secret" not in result.stderr  # came from stdin
    assert memory_keyring.entries == {(SERVICE, "default/incidentio/secret"): "s3cr3t"}


def test_secret_stdin_refuses_a_setting_and_short_input(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    result = invoke(runner, "install", "xmatters", "--no-input", "--secret-stdin", "recipients")
    assert result.exit_code == 2
    assert "recipients is not a secret; --secret-stdin is for secrets." in result.stderr
    result = invoke(
        runner, "install", "pagerduty", "--no-input", "--secret-stdin", "integration_key", input=""
    )
    assert result.exit_code == 2
    assert "standard input ended before the value" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize(
    ("args", "variable"),
    [
        (("xmatters", "--set", "password=pw"), "BP_INTEGRATE_XMATTERS_PASSWORD"),
        (
            ("pagerduty", "--set", f"integration_key={PD_KEY}"),
            "BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY",
        ),
        (("incidentio", "--set", "secret=hush-9"), "BP_INTEGRATE_INCIDENTIO_SECRET"),
    ],
)
def test_secret_with_set_is_refused_with_why_and_what_instead(
    runner: CliRunner, memory_keyring: MemoryKeyring, args: tuple[str, ...], variable: str
) -> None:
    result = invoke(runner, "install", *args, "--no-input")
    assert result.exit_code == 2
    field = args[2].split("=")[0]
    assert "is a secret and cannot be given with --set: command lines are visible" in (
        result.stderr
    )
    assert variable in result.stderr
    assert f"--secret-stdin {field}" in result.stderr
    assert args[2].split("=", 1)[1] not in result.stderr
    assert memory_keyring.entries == {}
    no_traceback(result)


def test_url_with_its_key_in_set_is_refused(
    runner: CliRunner, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    result = invoke(
        runner,
        "install",
        "xmatters",
        "--no-input",
        "--set",
        f"trigger_url={XM_URL}?apiKey=topsecret",
    )
    assert result.exit_code == 2
    assert "holds a URL with its apiKey in it, and that key is a secret" in result.stderr
    assert "BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY" in result.stderr
    assert "topsecret" not in result.stderr
    assert not (isolated / "config.yaml").exists()
    # a placeholder with no key anywhere is refused, naming the variable
    result = invoke(
        runner, "install", "xmatters", "--no-input", "--set", f"trigger_url={XM_URL}?apiKey=****"
    )
    assert result.exit_code == 2
    assert "apiKey=****, a placeholder" in result.stderr
    assert "Set BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY" in result.stderr
    # the whole URL in its environment variable is fine
    doc = install_json(
        runner, "xmatters", BP_INTEGRATE_XMATTERS_TRIGGER_URL=f"{XM_URL}?apiKey=topsecret"
    )
    assert doc["webhook"]["url"] == f"{XM_URL}?apiKey=****"
    assert doc["settings"]["auth"] == "url"
    assert memory_keyring.entries == {(SERVICE, "default/xmatters/trigger_url.apiKey"): "topsecret"}


def test_secret_in_answers_file_is_refused(
    runner: CliRunner, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text("callback_url: https://x.example/\nsecret: hush\n", encoding="utf-8")
    result = invoke(runner, "install", "incidentio", "--no-input", "--answers", str(answers))
    assert result.exit_code == 2
    assert "holds the secret 'secret'; answers files are for settings only." in result.stderr
    assert "BP_INTEGRATE_INCIDENTIO_SECRET" in result.stderr
    assert "--secret-stdin secret" in result.stderr
    no_traceback(result)


def test_bad_answers_files(
    runner: CliRunner, tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("outage_url: [unclosed\n", encoding="utf-8")
    result = invoke(runner, "install", "panopta", "--no-input", "--answers", str(bad))
    assert result.exit_code == 2
    assert f"The answers file is not valid YAML at {bad}:" in result.stderr
    result = invoke(runner, "install", "panopta", "--answers", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2
    assert "Cannot read answers file" in result.stderr
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("outage_ur: x\n", encoding="utf-8")
    result = invoke(runner, "install", "panopta", "--answers", str(unknown))
    assert result.exit_code == 2
    assert "Did you mean 'outage_url'?" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("xmatters",),
            "use --set trigger_url=VALUE, an answers file (--answers), or set "
            "BP_INTEGRATE_XMATTERS_TRIGGER_URL",
        ),
        (
            ("pagerduty",),
            "set BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY or use --secret-stdin integration_key",
        ),
        (
            ("xmatters", "--set", f"trigger_url={XM_URL}", "--set", "username=u"),
            "set BP_INTEGRATE_XMATTERS_PASSWORD or use --secret-stdin password",
        ),
        (("incidentio", "--set", f"callback_url={IO_URL}"), "BP_INTEGRATE_INCIDENTIO_SECRET"),
        (("panopta",), "--set trigger_url=VALUE"),  # the workflow setup is the default
        (("panopta", "--set", "setup=v1.1"), "--set outage_url=VALUE"),
    ],
)
def test_missing_required_value_under_no_input_names_the_flag(
    runner: CliRunner,
    memory_keyring: MemoryKeyring,
    args: tuple[str, ...],
    expected: str,
    isolated: Path,
) -> None:
    result = invoke(runner, "install", *args, "--no-input")
    assert result.exit_code == 2
    assert "Error: No value for" in result.stderr
    assert expected in result.stderr
    assert not (isolated / "config.yaml").exists()
    no_traceback(result)


def test_no_tty_is_not_interactive(runner: CliRunner, memory_keyring: MemoryKeyring) -> None:
    result = invoke(runner, "install", "pagerduty", input=PD_KEY + "\n")
    assert result.exit_code == 2
    assert "No value for pagerduty.integration_key" in result.stderr


def test_invalid_values_from_flags_say_where_they_came_from(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    result = invoke(
        runner, "install", "pagerduty", "--no-input", BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY="abc"
    )
    assert result.exit_code == 2
    assert "(from BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY)" in result.stderr
    result = invoke(
        runner, "install", "xmatters", "--no-input", "--set", "trigger_url=http://a.example/x"
    )
    assert result.exit_code == 2
    assert "must use https, not http (a.example). (from --set trigger_url)" in result.stderr
    result = invoke(runner, "install", "xmatters", "--set", "nope")
    assert result.exit_code == 2
    assert "--set 'nope' is not FIELD=VALUE." in result.stderr
    no_traceback(result)


def test_non_xmatters_host_is_a_warning_not_a_refusal(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    url = XM_URL.replace("acme.xmatters.com", "xm.internal.example")
    result = invoke(
        runner,
        "install",
        "xmatters",
        "--no-input",
        "--set",
        f"trigger_url={url}",
        "--set",
        "auth=none",
    )
    assert result.exit_code == 0, result.stderr
    assert (
        "warning: xm.internal.example is not an xmatters.com host: check that this is your "
        "xMatters instance." in result.stderr
    )
    for loopback in ("127.0.0.1:8080", "localhost:9", "[::1]:80"):
        url = XM_URL.replace("https://acme.xmatters.com", f"http://{loopback}")
        result = invoke(
            runner,
            "install",
            "xmatters",
            "--no-input",
            "--set",
            f"trigger_url={url}",
            "--set",
            "auth=none",
        )
        assert result.exit_code == 0, result.stderr
        assert "warning" not in result.stderr


def test_unknown_integration_suggests_nearest(runner: CliRunner) -> None:
    for command in (("install", "xmater"), ("show", "xmater"), ("uninstall", "xmater")):
        result = invoke(runner, *command)
        assert result.exit_code == 2
        assert "Error: Unknown integration 'xmater'." in result.stderr
        assert "Did you mean 'xmatters'?" in result.stderr
        no_traceback(result)
    result = invoke(runner, "install", "pagerduyt")
    assert "Did you mean 'pagerduty'?" in result.stderr


# ------------------------------------------------------------------- Ctrl-C
def snapshot(isolated: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(isolated)): p.read_bytes() for p in isolated.rglob("*") if p.is_file()
    }


def test_input_ending_early_aborts_and_changes_nothing(
    runner: CliRunner, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    result = invoke(runner, "install", "pagerduty", input=PD_KEY + "\ny\n", **TTY)
    assert result.exit_code == 130
    assert "Interrupted: nothing was changed." in result.stderr
    assert not isolated.exists() or snapshot(isolated) == {}
    assert memory_keyring.entries == {}
    no_traceback(result)


def test_ctrl_c_during_an_update_leaves_config_and_keyring_as_before(
    runner: CliRunner,
    memory_keyring: MemoryKeyring,
    isolated: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_json(
        runner,
        "xmatters",
        "--set",
        f"trigger_url={XM_URL}",
        "--set",
        "username=u",
        BP_INTEGRATE_XMATTERS_PASSWORD="old-pw",
    )
    before_files = snapshot(isolated)
    before_keys = dict(memory_keyring.entries)
    import typer

    asked: list[str] = []
    real_prompt = typer.prompt

    def prompt(text: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(text)
        if "password" in text:
            raise KeyboardInterrupt
        return real_prompt(text, *args, **kwargs)

    monkeypatch.setattr(typer, "prompt", prompt)
    result = invoke(runner, "install", "xmatters", input="new-app\n\n\nnew-user\n", **TTY)
    assert result.exit_code == 130
    assert "Interrupted: nothing was changed." in result.stderr
    assert any("password" in text for text in asked)
    assert snapshot(isolated) == before_files
    assert memory_keyring.entries == before_keys
    no_traceback(result)


def test_failure_while_storing_rolls_back_the_keyring(
    runner: CliRunner,
    memory_keyring: MemoryKeyring,
    isolated: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_json(runner, "pagerduty", BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=PD_KEY)
    before_files = snapshot(isolated)
    from bp_integrate import config

    def interrupted(self: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(config.Config, "save", interrupted)
    other = "f" * 32
    result = invoke(
        runner, "install", "pagerduty", "--no-input", BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=other
    )
    assert result.exit_code == 130
    assert memory_keyring.entries == {(SERVICE, "default/pagerduty/integration_key"): PD_KEY}
    assert snapshot(isolated) == before_files


# ------------------------------------------------- incident.io key check (real HTTP)
CFG = EmulatorConfig()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def bp_api(emulator: EmulatorServer, runner: CliRunner) -> str:
    """A profile whose BigPanda API is the local emulator."""
    emulator.state.reset()
    result = invoke(runner, "profile", "set", "--region", emulator.base_url)
    assert result.exit_code == 0, result.stderr
    return emulator.base_url


def io_install(runner: CliRunner, *extra: str, key: str) -> Any:
    return invoke(
        runner,
        "install",
        "incidentio",
        "--no-input",
        "--set",
        f"callback_url={IO_URL}",
        *extra,
        BP_INTEGRATE_INCIDENTIO_SECRET="s",
        BP_INTEGRATE_INCIDENTIO_BIGPANDA_API_KEY=key,
    )


def test_incidentio_bigpanda_key_checked_before_storing(
    runner: CliRunner, memory_keyring: MemoryKeyring, bp_api: str
) -> None:
    result = io_install(runner, key="wrong-key")
    assert result.exit_code == 6
    # a 401 is what a key of the other region gets: said so, with the profile's region
    err = " ".join(result.stderr.split())
    assert "BigPanda answered 401: a key of another region answers 401 here" in err
    assert "your profile's BigPanda API is " + bp_api in err
    assert "invalid or expired" in err
    assert memory_keyring.entries == {}
    result = io_install(runner, key=CFG.bigpanda_api_key)
    assert result.exit_code == 0, result.stderr
    stored = memory_keyring.entries[(SERVICE, "default/incidentio/bigpanda_api_key")]
    assert stored == CFG.bigpanda_api_key
    # --no-verify skips the check
    result = io_install(runner, "--no-verify", key="unchecked-key")
    assert result.exit_code == 0, result.stderr
    # a changed secret is written under the install's next generation of names
    stored = memory_keyring.entries[(SERVICE, "default/incidentio/bigpanda_api_key#1")]
    assert stored == "unchecked-key"


def test_incidentio_key_rejected_interactively_is_asked_again(
    runner: CliRunner, memory_keyring: MemoryKeyring, bp_api: str
) -> None:
    answers = ["wrong-key", CFG.bigpanda_api_key, "y", IO_URL, "s", "y", "", "n", "y"]
    result = invoke(runner, "install", "incidentio", input="\n".join(answers) + "\n", **TTY)
    assert result.exit_code == 0, result.stderr
    assert "BigPanda answered 401: a key of another region answers 401 here" in result.stderr
    assert "the key works (it sees 2 environments)." in result.stderr  # said: it was checked
    stored = memory_keyring.entries[(SERVICE, "default/incidentio/bigpanda_api_key")]
    assert stored == CFG.bigpanda_api_key


def test_incidentio_key_check_network_failure(
    runner: CliRunner, memory_keyring: MemoryKeyring, closed_port_url: str
) -> None:
    assert invoke(runner, "profile", "set", "--region", closed_port_url).exit_code == 0
    result = io_install(runner, key="k")
    assert result.exit_code == 5
    assert f"Cannot reach BigPanda at {closed_port_url}" in result.stderr
    assert "--no-verify" in result.stderr
    no_traceback(result)


@pytest.fixture
def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_values_with_line_breaks_are_refused(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    result = invoke(
        runner,
        "install",
        "xmatters",
        "--no-input",
        "--set",
        f"trigger_url={XM_URL}",
        "--set",
        "recipients=a\nb: evil",
        BP_INTEGRATE_XMATTERS_PASSWORD="pw",
        BP_INTEGRATE_XMATTERS_USERNAME="u",
    )
    assert result.exit_code == 2
    assert "contains a line break or another control character" in result.stderr


def test_answers_file_with_nested_values_is_refused(
    runner: CliRunner, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text("recipients: [[a], {b: c}]\n", encoding="utf-8")
    result = invoke(runner, "install", "xmatters", "--no-input", "--answers", str(answers))
    assert result.exit_code == 2
    assert "recipients must be a single value or a list of names." in result.stderr
    answers.write_text("username: {a: 1}\n", encoding="utf-8")
    result = invoke(runner, "install", "xmatters", "--no-input", "--answers", str(answers))
    assert result.exit_code == 2
    assert "username must be a single value." in result.stderr


def test_a_blank_secret_is_missing_not_malformed(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    result = invoke(
        runner,
        "install",
        "pagerduty",
        "--no-input",
        "--secret-stdin",
        "integration_key",
        input="   \n",
    )
    assert result.exit_code == 2
    assert "PagerDuty integration key is required." in result.stderr


def test_panopta_workflow_setup_one_trigger_url_for_detection_and_close(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    url = XM_URL + "?apiKey=wk1&recipients=jdoe"
    answers = ["", url, "Ops Team", "", "y", "y"]  # Enter: workflow (the default)
    result = invoke(
        runner, "install", "panopta", "--show-secrets", input="\n".join(answers) + "\n", **TTY
    )
    assert result.exit_code == 0, result.stderr
    steps = [line.strip() for line in lines(result.stderr) if line.startswith("Step ")]
    assert steps == [
        "Step 1/3 - xMatters: Choose the setup",
        "Step 2/3 - xMatters: Install the Panopta workflow",
        "Step 3/3 - Panopta: Configure the webhook",
    ]
    block = paste_block(result.stdout)
    assert block[:5] == [
        "Panopta -> xMatters (profile default): paste into Panopta",
        "",
        "Webhook (Incident Detection and Incident Close; POST, Raw):",
        "",
        "Postback URL:",
    ]
    assert block[5] == f"{XM_URL}?apiKey=wk1&recipients=jdoe,Ops%20Team"
    assert "Clear webhook" not in "\n".join(block)
    assert memory_keyring.entries == {(SERVICE, "default/panopta/trigger_url.apiKey"): "wk1"}


def test_pagerduty_without_headers_has_no_step_about_headers(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    """No override tag and no field map: no "add each header shown below" about nothing."""
    answers = ["", PD_KEY, "y", "", "", "", "", "", ""]  # first: the region (us)
    result = invoke(runner, "install", "pagerduty", input="\n".join(answers) + "\n", **TTY)
    assert result.exit_code == 0, result.stderr
    steps = [line.strip() for line in lines(result.stderr) if line.startswith("Step ")]
    assert steps[-1].startswith("Step 3/3") and "custom headers" not in result.stderr
    assert "shown below" not in result.stderr


def test_an_answers_file_states_the_whole_install_on_a_reinstall(
    runner: CliRunner, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    """Any integration: a setting the new answers file leaves out goes back to its default
    (not the previous install's value); a secret, which no answers file holds, is kept;
    `--set` without a file changes only what it names; a prompt offers the stored value."""
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("url: https://a.example.com/x\nheaders: X-Team=ops\n", "utf-8")
    second.write_text("url: https://b.example.com/y\n", "utf-8")
    token = {"BP_INTEGRATE_WEBHOOK_AUTH_HEADER": "Bearer answers-token"}
    install_json(runner, "webhook", "--answers", str(first), **token)
    install_json(runner, "webhook", "--set", "url=https://c.example.com/z")
    shown = json.loads(invoke(runner, "show", "webhook", "--json", "--show-secrets").stdout)
    assert shown["webhook"]["headers"]["X-Team"] == "ops"  # --set alone: the rest is kept
    # At a terminal, what the file leaves out is asked, the stored value offered.
    result = invoke(runner, "install", "webhook", "--answers", str(second), input="\n" * 9, **TTY)
    assert result.exit_code == 0, result.stderr
    assert "Other headers (optional: NAME=VALUE,NAME=VALUE) [X-Team=ops]:" in result.stderr
    doc = install_json(runner, "webhook", "--answers", str(second))
    assert doc["changed"] == ["headers"]  # the url was the second file's already
    shown = json.loads(invoke(runner, "show", "webhook", "--json", "--show-secrets").stdout)
    assert shown["settings"]["headers"] == ""
    assert shown["webhook"] == {
        "url": "https://b.example.com/y",
        "headers": {"Content-Type": "application/json", "Authorization": "Bearer answers-token"},
    }


# --------------------------------------------------------------------------- dry run
@pytest.fixture
def keyring_gone() -> Iterator[None]:
    """A machine whose OS keyring does not work (keyring's own fail backend)."""
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def _error(result: Any) -> str:
    """The error a command ended with (its message and hint), without what came before."""
    return result.stderr[result.stderr.index("Error: ") :]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (
            ("-p", "pdx", "install", "pagerduty", "--insecure-storage"),
            {"BP_INTEGRATE_PDX_PAGERDUTY_INTEGRATION_KEY": "short"},  # not 32 characters
        ),
        (("install", "webhook", "--set", "url=http://eda.example.com/x"), {}),  # not loopback
    ],
    ids=["pagerduty-key-length", "webhook-plain-http"],
)
def test_a_dry_run_refuses_what_the_install_refuses(
    runner: CliRunner,
    memory_keyring: MemoryKeyring,
    isolated: Path,
    args: tuple[str, ...],
    env: dict[str, str],
) -> None:
    """An integration set up by hand: the dry run used to check nothing and say "nothing
    saved" (exit 0) where the install itself refuses the value (exit 2)."""
    real = invoke(runner, *args, "--no-input", **env)
    dry = invoke(runner, *args, "--no-input", "--dry-run", **env)
    assert real.exit_code == dry.exit_code == 2, dry.stderr
    assert _error(dry) == _error(real)  # the same message and hint
    assert "nothing saved" not in dry.stderr
    assert not (isolated / "config.yaml").exists()


def test_a_dry_run_with_valid_values_says_so_and_saves_nothing(
    runner: CliRunner, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    result = invoke(
        runner, "-p", "pdx", "install", "pagerduty", "--no-input", "--dry-run",
        BP_INTEGRATE_PDX_PAGERDUTY_INTEGRATION_KEY=PD_KEY,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "Profile 'pdx' is new: a dry run does not create it." in result.stderr
    assert "Dry run: every value is valid; PagerDuty is set up by hand" in result.stderr
    assert not (isolated / "config.yaml").exists()
    assert not memory_keyring.entries


def test_a_dry_run_needs_no_keyring(runner: CliRunner, keyring_gone: None, isolated: Path) -> None:
    """The dry run stores nothing: a machine without a keyring is told that the install
    will need one, and the values are checked anyway (the install itself stops, exit 4)."""
    args = ("install", "webhook", "--no-input", "--set", "url=https://eda.example.com/x")
    real = invoke(runner, *args)
    assert real.exit_code == 4, real.stderr
    dry = invoke(runner, *args, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert dry.stderr.startswith(
        "warning: No working OS keyring: no usable backend was found (Keyring). The dry run "
        "goes on (it stores nothing); the install would stop here. Choose one: "
    )
    assert "Dry run: every value is valid;" in dry.stderr
    bad = invoke(runner, "install", "webhook", "--no-input", "--dry-run", "--set", "url=ftp://x")
    assert bad.exit_code == 2, bad.stderr
    assert not (isolated / "config.yaml").exists()


def test_a_webhook_v2_dry_run_needs_no_keyring(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, keyring_gone: None
) -> None:
    """BigPanda's Webhook v2 is made by API after the walkthrough: its dry run shows the
    call; it used to stop first for lack of a keyring (exit 4), though it stores nothing."""
    examples = Path(__file__).parent.parent / "examples" / "webhook-v2"
    assert invoke(CliRunner(), "profile", "set", "--region", emu.base_url).exit_code == 0
    monkeypatch.setenv("BP_INTEGRATE_BIGPANDA_API_KEY", EmulatorConfig().bigpanda_api_key)
    monkeypatch.setenv("BP_INTEGRATE_WEBHOOK_V2_AUTHORIZATION", "Bearer demo-webhook-token")
    result = invoke(
        CliRunner(), "install", "webhook_v2", "--no-input", "--no-verify",
        "--answers", str(examples / "ticketing.yaml"),
        "--set", f"base_url={emu.base_url}/webhook/demo", "--dry-run",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "would create" in result.stderr
    assert "Dry run: every value is valid; nothing was created in BigPanda" in result.stderr
    assert {r.method for r in emu.state.records()} <= {"GET"}  # reads only


def test_a_dry_run_of_an_update_says_why_it_needs_the_keyring(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    """An update starts from the installed secrets: a dry run reads them, so with the
    keyring gone it stops (exit 4) and says that this is why."""
    import keyring
    from keyring.backends import fail

    install_json(runner, "pagerduty", BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=PD_KEY)
    keyring.set_keyring(fail.Keyring())  # memory_keyring puts the previous one back
    result = invoke(runner, "install", "pagerduty", "--no-input", "--dry-run")
    assert result.exit_code == 4, result.stderr
    assert (
        "A dry run stores nothing, but this one must read the secrets PagerDuty is installed "
        "with in profile 'default' (keyring): an update starts from them." in result.stderr
    )


# ---------------------------------------------------------------- a new profile
def test_an_install_that_fails_does_not_say_it_creates_the_profile(
    runner: CliRunner, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    """The line "Profile 't1' is new: this creates it" used to come before an install that
    then failed and created nothing; now it says what will happen, and confirms it once
    done."""
    failed = invoke(
        runner, "-p", "t1", "install", "pagerduty", "--no-input",
        BP_INTEGRATE_T1_PAGERDUTY_INTEGRATION_KEY="short",
    )  # fmt: skip
    assert failed.exit_code == 2, failed.stderr
    path = isolated / "config.yaml"
    assert f"Profile 't1' is new: it will be created in {path} if this succeeds." in failed.stderr
    assert "creates it" not in failed.stderr and "Created profile" not in failed.stderr
    assert not path.exists()
    done = invoke(
        runner, "-p", "t1", "install", "pagerduty", "--no-input",
        BP_INTEGRATE_T1_PAGERDUTY_INTEGRATION_KEY=PD_KEY,
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    assert f"Created profile 't1' in {path}." in done.stderr
    again = invoke(
        runner, "-p", "t1", "install", "pagerduty", "--no-input",
        BP_INTEGRATE_T1_PAGERDUTY_INTEGRATION_KEY=PD_KEY,
    )  # fmt: skip
    assert "is new" not in again.stderr and "Created profile" not in again.stderr
