"""The one failure vocabulary: why a request got no usable HTTP answer.

`classify(exc)` is the only place an exception from aiohttp (the webhook sends), httpx
(the API calls) or the socket and ssl layers becomes a `FailureKind`; it walks the
exception's chain and decides by exception type, and for TLS by OpenSSL's own reason
code (a TLS-version mismatch is not a certificate problem), never by anything a server
sent. Sends (the run engine), the BigPanda API calls and the outcome mapping all speak
this vocabulary. aiohttp and httpx are imported only if already loaded (an exception of
theirs cannot exist otherwise), so this module costs nothing at start-up.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

#: What became of one send: the target took it (2xx), answered otherwise, or never
#: answered. The one list: the engine's results and a scenario's `expect.outcome`.
Outcome = Literal["ok", "rejected", "network"]


class FailureKind(StrEnum):
    """What went wrong, in the words a person needs (a `str`, for JSON and history)."""

    REFUSED = "refused"
    DNS = "dns"
    TLS = "tls"
    TIMEOUT = "timeout"
    RESET = "reset"
    PROXY = "proxy"
    CONNECTION = "connection"
    TLS_VERSION = "tls-version"
    PROTOCOL = "protocol"

    @property
    def never_arrived(self) -> bool:
        """The request surely never reached the target (nothing to clean up there)."""
        return self in (
            FailureKind.REFUSED,
            FailureKind.DNS,
            FailureKind.TLS,
            FailureKind.TLS_VERSION,
            FailureKind.PROXY,
        )

    @property
    def retryable(self) -> bool:
        """Worth another attempt: a bad certificate or a missing host will not heal in a
        second; a refused connection (a target restarting) or a timeout may. An answer
        that was not HTTP (or over its caps) came from a target that got the request:
        sending it again would repeat it without curing anything."""
        return self not in (
            FailureKind.TLS,
            FailureKind.TLS_VERSION,
            FailureKind.DNS,
            FailureKind.PROTOCOL,
        )


#: What each kind means, for messages (the details of the exception may follow).
DESCRIPTIONS: dict[FailureKind, str] = {
    FailureKind.REFUSED: "the connection was refused (nothing listens there)",
    FailureKind.DNS: "the host name did not resolve",
    FailureKind.TLS: "the TLS certificate could not be verified",
    FailureKind.TIMEOUT: "no answer within the time limit",
    FailureKind.RESET: "the server closed the connection without a complete answer",
    FailureKind.PROXY: "the proxy refused or failed the connection",
    FailureKind.CONNECTION: "the connection failed",
    FailureKind.TLS_VERSION: (
        "the TLS handshake failed: the server and bp-integrate share no TLS version"
    ),
    FailureKind.PROTOCOL: "the server's answer was not readable HTTP",
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
    FailureKind.TLS_VERSION: (
        "bp-integrate speaks TLS 1.2 and 1.3: the server must accept one of them (ask its "
        "owner, or whoever runs the proxy in between)"
    ),
    FailureKind.PROTOCOL: "the server answered in a way HTTP clients refuse; ask its owner",
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


#: The most of one error text a message quotes (a 100 KB error page from a proxy, or a
#: target echoing the request, is cut here, saying how much was left out).
ERROR_TEXT_MAX = 300


def clipped(text: str, limit: int = ERROR_TEXT_MAX) -> str:
    """`text` on one line, at most `limit` characters plus "… (N more characters)": the
    one bound for words an answer or a library puts in an error message.

    Cut only where that shortens it (the cut longer than the note saying so): a text a
    few characters over is shown whole, and N is never 1 ("1 more characters").
    """
    text = " ".join(text.split())
    left = len(text) - limit
    note = f"… ({left:,} more characters)"
    if left <= len(note):
        return text
    return f"{text[:limit].rstrip()}{note}"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 10 and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


#: OpenSSL's reasons (`ssl.SSLError.reason`, its own error codes, never a server's words)
#: for a handshake where client and server share no TLS version: the server's
#: protocol_version alert, or ours, or a non-TLS answer to our hello.
_TLS_VERSION_REASONS = frozenset(
    {
        "UNSUPPORTED_PROTOCOL",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "WRONG_VERSION_NUMBER",
        "NO_PROTOCOLS_AVAILABLE",
        "UNKNOWN_PROTOCOL",
        "VERSION_TOO_LOW",
        "VERSION_TOO_HIGH",
    }
)


def _ssl_kind(error: ssl.SSLError) -> FailureKind:
    """A TLS-version mismatch, a handshake cut off, or a certificate problem."""
    if getattr(error, "reason", None) in _TLS_VERSION_REASONS:
        return FailureKind.TLS_VERSION
    if isinstance(error, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError):
        return FailureKind.RESET  # the peer hung up mid-handshake: nothing says why
    return FailureKind.TLS


def _kind_of(error: BaseException) -> FailureKind | None:
    """The kind one exception names by its type, or None if it names none."""
    aiohttp = sys.modules.get("aiohttp")
    httpx = sys.modules.get("httpx")
    if aiohttp is not None:
        if isinstance(error, aiohttp.ClientConnectorCertificateError):
            return FailureKind.TLS
        if isinstance(error, aiohttp.ClientSSLError):  # its ssl.SSLError is in the chain
            return None
        if isinstance(error, aiohttp.ClientConnectorDNSError):
            return FailureKind.DNS
        if isinstance(error, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
            return FailureKind.PROXY
        if isinstance(error, aiohttp.ServerTimeoutError | aiohttp.ConnectionTimeoutError):
            return FailureKind.TIMEOUT
        if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
            return FailureKind.RESET
        if isinstance(error, aiohttp.http_exceptions.HttpProcessingError):
            return FailureKind.PROTOCOL  # not HTTP, or a line, field or header count over its cap
    if httpx is not None:
        if isinstance(error, httpx.TimeoutException):
            return FailureKind.TIMEOUT
        if isinstance(error, httpx.ProxyError):
            return FailureKind.PROXY
        if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            return FailureKind.RESET
    if isinstance(error, ssl.CertificateError):  # incl. SSLCertVerificationError
        return FailureKind.TLS
    if isinstance(error, ssl.SSLError):
        return _ssl_kind(error)
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
    FailureKind.TLS_VERSION,
    FailureKind.TLS,
    FailureKind.DNS,
    FailureKind.REFUSED,
    FailureKind.PROXY,
    FailureKind.TIMEOUT,
    FailureKind.RESET,
    FailureKind.PROTOCOL,
)


def classify(exc: BaseException) -> Failure:
    """The failure an exception (and the exceptions it came from) stands for."""
    chain = _chain(exc)
    found = {kind for kind in (_kind_of(e) for e in chain) if kind is not None}
    kind = next((k for k in _PRIORITY if k in found), FailureKind.CONNECTION)
    detail = ""
    if kind in (
        FailureKind.TLS,
        FailureKind.TLS_VERSION,
        FailureKind.CONNECTION,
        FailureKind.PROTOCOL,
    ):
        # The library's own words help here (which certificate check failed); secrets
        # never ride in them, but the caller's redactor still passes over them.
        detail = _detail(chain) or type(exc).__name__
    return Failure(kind, detail)


def _detail(chain: list[BaseException]) -> str:
    """The library's own words: OpenSSL's for a TLS failure (which check failed), else the
    first exception in the chain that has some to give."""
    tls = [e for e in chain if isinstance(e, ssl.SSLError | ssl.CertificateError)][::-1]
    return next((text for text in map(_short, tls + chain) if text), "")


def _short(error: BaseException) -> str:
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None:
        if isinstance(error, aiohttp.InvalidURL | aiohttp.ClientResponseError):
            return ""  # their text is the URL (and its key): the cause says more
        if isinstance(error, aiohttp.http_exceptions.HttpProcessingError):
            return _parse_error(error)
    if isinstance(error, ssl.SSLError) and not isinstance(error, ssl.CertificateError):
        reason = getattr(error, "reason", None)  # OpenSSL's code, e.g. UNSUPPORTED_PROTOCOL
        if isinstance(reason, str) and reason:
            return reason
    reason = getattr(error, "verify_message", None) or getattr(error, "reason", None)
    text = str(reason) if isinstance(reason, str) and reason else str(error)
    return clipped(text)


#: The fixed words aiohttp's parser (llhttp) puts before the bytes it refused.
_PARSER_REASON = re.compile(r"[A-Za-z0-9 ,.-]{1,80}")


def _parse_error(error: BaseException) -> str:
    """What aiohttp's parser refused ("Bad status line", "Too many headers received"),
    without the bytes it refused: an answer may echo the request, key and all."""
    message = str(getattr(error, "message", "") or "")
    reason = message.split("\n", 1)[0].split(":", 1)[0].strip()
    return reason if _PARSER_REASON.fullmatch(reason) else type(error).__name__
