"""`bp-integrate encode basic-auth`: the Authorization header value, per RFC 7617."""

from __future__ import annotations

from typing import Annotated

import typer

from bp_integrate import ui
from bp_integrate.commands.common import JsonOpt
from bp_integrate.errors import UsageError
from bp_integrate.integrations.base import basic_auth

app = typer.Typer(
    help="Encode values BigPanda integrations need.\n\n"
    "Examples:\n\n"
    "bp-integrate encode basic-auth -u xm-user   (asks for the password)",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("basic-auth")
def basic_auth_command(
    username: Annotated[str, typer.Option("--username", "-u", help="The user-id (no ':').")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Print 'Basic <base64(user:password)>' for an Authorization header.

    With --json: {"header": "Authorization", "value": "Basic ..."} on stdout.

    Examples:

    printf '%s\\n' "$PASSWORD" | bp-integrate encode basic-auth -u xm-user \\
      --password-stdin

    bp-integrate encode basic-auth -u xm-user --json   (asks for the password)
    """
    if ":" in username:
        basic_auth(username, "")  # raises the explained refusal
    if password_stdin:
        from bp_integrate.loading import read_stdin_line

        line = read_stdin_line(
            "--password-stdin",
            "Pipe the password on one UTF-8 line, e.g. printf '%s\\n' \"$PASSWORD\" | ...",
        )
        if not line:
            raise UsageError(
                "--password-stdin: standard input is empty.",
                "Pipe the password on one line, e.g. printf '%s\\n' \"$PASSWORD\" | ...",
            )
        password = line.rstrip("\r\n")
    elif ui.stdin_is_tty():
        password = typer.prompt("Password", hide_input=True, err=True)
    else:
        raise UsageError(
            "No password: stdin is not a terminal.",
            "Pipe it in with --password-stdin (never put it on the command line).",
        )
    value = basic_auth(username, password)
    if json_output:
        ui.emit_json({"header": "Authorization", "value": value})
        return
    ui.data(value)
