"""The settings file: one YAML document of profiles, each with its integrations.

Only settings live here. Secrets are in the keyring (see `secrets`); a URL that
carries a key is stored with the key masked as `****`.

Writers lose nothing: `save()` takes the file's lock, re-reads it, and applies only
what this process changed (a three-way merge), so two installs of different
integrations at once both land. The file is read through `loading` (bounded,
located errors, exit 3), its types are checked with their place, and a folder or
file others could have written is refused (`fs.check_private`). Comments: PyYAML
drops them, so the leading comment block of the file is kept on every write
(ruamel.yaml would keep all of them, but is a new dependency and slower to import).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from bp_integrate.errors import ConfigError
from bp_integrate.fs import atomic_write, check_private, config_dir, locked, write_target
from bp_integrate.secrets import STORE_KINDS, StoreKind, as_store_kind, versioned

CONFIG_FILE = "config.yaml"
HEADER = (
    "# bp-integrate settings.\n"
    "# Secrets are never in this file (see secret_store and secrets per integration).\n"
)

DEFAULT_PROFILE = "default"
#: verify's secrets of BigPanda itself (kept in the profile's `verify_store`).
VERIFY_BIGPANDA_SECRETS = ("org_token", "canary_app_key")
REGIONS = {"us": "https://api.bigpanda.io", "eu": "https://eu-api.bigpanda.io"}


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class Installed:
    """One integration as installed in one profile."""

    name: str
    values: dict[str, str]
    secret_fields: list[str] = field(default_factory=list)
    secret_store: StoreKind = "keyring"
    installed_at: str = ""
    updated_at: str = ""
    #: Which write of the secrets the settings go with (`secrets.versioned`); 0: the
    #: plain entry names (a first install, and every file written before generations).
    generation: int = 0

    def to_yaml(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "settings": dict(self.values),
            "secret_store": self.secret_store,
            "secrets": sorted(self.secret_fields),
            "installed_at": self.installed_at,
            "updated_at": self.updated_at,
        }
        if self.generation:
            doc["secrets_generation"] = self.generation
        return doc

    def entry_field(self, field: str) -> str:
        """The stored name of one of its secrets (`field#generation`)."""
        return versioned(field, self.generation)

    @classmethod
    def from_yaml(cls, name: object, raw: object, where: str) -> Installed:
        """One integration's entry, every type checked and any fault located."""
        if not isinstance(name, str):
            raise ConfigError(
                f"{where}: integration key {name!r} is not an integration name.", _fix_hint()
            )
        at = f"{where}: integration {name!r}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{at} is not a mapping.", _fix_hint())
        settings = raw.get("settings") or {}
        store = raw.get("secret_store", "keyring")
        if not isinstance(settings, dict):
            raise ConfigError(f"{at}: 'settings' is not a mapping.", _fix_hint())
        if store not in STORE_KINDS:
            raise ConfigError(
                f"{at}: secret_store {store!r} is not one of {', '.join(STORE_KINDS)}.",
                _fix_hint(),
            )
        values: dict[str, str] = {}
        for key, value in settings.items():
            if not isinstance(key, str) or isinstance(value, dict | list):
                raise ConfigError(
                    f"{at}: setting {key!r} must be a name with a single value.", _fix_hint()
                )
            values[key] = "" if value is None else str(value)
        secrets = raw.get("secrets") or []
        if not isinstance(secrets, list) or not all(isinstance(s, str) for s in secrets):
            raise ConfigError(
                f"{at}: 'secrets' must be a list of field names, not {secrets!r}.", _fix_hint()
            )
        stamps = {k: raw.get(k, "") for k in ("installed_at", "updated_at")}
        for key, stamp in stamps.items():
            if isinstance(stamp, dict | list):
                raise ConfigError(f"{at}: {key!r} must be a time stamp.", _fix_hint())
        generation = raw.get("secrets_generation", 0)
        if not isinstance(generation, int) or isinstance(generation, bool) or generation < 0:
            raise ConfigError(
                f"{at}: 'secrets_generation' must be a whole number, not {generation!r}.",
                _fix_hint(),
            )
        return cls(
            name=name,
            values=values,
            secret_fields=list(secrets),
            secret_store=cast(StoreKind, store),
            installed_at=str(stamps["installed_at"] or ""),
            updated_at=str(stamps["updated_at"] or ""),
            generation=generation,
        )


def _fix_hint(path: Path | None = None) -> str:
    where = str(path) if path else "the config file"
    return f"Fix {where} by hand, or move it aside and run the install again."


class Config:
    """The parsed settings file. Changes happen in memory until `save()`."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self._original = copy.deepcopy(data)

    # -- profiles -----------------------------------------------------------
    def _profiles(self) -> dict[str, Any]:
        profiles = self.data.setdefault("profiles", {})
        if not isinstance(profiles, dict):
            raise ConfigError(f"{self.path}: 'profiles' is not a mapping.", _fix_hint(self.path))
        return profiles

    def profile_names(self) -> list[str]:
        return sorted(self._profiles())

    def has_profile(self, profile: str) -> bool:
        """`default` always exists (it is what a fresh install writes to); others once
        something created them (install, profile set, copy, rename)."""
        return profile == DEFAULT_PROFILE or profile in self._profiles()

    def require_profile(self, profile: str) -> None:
        """ConfigError naming the nearest profile if `profile` does not exist."""
        if self.has_profile(profile):
            return
        from bp_integrate.errors import nearest

        names = sorted({DEFAULT_PROFILE, *self._profiles()})
        guess = nearest(profile, names)
        raise ConfigError(
            f"There is no profile {profile!r} in {self.path}.",
            (f"Did you mean {guess!r}? " if guess else "")
            + f"Profiles: {', '.join(names)} (bp-integrate profile list). "
            f"bp-integrate --profile {profile} install <integration> or profile set creates it.",
        )

    def delete_profile(self, profile: str) -> bool:
        """Forget a profile's settings (its secrets are the caller's: `secret_entries`)."""
        return self._profiles().pop(profile, None) is not None

    def copy_profile(self, source: str, target: str, with_secrets: bool = False) -> None:
        """`target` gets `source`'s settings. Without `with_secrets` each integration still
        lists the secrets it needs, which its store does not have for `target`: `status`
        and `doctor` say they are missing, `set` or `install` gives them."""
        self._require_new(target)
        raw = copy.deepcopy(self._profile(source) or {})
        if not with_secrets:
            bp = raw.get("bigpanda")
            if isinstance(bp, dict):
                if bp.get("api_key_store") != "env":
                    bp["api_key_stored"] = False
                bp.pop("org_token_stored", None)
                bp.pop("readback_stored", None)
        self._profiles()[target] = raw

    def rename_profile(self, old: str, new: str) -> None:
        self._require_new(new)
        profiles = self._profiles()
        profiles[new] = profiles.pop(old, None) or {}

    def _require_new(self, name: str) -> None:
        if name in self._profiles():
            raise ConfigError(
                f"Profile {name!r} already exists.",
                f"Choose another name, or delete it first: bp-integrate profile delete {name}",
            )

    def secret_entries(self, profile: str) -> list[tuple[StoreKind, str, str]]:
        """(store, integration, stored field) of every secret the profile keeps in a store:
        its integrations' (under their generation: `Installed.entry_field`), its BigPanda
        API key, and verify's org token, canary App Key and read-back credentials (in the
        `verify_store` its settings name, the keyring by default)."""
        found: list[tuple[StoreKind, str, str]] = []
        for name, item in self.installed(profile).items():
            found += [
                (item.secret_store, name, item.entry_field(field)) for field in item.secret_fields
            ]
        bp = self.bigpanda(profile)
        kind = bp.get("api_key_store", "keyring")
        if bp.get("api_key_stored") and kind in STORE_KINDS:
            found.append((cast(StoreKind, kind), "bigpanda", "api_key"))
        verify = self.verify_store(profile)
        found += [(verify, name, field) for name, field in self.verify_entries(profile)]
        return found

    def verify_entries(self, profile: str) -> list[tuple[str, str]]:
        """(integration, field) of verify's secrets the profile records as stored, all in
        its `verify_store`: the org token, the canary App Key (as `bigpanda`) and the
        read-back credentials."""
        bp = self.bigpanda(profile)
        found = [
            ("bigpanda", secret)
            for secret in VERIFY_BIGPANDA_SECRETS
            if bp.get(f"{secret}_stored") is True
        ]
        return found + self.readback_stored(profile)

    def verify_store(self, profile: str) -> StoreKind:
        """Where the profile keeps verify's secrets (org token, canary App Key, read-back
        credentials): the store `profile set` or `verify-setup` recorded, the keyring by
        default."""
        return as_store_kind(self.bigpanda(profile).get("verify_store"))

    def readback_stored(
        self, profile: str, integration: str | None = None
    ) -> list[tuple[str, str]]:
        """(integration, field) of the read-back credentials the profile keeps."""
        stored = self.bigpanda(profile).get("readback_stored")
        if not isinstance(stored, dict):
            return []
        return [
            (name, field)
            for name, fields in stored.items()
            if isinstance(name, str)
            and isinstance(fields, list)
            and (integration is None or name == integration)
            for field in fields
            if isinstance(field, str)
        ]

    def set_readback_stored(self, profile: str, integration: str, fields: list[str]) -> None:
        """Record (or, with no fields, forget) an integration's stored read-back fields."""
        settings = dict(self.bigpanda(profile))
        record_readback(settings, integration, fields)
        self.set_bigpanda(profile, settings)

    def _profile(self, profile: str, create: bool = False) -> dict[str, Any] | None:
        profiles = self._profiles()
        if profile not in profiles:
            if not create:
                return None
            profiles[profile] = {}
        raw = profiles[profile]
        if raw is None:
            raw = profiles[profile] = {}
        if not isinstance(raw, dict):
            raise ConfigError(
                f"{self.path}: profile {profile!r} is not a mapping.", _fix_hint(self.path)
            )
        return raw

    def bigpanda(self, profile: str) -> dict[str, Any]:
        raw = self._profile(profile) or {}
        bp = raw.get("bigpanda") or {}
        return bp if isinstance(bp, dict) else {}

    def set_bigpanda(self, profile: str, settings: dict[str, Any]) -> None:
        raw = self._profile(profile, create=True)
        assert raw is not None
        raw["bigpanda"] = settings

    def api_url(self, profile: str) -> str:
        return str(self.bigpanda(profile).get("api_url") or REGIONS["us"])

    # -- integrations ---------------------------------------------------------
    def installed(self, profile: str) -> dict[str, Installed]:
        raw = self._profile(profile) or {}
        integrations = raw.get("integrations") or {}
        if not isinstance(integrations, dict):
            raise ConfigError(
                f"{self.path}: profile {profile!r} integrations is not a mapping.",
                _fix_hint(self.path),
            )
        return {
            name: Installed.from_yaml(name, value, str(self.path))
            for name, value in integrations.items()
        }

    def get(self, profile: str, name: str) -> Installed | None:
        return self.installed(profile).get(name)

    def put(self, profile: str, item: Installed) -> None:
        raw = self._profile(profile, create=True)
        assert raw is not None
        integrations = raw.setdefault("integrations", {})
        integrations[item.name] = item.to_yaml()

    def remove(self, profile: str, name: str) -> bool:
        raw = self._profile(profile) or {}
        integrations = raw.get("integrations") or {}
        if name in integrations:
            del integrations[name]
            return True
        return False

    # -- persistence ----------------------------------------------------------
    def original(self) -> dict[str, Any]:
        """The file as this process read it (or last saved it): what its decisions rest on."""
        return self._original

    def changed(self) -> bool:
        return self.data != self._original

    def save(self) -> None:
        """Write this process's changes over whatever the file holds now, under its lock.

        Another process may have saved since this one loaded: the file is re-read
        and only the parts changed here replace theirs, so nothing of theirs is lost.
        """
        import yaml

        class Dumper(yaml.SafeDumper):
            def ignore_aliases(self, data: Any) -> bool:
                return True  # never write anchors: the loader bounds them

        with locked(self.path, f"the config file {self.path}"):
            on_disk = _read(self.path)
            theirs = {} if on_disk is None else _parse(on_disk, self.path)
            merged = _merge(self._original, self.data, theirs)
            if not isinstance(merged, dict):
                merged = self.data
            merged.setdefault("version", 1)
            body = yaml.dump(merged, Dumper=Dumper, sort_keys=False, default_flow_style=False)
            atomic_write(self.path, _leading_comments(on_disk) + body)
        self.data = merged
        self._original = copy.deepcopy(merged)


def config_path() -> Path:
    return config_dir() / CONFIG_FILE


def load(path: Path | None = None) -> Config:
    """Read the settings file; a missing file is an empty config, a corrupt one an error."""
    path = path or config_path()
    check_private(path.parent, "the config folder")
    text = _read(path)
    if text is None:
        return Config(path, {"version": 1, "profiles": {}})
    check_private(write_target(path), "the config file")
    config = Config(path, _parse(text, path))
    for name in config._profiles():
        if not isinstance(name, str):
            raise ConfigError(
                f"{path}: profile key {name!r} is not a profile name.", _fix_hint(path)
            )
        _check_sections(config, name)
    return config


#: A profile's sections and what each holds, for the message when one is of another type.
SECTIONS = {
    "integrations": "the installed integrations by name",
    "bigpanda": "the BigPanda region and API key settings",
}


def _check_sections(config: Config, profile: str) -> None:
    """A profile's sections are mappings (`integrations: null` or a list, hand-edited,
    would otherwise fail at the next install with no word of where)."""
    raw = config._profile(profile) or {}
    for section, holds in SECTIONS.items():
        if section not in raw or isinstance(raw[section], dict):
            continue
        found = "empty (null)" if raw[section] is None else f"a {type(raw[section]).__name__}"
        raise ConfigError(
            f"{config.path}: profile {profile!r} has {section!r} {found}; it must be a "
            f"mapping of {holds}.",
            f"Edit {config.path}: remove the '{section}:' line of profile {profile!r} (or "
            f"write '{section}: {{}}'), or move the file aside and run the install again.",
        )


def _read(path: Path) -> str | None:
    """The file's text, None if there is none yet; ConfigError if it cannot be read."""
    from bp_integrate import loading

    if not path.exists() and not path.is_symlink():
        if path.parent.is_symlink() and not path.parent.exists():
            raise ConfigError(
                f"The config folder {path.parent} is a symbolic link to "
                f"{os.readlink(path.parent)}, which does not exist.",
                f"Create the folder it points to (mkdir -p {os.path.realpath(path.parent)}), "
                "remove the link, or point BP_INTEGRATE_CONFIG_DIR at a folder.",
            )
        if path.parent.exists() and not path.parent.is_dir():
            raise ConfigError(
                f"The config folder {path.parent} is not a folder.",
                "Point BP_INTEGRATE_CONFIG_DIR at a folder (it is created if missing).",
            )
        return None
    hint = _fix_hint(path) + " Nothing was changed."
    data = loading.read_bytes(path, "config file", ConfigError, hint, loading.MAX_BYTES)
    return loading.decode(data, "config file", str(path), ConfigError, hint)


def _parse(text: str, path: Path) -> dict[str, Any]:
    from bp_integrate import loading

    hint = _fix_hint(path) + " Nothing was changed."
    data = loading.parse_yaml(text, "config file", str(path), ConfigError, hint)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level is not a mapping.", _fix_hint(path))
    version = data.get("version", 1)
    if version != 1:
        raise ConfigError(
            f"{path} is a version {version!r} config file; this bp-integrate reads version 1.",
            "Use the bp-integrate that wrote it, or move the file aside and install again.",
        )
    return data


def _leading_comments(text: str | None) -> str:
    """The comment block the file starts with (the user's notes), else our HEADER."""
    if not text:
        return HEADER
    lines = []
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("#") or not line.strip():
            lines.append(line)
            continue
        break
    block = "".join(lines).rstrip("\n")
    return block + "\n" if block.strip() else HEADER


_MISSING: Any = object()


def _mergeable(path: tuple[Any, ...]) -> bool:
    """Mappings merged key by key: the file, `profiles`, a profile, its `integrations`.

    Below that a value is one unit (an integration's entry, a profile's `bigpanda`): two
    installs of the same integration never blend into a mix of both.
    """
    return len(path) <= 2 or (len(path) == 3 and path[2] == "integrations")


def _merge(base: Any, mine: Any, theirs: Any, path: tuple[Any, ...] = ()) -> Any:
    """Three-way merge: what changed from `base` to `mine`, applied on top of `theirs`.

    Different profiles and integrations never clash; one unit changed on both sides
    is won by `mine` (the last writer).
    """
    if mine == base:
        return theirs
    if theirs == base:
        return mine
    if not (isinstance(mine, dict) and isinstance(theirs, dict) and _mergeable(path)):
        return mine
    if not isinstance(base, dict):
        base = {}  # both created it (or it was not a mapping): merge what each put in
    out: dict[Any, Any] = {}
    for key in [*theirs, *(k for k in mine if k not in theirs)]:
        value = _merge(
            base.get(key, _MISSING),
            mine.get(key, _MISSING),
            theirs.get(key, _MISSING),
            (*path, key),
        )
        if value is not _MISSING:
            out[key] = value
    return out


def record_readback(settings: dict[str, Any], integration: str, fields: list[str]) -> None:
    """In a profile's `bigpanda` settings, record (or, with no fields, forget) which
    read-back credentials of `integration` are stored (`Config.secret_entries` lists them)."""
    stored = settings.get("readback_stored")
    stored = dict(stored) if isinstance(stored, dict) else {}
    if fields:
        stored[integration] = list(fields)
    else:
        stored.pop(integration, None)
    if stored:
        settings["readback_stored"] = stored
    else:
        settings.pop("readback_stored", None)


def forget_stored(settings: dict[str, Any], entries: list[tuple[str, str]]) -> None:
    """In a profile's `bigpanda` settings, stop recording verify's secrets `entries`
    ((integration, field), as `Config.verify_entries` lists them) as stored: their store
    does not hold them (not moved to it, or the env store, which keeps nothing)."""
    for integration, field_name in entries:
        if integration == "bigpanda":
            settings[f"{field_name}_stored"] = False
            continue
        stored = settings.get("readback_stored")
        fields = stored.get(integration) if isinstance(stored, dict) else None
        if isinstance(fields, list):
            record_readback(settings, integration, [f for f in fields if f != field_name])
