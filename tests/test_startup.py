"""Start-up stays light: `--help` must not import the heavy libraries.

httpx, keyring, PyYAML, aiohttp and jsonschema are imported only by the commands that
use them, when they run. Each check runs in a fresh interpreter, so nothing imported
by another test can hide an import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("httpx", "keyring", "yaml", "aiohttp", "jsonschema")

SCRIPT = f"""
import contextlib, io, json, sys
heavy = {HEAVY!r}
from bp_integrate.cli import app
out = io.StringIO()
code = 0
with contextlib.redirect_stdout(out):
    try:
        app(sys.argv[1:], prog_name="bp-integrate")
    except SystemExit as exit:
        code = exit.code or 0
print(json.dumps({{
    "code": code,
    "help": out.getvalue(),
    "loaded": sorted(m for m in heavy if m in sys.modules),
}}))
"""


def run_help(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120", "TERM": "dumb"},
    )
    assert done.returncode == 0, done.stderr
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "args",
    [("--help",), ("install", "--help"), ("list", "--help"), ("show", "--help")],
    ids=["root", "install", "list", "show"],
)
def test_help_imports_no_heavy_library(args: tuple[str, ...]) -> None:
    result = run_help(*args)
    assert result["code"] == 0
    assert "Usage" in result["help"]
    assert result["loaded"] == [], (
        f"`bp-integrate {' '.join(args)}` imported {result['loaded']} at start-up; "
        "import them inside the function that needs them"
    )


def test_help_table_matches_each_commands_own_help() -> None:
    """The one-line help `--help` shows without importing commands is the command's own."""
    from bp_integrate.cli import COMMANDS, load_command

    for name, entry in COMMANDS.items():
        command = load_command(name)
        assert command.name == name
        assert (command.help or "").strip(), f"{name} has no help text"
        first = (command.help or "").strip().splitlines()[0].rstrip(".").lower()
        words = set(entry.help.rstrip(".").lower().split())
        shared = words & set(first.split())
        assert len(shared) >= 2, f"{name}: table says {entry.help!r}, command says {first!r}"
