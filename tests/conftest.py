"""Shared fixtures: every test gets its own config and state folders and keyring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from keyring.backend import KeyringBackend
from typer.testing import CliRunner

XM_UUID = "0f6c8e8a-1b2c-4d3e-8f9a-0123456789ab"
XM_URL = f"https://acme.xmatters.com/api/integration/1/functions/{XM_UUID}/triggers"
PD_KEY = "0123456789abcdef0123456789abcdef"


class MemoryKeyring(KeyringBackend):
    """A keyring backend in memory, standing in for the OS keyring in most tests
    (tests/test_keyring_real.py uses the real Secret Service)."""

    priority = 10  # type: ignore[assignment]
    viable = False  # never picked by keyring.get_keyring(); only set_keyring() installs it

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if (service, username) not in self.entries:
            raise PasswordDeleteError(username)
        del self.entries[(service, username)]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Own config/state dirs; no BP_INTEGRATE_* variables leak in from the machine."""
    import os

    for name in list(os.environ):
        if name.startswith("BP_INTEGRATE_"):
            monkeypatch.delenv(name)
    config = tmp_path / "config"
    monkeypatch.setenv("BP_INTEGRATE_CONFIG_DIR", str(config))
    monkeypatch.setenv("BP_INTEGRATE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    from bp_integrate import ui

    ui.err.cache_clear()
    ui.out.cache_clear()
    yield config
    ui.err.cache_clear()
    ui.out.cache_clear()


@pytest.fixture
def memory_keyring(request: pytest.FixtureRequest) -> Iterator[MemoryKeyring]:
    import keyring

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str, input: str | None = None, **env: str) -> Any:
    """Run the CLI like a user would; returns the typer Result (stdout/stderr split)."""
    from bp_integrate.cli import app

    return runner.invoke(app, list(args), input=input, env=env or None, catch_exceptions=False)
