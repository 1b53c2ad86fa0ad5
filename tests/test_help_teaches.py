"""Help that teaches: grouped commands, a first line for newcomers, the advanced options
apart, no type placeholders, examples everywhere, and `--help | head` ending as any
other output does."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import cli

from bp_integrate.cli import ADVANCED, ADVANCED_PANEL, COMMANDS, load_command


def every_command() -> Iterator[tuple[str, Any]]:
    """(`name sub`, click command) of every command and subcommand."""

    def walk(path: str, command: Any) -> Iterator[tuple[str, Any]]:
        yield path, command
        for name, sub in (getattr(command, "commands", None) or {}).items():
            yield from walk(f"{path} {name}", sub)

    for name in COMMANDS:
        yield from walk(name, load_command(name))


def paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip())]


def test_top_level_help_is_grouped_and_opens_with_the_demo() -> None:
    result = cli("--help")
    assert result.exit_code == 0
    text = result.stdout
    assert text.index("New here? `bp-integrate demo`") < text.index("Options")
    panels = [name for name in ("Set up", "Test", "Tools") if f"─ {name} ─" in text]
    assert panels == ["Set up", "Test", "Tools"]
    assert "─ Commands ─" not in text  # every command is in one of the three
    for name, entry in COMMANDS.items():
        assert entry.panel in ("Set up", "Test", "Tools")
        assert re.search(rf"│ {re.escape(name)} ", text), name
    # each under its own panel: the panel heading nearest above it
    for name, entry in COMMANDS.items():
        at = re.search(rf"│ {re.escape(name)} ", text)
        assert at is not None
        above = [
            p for p in ("Set up", "Test", "Tools") if text.rfind(f"─ {p} ─", 0, at.start()) >= 0
        ]
        nearest = max(above, key=lambda p: text.rfind(f"─ {p} ─", 0, at.start()))
        assert nearest == entry.panel, name


def test_the_table_line_is_the_first_paragraph_of_each_commands_help() -> None:
    for name, entry in COMMANDS.items():
        command = load_command(name)
        assert paragraphs(command.help or "")[0] == entry.help, name


def test_top_level_help_imports_no_command_module() -> None:
    script = (
        "import sys\nfrom bp_integrate.cli import app\n"
        "try:\n    app(['--help'], prog_name='bp-integrate')\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('bp_integrate.commands.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
        env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("path", [path for path, _ in every_command()])
def test_every_command_and_subcommand_has_examples(path: str) -> None:
    result = cli(*path.split(), "--help")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "Examples:" in text, f"bp-integrate {path} --help has no Examples"
    after = text[text.index("Examples:") :]
    assert re.search(rf"bp-integrate (-p \w+ )?{re.escape(path.split()[0])}", after), after


@pytest.mark.parametrize("path", [path for path, _ in every_command()] + [""])
def test_no_type_placeholders_in_help(path: str) -> None:
    result = cli(*path.split(), "--help")
    options = result.stdout[result.stdout.find("Options") :]
    found = re.findall(r"<(bool|str|int|float|path|text)>", options)
    assert not found, f"bp-integrate {path} --help shows {found}"


def test_meaningful_metavars_are_kept() -> None:
    text = cli("send-test", "--help").stdout
    assert re.search(r"--timeout\s+SECONDS", text)
    assert re.search(r"--payload\s+FILE", text)
    assert re.search(r"--to\s+INTEGRATION", text)
    assert re.search(r"--dry-run\s+Send nothing", text)  # a flag: no placeholder at all


@pytest.mark.parametrize("name", sorted(ADVANCED))
def test_advanced_options_have_their_own_panel(name: str) -> None:
    command = load_command(name)
    options = {opt: p for p in command.params for opt in p.opts}
    for flag in ADVANCED[name]:
        assert flag in options, f"{name} has no option {flag} (ADVANCED names it)"
        assert options[flag].rich_help_panel == ADVANCED_PANEL
    text = cli(name, "--help").stdout
    panel = text[text.index(f"─ {ADVANCED_PANEL} ─") :]
    main = text[: text.index(f"─ {ADVANCED_PANEL} ─")]
    for flag in ADVANCED[name]:
        assert re.search(rf"│ {re.escape(flag)}\b", panel), flag
        assert not re.search(rf"│ {re.escape(flag)}\s", main), flag
    assert re.search(r"│ --dry-run\b", main)  # what a first hour needs stays up front


@pytest.mark.parametrize(
    "args",
    [("--help",), ("send-test", "--help"), ("profile",), ("profile", "set", "-h")],
    ids=["root", "send-test", "group-without-command", "subcommand"],
)
def test_help_to_a_reader_that_goes_away_is_exit_141(args: tuple[str, ...]) -> None:
    """`bp-integrate --help | head`: as every other command's output (not rich's exit 1).
    The reader is gone before anything is written, so the write always fails."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bp_integrate", *args],
            stdout=writer, stderr=subprocess.PIPE, env=dict(os.environ),
        )  # fmt: skip
    finally:
        os.close(writer)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 141, err.decode()
    assert err == b""


def test_help_piped_to_head_exits_0_or_141(tmp_path: Any) -> None:
    done = subprocess.run(
        f"{sys.executable} -m bp_integrate send-test --help | head -3; "
        'exit "${PIPESTATUS[0]}"',
        shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=60,
        env={**os.environ, "COLUMNS": "80"},
    )  # fmt: skip
    assert done.returncode in (0, 141), done.stderr
    assert "Usage" in done.stdout
    assert "Traceback" not in done.stderr


def help_prose(path: str) -> list[str]:
    """The lines of a help page above its first panel (usage, help text, examples)."""
    text = cli(*path.split(), "--help").stdout
    return [line.rstrip() for line in text[: text.find("╭")].splitlines()]


@pytest.mark.parametrize("columns", ["80", "120"])
@pytest.mark.parametrize("path", [path for path, _ in every_command()] + [""])
def test_help_text_breaks_lines_only_where_the_next_word_does_not_fit(
    path: str, columns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each paragraph is wrapped by the terminal, not by the docstring's own line breaks
    ("(on send-test and" / "replay," / "--set edits ..." at 80 columns): a line ends early
    only to end its paragraph, or to continue a shell command (` \\`)."""
    monkeypatch.setenv("COLUMNS", columns)
    room = int(columns) - 2  # the help text's margin: a column each side
    lines = [line.strip() for line in help_prose(path)]
    for line, after in itertools.pairwise(lines):
        if line and after and not line.endswith("\\"):
            assert len(line) + 1 + len(after.split()[0]) > room, (line, after)


@pytest.mark.parametrize("path", [path for path, _ in every_command()])
def test_every_example_fits_an_80_column_terminal(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An example is a line to copy: at 80 columns none is wrapped (a long one is
    continued with ` \\` instead)."""
    monkeypatch.setenv("COLUMNS", "80")
    lines = help_prose(path)
    examples = [line.strip() for line in lines[lines.index(" Examples:") + 1 :] if line.strip()]
    for before, line in itertools.pairwise(["", *examples]):
        assert line.startswith(("bp-integrate ", "printf ")) or before.endswith("\\"), line


@pytest.mark.parametrize("path", [path for path, _ in every_command()] + [""])
def test_help_off_a_terminal_ends_no_line_in_a_space(path: str) -> None:
    """Piped or saved (`--help | cat`, `> help.txt`), help is not padded to the width."""
    text = cli(*path.split(), "--help").stdout
    padded = [line for line in text.splitlines() if line != line.rstrip()]
    assert not padded, padded[:3]


@pytest.mark.parametrize("path", [path for path, _ in every_command()] + [""])
def test_no_word_of_help_is_cut_at_80_columns(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """rich cuts a word too long for its table column with `…`: at 80 columns no option
    name, metavar or variable name may be cut (short metavars, no long tokens in help)."""
    monkeypatch.setenv("COLUMNS", "80")
    text = cli(*path.split(), "--help").stdout
    assert [line for line in text.splitlines() if "…" in line] == []


def test_help_through_a_pipe_ends_no_line_in_a_space() -> None:
    """The same through a real pipe, at 80 columns (as reported: `--help | cat`)."""
    for args in (["--help"], ["install", "--help"]):
        done = subprocess.run(
            [sys.executable, "-m", "bp_integrate", *args], capture_output=True, text=True,
            timeout=60, env={**os.environ, "COLUMNS": "80"},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "Usage: " in done.stdout and "╰" in done.stdout
        assert [line for line in done.stdout.splitlines() if line.endswith(" ")] == [], args


def test_the_receiver_s_old_rate_limit_name_is_taken_but_not_shown() -> None:
    """`--pagerduty-rate-limit`, the earlier name of `--rate-limit`, still works in
    existing scripts; help shows the one name (the two did not fit 80 columns)."""
    refused = cli("receiver", "--pagerduty-rate-limit", "0")
    assert refused.exit_code == 2
    assert "--rate-limit must be at least 1." in refused.stderr
    shown = cli("receiver", "--help").stdout
    assert "--rate-limit" in shown and "--pagerduty-rate-limit" not in shown
