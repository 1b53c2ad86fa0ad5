"""The install walkthrough forgives: trimmed values, `back`, suggestions, hidden prompts
that say so, a key check that says what it found, each hint once (issue 9 point 3)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import XM_URL, MemoryKeyring, invoke
from typer.testing import CliRunner

from bp_integrate.emulator import EmulatorConfig, EmulatorServer

TTY = {"BP_INTEGRATE_ASSUME_TTY": "1"}
SERVICE = "bp-integrate"
CFG = EmulatorConfig()
IO_URL = "https://api.incident.io/v2/alert_events/bigpanda/01J0BPDEM0S0VRCE0000000000"


def run_install(runner: CliRunner, name: str, answers: list[str], *extra: str) -> tuple[int, str]:
    result = invoke(runner, "install", name, *extra, input="\n".join(answers) + "\n", **TTY)
    return result.exit_code, result.stderr


def test_secret_pasted_with_spaces_around_is_trimmed(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    answers = ["", XM_URL, "basic", "  xm-user ", "  s3cret pass \t", "y", "", "n", "y"]
    code, err = run_install(runner, "xmatters", answers)
    assert code == 0, err
    assert memory_keyring.entries[(SERVICE, "default/xmatters/password")] == "s3cret pass"


def test_mistyped_choice_gets_a_suggestion(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    answers = ["", XM_URL, "basci", "basic", "xm-user", "pw", "y", "", "n", "y"]
    code, err = run_install(runner, "xmatters", answers)
    assert code == 0, err
    assert "auth must be one of url, basic, none, not 'basci'." in err
    assert "Did you mean 'basic'?" in err


def test_back_at_checkpoint_re_asks_the_step_and_drops_what_no_longer_applies(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    answers = [
        "",  # app key: skip
        XM_URL,
        "basic",
        "xm-user",
        "first-password",
        "back",  # at the checkpoint: enter the step again
        XM_URL + "?apiKey=url-key-1234",  # now URL authentication
        "url",
        "y",
        "",  # recipients
        "n",  # do not show the secret values
        "y",
    ]
    code, err = run_install(runner, "xmatters", answers)
    assert code == 0, err
    assert "Done with 'Install the BigPanda workflow'? [Y/n/back]" in err
    assert err.count("Step 2/4 - xMatters: Install the BigPanda workflow") == 1
    assert memory_keyring.entries == {
        (SERVICE, "default/xmatters/trigger_url.apiKey"): "url-key-1234"
    }  # the basic-auth password given first is not kept


def test_url_auth_without_key_can_go_back_to_the_url(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    answers = ["", XM_URL, "url", "back", XM_URL + "?apiKey=k-0001", "", "y", "", "n", "y"]
    code, err = run_install(runner, "xmatters", answers)
    assert code == 0, err
    assert "auth is 'url' but the trigger URL carries no apiKey parameter." in err
    assert "Type back for the previous question, ? for this one's help." in err
    assert memory_keyring.entries == {(SERVICE, "default/xmatters/trigger_url.apiKey"): "k-0001"}


def test_hidden_prompt_says_so_and_each_hint_prints_once(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    answers = ["", XM_URL, "basic", "", "", "xm-user", "", "pw", "y", "", "n", "y"]
    code, err = run_install(runner, "xmatters", answers)
    assert code == 0, err
    assert "xMatters integration user password [hidden input]" in err
    assert "BigPanda App Key for xMatters (optional, recorded for later) [hidden input; " in err
    # two empty user names and an empty password: the errors repeat, the hints do not
    assert err.count("xMatters integration user name is required.") == 2
    assert err.count("The xMatters user the BigPanda workflow authenticates as.") == 1
    assert err.count("The password of that xMatters user.") == 1


def test_stored_secret_shown_by_its_last_four(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    answers = ["app-key-0001WXYZ", XM_URL, "basic", "xm-user", "pw", "y", "", "n", "y"]
    assert run_install(runner, "xmatters", answers)[0] == 0
    code, err = run_install(runner, "xmatters", [""] * 9)
    assert code == 0, err
    assert "[hidden input; Enter keeps the stored one (****WXYZ)]" in err
    assert "app-key-0001WXYZ" not in err
    assert memory_keyring.entries[(SERVICE, "default/xmatters/app_key")] == "app-key-0001WXYZ"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


def test_key_check_says_what_it_found(
    runner: CliRunner, memory_keyring: MemoryKeyring, emulator: EmulatorServer
) -> None:
    assert invoke(runner, "profile", "set", "--region", emulator.base_url).exit_code == 0
    answers = [CFG.bigpanda_api_key, "y", IO_URL, "s", "y", "", "n", "y"]
    code, err = run_install(runner, "incidentio", answers)
    assert code == 0, err
    assert "the key works (it sees 2 environments)." in err
