"""`--set PATH=VALUE` refuses edits that would break the body (issue 8, point 3).

Each refusal is a UsageError (exit 2) naming the path and the fix, never "unexpected",
and leaves the body exactly as it was; the CLI test checks what a user sees.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from helpers import XM_PATH, cli, install, sends

from bp_integrate.bigpanda.simulator import IncidentSimulator
from bp_integrate.bigpanda.webhook import envelope
from bp_integrate.emulator import EmulatorServer
from bp_integrate.errors import UsageError
from bp_integrate.jsonpath import MAX_DEPTH, UNIX_TIME_MAX, parse_value, set_path


def body() -> dict[str, Any]:
    sim = IncidentSimulator(start=1_700_000_000, rng=random.Random(5))
    sim.apply("new")
    return envelope("incident#updated", sim.apply("updated"))


@pytest.mark.parametrize(
    ("path", "raw", "message", "hint"),
    [
        (
            "incident.alerts",
            "5",
            "--set incident.alerts: incident.alerts is a list, and '5' is a number; "
            "the body would break.",
            "--set incident.alerts[0].KEY=VALUE",
        ),
        (
            "incident.snooze",
            '"later"',
            "--set incident.snooze: incident.snooze is an object, and '\"later\"' is a string",
            "--set incident.snooze.KEY=VALUE",
        ),
        (
            "incident.updated_at",
            "1e20",
            "--set incident.updated_at: 1e20 is out of range for a unix time",
            "e.g. --set incident.updated_at=1700000000",
        ),
        (
            "incident.start",
            "abc",
            "--set incident.start: incident.start is a unix time in seconds; "
            "'abc' is not a number.",
            "Give whole seconds since 1970",
        ),
        ("incident.end", "-5", "out of range for a unix time", "whole seconds"),
        ("incident.alerts[0].last_event_at", "1.5", "out of range for a unix time", "1970"),
        (
            "incident.active",
            '"yes"',
            "--set incident.active: incident.active is a boolean; '\"yes\"' is not.",
            "--set incident.active=true",
        ),
        (
            "incident.correlation_matchers_log[0][0].time_window",
            "soon",
            "time_window is a number; 'soon' is not.",
            "Give a number, e.g.",
        ),
        (
            "incident.status",
            '{"level": 1}',
            "--set incident.status: incident.status is a string, and '{\"level\": 1}' is an object",
            'e.g. --set incident.status="critical"',
        ),
        (
            "incident.alerts",
            "[1, 2]",
            "the items of incident.alerts are objects",
            "Give a list of objects",
        ),
        (
            "incident.alerts[" + "9" * 5000 + "].status",
            "ok",
            "has more than 9 digits",
            "Use a small index",
        ),
        (
            "incident.alerts." + "9" * 5000 + ".status",
            "ok",
            "has more than 9 digits",
            "Use a small index",
        ),
        ("incident.alerts[0].description", "bad \udcff byte", "a lone surrogate", "UTF-8"),
        ("incident.alerts[0].description", '"\\ud800"', "a lone surrogate", "plain text"),
        ("incident.\ud800", "x", "the path holds a character that is not valid", "ASCII"),
        ("incident.deep", "[" * 100_000 + "]" * 100_000, "nested more than 32", "flatter"),
        ("incident.deep", "[" * 40 + "]" * 40, "nested more than 32", "flatter"),
        (".".join(["a"] * 70), "1", "more than 64 steps", "shorter path"),
    ],
)
def test_breaking_edits_are_refused_with_the_fix(
    path: str, raw: str, message: str, hint: str
) -> None:
    data = body()
    before = copy.deepcopy(data)
    with pytest.raises(UsageError) as caught:
        set_path(data, path, raw)
    assert message in caught.value.message
    assert caught.value.hint is not None and hint in caught.value.hint
    assert data == before
    str(caught.value).encode("utf-8")  # printable: no lone surrogate in the message


def test_a_refused_edit_under_new_keys_leaves_no_trace() -> None:
    data = body()
    before = copy.deepcopy(data)
    with pytest.raises(UsageError):
        set_path(data, "extra.more.start", "abc")
    assert data == before


@pytest.mark.parametrize(
    ("path", "raw", "expected"),
    [
        ("incident.updated_at", "1700000500", 1_700_000_500),
        ("incident.updated_at", "1.7e9", 1_700_000_000),
        ("incident.end", "null", None),
        ("incident.start", str(UNIX_TIME_MAX), UNIX_TIME_MAX),
        ("incident.alerts[0].tags[0].value", "123", "123"),  # text stays text
        ("incident.status", "true", "true"),
        ("incident.alerts", "[]", []),
        ("incident.alerts[0].description", "naïve ☃", "naïve ☃"),
        ("incident.new_field", "[[1]]", [[1]]),
        ("incident.correlation_matchers_log[0][0].time_window", "4320", 4320),
    ],
)
def test_edits_that_keep_the_body_readable_pass(path: str, raw: str, expected: Any) -> None:
    data = body()
    set_path(data, path, raw)
    node: Any = data
    for step in path.replace("[", ".").replace("]", "").split("."):
        node = node[int(step)] if isinstance(node, list) else node[step]
    assert node == expected
    json.dumps(data, allow_nan=False).encode("utf-8")


def test_depth_limit_is_exact() -> None:
    assert parse_value("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(UsageError):
        parse_value("[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2))
    assert parse_value("1" * 5000) == "1" * 5000  # too long for an int: stays text


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        ("incident.alerts=5", "incident.alerts is a list"),
        ("incident.updated_at=1e20", "out of range for a unix time"),
        ("incident.start=abc", "is not a number"),
    ],
)
def test_cli_refuses_before_sending_without_a_traceback(
    edit: str, says: str, emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch)
    result = cli("send-test", "new", "--set", edit)
    assert result.exit_code == 2, result.stderr
    assert says in result.stderr and result.stderr.startswith("Error: --set ")
    assert "e.g. --set" in result.stderr or "--set incident.alerts[0]" in result.stderr
    assert "unexpected" not in result.stderr.lower()
    assert sends(emu, XM_PATH) == []
