"""`verify`: a canary alert through real BigPanda, read back hop by hop.

This module owns the chain and its report: the settings verify needs (the profile's
User API key, org token, canary app key and environment id: `VerifySettings`),
the canary (a unique host `bp-integrate-canary-<id>`, tagged `bp_integrate_canary`),
each hop with its verdict (passed, failed, not checked) and time (`Hop`), and the
clean-up that runs whatever happens (the canary resolved; an event still open at a
target ended where its API allows). It takes plain values and returns a
`VerifyReport`; the command renders it. BigPanda calls go through
`bigpanda.api.BigPandaClient`, target reads through `readback.TargetReader`.
"""

from __future__ import annotations

import secrets as pysecrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bp_integrate.errors import BPError, ConfigError, ExitCode, SecretsError, command_for
from bp_integrate.readback import ReadTarget

if TYPE_CHECKING:
    from bp_integrate.bigpanda.api import BigPandaClient
    from bp_integrate.integrations.base import Integration, TargetRecord
    from bp_integrate.readback import TargetReader

CANARY_TAG = "bp_integrate_canary"
CANARY_CHECK = "bp-integrate-canary"
ORG_TOKEN_FIELD = "org_token"
API_KEY_FIELD = "api_key"
#: Per hop, seconds: AutoShare can take minutes to share a new incident.
DEFAULT_TIMEOUTS: dict[str, float] = {
    "incident": 120.0,
    "shared": 300.0,
    "landed": 180.0,
    "closed": 300.0,
    "resolved": 180.0,
}
HopStatus = Literal["passed", "failed", "not_checked"]
MARKS = {"passed": "✓", "failed": "✗", "not_checked": "-"}


@dataclass(frozen=True)
class VerifySettings:
    """What verify needs from the profile (secrets real; never shown)."""

    api_url: str
    user_key: str
    org_token: str
    app_key: str
    environment_id: str


def load_settings(
    profile: str,
    bigpanda: Mapping[str, Any],
    app_key: str | None = None,
    environment_id: str | None = None,
) -> VerifySettings:
    """The settings verify needs, or the first missing one as an error naming the fix."""
    from bp_integrate.config import REGIONS
    from bp_integrate.secrets import STORE_KINDS, env_var, lookup, open_store

    kind = str(bigpanda.get("api_key_store") or "keyring")
    store = open_store(kind if kind in STORE_KINDS else "keyring")

    def secret(field_name: str, what: str, flag: str) -> str:
        # The User API key lives where `profile set` put it; the org token in the keyring.
        where = store if field_name == API_KEY_FIELD else open_store("keyring")
        try:
            value = lookup(where, profile, "bigpanda", field_name)
        except SecretsError:
            value = None
        if not value:
            raise SecretsError(
                f"No BigPanda {what} for profile {profile!r}: verify needs it.",
                f"Store it: {command_for(profile, f'profile set {flag}')} (piped), or set "
                f"{env_var('bigpanda', field_name)}. See docs/verify.md.",
            )
        return value

    user_key = secret(API_KEY_FIELD, "User API key", "--api-key-stdin")
    org_token = secret(ORG_TOKEN_FIELD, "org token", "--org-token-stdin")
    app = app_key or str(bigpanda.get("canary_app_key") or "")
    if not app:
        raise ConfigError(
            f"No canary app key for profile {profile!r}: verify sends its canary through an "
            "Alerts REST API integration.",
            "In BigPanda: Integrations -> New Integration -> Alerts REST API -> create an App "
            f"Key; then {command_for(profile, 'profile set --canary-app-key KEY')} "
            "(or verify --app-key KEY).",
        )
    env = environment_id or str(bigpanda.get("environment_id") or "")
    if not env:
        raise ConfigError(
            f"No BigPanda environment for profile {profile!r}: verify searches it for the "
            "canary's incident.",
            f"{command_for(profile, 'profile set --environment ID')} (or verify --environment "
            "ID); verify --list-environments shows the ids your key sees.",
        )
    api_url = str(bigpanda.get("api_url") or REGIONS["us"])
    return VerifySettings(api_url, user_key, org_token, app, env)


@dataclass
class Hop:
    """One link of the chain, as verified."""

    name: str
    title: str
    status: HopStatus
    seconds: float
    detail: str
    integration: str | None = None
    hint: str | None = None
    code: ExitCode = ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "hop": self.name,
            "title": self.title,
            "integration": self.integration,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
            "hint": self.hint,
        }


@dataclass
class VerifyReport:
    """Every hop, in order, and what clean-up did."""

    canary_host: str
    environment_id: str
    incident_id: str | None = None
    hops: list[Hop] = field(default_factory=list)
    cleanup: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(h.status != "failed" for h in self.hops)

    @property
    def exit_code(self) -> ExitCode:
        if self.interrupted:
            return ExitCode.INTERRUPTED
        failed = [h for h in self.hops if h.status == "failed"]
        return failed[0].code if failed else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "canary_host": self.canary_host,
            "environment_id": self.environment_id,
            "incident_id": self.incident_id,
            "hops": [h.to_json() for h in self.hops],
            "cleanup": list(self.cleanup),
            "interrupted": self.interrupted,
        }


class HopFailed(Exception):
    """A hop did not happen in time (not an API error: BigPanda or the target was silent)."""

    def __init__(self, detail: str, hint: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint


def autoshare_rule_hint(integration: Integration, environment_id: str, env_name: str) -> str:
    """The one manual step, said exactly."""
    return (
        f"Create the AutoShare rule in BigPanda: Settings -> AutoShare -> New rule; "
        f"Environment: {env_name} ({environment_id}); Share with: {integration.title}. "
        f"So it never shares a real incident, make {env_name} a canary-only environment "
        f"(Settings -> Environments: condition `{CANARY_TAG} = true`). AutoShare shares "
        "only new incidents: run verify again once the rule exists."
    )


class Verifier:
    """Runs the chain once for every target, one canary for all of them."""

    def __init__(
        self,
        settings: VerifySettings,
        targets: Sequence[ReadTarget],
        bigpanda: BigPandaClient,
        reader: TargetReader,
        timeouts: Mapping[str, float] | None = None,
        on_wait: Callable[[str], None] | None = None,
        on_hop: Callable[[Hop], None] | None = None,
        canary_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.targets = list(targets)
        self.bp = bigpanda
        self.reader = reader
        self.timeouts = {**DEFAULT_TIMEOUTS, **(timeouts or {})}
        self.on_wait = on_wait or (lambda text: None)
        self.on_hop = on_hop or (lambda hop: None)
        self.canary_id = canary_id or pysecrets.token_hex(4)
        self.report = VerifyReport(self.canary_host, settings.environment_id)
        self._canary_open = False
        self._env_name = settings.environment_id

    @property
    def canary_host(self) -> str:
        return f"bp-integrate-canary-{self.canary_id}"

    # -- plumbing ------------------------------------------------------------------
    def _hop(
        self,
        name: str,
        title: str,
        status: HopStatus,
        started: float,
        detail: str,
        target: ReadTarget | None = None,
        hint: str | None = None,
        code: ExitCode = ExitCode.OK,
    ) -> Hop:
        hop = Hop(
            name,
            title,
            status,
            time.monotonic() - started,
            detail,
            target.integration.name if target else None,
            hint,
            code,
        )
        self.report.hops.append(hop)
        self.on_hop(hop)
        return hop

    def _poll(self, key: str, what: str, check: Callable[[], Any]) -> Any:
        """`check()` until it returns something truthy, or HopFailed after the hop's
        timeout. Polls at most every 5 s, at least every timeout/20."""
        timeout = self.timeouts[key]
        interval = min(5.0, max(0.2, timeout / 20))
        deadline = time.monotonic() + timeout
        self.on_wait(what)
        while True:
            found = check()
            if found:
                return found
            if time.monotonic() + interval > deadline:
                raise HopFailed(f"{what}: nothing after {timeout:g} s", "")
            time.sleep(interval)

    def _alert(self, status: str) -> int:
        return self.bp.send_alert(
            {
                "app_key": self.settings.app_key,
                "status": status,
                "host": self.canary_host,
                "check": CANARY_CHECK,
                "description": "bp-integrate verify canary: a test alert that resolves itself",
                CANARY_TAG: "true",
                "bp_integrate_test": "true",
            }
        )

    # -- the chain -------------------------------------------------------------------
    def preflight(self) -> None:
        """The key works in this region and sees the environment (raises otherwise)."""
        environments = self.bp.environments()
        names = {str(e.get("id")): str(e.get("name") or e.get("id")) for e in environments}
        if self.settings.environment_id not in names:
            shown = ", ".join(f"{i} ({n})" for i, n in names.items()) or "none"
            raise ConfigError(
                f"The BigPanda environment {self.settings.environment_id} is not one the key "
                f"sees (it sees: {shown}).",
                "Set the right id: bp-integrate profile set --environment ID.",
            )
        self._env_name = names[self.settings.environment_id]

    def run(self) -> VerifyReport:
        started = time.monotonic()
        self.preflight()
        self._hop(
            "preflight",
            "BigPanda key, region and environment",
            "passed",
            started,
            f"environment {self._env_name} ({self.settings.environment_id}) found",
        )
        try:
            self._chain()
        except KeyboardInterrupt:
            self.report.interrupted = True
            self._cleanup()
            raise
        self._cleanup()
        return self.report

    def _step(
        self, name: str, title: str, target: ReadTarget | None, body: Callable[[], str]
    ) -> bool:
        started = time.monotonic()
        try:
            detail = body()
        except HopFailed as exc:
            self._hop(name, title, "failed", started, exc.detail, target, exc.hint, ExitCode.ERROR)
            return False
        except BPError as exc:
            self._hop(name, title, "failed", started, exc.message, target, exc.hint, exc.code)
            return False
        self._hop(name, title, "passed", started, detail, target)
        return True

    def _skip_rest(self, names: Sequence[tuple[str, str, ReadTarget | None]], why: str) -> None:
        for name, title, target in names:
            self._hop(name, title, "not_checked", time.monotonic(), why, target)

    def _chain(self) -> None:
        def send() -> str:
            status = self._alert("critical")
            self._canary_open = True
            return f"canary alert on host {self.canary_host} accepted ({status})"

        later = [
            ("incident", "BigPanda made an incident", None),
            ("closed", "BigPanda closed it", None),
        ]
        if not self._step("alert", "Canary alert sent (Alerts API)", None, send):
            self._skip_rest(later, "not checked: the canary was not sent")
            return
        incident: dict[str, Any] = {}

        def find() -> str:
            query = f'host = "{self.canary_host}"'
            found = self._poll(
                "incident",
                f"waiting for BigPanda to make an incident of {self.canary_host}",
                lambda: self.bp.search(self.settings.environment_id, query),
            )
            incident.update(found[0])
            self.report.incident_id = str(incident.get("id"))
            return f"incident {self.report.incident_id}"

        if not self._step("incident", "BigPanda made an incident", None, find):
            hop = self.report.hops[-1]
            if hop.code == ExitCode.ERROR:
                hop.hint = (
                    "Check that the canary app key belongs to an Alerts REST API integration "
                    f"and that environment {self._env_name} includes the canary (its "
                    f"condition must match host {self.canary_host} or tag {CANARY_TAG})."
                )
            self._skip_rest([("closed", "BigPanda closed it", None)], "not checked: no incident")
            return
        incident_id = str(incident.get("id"))
        shared = self._shares(incident_id)
        opened: dict[str, list[TargetRecord]] = {}
        for target in self.targets:
            self._landed(target, incident_id, shared, opened)
        self._close(incident_id, shared, opened)

    def _shares(self, incident_id: str) -> set[str]:
        """Wait for an incident_shared activity for every target; the names shared."""
        shared: set[str] = set()
        wanted = {t.integration.name for t in self.targets}
        started = time.monotonic()

        def seen() -> bool:
            for activity in self.bp.activities(incident_id, "incident_shared"):
                shared.update(self._shared_to(activity))
            return wanted <= shared

        error: BPError | None = None
        try:
            self._poll("shared", f"waiting for BigPanda to share incident {incident_id}", seen)
        except HopFailed:
            pass
        except BPError as exc:
            error = exc
        for target in self.targets:
            title = f"BigPanda shared it with {target.integration.title}"
            if target.integration.name in shared:
                self._hop(
                    "shared", title, "passed", started, "incident_shared activity seen", target
                )
            elif error is not None:
                self._hop(
                    "shared",
                    title,
                    "failed",
                    started,
                    error.message,
                    target,
                    error.hint,
                    error.code,
                )
            else:
                self._hop(
                    "shared",
                    title,
                    "failed",
                    started,
                    f"no incident_shared activity after {self.timeouts['shared']:g} s",
                    target,
                    autoshare_rule_hint(
                        target.integration, self.settings.environment_id, self._env_name
                    ),
                    ExitCode.ERROR,
                )
        return shared

    def _shared_to(self, activity: Mapping[str, Any]) -> set[str]:
        """The targets an incident_shared activity names (all, when it names none we know)."""
        text = repr(activity.get("data", activity)).lower()
        named = {
            t.integration.name
            for t in self.targets
            if t.integration.name in text or t.integration.title.lower() in text
        }
        return named or {t.integration.name for t in self.targets}

    def _read(self, target: ReadTarget, incident_id: str) -> list[TargetRecord] | None:
        return self.reader.records(target.integration, incident_id, target.values, target.creds)

    def _landed(
        self,
        target: ReadTarget,
        incident_id: str,
        shared: set[str],
        opened: dict[str, list[TargetRecord]],
    ) -> None:
        from bp_integrate.readback import missing_hint

        title = f"{target.integration.title} received it"
        missing = missing_hint(target.integration, target.creds)
        if target.integration.readback_query(incident_id, target.values, target.creds) is None:
            detail = "not checked: " + (missing or f"{target.integration.title} has no read API")
            self._hop("landed", title, "not_checked", time.monotonic(), detail, target)
            return
        if target.integration.name not in shared:
            self._hop(
                "landed", title, "not_checked", time.monotonic(), "not checked: not shared", target
            )
            return

        def found() -> str:
            records = self._poll(
                "landed",
                f"waiting for {target.integration.title} to show incident {incident_id}",
                lambda: self._read(target, incident_id),
            )
            opened[target.integration.name] = records
            states = ", ".join(f"{r.id} {r.status}" for r in records)
            return f"found: {states}"

        if not self._step("landed", title, target, found):
            hop = self.report.hops[-1]
            if hop.code == ExitCode.ERROR:
                hop.hint = (
                    f"BigPanda shared it but {target.integration.title} shows nothing: check the "
                    f"integration's settings there (bp-integrate show {target.integration.name}) "
                    "and that the target accepted the share (a 202 can still drop an event)."
                )

    def _close(
        self, incident_id: str, shared: set[str], opened: dict[str, list[TargetRecord]]
    ) -> None:
        def resolve() -> str:
            status = self._alert("ok")
            self._canary_open = False
            incident = self._poll(
                "closed",
                f"waiting for BigPanda to close incident {incident_id}",
                lambda: self._closed(incident_id),
            )
            return f"incident {incident_id} is {incident.get('status', 'closed')} (alert {status})"

        if not self._step("closed", "Canary resolved; BigPanda closed the incident", None, resolve):
            for target in self.targets:
                if target.integration.name in opened:
                    self._hop(
                        "resolved",
                        f"{target.integration.title} resolved it",
                        "not_checked",
                        time.monotonic(),
                        "not checked: BigPanda did not close the incident",
                        target,
                    )
            return
        for target in self.targets:
            title = f"{target.integration.title} resolved it"
            if target.integration.name not in opened:
                continue

            def resolved(target: ReadTarget = target) -> str:
                records = self._poll(
                    "resolved",
                    f"waiting for {target.integration.title} to resolve incident {incident_id}",
                    lambda: [
                        r for r in self._read(target, incident_id) or [] if r.state == "resolved"
                    ],
                )
                opened.pop(target.integration.name, None)
                return "resolved: " + ", ".join(f"{r.id} {r.status}" for r in records)

            if not self._step("resolved", title, target, resolved):
                hop = self.report.hops[-1]
                if hop.code == ExitCode.ERROR:
                    hop.hint = (
                        f"BigPanda closed the incident but {target.integration.title} still has it "
                        "open: check that the integration takes BigPanda's close (AutoShare shares "
                        "status changes of a shared incident)."
                    )

    def _closed(self, incident_id: str) -> dict[str, Any] | None:
        incident = self.bp.incident(self.settings.environment_id, incident_id)
        active = incident.get("active")
        return incident if active is False or incident.get("status") == "ok" else None

    def _cleanup(self) -> None:
        """Leave nothing open: the canary resolved, open target records ended."""
        if self._canary_open:
            try:
                self._alert("ok")
                self._canary_open = False
                self.report.cleanup.append(f"canary alert on {self.canary_host} resolved")
            except BPError as exc:
                self.report.cleanup.append(f"could not resolve the canary alert: {exc.message}")
        incident_id = self.report.incident_id
        if incident_id is None:
            return
        for target in self.targets:
            try:
                records = self._read(target, incident_id)
            except BPError:
                continue
            for record in records or []:
                if record.state != "open":
                    continue
                try:
                    if self.reader.terminate(
                        target.integration, record, target.values, target.creds
                    ):
                        self.report.cleanup.append(
                            f"{target.integration.title}: {record.id} terminated"
                        )
                except BPError as exc:
                    self.report.cleanup.append(
                        f"{target.integration.title}: could not end {record.id}: {exc.message}"
                    )
