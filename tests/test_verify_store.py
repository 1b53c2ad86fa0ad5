"""verify's secrets (org token, canary App Key, read-back credentials) live in one store,
`verify_store`: a `profile set` or `verify-setup` that puts the ones it is given in
another store moves every one the profile keeps there, in the same command: written to
the new store, then the settings switch, then the old entries go. A move to the env
store asks first; an old store that cannot be read is said, with how to give each
secret again; a kill at either step leaves what `doctor` repairs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import CFG, MemoryKeyring, cli, install, invoke
from typer.testing import CliRunner

from bp_integrate import config
from bp_integrate.emulator import EmulatorServer
from bp_integrate.secrets import INSECURE_FILE, SERVICE, find_available

ORG_TOKEN = "org-token-0123456789"
APP_KEY = "canary-app-key-0123456789"
PD_READBACK = "u+pd-rest-key-0123456789"
IO_READBACK = "io-api-key-0123456789"


def profile_set(profile: str, *args: str, input: str | None = None, **env: str) -> Any:
    return invoke(CliRunner(), "-p", profile, "profile", "set", *args, input=input, **env)


def keep_in_keyring(profile: str) -> None:
    """The org token, the canary App Key and incident.io's read-back key, in the keyring."""
    given = f"{ORG_TOKEN}\n{APP_KEY}\n"
    done = profile_set(profile, "--org-token-stdin", "--canary-app-key-stdin", input=given)
    assert done.exit_code == 0, done.stderr
    done = profile_set(profile, "--readback", "incidentio", input=IO_READBACK + "\n")
    assert done.exit_code == 0, done.stderr


def in_keyring(keyring: MemoryKeyring, profile: str) -> dict[str, str]:
    return {
        name: value
        for (service, name), value in keyring.entries.items()
        if service == SERVICE and name.startswith(f"{profile}/")
    }


def in_file(isolated: Path) -> dict[str, str]:
    path = isolated / INSECURE_FILE
    return dict(json.loads(path.read_text("utf-8"))["secrets"]) if path.exists() else {}


def verify_finds(profile: str, integration: str, field: str) -> str | None:
    """What verify reads for the secret: the profile's variable, else its verify_store."""
    found = find_available(config.load().verify_store(profile), profile, integration, field)
    return found.value if found else None


def said(result: Any) -> str:
    return " ".join(result.stderr.split())


def test_a_store_switch_moves_every_verify_secret_there_and_back(
    memory_keyring: MemoryKeyring, isolated: Path
) -> None:
    keep_in_keyring("prod")
    moved = profile_set(
        "prod", "--readback", "pagerduty", "--insecure-storage", input=PD_READBACK + "\n"
    )
    assert moved.exit_code == 0, moved.stderr
    assert (
        "Moved the org token, the canary App Key and 1 read-back credential from the keyring "
        "to the plain-text file." in said(moved)
    )
    assert in_keyring(memory_keyring, "prod") == {}
    assert in_file(isolated) == {
        "prod/bigpanda/org_token": ORG_TOKEN,
        "prod/bigpanda/canary_app_key": APP_KEY,
        "prod/incidentio/readback_api_key": IO_READBACK,
        "prod/pagerduty/readback_api_key": PD_READBACK,
    }
    assert verify_finds("prod", "bigpanda", "org_token") == ORG_TOKEN
    assert verify_finds("prod", "bigpanda", "canary_app_key") == APP_KEY
    assert verify_finds("prod", "incidentio", "readback_api_key") == IO_READBACK
    shown = cli("-p", "prod", "profile", "show")
    assert "read-back credentials: incidentio (file), pagerduty (file)" in shown.stdout
    assert shown.stderr == ""

    # And back: a later run naming the keyring takes all of them there again.
    back = profile_set(
        "prod", "--org-token-stdin", "--secret-store", "keyring", input=ORG_TOKEN + "\n"
    )
    assert back.exit_code == 0, back.stderr
    assert (
        "Moved the canary App Key and 2 read-back credentials from the plain-text file to "
        "the keyring." in said(back)
    )
    assert in_file(isolated) == {}
    assert set(in_keyring(memory_keyring, "prod")) == {
        "prod/bigpanda/org_token",
        "prod/bigpanda/canary_app_key",
        "prod/incidentio/readback_api_key",
        "prod/pagerduty/readback_api_key",
    }
    assert verify_finds("prod", "pagerduty", "readback_api_key") == PD_READBACK
    doctor = json.loads(cli("-p", "prod", "doctor", "--no-network", "--json").stdout)
    assert doctor["orphans"] == []


def test_a_move_to_the_env_store_is_agreed_to_first_and_names_the_variables(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep_in_keyring("prod")
    before = config.config_path().read_text("utf-8"), in_keyring(memory_keyring, "prod")
    argv = ("--readback", "pagerduty", "--secret-store", "env")
    variables = (
        "BP_INTEGRATE_PROD_BIGPANDA_ORG_TOKEN, BP_INTEGRATE_PROD_BIGPANDA_CANARY_APP_KEY, "
        "BP_INTEGRATE_PROD_INCIDENTIO_READBACK_API_KEY"
    )
    refused = profile_set("prod", *argv, input=PD_READBACK + "\n")
    assert refused.exit_code == 2
    assert (
        "The env store keeps nothing: the org token, the canary App Key and 1 read-back "
        "credential of profile 'prod' would be deleted from the keyring" in said(refused)
    )
    assert variables in said(refused) and "--yes" in said(refused)
    # At a terminal it asks; the default (No) changes nothing.
    kept = profile_set("prod", *argv, input=PD_READBACK + "\n\n", BP_INTEGRATE_ASSUME_TTY="1")
    assert kept.exit_code == 1
    assert "Nothing was changed." in kept.stderr
    assert (config.config_path().read_text("utf-8"), in_keyring(memory_keyring, "prod")) == before

    agreed = profile_set("prod", *argv, "--yes", input=PD_READBACK + "\n")
    assert agreed.exit_code == 0, agreed.stderr
    assert f"export {variables} wherever bp-integrate runs" in said(agreed)
    assert in_keyring(memory_keyring, "prod") == {}
    bigpanda = config.load().bigpanda("prod")
    assert bigpanda["verify_store"] == "env"
    assert config.load().verify_entries("prod") == []  # nothing recorded as stored
    monkeypatch.setenv("BP_INTEGRATE_PROD_BIGPANDA_ORG_TOKEN", ORG_TOKEN)
    assert verify_finds("prod", "bigpanda", "org_token") == ORG_TOKEN


def test_verify_setup_asks_before_it_gives_up_stored_secrets_for_the_env_store(
    memory_keyring: MemoryKeyring,
) -> None:
    keep_in_keyring("default")
    before = config.config_path().read_text("utf-8"), in_keyring(memory_keyring, "default")
    result = invoke(CliRunner(), "verify-setup", "--no-input", "--secret-store", "env")
    assert result.exit_code == 2  # before any question or call to BigPanda
    assert (
        "the org token, the canary App Key and 1 read-back credential of profile 'default' "
        "would be deleted from the keyring, and verify would read them only from "
        "BP_INTEGRATE_BIGPANDA_ORG_TOKEN, BP_INTEGRATE_BIGPANDA_CANARY_APP_KEY, "
        "BP_INTEGRATE_INCIDENTIO_READBACK_API_KEY" in said(result)
    )
    assert "run the command again with --yes" in said(result)
    assert (
        config.config_path().read_text("utf-8"),
        in_keyring(memory_keyring, "default"),
    ) == before


def test_an_old_store_that_cannot_be_read_is_named_with_how_to_give_them_again(
    isolated: Path, no_keyring: None
) -> None:
    # Kept in a keyring on another day; the keyring is gone now.
    isolated.mkdir(parents=True, exist_ok=True)
    (isolated / "config.yaml").write_text(
        "version: 1\nprofiles:\n  prod:\n    bigpanda:\n      org_token_stored: true\n"
        "      readback_stored:\n        pagerduty: [readback_api_key]\n"
    )
    (isolated / "config.yaml").chmod(0o600)
    result = profile_set(
        "prod", "--readback", "incidentio", "--insecure-storage", input=IO_READBACK + "\n"
    )
    assert result.exit_code == 0, result.stderr  # --insecure-storage asked for the file
    text = said(result)
    assert (
        "Could not move the org token and 1 read-back credential of profile 'prod' from the "
        "keyring to the plain-text file: No working OS keyring" in text
    )
    assert (
        "Give them again: bp-integrate --profile prod profile set --org-token-stdin; "
        "bp-integrate --profile prod profile set --readback pagerduty; or set "
        "BP_INTEGRATE_PROD_BIGPANDA_ORG_TOKEN, BP_INTEGRATE_PROD_PAGERDUTY_READBACK_API_KEY."
        in text
    )
    cfg = config.load()
    assert cfg.verify_store("prod") == "file"
    # Nothing is recorded as stored in the file that the file does not hold.
    assert cfg.verify_entries("prod") == [("incidentio", "readback_api_key")]
    assert in_file(isolated) == {"prod/incidentio/readback_api_key": IO_READBACK}


def test_verify_setup_into_another_store_takes_the_read_back_keys_and_verify_passes(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    isolated: Path,
) -> None:
    from test_verify_setup import scripted_setup

    install(emu, "pagerduty", monkeypatch)
    stored = profile_set(
        "default", "--readback", "pagerduty", input=CFG.pagerduty_rest_api_key + "\n"
    )
    assert stored.exit_code == 0, stored.stderr
    first = scripted_setup(emu, "--create-environment", "bp-integrate canary")
    assert first.exit_code == 0, first.stderr
    assert len(in_keyring(memory_keyring, "default")) == 4

    second = scripted_setup(emu, "--insecure-storage")
    assert second.exit_code == 0, second.stderr
    assert "Moved 1 read-back credential from the keyring to the plain-text file." in said(second)
    assert in_keyring(memory_keyring, "default") == {}  # the User API key moved too
    assert set(in_file(isolated)) == {
        "default/bigpanda/api_key",
        "default/bigpanda/org_token",
        "default/bigpanda/canary_app_key",
        "default/pagerduty/readback_api_key",
    }
    verified = cli("verify", "--json", "--timeout", "5")
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    hops = json.loads(verified.stdout)["hops"]
    assert ("resolved", "pagerduty", "passed") in [
        (h["hop"], h["integration"], h["status"]) for h in hops
    ]


def test_uninstall_removes_read_back_keys_from_the_store_they_moved_to(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    isolated: Path,
) -> None:
    """An uninstall that read the settings before a store switch removes the read-back
    credentials where they are now, and keeps the switch."""
    from bp_integrate.integrations import get
    from bp_integrate.store import remove

    install(emu, "pagerduty", monkeypatch)
    done = profile_set("default", "--readback", "pagerduty", input=PD_READBACK + "\n")
    assert done.exit_code == 0, done.stderr
    snapshot = config.load()  # what a slow uninstall read
    moved = profile_set(
        "default", "--readback", "incidentio", "--insecure-storage", input=IO_READBACK + "\n"
    )
    assert moved.exit_code == 0, moved.stderr
    removed, left = remove(snapshot, get("pagerduty"), "default")
    assert not [item for item in left if "readback" in item], left
    assert "file entry default/pagerduty/readback_api_key" in removed
    assert in_file(isolated) == {"default/incidentio/readback_api_key": IO_READBACK}
    cfg = config.load()
    assert cfg.verify_store("default") == "file"
    assert cfg.verify_entries("default") == [("incidentio", "readback_api_key")]


# ------------------------------------------------------------- a kill between the steps


@pytest.mark.parametrize(
    ("where", "orphans"),
    [
        # Copies written to the file, settings not switched: the keyring's are in use.
        (
            "before-settings",
            {
                ("file", "p/bigpanda/org_token"),
                ("file", "p/pagerduty/readback_api_key"),
                ("file", "p/incidentio/readback_api_key"),
            },
        ),
        # Switched to the file; the keyring's copies not deleted yet.
        (
            "before-old-secrets-deleted",
            {("keyring", "p/bigpanda/org_token"), ("keyring", "p/pagerduty/readback_api_key")},
        ),
    ],
)
def test_a_kill_during_a_move_leaves_old_or_new_and_doctor_removes_the_rest(
    tmp_path: Path, where: str, orphans: set[tuple[str, str]]
) -> None:
    from race_procs import base_env, config_doc, run
    from test_orphans import DRIVER, doctor, keyring_env

    extra = keyring_env(tmp_path)
    for args, given in (
        (["--org-token-stdin"], ORG_TOKEN),
        (["--readback", "pagerduty"], PD_READBACK),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "bp_integrate", "-p", "p", "profile", "set", *args],
            env={**base_env(tmp_path), **extra},
            input=given + "\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    child = subprocess.run(
        [sys.executable, "-c", DRIVER, "-p", "p", "profile", "set", "--readback", "incidentio",
         "--insecure-storage"],
        env={**base_env(tmp_path), **extra, "CRASH_AT": where},
        input=IO_READBACK + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert child.returncode == 9, child.stderr  # it died at the step
    switched = config_doc(tmp_path)["profiles"]["p"]["bigpanda"].get("verify_store")
    assert switched == ("file" if where == "before-old-secrets-deleted" else "keyring")
    found = doctor(tmp_path, extra=extra)["orphans"]
    assert isinstance(found, list)
    assert {(o["kind"], o["name"]) for o in found} == orphans
    doctor(tmp_path, "--yes", extra=extra)
    assert doctor(tmp_path, extra=extra)["orphans"] == []
    shown = run(tmp_path, "-p", "p", "profile", "show", "--json", extra=extra)
    assert json.loads(shown.stdout)["missing_secrets"] == []  # verify still has them all
    held = json.loads((tmp_path / "keyring.json").read_text("utf-8"))
    in_the_keyring = {k.split("\t", 1)[1] for k in held if k.startswith(f"{SERVICE}\t")}
    kept = {"p/bigpanda/org_token", "p/pagerduty/readback_api_key"}
    assert in_the_keyring == (kept if where == "before-settings" else set())


def test_the_api_key_moves_store_only_once_the_settings_name_the_new_one(
    memory_keyring: MemoryKeyring, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`profile set --api-key-stdin` into another store: the old copy goes after the save.
    A save that fails leaves the old settings on the old, intact key, and nothing new."""
    key, new_key = "bp-user-key-0123456789", "bp-user-key-9876543210"
    first = profile_set("prod", "--api-key-stdin", "--no-verify", input=key + "\n")
    assert first.exit_code == 0, first.stderr
    assert in_keyring(memory_keyring, "prod") == {"prod/bigpanda/api_key": key}

    def no_room(self: config.Config) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(config.Config, "save", no_room)
        failed = profile_set(
            "prod", "--api-key-stdin", "--no-verify", "--insecure-storage", input=new_key + "\n"
        )
    assert failed.exit_code != 0
    assert in_keyring(memory_keyring, "prod") == {"prod/bigpanda/api_key": key}
    assert in_file(isolated) == {}
    assert config.load().bigpanda("prod").get("api_key_store", "keyring") == "keyring"

    moved = profile_set(
        "prod", "--api-key-stdin", "--no-verify", "--insecure-storage", input=new_key + "\n"
    )
    assert moved.exit_code == 0, moved.stderr
    assert in_keyring(memory_keyring, "prod") == {}
    assert in_file(isolated) == {"prod/bigpanda/api_key": new_key}
    assert config.load().bigpanda("prod")["api_key_store"] == "file"
