"""`bp-integrate status` (am I OK?) and `bp-integrate set` (change one secret or
setting), through the real CLI; the hidden prompt of `set` in a real terminal."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import CFG, PD_KEY, SECRETS, XM_URL, MemoryKeyring, cli, install, invoke
from typer.testing import CliRunner

from bp_integrate.errors import ExitCode
from bp_integrate.integrations import all_integrations, get

OLD_PASSWORD = "old-Secret-1234"
NEW_PASSWORD = "new-Secret-5678"


def install_xmatters_basic(runner: CliRunner, *store: str, profile: str = "default") -> None:
    result = invoke(
        runner,
        "-p", profile, "install", "xmatters", "--no-input", *store,
        "--secret-stdin", "password",
        "--set", f"trigger_url={XM_URL}", "--set", "auth=basic",
        "--set", "username=xm-user", "--set", "recipients=ops",
        input=f"{OLD_PASSWORD}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr


def basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"xm-user:{password}".encode()).decode()


# --------------------------------------------------------------------------- status


def test_status_with_nothing_installed_says_so_and_exits_3() -> None:
    result = cli("status")
    assert result.exit_code == ExitCode.CONFIG
    assert "none installed" in result.stdout
    assert "bp-integrate install <integration>" in result.stderr
    doc = json.loads(cli("status", "--json").stdout)
    assert doc["ok"] is False and doc["exit_code"] == 3
    assert doc["integrations"] == [] and doc["last_run"] is None
    assert doc["region"] == "us" and doc["api_url"] == "https://api.bigpanda.io"
    assert doc["api_key"]["status"] == "not set"


def test_status_ok_names_each_secrets_source_and_never_shows_it(
    emu: Any, monkeypatch: pytest.MonkeyPatch, runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    install(emu, "pagerduty", monkeypatch)  # its key from a variable (env store)
    install_xmatters_basic(runner)  # its password in the keyring
    result = cli("status")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("profile       default")
    assert any(line.startswith("BigPanda      us: https://api.bigpanda.io") for line in lines)
    [pd] = [line for line in lines if line.startswith("pagerduty")]
    assert "ok" in pd and "BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY" in pd
    [xm] = [line for line in lines if line.startswith("xmatters")]
    assert "password: keyring" in xm
    assert "All set in profile 'default'." in result.stderr
    assert len(lines) <= 8  # a few lines
    for secret in (*SECRETS, OLD_PASSWORD, basic(OLD_PASSWORD)):
        assert secret not in result.stdout + result.stderr
    doc = json.loads(cli("status", "--json").stdout)
    assert doc["ok"] is True and doc["exit_code"] == 0
    by_name = {i["integration"]: i for i in doc["integrations"]}
    assert by_name["xmatters"]["secrets"]["password"]["status"] == "present"
    assert by_name["pagerduty"]["secrets"]["integration_key"]["status"] == "present"
    assert PD_KEY not in json.dumps(doc)


def test_status_with_a_secret_missing_exits_4_and_names_the_fix(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "pagerduty", monkeypatch)
    monkeypatch.delenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY")
    result = cli("status")
    assert result.exit_code == ExitCode.SECRETS
    [pd] = [line for line in result.stdout.splitlines() if line.startswith("pagerduty")]
    assert "MISSING integration_key" in pd and "BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY" in pd
    assert "1 problem(s)" in result.stderr
    doc = json.loads(cli("status", "--json").stdout)
    [item] = doc["integrations"]
    assert item["ok"] is False
    assert item["secrets"]["integration_key"]["status"] == "missing"


def test_status_shows_the_last_test_and_its_age(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    install(emu, "pagerduty", monkeypatch)
    assert "last test     none yet" in cli("status").stdout
    sent = cli("send-test", "new", "--to", "pagerduty")
    assert sent.exit_code == 0, sent.stderr
    result = cli("status")
    [line] = [ln for ln in result.stdout.splitlines() if ln.startswith("last test")]
    assert "just now" in line and "pagerduty" in line and "ok 1" in line
    doc = json.loads(cli("status", "--json").stdout)
    assert doc["last_run"]["targets"] == ["pagerduty"]
    assert 0 <= doc["last_run"]["age_seconds"] < 120
    # another profile's runs are not this one's
    cli("-p", "other", "profile", "set", "--region", "eu")
    other = json.loads(cli("-p", "other", "status", "--json").stdout)
    assert other["last_run"] is None and other["region"] == "eu"


def test_status_says_what_verify_still_needs_as_verify_does(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "pagerduty", monkeypatch)
    result = cli("status")
    assert result.exit_code == 0  # verify is optional: not being ready is not a failure
    assert "verify        not ready: needs 4 more settings" in result.stdout
    assert "bp-integrate verify-setup" in result.stderr
    doc = json.loads(cli("status", "--json").stdout)
    assert doc["verify"]["ready"] is False
    assert any("User API key" in item for item in doc["verify"]["missing"])
    assert any("canary app key" in item for item in doc["verify"]["missing"])


# --------------------------------------------------------------------------- set


def test_set_rotates_a_secret_from_stdin_and_says_what_to_paste_again(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    install_xmatters_basic(runner)
    result = invoke(runner, "set", "xmatters", "password", "--stdin", input=f"{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.stderr
    assert memory_keyring.entries[("bp-integrate", "default/xmatters/password#1")] == NEW_PASSWORD
    assert "paste the new Authorization header into BigPanda:" in result.stdout
    assert "Basic ****" in result.stdout
    assert "show xmatters --field header:Authorization --show-secrets" in result.stderr
    everything = result.stdout + result.stderr
    assert NEW_PASSWORD not in everything and basic(NEW_PASSWORD) not in everything
    shown = cli("show", "xmatters", "--field", "header:Authorization", "--show-secrets")
    assert shown.stdout.strip() == basic(NEW_PASSWORD)
    # the other values are kept as they were
    doc = json.loads(cli("show", "xmatters", "--json").stdout)
    assert doc["settings"]["recipients"] == "ops" and doc["settings"]["username"] == "xm-user"
    # the same value again changes nothing
    again = invoke(runner, "set", "xmatters", "password", "--stdin", input=f"{NEW_PASSWORD}\n")
    assert again.exit_code == 0 and "nothing changed" in again.stderr


def test_set_a_setting_shows_the_change_and_the_new_url(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    install_xmatters_basic(runner)
    result = invoke(
        runner, "set", "xmatters", "recipients", "--stdin", "--json", input="ops,alice\n"
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["before"] == "ops" and doc["after"] == "ops, alice" and doc["changed"]
    [item] = doc["paste_again"]
    assert item["key"] == "url" and item["value"].endswith("?recipients=ops,alice")
    assert doc["secret"] is False and doc["dry_run"] is False


def test_set_dry_run_checks_and_stores_nothing(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    install_xmatters_basic(runner)
    result = invoke(
        runner, "set", "xmatters", "password", "--stdin", "--dry-run", input=f"{NEW_PASSWORD}\n"
    )
    assert result.exit_code == 0, result.stderr
    assert "Dry run" in result.stderr and "Nothing was stored" in result.stderr
    assert memory_keyring.entries[("bp-integrate", "default/xmatters/password")] == OLD_PASSWORD


def test_set_says_where_each_kind_of_value_is_kept(runner: CliRunner) -> None:
    """A plain setting lives in the settings file (config.yaml), a secret in the store the
    install chose, and a URL in the file with any key it carries in that store."""
    install = invoke(
        runner, "install", "pagerduty", "--no-input", "--secret-store", "file",
        "--secret-stdin", "integration_key", input=f"{PD_KEY}\n",
    )  # fmt: skip
    assert install.exit_code == 0, install.stderr
    url = "https://events.eu.pagerduty.com/v2/enqueue"
    plain = invoke(runner, "set", "pagerduty", "events_url", "--stdin", input=f"{url}\n")
    assert plain.exit_code == 0, plain.stderr
    assert f"-> {url} (in the settings file, profile 'default').\n" in plain.stderr
    keyed = invoke(
        runner, "set", "pagerduty", "events_url", "--stdin", "--dry-run",
        input=f"{url}?apiKey=k3y-5678\n",
    )  # fmt: skip
    assert f"-> {url}?apiKey=**** (in the settings file, its key in the file store). " in (
        keyed.stderr
    )
    secret = invoke(
        runner, "set", "pagerduty", "integration_key", "--stdin", "--dry-run",
        input="f" * 32 + "\n",
    )  # fmt: skip
    assert "pagerduty.integration_key would change (in the file store). " in secret.stderr


def test_set_refuses_an_unknown_field_with_the_nearest_name(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    install_xmatters_basic(runner)
    result = invoke(runner, "set", "xmatters", "pasword", "--stdin", input="x\n")
    assert result.exit_code == ExitCode.USAGE
    assert "Did you mean 'password'?" in result.stderr


def test_set_checks_the_value_with_the_fields_own_check(
    emu: Any, monkeypatch: pytest.MonkeyPatch, runner: CliRunner, tmp_path: Path
) -> None:
    install(emu, "pagerduty", monkeypatch)
    result = invoke(runner, "set", "pagerduty", "events_url", "--stdin", input="htps://x\n")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    before = (tmp_path / "config" / "config.yaml").read_text()
    assert "htps://x" not in before


def test_set_on_an_env_store_secret_names_the_variable(
    emu: Any, monkeypatch: pytest.MonkeyPatch, runner: CliRunner
) -> None:
    install(emu, "pagerduty", monkeypatch)
    result = invoke(runner, "set", "pagerduty", "integration_key", "--stdin", input=f"{PD_KEY}\n")
    assert result.exit_code == ExitCode.USAGE
    assert "BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY" in result.stderr


def test_set_without_a_terminal_or_stdin_flag_names_the_flag(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    install_xmatters_basic(runner)
    result = invoke(runner, "set", "xmatters", "password", input="")
    assert result.exit_code == ExitCode.USAGE
    assert "--stdin" in result.stderr


def test_set_of_an_integration_not_installed_names_the_install() -> None:
    result = cli("set", "xmatters", "password", "--stdin")
    assert result.exit_code == ExitCode.CONFIG
    assert "install xmatters" in result.stderr


def test_set_asks_with_a_hidden_prompt_in_a_terminal(tmp_path: Path) -> None:
    from test_wizard_pty import STORE, answer, finish, spawn, transcript

    install_xmatters_basic(CliRunner(), *STORE)  # the same config folder as the child's
    child = spawn(tmp_path, "set", "xmatters", "password")
    answer(child, "New xMatters integration user password (hidden input):", NEW_PASSWORD)
    code, _ = finish(child)
    shown = transcript(child)
    assert code == 0, shown
    assert NEW_PASSWORD not in shown  # not echoed, not printed
    assert "paste the new Authorization header into BigPanda:" in shown
    assert "Basic ****" in shown
    secrets = json.loads((tmp_path / "config" / "INSECURE-plaintext-secrets.json").read_text())
    assert secrets["secrets"]["default/xmatters/password#1"] == NEW_PASSWORD
    assert CFG.xmatters_password not in shown


# ------------------------------------------------- the 401/403 hint: set, then install


#: What a target's 401/403 points at, likeliest first (the others derive it from their
#: secret and URL fields).
CREDENTIALS = {
    "xmatters": ("password", "username", "trigger_url"),
    "pagerduty": ("integration_key",),
    "incidentio": ("secret",),
    "webhook": ("auth_header", "url"),
}


@pytest.mark.parametrize("name", [spec.name for spec in all_integrations()])
def test_a_refused_send_names_set_with_the_integrations_own_credential_fields(name: str) -> None:
    spec = get(name)
    named = spec.refused_fields()
    assert named and named == CREDENTIALS.get(name, named)
    for field in named:
        found = spec.field(field)  # how `set` looks FIELD up: a name it lacks raises
        assert found.name == field and found.asked and not found.bigpanda_key
        assert found.secret or found.url_with_secrets or field == "username"
    assert "app_key" not in named  # BigPanda's App Key: never what the target refused
    fix = spec.refused_fix("prod")
    assert fix.startswith(f"bp-integrate --profile prod set {name} {named[0]}")
    assert all(field in fix for field in named)
    assert fix.endswith(f"; or install it again: bp-integrate --profile prod install {name}")
    assert spec.refused_fix().startswith(f"bp-integrate set {name} ")


def test_the_xmatters_fields_a_refusal_names_are_ones_set_changes(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    install_xmatters_basic(runner, profile="prod")
    fix = get("xmatters").refused_fix("prod")
    assert fix.startswith("bp-integrate --profile prod set xmatters password (or username, ")
    changes = (("password", NEW_PASSWORD), ("username", "xm-other"), ("trigger_url", XM_URL))
    for field, value in changes:
        argv = ("-p", "prod", "set", "xmatters", field, "--stdin", "--dry-run")
        done = invoke(runner, *argv, input=f"{value}\n")
        assert done.exit_code == 0, (field, done.stderr)
