"""Properties no client can break: what the emulator keeps is bounded, what it prints is
escaped, and JSON Python's reader refuses is the target's own 400 (issue 20, items 5-7)."""

from __future__ import annotations

import json
import unicodedata

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from bp_integrate.commands.receiver import record_row
from bp_integrate.emulator import (
    INCIDENTIO_SOURCE_ID,
    XMATTERS_BIGPANDA_FUNCTION_ID,
    EmulatorConfig,
)
from bp_integrate.emulator.app import Emulator
from bp_integrate.emulator.records import (
    MAX_HEADER_NAME_CHARS,
    MAX_HEADER_VALUE_CHARS,
    MAX_KEPT_ERRORS,
    MAX_KEPT_HEADERS,
    MAX_PATH_CHARS,
    MAX_TEXT_CHARS,
    PREVIEW_CHARS,
    body_preview,
    printable,
    raw_request,
)
from bp_integrate.emulator.state import EmulatorState
from bp_integrate.emulator.wire import Request, Response

CFG = EmulatorConfig()
SECRETS = CFG.secrets()
#: A record's cost by its estimate, whatever it holds (see records.raw_request): its
#: bounded strings at 4 bytes a character, twice, and the objects around them.
MAX_RECORD_COST = 256 * 1024
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------ printing
#: What a terminal acts on: C0 and C1 controls, DEL, line and paragraph separators, and
#: invisible format characters such as the bidi overrides (Unicode Cc, Cf, Zl, Zp, Cs).
_ACTS = {"Cc", "Cf", "Zl", "Zp", "Cs"}
_HOSTILE = st.sampled_from(
    ["\n", "\r", "\x1b[31m", "\x1b]0;title\x07", "\x9b2J", "\u202e", "\u2028", "\x7f", "\ud800"]
)
_TEXT = st.lists(st.one_of(st.text(max_size=20), _HOSTILE), max_size=8).map("".join)


@PROPERTY
@given(_TEXT)
def test_printable_leaves_nothing_a_terminal_acts_on(text: str) -> None:
    shown = printable(text)
    assert not any(unicodedata.category(char) in _ACTS for char in shown)
    assert shown.isprintable()
    if text.isprintable():
        assert shown is text
    # Nothing is lost: each character is kept or shown as its escape.
    assert len(shown) >= len(text)


def _emulator() -> Emulator:
    return Emulator(CFG, EmulatorState())


def _request(
    emulator: Emulator,
    path: str,
    body: bytes,
    *,
    method: str = "POST",
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
) -> Request:
    return Request(method, path, query, CIMultiDict(headers or []), body, emulator)


_SEGMENT = st.lists(st.one_of(st.text(min_size=1, max_size=8), _HOSTILE), min_size=1, max_size=4)


@PROPERTY
@given(
    segment=_SEGMENT.map("".join).filter(lambda s: "/" not in s),
    key=_TEXT,
    where=st.sampled_from(["webhook", "nowhere", "pagerduty"]),
)
@example(segment="\n\rFAKE-LINE 1 webhook_receive 202 valid", key="", where="webhook")
def test_every_line_the_receiver_prints_is_one_printable_line(
    segment: str, key: str, where: str
) -> None:
    emulator = _emulator()
    auth = [("Authorization", "Bearer demo-webhook-token")]
    if where == "webhook":
        request = _request(emulator, f"/webhook/{segment}", b"{}", headers=auth)
    elif where == "nowhere":
        request = _request(emulator, f"/nowhere/{segment}", b"")
    else:
        event = {"routing_key": "r" * 32, "event_action": "trigger", "dedup_key": key}
        request = _request(emulator, "/v2/enqueue", json.dumps(event).encode())
    emulator.handle(request)
    (record,) = emulator.state.records()
    cells = record_row(record)
    assert all(cell.isprintable() for cell in cells)
    assert "\n" not in "  ".join(cells)


# ------------------------------------------------------------ refused JSON
_BODY_ROUTES = [
    ("/v2/enqueue", "", []),
    ("/v2/change/enqueue", "", []),
    (
        f"/api/integration/1/functions/{XMATTERS_BIGPANDA_FUNCTION_ID}/triggers",
        "apiKey=demo-xmatters-api-key",
        [],
    ),
    (
        f"/v2/alert_events/big_panda/{INCIDENTIO_SOURCE_ID}",
        "",
        [("Authorization", "Bearer demo-incidentio-secret")],
    ),
    ("/v2/alert_sources", "", [("Authorization", "Bearer demo-incidentio-api-key")]),
    ("/webhook/demo", "", [("Authorization", "Bearer demo-webhook-token")]),
    ("/data/v2/alerts", "", [("Authorization", "Bearer demo-bigpanda-org-token")]),
    ("/resources/v2.0/environments", "", [("Authorization", "Bearer demo-bigpanda-user-key")]),
    (
        f"/resources/v2.0/environments/{CFG.bigpanda_environments[0][0]}/incidents/i-1/resolve",
        "",
        [("Authorization", "Bearer demo-bigpanda-user-key")],
    ),
    ("/resources/v2.0/maintenance-plans", "", [("Authorization", "Bearer demo-bigpanda-user-key")]),
    ("/resources/v2.1/integrations", "", [("Authorization", "Bearer demo-bigpanda-user-key")]),
    (
        "/services/PXXXXXX/integrations",
        "",
        [("Authorization", "Token token=demo-pagerduty-rest-key")],
    ),
    (
        "/api/xm/1/events",
        "",
        [("Authorization", "Basic YnAtdmVyaWZ5OmRlbW8teG0tcmVzdC1wYXNzd29yZA==")],
    ),
]
#: JSON literals Python's reader refuses (over 4,300 digits) or takes beyond JSON.
_REFUSED = st.one_of(
    st.integers(4301, 6000).map(lambda n: "9" * n),
    st.integers(4301, 6000).map(lambda n: "-1" + "0" * n),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", '"\\ud800"', "[" * 70 + "]" * 70]),
)
_SHAPES = st.sampled_from(
    [
        "{v}",
        '{{"event_action": "trigger", "routing_key": "{r}", "dedup_key": {v}}}',
        '{{"event_type": "incident#new", "incident": {{"id": {v}}}}}',
        '{{"incident": {{"id": "i-1", "alerts": [{{"n": {v}}}]}}}}',
        '{{"app_key": "demo-canary-app-key", "host": "h", "check": "c", "status": {v}}}',
        '{{"name": {v}, "filter": "", "comments": {v}}}',
        "[{v}]",
    ]
)


@PROPERTY
@given(route=st.sampled_from(_BODY_ROUTES), shape=_SHAPES, value=_REFUSED)
def test_json_python_refuses_is_a_400_and_recorded_never_a_500(
    route: tuple[str, str, list[tuple[str, str]]], shape: str, value: str
) -> None:
    path, query, headers = route
    body = shape.format(v=value, r="r" * 32).encode()
    emulator = _emulator()
    answer = emulator.handle(_request(emulator, path, body, query=query, headers=headers))
    assert isinstance(answer, Response) and answer.status < 500
    assert emulator.state.requests_received == 1
    (record,) = emulator.state.records()
    record.to_json()  # and it can be read back


def test_a_big_integer_gets_each_targets_own_400() -> None:
    body = b'{"event_action": "trigger", "dedup_key": ' + b"9" * 5000 + b"}"
    emulator = _emulator()
    answer = emulator.handle(_request(emulator, "/v2/enqueue", body))
    assert isinstance(answer, Response) and answer.status == 400
    shown = json.loads(answer.body)
    assert shown["status"] == "Unrecognized object"
    assert "4300 digits" in shown["errors"][0]
    (record,) = emulator.state.records()
    assert record.status == 400 and not record.valid


# -------------------------------------------------------------- bounded records
_HEADERS = st.lists(
    st.tuples(
        st.text(st.characters(min_codepoint=33, max_codepoint=0x10FFFF), min_size=1, max_size=200),
        st.text(max_size=9000),
    ),
    max_size=128,
)


@PROPERTY
@given(
    headers=_HEADERS,
    path=st.text(max_size=9000),
    errors=st.lists(st.text(max_size=3000), max_size=60),
    note=st.text(max_size=3000),
)
def test_a_record_keeps_bounded_copies_whatever_the_request(
    headers: list[tuple[str, str]], path: str, errors: list[str], note: str
) -> None:
    raw = raw_request(
        path=path,
        query=path,
        headers=CIMultiDict(headers),
        body=b"{}",
        parsed=object(),
        errors=errors,
        note=note,
        key=note,
        secrets=SECRETS,
    )
    assert len(raw.headers) == min(len(headers), MAX_KEPT_HEADERS)
    assert raw.headers_not_kept == max(0, len(headers) - MAX_KEPT_HEADERS)
    assert all(len(name) <= MAX_HEADER_NAME_CHARS for name, _ in raw.headers)
    assert all(len(value) <= MAX_HEADER_VALUE_CHARS for _, value in raw.headers)
    assert len(raw.path) <= MAX_PATH_CHARS and len(raw.query) <= MAX_PATH_CHARS
    assert len(raw.errors) <= MAX_KEPT_ERRORS
    assert all(len(e) <= MAX_TEXT_CHARS for e in raw.errors)
    assert len(raw.note) <= MAX_TEXT_CHARS and len(raw.key or "") <= MAX_TEXT_CHARS
    assert raw.cost <= MAX_RECORD_COST


@PROPERTY
@given(
    secret=st.sampled_from([s for s in SECRETS if " " not in s]),
    before=st.integers(0, MAX_HEADER_VALUE_CHARS + 50),
    where=st.sampled_from(["header", "path", "note"]),
)
def test_a_cut_never_shows_part_of_a_secret(secret: str, before: int, where: str) -> None:
    text = "a" * before + secret + "b" * 2000
    state = EmulatorState()
    state.add_record(
        time=0.0,
        method="POST",
        target="webhook",
        route="webhook_receive",
        status=202,
        valid=True,
        action=None,
        body_bytes=0,
        fault=None,
        duration_ms=0.0,
        raw=raw_request(
            path=text if where == "path" else "/",
            query="",
            headers=CIMultiDict({"X-Trace": text if where == "header" else "x"}),
            body=b"",
            parsed=object(),
            errors=(),
            note=text if where == "note" else "",
            key=None,
            secrets=SECRETS,
        ),
    )
    shown = json.dumps(state.records()[0].to_json())
    assert secret[:6] not in shown


@PROPERTY
@given(
    secret=st.sampled_from([s for s in SECRETS if " " not in s]),
    before=st.integers(0, PREVIEW_CHARS + 50),
    items=st.integers(0, 5000),
)
def test_a_large_body_preview_masks_what_it_shows(secret: str, before: int, items: int) -> None:
    body = {"pad": [0] * items, "text": "a" * before + secret + "b" * 5000}
    preview = body_preview(json.dumps(body).encode(), SECRETS, parsed=body)
    assert secret[:6] not in preview
    assert len(preview) <= PREVIEW_CHARS


def test_the_request_log_stays_within_its_budget() -> None:
    state = EmulatorState(max_log_bytes=2 * MAX_RECORD_COST)
    big = CIMultiDict((f"X-Pad-{i}", "\U0001f600" * 8000) for i in range(128))
    for _ in range(20):
        state.add_record(
            time=0.0,
            method="POST",
            target="webhook",
            route="webhook_receive",
            status=202,
            valid=True,
            action=None,
            body_bytes=0,
            fault=None,
            duration_ms=0.0,
            raw=raw_request(
                path="/webhook/x",
                query="",
                headers=big,
                body=b"",
                parsed=object(),
                errors=(),
                note="",
                key=None,
                secrets=SECRETS,
            ),
        )
    snapshot = state.snapshot()
    assert snapshot["requests_received"] == 20
    assert 1 <= snapshot["records_kept"] < 20
    assert snapshot["records_bytes"] <= 2 * MAX_RECORD_COST
    assert state.records()[-1].seq == 20  # the newest is always kept


def test_the_routes_given_refused_json_are_real_routes() -> None:
    router = _emulator().router
    assert all(router.resolve("POST", path).handler is not None for path, _, _ in _BODY_ROUTES)


@PROPERTY
@given(segment=_SEGMENT.map("".join))
@example(segment="\n\rFAKE-LINE")
def test_every_path_reaches_the_emulator_through_aiohttp(segment: str) -> None:
    import asyncio
    from urllib.parse import quote

    from aiohttp.test_utils import make_mocked_request

    from bp_integrate.emulator.app import build_app

    app = build_app(CFG, EmulatorState())
    request = make_mocked_request(
        "POST", "/webhook/" + quote(segment.encode("utf-8", "surrogatepass"), safe=""), app=app
    )
    found = asyncio.run(app.router.resolve(request))
    assert found.http_exception is None  # the catch-all took it: recorded, answered in JSON


def test_a_record_made_without_its_init_has_every_field_and_stays_frozen() -> None:
    """records.frozen_from skips the dataclasses' __init__ (speed): every field is there
    by its name, and the record refuses assignment like any frozen dataclass."""
    import dataclasses

    import pytest

    from bp_integrate.emulator.records import RawRequest, ReceivedRecord, frozen_from

    state = EmulatorState()
    emulator = Emulator(CFG, state)
    payload = {"summary": "s", "source": "h", "severity": "info"}
    event = {"routing_key": "0" * 32, "event_action": "trigger", "dedup_key": "k"}
    body = json.dumps({**event, "payload": payload}).encode()
    headers = CIMultiDict({"Content-Type": "application/json", "X-Api-Key": "hidden"})
    emulator.handle(Request("POST", "/v2/enqueue", "", headers, body, emulator))
    [record] = state.records()
    for f in dataclasses.fields(ReceivedRecord):
        assert f.name in record.__dict__, f.name
    for f in dataclasses.fields(RawRequest):
        assert f.name in record.raw.__dict__, f.name
    assert (record.status, record.key, record.raw.body) == (202, "k", body)
    assert dict(record.headers)["X-Api-Key"] == "****"  # masked when read
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.status = 500  # type: ignore[misc]
    with pytest.raises(TypeError, match="exactly the fields"):
        frozen_from(RawRequest, {"path": "/"})
