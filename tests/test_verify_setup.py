"""`verify-setup`: everything verify needs in one sitting, then one `verify` passes
every hop against the emulator, from a fresh config, without curl (issue 15 item 5)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import CFG, MemoryKeyring, cli, install, invoke
from typer.testing import CliRunner

from bp_integrate.emulator import EmulatorServer

SHARED = ("pagerduty", "xmatters", "incidentio")
CANARY_FILTER = 'bp_integrate_canary = "true"'


def readback_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_READBACK_API_KEY", CFG.pagerduty_rest_api_key)
    monkeypatch.setenv("BP_INTEGRATE_INCIDENTIO_READBACK_API_KEY", CFG.incidentio_api_key)
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_READBACK_USERNAME", CFG.xmatters_rest_username)
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_READBACK_PASSWORD", CFG.xmatters_rest_password)


def scripted_setup(emu: EmulatorServer, *extra: str, stdin: str | None = None) -> Any:
    secrets = stdin if stdin is not None else f"{CFG.bigpanda_api_key}\n{CFG.bigpanda_org_token}\n"
    return invoke(
        CliRunner(),
        "verify-setup",
        "--no-input",
        "--region",
        emu.base_url,
        "--api-key-stdin",
        "--org-token-stdin",
        "--canary-app-key",
        CFG.bigpanda_app_key,
        *extra,
        input=secrets,
    )


def environments(emu: EmulatorServer, key: str = CFG.bigpanda_api_key) -> list[dict[str, Any]]:
    import httpx

    answer = httpx.get(
        emu.base_url + "/resources/v2.0/environments", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert isinstance(body, list)  # BigPanda's documented shape: a bare array
    return body


def test_scripted_setup_then_one_verify_passes_every_hop(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    for name in SHARED:
        install(emu, name, monkeypatch)
    readback_env(monkeypatch)
    result = scripted_setup(
        emu, "--create-environment", "bp-integrate canary", "--readback", "--json"
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    env = doc["environment"]
    assert env["created"] is True and env["name"] == "bp-integrate canary"
    # Created through BigPanda's Environments API, with a filter matching only the canary.
    [made] = [e for e in environments(emu) if e["id"] == env["id"]]
    assert made["filter"] == CANARY_FILTER
    assert sorted(doc["autoshare_registered"]) == sorted(SHARED)
    # The secrets went to the keyring, never to the settings file.
    kept = set(memory_keyring.entries.values())
    assert {CFG.bigpanda_api_key, CFG.bigpanda_org_token} <= kept
    from bp_integrate import config

    settings = config.load().bigpanda("default")
    assert settings["environment_id"] == env["id"]
    text = config.config_path().read_text(encoding="utf-8")
    assert CFG.bigpanda_org_token not in text and CFG.bigpanda_api_key not in text
    # One verify, no other flag, no curl: every hop passes.
    verified = cli("verify", "--json", "--timeout", "5")
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    hops = json.loads(verified.stdout)["hops"]
    assert {h["status"] for h in hops} == {"passed"}, hops
    assert {h["integration"] for h in hops if h["hop"] == "resolved"} == set(SHARED)


def test_a_second_setup_reuses_the_canary_environment(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    install(emu, "pagerduty", monkeypatch)
    first = scripted_setup(emu, "--create-environment", "bp-integrate canary", "--no-autoshare")
    assert first.exit_code == 0, first.stderr
    before = len(environments(emu))
    second = scripted_setup(emu, "--no-autoshare", "--json")
    assert second.exit_code == 0, second.stderr
    assert json.loads(second.stdout)["environment"]["created"] is False
    assert len(environments(emu)) == before


def test_an_environment_that_matches_more_than_the_canary_is_refused(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    install(emu, "pagerduty", monkeypatch)
    production = next(e for e in environments(emu) if e["name"] == "Production")
    result = scripted_setup(emu, "--environment", production["id"])
    assert result.exit_code == 3
    assert "does not match only the canary" in result.stderr
    assert "Never change the filter" in result.stderr
    # Nothing saved: a refused set-up leaves the profile as it was.
    from bp_integrate import config

    assert "environment_id" not in config.load().bigpanda("default")


def test_a_wrong_key_is_refused_at_once_naming_the_region(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    install(emu, "pagerduty", monkeypatch)
    result = scripted_setup(emu, stdin="not-the-key\norg\n")
    assert result.exit_code != 0
    assert "401" in result.stderr and "region" in result.stderr
    assert len(environments(emu)) == 2  # nothing created


def test_no_input_without_an_answer_names_the_flag(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    install(emu, "pagerduty", monkeypatch)
    result = scripted_setup(emu)  # no environment chosen, none to reuse
    assert result.exit_code == 2
    assert "--create-environment NAME" in result.stderr


def test_dry_run_creates_and_stores_nothing(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    install(emu, "pagerduty", monkeypatch)
    result = scripted_setup(emu, "--create-environment", "canary", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "would create environment 'canary'" in result.stderr + result.stdout
    assert len(environments(emu)) == 2
    assert emu.state.snapshot()["bigpanda"]["autoshare_rules"] == []
    from bp_integrate import config

    assert "environment_id" not in config.load().bigpanda("default")


def test_verify_with_several_settings_missing_names_them_all(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    install(emu, "pagerduty", monkeypatch)
    result = cli("verify")
    assert result.exit_code == 4
    for wanted in ("User API key", "org token", "canary app key", "canary-only BigPanda"):
        assert wanted in result.stderr, result.stderr
    assert "verify needs 4 more settings" in result.stderr
    assert "bp-integrate verify-setup" in result.stderr


def test_maintenance_step_passes_and_removes_its_plan(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    install(emu, "pagerduty", monkeypatch)
    readback_env(monkeypatch)
    setup = scripted_setup(emu, "--create-environment", "bp-integrate canary", "--readback")
    assert setup.exit_code == 0, setup.stderr
    result = cli("verify", "--maintenance", "--json", "--timeout", "3")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    [step] = [h for h in doc["hops"] if h["hop"] == "maintenance"]
    assert step["status"] == "passed", step
    assert any("maintenance plan" in line and "removed" in line for line in doc["cleanup"])
    plans = emu.state.snapshot()["bigpanda"].get("maintenance_plans", [])
    assert all(p.get("deleted") or p.get("stopped") for p in plans) or plans == []


def test_interactive_setup_through_a_real_terminal(emu: EmulatorServer, tmp_path: Any) -> None:
    """A person at a terminal: every answer typed, secrets hidden, the environment
    created after a yes, read-back checked, the AutoShare rule registered; then verify."""
    import os
    from pathlib import Path

    pexpect = pytest.importorskip("pexpect")
    from test_wizard_pty import spawn

    tests = str(Path(__file__).parent)
    extra = {
        "BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY": "0123456789abcdef0123456789abcdef",
        # The child cannot share this process's MemoryKeyring: a file-backed one.
        "PYTHON_KEYRING_BACKEND": "file_keyring.FileKeyring",
        "BP_TEST_KEYRING_FILE": str(tmp_path / "keyring.json"),
        "PYTHONPATH": tests + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }

    def run(*args: str) -> Any:
        child = spawn(tmp_path, *args, columns=100, extra_env=extra)
        child.timeout = 30
        return child

    child = run(
        "install",
        "pagerduty",
        "--no-input",
        "--no-verify",
        "--secret-store",
        "env",
        "--set",
        f"events_url={emu.urls['pagerduty_events']}",
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    child = run("verify-setup", "--region", emu.base_url)
    child.expect_exact("BigPanda User API key")
    child.expect_exact(":")
    child.sendline(CFG.bigpanda_api_key)
    child.expect_exact("it sees 2 environment(s)")
    child.expect_exact("[Y/n]")  # create the canary-only environment?
    child.sendline("")
    child.expect_exact("BigPanda org token")
    child.expect_exact(":")
    child.sendline(CFG.bigpanda_org_token)
    child.expect_exact("Canary app key")
    child.expect_exact(":")
    child.sendline(CFG.bigpanda_app_key)
    child.expect_exact("read-back credentials")
    child.expect_exact("[Y/n]")
    child.sendline("y")
    child.expect_exact("PagerDuty REST API key")
    child.expect_exact(":")
    child.sendline(CFG.pagerduty_rest_api_key)
    child.expect_exact("verify is set up")
    child.expect(pexpect.EOF)
    transcript = child.logfile_read.getvalue()
    child.close()
    assert child.exitstatus == 0, transcript
    assert "To undo the environment later" in transcript  # what it created, and how
    for secret in (CFG.bigpanda_api_key, CFG.bigpanda_org_token, CFG.pagerduty_rest_api_key):
        assert secret not in transcript  # hidden input: never echoed
    child = run("verify", "--timeout", "5")
    child.expect(pexpect.EOF)
    out = child.before or ""
    child.close()
    assert child.exitstatus == 0, out
    assert "✗" not in out and "PagerDuty resolved it" in out


def test_a_named_profile_keeps_its_readback_in_the_file_store_and_is_named(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, no_keyring: None
) -> None:
    from test_verify import setup_profile, store_readback

    setup_profile(emu, monkeypatch, "emulator")
    stored = store_readback("emulator", CFG.pagerduty_rest_api_key, "--insecure-storage")
    assert stored.exit_code == 0, stored.stderr
    result = invoke(
        CliRunner(), "-p", "emulator", "verify-setup", "--no-input", "--insecure-storage",
        "--canary-app-key", CFG.bigpanda_app_key, "--create-environment", "canary",
    )  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    said = " ".join(result.stderr.split())
    assert "PagerDuty: read-back credentials already set" in said
    assert said.endswith("Run: bp-integrate --profile emulator verify"), said
