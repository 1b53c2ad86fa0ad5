"""`bp-integrate doctor`: is this machine and profile ready? (think `gh auth status`,
`aws configure list`).

It checks, in order: the settings folder and file, the profiles, the BigPanda region and
host (DNS, TLS), the keyring, the User API key (checked against the host, named), and per
installed integration every value with where it comes from (setting, keyring,
environment variable, file: never the secret itself), verify's read-back credentials
(from the store the profile keeps them in), and each target host (DNS, TLS handshake;
no webhook is sent). Each check is a `Check`; one renderer shows them as
lines or JSON, and the exit code is 0 only when none failed.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from bp_integrate import ui
from bp_integrate.commands.common import JsonOpt
from bp_integrate.errors import BPError, ExitCode

if TYPE_CHECKING:
    from bp_integrate.config import Config, Installed
    from bp_integrate.integrations.base import Integration
    from bp_integrate.store import Orphan

Status = Literal["ok", "warn", "fail", "skip"]
NETWORK_TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    """One finding: where (section), what (name), how it went, and the fix if it failed."""

    section: str
    name: str
    status: Status
    detail: str
    fix: str = ""
    code: ExitCode = ExitCode.ERROR

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "section": self.section,
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
        }
        if self.fix:
            doc["fix"] = self.fix
        if self.status == "fail":
            doc["exit_code"] = int(self.code)
        return doc


class Doctor:
    """Runs the checks of one profile and collects them."""

    def __init__(self, profile: str, network: bool) -> None:
        self.profile = profile
        self.network = network
        self.checks: list[Check] = []
        self.orphans: list[Orphan] = []

    def add(self, section: str, name: str, status: Status, detail: str, **kw: Any) -> Check:
        check = Check(section, name, status, detail, **kw)
        self.checks.append(check)
        return check

    def fail(self, section: str, name: str, error: BPError) -> None:
        self.add(section, name, "fail", error.message, fix=error.hint or "", code=error.code)

    # -- the checks ---------------------------------------------------------------
    def run(self) -> None:
        cfg = self.settings()
        if cfg is None:
            return
        self.profiles(cfg)
        self.bigpanda(cfg)
        self.keyring(cfg)
        try:
            installed = cfg.installed(self.profile)
        except BPError as error:
            self.fail("profile", "integrations", error)
            return
        for item in installed.values():
            self.integration(item, cfg)
        self.leftovers(cfg)

    def leftovers(self, cfg: Config) -> None:
        """Secrets no profile's settings name and temp files, left by an interrupted
        command (of any profile): listed by name, removed with --yes or when confirmed."""
        from bp_integrate.store import find_orphans

        try:
            self.orphans = find_orphans(cfg)
        except BPError as error:
            self.add("orphans", "orphans", "warn", f"not checked: {error.message}")
            return
        if not self.orphans:
            self.add("orphans", "orphans", "ok", "none: every stored secret belongs to an install")
            return
        names = "; ".join(o.label() for o in self.orphans)
        self.add(
            "orphans",
            "orphans",
            "warn",
            f"{len(self.orphans)} left by an interrupted command, used by no profile: {names}",
            fix="bp-integrate doctor --yes removes them (--dry-run lists what it would remove)",
        )

    def settings(self) -> Config | None:
        from bp_integrate import config
        from bp_integrate.fs import config_dir, unsafe_reason

        folder = config_dir()
        if folder.is_dir():
            # The same test the tool applies before it trusts the folder.
            unsafe = unsafe_reason(folder)
            mode = folder.stat().st_mode & 0o777
            self.add(
                "settings",
                "folder",
                "ok" if unsafe is None else "fail",
                f"{folder} (mode {mode:04o})" + (f": {unsafe}" if unsafe else ""),
                fix="" if unsafe is None else f"chmod 700 {folder}",
                code=ExitCode.CONFIG,
            )
        elif folder.is_symlink():
            self.add(
                "settings",
                "folder",
                "fail",
                f"{folder} is a symbolic link to {os.readlink(folder)}, which does not exist",
                fix=f"mkdir -p {os.path.realpath(folder)} (or remove the link)",
                code=ExitCode.CONFIG,
            )
        else:
            self.add("settings", "folder", "ok", f"{folder} (not created yet: install creates it)")
        try:
            cfg = config.load()
        except BPError as error:
            self.fail("settings", "config file", error)
            return None
        where = "present" if cfg.path.exists() else "none yet"
        self.add("settings", "config file", "ok", f"{cfg.path} ({where})")
        return cfg

    def profiles(self, cfg: Config) -> None:
        names = cfg.profile_names()
        self.add("profiles", "profiles", "ok", ", ".join(names) or "none yet")
        if not cfg.has_profile(self.profile):
            try:
                cfg.require_profile(self.profile)
            except BPError as error:
                self.fail("profiles", "profile", error)
            return
        self.add("profiles", "profile", "ok", self.profile)

    def bigpanda(self, cfg: Config) -> None:
        from bp_integrate.secrets import env_var, lookup, open_store

        settings = cfg.bigpanda(self.profile)
        api_url = cfg.api_url(self.profile)
        region = str(settings.get("region") or "us")
        self.add("bigpanda", "region", "ok", f"{region}: {api_url}")
        self.host("bigpanda", api_url)
        variable = env_var("bigpanda", "api_key", self.profile)
        kind = settings.get("api_key_store", "keyring")
        stored = bool(settings.get("api_key_stored"))
        if stored and kind != "env" and os.environ.get(variable):
            self.add(
                "bigpanda",
                "api key source",
                "warn",
                f"{variable} overrides the {kind} store's key",
                fix=f"unset {variable} to use the stored key",
            )
        self.ignored("bigpanda", "api_key")
        if not stored and not os.environ.get(variable):
            fix = self.hint("profile set --api-key")
            self.add("bigpanda", "api key", "skip", f"none stored (nor {variable})", fix=fix)
            return
        source = f"environment variable {variable}" if os.environ.get(variable) else str(kind)
        try:
            key = lookup(open_store(kind), self.profile, "bigpanda", "api_key")
        except BPError as error:
            self.fail("bigpanda", "api key", error)
            return
        if not key:
            self.add(
                "bigpanda",
                "api key",
                "fail",
                f"recorded as stored in the {kind} store, which does not have it",
                fix=self.hint("profile set --api-key"),
                code=ExitCode.SECRETS,
            )
            return
        self.bigpanda_key(api_url, key, source)

    def bigpanda_key(self, api_url: str, key: str, source: str) -> None:
        """The User API key checked against the profile's host (not with --no-network)."""
        from bp_integrate.urls import urlsplit

        if not self.network:
            self.add("bigpanda", "api key", "ok", f"present ({source}); not checked (--no-network)")
            return
        from bp_integrate.bigpanda.api import check_key

        host = urlsplit(api_url).hostname or ""
        try:
            count = check_key(api_url, key, timeout=NETWORK_TIMEOUT)
        except BPError as error:
            self.add(
                "bigpanda",
                "api key",
                "fail",
                f"{error.message} (checked against {host}; key from {source})",
                fix=error.hint or "",
                code=error.code,
            )
            return
        self.add(
            "bigpanda",
            "api key",
            "ok",
            f"works against {host}: it sees {count} environment(s) (key from {source})",
        )

    def keyring(self, cfg: Config) -> None:
        from bp_integrate.secrets import keyring_backend

        uses = any(
            item.secret_store == "keyring" for item in cfg.installed(self.profile).values()
        ) or (
            cfg.bigpanda(self.profile).get("api_key_stored")
            and cfg.bigpanda(self.profile).get("api_key_store", "keyring") == "keyring"
        )
        try:
            name = keyring_backend()
        except BPError as error:
            status: Status = "fail" if uses else "warn"
            self.add(
                "keyring", "backend", status, error.message, fix=error.hint or "", code=error.code
            )
            return
        self.add("keyring", "backend", "ok", f"{name}: answers")

    def integration(self, item: Installed, cfg: Config) -> None:
        from bp_integrate.integrations import get as get_integration
        from bp_integrate.store import check_stored, load_values

        spec = get_integration(item.name)
        section = item.name
        try:
            check_stored(spec, item.values, self.profile)
        except BPError as error:
            self.fail(section, "settings", error)
        for f in spec.fields:
            if f.secret or f.name not in item.values:
                continue
            value = item.values[f.name]
            if f.url_with_secrets and value:
                # A settings file written before URL secrets were split off may still hold
                # one in clear: never print it.
                from bp_integrate.redact import mask_url

                value = mask_url(value)
            self.add(section, f.name, "ok", f"{value or '(empty)'}  [setting]")
        for name in item.secret_fields:
            self.secret(spec, item, name)
        self.readback(spec, cfg)
        try:
            masked = load_values(spec, item, self.profile, with_secrets=False, strict=False)
            urls = list(spec.urls(masked))
        except BPError as error:
            self.fail(section, "urls", error)
            return
        for url in urls:
            self.host(section, url)

    def secret(self, spec: Integration, item: Installed, name: str) -> None:
        from bp_integrate.secrets import entry_name, env_var, open_store

        variable = env_var(spec.name, name, self.profile)
        url_field, dot, _ = name.partition(".")
        whole = env_var(spec.name, url_field, self.profile) if dot else ""
        self.ignored(spec.name, name)
        for found in (variable, whole):
            if not found or not os.environ.get(found):
                continue
            if item.secret_store == "env":
                self.add(spec.name, name, "ok", f"present  [environment variable {found}]")
            else:
                self.add(
                    spec.name,
                    name,
                    "warn",
                    f"present  [environment variable {found}, overriding the "
                    f"{item.secret_store} store: every send and show uses it]",
                    fix=f"unset {found} to use the stored value",
                )
            return
        if item.secret_store == "env":
            self.add(
                spec.name,
                name,
                "fail",
                f"missing: {variable} is not set",
                fix=f"export {variable}=... wherever bp-integrate runs",
                code=ExitCode.SECRETS,
            )
            return
        try:
            store = open_store(item.secret_store)
            key = entry_name(self.profile, spec.name, item.entry_field(name))
            present = store.get(key) is not None
        except BPError as error:
            self.fail(spec.name, name, error)
            return
        where = (
            "keyring" if item.secret_store == "keyring" else f"file {getattr(store, 'path', '')}"
        )
        if present:
            self.add(spec.name, name, "ok", f"present  [{where}]")
        else:
            self.add(
                spec.name,
                name,
                "fail",
                f"missing from the {where}",
                fix=self.hint(f"install {spec.name}") + f" (or set {variable})",
                code=ExitCode.SECRETS,
            )

    def readback(self, spec: Integration, cfg: Config) -> None:
        """verify's read-back credentials of the integration that are set or recorded as
        stored, each with its source: the profile's variable, or the store verify's
        secrets are in (`verify_store`). Optional: one that is gone is a warning."""
        from bp_integrate.readback import kept_creds, store_hint
        from bp_integrate.secrets import FileStore

        kind = cfg.verify_store(self.profile)
        recorded = {name for _, name in cfg.readback_stored(self.profile, spec.name)}
        try:
            kept = kept_creds(spec, self.profile, cfg)
        except BPError as error:
            self.add(spec.name, "read-back", "warn", error.message, fix=error.hint or "")
            return
        for name, found in kept.items():
            label = f"{name} (read-back)"
            if found is None:
                self.add(
                    spec.name,
                    label,
                    "warn",
                    f"recorded as stored in the {kind} store, which does not have it: verify "
                    "does not read this target back",
                    fix=store_hint(spec, self.profile),
                )
            elif found.variable is not None and name in recorded and kind != "env":
                self.add(
                    spec.name,
                    label,
                    "warn",
                    f"present  [environment variable {found.variable}, overriding the {kind} "
                    "store: verify uses it]",
                    fix=f"unset {found.variable} to use the stored value",
                )
            elif found.variable is not None:
                self.add(
                    spec.name, label, "ok", f"present  [environment variable {found.variable}]"
                )
            else:
                where = "keyring" if kind == "keyring" else f"file {FileStore().path}"
                self.add(spec.name, label, "ok", f"present  [{where}]")

    def ignored(self, integration: str, name: str) -> None:
        """A shared variable set while this (non-default) profile reads its own: say it
        is not used, so no one believes it reaches this profile."""
        from bp_integrate.secrets import env_var

        shared = env_var(integration, name)
        own = env_var(integration, name, self.profile)
        if shared != own and os.environ.get(shared):
            self.add(
                integration,
                f"{name} variable",
                "skip",
                f"{shared} is set but not used: profile {self.profile!r} reads {own}",
            )

    def host(self, section: str, url: str) -> None:
        """DNS, then a TLS handshake for https (no request is sent)."""
        from bp_integrate.urls import is_loopback_host, urlsplit

        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        label = f"host {host}:{port}"
        if any(c.section == section and c.name == label for c in self.checks):
            return
        if not self.network:
            self.add(section, label, "skip", "DNS and TLS not checked (--no-network)")
            return
        from bp_integrate.http import proxy_note

        via = proxy_note(url)
        if via is not None:
            self.add(
                section,
                label,
                "skip",
                f"sent through proxy {via[0]} ({via[1]}): direct DNS and TLS not checked",
            )
            return
        if parts.scheme != "https":
            note = "plain http on a loopback host: TLS check skipped"
            if not is_loopback_host(host):
                note = "plain http: TLS check skipped"
            addresses = self.resolve(section, label, host, port)
            if addresses is not None:
                self.add(section, label, "ok", f"resolves to {addresses}; {note}")
            return
        addresses = self.resolve(section, label, host, port)
        if addresses is None:
            return
        try:
            detail = tls_handshake(host, port)
        except OSError as error:
            self.network_failure(section, label, error, f"TLS to {host}:{port}")
            return
        self.add(section, label, "ok", f"resolves to {addresses}; TLS ok ({detail})")

    def resolve(self, section: str, label: str, host: str, port: int) -> str | None:
        try:
            found = bounded(lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as error:
            self.network_failure(section, label, error, f"DNS of {host}")
            return None
        addresses = sorted({str(info[4][0]) for info in found})
        return ", ".join(addresses[:3]) + (" ..." if len(addresses) > 3 else "")

    def network_failure(self, section: str, label: str, error: OSError, what: str) -> None:
        from bp_integrate.failures import classify

        failure = classify(error)
        self.add(
            section,
            label,
            "fail",
            f"{what}: {failure.message}",
            fix=failure.fix,
            code=ExitCode.NETWORK,
        )

    def hint(self, args: str) -> str:
        from bp_integrate.errors import command_for

        return command_for(self.profile, args)

    # -- the outcome -------------------------------------------------------------------
    def exit_code(self) -> ExitCode:
        failed = [c for c in self.checks if c.status == "fail"]
        if not failed:
            return ExitCode.OK
        codes = {c.code for c in failed}
        return codes.pop() if len(codes) == 1 else ExitCode.ERROR


def bounded(call: Callable[[], Any], timeout: float = NETWORK_TIMEOUT) -> Any:
    """`call()` with a time limit (getaddrinfo has none of its own)."""
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as Timeout

    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(call).result(timeout=timeout)
    except Timeout:
        raise TimeoutError(f"no answer within {timeout:g} s") from None
    finally:
        pool.shutdown(wait=False)


def tls_handshake(host: str, port: int, timeout: float = NETWORK_TIMEOUT) -> str:
    """A verified TLS handshake (SSL_CERT_FILE honoured); the certificate's expiry."""
    import ssl

    context = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or None)
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        cert = tls.getpeercert() or {}
        version = tls.version() or "TLS"
    expires = cert.get("notAfter")
    return f"{version}, certificate valid until {expires}" if expires else version


MARKS: dict[Status, str] = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}


def doctor_command(
    ctx: typer.Context,
    json_output: JsonOpt = False,
    no_network: Annotated[
        bool,
        typer.Option("--no-network", help="Skip the DNS, TLS and API key checks."),
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="Remove orphaned secrets and leftover temp files without asking.",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="List the orphans --yes would remove; remove nothing."),
    ] = False,
) -> None:
    """Check settings, keyring, secrets and hosts of the profile; exit 0 only if all is well.

    Also finds secrets no profile uses any more (left by an interrupted command) and
    offers to remove them. bp-integrate status answers the main question in a few lines,
    without the network.

    Examples:

    bp-integrate doctor

    bp-integrate -p prod doctor --no-network --json

    bp-integrate doctor --no-network --yes   (removes orphaned secrets)
    """
    if yes and dry_run:
        from bp_integrate.errors import UsageError

        raise UsageError("--yes removes the orphans and --dry-run removes nothing.", "Choose one.")
    doctor = Doctor(ctx.obj.profile, network=not no_network)
    doctor.run()
    code = doctor.exit_code()
    if json_output:
        cleanup = clean_orphans(doctor.orphans, yes, dry_run, ask=False)
        ui.emit_json(
            {
                "profile": doctor.profile,
                "ok": code == ExitCode.OK,
                "exit_code": int(code),
                "checks": [c.to_json() for c in doctor.checks],
                "orphans": [{"kind": o.kind, "name": o.name} for o in doctor.orphans],
                **cleanup.to_json(),
            }
        )
    else:
        render(doctor)
        say_cleanup(clean_orphans(doctor.orphans, yes, dry_run, ask=ui.stdin_is_tty()))
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


@dataclass
class Cleanup:
    """What became of the orphans: removed, kept (and why), or only listed (--dry-run)."""

    removed: list[str]
    left: list[str]
    dry_run: list[str]

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"removed": self.removed, "not_removed": self.left}
        if self.dry_run:
            doc["would_remove"] = self.dry_run
        return doc


def clean_orphans(orphans: list[Orphan], yes: bool, dry_run: bool, ask: bool) -> Cleanup:
    """Remove the orphans with --yes, or on a terminal once confirmed (default No)."""
    from bp_integrate.config import config_path
    from bp_integrate.store import remove_orphans

    if not orphans:
        return Cleanup([], [], [])
    if dry_run:
        return Cleanup([], [], [o.label() for o in orphans])
    if not yes:
        question = f"Remove the {len(orphans)} orphan(s) listed above (no profile uses them)?"
        if not ask or not typer.confirm(question, default=False, err=True):
            return Cleanup([], [], [])
    removed, left = remove_orphans(config_path(), orphans)
    return Cleanup(removed, left, [])


def say_cleanup(cleanup: Cleanup) -> None:
    for line in cleanup.dry_run:
        ui.data(f"would remove: {line}")
    if cleanup.dry_run:
        ui.say("Dry run: nothing was removed (--yes removes them).")
    for line in cleanup.removed:
        ui.data(f"removed: {line}")
    for line in cleanup.left:
        ui.warn(f"not removed: {line}")


def render(doctor: Doctor) -> None:
    section = ""
    for check in doctor.checks:
        if check.section != section:
            section = check.section
            ui.data(f"{section}:")
        ui.data(f"  [{MARKS[check.status]}] {check.name}: {check.detail}")
        if check.fix and check.status in ("fail", "warn"):
            ui.data(f"         fix: {check.fix}")
    failed = sum(1 for c in doctor.checks if c.status == "fail")
    if failed:
        ui.say(f"{failed} problem(s) found in profile {doctor.profile!r}.", style="red")
    else:
        ui.say(f"All is well in profile {doctor.profile!r}.", style="green")
