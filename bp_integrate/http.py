"""The one place HTTP clients are made: timeouts, user agent, proxies, retries.

The clients, each for what it does best, chosen here and nowhere else:
- **Webhook sends** (send-test, replay, storm: the firehose) go through `async_sender`,
  which picks per target: `bp_integrate.h1.DirectSender` (keep-alive HTTP/1.1 on
  httptools, http and https) when no proxy is in the way, aiohttp's `ClientSession`
  through a proxy. Measured on this project's 2-core machine against loopback nginx at
  concurrency 50: a storm event cost about 500 us of CPU through aiohttp (320 us of it
  aiohttp's) and about 210 us through DirectSender; earlier, httpx over the aiohttp
  transport did half of aiohttp's requests/s and httpx's own async pool about 230/s
  (encode/httpx#3215); see benchmarks/README.md.
- **API calls** (the BigPanda API, and the targets' read APIs) use httpx (`sync_client`):
  a few calls, where httpx's API and its documented exceptions serve best.

httpx, aiohttp and httptools are imported only when a command actually sends, so `--help` and the
wizards stay fast. Above this module, sends see an `AsyncSender` and `send_with_retries`,
which applies the retry policy (network errors but TLS, 429 honouring Retry-After, 5xx;
never other 4xx; never a second send once a 2xx status line arrived, however its body
ended). Failures are classified once, by `bp_integrate.failures.classify`.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import functools
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from bp_integrate import __version__
from bp_integrate.errors import UsageError
from bp_integrate.failures import Failure, FailureKind, classify

if TYPE_CHECKING:
    import httpx

USER_AGENT = f"bp-integrate/{__version__}"
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
#: The most we wait between two attempts, whatever Retry-After asks for.
RETRY_AFTER_CAP = 30.0

#: The most of a target's answer that is read (the rest is never downloaded): only the
#: first few hundred characters are ever shown or recorded.
RESPONSE_CAP = 64 * 1024


#: Loopback host patterns for httpx `mounts`: None there means "the client's own
#: transport, no proxy", as httpx does for NO_PROXY entries.
_LOOPBACK_MOUNTS: dict[str, None] = {
    "all://127.0.0.1": None,
    "all://localhost": None,
    "all://[::1]": None,
}


@functools.lru_cache(maxsize=256)
def _is_loopback_host(host: str) -> bool:
    from bp_integrate.urls import is_loopback_host

    return is_loopback_host(host)


def sync_client(timeout: float = DEFAULT_TIMEOUT) -> httpx.Client:
    """For single calls (key checks): httpx's own sync client is plenty.

    It honours HTTPS_PROXY / NO_PROXY / SSL_CERT_FILE (a corporate network needs them),
    except for loopback hosts, which never go through a proxy.
    """
    import httpx

    for scheme in ("https", "http", "all"):
        _env_proxy(scheme)  # a malformed proxy variable: a clear error, not httpx's ValueError
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        trust_env=True,
        mounts=_LOOPBACK_MOUNTS,
    )


# --------------------------------------------------------------------------- async senders


@dataclass(frozen=True)
class Response:
    """What a target answered: status, headers (lower-case names) and the body read (at
    most RESPONSE_CAP bytes). `body_error` is set when the status line arrived but the body
    broke off (reset, timeout): the answer still counts, by its status."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    body_error: Failure | None = None
    timings: Timings | None = None


@dataclass(frozen=True)
class Timings:
    """Where a request's time went, as `curl -w` splits it: `connect_ms` from the start
    of the request to a usable connection (pool wait, DNS, TCP, TLS; about 0 for a pooled
    one, as curl's time_connect), `response_ms` from there to the status line (sending
    the request and the target's own time)."""

    connect_ms: float
    response_ms: float


#: The current request's time marks (perf_counter()), set by `_AiohttpSender.request`
#: and stamped by `_timed_connector` in the same task. Not aiohttp's trace hooks: with
#: any TraceConfig every request event becomes awaited calls, which cost a loopback
#: storm about 15% of its requests/s here.
_MARKS: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "bp_integrate_marks", default=None
)


def _timed_connector(limit: int, ssl_context: Any) -> Any:
    """A TCPConnector that stamps when a request got its connection (new or pooled)."""
    import aiohttp

    class TimedConnector(aiohttp.TCPConnector):
        async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
            connection = await super().connect(req, traces, timeout)
            marks = _MARKS.get()
            if marks is not None:
                marks["connected"] = time.perf_counter()
            return connection

    return TimedConnector(limit=limit, ssl=ssl_context)


def _timings(marks: Mapping[str, float]) -> Timings | None:
    start, ready, answered = marks.get("start"), marks.get("connected"), marks.get("answered")
    if start is None or answered is None or ready is None:
        return None
    return Timings((ready - start) * 1000.0, (answered - ready) * 1000.0)


class NetworkFailure(Exception):
    """No HTTP status line: refused, timed out, DNS or TLS failure, connection dropped."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure

    @property
    def kind(self) -> FailureKind:
        return self.failure.kind

    @property
    def message(self) -> str:
        return self.failure.message


class AsyncSender(Protocol):
    """Sends one request and returns the answer, or raises NetworkFailure."""

    async def request(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes, timeout: float
    ) -> Response: ...

    async def aclose(self) -> None: ...


def async_sender(max_connections: int = 100) -> AsyncSender:
    """The client every webhook send goes through (send-test, replay, storm).

    Requests to a real service honour the environment: HTTPS_PROXY / HTTP_PROXY /
    NO_PROXY (see `proxy_for`) and SSL_CERT_FILE / SSL_CERT_DIR. Requests to loopback
    (the emulator) never go through a proxy. One client per proxy, made on first use.
    Must be called inside a running event loop (aiohttp binds to it).
    """
    return _RoutedSender(max_connections)


def proxy_for(url: str) -> str | None:
    """The proxy a request to `url` goes through: none for loopback, else the one the
    environment names for its scheme (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY), unless
    NO_PROXY exempts the host. Read per call, as curl and httpx do. A malformed proxy
    variable is a UsageError naming it (credentials masked)."""
    found = proxy_source(url)
    return found[0] if found else None


def proxy_source(url: str) -> tuple[str, str] | None:
    """(proxy URL, the variable that named it) for a request to `url`, or None (direct)."""
    import urllib.request

    parts = urlsplit(url)
    host = parts.hostname or ""
    if _is_loopback_host(host):
        return None
    found = _env_proxy(parts.scheme, check=False) or _env_proxy("all", check=False)
    if found is None:
        return None
    netloc = f"{host}:{parts.port}" if parts.port else host
    if urllib.request.proxy_bypass(netloc):  # NO_PROXY (the same check aiohttp makes)
        return None
    _check_proxy(*found)  # only a proxy this request would use has to be right
    return found


#: The proxy URL schemes the senders can use (aiohttp speaks HTTP CONNECT to its proxy).
PROXY_SCHEMES = ("http", "https")


def _env_proxy(scheme: str, check: bool = True) -> tuple[str, str] | None:
    """(proxy URL, variable) that the environment names for `scheme` (checked unless
    `check` is off), or None if unset.

    The lower-case variable wins over the upper-case one, as in urllib and curl; an empty
    lower-case one means "no proxy".
    """
    for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY"):
        raw = os.environ.get(name)
        if raw is None:
            continue
        value = raw.strip()
        if not value:
            return None
        proxy = value if "://" in value else f"http://{value}"
        if check:
            _check_proxy(proxy, name)
        return proxy, name
    return None


def _check_proxy(proxy: str, variable: str) -> None:
    """A UsageError naming `variable` unless `proxy` is an http(s)://HOST[:PORT] URL."""
    shown = mask_proxy(proxy)
    hint = (
        f"Set {variable} to http://HOST:PORT (with credentials: http://USER:PASSWORD@HOST:PORT, "
        f"special characters %-encoded), or unset it; hosts listed in NO_PROXY go direct."
    )
    try:
        parts = urlsplit(proxy)
        _ = parts.port  # raises ValueError for a port that is not a number
        host = parts.hostname
    except ValueError as exc:
        # urllib's reason may quote a piece of the netloc: not when credentials are there.
        reason = str(exc) if "@" not in proxy else "check the host and port"
        raise UsageError(
            f"{variable}={shown!r} is not a valid proxy URL ({reason}).", hint
        ) from None
    if parts.scheme.lower() not in PROXY_SCHEMES:
        raise UsageError(
            f"{variable}={shown!r} is not an http:// proxy: bp-integrate sends through "
            f"HTTP proxies only (not {parts.scheme}://).",
            hint,
        )
    if not host:
        raise UsageError(f"{variable}={shown!r} names no proxy host.", hint)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(
            f"{variable}={shown!r} is not a valid proxy URL (it has a path; a '/' or '@' in "
            "the password must be %-encoded).",
            hint,
        )


def mask_proxy(proxy: str) -> str:
    """A proxy URL with its user:password shown as `****`.

    Everything up to the last `@` goes: a password with an unencoded `@` or `/` is still
    masked whole (masking a little too much of a proxy URL costs nothing).
    """
    scheme, sep, rest = proxy.rpartition("://")
    if "@" not in rest:
        return proxy
    return f"{scheme}{sep}****@{rest.rpartition('@')[2]}"


def proxy_note(url: str) -> tuple[str, str] | None:
    """(proxy URL with credentials masked, variable) a request to `url` went through."""
    try:
        found = proxy_source(url)
    except UsageError:
        return None
    return (mask_proxy(found[0]), found[1]) if found else None


def check_proxies(urls: Iterable[str]) -> None:
    """Before anything is sent: a UsageError if a proxy these URLs would use is malformed."""
    for url in urls:
        proxy_source(url)


def _split_proxy(proxy: str) -> tuple[str, dict[str, str]]:
    """(proxy URL without credentials, Proxy-Authorization header if it had some)."""
    import base64
    from urllib.parse import unquote

    parts = urlsplit(proxy)
    if parts.username is None:
        return proxy, {}
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    token = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    header = "Basic " + base64.b64encode(token.encode()).decode("ascii")
    return parts._replace(netloc=netloc).geturl(), {"Proxy-Authorization": header}


def _origin(url: str) -> str:
    """`http://host:port` of a URL, cheaply (no parsing)."""
    return "/".join(url.split("/", 3)[:3])


class _RoutedSender:
    """Picks the client for each request by its proxy (none for loopback)."""

    def __init__(self, max_connections: int) -> None:
        self._max_connections = max_connections
        self._clients: dict[str | None, AsyncSender] = {}
        #: origin -> (its client, headers a plain-http request adds for its proxy)
        self._routes: dict[str, tuple[AsyncSender, dict[str, str]]] = {}

    def _route(self, url: str) -> tuple[AsyncSender, dict[str, str]]:
        origin = _origin(url)
        route = self._routes.get(origin)
        if route is None:
            proxy = proxy_for(url)
            client = self._clients.get(proxy)
            if client is None:
                client = self._clients[proxy] = (
                    _direct_sender(self._max_connections)
                    if proxy is None
                    else _AiohttpSender(self._max_connections, proxy)
                )
            # Plain http through a proxy has no CONNECT to carry the proxy's credentials:
            # they ride on the request itself (for https they go on the CONNECT only).
            extra = _split_proxy(proxy)[1] if proxy and url.startswith("http://") else {}
            route = self._routes[origin] = (client, extra)
        return route

    async def request(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes, timeout: float
    ) -> Response:
        client, extra = self._route(url)
        if extra:
            headers = {**headers, **extra}
        return await client.request(method, url, headers, content, timeout)

    async def aclose(self) -> None:
        clients, self._clients, self._routes = list(self._clients.values()), {}, {}
        for client in clients:
            await client.aclose()


def _direct_sender(max_connections: int) -> AsyncSender:
    from bp_integrate.h1 import DirectSender

    return DirectSender(max_connections)


class _AiohttpSender:
    def __init__(self, max_connections: int, proxy: str | None = None) -> None:
        import aiohttp
        from yarl import URL

        self.proxy_headers: dict[str, str] = {}
        self._proxy_url: URL | None = None
        if proxy is not None:
            url, self.proxy_headers = _split_proxy(proxy)
            self._proxy_url = URL(url)
        # aiohttp's default TLS context is the system store, which OpenSSL points at
        # SSL_CERT_FILE / SSL_CERT_DIR when they are set. trust_env stays off: it would
        # also read ~/.netrc (an Authorization of its own) and cost a thread hop a request.
        import ssl

        # A context of our own, made now: aiohttp's default one is made once at import,
        # so an SSL_CERT_FILE set later in a long-lived process would be ignored.
        self._session = aiohttp.ClientSession(
            connector=_timed_connector(max_connections, ssl.create_default_context()),
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
            auto_decompress=True,
        )

    async def request(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes, timeout: float
    ) -> Response:
        import aiohttp
        from yarl import URL

        status: int | None = None
        answer_headers: dict[str, str] = {}
        chunks: list[bytes] = []
        marks: dict[str, float] = {"start": time.perf_counter()}
        _MARKS.set(marks)  # this task's own context: concurrent sends never share it
        try:
            async with (
                asyncio.timeout(timeout),
                self._session.request(
                    method,
                    URL(url, encoded=True),  # the URL exactly as planned (no re-quoting)
                    headers=dict(headers),
                    data=content,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=timeout),
                    proxy=self._proxy_url,
                    proxy_headers=self.proxy_headers or None,
                ) as answer,
            ):
                marks["answered"] = time.perf_counter()  # the status line and headers are in
                status = answer.status
                answer_headers = {k.lower(): v for k, v in answer.headers.items()}
                # Read at most RESPONSE_CAP bytes; the rest is dropped with the connection.
                size = 0
                while size < RESPONSE_CAP:
                    chunk = await answer.content.read(RESPONSE_CAP - size)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            failure = classify(exc)
            if status is None:
                raise NetworkFailure(failure) from exc
            # The status line arrived: the target answered, whatever became of the body.
            return Response(
                status, answer_headers, b"".join(chunks), failure, timings=_timings(marks)
            )
        return Response(status, answer_headers, b"".join(chunks), timings=_timings(marks))

    async def aclose(self) -> None:
        await self._session.close()


# --------------------------------------------------------------------------- retries


@dataclass(frozen=True)
class RetryPolicy:
    """Retries on network errors, 429 and 5xx, with exponential backoff and jitter.

    A timeout counts as a network error and is retried: the target may have taken the
    event, but every target keys on the BigPanda incident id (PagerDuty's dedup_key,
    incident.io's alert, xMatters' event), so a repeat updates the same thing.
    """

    retries: int = DEFAULT_RETRIES
    timeout: float = DEFAULT_TIMEOUT
    base_delay: float = 0.25
    max_delay: float = 8.0
    retry_after_cap: float = RETRY_AFTER_CAP

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before retry `attempt` (1-based): uniform in [c/2, c], c = base * 2**(n-1)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return (rng or random).uniform(ceiling / 2, ceiling)


def is_retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


_DELTA_SECONDS = re.compile(r"[0-9]+", re.ASCII)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP-date; None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):  # ASCII digits only: "²".isdigit() is True
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass
class Attempted:
    """The end of a send with retries: the last answer or the last failure."""

    response: Response | None
    failure: NetworkFailure | None
    attempts: int
    latency_ms: float  # of the last attempt
    elapsed_ms: float  # from the first attempt to the end, waits included
    notes: list[str] = field(default_factory=list)
    #: Whether some attempt may have reached the target: a 2xx or 5xx answer, or a
    #: timeout or dropped connection (the request may have arrived before it broke).
    #: False only when every attempt was refused, failed DNS, or got a 4xx.
    maybe_received: bool = False


Sleeper = Callable[[float], Awaitable[Any]]


async def send_with_retries(
    sender: AsyncSender,
    method: str,
    url: str,
    headers: Mapping[str, str],
    content: bytes,
    policy: RetryPolicy,
    sleep: Sleeper = asyncio.sleep,
) -> Attempted:
    """Send, retrying only what is worth retrying; stop at the first non-retryable answer."""
    started = time.perf_counter()
    attempt = 0
    notes: list[str] = []
    maybe_received = False
    while True:
        attempt += 1
        t0 = time.perf_counter()
        response: Response | None = None
        failure: NetworkFailure | None = None
        try:
            response = await sender.request(method, url, headers, content, policy.timeout)
        except NetworkFailure as exc:
            failure = exc
        latency = (time.perf_counter() - t0) * 1000.0
        if response is not None:
            maybe_received = maybe_received or not 300 <= response.status < 500
        elif failure is not None and not failure.kind.never_arrived:
            maybe_received = True
        if response is not None and not is_retryable_status(response.status):
            break  # success or a 4xx other than 429: never sent again
        if failure is not None and not failure.kind.retryable:
            break  # a bad certificate does not heal in a second
        if attempt > policy.retries:
            break
        wait = policy.backoff(attempt)
        if response is not None:
            asked = retry_after_seconds(response.headers.get("retry-after"))
            if asked is not None:
                wait = min(asked, policy.retry_after_cap)
            notes.append(f"attempt {attempt}: HTTP {response.status}, retrying in {wait:.2f} s")
        elif failure is not None:
            notes.append(f"attempt {attempt}: {failure.message}, retrying in {wait:.2f} s")
        await sleep(wait)
    elapsed = (time.perf_counter() - started) * 1000.0
    return Attempted(response, failure, attempt, latency, elapsed, notes, maybe_received)
