"""Shared fixtures: every test gets its own config and state folders and keyring, and
(where it asks for one) its own emulator. Shared helpers are in helpers.py."""

from __future__ import annotations

import signal
import sys
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


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (the README's test command): two workers per CPU this process may use.

    Most of the suite's time is waiting (child processes starting, pseudo-terminals,
    servers answering, timeouts running out): on a 2-CPU machine the suite took 162 s
    serially with 61 s of CPU, 87 s with 2 workers, 59-64 s with 3, 4 or 6.
    """
    import os

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(2 * (cpus or 1), 16)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse a test keyring that keyring could pick as the default by itself.

    Every KeyringBackend subclass registers itself when its module is imported (at
    collection), and the first `keyring.get_keyring()` picks the viable one of highest
    priority: a test double without `viable = False` becomes every later test's keyring
    (one that blocks made each keyring call wait 5 s). Only fixtures install doubles.
    """
    from keyring.backend import KeyringBackend

    tests = Path(__file__).parent
    leaks = []
    for backend in KeyringBackend.get_viable_backends():
        source = getattr(sys.modules.get(backend.__module__), "__file__", None) or ""
        if Path(source).is_relative_to(tests):
            leaks.append(f"{backend.__module__}.{backend.__name__}")
    if leaks:
        raise pytest.UsageError(
            f"test keyring(s) {', '.join(sorted(leaks))} could become the default keyring: "
            "give each `viable = False` and install it with keyring.set_keyring in a fixture"
        )


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
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A machine with no OS keyring: keyring's own fail backend, here and in children."""
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    yield
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


@pytest.fixture(scope="module")
def pd_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Profile `p` with a PagerDuty install in the file store, made once per module by the
    real CLI: the starting point test_races.py and test_orphans.py copy (race_procs.py)."""
    from race_procs import make_template

    return make_template(tmp_path_factory.mktemp("template"))
