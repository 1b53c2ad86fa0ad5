"""`bp-integrate demo`: everything, end to end, against the embedded emulator.

It runs in a throwaway profile whose config, history and secrets live in a temporary
folder (secrets in a 0600 file there), so the user's real config and keyring are
never read or written, and no network beyond loopback is used.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bp_integrate import ui
from bp_integrate.commands.common import JsonOpt
from bp_integrate.errors import ExitCode

if TYPE_CHECKING:
    from bp_integrate.emulator import EmulatorConfig, EmulatorServer
    from bp_integrate.engine.plan import Loaded
    from bp_integrate.engine.run import RunReport
    from bp_integrate.verify import VerifyReport

DEMO_PROFILE = "demo"


@contextmanager
def throwaway_home() -> Iterator[str]:
    """Point config and state at a temporary folder; hide the user's BP_INTEGRATE_* vars."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("BP_INTEGRATE_")}
    with tempfile.TemporaryDirectory(prefix="bp-integrate-demo-") as home:
        for name in saved:
            del os.environ[name]
        os.environ["BP_INTEGRATE_CONFIG_DIR"] = os.path.join(home, "config")
        os.environ["BP_INTEGRATE_STATE_DIR"] = os.path.join(home, "state")
        try:
            yield home
        finally:
            for name in [k for k in os.environ if k.startswith("BP_INTEGRATE_")]:
                del os.environ[name]
            os.environ.update(saved)


def demo_answers(server: EmulatorServer, config: EmulatorConfig) -> dict[str, dict[str, str]]:
    """What an admin would type for each integration, pointed at the emulator.

    Every emulated target says what installs its integrations against it; the
    integrations' own order (``bp-integrate list``) is kept, and values for an
    integration this version does not have are left out.
    """
    from bp_integrate.emulator import targets
    from bp_integrate.integrations import NAMES

    values: dict[str, dict[str, str]] = {}
    for target in targets():
        values.update(target.install_values(server.base_url, config))
    return {name: values[name] for name in NAMES if name in values}


def install_all(server: EmulatorServer, config: EmulatorConfig) -> list[dict[str, Any]]:
    """Install every integration through the same core the install command uses."""
    from bp_integrate import config as settings
    from bp_integrate.bigpanda.api import key_checker
    from bp_integrate.commands.common import scripted_answers
    from bp_integrate.integrations import get
    from bp_integrate.store import save
    from bp_integrate.wizard import Sources, paste, run

    cfg = settings.load()
    cfg.set_bigpanda(DEMO_PROFILE, {"region": "custom", "api_url": server.base_url})
    cfg.save()
    installed = []
    for name, answers in demo_answers(server, config).items():
        spec = get(name)
        # The secrets go in as if from the environment: the same path a script takes.
        environ, sets = scripted_answers(spec, answers)
        plan = run(
            spec, {}, Sources(sets=sets, environ=environ), None, key_checker(server.base_url)
        )
        save(cfg, spec, DEMO_PROFILE, plan.values, "file")
        installed.append(paste(spec, plan.values, DEMO_PROFILE, show_secrets=False))
    return installed


def target_summary(snapshot: dict[str, Any]) -> list[str]:
    """One line per emulated target: what it ended with."""
    from bp_integrate.emulator import targets

    lines = [line for target in targets() for line in target.summary(snapshot)]
    lines.append(f"Requests received by the emulator: {snapshot['requests_received']}")
    return lines


def verify_against(server: EmulatorServer, config: EmulatorConfig, loaded: Loaded) -> VerifyReport:
    """`verify` of every installed integration BigPanda shares to, against the emulator:
    the AutoShare rules an admin would create (through the emulator-only endpoint that
    stands in for BigPanda's UI), then one canary through the emulated BigPanda."""
    from bp_integrate.bigpanda.api import BigPandaClient
    from bp_integrate.emulator import targets
    from bp_integrate.emulator.bigpanda import BigPandaSettings
    from bp_integrate.http import sync_client
    from bp_integrate.readback import ReadTarget, TargetReader
    from bp_integrate.verify import (
        CANARY_TAG,
        DEFAULT_TIMEOUTS,
        Verifier,
        VerifySettings,
    )

    bigpanda = config.of(BigPandaSettings)
    environment = bigpanda.bigpanda_environments[0][0]
    creds: dict[str, dict[str, str]] = {}
    for target in targets():
        if target.readback_values is not None:
            creds.update(target.readback_values(config.settings(target.name)))
    chosen = [
        ReadTarget(t.integration, t.values, creds.get(t.name, {}))
        for t in loaded.targets
        if t.integration.paste_target == "BigPanda"
    ]
    with sync_client(10.0) as http:  # loopback: never through a proxy
        for t in chosen:
            rule = {
                "environment_id": environment,
                "integration": t.integration.name,
                "values": t.values,
                "tag": CANARY_TAG,
            }
            http.post(server.base_url + "/_bigpanda/autoshare", json=rule).raise_for_status()
    settings = VerifySettings(
        server.base_url,
        bigpanda.bigpanda_api_key,
        bigpanda.bigpanda_org_token,
        bigpanda.bigpanda_app_key,
        environment,
    )
    client = BigPandaClient(server.base_url, settings.user_key, settings.org_token)
    reader = TargetReader()
    timeouts = dict.fromkeys(DEFAULT_TIMEOUTS, 10.0)
    try:
        return Verifier(settings, chosen, client, reader, timeouts).run()
    finally:
        client.close()
        reader.close()


def next_install(names: list[str] | tuple[str, ...]) -> str:
    """The install to try next; with no working keyring (a headless box), the one that
    works there: secrets from environment variables."""
    from bp_integrate.errors import SecretsError
    from bp_integrate.secrets import open_store

    try:
        open_store("keyring").check()
        store = ""
    except SecretsError:
        store = " --secret-store env"
    others = ", ".join(names[1:])
    line = f"bp-integrate install {names[0]}{store} (or {others})."
    if store:
        line += " No keyring answers here: secrets are read from BP_INTEGRATE_* variables."
    return line


def demo_command(
    scenario: Annotated[
        str,
        typer.Option("--scenario", help="Built-in scenario to run: lifecycle, flapping, comment."),
    ] = "lifecycle",
    json_output: JsonOpt = False,
) -> None:
    """Try everything against the emulator: no account, no network, nothing saved.

    Starts the embedded emulator on a free loopback port, installs every integration
    against it in a throwaway profile, replays an incident lifecycle to all of them,
    shows what each emulated target ended with, and ends with a `verify`: a canary
    through the emulated BigPanda, read back at each target.

    Examples:

    bp-integrate demo

    bp-integrate demo --scenario flapping --json
    """
    options = DemoOptions(scenario, json_output)
    done = run_demo(options)
    code = show_demo(done, options)
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


@dataclass
class DemoOptions:
    """What `demo` was asked to do."""

    scenario: str
    json_output: bool


@dataclass
class DemoRun:
    """What the demo did: what it installed, the replay, the targets' state, the verify."""

    base_url: str
    installed: list[dict[str, Any]]
    report: RunReport
    snapshot: dict[str, Any]
    verified: VerifyReport


def run_demo(options: DemoOptions) -> DemoRun:
    """The emulator on a free loopback port, every integration installed against it in a
    throwaway profile, the scenario replayed to all of them, then a `verify`."""
    from bp_integrate import scenarios
    from bp_integrate.bigpanda.webhook import BodySpec
    from bp_integrate.commands.sending import Timeline
    from bp_integrate.emulator import EmulatorConfig, EmulatorServer
    from bp_integrate.engine.plan import load_targets
    from bp_integrate.engine.run import Engine, RunOptions, run_sync
    from bp_integrate.errors import plural
    from bp_integrate.http import RetryPolicy
    from bp_integrate.signals import sigterm_as_ctrl_c

    plan = scenarios.load(options.scenario)
    json_output = options.json_output
    emulator_config = EmulatorConfig()
    # SIGTERM acts as Ctrl-C, so the temporary folder (and its secrets file) goes too.
    with (
        sigterm_as_ctrl_c(),
        throwaway_home(),
        EmulatorServer(port=0, config=emulator_config) as server,
    ):
        if not json_output:
            ui.say(f"Emulator listening on {server.base_url} (loopback only).", style="bold")
            ui.say("Installing every integration against it in a throwaway profile...")
        installed = install_all(server, emulator_config)
        if not json_output:
            show_installed(installed)
            ui.say(f"Replaying {plan.name} ({plural(len(plan.steps), 'step')}) to all of them...")
        loaded = load_targets(DEMO_PROFILE, None)
        timeline = Timeline(json_output)
        engine = Engine(
            plan, loaded, loaded.secrets, BodySpec(), RetryPolicy(), RunOptions(), [timeline]
        )
        try:
            report = run_sync(engine)
        finally:
            timeline.stop()
        snapshot = server.state.snapshot()
        if not json_output:
            ui.say("Verifying: a canary through the emulated BigPanda, read back hop by hop...")
        verified = verify_against(server, emulator_config, loaded)
        return DemoRun(server.base_url, installed, report, snapshot, verified)


def show_installed(installed: list[dict[str, Any]]) -> None:
    """What was installed: each integration's URL and headers (secrets masked)."""
    for doc in installed:
        ui.say(f"  {doc['title']}: {doc['webhook']['url']}")
        for header, value in doc["webhook"]["headers"].items():
            if header != "Content-Type":
                ui.say(f"      {header}: {value}")


def show_demo(done: DemoRun, options: DemoOptions) -> ExitCode:
    """The demo's result (a JSON line, or what each target ended with and the verify);
    its exit code."""
    report, verified = done.report, done.verified
    outcome, code = report.outcome()
    if options.json_output:
        ui.emit_json_line(
            {
                "demo": outcome,
                "emulator": done.base_url,
                "installed": done.installed,
                "scenario": report.summary_json(),
                "steps": [step.to_json() for step in report.steps],
                "targets": done.snapshot,
                "verify": verified.to_json(),
            }
        )
    else:
        ui.say(report.cleanup_note)
        ui.say("What each emulated target ended with:", style="bold")
        for line in target_summary(done.snapshot):
            ui.data(f"  {line}")
        from bp_integrate.commands.verify import render

        ui.say("Verify (canary through the emulated BigPanda):", style="bold")
        render(verified)
        style = "green" if code == ExitCode.OK else "red"
        ui.say(
            f"Demo {outcome}: {report.units_line()}. "
            "Nothing was written to your config or keyring.",
            style=style,
        )
        from bp_integrate.integrations import NAMES

        ui.say(f"Next: {next_install(NAMES)}")
    if code == ExitCode.OK and not verified.ok:
        code = verified.exit_code
    return code
