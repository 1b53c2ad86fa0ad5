"""Shared fixtures: every test gets its own config and state folders and keyring, and
(where it asks for one) its own emulator. Shared helpers are in helpers.py."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import MemoryKeyring
from typer.testing import CliRunner

from bp_integrate.emulator import EmulatorServer

# Ctrl-C tests need SIGINT to be Ctrl-C. A suite started as a background job of a
# non-interactive shell (`pytest &` in a script) inherits SIGINT *ignored*, which Python
# keeps, and which would pass on to every child it starts: make it the default again
# (children then start with it too, since a handler resets to the default on exec).
signal.signal(signal.SIGINT, signal.default_int_handler)


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


@pytest.fixture
def emu() -> Iterator[EmulatorServer]:
    """A fresh emulator for each test (about 1 ms to start): no request still in flight
    from an earlier test can land in this one's records."""
    with EmulatorServer() as server:
        yield server
