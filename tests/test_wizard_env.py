"""Where a value comes from (issue 9 point 5): `--secret-store env` says which variables
to export, and dry runs need no secret values; an update says what to paste again."""

from __future__ import annotations

import json

from helpers import XM_URL, MemoryKeyring, invoke
from typer.testing import CliRunner

TTY = {"BP_INTEGRATE_ASSUME_TTY": "1"}
PASSWORD = "typed-password-9876"
#: xMatters with basic auth, secrets in the environment only.
ENV_BASIC = (
    "install",
    "xmatters",
    "--secret-store",
    "env",
    "--set",
    f"trigger_url={XM_URL}",
    "--set",
    "auth=basic",
    "--set",
    "username=xm-user",
)


def test_env_store_names_the_variables_to_export_masked(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    answers = ["", XM_URL, "basic", "xm-user", PASSWORD, "y", "", "n", "y"]
    result = invoke(
        runner,
        "install",
        "xmatters",
        "--secret-store",
        "env",
        input="\n".join(answers) + "\n",
        **TTY,
    )
    assert result.exit_code == 0, result.stderr
    err = result.stderr
    assert "What you type is checked, then not kept" in err
    assert "--secret-store env stores no secret: what was given is not kept." in err
    assert "  export BP_INTEGRATE_XMATTERS_PASSWORD='****9876'" in err.splitlines()
    assert PASSWORD not in err + result.stdout
    assert memory_keyring.entries == {}


def test_env_store_json_lists_what_is_not_exported(runner: CliRunner) -> None:
    result = invoke(
        runner, *ENV_BASIC, "--json", "--secret-stdin", "password", input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["not_exported"] == ["BP_INTEGRATE_XMATTERS_PASSWORD"]
    # exported as told, nothing is left to export
    again = invoke(
        runner,
        "install",
        "xmatters",
        "--json",
        BP_INTEGRATE_XMATTERS_PASSWORD=PASSWORD,
    )
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["not_exported"] == []


def env_install(runner: CliRunner) -> None:
    result = invoke(runner, *ENV_BASIC, "--no-input", BP_INTEGRATE_XMATTERS_PASSWORD=PASSWORD)
    assert result.exit_code == 0, result.stderr


def test_dry_run_needs_no_secret_values(runner: CliRunner) -> None:
    env_install(runner)
    # the variable is not set now: a dry run still shows the request, masked
    for args in (
        ("send-test", "incident#new", "--to", "xmatters", "--dry-run"),
        ("send-test", "incident#new", "--to", "xmatters", "--as-curl"),
        ("replay", "lifecycle", "--to", "xmatters", "--dry-run"),
    ):
        result = invoke(runner, *args)
        assert result.exit_code == 0, (args, result.stderr)
        assert "not set: BP_INTEGRATE_XMATTERS_PASSWORD." in result.stderr
        assert "Authorization: Basic ****" in result.stdout
    # a real send still needs it, and says which variable
    result = invoke(runner, "send-test", "incident#new", "--to", "xmatters")
    assert result.exit_code == 4
    assert "BP_INTEGRATE_XMATTERS_PASSWORD" in result.stderr


def test_update_says_what_to_paste_again(runner: CliRunner, memory_keyring: MemoryKeyring) -> None:
    base = ("install", "xmatters", "--no-input", "--set", f"trigger_url={XM_URL}")
    first = invoke(runner, *base, "--set", "auth=none")
    assert first.exit_code == 0, first.stderr
    assert "paste again" not in first.stderr  # a first install pastes everything
    same = invoke(runner, *base)
    assert same.exit_code == 0, same.stderr
    assert "Nothing to paste again into BigPanda: what it has still works." in same.stderr
    changed = invoke(runner, *base, "--set", "recipients=ops")
    assert changed.exit_code == 0, changed.stderr
    assert "Changed, paste again into BigPanda: Callback URL." in changed.stderr
    doc = json.loads(invoke(runner, *base, "--json", "--set", "recipients=sre").stdout)
    assert doc["paste_again"] == ["url"]
