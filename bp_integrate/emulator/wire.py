"""The emulator's own request, answer and router: what a handler sees and returns.

This module owns :class:`Request` (one whole HTTP request: method, path, query,
headers, body, the route it matched, the emulator it reached), :class:`Response`
(status, body, headers) and :class:`Router` (``{name}`` placeholders, 404 and 405
told apart as aiohttp's router does). Handlers are plain functions of a
:class:`Request` to a :class:`Response`: the body has been read by the time a
handler runs (see :func:`.app.aiohttp_handler`, the one adapter to and from
aiohttp, whose server speaks HTTP), so nothing in a handler waits and every
target can be called without a server or an event loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol
from urllib.parse import parse_qsl, unquote

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from .records import NOT_PARSED


class Host(Protocol):
    """What a request's ``app`` gives its handler: the :class:`~.app.Emulator`'s
    config and state (typed where they are read, in :mod:`.context`, so this module
    needs nothing of the app it serves)."""

    @property
    def config(self) -> Any: ...

    @property
    def state(self) -> Any: ...


@dataclass
class Outcome:
    """What a handler decided about one request, for the request log."""

    target: str
    route: str
    valid: bool = True
    errors: list[str] = field(default_factory=list)
    note: str = ""
    key: str | None = None
    action: str | None = None

    def reject(self, *errors: str) -> None:
        self.valid = False
        self.errors.extend(errors)


class Response:
    """An answer: ``status``, ``body`` bytes and extra ``headers``.

    ``Content-Type`` is ``content_type`` unless ``headers`` names one;
    ``Content-Length``, ``Date`` and ``Connection`` are aiohttp's to write
    (``Connection: close`` here closes the connection after the answer).
    """

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers if headers is not None else {}
        self.content_type = content_type

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes>"


class Request:
    """One whole HTTP request as an emulated target sees it.

    ``path`` is percent-decoded, ``query_string`` as sent, ``query`` the decoded
    parameters (parsed when first asked for), ``headers`` case-insensitive.
    ``match_info`` holds the route's ``{name}`` values and ``route`` its name
    (``""`` when no route matched). ``app`` is the :class:`~.app.Emulator` that
    received it. ``abort`` drops the connection without an answer.
    """

    __slots__ = (
        "_query",
        "abort",
        "app",
        "body",
        "headers",
        "match_info",
        "method",
        "outcome",
        "parsed",
        "path",
        "query_string",
        "route",
        "routed",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: CIMultiDict[str] | CIMultiDictProxy[str],
        body: bytes,
        app: Host,
        abort: Callable[[], None] | None = None,
        routed: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        #: The path routes match: ``path`` with any ``%2F`` kept (see :func:`decoded_path`).
        self.routed = path if routed is None else routed
        self.query_string = query_string
        self.headers = headers
        self.body = body
        self.app = app
        self.abort = abort
        self.match_info: dict[str, str] = {}
        self.route = ""
        #: The body parsed as JSON by :func:`.context.read_json` (or the error it gave).
        self.parsed: Any = NOT_PARSED
        self.outcome: Outcome | None = None
        self._query: MultiDictProxy[str] | None = None

    @property
    def query(self) -> MultiDictProxy[str]:
        if self._query is None:
            pairs = (
                parse_qsl(self.query_string, keep_blank_values=True) if self.query_string else []
            )
            self._query = MultiDictProxy(MultiDict(pairs))
        return self._query

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


Handler = Callable[[Request], Response]
_SLASH = re.compile("%2[fF]")


def decoded_path(raw: str) -> tuple[str, str]:
    """A raw request path percent-decoded, and the path to route on: decoded too, but
    for ``%2F``, which stays a character of its segment (aiohttp routes the same way,
    so ``/webhook%2Fx`` is not ``/webhook/x``)."""
    if "%" not in raw:
        return raw, raw
    if _SLASH.search(raw) is None:
        path = unquote(raw)
        return path, path
    return unquote(raw), "%2F".join(unquote(part) for part in _SLASH.split(raw))


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Match(NamedTuple):
    """What :meth:`Router.resolve` found: the route's name and handler and its values,
    or (``handler`` None) 404, or 405 with the methods the path allows."""

    name: str
    handler: Handler | None
    match_info: dict[str, str]
    allowed: tuple[str, ...] = ()


class Router:
    """Method and path to handler. Fixed paths are one dict lookup; paths with
    ``{name}`` segments (one segment each, as in aiohttp) are tried in the order
    they were added."""

    def __init__(self) -> None:
        self._fixed: dict[str, dict[str, tuple[str, Handler]]] = {}
        self._dynamic: list[tuple[re.Pattern[str], dict[str, tuple[str, Handler]]]] = []
        self._patterns: dict[str, dict[str, tuple[str, Handler]]] = {}

    def add(self, method: str, path: str, name: str, handler: Handler) -> None:
        """Route ``method`` on ``path`` to ``handler``; a GET route answers HEAD too."""
        if method == "GET":
            self._add("HEAD", path, name, handler)
        self._add(method, path, name, handler)

    def _add(self, method: str, path: str, name: str, handler: Handler) -> None:
        if "{" not in path:
            self._fixed.setdefault(path, {})[method] = (name, handler)
            return
        methods = self._patterns.get(path)
        if methods is None:
            methods = self._patterns[path] = {}
            self._dynamic.append((_compile(path), methods))
        methods[method] = (name, handler)

    def resolve(self, method: str, path: str) -> Match:
        allowed: list[str] = []
        methods = self._fixed.get(path)
        if methods is not None:
            found = methods.get(method)
            if found is not None:
                return Match(found[0], found[1], {})
            allowed.extend(methods)
        for pattern, methods in self._dynamic:
            matched = pattern.fullmatch(path)
            if matched is None:
                continue
            found = methods.get(method)
            if found is not None:
                values = matched.groupdict()
                if "%" in path:  # a %2F kept for routing is a "/" of the value
                    values = {k: unquote(v) for k, v in values.items()}
                return Match(found[0], found[1], values)
            allowed.extend(methods)
        return Match("", None, {}, tuple(sorted(set(allowed))))


def _compile(path: str) -> re.Pattern[str]:
    parts: list[str] = []
    end = 0
    for placeholder in _PLACEHOLDER.finditer(path):
        parts.append(re.escape(path[end : placeholder.start()]))
        parts.append(f"(?P<{placeholder.group(1)}>[^{{}}/]+)")  # aiohttp's default
        end = placeholder.end()
    parts.append(re.escape(path[end:]))
    return re.compile("".join(parts))
