"""Point 7 bits: `encode basic-auth --json`, examples in the help pages that work as
printed, `--set` explained where it means a setting, the demo's next step."""

from __future__ import annotations

import base64
import json
import shlex

import pytest
from helpers import XM_URL, MemoryKeyring, invoke
from typer.testing import CliRunner


def test_encode_basic_auth_json(runner: CliRunner) -> None:
    result = invoke(
        runner, "encode", "basic-auth", "-u", "xm-user", "--password-stdin", "--json", input="p:w\n"
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    token = base64.b64encode(b"xm-user:p:w").decode()
    assert doc == {"header": "Authorization", "value": f"Basic {token}"}


def examples(runner: CliRunner, *command: str) -> list[list[str]]:
    """The example command lines of a help page, as argv after `bp-integrate`."""
    result = invoke(runner, *command, "--help", COLUMNS="200")
    assert result.exit_code == 0
    text = result.stdout
    assert "Examples:" in text
    lines = text.split("Examples:", 1)[1].splitlines()
    found = [shlex.split(line.strip())[1:] for line in lines if line.strip().startswith("bp-")]
    assert found, text
    return found


@pytest.mark.parametrize("command", ["install", "show", "send-test", "replay", "uninstall"])
def test_every_help_page_has_examples(runner: CliRunner, command: str) -> None:
    assert all(argv[0] in (command, "-p") for argv in examples(runner, command))


def test_dry_run_and_show_examples_work_as_printed(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    install = ("install", "xmatters", "--no-input", "--set", f"trigger_url={XM_URL}")
    assert invoke(runner, *install, "--set", "auth=none").exit_code == 0
    runnable = [
        argv
        for command in ("show", "send-test", "replay")
        for argv in examples(runner, command)
        if "--dry-run" in argv or argv[0] == "show"
        if "RUN_ID" not in argv and "-p" not in argv and "pbcopy" not in argv
        if "--remote" not in argv  # reads BigPanda's API: tests/test_webhook_v2.py runs it
    ]
    assert len(runnable) >= 3
    for argv in runnable:
        result = invoke(runner, *argv)
        assert result.exit_code == 0, (argv, result.stderr)


def test_install_set_help_says_it_is_a_setting(runner: CliRunner) -> None:
    text = " ".join(invoke(runner, "install", "--help", COLUMNS="200").stdout.split())
    assert "Here --set is a setting; on send-test and replay it edits the event body." in text


def test_demo_next_step_names_the_env_store_without_a_keyring(runner: CliRunner) -> None:
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        result = invoke(runner, "demo")
    finally:
        keyring.set_keyring(previous)
    assert result.exit_code == 0, result.stderr
    assert "Next: bp-integrate install xmatters --secret-store env (or " in result.stderr


def test_demo_next_step_with_a_keyring(runner: CliRunner, memory_keyring: MemoryKeyring) -> None:
    result = invoke(runner, "demo")
    assert result.exit_code == 0, result.stderr
    assert "Next: bp-integrate install xmatters (or pagerduty" in result.stderr
