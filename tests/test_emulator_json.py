"""The emulator reads request bodies with orjson first and the standard library when
orjson refuses or could read otherwise; the standard library's reading is the rule.

These properties hold the fast path to it: every JSON text (and every text that is
not JSON) gives the same value, or the same BodyError, as the standard library alone.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bp_integrate.emulator import context
from bp_integrate.emulator.context import BodyError, json_response, parse_json

DEPTH = 64

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


def _stdlib_only(raw: bytes) -> Any:
    """parse_json with its fast path off (every body looks like one orjson may misread)."""
    fast = context._long_digits
    context._long_digits = lambda _raw: True  # type: ignore[assignment]
    try:
        return _either(raw)
    finally:
        context._long_digits = fast


def _either(raw: bytes) -> Any:
    try:
        return ("value", parse_json(raw, DEPTH))
    except BodyError as exc:
        return ("error", str(exc))


def _same(a: Any, b: Any) -> bool:
    """Equal, with floats compared by their bits (so -0.0 is not 0.0) and type kept."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return math.copysign(1, a) == math.copysign(1, b) and a == b
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


@settings(max_examples=300, deadline=None)
@given(values, st.booleans())
def test_every_json_text_reads_as_the_standard_library_reads_it(value: Any, ascii: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii).encode("utf-8", "surrogatepass")
    assert _same(_either(raw), _stdlib_only(raw))


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=60) | st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass"))
)
def test_any_bytes_read_or_refused_as_the_standard_library_does(raw: bytes) -> None:
    if not raw.strip():
        with pytest.raises(BodyError, match="empty"):
            parse_json(raw, DEPTH)
        return
    assert _same(_either(raw), _stdlib_only(raw))


@pytest.mark.parametrize(
    "raw",
    [
        b"18446744073709551616",  # 2**64: orjson would read a float
        b'{"n": -9223372036854775809}',
        b"1e400",
        b"NaN",
        b'"\\ud800"',  # a lone surrogate: orjson refuses, JSON allows
        b"\xef\xbb\xbf{}",  # a BOM
        b"[" * 70 + b"]" * 70,  # deeper than the limit
        b'{"a": 1, "a": 2}',
    ],
)
def test_the_known_differences_are_read_the_standard_way(raw: bytes) -> None:
    assert _same(_either(raw), _stdlib_only(raw))


@given(st.binary(max_size=80))
def test_the_digit_run_check_is_a_search_for_19_digits(raw: bytes) -> None:
    import re

    assert context._long_digits(raw) == (re.search(rb"[0-9]{19}", raw) is not None)


def test_an_integer_beyond_64_bits_stays_exact() -> None:
    assert parse_json(b'{"id": 123456789012345678901234567890}', DEPTH) == {
        "id": 123456789012345678901234567890
    }


@given(values)
def test_answers_carry_the_value_compact(value: Any) -> None:
    answer = json_response({"v": value})
    assert _same(json.loads(answer.body), {"v": value})
    assert answer.body.startswith(b'{"v":')  # compact, as the real services answer


def test_an_answer_beyond_what_orjson_writes_is_written_by_the_standard_library() -> None:
    assert json.loads(json_response({"n": 2**70, 1: "x"}).body) == {"n": 2**70, "1": "x"}


def test_an_answer_with_a_lone_surrogate_is_escaped_not_refused() -> None:
    answer = json_response({"message": "bad \ud800 text"})
    assert answer.body == b'{"message":"bad \\ud800 text"}'
    assert json.loads(answer.body) == {"message": "bad \ud800 text"}
