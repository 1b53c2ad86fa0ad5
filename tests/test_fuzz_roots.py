"""Issue 20 item 7: each hostile input found by the attack, fixed where it enters, and a
Hypothesis property that would have found it (modest max_examples; benchmarks/fuzz.py
runs the >= 10,000-case sweep)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from helpers import CFG, MemoryKeyring, install
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_verify import ENV, setup
from typer.testing import CliRunner

from bp_integrate import loading
from bp_integrate.emulator import EmulatorServer
from bp_integrate.errors import UsageError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import fuzz

#: Modest budgets: the default suite stays fast; benchmarks/fuzz.py runs 14,000 inputs.
FEW = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
SOME = settings(FEW, max_examples=100)
PAYLOAD_ARGS = ["send-test", "new", "--dry-run", "--to", "pagerduty", "--payload", "p.json"]


def run(case: fuzz.Case) -> fuzz.Outcome:
    """One CLI invocation in a fresh workspace (benchmarks/fuzz.py's runner)."""
    outcome = fuzz.run_case(case, limit=20.0)
    assert not outcome.hang, case.argv
    assert outcome.unexpected is None, (outcome.unexpected, outcome.output[-800:])
    return outcome


def spots(doc: Any, at: str = "") -> list[tuple[Any, Any, str]]:
    """Every (container, key, dotted path) of a JSON-like document."""
    found: list[tuple[Any, Any, str]] = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc)
    for key, child in list(items):
        path = f"{at}.{key}" if at else str(key)
        found.append((doc, key, path))
        if isinstance(child, dict | list):
            found.extend(spots(child, path))
    return found


def placed(draw: Any, template: Any, value: Any) -> tuple[Any, str]:
    """`template` (copied) with `value` at a drawn place; the document and that place."""
    doc = json.loads(json.dumps(template))
    parent, key, path = draw(st.sampled_from(spots(doc)))
    parent[key] = value
    return doc, path


# --------------------------------------------------------------- a. --payload text


SURROGATES = st.sampled_from(["\ud800", "x\udfff", "\udbff\udbff", "a\ud83dz"])


@st.composite
def payload_with_a_surrogate(draw: Any) -> tuple[bytes, str]:
    doc, path = placed(draw, fuzz.PAYLOAD_TEMPLATE, draw(SURROGATES))
    return json.dumps(doc).encode(), path  # JSON's \\ud800 escape: valid JSON, no Unicode


@FEW
@given(payload_with_a_surrogate())
def test_a_a_lone_surrogate_anywhere_in_a_payload_is_refused_naming_its_place(
    payload: tuple[bytes, str],
) -> None:
    body, path = payload
    outcome = run(fuzz.Case("payload", PAYLOAD_ARGS, {"p.json": body}, True))
    assert outcome.exit_code == 2, outcome.output
    assert "lone surrogate" in outcome.output and f"{path} is text" in outcome.output


@FEW
@given(
    st.integers(0, 200),
    st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80", b"\xf8\x88\x80"]),
)
def test_a_a_payload_that_is_not_utf8_is_refused_with_the_offset(at: int, junk: bytes) -> None:
    body = json.dumps(fuzz.PAYLOAD_TEMPLATE).encode()
    at = min(at, len(body))
    outcome = run(
        fuzz.Case("payload", PAYLOAD_ARGS, {"p.json": body[:at] + junk + body[at:]}, True)
    )
    assert outcome.exit_code == 2
    assert "is not UTF-8 text" in outcome.output and f"offset {at}" in outcome.output


# --------------------------------------------------------------- b. alerts not a list

NOT_A_LIST = (
    st.integers() | st.floats(allow_nan=False) | st.booleans() | st.text(max_size=10)
    | st.dictionaries(st.text(max_size=5), st.integers(), max_size=3)
)  # fmt: skip
NOT_AN_OBJECT = (
    st.integers() | st.text(max_size=5) | st.none() | st.lists(st.integers(), max_size=2)
)


@SOME
@given(st.booleans(), NOT_A_LIST | st.lists(NOT_AN_OBJECT, min_size=1, max_size=3))
def test_b_a_payload_whose_alerts_is_not_a_list_of_objects_is_refused(
    wrapped: bool, alerts: Any
) -> None:
    incident = {"id": "5f1b2c3d4e", "status": "critical", "alerts": alerts}
    body = {"incident": incident} if wrapped else incident
    outcome = run(fuzz.Case("payload", PAYLOAD_ARGS, {"p.json": json.dumps(body).encode()}, True))
    assert outcome.exit_code == 2, outcome.output
    where = "incident.alerts" if wrapped else "alerts"
    assert f"{where}" in outcome.output and "not a" in outcome.output, outcome.output


def test_b_null_or_a_list_of_alert_objects_is_still_sent() -> None:
    for alerts in (None, [], [{"status": "critical", "description": "Disk 91%"}]):
        body = {"incident": {"id": "5f1b2c3d4e", "status": "critical", "alerts": alerts}}
        case = fuzz.Case("payload", PAYLOAD_ARGS, {"p.json": json.dumps(body).encode()}, True)
        assert run(case).exit_code == 0


# --------------------------------------------------------------- c. YAML types JSON lacks

NOT_JSON = (
    st.dates()
    | st.datetimes()
    | st.sampled_from([float("inf"), float("-inf"), float("nan"), b"\x00\xff", {1, 2}])
)


@st.composite
def answers_with_a_non_json_value(draw: Any) -> tuple[bytes, str]:
    doc, path = placed(draw, fuzz.ANSWERS["panopta"]["payload"], draw(NOT_JSON))
    answers = {**fuzz.ANSWERS["panopta"], "payload": doc}
    return yaml.dump(answers, Dumper=yaml.Dumper).encode(), f"payload.{path}"


@FEW
@given(answers_with_a_non_json_value())
def test_c_an_answers_file_holding_a_yaml_date_or_other_non_json_value_is_refused(
    answers: tuple[bytes, str],
) -> None:
    body, path = answers
    argv = [*fuzz.INSTALL, "panopta", "--answers", "a.yaml"]
    outcome = run(fuzz.Case("answers", argv, {"a.yaml": body}))
    assert outcome.exit_code == 2, outcome.output
    assert f"a.yaml: {path} is " in outcome.output, outcome.output


@SOME
@given(fuzz.VALUES)
def test_c_the_one_reader_gives_only_json_values_or_names_the_place(value: Any) -> None:
    """Whatever YAML a user writes, loading hands on only what JSON carries (so every
    consumer can rely on it), or a UsageError saying where the other value is."""
    try:
        text = yaml.dump({"root": value}, Dumper=yaml.Dumper, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return
    try:
        data = loading.parse_yaml(text, "answers file", "a.yaml", UsageError, "")
    except UsageError as exc:
        assert "a.yaml" in exc.message
        return
    json.dumps(data, allow_nan=False).encode("utf-8")  # JSON, and UTF-8: no error


#: The real CLI, saying on stderr when verify starts waiting for the share (which the
#: AutoShare rule delays) and when its clean-up starts; the clean-up made slow (a
#: BigPanda that takes seconds to resolve the canary), and lingering as the exit unwinds.
CHILD = """
import sys, time
pause = float(sys.argv.pop(1))
from bp_integrate import verify
shares, cleanup = verify.Verifier._shares, verify.Verifier._cleanup_bounded
def waiting(self, incident_id):
    sys.stderr.write("WAITING\\n"); sys.stderr.flush()
    return shares(self, incident_id)
def slow(self):
    sys.stderr.write("CLEANUP-STARTED\\n"); sys.stderr.flush()
    time.sleep(pause)
    cleanup(self)
verify.Verifier._shares, verify.Verifier._cleanup_bounded = waiting, slow
sys.argv[0] = "bp-integrate"
from bp_integrate.cli import main
try:
    main()
finally:  # linger as the exit unwinds, after the command has taken its interrupt
    sys.stderr.write("EXITING\\n"); sys.stderr.flush()
    time.sleep(pause or 1.5)
"""


def _verify_child(cleanup_seconds: float) -> subprocess.Popen[bytes]:
    args = [
        str(cleanup_seconds),
        "verify",
        "--app-key",
        CFG.bigpanda_app_key,
        "--environment",
        ENV,
        "--timeout",
        "20",
    ]
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )


def _wait_for(child: subprocess.Popen[bytes], marker: bytes) -> None:
    assert child.stderr is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = child.stderr.readline()
        if marker in line or not line:
            return


@pytest.mark.parametrize("when", ["during the clean-up", "as it exits"])
def test_h_a_second_ctrl_c_during_verify_clean_up_still_exits_130(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """Item h: the second Ctrl-C used to kill the process by SIGINT (-2)."""
    setup(emu, monkeypatch, names=("pagerduty",), rule={"delay": 30})
    child = _verify_child(5.0 if when == "during the clean-up" else 0.0)
    _wait_for(child, b"WAITING")
    time.sleep(0.5)
    child.send_signal(signal.SIGINT)
    _wait_for(child, b"CLEANUP-STARTED" if when == "during the clean-up" else b"EXITING")
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, (child.returncode, err.decode()[-2000:])


@pytest.fixture
def readback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_READBACK_API_KEY", CFG.pagerduty_rest_api_key)


@pytest.mark.parametrize("command", ["send-test", "replay"])
@pytest.mark.parametrize("error", [RuntimeError, KeyError, MemoryError])
def test_j_verify_cleans_up_whatever_ends_the_read_back(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    readback: None,
    command: str,
    error: type[BaseException],
) -> None:
    """Item j: an exception in the read-back left the test incident open at the target."""
    install(emu, "pagerduty", monkeypatch)

    def broken(*_: Any, **__: Any) -> Any:
        raise error("injected into the read-back")

    monkeypatch.setattr("bp_integrate.readback.TargetReader.records", broken)
    args = ["send-test", "new"] if command == "send-test" else ["replay", "lifecycle"]
    from bp_integrate.cli import app

    result = CliRunner().invoke(app, [*args, "--verify"])
    assert result.exit_code != 0  # the run failed, and said so...
    alerts = emu.state.snapshot()["pagerduty"]["alerts"]
    assert alerts and all(a["status"] == "resolved" for a in alerts), alerts  # ...and closed


# --------------------------------------------------------------- d. run files


@FEW
@given(fuzz.HISTORY_COMMANDS, fuzz.ODD_RUNS)
def test_d_a_run_file_that_is_a_device_fifo_or_writable_by_others_is_refused(
    argv: list[str], odd: dict[str, Any]
) -> None:
    """A link to /dev/zero used to be read until MemoryError (3 GiB); a FIFO would hang;
    a file or folder others can write was read silently."""
    links = dict(odd.get("links", {}))
    if odd.get("fifo"):
        links[fuzz.RUN_PATH] = "fifo"
    files = {} if links else {fuzz.RUN_PATH: b'{"type": "run"}\n'}
    case = fuzz.Case("history", argv, files, True, links=links, modes=odd.get("modes", {}))
    outcome = run(case)
    assert outcome.exit_code == 3, outcome.output
    assert outcome.seconds < 5
    fix = "not a regular file" if links else "chmod go-w"
    assert fix in outcome.output, outcome.output


@FEW
@given(st.lists(st.integers(0, 3 * 64), min_size=1, max_size=8))
def test_d_run_file_lines_are_read_within_the_line_bound(sizes: list[int]) -> None:
    """`_lines` yields every line up to LINE_MAX bytes whole and skips longer ones."""
    import io

    from bp_integrate import history

    limit = 64
    lines = [b"x" * n + b"\n" for n in sizes]
    original = history.LINE_MAX
    history.LINE_MAX = limit
    try:
        got = list(history._lines(io.BytesIO(b"".join(lines))))
    finally:
        history.LINE_MAX = original
    assert got == [line for line in lines if len(line) <= limit + 1]


# --------------------------------------------------------------- e. scenario delays


@SOME
@given(st.lists(st.floats(0, 3600) | st.integers(0, 3600), min_size=1, max_size=30))
def test_e_a_scenarios_delays_add_up_to_at_most_an_hour(delays: list[float]) -> None:
    from bp_integrate import scenarios

    steps = [{"event": "new", "delay": d} for d in delays]
    if math.fsum(delays) <= scenarios.DELAY_TOTAL_MAX:
        assert len(scenarios.parse({"steps": steps}, "s.yaml").steps) == len(delays)
        return
    with pytest.raises(UsageError) as refused:
        scenarios.parse({"steps": steps}, "s.yaml")
    assert "3600 s in all" in refused.value.message


# --------------------------------------------------------------- f. error text bound


@SOME
@given(st.text(max_size=2000) | st.integers(301, 200_000).map("e".__mul__))
def test_f_an_answers_error_text_is_cut_once_saying_how_much(text: str) -> None:
    from bp_integrate.bigpanda.api import error_detail
    from bp_integrate.failures import ERROR_TEXT_MAX, clipped
    from bp_integrate.integrations import get

    shown = clipped(text)
    assert len(shown) <= ERROR_TEXT_MAX + len("… (999,999 more characters)")
    left = len(" ".join(text.split())) - ERROR_TEXT_MAX
    note = f"… ({left:,} more characters)"
    if left > len(note):  # cut only where the cut is longer than the note
        assert shown.endswith(note)
    else:
        assert shown == " ".join(text.split())  # a few characters over: shown whole
    for body in ({"message": text}, {"errors": [text, text]}):
        assert len(error_detail(body)) <= len(shown) * 2 + 30
    answer = {"error": {"message": text, "errors": [text]}}
    side = get("pagerduty").target_side
    assert side is not None
    message, _ = side.refused("Listing services", 400, answer)
    assert len(message) <= 400 + len("… (999,999 more characters)")


def test_f_a_text_just_over_the_bound_is_shown_whole_never_1_more_characters() -> None:
    from bp_integrate.failures import ERROR_TEXT_MAX, clipped

    assert clipped("e" * (ERROR_TEXT_MAX + 1)) == "e" * (ERROR_TEXT_MAX + 1)
    assert clipped("e" * (ERROR_TEXT_MAX + 100)) == "e" * ERROR_TEXT_MAX + "… (100 more characters)"


def test_f_verify_reports_a_100_kb_bigpanda_error_in_a_few_hundred_characters() -> None:
    from bp_integrate.bigpanda.api import BigPandaClient

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"message": "denied " * 15_000})

    client = BigPandaClient("https://api.bigpanda.io", "u", "o")
    client._client = httpx.Client(transport=httpx.MockTransport(answer))
    with pytest.raises(Exception) as refused:
        client.environments()
    message = getattr(refused.value, "message", "")
    assert "more characters)" in message and len(message) < 600, message[:700]


# --------------------------------------------------------------- g. a search item without id


@st.composite
def search_items(draw: Any) -> list[Any]:
    good = st.fixed_dictionaries({"id": st.text(min_size=1, max_size=8).filter(str.strip)})
    bad = st.fixed_dictionaries(
        {}, optional={"id": st.none() | st.integers() | st.just("") | st.just("  ")}
    )
    return draw(st.lists(good | bad, min_size=1, max_size=4))


@SOME
@given(search_items())
def test_g_a_search_answer_item_without_an_id_fails_the_search_itself(items: list[Any]) -> None:
    from bp_integrate.bigpanda.api import BigPandaClient

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"total": len(items), "items": items})

    client = BigPandaClient("https://api.bigpanda.io", "u", "o")
    client._client = httpx.Client(transport=httpx.MockTransport(answer))
    bad = [i for i in items if not isinstance(i.get("id"), str) or not i["id"].strip()]
    if not bad:
        assert client.search("env1", 'host = "h"') == items
        return
    with pytest.raises(ValueError, match="has no incident id"):
        client.search("env1", 'host = "h"')


def test_g_verify_fails_the_incident_hop_not_the_shared_one() -> None:
    from test_readback_judging import BigPanda, Reader
    from test_verify_cleanup import verifier

    from bp_integrate.bigpanda.api import BigPandaClient

    real = BigPandaClient("https://api.bigpanda.io", "u", "o")
    real._client = httpx.Client(
        transport=httpx.MockTransport(
            lambda _: httpx.Response(200, json={"items": [{"status": "active"}]})
        )
    )

    class NoIds(BigPanda):
        def search(self, env: str, query: str) -> list[dict[str, Any]]:
            return real.search(env, query)

    report = verifier(NoIds(["pagerduty.PagerDuty"]), Reader([])).run()
    failed = {h.name: h.detail for h in report.hops if h.status == "failed"}
    assert list(failed) == ["incident"], failed
    assert "has no incident id" in failed["incident"]


# --------------------------------------------------------------- i. permanent 5xx


@SOME
@given(
    st.sampled_from([501, 505, 500, 502, 503, 504, 429]) | st.integers(100, 599), st.integers(1, 3)
)
def test_i_only_429_and_transient_5xx_are_retried(status: int, attempt: int) -> None:
    from bp_integrate.http import RetryPolicy

    wait = RetryPolicy(retries=3, jitter=False).next_wait(attempt, status)
    retried = status == 429 or (500 <= status <= 599 and status not in (501, 505))
    assert (wait is not None) == retried, status


# --------------------------------------------------------------- k. the emulator


@SOME
@given(
    st.sampled_from(["1e400", "-1e400", "1E309", "2e308", "-" + "9" * 4400, "1" * 4301])
    | st.integers(309, 5000).map(lambda e: f"1.5e{e}")
)
def test_k_the_one_json_reader_refuses_numbers_json_cannot_carry_back(number: str) -> None:
    from bp_integrate.emulator.context import BodyError, parse_json

    with pytest.raises(ValueError):
        loading.loads(f'{{"x": {number}}}')
    with pytest.raises(BodyError, match="not JSON that can be read"):
        parse_json(f'{{"x": {number}}}'.encode(), 64)


def test_k_the_emulator_answers_400_for_1e400_and_records_it(emu: EmulatorServer) -> None:
    body = {"routing_key": "0" * 32, "event_action": "trigger",
            "payload": {"summary": "s", "source": "h", "severity": "critical"}}  # fmt: skip
    text = json.dumps(body).replace('"critical"}', '"critical", "x": 1e400}')
    answer = httpx.post(emu.urls["pagerduty_events"], content=text.encode(),
                        headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 400
    assert "1e400" in answer.text
    [record] = [r for r in emu.state.records() if r.path == "/v2/enqueue"]
    assert record.status == 400
    assert emu.state.snapshot()["pagerduty"]["alerts"] == []


def test_k_a_targets_records_are_capped_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from bp_integrate.emulator import target
    from bp_integrate.emulator.pagerduty import PagerDutyState

    state = PagerDutyState(threading.RLock())
    kept = target.Kept[Any](limit=50)
    monkeypatch.setattr(state, "_incidents", kept)
    for n in range(120):
        payload = {"summary": f"summary {n}", "source": "h", "severity": "critical"}
        state.pagerduty_event("k" * 32, "trigger", f"dedup-{n}", payload, float(n))
    alerts = state.pagerduty_alerts()
    assert len(alerts) == 50 and alerts[0].dedup_key == "dedup-70"
    assert state.pagerduty_alert("k" * 32, "dedup-69") is None  # its index forgot it
    assert state.pagerduty_incident(str(120)).dedup_key == "dedup-119"  # numbers still hold


@SOME
@given(st.lists(st.integers(0, 50_000), min_size=1, max_size=40), st.integers(1, 20))
def test_k_kept_records_stay_within_their_count_and_byte_budget(
    sizes: list[int], limit: int
) -> None:
    from bp_integrate.emulator.target import Kept, record_cost

    kept = Kept[str](limit=limit, budget=100_000)
    for n, size in enumerate(sizes):
        kept.append(f"{n:06d}" + "x" * size)
    assert len(kept) <= limit
    assert kept.bytes <= 100_000 or len(kept) == 1
    assert kept.bytes == sum(record_cost(r) for r in kept)
    assert kept[-1].startswith(f"{len(sizes) - 1:06d}")  # the newest is always kept
    assert len(kept) + kept.dropped == len(sizes)
