"""What keeps the emulator fast must not change what it answers."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from bp_integrate.emulator import EmulatorServer, events_schema
from bp_integrate.emulator.records import LAZY_BODY_BYTES

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=5),
    st.sampled_from(["trigger", "resolve", "acknowledge", "critical", "info", "x" * 32]),
)
PAYLOAD = st.dictionaries(
    st.sampled_from(["summary", "source", "severity", "timestamp", "custom_details", "group"]),
    VALUES,
)
EVENTS = st.one_of(
    st.dictionaries(
        st.sampled_from(["routing_key", "event_action", "dedup_key", "client", "images"]),
        VALUES,
    ),
    st.fixed_dictionaries(
        {
            "routing_key": st.sampled_from(["x" * 32, "short", 5]),
            "event_action": st.sampled_from(["trigger", "resolve", "bogus"]),
            "payload": st.one_of(PAYLOAD, VALUES),
        },
        optional={"dedup_key": VALUES, "links": st.lists(VALUES, max_size=2)},
    ),
    st.lists(VALUES, max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(EVENTS)
def test_the_compiled_schema_accepts_exactly_what_jsonschema_accepts(event: Any) -> None:
    schema = events_schema()
    fast_accepts = True
    try:
        schema._enqueue_fast(event)
    except Exception:
        fast_accepts = False
    slow_errors = list(schema._enqueue.iter_errors(event))
    if fast_accepts:
        assert slow_errors == []  # never valid to the fast path and invalid to PagerDuty's schema


def test_records_are_masked_when_read_and_large_bodies_previewed_at_once(
    emu: EmulatorServer,
) -> None:
    big = {"incident": {"id": "i-1", "description": "d" * (LAZY_BODY_BYTES + 10)}}
    auth = {"Authorization": "Bearer demo-webhook-token"}
    with httpx.Client(base_url=emu.base_url) as c:
        c.post("/webhook/demo", json={"routing_key": "r" * 32}, headers=auth)
        c.post("/webhook/demo", json=big, headers=auth)
    small, large = emu.state.records()
    assert small.raw.body and small.raw.preview is None
    assert small.body_preview == '{"routing_key":"****rrrr"}'
    assert dict(small.headers)["Authorization"] == "****"
    assert large.raw.body == b"" and large.raw.preview is not None
    assert large.body_preview.startswith('{"incident":{"id":"i-1"')
