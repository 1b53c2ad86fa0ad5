"""The capture file: every request the emulated targets received, in full, as JSON lines.

This module owns :class:`CaptureFile` (``bp-integrate receiver --capture FILE``)
and the format ``calibrate`` reads. One line per request an emulated target
received (introspection ``/_...`` requests are not captured), appended in the
order answered, each a JSON object:

* ``format``: ``"bp-integrate-capture/1"``;
* ``time`` (ISO 8601, UTC) and ``timestamp`` (Unix seconds): when it arrived;
* ``method``, ``path``; ``query`` with secret parameters (``apiKey``, ``token``,
  ... : bp_integrate.redact's one list of secret names) as ``****``;
* ``headers``: an object, with secret-named headers (``Authorization``, anything
  naming a key, token, secret, password, signature or cookie) as ``****`` and
  every emulator secret masked in the rest;
* ``body``: the JSON body as sent (credential-like fields such as
  ``routing_key`` masked as in the request log), or ``null`` when the body is
  not JSON; ``body_text``: the body as text (UTF-8, bad bytes replaced) when it
  is not JSON, else ``null``; ``body_bytes``: its size;
* ``target``, ``route``, ``status``: which emulated endpoint took it and what it
  answered (``null`` when the connection was dropped on purpose).

The file is created 0600 (it holds full bodies), never followed through a
symlink, and each line is written with one ``write`` on a file opened for
appending, so lines from one run never interleave or break half-way.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bp_integrate.loading import json_line

from .records import NOT_PARSED, clean, mask_headers, masked_body, scrub, shown_query

log = logging.getLogger(__name__)

FORMAT = "bp-integrate-capture/1"


class CaptureFile:
    """An open capture file; :meth:`write` appends one request (thread-safe)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        self._fd = os.open(self.path, flags, 0o600)
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(self._fd, 0o600)  # an existing file keeps no wider permissions
        except OSError:
            os.close(self._fd)
            raise
        self._lock = threading.Lock()
        self.failed: OSError | None = None

    def write(
        self,
        *,
        timestamp: float,
        method: str,
        path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
        target: str,
        route: str,
        status: int | None,
        secrets: Iterable[str],
        parsed: Any = NOT_PARSED,
    ) -> None:
        """Append one request (``parsed``: its body as a handler parsed it, if one did); a
        write failure is logged once and later ones are skipped."""
        secret_list = [s for s in secrets if s]
        shown: Any = None
        text: str | None = None
        if body:
            shown, text = masked_body(body, secret_list, parsed)
            if text is not None:
                shown = None
        entry = {
            "format": FORMAT,
            "time": datetime.fromtimestamp(timestamp, tz=UTC).isoformat(),
            "timestamp": timestamp,
            "method": method,
            "path": clean(scrub(path, secret_list)),
            "query": clean(shown_query(query_string, secret_list)),
            "headers": dict(mask_headers(headers, secret_list)),
            "body": shown,
            "body_text": text,
            "body_bytes": len(body),
            "target": target,
            "route": route,
            "status": status,
        }
        line = json.dumps(entry, ensure_ascii=False)
        try:
            data = (line + "\n").encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate in the body: \u escapes keep it
            data = (json.dumps(entry) + "\n").encode("ascii")
        with self._lock:
            if self.failed is not None or self._fd < 0:
                return
            try:
                os.write(self._fd, data)
            except OSError as exc:
                self.failed = exc
                log.error("capture to %s stopped: %s", self.path, exc)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def read_capture(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every entry of a capture file, oldest first (lines that are not entries skipped)."""
    entries = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            entry = json_line(line)
            if isinstance(entry, dict) and entry.get("format") == FORMAT:
                entries.append(entry)
    return entries
