"""Profiles that can be managed (issue 9 point 2): an unknown profile is an error naming
the nearest one; install and profile set create one and say so; profile list, delete,
rename and copy, with the secrets each one stored following (or not) as documented."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import CFG, PD_KEY, MemoryKeyring, cli, install, sends

from bp_integrate.emulator import EmulatorServer
from bp_integrate.secrets import SERVICE, env_var

PD_URL = "https://events.pagerduty.com/v2/enqueue"
API_KEY = "bp-user-key-0123456789"


def install_pd(profile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PagerDuty in `profile`, its key in the (memory) keyring (given in the profile's
    own variable: a named profile's install reads no other)."""
    variable = env_var("pagerduty", "integration_key", profile)
    monkeypatch.setenv(variable, PD_KEY)
    result = cli(
        "-p", profile, "install", "pagerduty", "--no-input", "--no-verify",
        "--set", f"events_url={PD_URL}",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    monkeypatch.delenv(variable)


def set_key(profile: str) -> None:
    from typer.testing import CliRunner

    from bp_integrate.cli import app

    result = CliRunner().invoke(
        app,
        ["-p", profile, "profile", "set", "--region", "eu", "--api-key-stdin", "--no-verify"],
        input=API_KEY + "\n",
    )
    assert result.exit_code == 0, result.stderr


def entries(keyring: MemoryKeyring) -> dict[str, str]:
    return {user: value for (service, user), value in keyring.entries.items() if service == SERVICE}


def test_an_unknown_profile_names_the_nearest(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_pd("prod", monkeypatch)
    for args in (["-p", "prdo", "profile", "show"], ["show", "pagerduty", "--profile", "prdo"]):
        result = cli(*args)
        assert result.exit_code == 3, args
        assert "There is no profile 'prdo'" in result.stderr
        assert "Did you mean 'prod'?" in result.stderr
    assert cli("-p", "prdo", "send-test", "new").exit_code == 3
    # Nothing was created by the mistake.
    assert json.loads(cli("profile", "list", "--json").stdout)["profiles"][0]["name"] == "prod"
    assert len(json.loads(cli("profile", "list", "--json").stdout)["profiles"]) == 1


def test_the_default_profile_and_profile_free_commands_need_no_profile(
    memory_keyring: MemoryKeyring,
) -> None:
    assert cli("list").exit_code == 0
    assert cli("-p", "nosuch", "history").exit_code == 0
    assert cli("-p", "nosuch", "encode", "--help").exit_code == 0


def test_install_into_a_new_profile_says_it_creates_it(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BP_INTEGRATE_STAGING_PAGERDUTY_INTEGRATION_KEY", PD_KEY)
    result = cli(
        "install", "pagerduty", "-p", "staging", "--no-input", "--no-verify",
        "--set", f"events_url={PD_URL}",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "Profile 'staging' is new: it will be created in " in result.stderr
    assert "Created profile 'staging' in " in result.stderr
    again = cli("-p", "staging", "profile", "show")
    assert again.exit_code == 0 and "is new" not in again.stderr


def test_profile_list(memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch) -> None:
    install_pd("prod", monkeypatch)
    set_key("prod")
    install_pd("default", monkeypatch)
    doc = json.loads(cli("profile", "list", "--json").stdout)
    assert doc["profiles"] == [
        {
            "name": "default",
            "region": "us",
            "api_url": "https://api.bigpanda.io",
            "integrations": ["pagerduty"],
            "current": True,
        },
        {
            "name": "prod",
            "region": "eu",
            "api_url": "https://eu-api.bigpanda.io",
            "integrations": ["pagerduty"],
            "current": False,
        },
    ]
    text = cli("profile", "list").stdout.splitlines()
    assert text == [
        "* default  us      https://api.bigpanda.io  pagerduty",
        "  prod     eu      https://eu-api.bigpanda.io  pagerduty",
    ]


def test_delete_removes_settings_and_keyring_secrets(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    install_pd("prod", monkeypatch)
    set_key("prod")
    install_pd("default", monkeypatch)
    assert set(entries(memory_keyring)) == {
        "prod/pagerduty/integration_key",
        "prod/bigpanda/api_key",
        "default/pagerduty/integration_key",
    }
    refused = cli("profile", "delete", "prod")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    result = cli("profile", "delete", "prod", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "Deleted profile 'prod' (2 stored secret(s) removed)." in result.stderr
    assert set(entries(memory_keyring)) == {"default/pagerduty/integration_key"}
    assert "prod" not in (isolated / "config.yaml").read_text()
    assert cli("-p", "prod", "profile", "show").exit_code == 3
    missing = cli("profile", "delete", "prdo", "--yes")
    assert missing.exit_code == 3 and "Did you mean 'default'?" not in missing.stderr


def test_rename_moves_the_secrets(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_pd("prod", monkeypatch)
    set_key("prod")
    result = cli("profile", "rename", "prod", "production")
    assert result.exit_code == 0, result.stderr
    assert "Renamed profile 'prod' to 'production' (2 stored secret(s) moved)." in result.stderr
    assert entries(memory_keyring) == {
        "production/pagerduty/integration_key": PD_KEY,
        "production/bigpanda/api_key": API_KEY,
    }
    shown = cli("-p", "production", "send-test", "new", "--dry-run", "--show-secrets")
    assert shown.exit_code == 0, shown.stderr
    assert PD_KEY in shown.stdout
    taken = cli("profile", "rename", "production", "production")
    assert taken.exit_code == 3 and "already exists" in taken.stderr
    bad = cli("profile", "rename", "production", "-bad name")
    assert bad.exit_code == 2


def test_copy_leaves_secrets_behind_unless_asked(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_pd("prod", monkeypatch)
    result = cli("profile", "copy", "prod", "stage")
    assert result.exit_code == 0, result.stderr
    assert "no secrets copied" in result.stderr
    assert set(entries(memory_keyring)) == {"prod/pagerduty/integration_key"}
    # The copy's settings are there, and the secrets they need, marked missing: each
    # must be given again, and the copy said how.
    assert "not copied integration_key" in result.stderr
    assert "bp-integrate --profile stage set pagerduty integration_key --stdin" in result.stderr
    sent = cli("-p", "stage", "send-test", "new")
    assert sent.exit_code == 4
    assert "set pagerduty integration_key --stdin" in sent.stderr
    with_secrets = cli("profile", "copy", "prod", "qa", "--with-secrets")
    assert with_secrets.exit_code == 0, with_secrets.stderr
    assert entries(memory_keyring)["qa/pagerduty/integration_key"] == PD_KEY
    assert entries(memory_keyring)["prod/pagerduty/integration_key"] == PD_KEY


# ------------------------------------------------- history and --from-run follow profiles


def test_history_shows_profile_and_targets_and_from_run_uses_the_runs_profile(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bp_integrate import history

    # Profile lab reads its own variables (the shared names serve only `default`).
    monkeypatch.setenv("BP_INTEGRATE_LAB_PAGERDUTY_INTEGRATION_KEY", PD_KEY)
    monkeypatch.setenv("BP_INTEGRATE_LAB_INCIDENTIO_SECRET", CFG.incidentio_secret)
    monkeypatch.setenv("BP_INTEGRATE_PROFILE", "lab")
    install(emu, "pagerduty", monkeypatch)
    install(emu, "incidentio", monkeypatch)
    monkeypatch.delenv("BP_INTEGRATE_PROFILE")
    assert cli("-p", "lab", "send-test", "new", "--to", "pagerduty").exit_code == 0
    [run] = history.list_runs()
    listing = cli("history")
    lines = listing.stderr.splitlines()[:1] + listing.stdout.splitlines()
    assert lines[0].split() == [
        "run", "started", "(UTC)", "profile", "targets", "outcome", "counts", "command",
    ]  # fmt: skip
    assert lines[1].startswith(f"{run.id}  {run.started_at.replace('T', ' ')[:19]}  lab    ")
    assert "  pagerduty  success " in lines[1]
    # The run was made in `lab`; replaying it from `default` sends with `lab`.
    before = len(sends(emu, "/v2/enqueue"))
    result = cli("replay", "--from-run", run.id, "--no-cleanup")
    assert result.exit_code == 0, result.stderr
    assert f"Run {run.id} was made in profile 'lab': sending with it." in result.stderr
    assert "bp-integrate --profile lab replay --from-run " in result.stderr
    assert len(sends(emu, "/v2/enqueue")) == before + 1
    # An explicit --profile wins: `default` has nothing installed.
    other = cli("-p", "default", "replay", "--from-run", run.id)
    assert other.exit_code == 3
    assert "profile 'default'" in other.stderr


def test_prune_prints_sizes_readably() -> None:
    from bp_integrate.history import human_size

    assert [human_size(n) for n in (0, 1023, 1024, 1536, 90 * 1024 * 1024, 3 * 1024**4)] == [
        "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "90.0 MiB", "3072.0 GiB",
    ]  # fmt: skip


def test_an_adopted_body_shape_follows_its_profile(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bp_integrate import calibrate
    from bp_integrate.fs import atomic_write

    install_pd("prod", monkeypatch)
    atomic_write(calibrate.shape_path("prod"), '{"shape": 1}\n')
    assert cli("profile", "copy", "prod", "qa").exit_code == 0
    assert calibrate.shape_path("qa").read_text() == '{"shape": 1}\n'
    assert cli("profile", "rename", "prod", "live").exit_code == 0
    assert not calibrate.shape_path("prod").exists()
    assert calibrate.shape_path("live").read_text() == '{"shape": 1}\n'
    assert cli("profile", "delete", "live", "--yes").exit_code == 0
    assert not calibrate.shape_path("live").exists()


def test_delete_asks_on_a_terminal_and_enter_keeps_the_profile(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import sys

    import pexpect

    monkeypatch.setenv("BP_INTEGRATE_PROD_PAGERDUTY_INTEGRATION_KEY", PD_KEY)
    result = cli(
        "-p", "prod", "install", "pagerduty", "--no-input", "--no-verify",
        "--secret-store", "env", "--set", f"events_url={PD_URL}",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr

    def delete(answer: str) -> int:
        child = pexpect.spawn(
            sys.executable,
            ["-m", "bp_integrate", "profile", "delete", "prod"],
            env={**os.environ, "COLUMNS": "200"},
            encoding="utf-8",
            timeout=20,
        )
        child.expect(r"Delete profile 'prod' \(pagerduty\) and its stored secrets\?")
        child.expect(r"\[y/N\]")
        child.sendline(answer)
        child.expect(pexpect.EOF)
        child.close()
        return int(child.exitstatus or 0)

    assert delete("") == 1  # Enter is No
    assert cli("-p", "prod", "profile", "show").exit_code == 0
    assert delete("y") == 0
    assert cli("-p", "prod", "profile", "show").exit_code == 3


def _verify_secrets(profile: str) -> None:
    """verify's org token and PagerDuty read-back key for `profile`, through `profile set`."""
    from typer.testing import CliRunner

    from bp_integrate.cli import app

    for args, given in (
        (["--org-token-stdin"], "org-token-0123456789\n"),
        (["--readback", "pagerduty"], "readback-key-0123456789\n"),
    ):
        result = CliRunner().invoke(app, ["-p", profile, "profile", "set", *args], input=given)
        assert result.exit_code == 0, result.stderr


def test_verify_secrets_go_with_the_profile_and_the_install(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_pd("prod", monkeypatch)
    _verify_secrets("prod")
    assert set(entries(memory_keyring)) == {
        "prod/pagerduty/integration_key",
        "prod/bigpanda/org_token",
        "prod/pagerduty/readback_api_key",
    }
    result = cli("profile", "rename", "prod", "production")
    assert result.exit_code == 0, result.stderr
    assert set(entries(memory_keyring)) == {
        "production/pagerduty/integration_key",
        "production/bigpanda/org_token",
        "production/pagerduty/readback_api_key",
    }
    removed = cli("-p", "production", "uninstall", "pagerduty", "--yes", "--no-input")
    assert removed.exit_code == 0, removed.stderr
    assert set(entries(memory_keyring)) == {"production/bigpanda/org_token"}
    result = cli("profile", "delete", "production", "--yes")
    assert result.exit_code == 0, result.stderr
    assert entries(memory_keyring) == {}


def test_a_refused_profile_set_stores_no_secret(memory_keyring: MemoryKeyring) -> None:
    from typer.testing import CliRunner

    from bp_integrate.cli import app

    result = CliRunner().invoke(
        app, ["profile", "set", "--org-token-stdin", "--region", "bogus"], input="tok-0123456789\n"
    )
    assert result.exit_code == 2
    assert entries(memory_keyring) == {}


def test_profile_show_says_a_key_missing_from_the_store_is_not_set(
    memory_keyring: MemoryKeyring,
) -> None:
    """A key the settings record as stored but the keyring lost is not `stored: yes`."""
    set_key("prod")
    shown = cli("-p", "prod", "profile", "show")
    assert "User API key stored: yes (keyring)" in shown.stdout and shown.stderr == ""
    assert (
        json.loads(cli("-p", "prod", "profile", "show", "--json").stdout)["missing_secrets"] == []
    )
    memory_keyring.entries.clear()
    shown = cli("-p", "prod", "profile", "show")
    assert shown.exit_code == 0
    assert "User API key stored: (not set)" in shown.stdout
    said = " ".join(shown.stderr.split())
    assert "The BigPanda User API key of profile 'prod' is not in the keyring store." in said
    assert "bp-integrate --profile prod profile set --api-key" in said
    doc = json.loads(cli("-p", "prod", "profile", "show", "--json").stdout)
    [missing] = doc["missing_secrets"]
    assert missing["field"] == "api_key" and "not in the keyring store" in missing["message"]


# ---------------------------------------------------------------- profile set and the lock


def _key_prompt(profile: str) -> Any:
    """`profile set --api-key` for `profile`, as a real process waiting at its hidden prompt."""
    import os
    import sys

    import pexpect

    child = pexpect.spawn(
        sys.executable,
        ["-m", "bp_integrate", "-p", profile, "profile", "set", "--api-key", "--no-verify",
         "--insecure-storage"],
        env={**os.environ, "COLUMNS": "200"},
        encoding="utf-8",
        timeout=20,
    )  # fmt: skip
    child.expect_exact("BigPanda User API key")
    return child


def _meanwhile(*args: str) -> subprocess.CompletedProcess[str]:
    """Another command, run while the prompt waits: a lock held would fail it in 2 s."""
    import os
    import sys

    return subprocess.run(
        [sys.executable, "-m", "bp_integrate", *args],
        env={**os.environ, "BP_INTEGRATE_LOCK_TIMEOUT": "2"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _answered(child: Any) -> tuple[int, str]:
    import pexpect

    child.sendline(API_KEY)
    child.expect(pexpect.EOF)
    child.close()
    return int(child.exitstatus or 0), " ".join(str(child.before).split())


def _stored(isolated: Path) -> dict[str, str]:
    from bp_integrate.secrets import INSECURE_FILE

    path = isolated / INSECURE_FILE
    return dict(json.loads(path.read_text("utf-8"))["secrets"]) if path.exists() else {}


def test_profile_set_at_its_prompt_holds_no_lock(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person at the key prompt does not hold up another command that writes the
    config; what that command changed elsewhere is kept, and the key is written after."""
    child = _key_prompt("default")
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY", PD_KEY)
    other = _meanwhile(
        "install", "pagerduty", "--no-input", "--no-verify", "--insecure-storage",
        "--set", f"events_url={PD_URL}",
    )  # fmt: skip
    assert other.returncode == 0, other.stderr  # it did not wait for the lock
    status, said = _answered(child)
    assert status == 0, said
    doc = json.loads(cli("profile", "show", "--json").stdout)
    assert doc["integrations"] == ["pagerduty"]
    assert doc["bigpanda"]["api_key_stored"] is True
    assert _stored(isolated)["default/bigpanda/api_key"] == API_KEY


@pytest.mark.parametrize(
    ("other", "refusal"),
    [
        (
            ("-p", "prod", "profile", "set", "--region", "eu"),
            "The BigPanda settings of profile 'prod' were changed by another bp-integrate "
            "command while this one ran: nothing was changed.",
        ),
        (
            ("profile", "rename", "prod", "staging"),
            "Profile 'prod' was renamed or deleted by another bp-integrate command while this "
            "one ran: nothing was changed.",
        ),
    ],
    ids=["changed", "renamed"],
)
def test_profile_set_refuses_when_the_profile_changed_while_it_asked(
    isolated: Path, other: tuple[str, ...], refusal: str
) -> None:
    """What it read is checked again under the lock (store.recheck): a change made while
    it asked is not overwritten; it refuses as install and uninstall do (exit 3)."""
    assert cli("-p", "prod", "profile", "set", "--region", "us").exit_code == 0
    child = _key_prompt("prod")
    done = _meanwhile(*other)
    assert done.returncode == 0, done.stderr
    status, said = _answered(child)
    assert status == 3, said
    assert refusal in said
    assert not [name for name in _stored(isolated) if name.endswith("/bigpanda/api_key")]
