"""The emulator's target registry: each target one module, no command naming one."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import bp_integrate
from bp_integrate.emulator import EmulatorConfig, EmulatorServer, EmulatorState, targets
from bp_integrate.emulator.pagerduty import PagerDutyState
from bp_integrate.integrations import NAMES

PACKAGE = Path(bp_integrate.__file__).parent


def _names_in(source: str) -> set[str]:
    lowered = source.lower()
    return {name for name in (*NAMES, "panopta", "incident.io") if name in lowered}


def test_every_target_module_is_found_once() -> None:
    found = targets()
    names = [t.name for t in found]
    assert len(names) == len(set(names))
    assert {"xmatters", "pagerduty", "incidentio", "bigpanda"} <= set(names)
    route_names = [r.name for t in found for r in t.routes]
    assert len(route_names) == len(set(route_names))


def test_receiver_and_demo_name_no_integration() -> None:
    receiver = (PACKAGE / "commands" / "receiver.py").read_text("utf-8")
    tree = ast.parse(receiver)
    # The old option spelling stays accepted for existing scripts; nothing else may name one.
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value == "--pagerduty-rate-limit":
            node.value = ""
    assert _names_in(ast.unparse(tree)) == set()
    from bp_integrate.commands import demo

    for function in (demo.demo_answers, demo.target_summary):
        assert _names_in(inspect.getsource(function)) == set(), function.__name__


def _code_only(source: str) -> str:
    """The module's code without comments and docstrings."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                first.value.value = ""
    return ast.unparse(tree)


def test_app_state_and_config_name_no_target() -> None:
    for module in ("app.py", "state.py", "config.py", "records.py", "server.py", "target.py"):
        source = (PACKAGE / "emulator" / module).read_text("utf-8")
        assert _names_in(_code_only(source)) == set(), module


def test_config_routes_keywords_to_the_target_that_declares_them() -> None:
    config = EmulatorConfig(xmatters_api_key="k-1", pagerduty_rate_limit=5)
    assert config.xmatters_api_key == "k-1"
    assert config.pagerduty_rate_limit == 5
    assert "k-1" in config.secrets()
    with pytest.raises(TypeError, match="no_such_setting"):
        EmulatorConfig(no_such_setting=1)
    with pytest.raises(AttributeError):
        _ = config.no_such_setting


def test_state_gives_each_target_its_own_typed_state() -> None:
    state = EmulatorState()
    pd = state.target(PagerDutyState)
    pd.pagerduty_event("k" * 32, "trigger", "d-1", {"summary": "s"}, 1.0)
    assert state.pagerduty_alert("k" * 32, "d-1") is not None  # the old entry point still works
    assert state.snapshot()["pagerduty"]["alerts"][0]["dedup_key"] == "d-1"
    state.reset()
    assert pd.pagerduty_alerts() == []


def test_install_values_install_every_integration_the_emulator_serves(
    emu: EmulatorServer,
) -> None:
    from bp_integrate.commands.demo import demo_answers

    answers = demo_answers(emu, emu.config)
    assert list(answers) == [n for n in NAMES if n in answers]
    assert {"xmatters", "pagerduty", "incidentio", "panopta"} <= set(answers)
    assert answers["incidentio"]["callback_url"] == emu.urls["incidentio_callback"]
