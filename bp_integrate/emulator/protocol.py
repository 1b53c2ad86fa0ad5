"""HTTP/1.1 for the emulator: llhttp's parser (through httptools) under one asyncio protocol.

This module owns :class:`HttpProtocol`, one instance per connection: it parses
requests with ``httptools`` (the parser of Node.js, and of uvicorn), hands each
whole request to :meth:`.app.Emulator.handle` and writes the answer. It owns
what an HTTP server must bound for a test double that hostile or broken clients
may reach: the request line (414), the header block (431), the body
(``max_body_bytes``, 413 as soon as ``Content-Length`` says so), the wait for
headers and between requests (``idle_timeout``: the connection is closed), the
wait for a body (``body_timeout``: 408), a malformed request (400, then the
connection is closed), and a client that does not read its answers (reading
pauses while the answers wait in the buffer).

Why not aiohttp's server, as before: a request cost about 60 us of CPU through
``aiohttp.web``'s request, middleware and response objects and about 20 us
through this protocol (benchmarks/README.md, "receiver.py"); the emulator is the
usual target of CI storms, so that cost is what bounds them. Keep-alive and
pipelining are kept: answers go out in the order requests came, and reading
stops while an answer waits (an injected delay).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from email.utils import formatdate
from typing import TYPE_CHECKING

import httptools  # type: ignore[import-untyped, unused-ignore]
from multidict import CIMultiDict

from .context import json_response
from .wire import REASONS, Request, Response, decoded_path

if TYPE_CHECKING:
    from .app import Emulator

#: Errors about what clients sent (a malformed request line...) go here, not to
#: stderr as tracebacks: a client must not be able to fill the receiver's terminal.
#: Configured logging (the debug switch) still gets them through propagation.
log = logging.getLogger("bp_integrate.emulator.http")
log.addHandler(logging.NullHandler())

#: The longest request line target accepted (aiohttp's default too): longer → 414.
MAX_URL_BYTES = 8190
#: The largest header block accepted (names and values): larger → 431.
MAX_HEADER_BYTES = 64 * 1024
#: The most header fields accepted in one request: more → 431.
MAX_HEADERS = 128
#: Bytes received while a request's headers are still incomplete, past which the
#: answer is 431 even before a header line ends (llhttp buffers an unfinished line).
MAX_HEAD_BYTES = MAX_URL_BYTES + MAX_HEADER_BYTES + 1024
#: Requests pipelined on one connection and not yet answered: past this the
#: connection is dropped (a client that sends without reading).
MAX_PENDING = 1000
#: Headers the writer computes itself: a handler's (or a fault's) own are dropped.
_COMPUTED = frozenset({"content-length", "transfer-encoding", "date", "connection"})
_NO_BODY = frozenset({204, 304})

_date_second = 0
_date_value = ""


def _http_date() -> str:
    """The ``Date`` header's value, formatted once a second."""
    global _date_second, _date_value
    now = int(time.time())
    if now != _date_second:
        _date_second, _date_value = now, formatdate(now, usegmt=True)
    return _date_value


def _header_text(text: str) -> str:
    # A header value from a fault's spec is checked when queued; never let one split the answer.
    return text.replace("\r", " ").replace("\n", " ") if "\r" in text or "\n" in text else text


class _Refused(Exception):
    """Raised from a parser callback: answer ``status`` and close the connection."""

    def __init__(self, status: int, message: str, body_bytes: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.body_bytes = body_bytes


class _Stop(Exception):
    """Raised from a parser callback: the connection is closing, parse no further."""


@dataclass
class _Owed:
    """An answer owed on this connection, in the order the requests came."""

    request: Request
    keep_alive: bool
    http10: bool = False
    refusal: Response | None = None  # a refusal closes the connection once written


class HttpProtocol(asyncio.Protocol):
    """One client connection to the emulator (see the module's documentation)."""

    def __init__(self, emulator: Emulator, connections: set[HttpProtocol] | None = None) -> None:
        self.emulator = emulator
        config = emulator.config
        self._idle_timeout = config.idle_timeout
        self._body_timeout = config.body_timeout
        self._max_body = config.max_body_bytes
        self._connections = connections
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        # The request being received.
        self._head_bytes = 0
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._in_message = False  # headers complete, message not yet
        self._head: Request | None = None
        self._headers_at = 0.0
        # Answers owed, in order, and time limits.
        self._owed: deque[_Owed] = deque()
        self._busy: asyncio.Task[Response | None] | None = None
        self._busy_owed: _Owed | None = None
        self._last_activity = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self._write_paused = False
        self._closing = False

    # ------------------------------------------------------------ connection
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        if self._connections is not None:
            self._connections.add(self)
        self._arm(self._last_activity + self._idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._busy is not None:
            self._busy.cancel()
        self._owed.clear()
        if self._connections is not None:
            self._connections.discard(self)
        self._transport = None

    def pause_writing(self) -> None:
        self._write_paused = True
        self._reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._drain()
        self._reading()

    def close(self) -> None:
        """Close the connection once what is written has gone out; drop it if the
        client has not read that within the idle timeout."""
        transport = self._transport
        if transport is None or self._closing:
            return
        self._closing = True
        transport.close()
        if transport.get_write_buffer_size():
            self._loop.call_later(self._idle_timeout, self._abort)

    def _abort(self) -> None:
        self._closing = True
        if self._transport is not None:
            self._transport.abort()

    def _reading(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._write_paused or self._busy is not None or self._owed:
            transport.pause_reading()
        else:
            transport.resume_reading()

    # ----------------------------------------------------------------- input
    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        if not self._in_message:
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            reason = exc.__context__
            if isinstance(reason, _Refused):
                self._refuse(reason.status, str(reason), reason.body_bytes)
            elif not isinstance(reason, _Stop):  # a bug of ours: said once, the client gets a 500
                log.error("emulator failed on a request", exc_info=reason)
                self._refuse(500, "the emulator failed on this request (see its log)")
            return
        except httptools.HttpParserUpgrade:
            self._end_with_owed()  # no protocol switch here: answer what came, then close
            return
        except httptools.HttpParserError as exc:
            log.debug("malformed request: %s", exc)
            self._refuse(400, f"Malformed HTTP request: {exc}")
            return
        if self._closing:
            return
        if self._in_message:
            # The body is still arriving: from now on its time limit applies.
            self._arm(self._headers_at + self._body_timeout)
        elif self._head_bytes > MAX_HEAD_BYTES:
            self._refuse(431, f"Request line and headers larger than {MAX_HEAD_BYTES} bytes")
        if len(self._owed) > MAX_PENDING:
            log.debug("more than %d requests pipelined unanswered: dropped", MAX_PENDING)
            self._abort()

    def on_message_begin(self) -> None:
        if self._closing:
            raise _Stop
        self._url = b""
        self._headers = []
        self._header_bytes = 0
        self._body = []
        self._body_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > MAX_URL_BYTES:
            raise _Refused(414, f"Request target longer than {MAX_URL_BYTES} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > MAX_HEADER_BYTES or len(self._headers) > MAX_HEADERS:
            raise _Refused(
                431, f"Request headers larger than {MAX_HEADER_BYTES} bytes or {MAX_HEADERS} fields"
            )

    def on_headers_complete(self) -> None:
        self._in_message = True
        self._head_bytes = 0
        self._headers_at = self._loop.time()
        method = self._parser.get_method().decode("ascii", "replace")
        raw_path, raw_query = self._target(method, self._url)
        path, routed = decoded_path(raw_path)
        headers: CIMultiDict[str] = CIMultiDict(
            (n.decode("utf-8", "surrogateescape"), v.decode("utf-8", "surrogateescape"))
            for n, v in self._headers
        )
        self._head = Request(
            method, path, raw_query, headers, b"", self.emulator, self._abort, routed
        )
        length = headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self._max_body:
            raise _Refused(413, "too large", int(length))
        if (
            headers.get("Expect", "").lower() == "100-continue"
            and not self._owed
            and self._busy is None
            and self._parser.get_http_version() == "1.1"
            and self._transport is not None
        ):
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    @staticmethod
    def _target(method: str, url: bytes) -> tuple[str, str]:
        """The raw path and query string of a request target, or :class:`_Refused`."""
        if method == "CONNECT":
            raise _Refused(400, "CONNECT is not served here: this is not a proxy")
        if url[:1] == b"/":
            url = url.partition(b"#")[0]
            raw_path, _, raw_query = url.partition(b"?")
        elif url == b"*":
            raw_path, raw_query = b"*", b""
        else:  # absolute-form, as sent to a proxy
            try:
                parsed = httptools.parse_url(url)
            except httptools.HttpParserInvalidURLError:
                raise _Refused(400, "Malformed request target") from None
            raw_path, raw_query = parsed.path or b"/", parsed.query or b""
        return (
            raw_path.decode("utf-8", "surrogateescape"),
            raw_query.decode("utf-8", "surrogateescape"),
        )

    def on_body(self, chunk: bytes) -> None:
        self._body.append(chunk)
        self._body_bytes += len(chunk)
        if self._body_bytes > self._max_body:
            raise _Refused(413, "too large", self._body_bytes)

    def on_message_complete(self) -> None:
        if self._closing:  # e.g. a drop fault: what follows it is not processed
            raise _Stop
        self._in_message = False
        self._last_activity = self._loop.time()
        request = self._head
        assert request is not None
        self._head = None
        body = self._body
        request.body = body[0] if len(body) == 1 else b"".join(body)
        self._body = []
        parser = self._parser
        owed = _Owed(request, parser.should_keep_alive(), parser.get_http_version() == "1.0")
        if self._busy is None and not self._owed and not self._write_paused:
            self._answer(owed)  # the usual case: answered at once
        else:
            self._owed.append(owed)

    # ---------------------------------------------------------------- output
    def _drain(self) -> None:
        """Answer what is owed, in order, while nothing waits and the client reads."""
        owed = self._owed
        while owed and self._busy is None and not self._write_paused and not self._closing:
            self._answer(owed.popleft())

    def _answer(self, owed: _Owed) -> None:
        if owed.refusal is not None:
            self._write(owed, owed.refusal)
            self.close()
            return
        request = owed.request
        try:
            answer = self.emulator.handle(request)
        except Exception:  # a bug of ours: the client gets a 500, the log the traceback
            log.exception("emulator failed on %s %s", request.method, request.path)
            answer = _failed()
        if answer is None:  # dropped on purpose (an injected fault)
            self._abort()
            return
        if isinstance(answer, Response):
            self._write(owed, answer)
            return
        task: asyncio.Task[Response | None] = asyncio.ensure_future(answer)
        self._busy, self._busy_owed = task, owed
        self._reading()
        task.add_done_callback(self._answered)

    def _answered(self, task: asyncio.Task[Response | None]) -> None:
        owed, self._busy, self._busy_owed = self._busy_owed, None, None
        if task.cancelled() or self._transport is None or owed is None:
            return
        try:
            error = task.exception()
            if error is not None:
                request = owed.request
                log.error("emulator failed on %s %s", request.method, request.path, exc_info=error)
            answer = _failed() if error is not None else task.result()
            self._last_activity = self._loop.time()
            self._arm(self._last_activity + self._idle_timeout)
            if answer is None:
                self._abort()
                return
            self._write(owed, answer)
            self._drain()
            self._reading()
        except Exception:  # never let a connection hang on our own mistake
            log.exception("emulator failed writing an answer")
            self._abort()

    def _write(self, owed: _Owed, answer: Response) -> None:
        transport = self._transport
        if transport is None or self._closing:
            return
        keep_alive = owed.keep_alive and owed.refusal is None
        status = answer.status
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\nDate: {_http_date()}\r\n"]
        typed = False
        for name, value in answer.headers.items():
            lowered = name.lower()
            if lowered in _COMPUTED:
                if lowered == "connection" and value.lower() == "close":
                    keep_alive = False
                continue
            typed = typed or lowered == "content-type"
            lines.append(f"{_header_text(name)}: {_header_text(value)}\r\n")
        body = answer.body
        if status in _NO_BODY or status < 200:
            body = b""
        else:
            if answer.content_type is not None and not typed:
                lines.append(f"Content-Type: {answer.content_type}\r\n")
            lines.append(f"Content-Length: {len(body)}\r\n")
        if owed.request.method == "HEAD":
            body = b""
        if not keep_alive:
            lines.append("Connection: close\r\n")
        elif owed.http10:
            lines.append("Connection: keep-alive\r\n")
        lines.append("\r\n")
        transport.write("".join(lines).encode("utf-8", "replace") + body)
        if not keep_alive:
            self.close()

    def _refuse(self, status: int, message: str, body_bytes: int = 0) -> None:
        """Answer a request that cannot be taken (after the answers still owed), then close."""
        head = self._head
        if status in (408, 413) and head is not None:
            answer = self.emulator.refuse_body(head, status, body_bytes)
        else:
            answer = json_response({"status": status, "message": message}, status=status)
            head = head or Request("GET", "/", "", CIMultiDict(), b"", self.emulator)
        self._head = None
        self._in_message = False
        self._owed.append(_Owed(head, keep_alive=False, refusal=answer))
        if self._transport is not None:
            self._transport.pause_reading()  # nothing more is read from this client
        self._drain()

    def _end_with_owed(self) -> None:
        """Close once the answers still owed are written (the last one says so)."""
        if self._owed:
            self._owed[-1].keep_alive = False
        elif self._busy_owed is not None:
            self._busy_owed.keep_alive = False
        else:
            self.close()

    # ----------------------------------------------------------------- timer
    def _arm(self, deadline: float) -> None:
        """Make sure the timer fires by ``deadline`` (one timer a connection)."""
        timer = self._timer
        if timer is not None:
            if timer.when() <= deadline:
                return
            timer.cancel()
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        transport = self._transport
        if transport is None or self._closing:
            return
        now = self._loop.time()
        if self._busy is not None:
            deadline = now + self._idle_timeout  # an answer is on its way: not idle
        elif self._in_message and not (self._owed or self._write_paused):
            deadline = self._headers_at + self._body_timeout
            if now >= deadline:
                self._refuse(408, "body timeout")
                return
        else:
            deadline = self._last_activity + self._idle_timeout
            if now >= deadline:
                if transport.get_write_buffer_size() or self._owed:
                    self._abort()  # the client does not read what it asked for
                else:
                    self.close()  # idle keep-alive, or headers trickling in: either way, done
                return
        self._arm(deadline)


def _failed() -> Response:
    return json_response(
        {"status": 500, "message": "the emulator failed on this request (see its log)"},
        status=500,
    )
