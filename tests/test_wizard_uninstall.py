"""Uninstall without pitfalls: a header, the recorded App Key, No by default at every
question, the steps printed under --no-input, only steps that apply (issue 9 point 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import PD_KEY, XM_URL, MemoryKeyring, invoke
from typer.testing import CliRunner

TTY = {"BP_INTEGRATE_ASSUME_TTY": "1"}
APP_KEY = "app-key-0001WXYZ"


@pytest.fixture
def xmatters(runner: CliRunner, memory_keyring: MemoryKeyring) -> None:
    result = invoke(
        runner,
        "--profile",
        "prod",
        "install",
        "xmatters",
        "--no-input",
        "--set",
        f"trigger_url={XM_URL}?apiKey=****",
        "--set",
        "auth=url",
        BP_INTEGRATE_PROD_XMATTERS_TRIGGER_URL_APIKEY="url-key",
        BP_INTEGRATE_PROD_XMATTERS_APP_KEY=APP_KEY,
    )
    assert result.exit_code == 0, result.stderr


def uninstall(runner: CliRunner, *args: str, input: str | None = None) -> tuple[int, str]:
    result = invoke(runner, "--profile", "prod", "uninstall", "xmatters", *args, input=input, **TTY)
    return result.exit_code, result.stderr


def test_header_and_masked_app_key(runner: CliRunner, xmatters: None) -> None:
    code, err = uninstall(runner, input="n\n" + "y\n" * 4)
    assert code == 0, err
    assert err.splitlines()[0] == "Uninstalling xMatters from profile 'prod'."
    assert "The integration to delete in BigPanda has the App Key ****WXYZ" in err
    assert APP_KEY not in err


def test_show_secrets_shows_the_whole_app_key(runner: CliRunner, xmatters: None) -> None:
    code, err = uninstall(runner, "--show-secrets", input="n\n" + "y\n" * 4)
    assert code == 0, err
    assert f"has the App Key {APP_KEY} (recorded at install)" in err


def test_enter_everywhere_removes_nothing(
    runner: CliRunner, xmatters: None, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    before = (isolated / "config.yaml").read_bytes(), dict(memory_keyring.entries)
    code, err = uninstall(runner, input="\n" * 10)
    assert code == 1
    # Enter at "replacing it?" is No (go on); Enter at the next "Done?" stops
    assert "Is another integration replacing this one? [y/N]" in err
    assert "Stopped before 'Disable or remove the BigPanda workflow in xMatters' was done" in err
    assert (
        "nothing was removed. When it is, run: bp-integrate --profile prod uninstall xmatters"
        in err
    )
    assert ((isolated / "config.yaml").read_bytes(), memory_keyring.entries) == before


def test_final_confirmation_defaults_to_no(
    runner: CliRunner, xmatters: None, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    before = (isolated / "config.yaml").read_bytes(), dict(memory_keyring.entries)
    code, err = uninstall(runner, input="n\n" + "y\n" * 3 + "\n")
    assert code == 1
    assert "Remove xMatters's settings and stored secrets from profile 'prod'? [y/N]" in err
    assert err.rstrip().endswith("Nothing was removed.")
    assert ((isolated / "config.yaml").read_bytes(), memory_keyring.entries) == before


def test_no_input_prints_the_steps_it_refers_to(
    runner: CliRunner, xmatters: None, memory_keyring: MemoryKeyring
) -> None:
    before = dict(memory_keyring.entries)
    code, err = uninstall(runner, "--no-input")
    assert code == 2
    assert "Step 4/4 - BigPanda: Delete the integration in BigPanda" in err
    assert (
        "once the steps above are done: bp-integrate --profile prod uninstall xmatters --yes" in err
    )
    assert err.index("Step 4/4") < err.index("needs each step confirmed")
    assert memory_keyring.entries == before


def test_pagerduty_uninstall_mentions_no_api_key_install_never_made(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    result = invoke(
        runner,
        "install",
        "pagerduty",
        "--no-input",
        BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=PD_KEY,
    )
    assert result.exit_code == 0, result.stderr
    result = invoke(runner, "uninstall", "pagerduty", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "API key" not in result.stderr
    assert "API Access" not in result.stderr
    # no App Key recorded: say how to find the integration instead
    assert "No BigPanda App Key was recorded at install" in result.stderr


def test_incidentio_uninstall_undoes_connect_bigpanda(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    result = invoke(
        runner,
        "install",
        "incidentio",
        "--no-input",
        "--set",
        "callback_url=https://api.incident.io/v2/alert_events/bigpanda/01J0BPDEM0S0VRCE0000000000",
        BP_INTEGRATE_INCIDENTIO_SECRET="s",
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(invoke(runner, "uninstall", "incidentio", "--yes", "--json").stdout)
    assert "incident.io: Disconnect BigPanda" in doc["steps"]


def test_replacing_it_is_a_question_either_answer_goes_on(
    runner: CliRunner, xmatters: None, memory_keyring: MemoryKeyring
) -> None:
    """Step 1 asks whether another integration replaces this one (issue 19 item 2): No
    goes on; yes asks to configure the new one first, then goes on once it is done."""
    code, err = uninstall(runner, input="n\n" + "y\n" * 4)
    assert code == 0, err
    assert "Configure the new integration first (so no incident" not in err
    assert "Removed xMatters from profile 'prod'" in err


def test_replacing_it_yes_waits_for_the_new_integration(
    runner: CliRunner, xmatters: None, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    before = (isolated / "config.yaml").read_bytes()
    code, err = uninstall(runner, input="y\nn\n")  # replacing it, the new one not done yet
    assert code == 1
    assert "Then configure the new integration first (so no incident goes unshared)." in err
    assert "Stopped before 'Replacing it? Configure the new integration first' was done" in err
    assert (isolated / "config.yaml").read_bytes() == before
    code, err = uninstall(runner, input="y\n" + "y\n" * 5)  # now it is: all the way
    assert code == 0, err
    assert "Removed xMatters from profile 'prod'" in err
