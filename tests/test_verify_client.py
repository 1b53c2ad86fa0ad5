"""The BigPanda client verify uses: 5 requests/s at most, 429 waited out, BPQL subset."""

from __future__ import annotations

import httpx
import pytest

from bp_integrate.bigpanda.api import MAX_RETRIES_429, APIError, Pacer, items_of, retry_after
from bp_integrate.emulator.bigpanda import parse_bpql


def answers(*statuses: int, retry: str | None = None) -> list[httpx.Response]:
    headers = {"Retry-After": retry} if retry is not None else {}
    return [httpx.Response(s, headers=headers) for s in statuses]


def test_calls_are_spaced_by_the_interval() -> None:
    slept: list[float] = []
    pacer = Pacer(interval=0.2, sleep=slept.append)
    for _ in range(3):
        pacer.call(lambda: httpx.Response(200), "x", "")
    # The first call goes at once; the next two wait for most of 0.2 s each.
    assert len(slept) == 2 and all(0.15 < s <= 0.2 for s in slept)


def test_429_waits_retry_after_then_succeeds() -> None:
    slept: list[float] = []
    queue = answers(429, 429, retry="3") + answers(200)
    pacer = Pacer(interval=0.0, sleep=slept.append)
    response = pacer.call(lambda: queue.pop(0), "x", "")
    assert response.status_code == 200
    assert slept == [3.0, 3.0]
    assert pacer.waited_429 == 2


def test_429_without_retry_after_backs_off_doubling_then_gives_up() -> None:
    slept: list[float] = []
    pacer = Pacer(interval=0.0, sleep=slept.append)
    with pytest.raises(APIError) as caught:
        pacer.call(lambda: httpx.Response(429), "Searching", "BigPanda allows 5/s.")
    # One wait between two tries: none after the last (it would only delay the error).
    assert slept == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0][:MAX_RETRIES_429]
    assert caught.value.status == 429
    assert "BigPanda allows 5/s." in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("header", "expected"), [("7", 7.0), ("9999", 60.0), ("soon", 1.5), (None, 1.5)]
)
def test_retry_after(header: str | None, expected: float) -> None:
    assert retry_after(header, 1.5) == expected


def test_items_of_reads_every_list_shape() -> None:
    assert items_of([{"a": 1}, 2], "items") == [{"a": 1}]
    assert items_of({"activities": [{"t": 1}]}, "items", "activities") == [{"t": 1}]
    assert items_of({"items": "no"}, "items") == []


def test_bpql_subset() -> None:
    assert parse_bpql('host = "h-1" and check = "c"') == [("host", "h-1"), ("check", "c")]
    assert parse_bpql('bp_integrate_canary = "true"') == [("bp_integrate_canary", "true")]
    assert parse_bpql('host = "a" or host = "b"') is None
    # BPQL takes a bare word as a value (an environment's condition `bp_integrate_canary = true`).
    assert parse_bpql("host = a") == [("host", "a")]
    assert parse_bpql("host = prod-*") is None
