"""The smaller items around orphans and races: a lost race refuses with a clear message,
wrong-typed config sections name the file and the fix, doctor survives hand-edited
settings and a dangling config folder, verify's secrets are listed with the profile's,
a copy without secrets says what it left to set, and a region typo gets a suggestion."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import PD_KEY, cli, invoke
from typer.testing import CliRunner

from bp_integrate import config
from bp_integrate.errors import ConfigError, ExitCode
from bp_integrate.integrations import get
from bp_integrate.secrets import INSECURE_FILE

PD_URL = "https://events.pagerduty.com/v2/enqueue"
OTHER_KEY = "fedcba9876543210fedcba9876543210"


def install_pd(profile: str, monkeypatch: pytest.MonkeyPatch, key: str = PD_KEY) -> None:
    from bp_integrate.secrets import env_var

    monkeypatch.setenv(env_var("pagerduty", "integration_key", profile), key)
    result = cli(
        "-p", profile, "install", "pagerduty", "--no-input", "--no-verify",
        "--insecure-storage", "--set", f"events_url={PD_URL}",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr


def stored(isolated: Path) -> dict[str, str]:
    path = isolated / INSECURE_FILE
    return json.loads(path.read_text("utf-8"))["secrets"] if path.exists() else {}


def test_a_save_that_lost_the_race_to_a_rename_refuses_and_changes_nothing(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bp_integrate.store import remove, save

    install_pd("p", monkeypatch)
    snapshot = config.load()  # what a slow install or uninstall read
    assert cli("profile", "rename", "p", "q").exit_code == 0
    before = (isolated / "config.yaml").read_text("utf-8"), stored(isolated)
    values = {"events_url": PD_URL, "integration_key": OTHER_KEY}
    with pytest.raises(ConfigError) as error:
        save(snapshot, get("pagerduty"), "p", values, "file")
    assert error.value.code == ExitCode.CONFIG
    assert "Profile 'p' was renamed or deleted by another bp-integrate command" in str(error.value)
    with pytest.raises(ConfigError, match="renamed or deleted"):
        remove(snapshot, get("pagerduty"), "p")
    assert ((isolated / "config.yaml").read_text("utf-8"), stored(isolated)) == before
    assert "p" not in config.load().profile_names()


def test_a_set_over_an_install_changed_meanwhile_refuses(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bp_integrate.store import save

    install_pd("p", monkeypatch)
    snapshot = config.load()
    install_pd("p", monkeypatch, key=OTHER_KEY)  # another install lands first
    values = {"events_url": PD_URL, "integration_key": PD_KEY}
    with pytest.raises(ConfigError, match="PagerDuty in profile 'p' was changed"):
        save(snapshot, get("pagerduty"), "p", values, "file")
    assert list(stored(isolated).values()) == [OTHER_KEY]


def test_integrations_null_then_install_names_the_file_and_the_fix(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolated.mkdir(mode=0o700, exist_ok=True)
    path = isolated / "config.yaml"
    path.write_text("version: 1\nprofiles:\n  default:\n    integrations: null\n")
    path.chmod(0o600)
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY", PD_KEY)
    result = cli("install", "pagerduty", "--no-input", "--no-verify", "--insecure-storage")
    assert result.exit_code == ExitCode.CONFIG, result.stderr
    assert str(path) in result.stderr
    assert "'integrations' empty (null)" in result.stderr
    assert "integrations: {}" in result.stderr
    assert "unexpected" not in result.stderr
    path.write_text("version: 1\nprofiles:\n  default:\n    bigpanda: [us]\n")
    result = cli("list")
    assert result.exit_code == ExitCode.CONFIG
    assert "'bigpanda' a list" in result.stderr


def test_doctor_without_network_survives_a_panopta_v11_install_without_its_outage_url(
    isolated: Path,
) -> None:
    isolated.mkdir(mode=0o700, exist_ok=True)
    path = isolated / "config.yaml"
    path.write_text(
        "version: 1\nprofiles:\n  default:\n    integrations:\n      panopta:\n"
        "        settings: {setup: v1.1, target: ''}\n        secret_store: file\n"
        "        secrets: []\n"
    )
    path.chmod(0o600)
    result = cli("doctor", "--no-network", "--json")
    doc = json.loads(result.stdout)
    failed = [c for c in doc["checks"] if c["status"] == "fail"]
    assert any(c["section"] == "panopta" and "outage_url" in c["detail"] for c in failed), failed
    assert result.exit_code == ExitCode.CONFIG
    assert "unexpected" not in result.stderr


def test_doctor_never_says_all_is_well_with_a_dangling_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = tmp_path / "linked-config"
    link.symlink_to(tmp_path / "gone")
    monkeypatch.setenv("BP_INTEGRATE_CONFIG_DIR", str(link))
    result = cli("doctor", "--no-network")
    assert result.exit_code == ExitCode.CONFIG
    assert "All is well" not in result.stdout + result.stderr
    assert "which does not exist" in result.stdout
    assert f"mkdir -p {tmp_path / 'gone'}" in result.stdout


def test_secret_entries_list_verify_secrets_in_their_store(isolated: Path) -> None:
    cfg = config.Config(isolated / "config.yaml", {"version": 1, "profiles": {}})
    cfg.set_bigpanda(
        "p",
        {
            "verify_store": "file",
            "org_token_stored": True,
            "canary_app_key_stored": True,
            "readback_stored": {"pagerduty": ["api_token"]},
        },
    )
    assert sorted(cfg.secret_entries("p")) == [
        ("file", "bigpanda", "canary_app_key"),
        ("file", "bigpanda", "org_token"),
        ("file", "pagerduty", "api_token"),
    ]


def test_doctor_keeps_verify_secrets_and_removes_only_orphans(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_pd("default", monkeypatch)
    result = cli(
        "profile", "set", "--canary-app-key", "canary-0123456789", "--insecure-storage"
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    secrets = stored(isolated)
    secrets["gone/pagerduty/integration_key#3"] = OTHER_KEY
    (isolated / INSECURE_FILE).write_text(json.dumps({"secrets": secrets}))
    (isolated / ".config.yaml.abc123.tmp").write_text("half")
    assert cli("list").exit_code == 0  # a leftover temp file trips nothing
    result = cli("doctor", "--no-network", "--dry-run")
    assert "would remove: file entry gone/pagerduty/integration_key#3" in result.stdout
    assert "Dry run: nothing was removed" in result.stderr
    assert (isolated / ".config.yaml.abc123.tmp").exists()
    doc = json.loads(cli("doctor", "--no-network", "--json", "--yes").stdout)
    assert sorted(o["name"] for o in doc["orphans"]) == [
        str(isolated / ".config.yaml.abc123.tmp"),
        "gone/pagerduty/integration_key#3",
    ]
    assert sorted(stored(isolated)) == [
        "default/bigpanda/canary_app_key",
        "default/pagerduty/integration_key",
    ]
    assert not (isolated / ".config.yaml.abc123.tmp").exists()
    assert OTHER_KEY not in json.dumps(doc)  # names only, never a value


def test_copy_without_secrets_says_what_to_set_and_status_marks_them_missing(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_pd("default", monkeypatch)
    result = cli("profile", "copy", "default", "stg")
    assert result.exit_code == 0, result.stderr
    assert "pagerduty cannot send from 'stg' until its secrets are given" in result.stderr
    assert "bp-integrate --profile stg set pagerduty integration_key --stdin" in result.stderr
    status = cli("-p", "stg", "status", "--json")
    assert status.exit_code == ExitCode.SECRETS
    [pd] = json.loads(status.stdout)["integrations"]
    assert pd["secrets"]["integration_key"]["status"] == "missing"
    args = ("-p", "stg", "set", "pagerduty", "integration_key", "--stdin")
    result = invoke(CliRunner(), *args, input=OTHER_KEY + "\n")
    assert result.exit_code == 0, result.stderr
    assert cli("-p", "stg", "status").exit_code == 0
    assert stored(isolated)["stg/pagerduty/integration_key#1"] == OTHER_KEY


def test_a_region_typo_suggests_the_close_one() -> None:
    result = cli("profile", "set", "--region", "euu")
    assert result.exit_code == ExitCode.USAGE
    assert "'euu' is not a BigPanda region." in result.stderr
    assert "Did you mean 'eu'?" in result.stderr


def test_an_uncontended_uninstall_removes_everything_and_exits_0(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_pd("p", monkeypatch)
    result = cli("-p", "p", "uninstall", "pagerduty", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["installed"] is True
    assert stored(isolated) == {}
    assert sorted(os.listdir(isolated)) == sorted([INSECURE_FILE, "config.yaml"])  # no temp
