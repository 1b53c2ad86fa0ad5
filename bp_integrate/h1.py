"""The webhook sender for targets reached directly (no proxy): HTTP/1.1 on httptools.

This module owns :class:`DirectSender`: a pool of keep-alive connections per origin
(``http`` and ``https``, TLS by asyncio with the system's certificate store), each
request written as planned (the URL's path and query byte for byte, our headers and
body) and its answer parsed by llhttp's response parser (httptools), at most
``RESPONSE_CAP`` bytes of the body read. Failures are the standard library's own
exceptions (refused, DNS, TLS, reset, timeout), which :mod:`bp_integrate.failures`
classifies by type.

Why not aiohttp's ClientSession, which still serves requests through a proxy: a send
cost a storm about 320 us of CPU through it and about 30 us through this (the rest
of the engine's work is about 180 us an event), and storm mode is the tool's load
test (benchmarks/README.md, "storm.py").
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from collections.abc import Mapping
from urllib.parse import urlsplit

import httptools  # type: ignore[import-untyped, unused-ignore]

from bp_integrate.failures import classify
from bp_integrate.http import RESPONSE_CAP, USER_AGENT, NetworkFailure, Response, Timings

#: A pooled connection idle longer than this is closed, not reused: servers close theirs
#: (Node.js after 5 s), and a request written as one closes is lost in a reset.
IDLE_EXPIRY = 4.0


class _Unexpected(Exception):
    """Bytes where no answer was awaited: the connection is not used again."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time, its answer parsed as it comes."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.done: asyncio.Future[None] | None = None
        self.head_only = False
        self.status = 0
        self.interim = False
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.size = 0
        self.complete = False
        self.headers_at = 0.0
        self.closed = False
        self.keep_alive = False
        self.idle_since = 0.0

    def expect(self, head_only: bool) -> asyncio.Future[None]:
        """Get ready for the answer to a request about to be written."""
        self.status, self.interim, self.headers, self.body, self.size = 0, False, {}, [], 0
        self.complete = self.keep_alive = False
        self.headers_at = 0.0
        self.head_only = head_only
        self.done = asyncio.get_running_loop().create_future()
        return self.done

    # -- asyncio
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.status and not self.complete and self._ends_at_eof():
            self.complete = True  # an answer without a length ends when the connection does
        self._finish(exc if exc is not None else ConnectionResetError("connection closed"))

    def _ends_at_eof(self) -> bool:
        return "content-length" not in self.headers and "chunked" not in self.headers.get(
            "transfer-encoding", ""
        )

    def eof_received(self) -> bool | None:
        self.closed = True
        return None  # let the transport close

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ConnectionResetError("the target switched protocols (101)"))
        except httptools.HttpParserError as exc:
            unexpected = isinstance(exc.__context__, _Unexpected)
            self._fail(
                ConnectionResetError(
                    "bytes after the answer" if unexpected else f"malformed answer: {exc}"
                )
            )

    def _fail(self, error: BaseException) -> None:
        self._finish(error)
        self.abort()

    # -- httptools
    def on_message_begin(self) -> None:
        if self.complete or self.done is None:
            raise _Unexpected  # the answer is whole (or none was asked for): these are extra

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # an interim answer (100, 103): the real one follows
            self.interim, self.headers = True, {}
            return
        self.status = status
        self.headers_at = time.perf_counter()
        if self.head_only:  # no body follows an answer to HEAD; llhttp cannot be told
            self.complete = True
            self._finish(None)
            self.abort()

    def on_body(self, chunk: bytes) -> None:
        if self.size < RESPONSE_CAP:
            self.body.append(chunk[: RESPONSE_CAP - self.size])
        self.size += len(chunk)
        if self.size >= RESPONSE_CAP:  # the rest is never downloaded
            self.complete = True
            self._finish(None)
            self.abort()

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # llhttp forgets it right after
        self._finish(None)

    # -- ours
    def _finish(self, error: BaseException | None) -> None:
        done = self.done
        if done is not None and not done.done():
            if error is None or self.complete:
                done.set_result(None)
            else:
                done.set_exception(error)

    def reusable(self) -> bool:
        transport = self.transport
        return (
            self.keep_alive
            and not self.closed
            and transport is not None
            and not transport.is_closing()
            and not transport.get_write_buffer_size()  # answered before reading it all
        )

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class DirectSender:
    """Sends webhook requests to targets reached without a proxy (see the module)."""

    def __init__(self, max_connections: int) -> None:
        self._limit = max(1, max_connections)
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._targets: dict[str, tuple[tuple[str, str, int], str, str]] = {}
        self._ssl: ssl.SSLContext | None = None

    async def request(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes, timeout: float
    ) -> Response:
        start = time.perf_counter()
        origin, target, host = self._target(url)
        head = [f"{method} ", target, f" HTTP/1.1\r\nHost: {host}\r\n"]
        if "user-agent" not in (k.lower() for k in headers):
            head.append(f"User-Agent: {USER_AGENT}\r\n")
        for name, value in headers.items():
            if name.lower() not in ("content-length", "host", "transfer-encoding"):
                head.append(f"{_one_line(name)}: {_one_line(value)}\r\n")
        head.append(f"Content-Length: {len(content)}\r\n\r\n")
        data = "".join(head).encode("utf-8", "replace") + content
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(timeout):
                connection = await self._connection(origin)
                ready = time.perf_counter()
                transport = connection.transport
                if transport is None or connection.closed:
                    raise ConnectionResetError("connection closed")
                done = connection.expect(head_only=method == "HEAD")
                transport.write(data)
                await done
        except (OSError, TimeoutError, ssl.SSLError, asyncio.CancelledError) as exc:
            if connection is not None:
                status = connection.status
                self._release(origin, connection, keep=False)
                if status and not isinstance(exc, asyncio.CancelledError):
                    # The status line arrived: the target answered, whatever became of the body.
                    return Response(
                        status,
                        connection.headers,
                        _decoded(b"".join(connection.body), connection.headers),
                        classify(exc),
                    )
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise NetworkFailure(classify(exc)) from exc
        assert connection is not None
        status, answer_headers = connection.status, connection.headers
        body = _decoded(b"".join(connection.body), answer_headers)
        self._release(origin, connection, keep=connection.reusable())
        timings = Timings((ready - start) * 1000.0, (connection.headers_at - ready) * 1000.0)
        return Response(status, answer_headers, body, timings=timings)

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                if connection.transport is not None:
                    connection.transport.close()
        self._idle.clear()

    # ----------------------------------------------------------------- private
    def _target(self, url: str) -> tuple[tuple[str, str, int], str, str]:
        """(origin, request target as planned, Host header) of ``url`` (cached per URL)."""
        found = self._targets.get(url)
        if found is not None:
            return found
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            port = parts.port  # ValueError past 65535
            if scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("not an http(s) URL")
        except ValueError as exc:  # the message, not the URL: it may carry a key
            raise NetworkFailure(classify(ValueError(str(exc).split(":")[0]))) from None
        default = 443 if scheme == "https" else 80
        port = port or default
        hostname = parts.hostname
        shown = f"[{hostname}]" if ":" in hostname else hostname
        host = shown if port == default else f"{shown}:{port}"
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        origin = (scheme, hostname, port)
        if len(self._targets) < 1024:
            self._targets[url] = (origin, target, host)
        return origin, target, host

    async def _connection(self, origin: tuple[str, str, int]) -> _Connection:
        """A pooled connection to ``origin``, or a new one within the limit."""
        while True:
            idle = self._idle.get(origin)
            while idle:
                connection = idle.pop()
                if connection.reusable() and time.monotonic() - connection.idle_since < IDLE_EXPIRY:
                    return connection
                self._drop(connection)
            if self._open < self._limit or self._evict():
                break
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken, then cancelled: the next one in line gets it
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self._open += 1
        scheme, hostname, port = origin
        context = None
        if scheme == "https":
            if self._ssl is None:
                # Made now, not at import: an SSL_CERT_FILE set later is honoured.
                self._ssl = ssl.create_default_context()
            context = self._ssl
        try:
            _, connection = await asyncio.get_running_loop().create_connection(
                _Connection,
                hostname,
                port,
                ssl=context,
                server_hostname=hostname if context is not None else None,
            )
        except BaseException:
            self._open -= 1
            self._wake()
            raise
        return connection

    def _evict(self) -> bool:
        """Close an idle connection to another origin to make room; False if none."""
        for connections in self._idle.values():
            if connections:
                self._drop(connections.pop(0))
                return True
        return False

    def _release(self, origin: tuple[str, str, int], connection: _Connection, keep: bool) -> None:
        connection.done = None
        if keep:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(origin, []).append(connection)
        else:
            self._drop(connection)
        self._wake()

    def _drop(self, connection: _Connection) -> None:
        connection.abort()
        self._open -= 1

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


def _one_line(text: str) -> str:
    # A header never splits the request (aiohttp refuses such a header; we neutralise it).
    return text.replace("\r", " ").replace("\n", " ") if "\r" in text or "\n" in text else text


def _decoded(body: bytes, headers: Mapping[str, str]) -> bytes:
    """The body as sent, gunzipped or inflated if the target compressed it anyway."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if not body or encoding not in ("gzip", "deflate"):
        return body
    for wbits in (31,) if encoding == "gzip" else (15, -15):  # deflate: zlib, else raw
        try:
            return zlib.decompressobj(wbits).decompress(body, RESPONSE_CAP)
        except zlib.error:
            continue
    return body
