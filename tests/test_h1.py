"""The direct webhook sender (bp_integrate/h1.py) against real local servers that answer
in the ways targets do: keep-alive, closing between requests, chunked, gzipped, no length.

The CLI-level behaviour (refused, DNS, TLS, timeouts, a body that breaks, a huge answer,
redirects) is tested through `send-test` in test_send.py and test_network_faults.py.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable

import pytest

from bp_integrate.failures import FailureKind
from bp_integrate.h1 import DirectSender
from bp_integrate.http import RESPONSE_CAP, NetworkFailure

Answer = Callable[[bytes], bytes]


class Server:
    """A loopback HTTP server whose answer to each request is `answer(request bytes)`;
    `close_after` closes the connection after each answer without saying so."""

    def __init__(self, answer: Answer, close_after: bool = False) -> None:
        self.answer = answer
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []
        self.open = 0
        self.most_open = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(
                    next(
                        (
                            line.split(b":", 1)[1]
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-length:")
                        ),
                        b"0",
                    )
                )
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                await asyncio.sleep(0.01)
                writer.write(self.answer(head + body))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.open -= 1
            writer.close()


async def serving(server: Server, test: Callable[[str], Awaitable[None]]) -> None:
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        await test(f"http://127.0.0.1:{port}/hook/1?apiKey=k%2Fv")
    finally:
        listening.close()


def ok(body: bytes = b'{"requestId":"r-1"}', extra: bytes = b"") -> Answer:
    return lambda _: (
        b"HTTP/1.1 202 Accepted\r\nContent-Length: %d\r\n%s\r\n" % (len(body), extra) + body
    )


def test_keep_alive_one_connection_for_sequential_sends_and_the_request_as_planned() -> None:
    server = Server(ok())

    async def test(url: str) -> None:
        sender = DirectSender(10)
        for n in range(20):
            answer = await sender.request(
                "POST", url, {"Content-Type": "application/json"}, b'{"n":%d}' % n, 5
            )
            assert (answer.status, answer.body) == (202, b'{"requestId":"r-1"}')
            assert answer.timings is not None and answer.timings.response_ms >= 0
        await sender.aclose()

    asyncio.run(serving(server, test))
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /hook/1?apiKey=k%2Fv HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nContent-Type: application/json\r\n" in first
    assert b"\r\nUser-Agent: bp-integrate/" in first
    assert first.endswith(b'\r\nContent-Length: 7\r\n\r\n{"n":0}')


def test_a_connection_the_target_closed_is_not_reused_and_nothing_is_sent_twice() -> None:
    server = Server(ok(), close_after=True)  # closes after each answer, without saying so

    async def test(url: str) -> None:
        sender = DirectSender(10)
        for _ in range(5):
            answer = await sender.request("POST", url, {}, b"{}", 5)
            assert answer.status == 202
            await asyncio.sleep(0.02)  # the close may or may not have arrived: both work
        await sender.aclose()

    asyncio.run(serving(server, test))
    assert len(server.requests) == 5
    assert server.connections == 5


def test_chunked_gzipped_and_unbounded_answers_are_read_whole() -> None:
    data = b'{"requestId":"zipped"}'
    packed = gzip.compress(data)
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
        + b"%x\r\n%s\r\n0\r\n\r\n" % (len(packed), packed)
    )
    server = Server(lambda _: chunked)

    async def test(url: str) -> None:
        sender = DirectSender(10)
        answer = await sender.request("POST", url, {}, b"{}", 5)
        assert (answer.status, answer.body, answer.headers["content-encoding"]) == (
            200,
            data,
            "gzip",
        )
        await sender.aclose()

    asyncio.run(serving(server, test))
    unbounded = Server(lambda _: b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", True)

    async def test2(url: str) -> None:
        sender = DirectSender(10)
        answer = await sender.request("POST", url, {}, b"{}", 5)
        assert (answer.status, answer.body, answer.body_error) == (200, b"until the end", None)
        await sender.aclose()

    asyncio.run(serving(unbounded, test2))


def test_at_most_max_connections_are_open_and_a_huge_answer_is_cut() -> None:
    server = Server(ok(b"x" * (RESPONSE_CAP * 3)))

    async def test(url: str) -> None:
        sender = DirectSender(2)
        answers = await asyncio.gather(
            *(sender.request("POST", url, {}, b"{}", 10) for _ in range(10))
        )
        assert {a.status for a in answers} == {202}
        assert {len(a.body) for a in answers} == {RESPONSE_CAP}
        await sender.aclose()

    asyncio.run(serving(server, test))
    assert server.most_open <= 2
    assert len(server.requests) == 10


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (lambda _: b"", FailureKind.RESET),  # closed without a word
        (lambda _: b"NOT HTTP\r\n\r\n", FailureKind.RESET),
    ],
    ids=["closed", "garbage"],
)
def test_no_status_line_is_a_network_failure(answer: Answer, kind: FailureKind) -> None:
    server = Server(answer, close_after=True)

    async def test(url: str) -> None:
        sender = DirectSender(10)
        with pytest.raises(NetworkFailure) as failed:
            await sender.request("POST", url, {}, b"{}", 5)
        assert failed.value.kind is kind
        await sender.aclose()

    asyncio.run(serving(server, test))


def test_a_target_that_never_answers_is_a_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    async def main() -> None:
        listening = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        sender = DirectSender(10)
        with pytest.raises(NetworkFailure) as failed:
            await sender.request("POST", f"http://127.0.0.1:{port}/", {}, b"{}", 0.2)
        assert failed.value.kind is FailureKind.TIMEOUT
        assert sender._open == 0  # the connection given up on is not kept
        await sender.aclose()
        listening.close()

    asyncio.run(main())


def test_bytes_after_a_whole_answer_never_replace_it_and_end_the_connection() -> None:
    extra = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"
    server = Server(lambda _: ok()(b"") + extra)

    async def test(url: str) -> None:
        sender = DirectSender(10)
        for _ in range(3):
            answer = await sender.request("POST", url, {}, b"{}", 5)
            assert (answer.status, answer.body) == (202, b'{"requestId":"r-1"}')
            await asyncio.sleep(0.02)
        await sender.aclose()

    asyncio.run(serving(server, test))
    assert server.connections == 3  # each connection that said more than asked is dropped


def test_interim_answers_are_not_the_answer() -> None:
    server = Server(
        lambda _: b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n" + ok()(b"")
    )

    async def test(url: str) -> None:
        sender = DirectSender(10)
        answer = await sender.request("POST", url, {}, b"{}", 5)
        assert (answer.status, answer.body) == (202, b'{"requestId":"r-1"}')
        await sender.aclose()

    asyncio.run(serving(server, test))
    only_interim = Server(lambda _: b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n")

    async def test2(url: str) -> None:
        sender = DirectSender(10)
        with pytest.raises(NetworkFailure) as failed:
            await sender.request("POST", url, {}, b"{}", 0.3)
        assert failed.value.kind is FailureKind.TIMEOUT  # no status line: may be retried
        await sender.aclose()

    asyncio.run(serving(only_interim, test2))


def test_a_request_the_target_took_then_dropped_is_never_resent_by_the_sender() -> None:
    server = Server(lambda _: b"", close_after=True)  # reads the request, answers nothing

    async def test(url: str) -> None:
        sender = DirectSender(10)
        with pytest.raises(NetworkFailure) as failed:
            await sender.request("POST", url, {}, b'{"once":1}', 5)
        assert failed.value.kind is FailureKind.RESET
        await sender.aclose()

    asyncio.run(serving(server, test))
    assert len(server.requests) == 1  # whether to send again is the retry policy's call


def test_raw_deflate_is_inflated_like_zlib_deflate() -> None:
    import zlib

    data = b'{"requestId":"deflated"}'
    raw = zlib.compressobj(wbits=-15)
    packed = raw.compress(data) + raw.flush()
    server = Server(ok(packed, b"Content-Encoding: deflate\r\n"))

    async def test(url: str) -> None:
        sender = DirectSender(10)
        assert (await sender.request("POST", url, {}, b"{}", 5)).body == data
        await sender.aclose()

    asyncio.run(serving(server, test))
