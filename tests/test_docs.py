"""The docs cannot drift from the CLI silently.

- every `bp-integrate ...` command line in README.md and docs/*.md names a command
  that exists (its `--help` works) and only options that command has;
- every field in a docs/<integration>.md fields table exists in that integration,
  every field of the integration is in its table, and the environment variable and
  secret columns say what the code does;
- the README's exit-code table is `errors.ExitCode`.
"""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from helpers import invoke
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
INTEGRATION_DOCS = ("xmatters", "pagerduty", "incidentio", "panopta")

#: Root options that take a value, so the next word is not the command.
ROOT_VALUE_OPTIONS = frozenset({"--profile", "-p"})
CODE_SPAN = re.compile(r"`([^`\n]*bp-integrate [^`\n]*)`")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)


@cache
def cli_tree() -> Any:
    """The click command tree Typer builds (through typer.main, never click itself)."""
    import typer.main

    from bp_integrate.cli import app

    tree = typer.main.get_command(app)
    for name in tree.list_commands(None):  # type: ignore[attr-defined]
        tree.get_command(None, name)  # type: ignore[attr-defined]  # commands load lazily
    return tree


def option_names(command: Any) -> set[str]:
    names: set[str] = {"--help", "-h"}
    for param in command.params:
        names.update(getattr(param, "opts", []))
        names.update(getattr(param, "secondary_opts", []))
    return names


def command_lines(text: str) -> list[str]:
    """`bp-integrate ...` invocations in code spans and fenced blocks."""
    found = [m.group(1) for m in CODE_SPAN.finditer(text)]
    for block in FENCE.findall(text):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            if "bp-integrate " in line and not line.lstrip().startswith("#"):
                found.append(line)
    return found


def parse_invocation(line: str) -> tuple[list[str], list[str]] | None:
    """(command path, options) of the first `bp-integrate` in `line`; None if a prose mention."""
    start = line.find("bp-integrate ")
    if start < 0:
        return None
    rest = line[start + len("bp-integrate ") :]
    rest = re.split(r"\s(?:\||&&|;|#)\s|\s#", rest)[0]
    try:
        words = shlex.split(rest, comments=False)
    except ValueError:
        words = rest.split()
    root_opts: list[str] = []
    path: list[str] = []
    opts: list[str] = []
    tree = cli_tree()
    i = 0
    while i < len(words) and words[i].startswith("-") and not path:
        root_opts.append(words[i].split("=")[0])
        i += 2 if words[i] in ROOT_VALUE_OPTIONS else 1
    node = tree
    while i < len(words) and re.fullmatch(r"[a-z][a-z0-9-]*", words[i]):
        sub = getattr(node, "commands", None)
        if sub is None:
            break  # a leaf command: this word is an argument
        path.append(words[i])
        node = sub.get(words[i])
        i += 1
        if node is None:
            break
    if not path and not root_opts:
        return None  # e.g. "bp-integrate <command>" or prose
    for word in words[i:]:
        if word.startswith("--"):
            opts.append(word.split("=")[0])
        elif re.fullmatch(r"-[a-zA-Z]", word):
            opts.append(word)
    return path, root_opts + opts


def all_invocations() -> list[tuple[str, str, list[str], list[str]]]:
    out = []
    for doc in DOCS:
        for line in command_lines(doc.read_text(encoding="utf-8")):
            parsed = parse_invocation(line)
            if parsed:
                out.append((doc.relative_to(ROOT).as_posix(), line.strip(), *parsed))
    return out


def test_docs_exist() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in DOCS}
    expected = {"README.md", "docs/replay.md"} | {f"docs/{n}.md" for n in INTEGRATION_DOCS}
    assert expected <= names
    assert len(all_invocations()) > 40, "the parser found too few command lines"


def test_every_documented_command_and_option_exists(runner: CliRunner) -> None:
    tree = cli_tree()
    problems: list[str] = []
    helped: set[tuple[str, ...]] = set()
    for where, line, path, opts in all_invocations():
        node = tree
        for i, name in enumerate(path):
            sub = getattr(node, "commands", {})
            if name not in sub:
                problems.append(f"{where}: `{line}`: no command {' '.join(path[: i + 1])!r}")
                node = None
                break
            node = sub[name]
        if node is None:
            continue
        known = option_names(node) | option_names(tree)
        for opt in opts:
            if opt not in known:
                problems.append(f"{where}: `{line}`: {' '.join(path)} has no option {opt}")
        if tuple(path) not in helped:
            helped.add(tuple(path))
            result = invoke(runner, *path, "--help")
            if result.exit_code != 0 or "Usage" not in result.stdout:
                problems.append(f"{where}: `bp-integrate {' '.join(path)} --help` failed")
    assert not problems, "\n".join(problems)


def test_every_cli_command_is_documented() -> None:
    used = {tuple(path) for _, _, path, _ in all_invocations()}
    tree = cli_tree()
    missing = []
    for name, command in tree.commands.items():
        subs = getattr(command, "commands", None)
        if subs:
            missing += [f"{name} {s}" for s in subs if (name, s) not in used]
        elif (name,) not in used:
            missing.append(name)
    assert not missing, f"commands no doc shows: {missing}"


def field_table(text: str) -> list[list[str]]:
    """Rows of the first table whose header starts with 'Field'."""
    rows: list[list[str]] = []
    in_table = False
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and cells and cells[0].lower() == "field":
            in_table = True
            continue
        if in_table:
            if not line.lstrip().startswith("|"):
                break
            if set("".join(cells)) <= set("-: "):
                continue
            rows.append(cells)
    return rows


@pytest.mark.parametrize("name", INTEGRATION_DOCS)
def test_field_tables_match_the_integration(name: str) -> None:
    from bp_integrate.integrations import get
    from bp_integrate.secrets import env_var

    integration = get(name)
    text = (ROOT / "docs" / f"{name}.md").read_text(encoding="utf-8")
    rows = field_table(text)
    assert rows, f"docs/{name}.md has no fields table (a header row starting with 'Field')"
    documented: set[str] = set()
    for row in rows:
        field_name = row[0].strip("` ")
        base, dot, _param = field_name.partition(".")
        fields = {f.name: f for f in integration.fields}
        assert base in fields, f"docs/{name}.md documents {field_name!r}, which {name} lacks"
        field = fields[base]
        if dot:
            assert field.url_with_secrets, f"{base} does not carry secrets in its URL"
        else:
            documented.add(base)
            secret = row[2].lower().startswith("yes")
            assert secret == field.secret, f"docs/{name}.md: secret column of {base}"
        variable = env_var(name, field_name)
        assert f"`{variable}`" in row[-1], f"docs/{name}.md: {field_name} env var is {variable}"
    missing = {f.name for f in integration.fields} - documented
    assert not missing, f"docs/{name}.md does not document {sorted(missing)}"


def test_readme_exit_codes_match_the_code() -> None:
    from bp_integrate.errors import ExitCode

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r"^\|\s*(\d+)\s*\|\s*`?([A-Z_]+)`?\s*\|", text, re.M)
    }
    assert table == {int(code): code.name for code in ExitCode}
