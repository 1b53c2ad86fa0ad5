"""orjson writes the bodies, the history lines and the emulator's answers through the one
writer, loading.compact_json (issue 16): the same JSON as the standard encoder it
replaced, and the standard encoder where orjson would write otherwise."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bp_integrate.emulator.context import json_response
from bp_integrate.engine.plan import encode_body
from bp_integrate.history import _encode_line
from bp_integrate.loading import compact_json

_STDLIB_BODY = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
#: What history lines were before orjson: ASCII, compact, str() for other types.
_LINE_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)

# What a body or a record holds: JSON values, with text of every kind (control
# characters, non-ASCII, astral characters; no lone surrogates, which no reader lets in)
# and integers past 64 bits (orjson refuses them: the standard encoder takes over).
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_a_body_is_the_json_the_standard_encoder_writes(value: Any) -> None:
    sent = encode_body(value)
    assert json.loads(sent) == json.loads(_STDLIB_BODY.encode(value))
    # Byte for byte where no float is in it (a float may be spelt `1e16` for `1e+16`).
    if not _has_float(value):
        assert sent == _STDLIB_BODY.encode(value).encode("utf-8")


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


def test_a_simulated_body_is_byte_for_byte_the_standard_encoders() -> None:
    from bp_integrate.bigpanda.simulator import IncidentSimulator
    from bp_integrate.bigpanda.webhook import BodySpec, render_body

    simulator = IncidentSimulator(tags={"service": "café ☕"})
    spec = BodySpec()
    for event in ("incident#new", "incident#updated", "incident#commented", "incident#closed"):
        body, _incident = render_body(simulator, event, spec)
        assert encode_body(body) == _STDLIB_BODY.encode(body).encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_text, _json, max_size=6))
def test_a_history_line_is_the_standard_encoders_text(record: dict[str, Any]) -> None:
    line = _encode_line(record)
    assert json.loads(line) == json.loads(_LINE_ENCODER.encode(record))
    assert line.isascii()  # non-ASCII as \u escapes, as the masker expects them


def test_a_storm_send_line_is_byte_for_byte_the_standard_encoders() -> None:
    record = {
        "type": "send",
        "seq": 7,
        "integration": "xmatters",
        "event": "incident#new",
        "incident_id": "6b1667eb53f32a3961cfe3df",
        "status": 202,
        "outcome": "ok",
        "latency_ms": 12.35,
        "attempts": 1,
    }
    assert _encode_line(record) == _LINE_ENCODER.encode(record)
    # What orjson would write its own way goes to the standard encoder: a key that is
    # not text, an integer past 64 bits, a date (written as str() gives it).
    import datetime

    odd = {1: "x", "big": 2**70, "at": datetime.date(2026, 12, 7)}
    assert _encode_line(odd) == _LINE_ENCODER.encode(odd)


def test_a_lone_surrogate_is_written_as_its_escape_not_refused() -> None:
    assert compact_json({"m": "a \ud800 b"}) == b'{"m":"a \\ud800 b"}'
    assert json_response({"m": "a \ud800 b"}).body == b'{"m":"a \\ud800 b"}'


@settings(max_examples=200, deadline=None)
@given(_json)
def test_an_emulator_answer_is_the_body_writer_s_json(value: Any) -> None:
    assert json_response({"v": value}).body == encode_body({"v": value})
