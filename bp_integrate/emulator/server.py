"""Running the emulator: in a background thread, or in the foreground until Ctrl-C.

This module owns :class:`EmulatorServer` (a context manager that binds, serves
the emulator through aiohttp's server on its own event loop in a daemon thread,
and stops cleanly), :func:`serve_forever` (blocking, for ``bp-integrate
receiver``), and the bind policy: loopback only unless ``allow_remote`` is set,
and a clear message when the port is taken. HTTP itself is aiohttp's.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from bp_integrate.loop import new_event_loop
from bp_integrate.urls import is_loopback_host

from .app import build_server
from .capture import CaptureFile
from .config import EmulatorConfig, endpoint_urls
from .state import EmulatorState, RecordCallback

if TYPE_CHECKING:
    from aiohttp import web

SHUTDOWN_TIMEOUT = 2.0
#: How long a request still being answered (an injected delay) may take to end once
#: the server stops, before it is cancelled. A client that gives up does not cancel
#: its request: like a real service, the emulator still processes and records it.
_ANSWER_GRACE = 0.1


class EmulatorBindError(OSError):
    """The emulator could not listen on the requested address (e.g. port in use)."""


def check_bind_host(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback ``host`` unless ``allow_remote``; ValueError names the fix."""
    if allow_remote or is_loopback_host(host):
        return
    raise ValueError(
        f"refusing to listen on {host!r}: the emulator accepts fixed demo credentials and "
        "logs request bodies, so by default it only listens on loopback (127.0.0.1, ::1, "
        "localhost). Use a loopback host, or pass allow_remote=True (the CLI's "
        "--allow-remote) to listen on other interfaces on purpose."
    )


def _bind(host: str, port: int) -> socket.socket:
    name = host.strip().strip("[]")
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise EmulatorBindError(exc.errno, f"cannot resolve host {host!r}: {exc}") from exc
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if hasattr(socket, "SO_REUSEADDR") and not hasattr(socket, "SO_EXCLUSIVEADDRUSE"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise EmulatorBindError(
                exc.errno,
                f"cannot listen on {host}:{port}: the port is already in use. Stop whatever "
                "uses it, or choose another port (port 0 picks a free one).",
            ) from exc
        raise EmulatorBindError(
            exc.errno, f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from exc
    return sock


def _url_host(sock: socket.socket) -> tuple[str, int]:
    address = sock.getsockname()
    host, port = str(address[0]), int(address[1])
    return (f"[{host}]" if ":" in host else host), port


class EmulatorServer:
    """The emulator served from a background thread with its own event loop.

    ``with EmulatorServer() as emu: ...`` binds (``port=0`` → a free port),
    serves until the block ends, and exposes ``base_url`` (e.g.
    ``http://127.0.0.1:54321``), ``urls`` (see :func:`endpoint_urls`) and
    ``state``. ``start()``/``stop()`` do the same without ``with``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        config: EmulatorConfig | None = None,
        allow_remote: bool = False,
        on_record: RecordCallback | None = None,
        state: EmulatorState | None = None,
        capture: str | os.PathLike[str] | None = None,
    ) -> None:
        check_bind_host(host, allow_remote)
        self.capture_path = capture
        self._capture: CaptureFile | None = None
        self.host = host
        self.requested_port = port
        self.config = config if config is not None else EmulatorConfig()
        self.state = state if state is not None else EmulatorState()
        if on_record is not None:
            self.state.on_record = on_record
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.BaseRunner | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._url_host: str | None = None

    # ------------------------------------------------------------------ public
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not running")
        return self._port

    @property
    def base_url(self) -> str:
        if self._port is None or self._url_host is None:
            raise RuntimeError("the emulator is not running")
        return f"http://{self._url_host}:{self._port}"

    @property
    def urls(self) -> dict[str, str]:
        return endpoint_urls(self.base_url, self.config)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> EmulatorServer:
        """Bind and start serving in a background thread; return once ready."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        if self.capture_path is not None and self._capture is None:
            self._capture = CaptureFile(self.capture_path)  # OSError names the file
        try:
            sock = _bind(self.host, self.requested_port)
        except BaseException:
            self._close_capture()
            raise
        self._url_host, self._port = _url_host(sock)
        loop = new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._startup(sock))
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                sock.close()
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._cleanup())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="bp-integrate-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = self._loop = None
            self._port = None
            self._close_capture()
            raise failure[0]
        return self

    def _close_capture(self) -> None:
        if self._capture is not None:
            self._capture.close()
            self._capture = None

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=SHUTDOWN_TIMEOUT + 5.0)
        self._thread = self._loop = None
        self._port = None
        self._close_capture()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------- private
    async def _startup(self, sock: socket.socket) -> None:
        from aiohttp import web  # imported when serving: the CLI starts faster without it

        # aiohttp's low-level server: access log off, its logger ours (a malformed
        # request is answered 400 by aiohttp, not printed on our stderr).
        server = build_server(self.config, self.state, self._capture)
        runner = web.ServerRunner(server, shutdown_timeout=_ANSWER_GRACE)
        await runner.setup()
        self._runner = runner
        await web.SockSite(runner, sock, backlog=1024).start()

    async def _cleanup(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await runner.cleanup()
        # AutoShare sends, which need no client, get a moment to end.
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if others:
            _, late = await asyncio.wait(others, timeout=SHUTDOWN_TIMEOUT)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=SHUTDOWN_TIMEOUT)


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 0,
    config: EmulatorConfig | None = None,
    allow_remote: bool = False,
    on_record: RecordCallback | None = None,
    *,
    on_ready: Callable[[EmulatorServer], None] | None = None,
    stop: threading.Event | None = None,
    capture: str | os.PathLike[str] | None = None,
) -> None:
    """Serve in the foreground until Ctrl-C (or ``stop`` is set), then return cleanly.

    ``on_ready`` is called once listening, with the running server (its
    ``base_url`` tells which port ``port=0`` picked). ``capture``: a file every
    received request is appended to (see :mod:`.capture`).
    """
    stop_event = stop if stop is not None else threading.Event()
    with EmulatorServer(host, port, config, allow_remote, on_record, capture=capture) as server:
        try:
            # Ctrl-C while on_ready still prints is a stop like any other.
            if on_ready is not None:
                on_ready(server)
            while not stop_event.wait(0.2):
                pass
        except KeyboardInterrupt:
            return
