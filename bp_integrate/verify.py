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
from bp_integrate.failures import clipped
from bp_integrate.readback import ReadTarget

if TYPE_CHECKING:
    from bp_integrate.bigpanda.api import BigPandaClient
    from bp_integrate.integrations.base import Integration, TargetRecord
    from bp_integrate.readback import TargetReader

CANARY_TAG = "bp_integrate_canary"
CANARY_CHECK = "bp-integrate-canary"
ORG_TOKEN_FIELD = "org_token"
API_KEY_FIELD = "api_key"
#: The App Key canaries are sent with: a secret (`<profile>/bigpanda/canary_app_key`).
CANARY_APP_KEY_FIELD = "canary_app_key"
#: Per hop, seconds: AutoShare can take minutes to share a new incident.
DEFAULT_TIMEOUTS: dict[str, float] = {
    "incident": 120.0,
    "shared": 300.0,
    "landed": 180.0,
    "closed": 300.0,
    "resolved": 180.0,
    #: How long the maintenance step watches that nothing is shared.
    "maintenance": 60.0,
}
#: Seconds clean-up may take in all (resolving canaries, removing plans, ending records),
#: retries and back-off included: whatever ended verify, it ends.
CLEANUP_SECONDS = 60.0
#: Tries to resolve one canary alert before clean-up names it to close by hand.
CLEANUP_TRIES = 3
#: What an answer that is not what the vendor documents raises while it is read.
MALFORMED = (ValueError, TypeError, AttributeError, KeyError, IndexError)
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
    #: Integration -> its name in BigPanda, where `params.share_target` cannot tell
    #: (two integrations of one system, e.g. incident.io and a webhook: `webhook.NAME`).
    share_names: Mapping[str, str] = field(default_factory=dict)
    #: The profile they are of: the commands a hint names act on it (`command_for`).
    profile: str | None = None


def load_settings(
    profile: str,
    bigpanda: Mapping[str, Any],
    app_key: str | None = None,
    environment_id: str | None = None,
) -> VerifySettings:
    """The settings verify needs; when some are missing, one error naming every one of
    them with the command that sets it (a secret missing: exit 4, else 3)."""
    from bp_integrate.config import REGIONS
    from bp_integrate.secrets import as_store_kind, env_var, find_available

    kind = str(bigpanda.get("api_key_store") or "keyring")
    # Where `profile set` / `verify-setup` kept the org token, canary App Key and
    # read-back credentials (`--secret-store`); the keyring before that was a choice.
    verify_kind = str(bigpanda.get("verify_store") or "keyring")
    missing: list[str] = []

    def stored(field_name: str) -> str | None:
        chosen = kind if field_name == API_KEY_FIELD else verify_kind
        found = find_available(as_store_kind(chosen), profile, "bigpanda", field_name)
        return found.value if found else None

    def secret(field_name: str, what: str, flag: str) -> str:
        value = stored(field_name)
        if not value:
            missing.append(
                f"the BigPanda {what}: {command_for(profile, f'profile set {flag}')} (piped), "
                f"or set {env_var('bigpanda', field_name, profile)}"
            )
        return value or ""

    user_key = secret(API_KEY_FIELD, "User API key", "--api-key-stdin")
    org_token = secret(ORG_TOKEN_FIELD, "org token", "--org-token-stdin")
    # The canary App Key: --app-key, else the store, else a config file written before
    # it became a secret (`canary_app_key` in the YAML).
    secrets_missing = bool(missing)
    app = app_key or stored(CANARY_APP_KEY_FIELD) or str(bigpanda.get("canary_app_key") or "")
    if not app:
        missing.append(
            "the canary app key (the App Key of an Alerts REST API integration: BigPanda -> "
            "Integrations -> New Integration -> Alerts REST API): "
            f"{command_for(profile, 'profile set --canary-app-key-stdin')} (piped), "
            f"or set {env_var('bigpanda', CANARY_APP_KEY_FIELD, profile)}"
        )
    env = environment_id or str(bigpanda.get("environment_id") or "")
    if not env:
        missing.append(
            "a canary-only BigPanda environment: "
            f"{command_for(profile, 'verify-setup')} creates one; or "
            f"{command_for(profile, 'profile set --environment ID')} (or verify --environment ID)"
        )
    if missing:
        error = SecretsError if secrets_missing else ConfigError
        listed = "\n".join(f"  - {item}" for item in missing)
        raise error(
            f"verify needs {len(missing)} more setting{'s' if len(missing) > 1 else ''} "
            f"for profile {profile!r}:\n{listed}",
            f"Set them all in one sitting: {command_for(profile, 'verify-setup')}. "
            "See docs/verify.md.",
        )
    api_url = str(bigpanda.get("api_url") or REGIONS["us"])
    raw = bigpanda.get("share_names")
    names = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}
    return VerifySettings(api_url, user_key, org_token, app, env, names, profile)


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


def canary_filter() -> str:
    """The BPQL condition of a canary-only environment or maintenance plan: it matches
    the canary's tag and nothing a real monitoring tool sends."""
    return f'{CANARY_TAG} = "true"'


def autoshare_rule_hint(
    integration: Integration, environment_id: str, env_name: str, profile: str | None = None
) -> str:
    """The one manual step, said exactly. It never proposes changing an environment that
    exists: verify's environment is one of its own, matching only the canary."""
    return (
        f"Create the AutoShare rule in BigPanda: Settings -> AutoShare -> New rule; "
        f"Environment: {env_name} ({environment_id}); Share with: {integration.title}. "
        f"The environment must match only the canary ({canary_filter()}): "
        f"`{command_for(profile, 'verify-setup')}` creates such an environment; never change the "
        "condition of an environment real incidents use. AutoShare shares only new "
        "incidents: run verify again once the rule exists."
    )


def share_target_of(activity: Mapping[str, Any]) -> str | None:
    """`params.share_target` of an `incident_shared` activity (`webhook.whtest`), as
    BigPanda's Activities reference documents it; None when it names none."""
    params = activity.get("params")
    target = params.get("share_target") if isinstance(params, Mapping) else None
    return target if isinstance(target, str) and target else None


def shared_targets(
    share_target: str, targets: Sequence[ReadTarget], names: Mapping[str, str] | None = None
) -> set[str]:
    """The targets one share names: `<system>.<name>` where `system` is the
    integration's `share_system` and `name` its name in BigPanda (`names`, set by
    `verify-setup --bigpanda-name`, else the integration's own name). When the name
    matches none, the one target of that system is meant; with several, the share is
    unknown (empty), never counted for every target."""
    system, _, name = share_target.partition(".")
    same = [t for t in targets if t.integration.share_system == system]
    named = [
        t
        for t in same
        if name and name in ((names or {}).get(t.integration.name), t.integration.name)
    ]
    chosen = named or (same if len(same) == 1 else [])
    return {t.integration.name for t in chosen}


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
        maintenance: bool = False,
    ) -> None:
        self.settings = settings
        self.targets = list(targets)
        self.bp = bigpanda
        self.reader = reader
        self.timeouts = {**DEFAULT_TIMEOUTS, **(timeouts or {})}
        self.on_wait = on_wait or (lambda text: None)
        self.on_hop = on_hop or (lambda hop: None)
        self.canary_id = canary_id or pysecrets.token_hex(4)
        self.maintenance = maintenance
        self.report = VerifyReport(self.canary_host, settings.environment_id)
        #: Canary hosts whose alert may be open at BigPanda (set before the POST: an
        #: alert BigPanda took while the answer was lost is still resolved).
        self._open_hosts: list[str] = []
        self._plans: list[str] = []
        self._env_name = settings.environment_id
        #: Wall-clock time just before the first canary: read-back judges only what the
        #: targets made from then on (`readback.judged`).
        self._since = time.time()
        self._unknown_shares: set[str] = set()

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

    def _bound(self, deadline: float | None) -> None:
        """Every BigPanda and target call (and its 429 back-off) ends by `deadline`."""
        self.bp.pacer.deadline = deadline
        self.reader.deadline = deadline

    def _poll(self, key: str, what: str, check: Callable[[], Any]) -> Any:
        """`check()` until it returns something truthy, or HopFailed after the hop's
        timeout. Polls at most every 5 s, at least every timeout/20; no call or back-off
        outlives the timeout."""
        timeout = self.timeouts[key]
        interval = min(5.0, max(0.2, timeout / 20))
        deadline = time.monotonic() + timeout
        self._bound(deadline)
        self.on_wait(what)
        while True:
            found = check()
            if found:
                return found
            if time.monotonic() + interval > deadline:
                raise HopFailed(f"{what}: nothing after {timeout:g} s", "")
            time.sleep(interval)

    def _alert(self, status: str, host: str | None = None) -> int:
        host = host or self.canary_host
        if status != "ok" and host not in self._open_hosts:
            self._open_hosts.append(host)
        code = self.bp.send_alert(
            {
                "app_key": self.settings.app_key,
                "status": status,
                "host": host,
                "check": CANARY_CHECK,
                "description": "bp-integrate verify canary: a test alert that resolves itself",
                CANARY_TAG: "true",
                "bp_integrate_test": "true",
            }
        )
        if status == "ok" and host in self._open_hosts:
            self._open_hosts.remove(host)
        return code

    # -- the chain -------------------------------------------------------------------
    def preflight(self) -> None:
        """The key works in this region and sees the environment (raises otherwise)."""
        environments = self.bp.environments()
        names = {str(e.get("id")): str(e.get("name") or e.get("id")) for e in environments}
        if self.settings.environment_id not in names:
            shown = ", ".join(f"{i} ({n})" for i, n in names.items()) or "none"
            profile = self.settings.profile
            raise ConfigError(
                f"The BigPanda environment {self.settings.environment_id} is not one the key "
                f"sees (it sees: {shown}).",
                f"Set the right id: {command_for(profile, 'profile set --environment ID')}, "
                f"or let {command_for(profile, 'verify-setup')} create a canary-only "
                "environment.",
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
            self._since = time.time()
            self._chain()
            if self.maintenance:
                self._maintenance()
        except KeyboardInterrupt:
            self.report.interrupted = True
            self._cleanup()
            raise
        finally:
            if not self.report.interrupted:
                self._cleanup()
        return self.report

    def _step(
        self, name: str, title: str, target: ReadTarget | None, body: Callable[[], str]
    ) -> bool:
        started = time.monotonic()
        self._bound(started + self.timeouts.get(name, self.timeouts["incident"]))
        try:
            detail = body()
        except HopFailed as exc:
            self._hop(name, title, "failed", started, exc.detail, target, exc.hint, ExitCode.ERROR)
            return False
        except BPError as exc:
            self._hop(name, title, "failed", started, exc.message, target, exc.hint, exc.code)
            return False
        except MALFORMED as exc:  # an answer not as its API documents it: this hop fails
            said = clipped(f"{type(exc).__name__}: {exc}")
            self._hop(
                name,
                title,
                "failed",
                started,
                f"an answer was not what the API documents ({said})",
                target,
                "BigPanda or the target answered in a shape bp-integrate cannot read; run "
                "again, and if it repeats, report the answer (bp-integrate verify --json).",
                ExitCode.REJECTED,
            )
            return False
        finally:
            self._bound(None)
        self._hop(name, title, "passed", started, detail, target)
        return True

    def _skip_rest(self, names: Sequence[tuple[str, str, ReadTarget | None]], why: str) -> None:
        for name, title, target in names:
            self._hop(name, title, "not_checked", time.monotonic(), why, target)

    def _find_incident(self, host: str, key: str = "incident") -> dict[str, Any]:
        query = f'host = "{host}"'
        found = self._poll(
            key,
            f"waiting for BigPanda to make an incident of {host}",
            lambda: self.bp.search(self.settings.environment_id, query),
        )
        return dict(found[0])

    def _chain(self) -> None:
        def send() -> str:
            status = self._alert("critical")
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
            incident.update(self._find_incident(self.canary_host))
            self.report.incident_id = str(incident.get("id"))
            return f"incident {self.report.incident_id}"

        if not self._step("incident", "BigPanda made an incident", None, find):
            hop = self.report.hops[-1]
            if hop.code == ExitCode.ERROR:
                hop.hint = (
                    "Check that the canary app key belongs to an Alerts REST API integration "
                    f"and that environment {self._env_name} includes the canary (its "
                    f"condition must match the canary: {canary_filter()})."
                )
            self._skip_rest([("closed", "BigPanda closed it", None)], "not checked: no incident")
            return
        incident_id = str(incident.get("id"))
        shared = self._shares(incident_id)
        opened: dict[str, TargetRecord] = {}
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
                named = share_target_of(activity)
                found = (
                    shared_targets(named, self.targets, self.settings.share_names)
                    if named
                    else set()
                )
                if found:
                    shared.update(found)
                else:
                    self._unknown_shares.add(named or "(no share_target)")
            return wanted <= shared

        error: BPError | None = None
        try:
            self._poll("shared", f"waiting for BigPanda to share incident {incident_id}", seen)
        except HopFailed:
            pass
        except BPError as exc:
            error = exc
        unknown = ", ".join(sorted(self._unknown_shares))
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
                detail = f"no incident_shared activity for it after {self.timeouts['shared']:g} s"
                hint = autoshare_rule_hint(
                    target.integration,
                    self.settings.environment_id,
                    self._env_name,
                    self.settings.profile,
                )
                if unknown:
                    detail += f" (BigPanda shared it with {unknown}, which names no target here)"
                    hint = (
                        f"If one of {unknown} is {target.integration.title}, record its "
                        "BigPanda name: "
                        + command_for(
                            self.settings.profile,
                            f"verify-setup --bigpanda-name {target.integration.name}=NAME",
                        )
                        + f". Otherwise: {hint}"
                    )
                self._hop("shared", title, "failed", started, detail, target, hint, ExitCode.ERROR)
        return shared

    def _read(self, target: ReadTarget, incident_id: str) -> list[TargetRecord]:
        return (
            self.reader.records(target.integration, incident_id, target.values, target.creds) or []
        )

    def _newest(self, target: ReadTarget, incident_id: str) -> TargetRecord | None:
        """The record the canary made at the target (the newest since the canary)."""
        from bp_integrate.readback import judged

        return judged(self._read(target, incident_id), self._since)

    def _landed(
        self,
        target: ReadTarget,
        incident_id: str,
        shared: set[str],
        opened: dict[str, TargetRecord],
    ) -> None:
        from bp_integrate.readback import missing_hint

        title = f"{target.integration.title} received it"
        missing = missing_hint(target.integration, target.creds, target.profile)
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
            def open_record() -> TargetRecord | None:
                record = self._newest(target, incident_id)
                return record if record is not None and record.state == "open" else None

            record = self._poll(
                "landed",
                f"waiting for {target.integration.title} to show incident {incident_id}",
                open_record,
            )
            opened[target.integration.name] = record
            return f"found: {record.id} {record.status}"

        if not self._step("landed", title, target, found):
            hop = self.report.hops[-1]
            if hop.code == ExitCode.ERROR:
                hop.hint = (
                    f"BigPanda shared it but {target.integration.title} shows nothing open "
                    f"made since the canary: check the integration's settings there "
                    f"({command_for(self.settings.profile, f'show {target.integration.name}')}) "
                    "and that the target "
                    "accepted the share (a 202 can still drop an event)."
                )

    def _close(self, incident_id: str, shared: set[str], opened: dict[str, TargetRecord]) -> None:
        def resolve() -> str:
            status = self._alert("ok")
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
                # Judged on the newest record the canary made, never on any resolved one:
                # a stale resolved record beside an open one is not a resolve.
                def newest_resolved() -> TargetRecord | None:
                    record = self._newest(target, incident_id)
                    return record if record is not None and record.state == "resolved" else None

                record = self._poll(
                    "resolved",
                    f"waiting for {target.integration.title} to resolve incident {incident_id}",
                    newest_resolved,
                )
                opened.pop(target.integration.name, None)
                return f"resolved: {record.id} {record.status}"

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
        status = str(incident.get("status", "")).lower()
        return incident if active is False or status == "ok" else None

    # -- the negative proof ----------------------------------------------------------
    def _maintenance(self) -> None:
        """A maintenance plan matching only a second canary suppresses its share.

        Judged only when this run proved that a canary in this environment is shared
        (every `shared` hop passed): otherwise silence proves nothing. The plan is
        removed and the canary resolved whatever happens (`_cleanup`)."""
        title = "Maintenance plan kept the canary from the targets"
        if not self.targets or any(
            h.status != "passed" for h in self.report.hops if h.name == "shared"
        ):
            self._hop(
                "maintenance",
                title,
                "not_checked",
                time.monotonic(),
                "not checked: this run did not prove that a canary is shared, so silence "
                "under maintenance would prove nothing",
            )
            return
        host = f"{self.canary_host}-maintenance"

        def suppressed() -> str:
            now = int(time.time())
            window = int(self.timeouts["maintenance"])
            plan = self.bp.create_maintenance_plan(
                f"bp-integrate verify {self.canary_id}",
                f'host = "{host}"',
                now - 60,
                now + window + 600,
                "bp-integrate verify: a maintenance plan matching only its canary; removed "
                "when verify ends.",
            )
            self._plans.append(str(plan.get("id")))
            self._alert("critical", host)
            self.on_wait(f"watching {window} s that nothing shares {host} (maintenance)")
            deadline = time.monotonic() + window
            incident_id: str | None = None
            while True:
                if incident_id is None:
                    found = self.bp.search(self.settings.environment_id, f'host = "{host}"')
                    incident_id = str(found[0].get("id")) if found else None
                if incident_id is not None:
                    shares = self.bp.activities(incident_id, "incident_shared")
                    if shares:
                        names = ", ".join(share_target_of(a) or "?" for a in shares)
                        raise HopFailed(
                            f"BigPanda shared {host}'s incident {incident_id} with {names} "
                            "although a maintenance plan matched it",
                            "Check the plan's condition and window in BigPanda (Settings -> "
                            "Maintenance Plans): an alert it matches must not be shared.",
                        )
                    for target in self.targets:
                        if self._newest(target, incident_id) is not None:
                            raise HopFailed(
                                f"{target.integration.title} shows incident {incident_id} "
                                "although a maintenance plan matched it",
                                "Check the plan's condition and window in BigPanda.",
                            )
                if time.monotonic() + 2 > deadline:
                    break
                time.sleep(min(2.0, max(0.2, window / 20)))
            made = f"incident {incident_id} made, " if incident_id else "no incident made, "
            return f"{made}no share within {window} s"

        self._step("maintenance", title, None, suppressed)

    def _cleanup(self) -> None:
        """Leave nothing open: the canaries resolved, the maintenance plans removed, the
        records the canary made at the targets ended where their API allows; all of it
        within CLEANUP_SECONDS, and what could not be done named with where to do it."""

        self._bound(time.monotonic() + CLEANUP_SECONDS)
        try:
            self._cleanup_bounded()
        finally:
            self._bound(None)

    def _resolve_canary(self, host: str) -> None:
        """Resolve one canary alert, trying again with back-off; named to close by hand
        when it cannot be."""
        error = ""
        for attempt in range(CLEANUP_TRIES):
            try:
                self._alert("ok", host)
                self.report.cleanup.append(f"canary alert on {host} resolved")
                return
            except (BPError, *MALFORMED) as exc:
                error = exc.message if isinstance(exc, BPError) else clipped(str(exc))
            if attempt + 1 < CLEANUP_TRIES:
                time.sleep(min(2.0**attempt, max(0.0, self._cleanup_left())))
        incident = f"incident {self.report.incident_id}, " if self.report.incident_id else ""
        self.report.cleanup.append(
            f"could not resolve the canary alert on {host} after {CLEANUP_TRIES} tries "
            f"({error}). Close it by hand: in BigPanda ({self.settings.api_url}), "
            f'{incident}search host = "{host}" in environment '
            f"{self.settings.environment_id} and resolve it; or send an alert with status ok, "
            f"host {host}, check {CANARY_CHECK} through the same app key."
        )

    def _cleanup_left(self) -> float:
        deadline = self.bp.pacer.deadline
        return CLEANUP_SECONDS if deadline is None else deadline - time.monotonic()

    def _cleanup_bounded(self) -> None:
        from bp_integrate.readback import CLOCK_SKEW

        for host in list(self._open_hosts):
            self._resolve_canary(host)
        for plan_id in list(self._plans):
            try:
                self.bp.delete_maintenance_plan(plan_id)
                self._plans.remove(plan_id)
                self.report.cleanup.append(f"maintenance plan {plan_id} removed")
            except BPError as exc:
                self.report.cleanup.append(
                    f"could not remove maintenance plan {plan_id}: {exc.message} (remove it in "
                    "BigPanda: Settings -> Maintenance Plans)"
                )
        incident_id = self.report.incident_id
        if incident_id is None:
            return
        for target in self.targets:
            try:
                records = self._read(target, incident_id)
            except (BPError, *MALFORMED) as exc:
                said = exc.message if isinstance(exc, BPError) else type(exc).__name__
                self.report.cleanup.append(
                    f"{target.integration.title}: could not read what the canary made there "
                    f"({said}); check incident {incident_id} there by hand"
                )
                continue
            for record in records:
                made = record.created_at is not None and record.created_at >= (
                    self._since - CLOCK_SKEW
                )
                if record.state != "open" or not made:
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
