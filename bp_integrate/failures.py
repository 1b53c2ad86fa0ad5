"""The one failure vocabulary: why a request got no usable HTTP answer.

`classify(exc)` is the only place an exception from httpx, aiohttp or the socket layer
becomes a `FailureKind`; it walks the exception's chain and decides by exception type,
never by message text. Sends (the run engine), the BigPanda API calls and the outcome
mapping all speak this vocabulary. httpx and aiohttp are imported only if already loaded
(an exception of theirs cannot exist otherwise), so this module costs nothing at start-up.
"""

from __future__ import annotations

import errno
import socket
import ssl
import sys
from dataclasses import dataclass
from enum import StrEnum


class FailureKind(StrEnum):
    """What went wrong, in the words a person needs (a `str`, for JSON and history)."""

    REFUSED = "refused"
    DNS = "dns"
    TLS = "tls"
    TIMEOUT = "timeout"
    RESET = "reset"
    PROXY = "proxy"
    CONNECTION = "connection"

    @property
    def never_arrived(self) -> bool:
        """The request surely never reached the target (nothing to clean up there)."""
        return self in (FailureKind.REFUSED, FailureKind.DNS, FailureKind.TLS, FailureKind.PROXY)

    @property
    def retryable(self) -> bool:
        """Worth another attempt: a bad certificate or a missing host will not heal in a
        second; a refused connection (a target restarting) or a timeout may."""
        return self not in (FailureKind.TLS, FailureKind.DNS)


#: What each kind means, for messages (the details of the exception may follow).
DESCRIPTIONS: dict[FailureKind, str] = {
    FailureKind.REFUSED: "the connection was refused (nothing listens there)",
    FailureKind.DNS: "the host name did not resolve",
    FailureKind.TLS: "the TLS certificate could not be verified",
    FailureKind.TIMEOUT: "no answer within the time limit",
    FailureKind.RESET: "the server closed the connection without a complete answer",
    FailureKind.PROXY: "the proxy refused or failed the connection",
    FailureKind.CONNECTION: "the connection failed",
}

#: What to do about each kind (hints name the fix; the caller adds the URL check).
FIXES: dict[FailureKind, str] = {
    FailureKind.REFUSED: "check the URL's host and port, and that the service is up",
    FailureKind.DNS: "check the host name in the URL (and this machine's DNS)",
    FailureKind.TLS: (
        "the server's certificate is not trusted here: if a corporate proxy or a private CA "
        "signs it, point SSL_CERT_FILE at that CA bundle (export SSL_CERT_FILE=/path/ca.pem)"
    ),
    FailureKind.TIMEOUT: "check that this machine can reach the host, or raise --timeout",
    FailureKind.RESET: "the server or something in between dropped the connection; try again",
    FailureKind.PROXY: "check the proxy variable (HTTPS_PROXY / HTTP_PROXY) and NO_PROXY",
    FailureKind.CONNECTION: "check that this machine can reach the host",
}


@dataclass(frozen=True)
class Failure:
    """A classified failure: its kind and a one-line message (no secrets: see `detail`)."""

    kind: FailureKind
    detail: str = ""

    @property
    def message(self) -> str:
        base = DESCRIPTIONS[self.kind]
        return f"{base} ({self.detail})" if self.detail else base

    @property
    def fix(self) -> str:
        return FIXES[self.kind]


_DNS_ERRNOS = frozenset(
    getattr(socket, name)
    for name in ("EAI_NONAME", "EAI_AGAIN", "EAI_FAIL", "EAI_NODATA", "EAI_SERVICE")
    if hasattr(socket, name)
)
_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 10 and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _kind_of(error: BaseException) -> FailureKind | None:
    """The kind one exception names by its type, or None if it names none."""
    aiohttp = sys.modules.get("aiohttp")
    httpx = sys.modules.get("httpx")
    if aiohttp is not None:
        if isinstance(error, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
            return FailureKind.TLS
        if isinstance(error, aiohttp.ClientConnectorDNSError):
            return FailureKind.DNS
        if isinstance(error, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
            return FailureKind.PROXY
        if isinstance(error, aiohttp.ServerTimeoutError | aiohttp.ConnectionTimeoutError):
            return FailureKind.TIMEOUT
        if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
            return FailureKind.RESET
    if httpx is not None:
        if isinstance(error, httpx.TimeoutException):
            return FailureKind.TIMEOUT
        if isinstance(error, httpx.ProxyError):
            return FailureKind.PROXY
        if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            return FailureKind.RESET
    if isinstance(error, ssl.SSLError | ssl.CertificateError):
        return FailureKind.TLS
    if isinstance(error, socket.gaierror):
        return FailureKind.DNS
    if isinstance(error, ConnectionRefusedError):
        return FailureKind.REFUSED
    if isinstance(error, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return FailureKind.RESET
    if isinstance(error, TimeoutError):
        return FailureKind.TIMEOUT
    if isinstance(error, OSError) and error.errno is not None:
        if error.errno == errno.ECONNREFUSED:
            return FailureKind.REFUSED
        if error.errno in _DNS_ERRNOS:
            return FailureKind.DNS
        if error.errno in _RESET_ERRNOS:
            return FailureKind.RESET
        if error.errno == errno.ETIMEDOUT:
            return FailureKind.TIMEOUT
    return None


#: Which kind wins when the chain names several (a TLS error inside a connect error is TLS).
_PRIORITY = (
    FailureKind.TLS,
    FailureKind.DNS,
    FailureKind.REFUSED,
    FailureKind.PROXY,
    FailureKind.TIMEOUT,
    FailureKind.RESET,
)


def classify(exc: BaseException) -> Failure:
    """The failure an exception (and the exceptions it came from) stands for."""
    chain = _chain(exc)
    found = {kind for kind in (_kind_of(e) for e in chain) if kind is not None}
    kind = next((k for k in _PRIORITY if k in found), FailureKind.CONNECTION)
    detail = ""
    if kind in (FailureKind.TLS, FailureKind.CONNECTION):
        # The library's own words help here (which certificate check failed); secrets
        # never ride in them, but the caller's redactor still passes over them.
        detail = next((_short(e) for e in chain if _short(e)), type(exc).__name__)
    return Failure(kind, detail)


def _short(error: BaseException) -> str:
    reason = getattr(error, "verify_message", None) or getattr(error, "reason", None)
    text = str(reason) if isinstance(reason, str) and reason else str(error)
    text = " ".join(text.split())
    return text[:200]
