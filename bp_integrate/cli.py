"""The command-line wiring: global options, the command table, and the one error exit."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from bp_integrate import __version__
from bp_integrate.errors import BPError, ExitCode


class Group(TyperGroup):
    """Catches every expected error in one place and turns it into a message and a code."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except BPError as error:
            from bp_integrate import ui

            ui.err().print(f"Error: {error.message}", style="bold red")
            if error.hint:
                ui.err().print(f"  {error.hint}")
            raise typer.Exit(int(error.code)) from None
        except (KeyboardInterrupt, typer.Abort):
            from bp_integrate import ui

            ui.err().print("\nInterrupted: nothing was changed.", style="yellow")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


app = typer.Typer(
    name="bp-integrate",
    cls=Group,
    help="Set up, tear down and test BigPanda outbound integrations "
    "(xMatters, PagerDuty, incident.io, Panopta).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bp-integrate {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            "-p",
            envvar="BP_INTEGRATE_PROFILE",
            help="Settings profile to use (config dir: $BP_INTEGRATE_CONFIG_DIR).",
        ),
    ] = "default",
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Set up, tear down and test BigPanda outbound integrations."""
    from bp_integrate.errors import UsageError

    if not profile or any(c in profile for c in "/\\ \t"):
        raise UsageError(f"{profile!r} is not a profile name.", "Use letters, digits, - and _.")
    ctx.obj = profile


def _register() -> None:
    from bp_integrate.commands import (
        demo,
        encode,
        history,
        install,
        listing,
        profile,
        receiver,
        replay,
        send_test,
        show,
        uninstall,
    )

    app.command("list")(listing.list_command)
    app.command("install")(install.install_command)
    app.command("show")(show.show_command)
    app.command("uninstall")(uninstall.uninstall_command)
    app.add_typer(encode.app, name="encode")
    app.add_typer(profile.app, name="profile")
    app.command("send-test")(send_test.send_test_command)
    app.command("replay")(replay.replay_command)
    app.command("history")(history.history_command)
    app.command("receiver")(receiver.receiver_command)
    app.command("demo")(demo.demo_command)


_register()


def main() -> None:
    app()
