"""A hostile client gets the target's own answers, never a 500, and cannot hold the server."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from bp_integrate.emulator import (
    INCIDENTIO_SOURCE_ID,
    XMATTERS_BIGPANDA_FUNCTION_ID,
    EmulatorConfig,
    EmulatorServer,
)
from bp_integrate.emulator.state import MAX_FAULTS

CFG = EmulatorConfig()
XM = f"/api/integration/1/functions/{XMATTERS_BIGPANDA_FUNCTION_ID}/triggers"
IO = f"/v2/alert_events/big_panda/{INCIDENTIO_SOURCE_ID}"
ENV = CFG.bigpanda_environments[0][0]


@pytest.fixture
def client(emu: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, timeout=5) as c:
        yield c


def deep(depth: int) -> bytes:
    return b'{"incident":' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [100, 200_000], ids=["over-the-limit", "past-recursion"])
def test_deep_json_gets_each_targets_own_400(
    emu: EmulatorServer, client: httpx.Client, depth: int
) -> None:
    body = deep(depth)
    json_headers = {"Content-Type": "application/json"}
    pd = client.post("/v2/enqueue", content=body, headers=json_headers)
    assert pd.status_code == 400
    assert pd.json()["status"] == "Unrecognized object"
    assert "nested more than 64 levels" in pd.json()["errors"][0]
    io = client.post(IO, content=body, headers={"Authorization": f"Bearer {CFG.incidentio_secret}"})
    assert io.status_code == 400
    assert io.json()["type"] == "invalid_request_error"
    xm = client.post(XM, content=body, params={"apiKey": CFG.xmatters_api_key})
    assert xm.status_code == 202  # xMatters answers 202 whatever the flow makes of the body
    comment = client.post(
        f"/resources/v2.0/environments/{ENV}/incidents/i-1/comments",
        content=body,
        headers={"Authorization": f"Bearer {CFG.bigpanda_api_key}"},
    )
    assert comment.status_code == 400
    hook = client.post(
        "/webhook/demo", content=body, headers={"Authorization": "Bearer demo-webhook-token"}
    )
    assert hook.status_code == 400
    received = client.get("/_received")
    assert received.status_code == 200
    records = received.json()
    assert [r["status"] for r in records] == [400, 400, 202, 400, 400]
    assert not records[2]["valid"]
    assert "nested more than 64 levels" in records[2]["errors"][0]
    assert client.get("/_state").status_code == 200


def test_nesting_within_the_limit_is_accepted(client: httpx.Client) -> None:
    body = b'{"incident":{"id":"i-1","x":' + b"[" * 60 + b"]" * 60 + b"}}"
    r = client.post(
        "/webhook/demo", content=body, headers={"Authorization": "Bearer demo-webhook-token"}
    )
    assert r.status_code == 202


def test_a_lone_surrogate_never_breaks_the_request_log(
    emu: EmulatorServer, client: httpx.Client
) -> None:
    body = b'{"event_type":"incident#new","incident":{"id":"i-\\ud800","status":"critical"}}'
    auth = {"Authorization": f"Bearer {CFG.incidentio_secret}", "Content-Type": "application/json"}
    assert client.post(IO, content=body, headers=auth).status_code == 202
    for _ in range(2):  # and it stays so: not only the first read
        received = client.get("/_received")
        assert received.status_code == 200
        first = received.json()[0]
        assert first["key"] == "i-?"
        assert "i-?" in first["body_preview"]
    state = client.get("/_state")
    assert state.status_code == 200
    assert state.json()["incidentio"]["alerts"][0]["deduplication_key"] == "i-\ud800"


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_idle_and_slow_header_connections_are_closed() -> None:
    with EmulatorServer(config=EmulatorConfig(idle_timeout=0.5)) as emu:
        idle = socket.create_connection(("127.0.0.1", emu.port))
        slow = socket.create_connection(("127.0.0.1", emu.port))
        slow.sendall(b"POST /v2/enqueue HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        try:
            assert _closed_within(idle, 5)
            slow.sendall(b"X-Trickle: 1\r\n")
            assert _closed_within(slow, 5)
        except OSError:
            pass  # a reset while sending is the server closing too
        finally:
            idle.close()
            slow.close()
        assert time.monotonic() - started < 4


def test_a_body_that_never_arrives_is_408() -> None:
    with EmulatorServer(config=EmulatorConfig(body_timeout=0.5)) as emu:
        with socket.create_connection(("127.0.0.1", emu.port)) as sock:
            sock.sendall(
                b"POST /webhook/demo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                b"Authorization: Bearer demo-webhook-token\r\n\r\n{"
            )
            sock.settimeout(5)
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408")
        assert emu.state.records()[-1].status == 408


def test_faults_are_bounded_in_count_times_and_delay(client: httpx.Client) -> None:
    for _ in range(MAX_FAULTS):
        assert client.post("/_faults", json={"path_prefix": "/v2/"}).status_code == 201
    full = client.post("/_faults", json={"path_prefix": "/v2/"})
    assert full.status_code == 409
    assert "DELETE /_faults" in full.json()["message"]
    assert client.delete("/_faults").json() == {"cleared": MAX_FAULTS}
    too_many = client.post("/_faults", json={"path_prefix": "/v2/", "times": 10**9})
    assert too_many.status_code == 400
    too_slow = client.post("/_faults", json={"path_prefix": "/v2/", "delay": 61})
    assert too_slow.status_code == 400
    deep_fault = client.post(
        "/_faults", content=deep(100_000), headers={"Content-Type": "application/json"}
    )
    assert deep_fault.status_code == 400


def test_config_bounds_its_timeouts() -> None:
    with pytest.raises(ValueError):
        EmulatorConfig(idle_timeout=0)
    with pytest.raises(ValueError):
        EmulatorConfig(body_timeout=-1)
    with pytest.raises(ValueError):
        EmulatorConfig(max_json_depth=1)


def test_a_big_integer_gets_each_targets_own_400_and_is_recorded(
    emu: EmulatorServer, client: httpx.Client
) -> None:
    digits = b"9" * 5000  # Python's reader refuses integers over 4,300 digits
    pd = client.post("/v2/enqueue", content=b'{"dedup_key": ' + digits + b"}")
    assert pd.status_code == 400 and pd.json()["status"] == "Unrecognized object"
    io = client.post(
        IO,
        content=b'{"incident": {"id": ' + digits + b"}}",
        headers={"Authorization": f"Bearer {CFG.incidentio_secret}"},
    )
    assert io.status_code == 400 and io.json()["type"] == "invalid_request_error"
    xm = client.post(XM, content=digits, params={"apiKey": CFG.xmatters_api_key})
    assert xm.status_code == 202  # as xMatters answers; the log says why it is invalid
    hook = client.post(
        "/webhook/demo", content=digits, headers={"Authorization": "Bearer demo-webhook-token"}
    )
    assert hook.status_code == 400
    nan = client.post("/v2/enqueue", content=b'{"dedup_key": NaN}')
    assert nan.status_code == 400  # not JSON, though Python's reader takes it
    records = client.get("/_received").json()
    assert [r["status"] for r in records] == [400, 400, 202, 400, 400]
    assert not records[2]["valid"] and "4300 digits" in records[2]["errors"][0]


def test_large_headers_are_kept_bounded(emu: EmulatorServer, client: httpx.Client) -> None:
    from bp_integrate.emulator.records import MAX_HEADER_VALUE_CHARS, MAX_KEPT_HEADERS

    headers = {f"X-Pad-{i}": "a" * 8000 for i in range(100)}
    headers["Authorization"] = "Bearer demo-webhook-token"
    answer = client.post("/webhook/demo", json={}, headers=headers)
    assert answer.status_code == 202
    (record,) = client.get("/_received").json()
    assert len(record["headers"]) == MAX_KEPT_HEADERS
    assert record["headers_not_kept"] > 70
    assert all(len(v) <= MAX_HEADER_VALUE_CHARS for v in record["headers"].values())
    assert record["headers"]["X-Pad-0"].endswith("…")
    assert 0 < client.get("/_state").json()["records_bytes"] < 256 * 1024
