"""The settings file: one YAML document of profiles, each with its integrations.

Only settings live here. Secrets are in the keyring (see `secrets`); a URL that
carries a key is stored with the key masked as `****`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from bp_integrate.errors import ConfigError
from bp_integrate.fs import atomic_write, config_dir
from bp_integrate.secrets import STORE_KINDS, StoreKind

CONFIG_FILE = "config.yaml"
HEADER = (
    "# bp-integrate settings.\n"
    "# Secrets are never in this file (see secret_store and secrets per integration).\n"
)

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

    def to_yaml(self) -> dict[str, Any]:
        return {
            "settings": dict(self.values),
            "secret_store": self.secret_store,
            "secrets": sorted(self.secret_fields),
            "installed_at": self.installed_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_yaml(cls, name: str, raw: object, where: str) -> Installed:
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: integration {name!r} is not a mapping.", _fix_hint())
        settings = raw.get("settings") or {}
        store = raw.get("secret_store", "keyring")
        if not isinstance(settings, dict) or store not in STORE_KINDS:
            raise ConfigError(f"{where}: integration {name!r} is malformed.", _fix_hint())
        return cls(
            name=name,
            values={str(k): "" if v is None else str(v) for k, v in settings.items()},
            secret_fields=[str(s) for s in raw.get("secrets") or []],
            secret_store=cast(StoreKind, store),
            installed_at=str(raw.get("installed_at", "")),
            updated_at=str(raw.get("updated_at", "")),
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
    def changed(self) -> bool:
        return self.data != self._original

    def save(self) -> None:
        import yaml

        self.data.setdefault("version", 1)
        body = yaml.safe_dump(self.data, sort_keys=False, default_flow_style=False)
        atomic_write(self.path, HEADER + body)
        self._original = copy.deepcopy(self.data)


def config_path() -> Path:
    return config_dir() / CONFIG_FILE


def load(path: Path | None = None) -> Config:
    """Read the settings file; a missing file is an empty config, a corrupt one an error."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path, {"version": 1, "profiles": {}})
    except NotADirectoryError:
        raise ConfigError(
            f"The config folder {path.parent} is not a folder.",
            "Point BP_INTEGRATE_CONFIG_DIR at a folder (it is created if missing).",
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.", _fix_hint(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"The config file {path} is not UTF-8 text (byte {exc.start}). Nothing was changed.",
            _fix_hint(path),
        ) from None
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(
            f"The config file is not valid YAML at {where}: {problem}. Nothing was changed.",
            _fix_hint(path),
        ) from None
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
    config = Config(path, data)
    config._profiles()
    return config
