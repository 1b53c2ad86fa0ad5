"""The one error exit: what a user sees when something goes wrong, whatever it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import invoke
from typer.testing import CliRunner


def test_unexpected_error_is_one_line_with_secrets_scrubbed(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bp_integrate import config

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("boom at https://x/y?apiKey=leaky-key with Bearer leaky-token")

    monkeypatch.setattr(config, "load", broken)
    result = invoke(runner, "list")
    assert result.exit_code == 1
    assert "Error: unexpected RuntimeError: boom at https://x/y?apiKey=****" in result.stderr
    assert "Bearer ****" in result.stderr
    assert "leaky" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert "BP_INTEGRATE_DEBUG=1" in result.stderr


def test_debug_variable_lets_the_traceback_through(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bp_integrate import config

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(config, "load", broken)
    monkeypatch.setenv("BP_INTEGRATE_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        invoke(runner, "list")


def test_closed_stdout_exits_141_quietly(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bp_integrate import ui

    def closed(_: object) -> None:
        raise BrokenPipeError

    monkeypatch.setattr(ui, "emit_json", closed)
    monkeypatch.setattr(ui, "silence", lambda _: None)  # CliRunner's stdout is no fd
    result = invoke(runner, "list", "--json")
    assert result.exit_code == 141
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["install", "pagerduty"], "Interrupted: nothing was changed."),
        (["list"], "Interrupted."),
    ],
)
def test_ctrl_c_message_promises_only_what_is_true(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    from bp_integrate import config

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(config, "load", interrupted)
    result = invoke(runner, *args)
    assert result.exit_code == 130
    assert result.stderr.strip() == message


@pytest.mark.parametrize(
    "args",
    [
        ["list", "--bogus"],
        ["send-test", "new", "extra"],
        ["send-test", "new", "--to"],
        ["encode", "basic-auth", "--json"],
        ["profile", "bogus"],
    ],
)
def test_a_bad_command_line_is_a_usage_error_not_a_bug(runner: CliRunner, args: list[str]) -> None:
    result = invoke(runner, *args)
    assert result.exit_code == 2, result.stderr
    assert "This is a bug" not in result.stderr
    assert "Error: unexpected" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_group_without_its_subcommand_shows_help(runner: CliRunner) -> None:
    result = invoke(runner, "encode")
    assert "basic-auth" in result.stdout + result.stderr
    assert "This is a bug" not in result.stderr
    assert result.exit_code in (0, 2)


def test_profile_is_accepted_after_the_command() -> None:
    from bp_integrate.cli import hoist_profile

    assert hoist_profile(["show", "xmatters", "-p", "prod"]) == ["-p", "prod", "show", "xmatters"]
    assert hoist_profile(["list", "--profile=prod"]) == ["--profile=prod", "list"]
    # An earlier global one stays first; the later wins, as click takes the last.
    assert hoist_profile(["-p", "a", "list", "-p", "b"]) == ["-p", "a", "-p", "b", "list"]
    # After `--`, nothing is an option.
    assert hoist_profile(["send-test", "new", "--", "-p", "x"]) == [
        "send-test",
        "new",
        "--",
        "-p",
        "x",
    ]


def test_profile_after_the_command_acts_on_that_profile(runner: CliRunner) -> None:
    assert invoke(runner, "profile", "set", "--profile", "prod").exit_code == 0
    result = invoke(runner, "show", "xmatters", "--profile", "prod")
    assert result.exit_code == 3
    assert "not installed in profile 'prod'" in result.stderr


def test_json_mode_errors_are_data_on_stdout(runner: CliRunner) -> None:
    import json

    result = invoke(runner, "show", "xmatters", "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout) == {
        "error": {
            "code": 3,
            "name": "config",
            "message": "xMatters is not installed in profile 'default'.",
            "hint": "Run: bp-integrate --profile default install xmatters",
        }
    }
    assert result.stderr.startswith("Error: xMatters is not installed")
    plain = invoke(runner, "show", "xmatters")
    assert plain.stdout == ""


def test_sigterm_at_a_prompt_is_ctrl_c_nothing_changed(tmp_path: Path) -> None:
    """SIGTERM (timeout, kill, a cancelled CI job) does what Ctrl-C does in every command."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BP_INTEGRATE_")},
        "BP_INTEGRATE_CONFIG_DIR": str(tmp_path / "config"),
        "BP_INTEGRATE_STATE_DIR": str(tmp_path / "state"),
        "BP_INTEGRATE_ASSUME_TTY": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bp_integrate", "install", "xmatters", "--secret-store", "env"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + 20
    while b"App Key" not in seen and time.monotonic() < deadline:
        seen += os.read(proc.stderr.fileno(), 4096)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, (seen + err).decode()  # 128 + SIGTERM; Ctrl-C: 130
    assert b"Interrupted: nothing was changed." in seen + err
    assert not (tmp_path / "config" / "config.yaml").exists()


@pytest.mark.parametrize(
    "args", [("send-test", "new", "--dry-run"), ("replay", "lifecycle", "--dry-run")]
)
def test_a_reader_that_goes_away_is_exit_141(
    args: tuple[str, ...], emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`... --dry-run | head -1`: the documented 141, not rich's own exit 1.

    The reader is gone before the command writes: had it read a line first, a short
    output could fit the pipe's buffer whole and the command end before the reader
    left (exit 0, as happened under parallel test load).
    """
    import os
    import subprocess
    import sys

    from helpers import install

    install(emu, "pagerduty", monkeypatch)
    reader, writer = os.pipe()
    os.close(reader)  # no reader: the first write fails with EPIPE
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bp_integrate", *args],
            stdout=writer, stderr=subprocess.PIPE, env=dict(os.environ),
        )  # fmt: skip
    finally:
        os.close(writer)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 141, err.decode()
    assert b"Traceback" not in err
