"""`verify` end to end against the emulator's BigPanda core: every hop, every fault."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import CFG, PD_KEY, MemoryKeyring, cli, install, invoke
from typer.testing import CliRunner

from bp_integrate.emulator import EmulatorServer

ENV = "64f0c0de0000000000000001"
SHARED = ("pagerduty", "xmatters", "incidentio")
FAST = ("--timeout", "3")


def readback_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_READBACK_API_KEY", CFG.pagerduty_rest_api_key)
    monkeypatch.setenv("BP_INTEGRATE_INCIDENTIO_READBACK_API_KEY", CFG.incidentio_api_key)
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_READBACK_USERNAME", CFG.xmatters_rest_username)
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_READBACK_PASSWORD", CFG.xmatters_rest_password)


def setup(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    names: tuple[str, ...] = SHARED,
    rule: dict[str, Any] | None = None,
    readback: bool = True,
) -> None:
    """Install against the emulator, point the profile at it, and create the AutoShare
    rules an admin would (with the installed values: what BigPanda was told)."""
    for name in names:
        install(emu, name, monkeypatch)
    assert cli("profile", "set", "--region", emu.base_url).exit_code == 0
    monkeypatch.setenv("BP_INTEGRATE_BIGPANDA_API_KEY", CFG.bigpanda_api_key)
    monkeypatch.setenv("BP_INTEGRATE_BIGPANDA_ORG_TOKEN", CFG.bigpanda_org_token)
    if readback:
        readback_env(monkeypatch)
    autoshare(emu, "default", rule)


def autoshare(emu: EmulatorServer, profile: str, rule: dict[str, Any] | None = None) -> None:
    """The AutoShare rules an admin would create, with the profile's installed values."""
    from bp_integrate.engine.plan import load_targets

    for target in load_targets(profile).targets:
        body = {
            "environment_id": ENV,
            "integration": target.name,
            "values": target.values,
            "tag": "bp_integrate_canary",
            **(rule or {}),
        }
        assert httpx.post(emu.base_url + "/_bigpanda/autoshare", json=body).status_code == 201


def setup_profile(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, profile: str) -> None:
    """`setup` of PagerDuty alone in a profile other than default: its own variables."""
    from bp_integrate.secrets import env_var

    monkeypatch.setenv(env_var("pagerduty", "integration_key", profile), PD_KEY)
    events = f"events_url={emu.urls['pagerduty_events']}"
    installed = cli(
        "-p", profile, "install", "pagerduty", "--no-input", "--no-verify",
        "--secret-store", "env", "--set", events,
    )  # fmt: skip
    assert installed.exit_code == 0, installed.stderr
    assert cli("-p", profile, "profile", "set", "--region", emu.base_url).exit_code == 0
    monkeypatch.setenv(env_var("bigpanda", "api_key", profile), CFG.bigpanda_api_key)
    monkeypatch.setenv(env_var("bigpanda", "org_token", profile), CFG.bigpanda_org_token)
    autoshare(emu, profile)


def store_readback(profile: str, key: str, *store: str) -> Any:
    """`profile set --readback pagerduty` with the key piped, as the user runs it."""
    argv = ("-p", profile, "profile", "set", "--readback", "pagerduty", *store)
    return invoke(CliRunner(), *argv, input=key + "\n")


def verify(*args: str, profile: str = "default") -> Any:
    argv = ("-p", profile, "verify", "--app-key", CFG.bigpanda_app_key, "--environment", ENV)
    return cli(*argv, *args)


def hops(result: Any) -> list[tuple[str, str | None, str]]:
    doc = json.loads(result.stdout)
    return [(h["hop"], h["integration"], h["status"]) for h in doc["hops"]]


def incidents(emu: EmulatorServer) -> list[dict[str, Any]]:
    return list(emu.state.snapshot()["bigpanda"]["incidents"])


def test_verify_passes_every_hop_for_every_integration(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup(emu, monkeypatch)
    result = verify("--json", *FAST)
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["canary_host"].startswith("bp-integrate-canary-")
    got = hops(result)
    assert got[:3] == [
        ("preflight", None, "passed"),
        ("alert", None, "passed"),
        ("incident", None, "passed"),
    ]
    for name in SHARED:
        for hop in ("shared", "landed", "resolved"):
            assert (hop, name, "passed") in got, (hop, name, got)
    assert ("closed", None, "passed") in got
    # What the targets hold is what the chain says: each resolved, keyed on the incident.
    state = emu.state.snapshot()
    incident_id = doc["incident_id"]
    assert [a["status"] for a in state["pagerduty"]["alerts"] if a["dedup_key"] == incident_id] == [
        "resolved"
    ]
    assert [a["status"] for a in state["incidentio"]["alerts"]] == ["resolved"]
    assert incidents(emu)[0]["active"] is False


def test_text_report_marks_each_hop(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup(emu, monkeypatch, names=("pagerduty",))
    result = verify(*FAST)
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("✓ PagerDuty received it") for line in lines)
    assert any(line.startswith("✓ PagerDuty resolved it") for line in lines)


def test_without_readback_credentials_the_target_hops_are_not_checked(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup(emu, monkeypatch, names=("pagerduty",), readback=False)
    result = verify("--json", *FAST)
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    landed = next(h for h in doc["hops"] if h["hop"] == "landed")
    assert landed["status"] == "not_checked"
    assert "BP_INTEGRATE_PAGERDUTY_READBACK_API_KEY" in landed["detail"]
    assert ("shared", "pagerduty", "passed") in hops(result)


def test_no_autoshare_rule_names_the_rule_to_create_and_cleans_up(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup(emu, monkeypatch, names=("pagerduty",), rule={"drop": True})
    result = verify("--json", "--timeout", "1")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    shared = next(h for h in doc["hops"] if h["hop"] == "shared")
    assert shared["status"] == "failed"
    assert "Settings -> AutoShare -> New rule" in shared["hint"]
    assert f"Environment: Production ({ENV})" in shared["hint"]
    assert "Share with: PagerDuty" in shared["hint"]
    assert 'bp_integrate_canary = "true"' in shared["hint"]
    assert "verify-setup" in shared["hint"]  # never: change Production's condition
    # Clean-up: the canary was resolved, so BigPanda closed its incident.
    assert incidents(emu)[0]["active"] is False
    assert not emu.state.snapshot()["pagerduty"]["alerts"]


def test_a_share_slower_than_the_timeout_fails_that_hop(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup(emu, monkeypatch, names=("incidentio",), rule={"delay": 3})
    result = verify("--json", "--timeout", "1")
    assert result.exit_code == 1
    assert ("shared", "incidentio", "failed") in hops(result)
    assert ("landed", "incidentio", "not_checked") in hops(result)


def test_rate_limited_calls_wait_and_succeed(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup(emu, monkeypatch, names=("pagerduty",))
    fault = {"path_prefix": "/resources/v2.0/environments/", "status": 429, "times": 2}
    fault["headers"] = {"Retry-After": "0"}
    assert httpx.post(emu.base_url + "/_faults", json=fault).status_code == 201
    result = verify("--json", *FAST)
    assert result.exit_code == 0, result.stdout
    statuses = [r.status for r in emu.state.records() if r.route == "bigpanda_search"]
    assert statuses[:3] == [429, 429, 200]


def test_search_500_on_a_tagged_environment_names_the_fix_and_cleans_up(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup(emu, monkeypatch, names=("pagerduty",))
    tagged = {"id": "tagged-env", "name": "Tagged", "incident_tags": True}
    assert httpx.post(emu.base_url + "/_bigpanda/environments", json=tagged).status_code == 201
    result = cli(
        "verify", "--app-key", CFG.bigpanda_app_key, "--environment", "tagged-env", "--json", *FAST
    )
    assert result.exit_code == 6  # REJECTED: BigPanda answered an error
    doc = json.loads(result.stdout)
    incident = next(h for h in doc["hops"] if h["hop"] == "incident")
    assert incident["status"] == "failed"
    assert "incident tags" in incident["hint"]
    assert doc["cleanup"] == [f"canary alert on {doc['canary_host']} resolved"]
    assert incidents(emu)[0]["active"] is False


def test_wrong_region_is_a_401_naming_the_region(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup(emu, monkeypatch, names=("pagerduty",))
    assert httpx.post(emu.base_url + "/_bigpanda/region", json={"wrong": True}).status_code == 200
    result = verify(*FAST)
    assert result.exit_code == 6
    assert "401" in result.stderr
    assert "--region us|eu" in result.stderr
    assert not incidents(emu)  # nothing was sent


def test_wrong_app_key_fails_the_alert_hop(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup(emu, monkeypatch, names=("pagerduty",))
    result = cli("verify", "--app-key", "not-the-key", "--environment", ENV, "--json", *FAST)
    assert result.exit_code == 6
    alert = json.loads(result.stdout)["hops"][1]
    assert (alert["hop"], alert["status"]) == ("alert", "failed")
    assert "--canary-app-key" in alert["hint"]


def test_missing_settings_name_the_fix(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    install(emu, "pagerduty", monkeypatch)
    monkeypatch.setenv("BP_INTEGRATE_BIGPANDA_API_KEY", CFG.bigpanda_api_key)
    result = cli("verify")
    assert result.exit_code == 4
    assert "org token" in result.stderr
    assert "--org-token-stdin" in result.stderr
    monkeypatch.setenv("BP_INTEGRATE_BIGPANDA_ORG_TOKEN", CFG.bigpanda_org_token)
    result = cli("verify")
    assert result.exit_code == 3
    assert "--canary-app-key" in result.stderr
    result = cli("verify", "--app-key", "k")
    assert result.exit_code == 3
    assert "--environment" in result.stderr


def test_unknown_environment_lists_what_the_key_sees(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup(emu, monkeypatch, names=("pagerduty",))
    result = cli("verify", "--app-key", CFG.bigpanda_app_key, "--environment", "nope")
    assert result.exit_code == 3
    assert f"{ENV} (Production)" in result.stderr


def test_unknown_environment_hints_name_the_profile(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    """Followed as printed, the fix acts on the profile verify ran for."""
    from bp_integrate.integrations import get
    from bp_integrate.verify import autoshare_rule_hint

    setup_profile(emu, monkeypatch, "emulator")
    result = cli(
        "-p", "emulator", "verify", "--app-key", CFG.bigpanda_app_key, "--environment", "nope"
    )  # fmt: skip
    assert result.exit_code == 3
    said = " ".join(result.stderr.split())
    assert (
        "Set the right id: bp-integrate --profile emulator profile set --environment ID, or "
        "let bp-integrate --profile emulator verify-setup create a canary-only environment."
    ) in said
    rule = autoshare_rule_hint(get("pagerduty"), ENV, "canary", "emulator")
    assert "`bp-integrate --profile emulator verify-setup` creates such an environment" in rule


def test_junit_report_has_one_case_per_hop_and_validates(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    tmp_path: Path,
) -> None:
    setup(emu, monkeypatch, names=("pagerduty",), rule={"drop": True})
    report = tmp_path / "verify.xml"
    result = verify("--json", "--timeout", "1", "--junit", str(report))
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    from junit_schema import validate

    root = validate(report.read_text("utf-8"))
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(doc["hops"])
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["shared: BigPanda shared it with PagerDuty"]
    assert root.find("testsuite").get("failures") == "1"


def test_profile_set_stores_what_verify_needs(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    from helpers import invoke
    from typer.testing import CliRunner

    setup(emu, monkeypatch, names=("pagerduty",), readback=False)
    monkeypatch.delenv("BP_INTEGRATE_BIGPANDA_ORG_TOKEN")
    runner = CliRunner()
    result = invoke(
        runner,
        "profile",
        "set",
        "--org-token-stdin",
        "--canary-app-key",
        CFG.bigpanda_app_key,
        "--environment",
        ENV,
        input=CFG.bigpanda_org_token + "\n",
    )
    assert result.exit_code == 0, result.stderr
    result = invoke(
        runner, "profile", "set", "--readback", "pagerduty", input=CFG.pagerduty_rest_api_key + "\n"
    )
    assert result.exit_code == 0, result.stderr
    # Secrets in the keyring, never in the settings file.
    assert CFG.bigpanda_org_token in memory_keyring.entries.values()
    assert CFG.pagerduty_rest_api_key in memory_keyring.entries.values()
    from bp_integrate.config import config_path

    text = config_path().read_text("utf-8")
    assert CFG.bigpanda_org_token not in text and CFG.pagerduty_rest_api_key not in text
    result = cli("verify", "--json", *FAST)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert ("landed", "pagerduty", "passed") in hops(result)


def test_ctrl_c_cleans_up_the_canary(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup(emu, monkeypatch, names=("pagerduty",))

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("bp_integrate.bigpanda.api.BigPandaClient.activities", interrupted)
    result = verify(*FAST)
    assert result.exit_code == 130
    assert "cleanup: canary alert on bp-integrate-canary-" in result.stderr
    [incident] = incidents(emu)
    assert incident["active"] is False  # the canary was resolved, so BigPanda closed it


def test_no_secret_reaches_the_output(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup(emu, monkeypatch)
    result = verify("--json", *FAST)
    assert result.exit_code == 0
    shown = result.stdout + result.stderr
    for secret in (
        CFG.bigpanda_api_key,
        CFG.bigpanda_org_token,
        CFG.pagerduty_rest_api_key,
        CFG.incidentio_api_key,
        CFG.xmatters_rest_password,
    ):
        assert secret not in shown


def test_demo_ends_with_a_verify_of_every_shared_integration() -> None:
    result = cli("demo", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    verified = doc["verify"]
    assert verified["ok"] is True
    got = {(h["hop"], h["integration"], h["status"]) for h in verified["hops"]}
    for name in SHARED:
        for hop in ("shared", "landed", "resolved"):
            assert (hop, name, "passed") in got
    # Panopta is pasted into Panopta, not shared by BigPanda: not part of the chain.
    assert not any(h["integration"] == "panopta" for h in verified["hops"])


def test_an_app_key_on_the_command_line_is_warned_about(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup(emu, monkeypatch, names=("pagerduty",))
    result = verify("--json", *FAST)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "--app-key puts the App Key on the command line" in result.stderr
    assert "profile set --canary-app-key-stdin" in result.stderr
    assert CFG.bigpanda_app_key not in result.stdout + result.stderr  # never echoed


def test_readback_kept_in_the_file_store_is_read_back_in_a_named_profile(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, no_keyring: None, isolated: Path
) -> None:
    """No keyring: `profile set --readback --insecure-storage` keeps the key in the plain-text
    file, and verify, `profile show`, `doctor` and `show --remote` take it from there."""
    setup_profile(emu, monkeypatch, "emulator")
    stored = store_readback("emulator", CFG.pagerduty_rest_api_key, "--insecure-storage")
    assert stored.exit_code == 0, stored.stderr
    assert "PagerDuty read-back credentials stored in the plain-text file." in stored.stderr
    result = verify("--json", *FAST, profile="emulator")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert ("landed", "pagerduty", "passed") in hops(result)
    assert ("resolved", "pagerduty", "passed") in hops(result)
    sent = cli("-p", "emulator", "send-test", "new", "--to", "pagerduty", "--verify", "--json")
    assert [r["status"] for r in json.loads(sent.stdout)["readback"]] == ["passed"], sent.stdout

    shown = cli("-p", "emulator", "profile", "show")
    assert "read-back credentials: pagerduty (file)" in shown.stdout, shown.stdout
    doctor = json.loads(cli("-p", "emulator", "doctor", "--no-network", "--json").stdout)
    [check] = [c for c in doctor["checks"] if c["name"] == "readback_api_key (read-back)"]
    secrets_file = isolated / "INSECURE-plaintext-secrets.json"
    assert (check["status"], check["detail"]) == ("ok", f"present  [file {secrets_file}]")
    # install/uninstall/show --remote reach PagerDuty's REST API with the read-back key.
    remote = cli("-p", "emulator", "show", "pagerduty", "--remote")
    assert "holds no Events API v2 integration" in remote.stderr, remote.stderr
    assert CFG.pagerduty_rest_api_key not in remote.stdout + remote.stderr


def test_a_readback_key_the_file_lost_is_said_by_profile_show_and_doctor(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, no_keyring: None, isolated: Path
) -> None:
    setup_profile(emu, monkeypatch, "emulator")
    assert store_readback("emulator", "some-rest-key", "--insecure-storage").exit_code == 0
    secrets_file = isolated / "INSECURE-plaintext-secrets.json"
    kept = json.loads(secrets_file.read_text())
    del kept["secrets"]["emulator/pagerduty/readback_api_key"]
    secrets_file.write_text(json.dumps(kept))
    fix = "bp-integrate --profile emulator profile set --readback pagerduty"
    shown = cli("-p", "emulator", "profile", "show")
    assert "read-back credentials: pagerduty (not set)" in shown.stdout
    assert "is not in the file store" in shown.stderr and fix in shown.stderr
    doc = json.loads(cli("-p", "emulator", "profile", "show", "--json").stdout)
    assert [m["field"] for m in doc["missing_secrets"]] == ["pagerduty.readback_api_key"]
    doctor = json.loads(cli("-p", "emulator", "doctor", "--no-network", "--json").stdout)
    [check] = [c for c in doctor["checks"] if c["name"] == "readback_api_key (read-back)"]
    assert check["status"] == "warn" and check["fix"] == fix
    assert "recorded as stored in the file store" in check["detail"]


def test_readback_hints_name_the_profile(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup_profile(emu, monkeypatch, "emulator")
    fix = "bp-integrate --profile emulator profile set --readback pagerduty"
    result = verify("--json", *FAST, profile="emulator")
    assert result.exit_code == 0, result.stdout + result.stderr
    landed = next(h for h in json.loads(result.stdout)["hops"] if h["hop"] == "landed")
    assert landed["status"] == "not_checked"
    assert f"(or store it: {fix})" in landed["detail"]
    assert "BP_INTEGRATE_EMULATOR_PAGERDUTY_READBACK_API_KEY" in landed["detail"]
    stored_once = "store it once instead: bp-integrate --profile emulator profile set --canary"
    assert stored_once in " ".join(result.stderr.split())  # the --app-key warning's fix
    sent = cli("-p", "emulator", "send-test", "new", "--to", "pagerduty", "--verify", "--json")
    [line] = json.loads(sent.stdout)["readback"]
    assert f"(or store it: {fix})" in line["detail"]


def test_a_refused_readback_key_names_the_profile_command_to_store_it_again(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup_profile(emu, monkeypatch, "emulator")
    fix = "bp-integrate --profile emulator profile set --readback pagerduty"
    assert store_readback("emulator", "not-the-rest-key-0000").exit_code == 0
    refused = verify("--json", *FAST, profile="emulator")
    landed = next(h for h in json.loads(refused.stdout)["hops"] if h["hop"] == "landed")
    assert landed["status"] == "failed", landed
    assert "refused the read-back credentials (401)" in landed["detail"]
    assert landed["hint"].endswith(f"(or store them again: {fix})"), landed["hint"]


def test_install_keeps_readback_where_verify_reads_it(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, no_keyring: None, isolated: Path
) -> None:
    """A profile whose verify secrets are in the plain-text file: read-back credentials
    that install keeps (its opt-in, or a key given to --by-api) go there too, not to the
    keyring, where verify would no longer look."""
    from bp_integrate import config
    from bp_integrate.commands.install import keep_readback
    from bp_integrate.integrations import get
    from bp_integrate.readback import find_creds

    setup_profile(emu, monkeypatch, "emulator")
    assert store_readback("emulator", "first-rest-key", "--insecure-storage").exit_code == 0
    stored, kind = keep_readback(
        "emulator", get("pagerduty"), {"readback_api_key": CFG.pagerduty_rest_api_key}
    )
    assert (stored, kind) == (["readback_api_key"], "file")
    found = find_creds(get("pagerduty"), "emulator", config.load())
    assert found["readback_api_key"].value == CFG.pagerduty_rest_api_key
