"""Settings on disk (YAML, atomic, private) and secrets (keyring, env, 0600 file)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import PD_KEY, XM_URL, MemoryKeyring, invoke
from keyring.backend import KeyringBackend
from typer.testing import CliRunner

from bp_integrate import config
from bp_integrate.errors import ConfigError, SecretsError
from bp_integrate.fs import atomic_write
from bp_integrate.secrets import FileStore, KeyringStore, env_var

SERVICE = "bp-integrate"


def install(runner: CliRunner, *args: str, **env: str) -> Any:
    return invoke(runner, "install", *args, "--no-input", **env)


def all_bytes_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


# ------------------------------------------------------------------ the YAML
def test_settings_yaml_layout_and_permissions(
    runner: CliRunner, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    result = install(
        runner,
        "xmatters",
        "--set",
        f"trigger_url={XM_URL}?apiKey=****&recipients=jdoe",
        BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY="the-api-key-123",
    )
    assert result.exit_code == 0, result.stderr
    path = isolated / "config.yaml"
    assert isolated.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    item = data["profiles"]["default"]["integrations"]["xmatters"]
    assert item["settings"] == {
        "trigger_url": f"{XM_URL}?apiKey=****&recipients=jdoe",
        "auth": "url",
        "recipients": "",
    }
    assert item["secret_store"] == "keyring"
    assert item["secrets"] == ["trigger_url.apiKey"]
    assert memory_keyring.entries == {
        (SERVICE, "default/xmatters/trigger_url.apiKey"): "the-api-key-123"
    }
    # the key is nowhere under the config folder (no temp files left either)
    assert b"the-api-key-123" not in all_bytes_under(isolated)
    assert [p.name for p in isolated.iterdir()] == ["config.yaml"]


def test_profiles_are_separate(runner: CliRunner, memory_keyring: MemoryKeyring) -> None:
    env = {"BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY": PD_KEY}
    assert install(runner, "pagerduty", **env).exit_code == 0
    other = "a" * 32
    result = invoke(
        runner,
        "--profile",
        "prod",
        "install",
        "pagerduty",
        "--no-input",
        BP_INTEGRATE_PROD_PAGERDUTY_INTEGRATION_KEY=other,
    )
    assert result.exit_code == 0, result.stderr
    assert memory_keyring.entries == {
        (SERVICE, "default/pagerduty/integration_key"): PD_KEY,
        (SERVICE, "prod/pagerduty/integration_key"): other,
    }
    result = invoke(runner, "--profile", "a/b", "list")
    assert result.exit_code == 2
    assert "'a/b' is not a profile name." in result.stderr


def test_atomic_write_keeps_the_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "d" / "f.yaml"
    atomic_write(target, "old\n")
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.parent.stat().st_mode & 0o777 == 0o700

    def broken(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        atomic_write(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in target.parent.iterdir()] == ["f.yaml"]  # temp file cleaned up


# ------------------------------------------------------------- bad config
def test_corrupt_yaml_is_an_error_with_file_and_line_and_left_alone(
    runner: CliRunner, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    isolated.mkdir(parents=True)
    path = isolated / "config.yaml"
    text = "version: 1\nprofiles:\n  default:\n    bigpanda: {api_url: [oops\n"
    path.write_text(text, encoding="utf-8")
    for args in (
        ("list",),
        ("show", "xmatters"),
        ("install", "pagerduty", "--no-input"),
        ("uninstall", "pagerduty", "--yes"),
        ("profile", "show"),
        ("profile", "set", "--region", "eu"),
    ):
        result = invoke(runner, *args, BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=PD_KEY)
        assert result.exit_code == 3, args
        assert f"The config file is not valid YAML at {path}:5:1" in result.stderr
        assert "Nothing was changed." in result.stderr
        assert f"Fix {path} by hand" in result.stderr
        assert "Traceback" not in result.stderr
        assert path.read_text(encoding="utf-8") == text
    assert memory_keyring.entries == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list\n", "the top level is not a mapping"),
        ("profiles: [1]\n", "'profiles' is not a mapping"),
        ("profiles:\n  default:\n    integrations:\n      xmatters: 3\n", "is not a mapping"),
    ],
)
def test_malformed_config(runner: CliRunner, isolated: Path, text: str, message: str) -> None:
    isolated.mkdir(parents=True)
    (isolated / "config.yaml").write_text(text, encoding="utf-8")
    result = invoke(runner, "list")
    assert result.exit_code == 3
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_load_missing_file_is_empty(tmp_path: Path) -> None:
    cfg = config.load(tmp_path / "none.yaml")
    assert cfg.profile_names() == []
    with pytest.raises(ConfigError):
        (tmp_path / "dir.yaml").mkdir()
        config.load(tmp_path / "dir.yaml")


# ---------------------------------------------------------------- keyring
class BlockingKeyring(KeyringBackend):
    """A keyring whose calls never return (a locked Secret Service waiting on a prompt)."""

    priority = 10
    viable = False  # never the default keyring: only the fixture below installs it

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait(5)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self.release.wait(5)

    def delete_password(self, service: str, username: str) -> None:
        self.release.wait(5)


@pytest.fixture
def blocking_keyring() -> Iterator[BlockingKeyring]:
    import keyring

    previous = keyring.get_keyring()
    backend = BlockingKeyring()
    keyring.set_keyring(backend)
    yield backend
    backend.release.set()
    keyring.set_keyring(previous)


def test_keyring_timeout_is_an_error_naming_the_choices(
    runner: CliRunner, blocking_keyring: BlockingKeyring, isolated: Path
) -> None:
    import time

    started = time.monotonic()
    result = install(
        runner,
        "pagerduty",
        BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=PD_KEY,
        BP_INTEGRATE_KEYRING_TIMEOUT="0.2",
    )
    assert time.monotonic() - started < 3
    assert result.exit_code == 4
    assert "No working OS keyring: the keyring did not answer within 0.2 s" in result.stderr
    assert "--secret-store env" in result.stderr
    assert "--insecure-storage" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (isolated / "config.yaml").exists()


def test_keyring_store_timeout_direct(
    blocking_keyring: BlockingKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BP_INTEGRATE_KEYRING_TIMEOUT", "0.2")
    with pytest.raises(SecretsError, match=r"did not answer within 0\.2 s"):
        KeyringStore().get("default/xmatters/password")


def test_no_keyring_backend_is_never_a_silent_fallback(runner: CliRunner, isolated: Path) -> None:
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        result = install(runner, "pagerduty", BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=PD_KEY)
    finally:
        keyring.set_keyring(previous)
    assert result.exit_code == 4
    assert "No working OS keyring: no usable backend was found (Keyring)." in result.stderr
    assert "--secret-store env" in result.stderr
    assert "--insecure-storage" in result.stderr
    assert not isolated.exists() or not any(isolated.iterdir())


def test_keyring_failure_before_the_walkthrough_starts(runner: CliRunner, isolated: Path) -> None:
    """The admin is told before answering anything, not after the last step."""
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        result = invoke(runner, "install", "pagerduty", input="", BP_INTEGRATE_ASSUME_TTY="1")
    finally:
        keyring.set_keyring(previous)
    assert result.exit_code == 4
    assert "Step 1/" not in result.stderr


# ------------------------------------------------------- env and file stores
def test_env_store_keeps_nothing_and_reads_the_variable(
    runner: CliRunner, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    env = {"BP_INTEGRATE_INCIDENTIO_SECRET": "from-env-1"}
    result = install(
        runner,
        "incidentio",
        "--secret-store",
        "env",
        "--set",
        "callback_url=https://api.incident.io/v2/alert_events/bigpanda/x",
        **env,
    )
    assert result.exit_code == 0, result.stderr
    assert memory_keyring.entries == {}
    assert b"from-env-1" not in all_bytes_under(isolated)
    result = invoke(runner, "show", "incidentio", "--json", "--show-secrets", **env)
    assert json.loads(result.stdout)["webhook"]["headers"]["Authorization"] == "Bearer from-env-1"
    result = invoke(runner, "show", "incidentio", "--show-secrets")
    assert result.exit_code == 4
    assert "Set BP_INTEGRATE_INCIDENTIO_SECRET" in result.stderr


def test_insecure_storage_is_a_labelled_0600_file(
    runner: CliRunner, memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    result = install(
        runner, "pagerduty", "--insecure-storage", BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=PD_KEY
    )
    assert result.exit_code == 0, result.stderr
    assert "warning: --insecure-storage: secrets are kept in plain text" in result.stderr
    path = isolated / "INSECURE-plaintext-secrets.json"
    assert path.stat().st_mode & 0o777 == 0o600
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["WARNING"].startswith("Plain-text secrets written by bp-integrate")
    assert doc["secrets"] == {"default/pagerduty/integration_key": PD_KEY}
    assert memory_keyring.entries == {}
    assert PD_KEY not in (isolated / "config.yaml").read_text(encoding="utf-8")
    # an update without a store choice keeps the secrets where they are
    result = install(runner, "pagerduty", "--set", "override_tag=pd_key")
    assert result.exit_code == 0, result.stderr
    assert memory_keyring.entries == {}
    assert json.loads(path.read_text(encoding="utf-8"))["secrets"] == {
        "default/pagerduty/integration_key": PD_KEY
    }
    # moving to the keyring removes the plain-text copy; the moved secret is a new
    # generation of the install's secrets (`#1`): the settings switch to it in one write
    result = install(runner, "pagerduty", "--secret-store", "keyring")
    assert result.exit_code == 0, result.stderr
    assert memory_keyring.entries == {(SERVICE, "default/pagerduty/integration_key#1"): PD_KEY}
    assert json.loads(path.read_text(encoding="utf-8"))["secrets"] == {}


def test_bad_secret_store_choice(runner: CliRunner) -> None:
    result = install(runner, "pagerduty", "--secret-store", "vault")
    assert result.exit_code == 2
    assert "--secret-store 'vault' is unknown." in result.stderr
    result = install(runner, "pagerduty", "--secret-store", "env", "--insecure-storage")
    assert result.exit_code == 2
    assert "contradict each other" in result.stderr


def test_corrupt_insecure_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(SecretsError, match="Cannot read"):
        FileStore(path).get("a/b/c")


def test_env_var_names() -> None:
    assert env_var("xmatters", "password") == "BP_INTEGRATE_XMATTERS_PASSWORD"
    assert env_var("xmatters", "trigger_url.apiKey") == "BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY"


# --- a hand-edited or damaged config file -----------------------------------------


def test_config_that_is_not_utf8_is_a_clear_error(runner: CliRunner, isolated: Path) -> None:
    isolated.mkdir(parents=True)
    (isolated / "config.yaml").write_bytes(b"\xff\xfeprofiles: {}\n")
    result = invoke(runner, "list")
    assert result.exit_code == 3
    assert "is not UTF-8 text" in result.stderr
    assert "Traceback" not in result.stderr
    assert (isolated / "config.yaml").read_bytes() == b"\xff\xfeprofiles: {}\n"


def edit_settings(isolated: Path, integration: str, **changes: object) -> None:
    path = isolated / "config.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    settings = doc["profiles"]["default"]["integrations"][integration]["settings"]
    for key, value in changes.items():
        if value is None:
            settings.pop(key, None)
        else:
            settings[key] = value
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"trigger_url": 5}, "The stored xmatters.trigger_url of profile 'default' is not valid"),
        (
            {"trigger_url": "http://evil.example.com/api/integration/1/functions/x/triggers"},
            "must use https",
        ),
        ({"auth": "basic", "username": None}, "xmatters.username is missing"),
        ({"auth": "oauth"}, "auth must be one of url, basic, none"),
    ],
)
def test_hand_edited_settings_are_checked_like_install_does(
    runner: CliRunner,
    memory_keyring: MemoryKeyring,
    isolated: Path,
    changes: dict[str, object],
    message: str,
) -> None:
    result = install(
        runner,
        "xmatters",
        "--set",
        "recipients=ops",
        BP_INTEGRATE_XMATTERS_TRIGGER_URL=f"{XM_URL}?apiKey=k123",
    )
    assert result.exit_code == 0, result.stderr
    edit_settings(isolated, "xmatters", **changes)
    for command in (["show", "xmatters"], ["send-test", "incident#new", "--dry-run"]):
        result = invoke(runner, *command)
        assert result.exit_code == 3, (command, result.stderr)
        assert message in result.stderr
        assert "bp-integrate --profile default install xmatters" in result.stderr
        assert "Traceback" not in result.stderr


def test_env_store_finds_a_url_key_in_the_variable_it_was_installed_with(
    runner: CliRunner,
) -> None:
    url = f"{XM_URL}?apiKey=from-env-123"
    result = install(
        runner, "xmatters", "--secret-store", "env", BP_INTEGRATE_XMATTERS_TRIGGER_URL=url
    )
    assert result.exit_code == 0, result.stderr
    result = invoke(
        runner,
        "show",
        "xmatters",
        "--json",
        "--show-secrets",
        BP_INTEGRATE_XMATTERS_TRIGGER_URL=url,
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["webhook"]["url"] == url
    result = invoke(runner, "show", "xmatters", "--show-secrets")
    assert result.exit_code == 4
    assert "is not set in the environment (BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY)" in (
        result.stderr
    )
    assert "or BP_INTEGRATE_XMATTERS_TRIGGER_URL to the whole URL" in result.stderr


def test_profile_api_key_prompt_without_a_terminal_is_refused(runner: CliRunner) -> None:
    result = invoke(runner, "profile", "set", "--api-key", input="secret-key\n")
    assert result.exit_code == 2
    assert "--api-key-stdin" in result.stderr
    assert "secret-key" not in result.stdout + result.stderr


def test_config_folder_that_is_a_file_names_the_variable(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    monkeypatch.setenv("BP_INTEGRATE_CONFIG_DIR", str(afile))
    result = invoke(runner, "list")
    assert result.exit_code == 3
    assert f"The config folder {afile} is not a folder." in result.stderr
    assert "BP_INTEGRATE_CONFIG_DIR" in result.stderr


def test_a_newer_config_version_is_refused_unchanged(runner: CliRunner, isolated: Path) -> None:
    isolated.mkdir(parents=True)
    (isolated / "config.yaml").write_text("version: 99\nprofiles: {}\n", encoding="utf-8")
    result = invoke(runner, "list")
    assert result.exit_code == 3
    assert "is a version 99 config file; this bp-integrate reads version 1." in result.stderr
    assert (isolated / "config.yaml").read_text(encoding="utf-8") == "version: 99\nprofiles: {}\n"


def test_an_empty_variable_is_not_a_secret_under_the_env_store(runner: CliRunner) -> None:
    result = install(
        runner,
        "incidentio",
        "--secret-store",
        "env",
        "--set",
        "callback_url=https://api.incident.io/v2/alert_events/bigpanda/01ABC",
        BP_INTEGRATE_INCIDENTIO_SECRET="s3cret",
    )
    assert result.exit_code == 0, result.stderr
    result = invoke(
        runner, "show", "incidentio", "--show-secrets", BP_INTEGRATE_INCIDENTIO_SECRET=""
    )
    assert result.exit_code == 4
    assert "is not set in the environment (BP_INTEGRATE_INCIDENTIO_SECRET)" in result.stderr


@pytest.mark.parametrize("profile", ["[bold]x", "a;rm", "-x", "a/b", "a b", "x" * 65])
def test_profile_names_are_plain(runner: CliRunner, profile: str) -> None:
    result = invoke(runner, "--profile", profile, "list")
    assert result.exit_code == 2
    assert "is not a profile name" in result.stderr
