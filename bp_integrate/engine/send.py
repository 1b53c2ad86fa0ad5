"""One send: a planned request, with retries, to a redacted `SendResult`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bp_integrate.engine.plan import encode_body
from bp_integrate.failures import Outcome
from bp_integrate.http import AsyncSender, RetryPolicy, proxy_note, send_with_retries
from bp_integrate.integrations.base import Planned, PlannedRequest
from bp_integrate.redact import Redactor

#: How much of a target's answer a result keeps (and the run file records).
RESPONSE_PREVIEW = 500


@dataclass
class SendResult:
    """One request's fate, already redacted (safe to print and record)."""

    integration: str
    event: str
    label: str
    method: str
    url: str
    outcome: Outcome
    status: int | None
    latency_ms: float
    elapsed_ms: float
    attempts: int
    response_id: str | None = None
    response: str = ""
    error: str | None = None
    #: A FailureKind's value for a network failure (refused, dns, tls, timeout, ...).
    error_kind: str | None = None
    notes: list[str] = field(default_factory=list)
    #: The target may have taken the request though no good answer came back (a timeout).
    maybe_received: bool = False
    #: The proxy the request went through (credentials masked) and the variable naming it.
    proxy: str | None = None
    proxy_variable: str | None = None
    #: The last attempt's time to a connection and from there to the answer's status
    #: line (bp_integrate.http.Timings); None when no answer came.
    connect_ms: float | None = None
    response_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "event": self.event,
            "label": self.label,
            "method": self.method,
            "url": self.url,
            "outcome": self.outcome,
            "status": self.status,
            "latency_ms": round(self.latency_ms, 2),
            "elapsed_ms": round(self.elapsed_ms, 2),
            "attempts": self.attempts,
            "response_id": self.response_id,
            "response": self.response,
            "error": self.error,
            "error_kind": self.error_kind,
            "notes": self.notes,
            "proxy": self.proxy,
            "connect_ms": None if self.connect_ms is None else round(self.connect_ms, 2),
            "response_ms": None if self.response_ms is None else round(self.response_ms, 2),
        }


def response_id(body: bytes, key: str | None) -> str | None:
    if not key or not body:
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    value = data.get(key) if isinstance(data, dict) else None
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def _preview(body: bytes, redactor: Redactor) -> str:
    text = body[: RESPONSE_PREVIEW * 4].decode("utf-8", errors="replace")
    text = redactor.response(text)
    return text if len(text) <= RESPONSE_PREVIEW else text[: RESPONSE_PREVIEW - 3] + "..."


async def send_one(
    sender: AsyncSender,
    request: PlannedRequest,
    policy: RetryPolicy,
    redactor: Redactor,
    keep_response: bool = True,
) -> SendResult:
    """Send one planned request with retries; the result is redacted."""
    done = await send_with_retries(
        sender,
        request.method,
        request.url,
        request.headers,
        encode_body(request.body),
        policy,
    )
    notes = [redactor.response(n) for n in done.notes]
    common: dict[str, Any] = {
        "integration": request.integration,
        "event": request.event,
        "label": request.label,
        "method": request.method,
        "url": redactor.url(request.url),
        "latency_ms": done.latency_ms,
        "elapsed_ms": done.elapsed_ms,
        "attempts": done.attempts,
        "notes": notes,
        "maybe_received": done.maybe_received,
    }
    if done.response is None:
        failure = done.failure
        reason = redactor.response(failure.message) if failure else "no answer"
        via = proxy_note(request.url)  # only on this failure path: sends stay cheap
        if via is not None:
            reason += f", through proxy {via[0]} ({via[1]})"
        return SendResult(
            **common,
            outcome="network",
            status=None,
            error=reason,
            error_kind=failure.kind.value if failure else None,
            proxy=via[0] if via else None,
            proxy_variable=via[1] if via else None,
        )
    answer = done.response
    ok = 200 <= answer.status < 300
    if answer.body_error is not None:
        notes.append(
            f"the answer's body broke off ({answer.body_error.message}); the status line "
            f"counts{', so it is not sent again' if ok else ''}"
        )
    error: str | None = None
    if not ok:
        error = f"HTTP {answer.status}"
        location = answer.headers.get("location")
        if 300 <= answer.status < 400:
            where = f" to {redactor.url(location)}" if location else ""
            error += (
                f": redirected{where} (bp-integrate does not follow redirects: install the "
                "integration with the final URL)"
            )
    timings = answer.timings
    return SendResult(
        **common,
        connect_ms=timings.connect_ms if timings else None,
        response_ms=timings.response_ms if timings else None,
        outcome="ok" if ok else "rejected",
        status=answer.status,
        # A storm (keep_response False) records no id: its answers are not parsed for one.
        response_id=(
            redactor.text(response_id(answer.body, request.response_id_key) or "") or None
            if keep_response
            else None
        ),
        response=_preview(answer.body, redactor) if keep_response or not ok else "",
        error=error,
    )


async def deliver(
    sender: AsyncSender,
    planned: Sequence[Planned],
    policy: RetryPolicy,
    redactor: Redactor,
    keep_response: bool = True,
) -> list[SendResult]:
    """Send every planned request of one event, concurrently (one per target)."""
    requests = [p for p in planned if isinstance(p, PlannedRequest)]
    if len(requests) == 1:
        return [await send_one(sender, requests[0], policy, redactor, keep_response)]
    return list(
        await asyncio.gather(
            *(send_one(sender, r, policy, redactor, keep_response) for r in requests)
        )
    )
