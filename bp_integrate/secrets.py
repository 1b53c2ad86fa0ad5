"""The one home of secrets: the OS keyring, or (asked for by name) env vars or a 0600 file.

Keyring entries live under service `bp-integrate`, one per profile/integration/field
(`default/xmatters/password`). Keyring calls run with a time limit, because a locked
Secret Service can wait forever for a desktop prompt that never comes on a server.
There is never a silent plain-text fallback: with no working keyring the user is
told the choices.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from bp_integrate.errors import SecretsError
from bp_integrate.fs import atomic_write, check_private, config_dir, locked, state_dir

SERVICE = "bp-integrate"
INSECURE_FILE = "INSECURE-plaintext-secrets.json"
StoreKind = Literal["keyring", "env", "file"]
STORE_KINDS: tuple[StoreKind, ...] = ("keyring", "env", "file")

T = TypeVar("T")


def as_store_kind(value: object, default: StoreKind = "keyring") -> StoreKind:
    """A store kind read from settings (`default` when absent or unknown)."""
    return next((kind for kind in STORE_KINDS if kind == value), default)


def where_kept(kind: StoreKind) -> str:
    """Where a store keeps a secret, in words ("in the keyring")."""
    return {"keyring": "in the keyring", "file": "in the plain-text file", "env": "nowhere"}[kind]


def store_title(kind: StoreKind) -> str:
    """A store by name, in words ("the keyring", "the plain-text file")."""
    return {"keyring": "the keyring", "file": "the plain-text file", "env": "the environment"}[kind]


def entry_name(profile: str, integration: str, field: str) -> str:
    return f"{profile}/{integration}/{field}"


#: Between a field and its generation in a stored entry's name (`trigger_url.apiKey#2`).
GENERATION_MARK = "#"


def versioned(field: str, generation: int) -> str:
    """The stored name of `field` written by generation `generation` of an install (0:
    the plain name). A re-install writes its secrets under a fresh generation and then
    switches the config to it, so a kill between the writes never pairs one install's
    settings with another's secrets."""
    return f"{field}{GENERATION_MARK}{generation}" if generation else field


def base_field(field: str) -> str:
    """`field` without its generation (what its environment variable is named after)."""
    return field.partition(GENERATION_MARK)[0]


DEFAULT_PROFILE = "default"


def _upper_name(text: str) -> str:
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in text.upper())


def env_prefix(profile: str | None) -> str:
    """The start of a profile's variables: `BP_INTEGRATE_` for the default profile (the
    shared names), `BP_INTEGRATE_PROD_` for `prod` (`-`, `.` and every other character
    that is not a letter or digit become `_`: `eu-west.2` -> `BP_INTEGRATE_EU_WEST_2_`)."""
    if profile is None or profile == DEFAULT_PROFILE:
        return "BP_INTEGRATE_"
    return f"BP_INTEGRATE_{_upper_name(profile)}_"


def env_var(integration: str, field: str, profile: str | None = None) -> str:
    """The variable that holds a secret for `profile`.

    The default profile (or no profile named) reads the shared name,
    `BP_INTEGRATE_XMATTERS_PASSWORD` (a URL's key: `BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY`);
    any other profile reads only its own, `BP_INTEGRATE_PROD_XMATTERS_PASSWORD`, so a
    variable exported for one profile never reaches another.
    """
    return env_prefix(profile) + _upper_name(f"{integration}_{field}")


@dataclass(frozen=True)
class Found:
    """A secret for use and where it came from: `variable` is None when the store gave it."""

    value: str
    variable: str | None = None


def keyring_timeout() -> float:
    try:
        return float(os.environ.get("BP_INTEGRATE_KEYRING_TIMEOUT", "10"))
    except ValueError:
        return 10.0


class SecretStore(Protocol):
    kind: StoreKind

    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str) -> None: ...
    def delete(self, key: str) -> bool: ...
    def check(self) -> None: ...


def _no_keyring(reason: str) -> SecretsError:
    return SecretsError(
        f"No working OS keyring: {reason}.",
        "Choose one: unlock or install a keyring (GNOME Keyring / KWallet / macOS Keychain); "
        "or keep secrets in environment variables with --secret-store env (set "
        "BP_INTEGRATE_<INTEGRATION>_<FIELD> for the default profile, "
        "BP_INTEGRATE_<PROFILE>_<INTEGRATION>_<FIELD> for another, wherever bp-integrate "
        "runs); or --insecure-storage "
        f"to keep them in a plain-text 0600 file ({INSECURE_FILE}) in the config folder.",
    )


def _bounded(call: Callable[[], T], what: str) -> T:
    """Run a keyring call in a daemon thread; give up after the time limit."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="bp-integrate-keyring", daemon=True)
    worker.start()
    worker.join(keyring_timeout())
    if worker.is_alive():
        raise _no_keyring(f"the keyring did not answer within {keyring_timeout():g} s ({what})")
    if "error" in box:
        error = box["error"]
        if isinstance(error, SecretsError):
            raise error
        raise _no_keyring(f"{type(error).__name__} while trying to {what}: {error}")
    return box["value"]  # type: ignore[return-value]


class KeyringStore:
    kind: StoreKind = "keyring"

    def __init__(self) -> None:
        self._checked = False

    def _keyring(self) -> Any:
        import keyring
        from keyring.backends import fail

        if not self._checked:
            backend = keyring.get_keyring()
            inner = getattr(backend, "backends", None)
            if isinstance(backend, fail.Keyring) or inner == [] or backend.priority <= 0:
                raise _no_keyring(f"no usable backend was found ({type(backend).__name__})")
            self._checked = True
        return keyring

    def get(self, key: str) -> str | None:
        value: str | None = _bounded(
            lambda: self._keyring().get_password(SERVICE, key), f"read {key}"
        )
        return value

    def set(self, key: str, value: str) -> None:
        # Named in the index first: a keyring cannot list its entries, and a kill right
        # after the write must not leave one no command can find (`doctor` removes it).
        index_add(key)
        _bounded(lambda: self._keyring().set_password(SERVICE, key, value), f"store {key}")

    def delete(self, key: str) -> bool:
        def remove() -> bool:
            kr = self._keyring()
            from keyring.errors import PasswordDeleteError

            if kr.get_password(SERVICE, key) is None:
                return False
            try:
                kr.delete_password(SERVICE, key)
            except PasswordDeleteError:
                return False
            return True

        removed: bool = _bounded(remove, f"delete {key}")
        index_discard([key])
        return removed

    def keys(self) -> list[str]:
        """The entries this tool wrote that the keyring still has (from the index)."""
        return [key for key in index_keys() if self.get(key) is not None]

    def check(self) -> None:
        """Fail now, before a walkthrough, if the keyring is missing, locked or hangs."""
        _bounded(lambda: self._keyring().get_password(SERVICE, "bp-integrate/probe"), "read")


class EnvStore:
    """Nothing is stored: each secret is read from its environment variable at use."""

    kind: StoreKind = "env"

    def get(self, key: str) -> str | None:
        profile, integration, field = key.split("/", 2)
        variable = env_var(integration, base_field(field), profile)
        return os.environ.get(variable) or None  # empty = not set

    def set(self, key: str, value: str) -> None:
        return None

    def delete(self, key: str) -> bool:
        return False

    def check(self) -> None:
        return None


class FileStore:
    """Plain text in a 0600 file, only when the user asked with --insecure-storage."""

    kind: StoreKind = "file"

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / INSECURE_FILE

    def _load(self) -> dict[str, str]:
        from bp_integrate import loading

        if not self.path.exists():
            return {}
        check_private(self.path, "the secrets file")
        hint = "Fix or delete the file, then run the install again."
        data = loading.load_json(self.path, "secrets file", hint, _secrets_error(self.path))
        secrets = data.get("secrets", {}) if isinstance(data, dict) else {}
        if not isinstance(secrets, dict):
            raise SecretsError(f"Cannot read {self.path}: 'secrets' is not a mapping.", hint)
        return {str(k): str(v) for k, v in secrets.items()}

    def _locked(self) -> Any:
        """The lock of the store's folder: every read-modify-write holds it."""
        return locked(self.path, f"the secrets file {self.path}")

    def _save(self, secrets: dict[str, str]) -> None:
        doc = {
            "WARNING": "Plain-text secrets written by bp-integrate --insecure-storage. "
            "Anyone who can read this file can use them.",
            "secrets": secrets,
        }
        atomic_write(self.path, json.dumps(doc, indent=2) + "\n")

    def get(self, key: str) -> str | None:
        return self._load().get(key)

    def set(self, key: str, value: str) -> None:
        with self._locked():
            secrets = self._load()
            secrets[key] = value
            self._save(secrets)

    def delete(self, key: str) -> bool:
        with self._locked():
            secrets = self._load()
            if key not in secrets:
                return False
            del secrets[key]
            self._save(secrets)
            return True

    def check(self) -> None:
        self._load()

    def keys(self) -> list[str]:
        return sorted(self._load())


# --------------------------------------------------------------------------- the index

KEYRING_INDEX = "keyring-index.json"


def index_path() -> Path:
    """The names (never the values) of the keyring entries bp-integrate wrote: a keyring
    backend cannot list its entries, so this is how an orphaned one is found. A state
    file (beside the run history), not a setting."""
    return state_dir() / KEYRING_INDEX


def index_keys() -> list[str]:
    """The names in the index; an unreadable index counts as empty (it is only a list of
    names: `doctor` rebuilds what it can from the config)."""
    try:
        data = json.loads(index_path().read_text("utf-8"))
    except (OSError, ValueError):
        return []
    names = data.get("entries") if isinstance(data, dict) else None
    return sorted(str(n) for n in names) if isinstance(names, list) else []


def _write_index(names: set[str]) -> None:
    doc = {
        "NOTE": "The names of the keyring entries (service bp-integrate) that bp-integrate "
        "wrote; no secret is in this file. bp-integrate doctor finds orphans with it.",
        "entries": sorted(names),
    }
    atomic_write(index_path(), json.dumps(doc, indent=2) + "\n")


def index_add(key: str) -> None:
    with locked(index_path(), f"the keyring index {index_path()}"):
        names = set(index_keys())
        if key not in names:
            _write_index(names | {key})


def index_discard(keys: Sequence[str]) -> None:
    with locked(index_path(), f"the keyring index {index_path()}"):
        names = set(index_keys())
        if names & set(keys):
            _write_index(names - set(keys))


def stored_keys(kind: StoreKind) -> list[str]:
    """Every entry a store holds that bp-integrate wrote (the env store holds none)."""
    if kind == "keyring":
        return KeyringStore().keys()
    if kind == "file":
        return FileStore().keys()
    return []


def _secrets_error(path: Path) -> Callable[[str, str | None], SecretsError]:
    """A `loading.ErrorKind` for the secrets file: exit 4, "Cannot read <file>: ..."."""

    def make(message: str, hint: str | None = None) -> SecretsError:
        if not message.startswith("Cannot read"):
            message = f"Cannot read {path}: {message[:1].lower()}{message[1:]}"
        return SecretsError(message, hint)

    return make


def keyring_backend() -> str:
    """The keyring backend in use (`module.Class`), once it has answered a read within
    the time limit; SecretsError if it is missing, locked or hangs (for `doctor`)."""
    store = KeyringStore()
    store.check()
    backend = type(_bounded(lambda: store._keyring().get_keyring(), "name the backend"))
    return f"{backend.__module__}.{backend.__qualname__}"


def open_store(kind: StoreKind) -> SecretStore:
    if kind == "keyring":
        return KeyringStore()
    if kind == "env":
        return EnvStore()
    return FileStore()


def keyring_works() -> bool:
    """Whether the OS keyring answers now (within the time limit)."""
    try:
        KeyringStore().check()
    except SecretsError:
        return False
    return True


def lookup(store: SecretStore, profile: str, integration: str, field: str) -> str | None:
    """A secret for use: the profile's environment variable (`env_var`) wins, then the
    store. `find` says which of the two gave it."""
    found = find(store, profile, integration, field)
    return found.value if found else None


def find(
    store: SecretStore | None,
    profile: str,
    integration: str,
    field: str,
    generation: int = 0,
) -> Found | None:
    """A secret for use and its source: the profile's environment variable (`env_var`:
    the shared name only for the default profile), then the store (None: not asked),
    under the entry of the install's `generation` (`versioned`).

    A value from the environment is checked as install checks it (no CR/LF, only
    what a header or URL can carry): the message names the variable, never the value.
    """
    variable = env_var(integration, field, profile)
    from_env = os.environ.get(variable)
    if from_env:
        check_env_secret(variable, field, from_env)
        return Found(from_env, variable)
    if store is None:
        return None
    stored = store.get(entry_name(profile, integration, versioned(field, generation)))
    return Found(stored) if stored is not None else None


def find_available(kind: StoreKind, profile: str, integration: str, field: str) -> Found | None:
    """`find` in the `kind` store for a caller that goes on without the secret (it asks
    for it, or names what is missing): a store that cannot answer (no keyring) leaves
    the profile's variable alone, and a variable `find` refuses counts as not set. The
    one lookup of the profile's BigPanda secrets (its User API key, org token, canary
    App Key) for install, show, verify and verify-setup."""
    try:
        return find(open_store(kind), profile, integration, field)
    except SecretsError:
        try:
            return find(None, profile, integration, field)
        except SecretsError:
            return None


def overriding(store_kind: str, found: Found | None) -> str | None:
    """The variable that overrides a store other than `env` (None: none does): what a
    command that sends or shows names on stderr, and doctor marks [warn]."""
    if found is None or found.variable is None or store_kind == "env":
        return None
    return found.variable


def override_notice(variable: str, profile: str, what: str, store_kind: str) -> str:
    """The one line said when a variable overrides a stored secret (never the value)."""
    return (
        f"Note: {variable} is set: it overrides the {store_kind} store's {what} "
        f"for profile {profile!r}."
    )


def check_env_secret(variable: str, field: str, value: str) -> None:
    """SecretsError if the environment variable's value would break every send."""
    from bp_integrate.urls import wire_problem

    name = field.rpartition(".")[2]
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        problem: str | None = "has a line break or another control character"
    else:
        problem = wire_problem(name, value, secret=True)
    if problem:
        raise SecretsError(
            f"The environment variable {variable} {problem.rstrip('.')}.",
            f'Set {variable} to the value alone (e.g. export {variable}="$(cat key.txt)" '
            "strips the trailing newline).",
        )


def copy_entries(
    entries: list[tuple[StoreKind, str, str]], source: str, target: str
) -> list[tuple[StoreKind, str]]:
    """Copy a profile's stored secrets to another profile's entries; return what was
    written, for `delete_entries` to undo or to finish a move. An entry the source
    store no longer has is skipped (its install asks again). The env store keeps
    nothing: the target profile reads its own variables (`env_var`)."""
    written: list[tuple[StoreKind, str]] = []
    try:
        for kind, integration, field in entries:
            if kind == "env":
                continue
            store = open_store(kind)
            value = store.get(entry_name(source, integration, field))
            if value is None:
                continue
            key = entry_name(target, integration, field)
            store.set(key, value)
            written.append((kind, key))
    except BaseException:
        delete_entries(written)  # all or nothing: an interrupted copy leaves no half
        raise
    return written


def delete_entries(entries: Sequence[tuple[StoreKind, str]]) -> tuple[list[str], list[str]]:
    """Delete store entries: (removed, left with the reason). Never raises SecretsError."""
    removed: list[str] = []
    left: list[str] = []
    for kind, key in entries:
        if kind == "env":
            profile, integration, field = key.split("/", 2)
            field = base_field(field)
            shared = " (the shared name: other profiles' installs may read it)"
            left.append(
                f"{env_var(integration, field, profile)} (an environment variable: unset it "
                f"where bp-integrate runs{shared if profile == DEFAULT_PROFILE else ''})"
            )
            continue
        try:
            if open_store(kind).delete(key):
                removed.append(f"{kind} entry {key}")
        except SecretsError as error:
            left.append(f"{kind} entry {key}: {error.message}")
    return removed, left


def profile_entries(
    entries: list[tuple[StoreKind, str, str]], profile: str
) -> list[tuple[StoreKind, str]]:
    """(store, entry name) of `entries` (as `Config.secret_entries` lists them)."""
    return [(kind, entry_name(profile, integration, field)) for kind, integration, field in entries]
