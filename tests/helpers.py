"""What tests share besides fixtures: the values they install, an in-memory keyring, and
ways to run the CLI and install an integration against the emulator.

Imported as `from helpers import ...` (pytest puts tests/ on sys.path for both `pytest`
and `python -m pytest`); fixtures live in conftest.py.
"""

from __future__ import annotations

import base64
import socket
from pathlib import Path
from typing import Any

import pytest
from keyring.backend import KeyringBackend
from typer.testing import CliRunner

from bp_integrate.emulator import EmulatorConfig, EmulatorServer

XM_UUID = "0f6c8e8a-1b2c-4d3e-8f9a-0123456789ab"
XM_URL = f"https://acme.xmatters.com/api/integration/1/functions/{XM_UUID}/triggers"


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


CFG = EmulatorConfig()
PD_KEY = "0123456789abcdef0123456789abcdef"
XM_PATH = "/api/integration/1/functions/"
SECRETS = (
    CFG.xmatters_api_key,
    CFG.xmatters_password,
    CFG.incidentio_secret,
    PD_KEY,
    base64.b64encode(f"{CFG.xmatters_username}:{CFG.xmatters_password}".encode()).decode(),
)


def cli(*args: str) -> Any:
    """Run bp-integrate in-process; the Result has .stdout, .stderr, .exit_code."""
    from bp_integrate.cli import app

    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def install(emu: EmulatorServer, name: str, monkeypatch: pytest.MonkeyPatch, **opts: str) -> None:
    """Install an integration pointing at the emulator; secrets come from env vars."""
    urls = emu.urls
    sets: list[str] = []
    if name == "xmatters":
        if opts.get("auth") == "basic":
            monkeypatch.setenv("BP_INTEGRATE_XMATTERS_PASSWORD", CFG.xmatters_password)
            sets += [
                f"trigger_url={urls['xmatters_trigger']}",
                "auth=basic",
                f"username={CFG.xmatters_username}",
            ]
        else:
            monkeypatch.setenv("BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY", CFG.xmatters_api_key)
            sets += [f"trigger_url={urls['xmatters_trigger']}?apiKey=****", "auth=url"]
        sets.append("recipients=Cloud Devops,alice")
    elif name == "pagerduty":
        monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY", PD_KEY)
        sets += [f"events_url={urls['pagerduty_events']}"]
        if opts.get("override_tag"):
            sets.append(f"override_tag={opts['override_tag']}")
    elif name == "incidentio":
        monkeypatch.setenv("BP_INTEGRATE_INCIDENTIO_SECRET", CFG.incidentio_secret)
        sets += [f"callback_url={urls['incidentio_callback']}"]
    elif name == "panopta":
        monkeypatch.setenv("BP_INTEGRATE_PANOPTA_OUTAGE_URL_APIKEY", CFG.xmatters_api_key)
        monkeypatch.setenv("BP_INTEGRATE_PANOPTA_CLEAR_URL_APIKEY", CFG.xmatters_api_key)
        sets += [
            f"outage_url={urls['panopta_outage']}?apiKey=****",
            f"clear_url={urls['panopta_clear']}?apiKey=****",
            "target=ops-team",
        ]
    args = ["install", name, "--no-input", "--no-verify", "--secret-store", "env"]
    for item in sets:
        args += ["--set", item]
    result = cli(*args)
    assert result.exit_code == 0, result.stderr


def sends(emu: EmulatorServer, prefix: str = "/") -> list[Any]:
    """What the emulator received under `prefix` (introspection excluded)."""
    return [r for r in emu.state.records() if r.path.startswith(prefix)]


def shares_settled(emu: EmulatorServer, timeout: float = 10.0) -> None:
    """Return once every share the emulated BigPanda has scheduled is done: its requests
    answered, its record and `incident_shared` activity written.

    The emulator schedules a share while it handles the request that causes it (an alert,
    a resolve), so once that request has its answer the shares exist, and this awaits them
    on the emulator's own loop: no polling and no guessed sleep. With nothing scheduled it
    returns at once, which is how a test shows that something was *not* shared.
    """
    import asyncio

    from bp_integrate.emulator.bigpanda import BigPandaState

    state = emu.state.target(BigPandaState)
    while True:
        try:
            pending = [task for task in list(state.tasks) if not task.done()]
        except RuntimeError:  # the set changed while it was copied (a share just ended)
            continue
        if not pending:
            return

        async def finished(tasks: list[asyncio.Task[None]] = pending) -> None:
            await asyncio.wait(tasks)

        loop = pending[0].get_loop()
        asyncio.run_coroutine_threadsafe(finished(), loop).result(timeout)


#: Sockets bound by `closed_port` and held until the session ends.
_HELD_PORTS: list[socket.socket] = []


def closed_port() -> int:
    """A loopback port where a connection is refused, for the rest of the session.

    The port stays bound (never listening), so no other test and no other pytest-xdist
    worker can be handed it and answer where a test expects a refusal.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _HELD_PORTS.append(sock)
    return int(sock.getsockname()[1])


def history_text(state_dir: Path) -> str:
    runs = state_dir / "runs"
    return "".join(p.read_text() for p in sorted(runs.glob("*.jsonl"))) if runs.is_dir() else ""


def state_dir() -> Path:
    import os

    return Path(os.environ["BP_INTEGRATE_STATE_DIR"])


def invoke(runner: CliRunner, *args: str, input: str | None = None, **env: str) -> Any:
    """Run the CLI like a user would; returns the typer Result (stdout/stderr split)."""
    from bp_integrate.cli import app

    return runner.invoke(app, list(args), input=input, env=env or None, catch_exceptions=False)


def pasted(doc: dict[str, Any], key: str) -> Any:
    """The value of one paste item of a `show --json`/`install --json` document."""
    [value] = [item["value"] for item in doc["paste"] if item["key"] == key]
    return value


class BackgroundJob:
    """`bp-integrate ARGS >out 2>err </dev/null &` in a script, as CI runs it: no terminal,
    and SIGINT ignored (a non-interactive shell ignores it in the jobs it starts with `&`).

    `shell` waits for the job and exits with its exit code; `pid` is bp-integrate's own.
    """

    def __init__(self, folder: Path, *args: str) -> None:
        import os
        import subprocess
        import sys
        import time

        folder.mkdir(parents=True, exist_ok=True)
        self.out, self.err = folder / "out", folder / "err"
        pid_file = folder / "pid"
        script = '"$@" >"$OUT" 2>"$ERR" </dev/null & echo $! >"$PID_FILE"; wait $!'
        self.shell = subprocess.Popen(
            ["sh", "-c", script, "sh", sys.executable, "-m", "bp_integrate", *args],
            env={**os.environ, "OUT": str(self.out), "ERR": str(self.err),
                 "PID_FILE": str(pid_file)},
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert time.monotonic() < deadline, "the shell never started the job"
            time.sleep(0.02)
        self.pid = int(pid_file.read_text())

    def wait_for(self, text: str, timeout: float = 20) -> str:
        """Wait until the job's stderr shows `text`; return its stderr so far."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            err = self.err.read_text() if self.err.exists() else ""
            if text in err:
                return err
            assert self.shell.poll() is None, f"the job ended early: {err}"
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never came: {self.err.read_text()}")

    def terminate(self, timeout: float = 8) -> int:
        """SIGTERM the job; its exit code (killed and failed if it outlives `timeout`)."""
        import os
        import signal
        import subprocess

        os.kill(self.pid, signal.SIGTERM)
        try:
            return self.shell.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"SIGTERM left it running {timeout} s later") from None

    def kill(self) -> None:
        """End the job and its shell, whatever state they are in (test clean-up)."""
        import contextlib
        import os
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.shell.wait(timeout=10)
