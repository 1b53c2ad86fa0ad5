"""The one place HTTP clients are made: timeouts, user agent, proxies, retries.

The clients, each for what it does, chosen here and nowhere else:
- **Webhook sends** (send-test, replay, storm: the firehose) go through `async_sender`:
  aiohttp's client, tuned (`_AiohttpSender`), direct or through a proxy. Chosen over
  pyreqwest (Rust reqwest and hyper) by the behaviour matrix (tests/test_http_matrix.py)
  and the product's own storm, side by side (benchmarks/README.md, "Which library sends
  the webhooks"). pyreqwest spends less CPU a request on its own (about 60 us against
  130), but through the storm the two are close: against one loopback nginx, three runs,
  aiohttp 2,881-3,076 events/s with one worker and 3,703-4,010 with two, pyreqwest
  2,997-3,444 and 3,485-3,877 (ahead with one worker, behind in two runs of three with
  two). And pyreqwest's rustls refuses a self-signed `CA:TRUE`
  certificate that OpenSSL accepts through SSL_CERT_FILE, it gives no connect time, and
  it took a handshake cut off for a TLS-version mismatch. aiohttp goes through OpenSSL
  (the system's store and SSL_CERT_FILE, as curl does), already serves the emulator, and
  is well kept.
- **API calls** (the BigPanda API, and the targets' read APIs) use httpx (`sync_client`):
  a few calls, where httpx's API and its documented exceptions serve best.

httpx and aiohttp are imported only when a command actually sends, so `--help` and the
wizards stay fast. Above this module, sends see an `AsyncSender` and `send_with_retries`;
whether and when to try again is decided by `RetryPolicy.next_wait`, the one retry
decision the BigPanda API's `Pacer` uses too (network errors but TLS, a malformed answer
or a timeout once the request went out; 429 honouring Retry-After or ratelimit-reset;
5xx; never other 4xx; never a second send once a 2xx status line arrived, however its
body ended). aiohttp hands over the status line only with the whole header block, so a
2xx whose headers never end is a timeout, and retried as one. Failures are classified
once, by `bp_integrate.failures.classify`.
"""

from __future__ import annotations

import asyncio
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


def async_sender(max_connections: int = 100, timings: bool = True) -> AsyncSender:
    """The client every webhook send goes through (send-test, replay, storm).

    Requests to a real service honour the environment: HTTPS_PROXY / HTTP_PROXY /
    NO_PROXY (see `proxy_for`) and SSL_CERT_FILE / SSL_CERT_DIR. Requests to loopback
    (the emulator) never go through a proxy. One client per proxy, made on first use.
    `_BP_INTEGRATE_BENCH_SENDER=module:factory` (read by benchmarks/storm.py only, never
    documented for users) puts another client in its place, to measure candidates
    through the product's own storm. `timings` off (a storm, which records only each
    send's latency): no connect and response times apart, and aiohttp's tracing hooks,
    about 15 % of a send's CPU, are left out.
    """
    hook = os.environ.get("_BP_INTEGRATE_BENCH_SENDER")
    if hook:
        import importlib

        module, _, name = hook.partition(":")
        factory: Callable[[int], AsyncSender] = getattr(importlib.import_module(module), name)
        return factory(max_connections)
    return _RoutedSender(max_connections, timings)


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
    if urllib.request.proxy_bypass(netloc):  # NO_PROXY (as urllib and curl read it)
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


def _origin(url: str) -> str:
    """`http://host:port` of a URL, cheaply (no parsing)."""
    return "/".join(url.split("/", 3)[:3])


class _RoutedSender:
    """Picks the client for each request by its proxy (none for loopback): one aiohttp
    session per proxy, each with its own pool, made on first use."""

    def __init__(self, max_connections: int, timings: bool = True) -> None:
        self._max_connections = max_connections
        self._timings = timings
        self._clients: dict[str | None, _AiohttpSender] = {}
        self._routes: dict[str, _AiohttpSender] = {}  # origin -> its client

    def _route(self, url: str) -> _AiohttpSender:
        origin = _origin(url)
        client = self._routes.get(origin)
        if client is None:
            proxy = proxy_for(url)
            client = self._clients.get(proxy)
            if client is None:
                client = self._clients[proxy] = _AiohttpSender(
                    self._max_connections, proxy, self._timings
                )
            if len(self._routes) < 1024:
                self._routes[origin] = client
        return client

    async def request(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes, timeout: float
    ) -> Response:
        return await self._route(url).request(method, url, headers, content, timeout)

    async def aclose(self) -> None:
        clients, self._clients, self._routes = list(self._clients.values()), {}, {}
        for client in clients:
            await client.aclose()


#: A pooled connection idle longer than this is closed, not reused: servers close
#: theirs (Node.js after 5 s), and a request written as one closes is lost in a reset.
IDLE_EXPIRY = 4.0
#: The most an answer's status line or one header line may hold, and how many header
#: lines it may have (aiohttp's defaults, named here): past them the answer is a
#: `protocol` failure, read no further and never sent again.
MAX_LINE = 8190
MAX_HEADERS = 128


@functools.lru_cache(maxsize=256)
def _yarl_url(url: str) -> Any:
    """The URL as a browser sends it (spaces, in the query too, as %20 and non-ASCII
    %-encoded, %-escapes kept exactly: `urls.browser_encoded`, the rule install applies,
    then sent as encoded, so yarl does not re-normalise `%41` into `A`); cached: a storm
    sends the same few URLs thousands of times."""
    from yarl import URL

    from bp_integrate.urls import browser_encoded

    return URL(browser_encoded(url.replace(" ", "%20")), encoded=True)


@functools.lru_cache(maxsize=16)
def _client_timeout(seconds: float) -> Any:
    import aiohttp

    return aiohttp.ClientTimeout(total=seconds)


def _connect_timing() -> Any:
    """A TraceConfig stamping, in the request's own `trace_request_ctx` (a dict), when
    it got its connection: new (DNS, TCP, TLS done) or taken from the pool."""
    import aiohttp

    async def connected(_session: Any, context: Any, _params: Any) -> None:
        context.trace_request_ctx["connected"] = time.perf_counter()

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(connected)
    trace.on_connection_reuseconn.append(connected)
    return trace


class _AiohttpSender:
    """Webhook sends on aiohttp's client, through `proxy` or direct, tuned for a firehose
    and for servers we do not control.

    - One TCPConnector: at most `max_connections` connections, kept alive IDLE_EXPIRY s.
    - TLS from the system's store through OpenSSL, which honours SSL_CERT_FILE /
      SSL_CERT_DIR; the context is made with the sender, so a variable set earlier in a
      long-lived process counts (aiohttp's own default context is made at import).
    - No cookie jar (a target's cookies never ride on the next event), no redirects, no
      ~/.netrc or proxy variables read by aiohttp itself (`trust_env` off: `proxy_for`
      decides, and loopback never goes through a proxy).
    - Answers: gzip and deflate decoded by aiohttp, x-gzip here; the status line and each
      header line at most MAX_LINE bytes, at most MAX_HEADERS header lines; the body read
      up to RESPONSE_CAP, the rest dropped with the connection.
    - The URL is sent as a browser would (spaces and non-ASCII %-encoded); userinfo in it
      becomes Basic auth, the proxy's own credentials Proxy-Authorization.
    """

    def __init__(
        self, max_connections: int, proxy: str | None = None, timings: bool = True
    ) -> None:
        import ssl

        import aiohttp
        from yarl import URL

        self._proxy: URL | None = None
        #: Proxy-Authorization: aiohttp puts it on the CONNECT of an https request; a
        #: plain-http request has no CONNECT and carries it itself (`request`).
        self._proxy_headers: dict[str, str] | None = None
        if proxy is not None:
            url, user, password = _proxy_parts(proxy)
            self._proxy = URL(url)
            if user is not None:
                self._proxy_headers = {"Proxy-Authorization": _basic(user, password)}
        connector = aiohttp.TCPConnector(
            limit=max(1, max_connections),
            limit_per_host=0,
            keepalive_timeout=IDLE_EXPIRY,
            ssl=ssl.create_default_context(),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": USER_AGENT},
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            auto_decompress=True,
            max_line_size=MAX_LINE,
            max_field_size=MAX_LINE,
            max_headers=MAX_HEADERS,
            trace_configs=[_connect_timing()] if timings else None,
        )

    async def request(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes, timeout: float
    ) -> Response:
        import aiohttp

        status: int | None = None
        answer_headers: dict[str, str] = {}
        chunks: list[bytes] = []
        marks: dict[str, float] = {"start": time.perf_counter()}
        if self._proxy_headers and url.startswith("http://"):
            headers = {**headers, **self._proxy_headers}
        try:
            async with self._session.request(
                method,
                _yarl_url(url),
                headers=headers,
                data=content,
                allow_redirects=False,
                timeout=_client_timeout(timeout),
                proxy=self._proxy,
                proxy_headers=self._proxy_headers,
                trace_request_ctx=marks,
            ) as answer:
                marks["answered"] = time.perf_counter()  # the status line and headers are in
                status = answer.status
                for name, value in answer.headers.items():
                    name = name.lower()
                    known = answer_headers.get(name)
                    answer_headers[name] = value if known is None else f"{known}, {value}"
                # At most RESPONSE_CAP bytes; the rest is dropped with the connection.
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
                raise NetworkFailure(failure) from None  # aiohttp's words may hold the URL
            # The status line arrived: the target answered, whatever became of the body.
            body = _decoded(answer_headers, b"".join(chunks))
            return Response(status, answer_headers, body, failure, _timings(marks))
        body = _decoded(answer_headers, b"".join(chunks))
        return Response(status, answer_headers, body, timings=_timings(marks))

    async def aclose(self) -> None:
        await self._session.close()


def _decoded(headers: Mapping[str, str], body: bytes) -> bytes:
    """The body of an `x-gzip` answer decoded (RFC 9110 8.4.1.3: the same as gzip, which
    aiohttp decodes itself), at most RESPONSE_CAP bytes of it; as sent if it is not gzip."""
    if not body or headers.get("content-encoding", "").strip().lower() != "x-gzip":
        return body
    import zlib

    try:
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(body, RESPONSE_CAP)
    except zlib.error:
        return body


def _basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _timings(marks: Mapping[str, float]) -> Timings | None:
    start, ready, answered = marks.get("start"), marks.get("connected"), marks.get("answered")
    if start is None or ready is None or answered is None:
        return None
    return Timings((ready - start) * 1000.0, (answered - ready) * 1000.0)


def _proxy_parts(proxy: str) -> tuple[str, str | None, str]:
    """(proxy URL without credentials, user, password), both %-decoded."""
    from urllib.parse import unquote

    parts = urlsplit(proxy)
    if parts.username is None:
        return proxy, None, ""
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    user, password = unquote(parts.username), unquote(parts.password or "")
    return parts._replace(netloc=netloc).geturl(), user, password


# --------------------------------------------------------------------------- retries


@dataclass(frozen=True)
class RetryPolicy:
    """The one retry decision and delay, for webhook sends (`send_with_retries`) and the
    BigPanda and target API calls (`bigpanda.api.Pacer`): `next_wait`.

    By default (sends): network errors, 429 and 5xx (but 501 and 505, which no retry
    mends) are retried, with exponential backoff
    and jitter. A timeout counts as a network error and is retried: the target may have
    taken the event, but every target keys on the BigPanda incident id (PagerDuty's
    dedup_key, incident.io's alert, xMatters' event), so a repeat updates the same thing.
    """

    retries: int = DEFAULT_RETRIES
    timeout: float = DEFAULT_TIMEOUT
    base_delay: float = 0.25
    max_delay: float = 8.0
    #: The most an answer's Retry-After (or ratelimit-reset) makes us wait.
    retry_after_cap: float = RETRY_AFTER_CAP
    #: Off: the delay is the doubling's ceiling itself (base, 2 base, 4 base...).
    jitter: bool = True
    retry_server_errors: bool = True
    retry_network: bool = True

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before retry `attempt` (1-based): uniform in [c/2, c], c = base * 2**(n-1)
        (c itself without jitter), c at most max_delay."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** min(attempt - 1, 62)))
        return (rng or random).uniform(ceiling / 2, ceiling) if self.jitter else ceiling

    def next_wait(
        self,
        attempt: int,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        failure: FailureKind | None = None,
        deadline: float | None = None,
    ) -> float | None:
        """Seconds to wait before trying again after attempt `attempt` (1-based) got
        `status` (with `headers`) or `failure`; None: do not try again.

        What the answer asks (Retry-After, else ratelimit-reset) wins over the doubling,
        up to `retry_after_cap`; with a `deadline` (time.monotonic()), a wait that would
        end past it is not taken.
        """
        if attempt > self.retries:
            return None
        if status is not None:
            if not (status == 429 or (self.retry_server_errors and is_transient_5xx(status))):
                return None  # success, a 4xx other than 429, 501 or 505: never sent again
        elif failure is None or not self.retry_network or not failure.retryable:
            return None  # a bad certificate does not heal in a second
        wait = self.backoff(attempt)
        if headers is not None:
            asked = asked_wait(headers)
            if asked is not None:
                wait = min(asked, self.retry_after_cap)
        if deadline is not None and time.monotonic() + wait > deadline:
            return None
        return wait


#: Server errors that say the request itself can never work there, so a retry would get
#: the same answer: 501 Not Implemented (the method), 505 HTTP Version Not Supported.
PERMANENT_5XX = frozenset({501, 505})


def is_transient_5xx(status: int) -> bool:
    """A 5xx that may heal (500, 502, 503, 504...): not 501 or 505."""
    return 500 <= status <= 599 and status not in PERMANENT_5XX


def is_retryable_status(status: int) -> bool:
    """What the default RetryPolicy sends again: 429 and the transient 5xx."""
    return status == 429 or is_transient_5xx(status)


_DELTA_SECONDS = re.compile(r"[0-9]+", re.ASCII)
_RESET_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)


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


def asked_wait(headers: Mapping[str, str]) -> float | None:
    """How long an answer asks to wait: Retry-After, else PagerDuty REST's
    `ratelimit-reset` (delta seconds); None if it asks nothing readable. `headers`
    with lower-case names, or case-insensitive (httpx's)."""
    seconds = retry_after_seconds(headers.get("retry-after"))
    if seconds is None:
        reset = (headers.get("ratelimit-reset") or "").strip()
        seconds = float(reset) if _RESET_SECONDS.fullmatch(reset) else None
    return seconds


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
        if response is not None:
            wait = policy.next_wait(attempt, response.status, response.headers)
            if wait is None:
                break
            notes.append(f"attempt {attempt}: HTTP {response.status}, retrying in {wait:.2f} s")
        else:
            assert failure is not None
            wait = policy.next_wait(attempt, failure=failure.kind)
            if wait is None:
                break
            notes.append(f"attempt {attempt}: {failure.message}, retrying in {wait:.2f} s")
        await sleep(wait)
    elapsed = (time.perf_counter() - started) * 1000.0
    return Attempted(response, failure, attempt, latency, elapsed, notes, maybe_received)
