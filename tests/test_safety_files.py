"""Files and folders (issue 8, point 6): private modes whatever the umask, no trust
in what others can write, symlinks followed, the user's comments and no stale
temp files left."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import MemoryKeyring, cli, install, state_dir

from bp_integrate.emulator import EmulatorServer


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    yield
    os.umask(old)


def test_every_folder_created_is_0700_even_under_umask_000(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    emu: EmulatorServer,
    memory_keyring: MemoryKeyring,
    umask_000: None,
) -> None:
    config = tmp_path / "home" / "dot-config" / "bp"
    state = tmp_path / "home" / "local" / "state" / "bp"
    monkeypatch.setenv("BP_INTEGRATE_CONFIG_DIR", str(config))
    monkeypatch.setenv("BP_INTEGRATE_STATE_DIR", str(state))
    install(emu, "pagerduty", monkeypatch)
    assert cli("send-test", "new", "--to", "pagerduty").exit_code == 0
    for folder in (
        tmp_path / "home",
        config.parent,
        config,
        state.parent.parent,
        state.parent,
        state,
        state / "runs",
    ):
        assert mode(folder) == 0o700, folder
    assert mode(config / "config.yaml") == 0o600
    assert all(mode(p) == 0o600 for p in (state / "runs").iterdir())


def test_a_config_folder_others_can_write_is_refused(isolated: Path) -> None:
    isolated.mkdir(parents=True)
    (isolated / "config.yaml").write_text("version: 1\nprofiles: {}\n", encoding="utf-8")
    os.chmod(isolated, 0o777)
    result = cli("list")
    assert result.exit_code == 3
    stderr = " ".join(result.stderr.split())
    assert f"Refusing to use the config folder {isolated}: others can write to it (mode 777)" in (
        stderr
    )
    assert f"Fix it (chmod go-w {isolated}), or set BP_INTEGRATE_ALLOW_UNSAFE_PERMISSIONS=1" in (
        stderr
    )


def test_a_config_file_others_can_write_is_refused_unless_allowed(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolated.mkdir(parents=True)
    path = isolated / "config.yaml"
    path.write_text("version: 1\nprofiles: {}\n", encoding="utf-8")
    os.chmod(path, 0o666)
    result = cli("profile", "show")
    assert result.exit_code == 3
    assert "Refusing to use the config file" in result.stderr
    monkeypatch.setenv("BP_INTEGRATE_ALLOW_UNSAFE_PERMISSIONS", "1")
    result = cli("profile", "show")
    assert result.exit_code == 0
    assert f"Warning: the config file {path} is unsafe: others can write to it (mode 666)." in (
        result.stderr
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_config_file_owned_by_another_user_is_refused(isolated: Path) -> None:
    isolated.mkdir(parents=True)
    path = isolated / "config.yaml"
    path.write_text("version: 1\nprofiles: {}\n", encoding="utf-8")
    os.chown(path, 4242, 4242)
    # root trusts files root owns; pretend to be an ordinary user for the check
    result = cli("list")
    assert result.exit_code == 3
    assert "it is owned by another user (uid 4242)" in " ".join(result.stderr.split())


def test_a_history_folder_others_can_write_is_refused(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    install(emu, "pagerduty", monkeypatch)
    runs = state_dir() / "runs"
    runs.mkdir(parents=True)
    os.chmod(runs, 0o777)
    result = cli("send-test", "new", "--to", "pagerduty")
    assert result.exit_code == 3
    assert "Refusing to use the run history folder" in result.stderr
    assert list(emu.state.records()) == []


def test_a_symlinked_config_file_has_its_target_written(tmp_path: Path, isolated: Path) -> None:
    real = tmp_path / "dotfiles" / "bp.yaml"
    real.parent.mkdir()
    real.write_text("version: 1\nprofiles: {}\n", encoding="utf-8")
    isolated.mkdir(parents=True)
    link = isolated / "config.yaml"
    link.symlink_to(real)
    assert cli("profile", "set", "--region", "eu").exit_code == 0
    assert link.is_symlink() and link.resolve() == real
    assert "https://eu-api.bigpanda.io" in real.read_text(encoding="utf-8")
    assert [p.name for p in real.parent.iterdir()] == ["bp.yaml"]


def test_the_leading_comment_block_survives_a_write(isolated: Path) -> None:
    isolated.mkdir(parents=True)
    path = isolated / "config.yaml"
    path.write_text(
        "# Managed by ops: ask #infra before changing.\n#\n# owner: alice\n\n"
        "version: 1\nprofiles: {}\n",
        encoding="utf-8",
    )
    assert cli("profile", "set", "--region", "eu").exit_code == 0
    text = path.read_text(encoding="utf-8")
    assert text.startswith(
        "# Managed by ops: ask #infra before changing.\n#\n# owner: alice\nversion: 1\n"
    )
    assert "eu-api.bigpanda.io" in text


def test_a_new_config_file_gets_the_standard_header(isolated: Path) -> None:
    from bp_integrate.config import HEADER

    assert cli("profile", "set", "--region", "eu").exit_code == 0
    assert (isolated / "config.yaml").read_text(encoding="utf-8").startswith(HEADER)


def test_stale_temp_files_of_interrupted_writes_are_removed(isolated: Path) -> None:
    isolated.mkdir(parents=True)
    stale = isolated / ".config.yaml.k3j4h5.tmp"
    fresh = isolated / ".config.yaml.a1b2c3.tmp"  # another writer, right now
    stale.write_text("half", encoding="utf-8")
    fresh.write_text("half", encoding="utf-8")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    assert cli("profile", "set", "--region", "eu").exit_code == 0
    assert not stale.exists()
    assert fresh.exists()
