"""`verify-setup`: everything `verify` needs, in one sitting.

This module owns the order and the checks of that set-up: the region first, the User
API key checked at once against it, the environments listed, a canary-only
environment found or created through BigPanda's Environments API (its filter matches
only the canary's tag, so no real incident is ever in it), the org token and canary
app key, read-back credentials checked against each target's API as they are given,
and, against the built-in emulator only, the AutoShare rules registered (BigPanda has
no API for them: against a real tenant the one manual step is said exactly).

It asks through an `Asker` (the command gives a terminal one or a scripted one for
`--no-input`), acts through `BigPandaClient` and `TargetReader`, and returns a
`SetupResult`; the command renders it. Nothing is written to the settings until every
answer is in and checked: an interrupted set-up leaves the profile as it was (an
environment it created is named in the error, with how to remove it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bp_integrate.errors import BPError, ConfigError, UsageError
from bp_integrate.verify import CANARY_TAG, canary_filter

if TYPE_CHECKING:
    from bp_integrate.bigpanda.api import BigPandaClient
    from bp_integrate.readback import ReadTarget

#: The name of the environment verify-setup creates when asked to.
DEFAULT_ENVIRONMENT_NAME = "bp-integrate canary"
ENVIRONMENT_DESCRIPTION = (
    f"Made by bp-integrate verify-setup: matches only verify's canary alerts (tag "
    f"{CANARY_TAG}), so AutoShare rules on it never share a real incident."
)


class Asker(Protocol):
    """How the set-up gets an answer it has not been given: a terminal prompt, or (under
    --no-input) an error naming the flag that gives it."""

    def text(self, label: str, flag: str, default: str | None = None) -> str: ...

    def secret(self, label: str, flag: str) -> str: ...

    def confirm(self, question: str, flag: str, default: bool = True) -> bool: ...

    def say(self, text: str) -> None: ...


@dataclass
class SetupRequest:
    """What the admin gave on the command line (None: ask, or keep what is set)."""

    profile: str
    api_url: str
    region_given: bool
    api_key: str | None
    api_key_source: str | None
    org_token: str | None
    org_token_source: str | None
    canary_app_key: str | None
    environment_id: str | None
    create_environment: str | None
    share_names: dict[str, str] = field(default_factory=dict)
    register_autoshare: bool | None = None
    readback: bool | None = None
    dry_run: bool = False


@dataclass
class SetupResult:
    """What the set-up decided and did, in order (`steps`), and the settings to save."""

    profile: str
    api_url: str
    environment_id: str
    environment_name: str
    environment_created: bool
    api_key: str
    org_token: str
    canary_app_key: str
    api_key_source: str | None = None
    org_token_source: str | None = None
    readback: dict[str, dict[str, str]] = field(default_factory=dict)
    share_names: dict[str, str] = field(default_factory=dict)
    autoshare_registered: list[str] = field(default_factory=list)
    manual_steps: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "api_url": self.api_url,
            "environment": {
                "id": self.environment_id,
                "name": self.environment_name,
                "created": self.environment_created,
            },
            "readback": sorted(self.readback),
            "share_names": dict(self.share_names),
            "autoshare_registered": list(self.autoshare_registered),
            "manual_steps": list(self.manual_steps),
            "steps": list(self.steps),
            "dry_run": self.dry_run,
        }


def is_canary_environment(environment: Mapping[str, Any]) -> bool:
    """Whether an environment's filter matches only the canary (verify-setup's own, or
    one an admin wrote the same way): quotes and spacing aside, `bp_integrate_canary =
    "true"` and nothing else."""
    text = str(environment.get("filter") or "").replace("'", '"')
    return " ".join(text.split()).lower() == canary_filter().lower()


def is_emulator(api_url: str) -> bool:
    """The API URL is a loopback host answering the emulator's own routes (so the
    AutoShare rules can be registered by program; never a real BigPanda)."""
    from urllib.parse import urlsplit

    import httpx

    from bp_integrate.http import sync_client
    from bp_integrate.urls import is_loopback_host

    if not is_loopback_host(urlsplit(api_url).hostname):
        return False
    try:
        with sync_client(5.0) as client:
            answer = client.get(api_url.rstrip("/") + "/_state")
    except (httpx.HTTPError, OSError):
        return False
    return answer.status_code == 200 and isinstance(_json(answer), dict)


def _json(answer: Any) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def check_readback(target: ReadTarget) -> None:
    """Read the target back once with the credentials just given (a GET that finds
    nothing): a refused key is an error now, not at the first verify."""
    from bp_integrate.readback import TargetReader

    reader = TargetReader(timeout=15.0, profile=target.profile)
    try:
        reader.records(
            target.integration, "bp-integrate-credential-check", target.values, target.creds
        )
    finally:
        reader.close()


class VerifySetup:
    """One guided set-up of a profile for verify (see the module's docstring)."""

    def __init__(
        self,
        request: SetupRequest,
        client_for: Callable[[str, str], BigPandaClient],
        targets: Sequence[ReadTarget],
        asker: Asker,
        stored_readback: Mapping[str, Mapping[str, str]],
    ) -> None:
        self.request = request
        self.client_for = client_for
        self.targets = list(targets)
        self.ask = asker
        self.stored_readback = stored_readback
        self._client: BigPandaClient | None = None
        self._key_source: str | None = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # -- the steps, in order ---------------------------------------------------------
    def run(self) -> SetupResult:
        r = self.request
        api_key = self._api_key()
        environment_id, environment_name, created, steps = self._environment()
        org_token = r.org_token or self.ask.secret(
            "BigPanda org token (Integrations -> any REST integration)", "--org-token-stdin"
        )
        _check_token(org_token, "The org token")
        if r.org_token and r.org_token_source:
            self.ask.say(f"The org token comes from {r.org_token_source}.")
        # A secret like the other keys: asked hidden, kept in the secret store.
        app_key = r.canary_app_key or self.ask.secret(
            "Canary app key (BigPanda: Integrations -> New Integration -> Alerts REST API "
            "-> App Key)",
            "--canary-app-key-stdin",
        )
        _check_token(app_key, "The canary app key")
        result = SetupResult(
            r.profile,
            r.api_url,
            environment_id,
            environment_name,
            created,
            api_key,
            org_token,
            app_key.strip(),
            self._key_source,
            r.org_token_source if r.org_token else None,
            share_names=dict(r.share_names),
            steps=steps,
            dry_run=r.dry_run,
        )
        self._readback(result)
        self._autoshare(result)
        return result

    def _api_key(self) -> str:
        from bp_integrate.bigpanda.api import check_key

        r = self.request
        for attempt in range(3):
            key = r.api_key if attempt == 0 and r.api_key else None
            if key is None:
                key = self.ask.secret(
                    "BigPanda User API key (Settings -> Access Management -> API Keys; a "
                    "service account's key, no expiry)",
                    "--api-key-stdin",
                )
            _check_token(key, "The User API key")
            try:
                count = check_key(r.api_url, key)
            except BPError as exc:
                if r.api_key and attempt == 0 and r.api_key_source:
                    # A key that did not come from a prompt cannot be typed again.
                    raise BPError(
                        f"{exc.message} (the key from {r.api_key_source}; host {r.api_url})",
                        (exc.hint or "") + " A key of the other region answers 401: check "
                        "--region.",
                        exc.code,
                    ) from None
                self.ask.say(f"{exc.message} {exc.hint or ''}")
                if attempt == 2:
                    raise
                continue
            self._key_source = r.api_key_source if key == r.api_key else None
            where = f" (from {self._key_source})" if self._key_source else ""
            self.ask.say(
                f"The User API key{where} works at {r.api_url}: it sees {count} environment(s)."
            )
            self._client = self.client_for(r.api_url, key)
            return key
        raise AssertionError("unreachable")  # pragma: no cover

    def _environment(self) -> tuple[str, str, bool, list[str]]:
        """The canary-only environment: the one named, one that exists, or a new one."""
        assert self._client is not None
        r = self.request
        environments = self._client.environments()
        by_id = {str(e.get("id")): e for e in environments}
        steps: list[str] = []
        if r.environment_id:
            chosen = by_id.get(r.environment_id)
            if chosen is None:
                shown = ", ".join(f"{i} ({e.get('name')})" for i, e in by_id.items()) or "none"
                raise ConfigError(
                    f"The key sees no environment {r.environment_id} (it sees: {shown}).",
                    "Give one of those ids, or --create-environment NAME to make a "
                    "canary-only one.",
                )
            if not is_canary_environment(chosen):
                raise ConfigError(
                    f"Environment {chosen.get('name')} ({r.environment_id}) does not match only "
                    f"the canary (its filter: {chosen.get('filter') or 'none'}).",
                    "verify's AutoShare rules would share real incidents of it. Use "
                    "--create-environment NAME: a new environment whose filter is "
                    f"{canary_filter()}. Never change the filter of one in use.",
                )
            return r.environment_id, str(chosen.get("name") or r.environment_id), False, steps
        existing = [e for e in environments if is_canary_environment(e)]
        self.ask.say(
            "Environments the key sees: "
            + (", ".join(f"{e.get('name')} ({e.get('id')})" for e in environments) or "none")
        )
        if existing and not r.create_environment:
            found = existing[0]
            steps.append(
                f"uses the canary-only environment {found.get('name')} ({found.get('id')})"
            )
            return str(found.get("id")), str(found.get("name")), False, steps
        name = r.create_environment or DEFAULT_ENVIRONMENT_NAME
        question = (
            f"Create the BigPanda environment {name!r} (filter: {canary_filter()}), which "
            "holds only verify's canaries?"
        )
        if r.create_environment is None and not self.ask.confirm(
            question, "--create-environment NAME"
        ):
            raise UsageError(
                "verify needs an environment that matches only its canary.",
                "Run again and let verify-setup create one, or create it in BigPanda "
                f"(Settings -> Environments, condition {canary_filter()}) and pass "
                "--environment ID. Never change the condition of an environment in use.",
            )
        if r.dry_run:
            steps.append(
                f"would create environment {name!r}: POST /resources/v2.0/environments "
                f"{{name, filter: {canary_filter()}}}"
            )
            return "(new)", name, True, steps
        made = self._client.create_environment(name, canary_filter(), ENVIRONMENT_DESCRIPTION)
        env_id = str(made.get("id") or "")
        if not env_id:
            raise ConfigError(
                "BigPanda created the environment but gave no id.",
                f"Find {name!r} in Settings -> Environments and pass --environment ID.",
            )
        steps.append(f"created environment {name!r} ({env_id}) with filter {canary_filter()}")
        return env_id, name, True, steps

    def _readback(self, result: SetupResult) -> None:
        """Read-back credentials for each installed target that has them, checked."""
        from bp_integrate.readback import ReadTarget, readback_env_var

        r = self.request
        for target in self.targets:
            integration = target.integration
            if not integration.readback_fields:
                continue
            have = dict(self.stored_readback.get(integration.name) or {})
            # A field with a default (xMatters' property names, our guesses [G]) never
            # blocks: the default serves until the admin gives the real name.
            complete = all(have.get(f.name) or f.default for f in integration.readback_fields)
            if complete and any(have.get(f.name) for f in integration.readback_fields):
                result.steps.append(f"{integration.title}: read-back credentials already set")
                continue
            if r.readback is False or (
                r.readback is None
                and not self.ask.confirm(
                    f"Give {integration.title} read-back credentials (lets verify read "
                    "the canary back there)?",
                    "--readback",
                )
            ):
                result.steps.append(f"{integration.title}: no read-back (its hops not checked)")
                continue
            answers = {}
            for f in integration.readback_fields:
                flag = readback_env_var(integration, f.name, r.profile)
                raw = have.get(f.name) or (
                    self.ask.secret(f.label, flag)
                    if f.secret
                    else self.ask.text(f.label, flag, f.default)
                )
                answers[f.name] = f.validate(raw, {})
            creds = {k: v for k, v in answers.items() if v}
            if not r.dry_run:
                check_readback(ReadTarget(integration, target.values, creds, r.profile))
            result.readback[integration.name] = creds
            result.steps.append(f"{integration.title}: read-back credentials checked")

    def _autoshare(self, result: SetupResult) -> None:
        """Register the AutoShare rules where that can be done by program (the emulator);
        name the manual step everywhere else."""
        from bp_integrate.verify import autoshare_rule_hint

        shared = [t for t in self.targets if t.integration.paste_target == "BigPanda"]
        emulator = is_emulator(result.api_url)
        if emulator and self.request.register_autoshare is not False and shared:
            if not result.dry_run:
                register_emulator_rules(result.api_url, result.environment_id, shared)
            result.autoshare_registered = [t.integration.name for t in shared]
            result.steps.append(
                "emulator: AutoShare rules registered for "
                + ", ".join(t.integration.title for t in shared)
            )
            return
        for target in shared:
            result.manual_steps.append(
                autoshare_rule_hint(
                    target.integration,
                    result.environment_id,
                    result.environment_name,
                    result.profile,
                )
            )


def register_emulator_rules(
    api_url: str, environment_id: str, targets: Sequence[ReadTarget]
) -> None:
    """POST one AutoShare rule per target to the emulator's stand-in for BigPanda's
    AutoShare screen (`/_bigpanda/autoshare`): loopback only, never a real tenant."""
    from urllib.parse import urlsplit

    import httpx

    from bp_integrate.http import sync_client
    from bp_integrate.urls import is_loopback_host

    if not is_loopback_host(urlsplit(api_url).hostname):
        raise UsageError(
            "AutoShare rules can be registered only in the local emulator.",
            "In BigPanda: Settings -> AutoShare -> New rule (no API exists for it).",
        )
    with sync_client(10.0) as http:
        for target in targets:
            rule = {
                "environment_id": environment_id,
                "integration": target.integration.name,
                "values": dict(target.values),
                "tag": CANARY_TAG,
            }
            try:
                answer = http.post(api_url.rstrip("/") + "/_bigpanda/autoshare", json=rule)
            except (httpx.HTTPError, OSError) as exc:
                raise BPError(
                    f"The emulator at {api_url} did not take the AutoShare rule ({exc}).",
                    "Is it still running? bp-integrate receiver",
                ) from None
            if answer.status_code != 201:
                body = _json(answer)
                said = body.get("message") if isinstance(body, dict) else answer.text[:200]
                raise BPError(
                    f"The emulator refused the AutoShare rule for {target.integration.title} "
                    f"({answer.status_code}: {said}).",
                    f"Check the install: bp-integrate show {target.integration.name}",
                )


def _check_token(value: str, what: str) -> None:
    from bp_integrate.integrations.common import check_token

    if not value or not value.strip():
        raise UsageError(f"{what} is empty.", "Paste the whole value.")
    check_token(value.strip())
