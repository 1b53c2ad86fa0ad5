"""The command-line wiring: global options, the command table, and the one error exit.

Commands load lazily: `bp-integrate --help` lists them from the table below without
importing any command module, and running a command imports only its own module.
"""

from __future__ import annotations

import errno
import importlib
import inspect
import os
import sys
from typing import Annotated, Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from bp_integrate import __version__
from bp_integrate.app import PROFILE_NAME, complete_profile
from bp_integrate.errors import BPError, ExitCode

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


SET_UP, TEST, TOOLS = "Set up", "Test", "Tools"


class Entry(NamedTuple):
    module: str
    attribute: str  # a command function, or a typer.Typer of subcommands
    #: The one line shown by `bp-integrate --help`: the first paragraph of the command's
    #: own help, word for word (tests keep them in sync).
    help: str
    panel: str  # the group `bp-integrate --help` lists it under


COMMANDS: dict[str, Entry] = {
    "list": Entry(
        "listing",
        "list_command",
        "List the integrations and whether each is installed in the profile.",
        SET_UP,
    ),
    "status": Entry(
        "status",
        "status_command",
        "Am I OK? The profile, its API key, each integration's secrets, the last test.",
        SET_UP,
    ),
    "install": Entry(
        "install",
        "install_command",
        "Walk through setting up an integration, then print what to paste into BigPanda.",
        SET_UP,
    ),
    "show": Entry(
        "show",
        "show_command",
        "Show the settings to paste into BigPanda for an installed integration.",
        SET_UP,
    ),
    "set": Entry(
        "set_field",
        "set_command",
        "Change one secret or setting of an installed integration (rotate a key).",
        SET_UP,
    ),
    "uninstall": Entry(
        "uninstall",
        "uninstall_command",
        "Walk through removing an integration in the right order, then forget it locally.",
        SET_UP,
    ),
    "profile": Entry("profile", "app", "BigPanda settings of a profile (region, API key).", SET_UP),
    "demo": Entry(
        "demo",
        "demo_command",
        "Try everything against the emulator: no account, no network, nothing saved.",
        TEST,
    ),
    "send-test": Entry(
        "send_test",
        "send_test_command",
        "Send a test BigPanda event to the installed integrations and show what they answered.",
        TEST,
    ),
    "replay": Entry(
        "replay",
        "replay_command",
        "Replay a scenario about one test incident (or N of them with --count), then clean up.",
        TEST,
    ),
    "verify": Entry(
        "verify",
        "verify_command",
        "Send a canary alert through BigPanda and check each hop to the targets.",
        TEST,
    ),
    "verify-setup": Entry(
        "verify_setup",
        "verify_setup_command",
        "Set up everything verify needs, in one sitting.",
        TEST,
    ),
    "history": Entry(
        "history",
        "history_command",
        "List recorded runs, newest first; replay one with --from-run.",
        TEST,
    ),
    "receiver": Entry(
        "receiver",
        "receiver_command",
        "Run the embedded emulator of every target an integration can point at.",
        TEST,
    ),
    "doctor": Entry(
        "doctor",
        "doctor_command",
        "Check settings, keyring, secrets and hosts of the profile; exit 0 only if all is well.",
        TOOLS,
    ),
    "encode": Entry("encode", "app", "Encode values BigPanda integrations need.", TOOLS),
    "calibrate": Entry(
        "calibrate",
        "calibrate_command",
        "Compare a body captured from your BigPanda with ours; --adopt its shape, or --reset.",
        TOOLS,
    ),
}

#: Options a first hour does not need, shown in their own "Advanced" panel of the
#: busiest commands' help (the options are declared in modules shared by several
#: commands, so the layout of each command's help is decided here).
ADVANCED: dict[str, tuple[str, ...]] = {
    "install": (
        "--insecure-storage",
        "--no-verify",
        "--by-api",
        "--service",
        "--api-key-stdin",
        "--show-secrets",
    ),
    "send-test": (
        "--incident-id",
        "--set",
        "--payload",
        "--timeout",
        "--retries",
        "--no-test-marker",
        "--envelope",
        "--verify",
        "--verify-timeout",
    ),
    "replay": (
        "--incident-id",
        "--set",
        "--concurrency",
        "--rate",
        "--workers",
        "--real-targets",
        "--no-cleanup",
        "--timeout",
        "--retries",
        "--no-test-marker",
        "--envelope",
        "--verify",
        "--verify-timeout",
        "--junit",
    ),
}
ADVANCED_PANEL = "Advanced"


def load_command(name: str) -> Any:
    """Import one command's module and build its click command."""
    entry = COMMANDS[name]
    module = importlib.import_module(f"bp_integrate.commands.{entry.module}")
    target = getattr(module, entry.attribute)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        tidy_help(group, name)
        return group
    single = typer.Typer(context_settings=CONTEXT_SETTINGS, add_completion=False)
    single.command(name)(target)
    command = typer.main.get_command(single)
    tidy_help(command, name)
    return command


def tidy_help(command: Any, name: str) -> None:
    """Lay out the help of a command and its subcommands: options with their own names
    (see `tidy_options`), the help option included, and the advanced ones in their panel.
    Each command also knows --profile (hidden), so that completion after the command
    (`show xmatters -p <TAB>`) offers profile names."""
    command.help = unwrapped(command.help)
    ctx = typer.Context(command, help_option_names=list(CONTEXT_SETTINGS["help_option_names"]))
    help_option = command.get_help_option(ctx)  # made once, kept: tidied like the rest
    tidy_options([*command.params, help_option], ADVANCED.get(name, ()))
    subcommands = getattr(command, "commands", None) or {}
    for sub_name, sub in subcommands.items():
        tidy_help(sub, f"{name} {sub_name}")
    if not subcommands and not any("--profile" in p.opts for p in command.params):
        command.params.append(profile_after_command())


def unwrapped(text: str | None) -> str | None:
    """A command's help with each paragraph on one line, for the terminal to wrap.

    typer's rich help keeps the line breaks of every paragraph after the first, so the
    docstring's own wrapping showed through ("replay," alone on a line of an 80-column
    terminal). A shell command continued over lines (each ending in a backslash) keeps
    its breaks, as does a paragraph click marks "do not rewrap".
    """
    if not text:
        return text

    def one_line(paragraph: str) -> str:
        if paragraph.startswith("\b") or " \\\n" in paragraph:
            return paragraph
        return " ".join(line.strip() for line in paragraph.split("\n"))

    return "\n\n".join(one_line(p) for p in inspect.cleandoc(text).split("\n\n"))


def profile_after_command() -> Any:
    """--profile after a command, for completion only: the group hoists `-p NAME` before
    the command (`hoist_profile`), so this option never receives a value itself."""
    holder = typer.Typer(add_completion=False)

    @holder.command()
    def _holder(
        profile: Annotated[
            str | None,
            typer.Option(
                *PROFILE_FLAGS, metavar="NAME", hidden=True, autocompletion=complete_profile
            ),
        ] = None,
    ) -> None:  # pragma: no cover - only its option is used
        del profile

    option = typer.main.get_command(holder).params[0]
    option.expose_value = False
    return option


def tidy_options(params: list[Any], advanced: tuple[str, ...] = ()) -> None:
    """A flag shows no type (typer's rich help prints `<bool>` after every flag), a
    value its name (`--service SERVICE`, not `<str>`) unless a metavar says better
    (`FILE`, `SECONDS`), and an option of `advanced` goes in the Advanced panel."""
    for param in params:
        if not isinstance(param, TyperOption):
            continue
        if param.metavar is None and not param.type_descriptor.is_choice:
            param.metavar = "" if param.is_flag else (param.name or "value").upper()
        if any(opt in advanced for opt in param.opts):
            param.rich_help_panel = ADVANCED_PANEL


def help_may_print(args: list[str]) -> bool:
    """Whether this command line may print help (asked for, or a group given no command)."""
    if "--" in args:
        args = args[: args.index("--")]
    if not args or any(a in CONTEXT_SETTINGS["help_option_names"] for a in args):
        return True
    words = [a for a in args if not a.startswith("-")]
    return len(words) == 1 and words[0] in COMMANDS and COMMANDS[words[0]].attribute == "app"


PROFILE_FLAGS = ("--profile", "-p")


def hoist_profile(args: list[str]) -> list[str]:
    """`bp-integrate show xmatters -p prod` -> `bp-integrate -p prod show xmatters`:
    --profile is a global option, but people type it after the command too."""
    command_at = next((i for i, a in enumerate(args) if a in COMMANDS), None)
    if command_at is None:
        return args
    head, rest, hoisted = args[: command_at + 1], [], []
    tail = args[command_at + 1 :]
    i = 0
    while i < len(tail):
        arg = tail[i]
        if arg == "--":
            rest += tail[i:]
            break
        if arg in PROFILE_FLAGS and i + 1 < len(tail):
            hoisted += [arg, tail[i + 1]]
            i += 2
            continue
        if arg.startswith("--profile="):
            hoisted.append(arg)
        else:
            rest.append(arg)
        i += 1
    if not hoisted:
        return args
    return head[:command_at] + hoisted + head[command_at:] + rest


def wants_json(ctx: typer.Context) -> bool:
    """Whether the command line asked for --json (before any `--`)."""
    args: list[str] = ctx.meta.get("bp_argv", [])
    if "--" in args:
        args = args[: args.index("--")]
    return "--json" in args


class Group(TyperGroup):
    """Loads commands on demand, and catches every expected error in one place."""

    _listing_help = False

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        ctx.meta["bp_argv"] = list(args)
        if help_may_print(list(args)):
            from bp_integrate import ui

            ui.help_like_our_output()
        try:
            return super().parse_args(ctx, hoist_profile(list(args)))
        except BrokenPipeError:
            # `bp-integrate --help | head`: the reader went away, as for any output.
            from bp_integrate import ui

            ui.silence(sys.stdout)
            raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None

    def get_params(self, ctx: typer.Context) -> list[Any]:  # type: ignore[override]
        params: list[Any] = super().get_params(ctx)
        tidy_options(params)
        return params

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        return list(COMMANDS)

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:  # type: ignore[override]
        if cmd_name not in COMMANDS:
            return None
        if self._listing_help and cmd_name not in self.commands:
            entry = COMMANDS[cmd_name]
            return TyperCommand(name=cmd_name, help=entry.help, rich_help_panel=entry.panel)
        if cmd_name not in self.commands:
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:  # type: ignore[override]
        self._listing_help = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing_help = False

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> Any:  # type: ignore[override]
        from bp_integrate.errors import nearest

        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS:
            guess = nearest(name, list(COMMANDS))
            hint = f" Did you mean '{guess}'?" if guess else ""
            raise typer.BadParameter(
                f"No such command '{name}'.{hint} See bp-integrate --help.",
                param_hint="COMMAND",
            )
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            if sys.stdout is None or sys.stdout.closed:
                # Started with stdout closed (`>&-`): the next file opened would take its
                # place, and output would land in it. Refuse before anything is opened.
                raise BPError(
                    "Standard output is closed, so bp-integrate cannot print its results.",
                    "Run it with stdout open (redirect to /dev/null to discard the output).",
                )
            return super().invoke(ctx)
        except BPError as error:
            from bp_integrate import ui

            ui.error(error.message, error.hint)
            if wants_json(ctx):
                # A script reading stdout gets the error as data too.
                with ui.reader_may_leave():
                    ui.emit_json(
                        {
                            "error": {
                                "code": int(error.code),
                                "name": error.code.name.lower(),
                                "message": error.message,
                                "hint": error.hint,
                            }
                        }
                    )
            raise typer.Exit(int(error.code)) from None
        except (KeyboardInterrupt, typer.Abort):
            from bp_integrate import ui
            from bp_integrate.signals import stop_taking_interrupts

            stop_taking_interrupts()  # a second Ctrl-C now would end us by signal (-2)

            # Only the commands that change settings promise to roll back; a send
            # interrupted half-way has sent what it sent (its own report says what).
            changes = ctx.invoked_subcommand in ("install", "uninstall", "profile")
            message = "Interrupted: nothing was changed." if changes else "Interrupted."
            ui.err().print(f"\n{message}", style="yellow")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as Unix tools do.
            from bp_integrate import ui

            ui.silence(sys.stdout)
            raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
        except (typer.Exit, typer.TyperException):
            raise  # exits and usage errors (unknown option, missing argument): typer's own
        except OSError as error:
            known = _os_error(error)
            if known is None or os.environ.get("BP_INTEGRATE_DEBUG"):
                raise
            from bp_integrate import ui

            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                ui.silence(sys.stdout)  # the final flush would fail the same way
            ui.error(known.message, known.hint)
            raise typer.Exit(int(known.code)) from None
        except Exception as error:
            if os.environ.get("BP_INTEGRATE_DEBUG"):
                raise
            from bp_integrate import ui
            from bp_integrate.urls import scrub_text

            ui.error(
                f"unexpected {type(error).__name__}: {scrub_text(str(error))}",
                "This is a bug in bp-integrate. Run again with BP_INTEGRATE_DEBUG=1 to see "
                "the traceback (it may show secrets), and report it.",
            )
            raise typer.Exit(int(ExitCode.ERROR)) from None


def _os_error(error: OSError) -> BPError | None:
    """The user-caused OS failures (full disk, name too long, closed stream) as BPErrors."""
    name = f" ({error.filename})" if error.filename else ""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return BPError(
            f"No space left on the device{name or ' (writing the output)'}.",
            "Free some space (or send the output elsewhere), then run the command again.",
        )
    if error.errno == errno.ENAMETOOLONG:
        shown = str(error.filename or "")[:60]
        return BPError(
            f"A file name is too long for the file system ({shown}...).",
            "Use a shorter name or path (most file systems allow 255 bytes a name).",
            ExitCode.USAGE,
        )
    if error.errno == errno.EBADF:
        return BPError(
            "A standard stream (stdin or stdout) is closed.",
            "Run bp-integrate with stdin and stdout open (use /dev/null to discard output).",
        )
    return None


app = typer.Typer(
    name="bp-integrate",
    cls=Group,
    help="New here? `bp-integrate demo` shows it all working locally: no account, no "
    "network.\n\n"
    "Set up, tear down and test BigPanda outbound integrations (bp-integrate list shows "
    "them; bp-integrate status says whether all is well). Every command's --help ends "
    "with examples.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings=CONTEXT_SETTINGS,
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
            metavar="NAME",
            help="Settings profile to use (config dir: $BP_INTEGRATE_CONFIG_DIR); also "
            "accepted after the command.",
            autocompletion=complete_profile,
        ),
    ] = "default",
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Set up, tear down and test BigPanda outbound integrations."""
    from bp_integrate.errors import UsageError

    if not PROFILE_NAME.fullmatch(profile):
        raise UsageError(
            f"{profile!r} is not a profile name.",
            "Use letters, digits, '-', '_' and '.', starting with a letter or digit "
            "(at most 64 characters).",
        )
    from bp_integrate.app import App

    source = ctx.get_parameter_source("profile")
    given = source is not None and source.name != "DEFAULT"
    ctx.obj = App(profile, profile_given=given)
    check_profile(ctx, profile)


#: Commands that need no existing profile: they create one (install, profile set; `list`
#: is what one looks at before installing: it says the profile is new), make their own
#: (demo), take profile names as arguments (profile list/delete/rename/copy), or use none
#: (receiver, encode, history: runs of every profile).
CREATES_PROFILE = {("install",), ("profile", "set"), ("list",)}
NEEDS_NO_PROFILE = {
    ("demo",),
    ("receiver",),
    ("encode",),
    ("history",),
    ("profile", "list"),
    ("profile", "delete"),
    ("profile", "rename"),
    ("profile", "copy"),
}


def check_profile(ctx: typer.Context, profile: str) -> None:
    """A mistyped --profile is an error naming the nearest one (exit 3), never a silent
    new empty profile; `install` and `profile set` create it and say so."""
    if profile == "default":
        return  # always there: and a default run reads no YAML before it needs to
    args = hoist_profile(list(ctx.meta.get("bp_argv", [])))
    if "--" in args:
        args = args[: args.index("--")]
    if any(a in ("--help", "-h") for a in args):
        return
    command = ctx.invoked_subcommand or ""
    after = args[args.index(command) + 1 :] if command in args else []
    words = [a for a in after if not a.startswith("-")]
    key = (command, words[0]) if command == "profile" and words else (command,)
    if key in NEEDS_NO_PROFILE or key == ("profile",):  # `profile` alone: its help
        return
    from bp_integrate import config

    cfg = ctx.obj.config
    if cfg.has_profile(profile):
        return
    if key in CREATES_PROFILE:
        from bp_integrate import ui

        if key == ("list",):
            ui.say(f"Profile {profile!r} does not exist yet (install creates it).")
        elif "--dry-run" in args:
            ui.say(f"Profile {profile!r} is new: a dry run does not create it.")
        else:
            # Said before, confirmed after: an install or profile set that fails creates
            # nothing (install says "Created profile ..." once it has saved).
            ui.say(
                f"Profile {profile!r} is new: it will be created in {config.config_path()} "
                "if this succeeds."
            )
        return
    cfg.require_profile(profile)


def main() -> None:
    from bp_integrate.signals import sigterm_as_ctrl_c

    with sigterm_as_ctrl_c(entry_point=True):
        app()
