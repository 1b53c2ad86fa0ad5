"""The shape the code keeps: integrations own their whole surface, so no command, no
part of the run engine and no shared module names one (adding an integration is one
module in integrations/ and one in emulator/)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import bp_integrate
from bp_integrate.integrations import NAMES

PACKAGE = Path(bp_integrate.__file__).parent
#: Spellings an integration goes by, beyond its module name.
SPELLINGS = (*NAMES, "incident.io", "fortimonitor", "xmatters", "pagerduty")
#: Kept for scripts written before the option was generic (receiver --rate-limit).
ALLOWED_CONSTANTS = {"--pagerduty-rate-limit"}


def code_only(source: str) -> str:
    """The module's code without comments, docstrings and allowed legacy constants."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = body[0] if body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                first.value.value = ""
        if isinstance(node, ast.Constant) and node.value in ALLOWED_CONSTANTS:
            node.value = ""
    return ast.unparse(tree)


def shared_modules() -> list[Path]:
    found = sorted((PACKAGE / "commands").glob("*.py")) + sorted((PACKAGE / "engine").glob("*.py"))
    found += [PACKAGE / name for name in ("cli.py", "app.py", "wizard.py", "store.py")]
    return found


def strings_of(source: str) -> list[str]:
    """Every string literal of the code (docstrings and allowed constants left out): a
    module that branches on an integration, or prints one's name, has it in one."""
    tree = ast.parse(code_only(source))
    # A JSON document's key ("webhook": the pasted URL and headers) names no integration.
    keys = {id(k) for n in ast.walk(tree) if isinstance(n, ast.Dict) for k in n.keys if k}
    keys |= {id(n.slice) for n in ast.walk(tree) if isinstance(n, ast.Subscript)}
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in keys
    ]


#: Names that are also plain words ("the webhook body"): only a literal equal to the
#: name (a branch like `if name == "webhook"`) counts.
PLAIN_WORDS = {"webhook"}


@pytest.mark.parametrize("path", shared_modules(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_command_or_shared_module_names_an_integration(path: Path) -> None:
    named_in_prose = [n for n in SPELLINGS if n not in PLAIN_WORDS]
    words = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, named_in_prose)) + r")(?!\w)", re.I)
    strings = strings_of(path.read_text("utf-8"))
    named = {m.group(1).lower() for s in strings for m in words.finditer(s)}
    named |= {s for s in strings if s.lower() in PLAIN_WORDS}
    assert not named, f"{path.relative_to(PACKAGE)} names {sorted(named)}: ask the integration"


def test_the_layers_hold_and_no_import_cycle() -> None:
    """The import-linter contracts in pyproject.toml (CI runs `lint-imports` too): each
    floor of docs/architecture imports only from floors below it, no cycle anywhere."""
    import subprocess
    import sys

    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    done = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
