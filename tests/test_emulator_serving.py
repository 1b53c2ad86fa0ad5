"""The emulator as HTTP clients meet it, through a real socket: what aiohttp's server
gives it (keep-alive, pipelining in order, `100 Continue`, HEAD, limits on the request
head) and what the emulator adds (the body limit and time limit, faults, a bug
answered 500). Raw sockets, because that is what an HTTP client library hides;
answers are read back with the standard library's `http.client`.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bp_integrate.emulator import (
    INCIDENTIO_SOURCE_ID,
    XMATTERS_BIGPANDA_FUNCTION_ID,
    EmulatorConfig,
    EmulatorServer,
    build_app,
    targets,
)
from bp_integrate.emulator.app import Emulator
from bp_integrate.emulator.pagerduty import EventsSchema
from bp_integrate.emulator.wire import Router

KEY = "0123456789abcdef0123456789abcdef"


def event(dedup: str) -> bytes:
    body = {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": dedup,
        "payload": {"summary": "disk full", "source": "db-1", "severity": "critical"},
    }
    return json.dumps(body).encode()


def post(path: str, body: bytes, *extra: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: x", "Content-Type: application/json"]
    head += [f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass
class Answer:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


class _Stream:
    """One buffered reader shared by successive `http.client.HTTPResponse`s, so that
    pipelined answers are read one after the other from the same bytes."""

    def __init__(self, sock: socket.socket) -> None:
        self.file: IO[bytes] = sock.makefile("rb")

    def makefile(self, *args: Any, **kwargs: Any) -> _Stream:
        return self  # an answer read whole "closes" this; the next one reads on

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)

    def close(self) -> None:
        pass


def read_answer(stream: _Stream, method: str = "POST") -> Answer:
    response = http.client.HTTPResponse(stream, method=method)  # type: ignore[arg-type]
    response.begin()  # skips a `100 Continue`
    body = response.read()
    return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def talk(port: int, data: bytes, answers: int, timeout: float = 5.0) -> tuple[list[Answer], bool]:
    """Send `data`, read `answers` whole answers (fewer if the server closed); also
    tell whether the server then closed the connection."""
    done: list[Answer] = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        stream = _Stream(sock)
        try:
            while len(done) < answers:
                done.append(read_answer(stream))
            sock.settimeout(0.3)
            closed = stream.file.read(1) == b""
        except (http.client.RemoteDisconnected, http.client.IncompleteRead, ConnectionError):
            closed = True
        except TimeoutError:
            closed = False
    return done, closed


def test_pipelined_requests_are_answered_in_order_even_behind_a_delay(
    emu: EmulatorServer,
) -> None:
    httpx.post(
        f"{emu.base_url}/_faults", json={"path_prefix": "/v2/", "status": None, "delay": 0.3}
    )
    data = (
        post("/v2/enqueue", event("first"))
        + b"GET /_state HTTP/1.1\r\nHost: x\r\n\r\n"
        + post("/v2/enqueue", event("second"))
    )
    (first, state, second), closed = talk(emu.port, data, 3)
    assert (first.status, first.json()["dedup_key"]) == (202, "first")
    assert state.status == 200 and state.json()["requests_received"] == 1  # after the delay
    assert (second.status, second.json()["dedup_key"]) == (202, "second")
    assert "date" in first.headers
    assert not closed  # keep-alive throughout
    assert [r.fault for r in emu.state.records()] == ["delay 0.3s", None]


def test_expect_100_continue_is_answered_before_the_body_is_sent(emu: EmulatorServer) -> None:
    body = event("continue")
    head = post("/v2/enqueue", b"", "Expect: 100-continue").replace(
        b"Content-Length: 0", f"Content-Length: {len(body)}".encode()
    )
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(head)
        assert sock.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = read_answer(_Stream(sock))
    assert answer.status == 202


def test_expect_100_continue_waits_its_turn_and_is_for_http_1_1_only(emu: EmulatorServer) -> None:
    httpx.post(
        f"{emu.base_url}/_faults", json={"path_prefix": "/v2/", "status": None, "delay": 0.3}
    )
    body = event("late")
    second = post("/v2/enqueue", b"", "Expect: 100-continue").replace(
        b"Content-Length: 0", f"Content-Length: {len(body)}".encode()
    )
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(post("/v2/enqueue", event("first")) + second)
        stream = _Stream(sock)
        first = read_answer(stream)  # the delayed answer comes before a 100 for the second
        sock.sendall(body)
        late = read_answer(stream)
    assert [first.status, late.status] == [202, 202]
    assert late.json()["dedup_key"] == "late"
    old = post("/v2/enqueue", event("old"), "Expect: 100-continue").replace(b"1.1", b"1.0")
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(old)
        assert sock.recv(4096).startswith(b"HTTP/1.0 202 ")  # no 100 to an HTTP/1.0 client


def test_an_expectation_other_than_100_continue_is_417_as_aiohttp_answers_it(
    emu: EmulatorServer,
) -> None:
    head = post("/v2/enqueue", event("magic"), "Expect: magic")
    (answer,), _ = talk(emu.port, head, 1)
    assert answer.status == 417
    assert not emu.state.records()  # refused before the emulator saw it, as nginx does


def test_a_body_declared_too_large_is_413_at_once_and_recorded() -> None:
    with EmulatorServer(config=EmulatorConfig(max_body_bytes=1000)) as emu:
        head = post("/v2/enqueue", b"").replace(b"Content-Length: 0", b"Content-Length: 5000")
        started = time.monotonic()
        (answer,), _ = talk(emu.port, head, 1)  # the body is never sent
        assert time.monotonic() - started < 2
        assert answer.status == 413
        assert answer.headers["connection"] == "close"
        assert answer.json() == {
            "status": 413,
            "message": "Request body too large: the limit is 1000 bytes",
        }
        (record,) = emu.state.records()
        assert (record.status, record.body_bytes, record.target) == (413, 5000, "pagerduty")
        assert record.errors == ("request body larger than 1000 bytes",)


def chunked(path: str, body: bytes, size: int = 7) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").encode() + (
        chunks
    )


def test_chunked_bodies_are_read_whole_and_bounded() -> None:
    with EmulatorServer(config=EmulatorConfig(max_body_bytes=1000)) as emu:
        (answer,), closed = talk(emu.port, chunked("/v2/enqueue", event("chunked")), 1)
        assert (answer.status, answer.json()["dedup_key"], closed) == (202, "chunked", False)
        (answer,), closed = talk(emu.port, chunked("/v2/enqueue", b"x" * 3000, 500), 1)
        assert (answer.status, answer.headers["connection"]) == (413, "close")
        assert [r.status for r in emu.state.records()] == [202, 413]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Many: 1\r\n" * 200 + b"\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 9000 + b"\r\n\r\n", 400),
        (b"GET /_state HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"v" * 100_000, 400),
        (b"GET /_state HTTP/1.1\r\n\r\n", 400),
        (b"GET /_state HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET http://[::1/_state HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ],
    ids=[
        "garbage",
        "bad-length",
        "long-target",
        "many-headers",
        "long-header",
        "endless-header",
        "no-host",
        "two-hosts",
        "bad-target",
    ],
)
def test_a_request_that_cannot_be_taken_is_refused_then_closed(
    emu: EmulatorServer, data: bytes, status: int
) -> None:
    started = time.monotonic()
    (answer,), closed = talk(emu.port, data, 1)
    assert answer.status == status
    assert closed
    assert time.monotonic() - started < 5  # refused, not left to the idle timeout
    assert emu.state.records() == ()  # nothing an emulated target received
    r = httpx.post(f"{emu.base_url}/v2/enqueue", content=event("after"))
    assert r.status_code == 202  # the next client is served


def test_an_http_2_request_line_is_505_then_closed(emu: EmulatorServer) -> None:
    """As nginx does (aiohttp's parser lets it through). aiohttp writes the status line
    with the request's version, so it reads "HTTP/2.0 505"."""
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(b"GET /_state HTTP/2.0\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):  # until the server closes
            answer += chunk
    line, _, rest = answer.partition(b"\r\n")
    assert line == b"HTTP/2.0 505 HTTP Version Not Supported"
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["status"] == 505


def test_an_h2c_upgrade_request_is_answered_over_http_1_1(emu: EmulatorServer) -> None:
    """As aiohttp and nginx do: the upgrade is not taken, the request is answered."""
    body = event("h2c")
    data = post(
        "/v2/enqueue",
        body,
        "Connection: Upgrade, HTTP2-Settings",
        "Upgrade: h2c",
        "HTTP2-Settings: AAMAAABkAAQAAP__",
    )
    (answer,), _ = talk(emu.port, data, 1)
    assert (answer.status, answer.json()["dedup_key"]) == (202, "h2c")


def test_connection_close_http_1_0_and_head(emu: EmulatorServer) -> None:
    (answer,), closed = talk(emu.port, post("/v2/enqueue", event("c"), "Connection: close"), 1)
    assert (answer.status, closed) == (202, True)
    (answer,), closed = talk(emu.port, post("/v2/enqueue", event("d")).replace(b"1.1", b"1.0"), 1)
    assert (answer.status, closed) == (202, True)
    keep = post("/v2/enqueue", event("e"), "Connection: keep-alive").replace(b"1.1", b"1.0")
    (answer,), closed = talk(emu.port, keep, 1)
    assert (answer.status, answer.headers["connection"], closed) == (202, "keep-alive", False)
    for request, status_line in [
        (b"HEAD /_state HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 200 OK"),  # a GET route
        (b"HEAD /v2/enqueue HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 405 Method Not Allowed"),
    ]:
        with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
            sock.sendall(request)
            head = sock.recv(65536)
        line, _, rest = head.partition(b"\r\n")
        assert line == status_line
        assert rest.endswith(b"\r\n\r\n")  # headers only: no body follows a HEAD
        assert b"Content-Length: " in rest and b"Content-Length: 0" not in rest
    assert b"Allow: POST" in rest


def test_a_bug_in_a_handler_is_a_500_and_the_server_goes_on(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: EventsSchema, event: Any) -> list[str]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(EventsSchema, "enqueue_errors", broken)
    with caplog.at_level(logging.ERROR, logger="bp_integrate.emulator.http"):
        (answer,), closed = talk(emu.port, post("/v2/enqueue", event("bug")), 1)
    assert answer.status == 500 and not closed
    assert answer.json()["status"] == 500
    assert "a bug" in caplog.text
    monkeypatch.undo()
    assert httpx.post(f"{emu.base_url}/v2/enqueue", content=event("ok")).status_code == 202


def test_nothing_after_a_dropped_request_is_processed(emu: EmulatorServer) -> None:
    httpx.post(f"{emu.base_url}/_faults", json={"path_prefix": "/v2/", "drop": True})
    data = b"".join(post("/v2/enqueue", event(f"after-drop-{n}")) for n in range(50))
    answers, closed = talk(emu.port, data, 50)
    assert (answers, closed) == ([], True)
    assert [(r.status, r.fault) for r in emu.state.records()] == [(None, "drop")]
    assert emu.state.snapshot()["pagerduty"]["alerts"] == []


def test_a_bad_request_pipelined_with_good_ones_is_one_400_for_all(
    emu: EmulatorServer,
) -> None:
    """aiohttp parses what came in one read as a whole: a malformed request among
    pipelined ones refuses them all with one 400, and none reaches a target."""
    data = (
        post("/v2/enqueue", event("one")) + post("/v2/enqueue", event("two")) + b"GARBAGE\r\n\r\n"
    )
    answers, closed = talk(emu.port, data, 3)
    assert [a.status for a in answers] == [400]
    assert closed
    assert emu.state.records() == ()


def test_a_client_that_pipelines_without_reading_cannot_hold_the_server() -> None:
    with EmulatorServer() as emu, httpx.Client(base_url=emu.base_url) as c:
        for n in range(200):  # a request log worth ~100 KB an answer
            c.post("/v2/enqueue", content=event(f"fill-{n}"))
        before = _rss_mb()
        greedy = socket.create_connection(("127.0.0.1", emu.port))
        try:
            greedy.sendall(b"GET /_received HTTP/1.1\r\nHost: x\r\n\r\n" * 3000)  # never read
            started = time.monotonic()
            assert c.get("/_state", timeout=5).status_code == 200  # others are served
            assert time.monotonic() - started < 2
            assert _rss_mb() - before < 50  # reading pauses: answers are not piled up
        finally:
            greedy.close()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -------------------------------------------------------------- the router
SEGMENTS = st.one_of(
    st.sampled_from(["", "v2", "enqueue", "incidents", "resources", "v2.0", "environments"]),
    st.text(alphabet="abcXYZ019-_.~{}", min_size=1, max_size=6),
)


def _aiohttp_router() -> Any:
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    for target in targets():
        for route in target.routes:
            if route.method == "GET":  # add_get: HEAD too, as ours does
                app.router.add_get(route.path, handler, name=route.name)
            else:
                app.router.add_route(route.method, route.path, handler, name=route.name)
    return app


def _templates() -> list[str]:
    return [route.path for target in targets() for route in target.routes]


@st.composite
def paths(draw: st.DrawFn) -> str:
    if draw(st.booleans()):  # a route's own path, its placeholders filled in
        template = draw(st.sampled_from(_templates()))
        parts = template.split("/")
        filled = [draw(SEGMENTS) if p.startswith("{") else p for p in parts]
        return "/".join(filled)
    path = "/" + "/".join(draw(st.lists(SEGMENTS, max_size=6)))
    # "//x" would be read as a host by make_mocked_request, not as a request line's path.
    return path if not path.startswith("//") else "/" + path.lstrip("/")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]), path=paths())
def test_the_router_resolves_as_aiohttps_does(method: str, path: str) -> None:
    from aiohttp.test_utils import make_mocked_request

    ours = Router()
    for target in targets():
        for route in target.routes:
            ours.add(route.method, route.path, route.name, route.handler)
    app = _aiohttp_router()
    request = make_mocked_request(method, path, app=app)
    theirs = asyncio.run(app.router.resolve(request))
    found = ours.resolve(method, path)
    error = theirs.http_exception
    if error is None:
        assert (found.name, found.match_info) == (theirs.route.name, dict(theirs))
    elif error.status == 405:
        assert found.handler is None
        assert set(found.allowed) == set(error.headers["Allow"].split(","))
    else:
        assert (found.handler, found.allowed) == (None, ())


# ------------------------------------------------------------- hostile bytes
_BYTES = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda head, junk: head + junk,
        st.sampled_from(
            [b"POST /v2/enqueue HTTP/1.1\r\n", b"GET /_state HTTP/1.1\r\nHost: x\r\n", b"GET "]
        ),
        st.binary(max_size=200),
    ),
)


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(config=EmulatorConfig(idle_timeout=1.0, body_timeout=1.0)) as server:
        yield server


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=_BYTES)
def test_no_bytes_break_the_server_for_the_next_client(
    shared_emulator: EmulatorServer, data: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", shared_emulator.port), timeout=5) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(3)
            while sock.recv(65536):
                pass
        except (ConnectionResetError, BrokenPipeError, TimeoutError):
            pass
    r = httpx.post(f"{shared_emulator.base_url}/v2/enqueue", content=event("next"), timeout=5)
    assert r.status_code == 202


# ---------------------------------------------------- the aiohttp application
def test_build_app_embedded_in_an_aiohttp_runner_answers_as_the_server_does(
    emu: EmulatorServer,
) -> None:
    from aiohttp import web

    requests: list[tuple[str, str, bytes]] = [
        ("POST", "/v2/enqueue", event("same")),
        ("POST", "/v2/enqueue", b"{not json"),
        ("GET", "/v2/enqueue", b""),
        ("GET", "/nowhere", b""),
        ("GET", "/_faults", b""),
    ]
    ready = threading.Event()
    stop = threading.Event()
    port: list[int] = []

    async def serve() -> None:
        runner = web.AppRunner(build_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port.append(runner.addresses[0][1])
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.02)
        await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(serve(),))
    thread.start()
    try:
        assert ready.wait(5)
        for method, path, body in requests:
            ours = httpx.request(method, emu.base_url + path, content=body)
            theirs = httpx.request(method, f"http://127.0.0.1:{port[0]}{path}", content=body)
            assert (theirs.status_code, theirs.json()) == (ours.status_code, ours.json())
            assert theirs.headers["content-type"] == ours.headers["content-type"]
    finally:
        stop.set()
        thread.join(5)


def test_an_emulator_is_usable_without_a_server() -> None:
    """`Emulator.handle` is a plain function of a request: no loop, no socket."""
    from multidict import CIMultiDict

    from bp_integrate.emulator.wire import Request

    emulator = Emulator()
    answer = emulator.handle(
        Request("POST", "/v2/enqueue", "", CIMultiDict(), event("plain"), emulator)
    )
    assert answer is not None and not asyncio.iscoroutine(answer)
    assert (answer.status, json.loads(answer.body)["dedup_key"]) == (202, "plain")  # type: ignore[union-attr]
    assert emulator.state.records()[0].route == "pagerduty_events"


# ------------------------------------------------------ what a fault may say
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 100}, "status must be an integer from 200 to 599"),
        ({"headers": {"X A": "1"}}, "header name 'X A' is not an HTTP token"),
        ({"headers": {"X-U": "\ud800"}}, "the value must be printable Latin-1 text"),
        ({"headers": {"X-CR": "a\r\nSet-Cookie: x"}}, "the value must be printable Latin-1"),
    ],
)
def test_faults_that_would_break_the_answer_are_refused(
    emu: EmulatorServer, fault: dict[str, Any], error: str
) -> None:
    spec = json.dumps({"path_prefix": "/v2/", **fault})  # \ud800 escaped, as a client may send
    r = httpx.post(f"{emu.base_url}/_faults", content=spec)
    assert r.status_code == 400
    assert any(e.startswith(error) or error in e for e in r.json()["errors"])


def test_a_text_fault_with_a_lone_surrogate_is_answered_and_recorded(emu: EmulatorServer) -> None:
    spec = json.dumps({"path_prefix": "/v2/", "status": 503, "body": "busy \ud800"})
    assert httpx.post(f"{emu.base_url}/_faults", content=spec).status_code == 201
    r = httpx.post(f"{emu.base_url}/v2/enqueue", content=event("f"))
    assert (r.status_code, r.text) == (503, "busy ?")
    assert [x.status for x in emu.state.records()] == [503]


@pytest.mark.parametrize(
    ("path", "authorization"),
    [
        ("/resources/v2.0/environments", b"Bearer \xff\xfe"),
        ("/incidents", b"Token token=\xff"),
        (
            f"/api/integration/1/functions/{XMATTERS_BIGPANDA_FUNCTION_ID}/triggers",
            "Basic é".encode(),
        ),
        (f"/v2/alert_events/big_panda/{INCIDENTIO_SOURCE_ID}", "Basic é".encode()),
        ("/webhook/demo", b"Bearer \xff"),
    ],
)
def test_credentials_in_odd_bytes_are_refused_not_a_500(
    emu: EmulatorServer, path: str, authorization: bytes
) -> None:
    method = b"GET" if path in ("/resources/v2.0/environments", "/incidents") else b"POST"
    body = b"{}" if method == b"POST" else b""
    data = (
        method + b" " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: "
        + authorization + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip
    (answer,), _ = talk(emu.port, data, 1)
    assert answer.status in (400, 401, 403)


def test_an_encoded_slash_stays_in_its_segment(emu: EmulatorServer) -> None:
    auth = {"Authorization": "Bearer demo-webhook-token"}
    r = httpx.post(f"{emu.base_url}/webhook%2Fdemo", json={"incident": {"id": "i"}}, headers=auth)
    assert r.status_code == 404
    r = httpx.post(f"{emu.base_url}/webhook/a%2Fb", json={"incident": {"id": "i"}}, headers=auth)
    assert r.status_code == 202
    (receiver,) = emu.state.snapshot()["webhook"]["receivers"]
    assert receiver["receiver_id"] == "a/b"


def test_an_autoshare_rule_that_could_not_be_planned_is_refused(emu: EmulatorServer) -> None:
    rule = {"environment_id": "e", "integration": "pagerduty", "values": {}}
    r = httpx.post(f"{emu.base_url}/_bigpanda/autoshare", json=rule)
    assert r.status_code == 400
    assert "integration_key" in r.json()["message"]
