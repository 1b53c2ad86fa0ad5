"""The one error type of bp-integrate and the exit codes it maps to.

Everything a user can cause raises `BPError` with a hint naming the fix; the CLI
catches it in one place (`cli.main`) and exits with the error's code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a bp-integrate exit status means (documented in the README)."""

    OK = 0
    ERROR = 1  # something went wrong that is not one of the below
    USAGE = 2  # bad command line or bad value (same as click's usage error)
    CONFIG = 3  # config file unreadable or corrupt, integration not installed
    SECRETS = 4  # keyring unavailable or a secret missing
    NETWORK = 5  # could not reach an endpoint (refused, DNS, timeout)
    REJECTED = 6  # an endpoint answered with an error (4xx/5xx)
    PARTIAL = 7  # some sends of a replay succeeded and some failed
    INTERRUPTED = 130  # Ctrl-C, as 128 + SIGINT
    BROKEN_PIPE = 141  # stdout closed by its reader (e.g. `| head`), as 128 + SIGPIPE
    TERMINATED = 143  # SIGTERM (kill, timeout, a cancelled CI job), as 128 + SIGTERM


class BPError(Exception):
    """An expected failure: a message, a hint naming the fix, and an exit code."""

    def __init__(
        self, message: str, hint: str | None = None, code: ExitCode = ExitCode.ERROR
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(BPError):
    """A bad value on the command line, in an answers file or at a prompt."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint, ExitCode.USAGE)


class ConfigError(BPError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint, ExitCode.CONFIG)


class SecretsError(BPError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint, ExitCode.SECRETS)


class NetworkError(BPError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint, ExitCode.NETWORK)


def nearest(name: str, choices: list[str]) -> str | None:
    """The closest of `choices` to a mistyped `name`, if any is close enough."""
    import difflib

    found = difflib.get_close_matches(name.lower(), choices, n=1, cutoff=0.6)
    if found:
        return found[0]
    prefixed = [c for c in choices if c.startswith(name.lower()[:3])] if len(name) >= 3 else []
    return prefixed[0] if prefixed else None


def command_for(profile: str | None, args: str) -> str:
    """`bp-integrate ARGS` to suggest in a hint, naming the profile unless it is the
    default one (a hint followed as printed must act on the profile the user is in)."""
    if profile and profile != "default":
        return f"bp-integrate --profile {profile} {args}"
    return f"bp-integrate {args}"


def plural(count: int, word: str, words: str | None = None) -> str:
    """`1 step`, `5 steps`; `words` for a plural not made with an s (`1 body`, `2 bodies`)."""
    return f"{count} {word if count == 1 else words or word + 's'}"
