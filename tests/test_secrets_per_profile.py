"""Secret variables are per profile: a shared `BP_INTEGRATE_<INTEGRATION>_<FIELD>` reaches
only the default profile, `BP_INTEGRATE_<PROFILE>_...` only its own; a variable that
overrides a stored secret is named on stderr (never its value) and is [warn] in doctor."""

from __future__ import annotations

import json

import pytest
from helpers import PD_KEY, MemoryKeyring, invoke
from typer.testing import CliRunner

from bp_integrate.emulator import EmulatorServer
from bp_integrate.secrets import env_prefix, env_var

STAGING_KEY = "5" * 32
PROD_OVERRIDE = "7" * 32


def install_pd(runner: CliRunner, emu: EmulatorServer, profile: str, key: str) -> None:
    result = invoke(
        runner,
        "-p",
        profile,
        "install",
        "pagerduty",
        "--no-input",
        "--secret-stdin",
        "integration_key",
        "--set",
        f"events_url={emu.urls['pagerduty_events']}",
        input=key + "\n",
    )
    assert result.exit_code == 0, result.stderr


def test_variable_names_per_profile() -> None:
    assert env_var("pagerduty", "integration_key") == "BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY"
    assert env_var("pagerduty", "integration_key", "default") == (
        "BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY"
    )
    assert env_var("pagerduty", "integration_key", "prod") == (
        "BP_INTEGRATE_PROD_PAGERDUTY_INTEGRATION_KEY"
    )
    assert env_var("xmatters", "trigger_url.apiKey", "eu-west.2") == (
        "BP_INTEGRATE_EU_WEST_2_XMATTERS_TRIGGER_URL_APIKEY"
    )
    assert env_prefix("Prod") == "BP_INTEGRATE_PROD_"


def test_a_shared_variable_does_not_reach_prod(
    runner: CliRunner,
    emu: EmulatorServer,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_pd(runner, emu, "prod", PD_KEY)
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY", STAGING_KEY)

    shown = invoke(runner, "-p", "prod", "show", "pagerduty", "--show-secrets", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert PD_KEY in shown.stdout and STAGING_KEY not in shown.stdout
    assert "overrides" not in shown.stderr

    sent = invoke(
        runner, "-p", "prod", "send-test", "new", "--to", "pagerduty", "--dry-run",
        "--show-secrets", "--json",
    )  # fmt: skip
    assert sent.exit_code == 0, sent.stderr
    assert PD_KEY in sent.stdout and STAGING_KEY not in sent.stdout

    real = invoke(runner, "-p", "prod", "send-test", "new", "--to", "pagerduty")
    assert real.exit_code == 0, real.stderr
    assert "overrides" not in real.stderr

    doctor = invoke(runner, "-p", "prod", "doctor", "--no-network", "--json")
    checks = json.loads(doctor.stdout)["checks"]
    [ignored] = [c for c in checks if c["name"] == "integration_key variable"]
    assert ignored["status"] == "skip"
    assert "BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY is set but not used" in ignored["detail"]
    assert "BP_INTEGRATE_PROD_PAGERDUTY_INTEGRATION_KEY" in ignored["detail"]


def test_the_shared_variable_still_serves_the_default_profile(
    runner: CliRunner,
    emu: EmulatorServer,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_pd(runner, emu, "default", PD_KEY)
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY", STAGING_KEY)
    shown = invoke(runner, "show", "pagerduty", "--show-secrets", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert STAGING_KEY in shown.stdout
    assert (
        "Note: BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY is set: it overrides the keyring "
        "store's pagerduty integration_key for profile 'default'." in shown.stderr
    )
    assert STAGING_KEY not in shown.stderr


def test_a_profile_variable_overrides_with_a_notice_and_a_doctor_warning(
    runner: CliRunner,
    emu: EmulatorServer,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_pd(runner, emu, "prod", PD_KEY)
    monkeypatch.setenv("BP_INTEGRATE_PROD_PAGERDUTY_INTEGRATION_KEY", PROD_OVERRIDE)

    sent = invoke(runner, "-p", "prod", "send-test", "new", "--to", "pagerduty")
    assert sent.exit_code == 0, sent.stderr
    notice = [line for line in sent.stderr.splitlines() if "overrides" in line]
    assert notice == [
        "Note: BP_INTEGRATE_PROD_PAGERDUTY_INTEGRATION_KEY is set: it overrides the keyring "
        "store's pagerduty integration_key for profile 'prod'."
    ]
    assert PROD_OVERRIDE not in sent.stderr + sent.stdout

    shown = invoke(runner, "-p", "prod", "show", "pagerduty", "--show-secrets", "--json")
    assert PROD_OVERRIDE in shown.stdout
    assert "BP_INTEGRATE_PROD_PAGERDUTY_INTEGRATION_KEY is set" in shown.stderr

    doctor = invoke(runner, "-p", "prod", "doctor", "--no-network", "--json")
    checks = json.loads(doctor.stdout)["checks"]
    [check] = [c for c in checks if c["section"] == "pagerduty" and c["name"] == "integration_key"]
    assert check["status"] == "warn"
    assert (
        "BP_INTEGRATE_PROD_PAGERDUTY_INTEGRATION_KEY, overriding the keyring store"
        in (check["detail"])
    )
    assert PROD_OVERRIDE not in doctor.stdout


def test_env_store_of_a_profile_reads_its_own_variable(
    runner: CliRunner, emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The install reads the profile's own variable too: the shared one (a staging key
    exported in the shell) is neither read nor named for prod."""
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY", STAGING_KEY)
    args = ("-p", "prod", "install", "pagerduty", "--no-input", "--secret-store", "env",
            "--set", f"events_url={emu.urls['pagerduty_events']}")  # fmt: skip
    refused = invoke(runner, *args)
    assert refused.exit_code == 2
    assert "set BP_INTEGRATE_PROD_PAGERDUTY_INTEGRATION_KEY or use --secret-stdin" in (
        refused.stderr
    )
    monkeypatch.setenv("BP_INTEGRATE_PROD_PAGERDUTY_INTEGRATION_KEY", PROD_OVERRIDE)
    result = invoke(runner, *args, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["not_exported"] == []
    shown = invoke(runner, "-p", "prod", "show", "pagerduty", "--show-secrets", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert PROD_OVERRIDE in shown.stdout and STAGING_KEY not in shown.stdout
    assert "overrides" not in shown.stderr  # the env store: the variable is the store
    monkeypatch.delenv("BP_INTEGRATE_PROD_PAGERDUTY_INTEGRATION_KEY")
    shown = invoke(runner, "-p", "prod", "show", "pagerduty", "--show-secrets")
    assert shown.exit_code == 4
    assert "BP_INTEGRATE_PROD_PAGERDUTY_INTEGRATION_KEY" in shown.stderr


def test_a_target_api_key_and_the_bigpanda_key_are_read_per_profile(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keys install and uninstall use to make a target's side by API follow the same
    rule: a shared variable (a staging shell's) never reaches a named profile."""
    from bp_integrate.commands.sides import api_key_env, api_key_for, bigpanda_key
    from bp_integrate.integrations import get

    spec = get("pagerduty")
    side = spec.target_side
    assert side is not None
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_API_KEY", "shared-pd-key")
    monkeypatch.setenv("BP_INTEGRATE_BIGPANDA_API_KEY", "shared-bp-key")

    assert api_key_env(spec, "prod") == "BP_INTEGRATE_PROD_PAGERDUTY_API_KEY"
    assert api_key_for(spec, side, "prod") is None
    assert bigpanda_key("prod") is None
    # The default profile still reads the shared names.
    assert api_key_for(spec, side, "default") == (
        "shared-pd-key",
        "BP_INTEGRATE_PAGERDUTY_API_KEY",
    )
    assert bigpanda_key("default") == ("shared-bp-key", "BP_INTEGRATE_BIGPANDA_API_KEY")

    monkeypatch.setenv("BP_INTEGRATE_PROD_PAGERDUTY_API_KEY", "prod-pd-key")
    monkeypatch.setenv("BP_INTEGRATE_PROD_BIGPANDA_API_KEY", "prod-bp-key")
    assert api_key_for(spec, side, "prod") == (
        "prod-pd-key",
        "BP_INTEGRATE_PROD_PAGERDUTY_API_KEY",
    )
    assert bigpanda_key("prod") == ("prod-bp-key", "BP_INTEGRATE_PROD_BIGPANDA_API_KEY")


@pytest.mark.parametrize(
    ("store", "variable", "kept", "expected"),
    [
        ("keyring", None, "stored-key", "stored-key"),
        ("file", None, "stored-key", "stored-key"),
        ("keyring", "env-key", "stored-key", "env-key"),
        # A variable find() refuses (a line break in it) is not set, for every command.
        ("keyring", "env-key\n", None, None),
        # The env store keeps nothing: a keyring entry left from an earlier store is not
        # the key (install and show used to read it; verify-setup did not).
        ("env", None, "left-over", None),
    ],
)
def test_install_show_and_verify_setup_find_the_same_bigpanda_key(
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    store: str,
    variable: str | None,
    kept: str | None,
    expected: str | None,
) -> None:
    """One lookup of the profile's User API key (secrets.find_available): what install
    and show use to reach BigPanda's side is what verify-setup finds."""
    from bp_integrate import config
    from bp_integrate.commands.sides import bigpanda_key
    from bp_integrate.commands.verify_setup import _secret_from
    from bp_integrate.secrets import as_store_kind, entry_name, open_store

    cfg = config.load()
    cfg.set_bigpanda("default", {"api_key_store": store, "api_key_stored": store != "env"})
    cfg.save()
    if kept is not None:
        kind = "file" if store == "file" else "keyring"
        open_store(kind).set(entry_name("default", "bigpanda", "api_key"), kept)
    if variable is not None:
        monkeypatch.setenv("BP_INTEGRATE_BIGPANDA_API_KEY", variable)

    found = bigpanda_key("default")
    key, _source = _secret_from(False, "", "api_key", "default", as_store_kind(store))
    assert (found[0] if found else None) == key == expected
