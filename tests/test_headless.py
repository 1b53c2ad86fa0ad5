"""A machine with no keyring, end to end: the receiver's printed commands install into a
profile of their own and a send-test succeeds; an optional secret never blocks; a dry
run needs no keyring; verify's secrets honour --secret-store / --insecure-storage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import invoke
from typer.testing import CliRunner

from bp_integrate.emulator import EmulatorServer

NO_KEYRING = "keyring.backends.fail.Keyring"  # the `no_keyring` fixture's, for a child process


def test_receiver_commands_work_on_a_machine_without_a_keyring(
    isolated: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "NO_COLOR": "1", "PYTHON_KEYRING_BACKEND": NO_KEYRING}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bp_integrate", "receiver", "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        json.loads(proc.stdout.readline())  # listening: the commands are printed
        commands: list[str] = []
        while not commands or "send-test" not in commands[-1]:
            line = proc.stderr.readline()
            assert line, "the receiver ended before printing its commands"
            if line.startswith("  ") and "bp-integrate -p emulator" in line:
                commands.append(line.strip())
        assert all("-p emulator" in c for c in commands)
        assert all("--insecure-storage" in c for c in commands[:-1])
        bin_dir = Path(sys.executable).parent
        shell_env = {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}
        for command in commands:
            done = subprocess.run(
                ["bash", "-c", command], env=shell_env, capture_output=True, text=True,
                timeout=120, check=False,
            )  # fmt: skip
            assert done.returncode == 0, f"{command}\n{done.stderr}"
        assert "success:" in done.stderr and "request(s) accepted" in done.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    config = (isolated / "config.yaml").read_text()
    assert "emulator:" in config and "default:" not in config


def test_optional_app_key_never_blocks_show_or_send(
    runner: CliRunner, emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_APP_KEY", "app-key-123")
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY", "demo-xmatters-api-key")
    result = invoke(
        runner, "install", "xmatters", "--no-input", "--secret-store", "env", "--set",
        f"trigger_url={emu.urls['xmatters_trigger']}?apiKey=****", "--set", "auth=url",
        "--set", "recipients=ops",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    monkeypatch.delenv("BP_INTEGRATE_XMATTERS_APP_KEY")
    shown = invoke(runner, "show", "xmatters", "--show-secrets", "--json")
    assert shown.exit_code == 0, shown.stderr
    sent = invoke(runner, "send-test", "new", "--to", "xmatters")
    assert sent.exit_code == 0, sent.stderr


def test_dry_run_needs_no_keyring(
    runner: CliRunner, emu: EmulatorServer, no_keyring: None, isolated: Path
) -> None:
    # Installed in a keyring on another day; the keyring is gone now.
    isolated.mkdir(parents=True, exist_ok=True)
    (isolated / "config.yaml").write_text(
        "version: 1\nprofiles:\n  default:\n    integrations:\n      pagerduty:\n"
        f"        events_url: {emu.urls['pagerduty_events']}\n"
        "        secrets: [integration_key]\n        secret_store: keyring\n"
    )
    os.chmod(isolated / "config.yaml", 0o600)
    dry = invoke(runner, "send-test", "new", "--to", "pagerduty", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert "****" in dry.stdout + dry.stderr
    real = invoke(runner, "send-test", "new", "--to", "pagerduty")
    assert real.exit_code == 4


def test_profile_set_verify_secrets_honour_the_store_flags(
    runner: CliRunner, no_keyring: None, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = invoke(
        runner, "-p", "ci", "profile", "set", "--org-token-stdin", "--canary-app-key-stdin",
        "--insecure-storage", input="org-token-1\ncanary-app-1\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "Org token stored in the plain-text file." in result.stderr
    assert "Canary app key stored in the plain-text file." in result.stderr
    secrets = json.loads((isolated / "INSECURE-plaintext-secrets.json").read_text())["secrets"]
    assert secrets == {
        "ci/bigpanda/org_token": "org-token-1",
        "ci/bigpanda/canary_app_key": "canary-app-1",
    }
    config = (isolated / "config.yaml").read_text()
    assert "canary-app-1" not in config and "verify_store: file" in config

    monkeypatch.setenv("BP_INTEGRATE_CI_PAGERDUTY_READBACK_API_KEY", "x")  # unrelated
    # The org token and App Key would follow to the env store, which keeps nothing:
    # not without --yes (or a yes at a terminal).
    argv = ("-p", "ci", "profile", "set", "--readback", "pagerduty", "--secret-store", "env")
    refused = invoke(runner, *argv, input="u+rest-key-1234567890\n")
    assert refused.exit_code == 2
    assert "verify_store: file" in (isolated / "config.yaml").read_text()
    readback = invoke(runner, *argv, "--yes", input="u+rest-key-1234567890\n")
    assert readback.exit_code == 0, readback.stderr
    assert "BP_INTEGRATE_CI_PAGERDUTY_" in readback.stderr
    said = " ".join(readback.stderr.split())
    variables = "BP_INTEGRATE_CI_BIGPANDA_ORG_TOKEN, BP_INTEGRATE_CI_BIGPANDA_CANARY_APP_KEY"
    assert f"export {variables} wherever bp-integrate runs" in said
    assert json.loads((isolated / "INSECURE-plaintext-secrets.json").read_text())["secrets"] == {}


def test_canary_app_key_on_argv_warns_and_is_kept_as_a_secret(
    runner: CliRunner, isolated: Path, no_keyring: None
) -> None:
    result = invoke(
        runner, "profile", "set", "--canary-app-key", "argv-app-key-9", "--insecure-storage"
    )
    assert result.exit_code == 0, result.stderr
    assert "--canary-app-key puts the App Key on the command line" in result.stderr
    assert "argv-app-key-9" not in (isolated / "config.yaml").read_text()
    from bp_integrate import config
    from bp_integrate.verify import load_settings

    cfg = config.load()
    settings = dict(cfg.bigpanda("default"), environment_id="env-1")
    with pytest.raises(Exception) as missing:  # no User API key nor org token yet
        load_settings("default", settings)
    assert "canary app key" not in str(missing.value)


def test_keyring_missing_on_a_terminal_offers_file_storage(
    runner: CliRunner, isolated: Path, no_keyring: None
) -> None:
    result = invoke(
        runner, "profile", "set", "--org-token-stdin", input="org-token-2\nfile\n",
        BP_INTEGRATE_ASSUME_TTY="1",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "Where should the secrets go instead?" in result.stderr
    assert "Org token stored in the plain-text file." in result.stderr
    secrets = json.loads((isolated / "INSECURE-plaintext-secrets.json").read_text())["secrets"]
    assert secrets == {"default/bigpanda/org_token": "org-token-2"}
