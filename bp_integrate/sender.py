"""Sending BigPanda events to installed targets: load, render, plan, send, record.

The plain core under `send-test`, `replay` and storm mode. `load_targets` reads the
installed integrations of a profile with their secrets and builds the one `Redactor`
for them; `render_body` makes the webhook body BigPanda would send for an event;
`plan_event` asks each integration what requests that means; `deliver` sends them
(with retries) and returns a `SendResult` per request; `Session` keeps one event loop
and one HTTP client for a whole command, so a scenario can be interrupted between
steps and still clean up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bp_integrate import config, payloads
from bp_integrate.config import Installed
from bp_integrate.errors import ConfigError, ExitCode
from bp_integrate.http import (
    AsyncSender,
    RetryPolicy,
    SenderKind,
    async_sender,
    proxy_note,
    send_with_retries,
)
from bp_integrate.integrations import get as get_integration
from bp_integrate.integrations.base import (
    Integration,
    Planned,
    PlannedRequest,
    SendOptions,
    Skipped,
)
from bp_integrate.redact import Redactor
from bp_integrate.store import load_values, require_installed
from bp_integrate.urls import split_url_secrets

RESPONSE_PREVIEW = 500
#: Events after which the test incident is open on a target that took them.
OPENING_EVENTS = frozenset(
    {"incident#new", "incident#updated", "incident#reopen", "incident#become-flapping"}
)
CLOSING_EVENTS = frozenset({"incident#closed"})
Outcome = Literal["ok", "rejected", "network"]


@dataclass(frozen=True)
class Target:
    """One installed integration, with its values (secrets real) ready to plan with."""

    integration: Integration
    values: dict[str, str]
    item: Installed

    @property
    def name(self) -> str:
        return self.integration.name


def load_targets(profile: str, names: Sequence[str] | None = None) -> list[Target]:
    """The named integrations (or every installed one) of `profile`, secrets loaded."""
    cfg = config.load()
    if names:
        chosen: list[Target] = []
        for name in names:
            spec = get_integration(name)
            if any(t.name == spec.name for t in chosen):
                continue
            item = require_installed(cfg, profile, spec.name)
            chosen.append(Target(spec, load_values(spec, item, profile, True), item))
        return chosen
    installed = cfg.installed(profile)
    if not installed:
        raise ConfigError(
            f"No integration is installed in profile {profile!r}: nothing to send to.",
            f"Install one first: bp-integrate --profile {profile} install xmatters "
            "(bp-integrate list shows them all).",
        )
    targets = []
    for name in installed:
        spec = get_integration(name)
        targets.append(
            Target(spec, load_values(spec, installed[name], profile, True), installed[name])
        )
    return targets


def build_redactor(targets: Sequence[Target], enabled: bool = True) -> Redactor:
    """The one redactor of a command: every secret the loaded integrations hold."""
    redactor = Redactor(enabled=enabled)
    for target in targets:
        spec, values = target.integration, target.values
        for name in spec.secret_fields():
            if values.get(name):
                redactor.add(values[name])
        for f in spec.fields:
            if f.url_with_secrets and values.get(f.name):
                redactor.add(*split_url_secrets(values[f.name])[1].values())
        for name in target.item.secret_fields:
            url_field, dot, _ = name.partition(".")
            if dot and values.get(url_field):
                redactor.add(*split_url_secrets(values[url_field])[1].values())
        try:
            hook = spec.webhook(values)
        except (KeyError, NotImplementedError):
            continue
        for header in hook.secret_headers:
            if header in hook.headers:
                redactor.add_header_value(hook.headers[header])
    return redactor


def target_urls(targets: Sequence[Target]) -> list[str]:
    """Every URL the targets may send to (their webhook URL and URL settings)."""
    urls: list[str] = []
    for target in targets:
        with_scheme = [v for v in target.values.values() if v.startswith(("http://", "https://"))]
        with contextlib.suppress(KeyError, NotImplementedError):
            with_scheme.append(target.integration.webhook(target.values).url)
        urls.extend(u for u in with_scheme if u not in urls)
    return urls


# --------------------------------------------------------------------------- bodies


@dataclass
class BodySpec:
    """How a command shapes each webhook body (the same for every event of a run)."""

    envelope: payloads.EnvelopeShape = "event"
    test_marker: bool = True
    sets: list[tuple[str, str]] = field(default_factory=list)
    payload: dict[str, Any] | None = None  # --payload FILE: the user's own body

    def send_options(self, comment: str | None = None) -> SendOptions:
        return SendOptions(envelope=self.envelope, test_marker=self.test_marker, comment=comment)


def incident_of(body: dict[str, Any]) -> dict[str, Any]:
    """The incident object inside a webhook body, whatever its envelope."""
    inner = body.get("incident")
    return inner if isinstance(inner, dict) else body


def add_alert_tags(incident: dict[str, Any], tags: Mapping[str, str]) -> None:
    """Set `tags` on every alert of a rendered incident (a scenario step's `tags`)."""
    for alert in incident.get("alerts") or []:
        if not isinstance(alert, dict):
            continue
        existing = [t for t in alert.get("tags") or [] if t.get("name") not in tags]
        alert["tags"] = existing + [{"name": k, "value": str(v)} for k, v in tags.items()]


def render_body(
    simulator: payloads.IncidentSimulator,
    event: str,
    spec: BodySpec,
    sets: Sequence[tuple[str, str]] = (),
    tags: Mapping[str, str] | None = None,
    comment: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(body, incident) for `event`: simulated (or the --payload body), then the --set edits."""
    if spec.payload is not None:
        import copy

        simulator.apply(event, comment=comment)
        body = copy.deepcopy(spec.payload)
    else:
        incident = simulator.apply(event, comment=comment)
        text = (
            simulator.last_comment
            if payloads.resolve_event(event) == "incident#commented"
            else None
        )
        body = payloads.envelope(event, incident, spec.envelope, comment=text)
    incident = incident_of(body)
    if tags:
        payloads_validate_tags(tags)
        add_alert_tags(incident, tags)
    for path, value in [*spec.sets, *sets]:
        payloads.set_path(body, path, value)
    if spec.test_marker:
        # After the user's edits, so an edited description (or a --payload body) is
        # still marked as a test.
        payloads.mark_as_test(body)
    return body, incident_of(body)


def payloads_validate_tags(tags: Mapping[str, str]) -> None:
    for name in tags:
        payloads.validate_tag_name(name)


def plan_event(
    targets: Sequence[Target],
    event: str,
    incident: dict[str, Any],
    body: dict[str, Any],
    options: SendOptions,
    redactor: Redactor,
) -> list[Planned]:
    """Every request (or skip) the targets need for this event; secrets learnt by the redactor."""
    planned: list[Planned] = []
    for target in targets:
        for item in target.integration.plan(event, incident, body, target.values, options):
            if isinstance(item, PlannedRequest):
                redactor.add(*item.secret_values)
                for header in item.secret_headers:
                    if header in item.headers:
                        redactor.add_header_value(item.headers[header])
            planned.append(item)
    return planned


def encode_body(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def shown_request(request: PlannedRequest, redactor: Redactor) -> dict[str, Any]:
    """A planned request as --dry-run shows it (masked unless the redactor is off)."""
    return {
        "integration": request.integration,
        "event": request.event,
        "label": request.label,
        "method": request.method,
        "url": redactor.url(request.url),
        "headers": redactor.headers(request.headers, request.secret_headers),
        "body": redactor.value(request.body),
    }


def as_curl_command(request: PlannedRequest, redactor: Redactor) -> str:
    """The request as a curl command (masked unless the redactor is off)."""
    shown = shown_request(request, redactor)
    parts = ["curl", "-sS", "-X", request.method, shlex.quote(shown["url"])]
    for name, value in shown["headers"].items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    parts += ["--data-raw", shlex.quote(json.dumps(shown["body"], separators=(",", ":")))]
    return " ".join(parts)


def skipped_json(item: Skipped) -> dict[str, str]:
    return {"integration": item.integration, "event": item.event, "reason": item.reason}


# --------------------------------------------------------------------------- sending


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
    error_kind: str | None = None
    notes: list[str] = field(default_factory=list)
    #: The target may have taken the request though no good answer came back (a timeout).
    maybe_received: bool = False
    #: The proxy the request went through (credentials masked) and the variable naming it.
    proxy: str | None = None
    proxy_variable: str | None = None

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
            "notes": self.notes,
            "proxy": self.proxy,
        }


def response_id(body: bytes, key: str | None) -> str | None:
    if not key or not body:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    value = data.get(key) if isinstance(data, dict) else None
    return str(value) if value is not None else None


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
    url = redactor.url(request.url)
    notes = [redactor.text(n) for n in done.notes]
    common = {
        "integration": request.integration,
        "event": request.event,
        "label": request.label,
        "method": request.method,
        "url": url,
        "latency_ms": done.latency_ms,
        "elapsed_ms": done.elapsed_ms,
        "attempts": done.attempts,
        "notes": notes,
        "maybe_received": done.maybe_received,
    }
    if done.response is None:
        failure = done.failure
        error = failure.message if failure else "no answer"
        via = proxy_note(request.url)  # only on this failure path: sends stay cheap
        if via is not None:
            error += f", through proxy {via[0]} ({via[1]})"
        return SendResult(
            **common,  # type: ignore[arg-type]
            outcome="network",
            status=None,
            error=error,
            error_kind=failure.kind if failure else None,
            proxy=via[0] if via else None,
            proxy_variable=via[1] if via else None,
        )
    answer = done.response
    ok = 200 <= answer.status < 300
    text = ""
    if keep_response or not ok:
        text = answer.body[: RESPONSE_PREVIEW * 4].decode("utf-8", errors="replace")
        text = redactor.text(text)
        if len(text) > RESPONSE_PREVIEW:
            text = text[: RESPONSE_PREVIEW - 3] + "..."
    return SendResult(
        **common,  # type: ignore[arg-type]
        outcome="ok" if ok else "rejected",
        status=answer.status,
        response_id=redactor.text(response_id(answer.body, request.response_id_key) or "") or None,
        response=text,
        error=None if ok else f"HTTP {answer.status}",
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


#: How much of a target's answer a timeline line shows (the run file keeps RESPONSE_PREVIEW).
DETAIL_PREVIEW = 160


def failure_hint(result: SendResult) -> str | None:
    """What to check when a send failed, where the status makes it obvious."""
    name = result.integration
    if result.outcome == "network" and result.proxy:
        return (
            f"check that the proxy in {result.proxy_variable} is up and lets this machine "
            f"through, or add {proxied_host(result)} to NO_PROXY to go direct; then the URL "
            f"(bp-integrate show {name})"
        )
    if result.outcome == "network":
        return f"check the URL (bp-integrate show {name}) and that this machine can reach it"
    if result.status in (401, 403):
        return f"check the credentials: bp-integrate install {name}"
    if result.status == 404:
        return f"check the URL: bp-integrate show {name}"
    return None


def proxied_host(result: SendResult) -> str:
    """The host a failed send was for (what NO_PROXY would list)."""
    from urllib.parse import urlsplit

    try:
        return urlsplit(result.url).hostname or "the target's host"
    except ValueError:
        return "the target's host"


def answer_summary(result: SendResult, limit: int = DETAIL_PREVIEW) -> str:
    """The target's answer on one line: its `errors` list if it has one (PagerDuty's
    400s do), else the body; already redacted, cut to `limit` characters."""
    text = result.response.strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("errors"), list) and data["errors"]:
        text = "errors: " + "; ".join(str(e) for e in data["errors"])
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def failure_detail(result: SendResult) -> str:
    """A failed send in one line: what happened, what the target said, what to check."""
    if result.outcome == "network":
        parts = [result.error or "no answer"]
    else:
        parts = [result.error or f"HTTP {result.status}"]
        answer = answer_summary(result)
        if answer:
            parts.append(answer)
    hint = failure_hint(result)
    return ": ".join(parts) + (f" ({hint})" if hint else "")


def failure_code(results: Sequence[SendResult]) -> ExitCode:
    """REJECTED if any target answered with an error, else NETWORK."""
    return ExitCode.REJECTED if any(r.outcome == "rejected" for r in results) else ExitCode.NETWORK


def overall(ok: int, failed: Sequence[SendResult]) -> tuple[str, ExitCode]:
    """("success"|"partial"|"failure", exit code) from the count of good and bad sends."""
    if not failed:
        return "success", ExitCode.OK
    if ok == 0:
        return "failure", failure_code(failed)
    return "partial", ExitCode.PARTIAL


class Session:
    """One event loop and one HTTP client for a whole command (used synchronously)."""

    def __init__(
        self, policy: RetryPolicy, kind: SenderKind = "httpx", max_connections: int = 100
    ) -> None:
        self.policy = policy
        self._runner = asyncio.Runner()
        self._kind = kind
        self._max_connections = max_connections
        self._sender: AsyncSender | None = None

    def _client(self) -> AsyncSender:
        if self._sender is None:

            async def make() -> AsyncSender:
                return async_sender(self._kind, self._max_connections)

            self._sender = self._runner.run(make())
        return self._sender

    def deliver(self, planned: Sequence[Planned], redactor: Redactor) -> list[SendResult]:
        sender = self._client()
        return self._runner.run(deliver(sender, planned, self.policy, redactor))

    def close(self) -> None:
        try:
            if self._sender is not None:
                self._runner.run(self._sender.aclose())
        finally:
            self._sender = None
            self._runner.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
