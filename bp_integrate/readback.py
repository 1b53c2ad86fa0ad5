"""Read-back at the targets: finding what a share (or a direct send) created there.

This module owns the read-back credentials of a profile (each integration declares
them as `readback_fields`; they live in the secret store under the integration's
name, or in `BP_INTEGRATE_<INTEGRATION>_<FIELD>`), and the one function that asks a
target's own API what it holds for a BigPanda incident, paced per target (PagerDuty
REST: 960 requests/min; incident.io: 1,200/min; xMatters: kept at BigPanda's 5/s)
and patient with 429. What the request is and what the answer means belong to the
integration (`readback_query`, `readback_records`, `terminate_query`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bp_integrate.bigpanda.api import APIError, Pacer
from bp_integrate.errors import BPError, NetworkError, command_for

if TYPE_CHECKING:
    import httpx

    from bp_integrate.config import Config
    from bp_integrate.integrations.base import Integration, ReadQuery, TargetRecord
    from bp_integrate.secrets import Found

#: Seconds between two calls to one target's API (its documented limit, with room).
TARGET_INTERVAL = 0.25
#: Seconds a target's clock may run behind this machine's: a record created up to this
#: long before the run's first send still counts as made by the run.
CLOCK_SKEW = 30.0


def judged(records: Sequence[TargetRecord], since: float | None) -> TargetRecord | None:
    """The one record a read-back judges: the newest that the run made (created at or
    after `since`, the run's first send, less `CLOCK_SKEW`). Never "any record in the
    wanted state": after new -> closed -> reopen, PagerDuty holds a resolved incident and
    a new one with the same key, and only the new one says whether the reopen landed.
    A record whose target gives no creation time cannot be shown to be the run's."""
    made = [
        (r.created_at, index, r)
        for index, r in enumerate(records)
        if r.created_at is not None and (since is None or r.created_at >= since - CLOCK_SKEW)
    ]
    return max(made, key=lambda item: (item[0], item[1]))[2] if made else None


def in_state(record: TargetRecord, want: str) -> bool:
    """Whether a record is in the wanted state (ours, `open`/`resolved`, or the
    target's own word, e.g. `triggered`)."""
    return want in (record.state, record.status.split(" ")[0].lower(), record.status)


def describe(records: Sequence[TargetRecord], chosen: TargetRecord | None) -> str:
    """What a target shows, for a verdict: the judged record, and how many others."""
    if chosen is None:
        if not records:
            return "nothing"
        return f"only records older than this run ({', '.join(r.id for r in records[:5])})"
    others = len(records) - 1
    tail = f" (newest of {len(records)}; the others are older)" if others else ""
    return f"{chosen.id} {chosen.status}{tail}"


def readback_env_var(integration: Integration, field_name: str, profile: str | None = None) -> str:
    from bp_integrate.secrets import env_var

    return env_var(integration.name, field_name, profile)


def store_creds(
    integration: Integration,
    profile: str,
    answers: Mapping[str, str],
    store_kind: str = "keyring",
) -> list[str]:
    """Check and keep read-back credentials in the secret store (the keyring unless
    `store_kind` says: the profile's `verify_store`), each `readback_fields` value given
    a non-empty answer; the names stored (none under the env store, which keeps nothing).
    Used by `install` (when the admin opts in to verify) and `profile set --readback`;
    `load_creds` reads them back."""
    from bp_integrate.secrets import as_store_kind, entry_name, open_store

    checked = {f.name: f.validate(answers.get(f.name, ""), {}) for f in integration.readback_fields}
    kind = as_store_kind(store_kind)
    if kind == "env":
        return []
    store = open_store(kind)
    store.check()
    stored = []
    for name, value in checked.items():
        if value:
            store.set(entry_name(profile, integration.name, name), value)
            stored.append(name)
    return stored


def find_creds(
    integration: Integration, profile: str, cfg: Config | None = None
) -> dict[str, Found]:
    """The integration's read-back credentials that are set, each with where it came
    from: the profile's environment variable, else the store the profile keeps verify's
    secrets in (`Config.verify_store`: where `profile set --readback` and `verify-setup`
    put them). `cfg`: the settings the command already read, else read here.

    A store that cannot answer (no keyring) is the same as no credentials there:
    read-back is optional."""
    from bp_integrate.secrets import find_available

    if not integration.readback_fields:
        return {}
    if cfg is None:
        from bp_integrate import config

        cfg = config.load()
    kind = cfg.verify_store(profile)
    creds: dict[str, Found] = {}
    for f in integration.readback_fields:
        found = find_available(kind, profile, integration.name, f.name)
        if found and found.value:
            creds[f.name] = found
    return creds


def load_creds(integration: Integration, profile: str, cfg: Config | None = None) -> dict[str, str]:
    """The integration's read-back credentials that are set (`find_creds`), by field."""
    return {name: found.value for name, found in find_creds(integration, profile, cfg).items()}


def kept_creds(integration: Integration, profile: str, cfg: Config) -> dict[str, Found | None]:
    """For `profile show` and `doctor`: each read-back credential of `integration` that
    is set or recorded as stored (`Config.readback_stored`), with what was found in the
    profile's variable or verify's store (None: recorded, but neither has it).
    SecretsError when the store cannot answer."""
    from bp_integrate.secrets import find, open_store

    recorded = {name for _, name in cfg.readback_stored(profile, integration.name)}
    store = open_store(cfg.verify_store(profile)) if recorded else None
    kept: dict[str, Found | None] = {}
    for f in integration.readback_fields:
        found = find(store if f.name in recorded else None, profile, integration.name, f.name)
        if found is not None or f.name in recorded:
            kept[f.name] = found
    return kept


def store_hint(integration: Integration, profile: str | None = None) -> str:
    """The command that stores the integration's read-back credentials for `profile`."""
    return command_for(profile, f"profile set --readback {integration.name}")


def missing_hint(
    integration: Integration, creds: Mapping[str, str], profile: str | None = None
) -> str | None:
    """What would let verify read this target back (None: nothing is missing); the
    variables and the command named are the profile's own."""
    if not integration.readback_fields:
        return None
    # A field with a default (a property name we guess [G]) is never missing.
    missing = [f for f in integration.readback_fields if not creds.get(f.name) and not f.default]
    if not missing:
        return None
    names = ", ".join(readback_env_var(integration, f.name, profile) for f in missing)
    labels = "; ".join(f"{f.label}: {f.help}" for f in missing)
    return f"set {names} (or store it: {store_hint(integration, profile)}). {labels}"


@dataclass
class TargetReader:
    """Reads targets back over one HTTP client, each target's API paced on its own."""

    timeout: float = 15.0
    pacers: dict[str, Pacer] = field(default_factory=dict)
    #: Whose credentials these are: a refusal names that profile's variables.
    profile: str | None = None
    #: A deadline (time.monotonic()) for every read and its back-off (verify's hop).
    deadline: float | None = None
    _client: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            from bp_integrate.http import sync_client

            self._client = sync_client(self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def send(self, integration: Integration, query: ReadQuery, what: str) -> Any:
        """Send one read-back query; the JSON answer, or APIError/NetworkError."""
        import httpx

        pacer = self.pacers.setdefault(integration.name, Pacer(interval=TARGET_INTERVAL))
        pacer.deadline = self.deadline

        def call() -> httpx.Response:
            return self._http().request(
                query.method,
                query.url,
                params=dict(query.params),
                headers=dict(query.headers),
                json=query.body,
                timeout=pacer.time_left(self.timeout),
            )

        try:
            response = pacer.call(call, what, f"{integration.title}'s API is rate limited.")
        except (httpx.HTTPError, OSError) as exc:
            from bp_integrate.failures import classify

            failure = classify(exc)
            raise NetworkError(
                f"{what}: {integration.title} did not answer ({failure.message}).",
                failure.fix[0].upper() + failure.fix[1:],
            ) from None
        if response.status_code in (401, 403):
            raise APIError(
                f"{what}: {integration.title} refused the read-back credentials "
                f"({response.status_code}).",
                f"Check them: {missing_hint_all(integration, self.profile)}",
                response.status_code,
            )
        if response.status_code >= 400:
            raise APIError(
                f"{what}: {integration.title} answered {response.status_code}.",
                "Try again later; docs/verify.md says what each hop needs.",
                response.status_code,
            )
        try:
            return response.json()
        except ValueError:
            return None

    def records(
        self,
        integration: Integration,
        incident_id: str,
        values: Mapping[str, str],
        creds: Mapping[str, str],
    ) -> list[TargetRecord] | None:
        """What the target holds for the incident (None: it cannot be read back)."""
        query = integration.readback_query(incident_id, values, creds)
        if query is None:
            return None
        answer = self.send(integration, query, f"Reading back {integration.title}")
        return integration.readback_records(answer, creds)

    def terminate(
        self,
        integration: Integration,
        record: TargetRecord,
        values: Mapping[str, str],
        creds: Mapping[str, str],
    ) -> bool:
        """End an open record where the target's API allows it; whether it was sent."""
        query = integration.terminate_query(record, values, creds)
        if query is None:
            return False
        self.send(integration, query, f"Cleaning up at {integration.title}")
        return True


def missing_hint_all(integration: Integration, profile: str | None = None) -> str:
    """Where a refused read-back's credentials come from, to fix them: the profile's
    variables, or the command that stores them again."""
    names = ", ".join(
        readback_env_var(integration, f.name, profile)
        for f in integration.readback_fields
        if not f.default
    )
    again = store_hint(integration, profile)
    return f"{names} (or store them again: {again})" if names else "see docs/verify.md."


# --------------------------------------------------------------- direct sends (--verify)


@dataclass
class ReadBackResult:
    """Whether one step's send landed at one target, and in which state."""

    step: int
    event: str
    integration: str
    status: str  # passed | failed | not_checked
    detail: str
    seconds: float = 0.0
    records: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "event": self.event,
            "integration": self.integration,
            "status": self.status,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
            "records": list(self.records),
        }


def wanted_state(event: str, expected: str | None) -> str | None:
    """The state a target should show after `event` (the scenario's word wins)."""
    from bp_integrate.bigpanda.events import CLOSED, OPENING_EVENTS

    if expected:
        return expected
    if event in OPENING_EVENTS:
        return "open"
    if event == CLOSED:
        return "resolved"
    return None


@dataclass(frozen=True)
class ReadTarget:
    """One target of a run, with its read-back credentials (may be empty)."""

    integration: Integration
    values: Mapping[str, str]
    creds: Mapping[str, str]
    #: The profile the credentials are of (its variables are the ones a hint names).
    profile: str | None = None


class ReadBackWatch:
    """After each step of a run (send-test --verify, replay --verify), finds the send at
    every target that can be read back: it waits (up to `timeout`) for the newest record
    the run made (`judged`) to be in the state the event (or the step's `expect`) asks
    for. Records older than the run (`since`, when the watch is made) are never judged.
    Never sends to the target."""

    def __init__(
        self,
        targets: list[ReadTarget],
        expectation: Any,
        timeout: float = 30.0,
        reader: TargetReader | None = None,
        since: float | None = None,
    ) -> None:
        import time

        self.targets = {t.integration.name: t for t in targets}
        self.expectation = expectation
        self.timeout = timeout
        self.reader = reader or TargetReader()
        self.since = time.time() if since is None else since
        self.results: list[ReadBackResult] = []

    @property
    def failed(self) -> list[ReadBackResult]:
        return [r for r in self.results if r.status == "failed"]

    def check(self, step: int, event: str, incident_id: str, sent_ok: list[str]) -> None:
        """Read back every target the step reached (blocking; run it in a thread)."""
        import time

        for name in sent_ok:
            target = self.targets.get(name)
            if target is None:
                continue
            integration = target.integration
            want = wanted_state(event, self.expectation(step, name))
            started = time.monotonic()
            if integration.readback_query(incident_id, target.values, target.creds) is None:
                hint = missing_hint(integration, target.creds, target.profile)
                detail = "not checked: " + (hint or f"{integration.title} has no read API")
                self.results.append(ReadBackResult(step, event, name, "not_checked", detail))
                continue
            records: list[TargetRecord] = []
            chosen: TargetRecord | None = None
            error: str | None = None
            deadline = started + self.timeout
            while True:
                try:
                    records = (
                        self.reader.records(integration, incident_id, target.values, target.creds)
                        or []
                    )
                except BPError as exc:
                    error = exc.message
                    break
                chosen = judged(records, self.since)
                if chosen is not None and (want is None or in_state(chosen, want)):
                    break
                if time.monotonic() + 0.5 > deadline:
                    break
                time.sleep(0.5)
            shown = [
                {
                    "id": r.id,
                    "state": r.state,
                    "status": r.status,
                    "judged": "yes" if r is chosen else "no",
                }
                for r in records
            ]
            seconds = time.monotonic() - started
            seen = describe(records, chosen)
            if error is not None:
                status, detail = "failed", error
            elif chosen is None:
                status = "failed"
                detail = f"{integration.title} shows {seen} for {incident_id}"
            elif want is not None and not in_state(chosen, want):
                status, detail = "failed", f"expected {want}, {integration.title} shows {seen}"
            else:
                status, detail = "passed", f"landed: {seen}"
            self.results.append(ReadBackResult(step, event, name, status, detail, seconds, shown))


def readback_consumer(watch: ReadBackWatch) -> Any:
    """A run-engine consumer that reads each (non-cleanup) step back through `watch`."""
    import asyncio

    from bp_integrate.engine.consumer import Consumer, StepReport

    class ReadBackConsumer(Consumer):
        awaits_steps = True

        async def after_step(self, report: StepReport) -> None:
            if report.cleanup:
                return
            sent = [r.integration for r in report.results if r.ok]
            await asyncio.to_thread(
                watch.check, report.index, report.event, report.incident_id, sent
            )

    return ReadBackConsumer()
