"""`bp-integrate status`: "am I OK?" in a few lines (think `gh auth status`).

The profile, its BigPanda region and User API key (present or not, and from where),
each installed integration with its secrets present or missing, the last test run and
its age, and what `verify` would still need. The findings are doctor's own checks (no
network), history's run records and verify's own settings check: nothing is judged
twice. Exit 0 when every installed integration can send; never prints a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from bp_integrate import ui
from bp_integrate.commands.common import JsonOpt
from bp_integrate.commands.doctor import Check, Doctor
from bp_integrate.errors import BPError, ExitCode, plural

if TYPE_CHECKING:
    from bp_integrate.app import App
    from bp_integrate.config import Installed
    from bp_integrate.history import RunSummary


@dataclass
class IntegrationStatus:
    name: str
    title: str
    checks: list[Check]
    secret_fields: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    @property
    def secrets(self) -> list[Check]:
        """Doctor's finding for each secret (present, overridden by a variable: `warn`,
        or missing: `fail`)."""
        return [c for c in self.checks if c.name in self.secret_fields]

    @property
    def notes(self) -> list[Check]:
        """What else doctor said: a variable that overrides the store, one not used."""
        return [c for c in self.checks if c.status in ("warn", "skip")]

    def to_json(self) -> dict[str, Any]:
        return {
            "integration": self.name,
            "title": self.title,
            "ok": self.ok,
            "secrets": {
                c.name: {
                    "status": "missing" if c.status == "fail" else "present",
                    "detail": c.detail,
                }
                for c in self.secrets
            },
            "problems": [c.to_json() for c in self.checks if c.status == "fail"],
            "notes": [c.to_json() for c in self.notes],
        }


@dataclass
class Status:
    """What `status` found in one profile."""

    profile: str
    config_file: str
    region: str
    api_url: str
    api_key: Check
    integrations: list[IntegrationStatus] = field(default_factory=list)
    last_run: RunSummary | None = None
    verify_missing: list[str] = field(default_factory=list)
    verify_hint: str = ""

    @property
    def problems(self) -> list[Check]:
        found = [c for i in self.integrations for c in i.checks if c.status == "fail"]
        return [self.api_key, *found] if self.api_key.status == "fail" else found

    @property
    def exit_code(self) -> ExitCode:
        if not self.integrations:
            return ExitCode.CONFIG  # nothing installed: nothing can be sent
        codes = {c.code for c in self.problems}
        if not codes:
            return ExitCode.OK
        return codes.pop() if len(codes) == 1 else ExitCode.ERROR

    def to_json(self) -> dict[str, Any]:
        run = self.last_run
        return {
            "profile": self.profile,
            "config_file": self.config_file,
            "ok": self.exit_code == ExitCode.OK,
            "exit_code": int(self.exit_code),
            "region": self.region,
            "api_url": self.api_url,
            "api_key": {
                "status": {"ok": "present", "skip": "not set"}.get(self.api_key.status, "missing"),
                "detail": self.api_key.detail,
            },
            "integrations": [i.to_json() for i in self.integrations],
            "last_run": None
            if run is None
            else {**run.to_json(), "age_seconds": age_seconds(run.started_at)},
            "verify": {"ready": not self.verify_missing, "missing": self.verify_missing},
        }


def age_seconds(stamp: str, now: datetime | None = None) -> int | None:
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, int(((now or datetime.now(UTC)) - moment).total_seconds()))


def human_age(seconds: int | None) -> str:
    """`just now`, `5 min ago`, `3 h ago`, `2 days ago`."""
    if seconds is None:
        return "at an unknown time"
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def collect(app: App) -> Status:
    """Every finding of `status` for the app's profile (reads only; no network)."""
    from bp_integrate import history
    from bp_integrate.integrations import get as get_integration

    cfg = app.config
    profile = app.profile
    doctor = Doctor(profile, network=False)
    doctor.bigpanda(cfg)  # region, host (not checked: no network) and the API key
    [api_key] = [c for c in doctor.checks if c.name == "api key"] or [
        Check("bigpanda", "api key", "skip", "not set")
    ]
    settings = cfg.bigpanda(profile)
    status = Status(
        profile=profile,
        config_file=str(cfg.path),
        region=str(settings.get("region") or "us"),
        api_url=cfg.api_url(profile),
        api_key=api_key,
    )
    for item in cfg.installed(profile).values():
        status.integrations.append(integration_status(profile, item, get_integration(item.name)))
    runs = [r for r in history.list_runs() if r.profile == profile]
    status.last_run = runs[0] if runs else None
    status.verify_missing, status.verify_hint = verify_readiness(profile, settings)
    return status


def integration_status(profile: str, item: Installed, spec: Any) -> IntegrationStatus:
    """An integration's settings checked as install checks them, and each secret found
    (doctor's own check: where it comes from, never its value)."""
    from bp_integrate.store import check_stored

    doctor = Doctor(profile, network=False)
    try:
        check_stored(spec, item.values, profile)
    except BPError as error:
        doctor.fail(item.name, "settings", error)
    for name in item.secret_fields:
        doctor.secret(spec, item, name)
    return IntegrationStatus(item.name, spec.title, doctor.checks, list(item.secret_fields))


def verify_readiness(profile: str, settings: dict[str, Any]) -> tuple[list[str], str]:
    """What `verify` still needs ([] when ready), as verify itself says it, and its fix."""
    from bp_integrate.verify import load_settings

    try:
        load_settings(profile, settings)
    except BPError as error:
        listed = [
            line.strip()[2:] for line in error.message.splitlines() if line.strip()[:2] == "- "
        ]
        return listed or [error.message], error.hint or ""
    return [], ""


def status_command(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Am I OK? The profile, its API key, each integration's secrets, the last test.

    Also the region and API URL, each secret's source (keyring, file, a variable) and
    what verify still needs. Exit 0 when every installed integration can send; 3 when
    none is installed or a setting is wrong; 4 when a secret is missing. Secrets are
    never shown.

    Examples:

    bp-integrate status

    bp-integrate -p prod status --json

    bp-integrate status || bp-integrate doctor
    """
    status = collect(ctx.obj)
    if json_output:
        ui.emit_json(status.to_json())
    else:
        render(status, ctx.obj)
    if status.exit_code != ExitCode.OK:
        raise typer.Exit(int(status.exit_code))


def render(status: Status, app: App) -> None:
    """A few lines of data (stdout), then the verdict and its fix (stderr)."""
    key = status.api_key
    shown = key.detail.replace("; not checked (--no-network)", "")
    key_text = {"ok": shown, "skip": "not set (verify and by-API installs need one)"}.get(
        key.status, f"MISSING: {key.detail}"
    )
    ui.data(f"profile       {status.profile}  ({status.config_file})")
    ui.data(f"BigPanda      {status.region}: {status.api_url}")
    ui.data(f"User API key  {key_text}")
    width = max([len(i.name) for i in status.integrations] + [12])
    for integration in status.integrations:
        if integration.ok:
            sources = (
                ", ".join(f"{c.name}: {source_of(c)}" for c in integration.secrets) or "none needed"
            )
            line = f"ok  (secrets: {sources})"
        else:
            bad = [c for c in integration.checks if c.status == "fail"]
            line = "MISSING " + "; ".join(problem(c) for c in bad)
        ui.data(f"{integration.name:<{width}}  {line}")
    if not status.integrations:
        ui.data(f"{'integrations':<{width}}  none installed")
    run = status.last_run
    if run is None:
        ui.data("last test     none yet")
    else:
        targets = ",".join(run.targets) or "-"
        c = run.counts
        counts = f", sent {c.get('sent', 0)}, ok {c.get('ok', 0)}" if c else ""
        ui.data(
            f"last test     {human_age(age_seconds(run.started_at))}: {run.command or 'run'} "
            f"to {targets}, {run.outcome}{counts} (run {run.id})"
        )
    if status.verify_missing:
        need = len(status.verify_missing)
        ui.data(f"verify        not ready: needs {plural(need, 'more setting')}")
    else:
        ui.data("verify        ready")
    verdict(status, app)


def problem(check: Check) -> str:
    """`integration_key (BP_INTEGRATE_..._KEY is not set)` from doctor's finding."""
    if check.name == "settings":
        return check.detail
    detail = check.detail.removeprefix("missing").lstrip(": ")
    return f"{check.name} ({detail})"


def source_of(check: Check) -> str:
    """`keyring` from doctor's `present  [keyring]`."""
    detail = check.detail
    inside = detail[detail.find("[") + 1 : detail.rfind("]")] if "[" in detail else detail
    return inside.partition(",")[0]  # what follows (overriding...) is said as a note


def verdict(status: Status, app: App) -> None:
    if not status.integrations:
        ui.prose(
            f"Nothing installed in profile {status.profile!r}: "
            f"{app.hint('install <integration>')} (bp-integrate list shows them).",
            style="yellow",
        )
        return
    for integration in status.integrations:
        for note in integration.notes:
            ui.prose(f"{integration.name} {note.name}: {note.detail}", style="yellow")
    problems = status.problems
    if not problems:
        ui.success(f"All set in profile {status.profile!r}.")
    else:
        ui.prose(f"{len(problems)} problem(s) in profile {status.profile!r}:", style="red")
        for check in problems:
            ui.prose(f"{check.section} {check.name}: {check.fix or check.detail}", indent=2)
    if status.verify_missing and status.verify_hint:
        ui.prose(f"verify (optional) is not ready. {status.verify_hint}")
