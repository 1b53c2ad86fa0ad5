"""The real processes test_races.py and test_orphans.py start against one profile `p`
with a PagerDuty install, and how both read the state the files are left in (the
`pd_template` fixture in conftest.py makes the starting install once per module)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bp_integrate.secrets import INSECURE_FILE, entry_name, versioned

PROFILE, RENAMED = "p", "q"
#: Two installs: each URL goes with its own key, and only with it.
V0 = ("https://zero.example.com/v2/enqueue", "00000000000000000000000000000000")
V1 = ("https://one.example.com/v2/enqueue", "11111111111111111111111111111111")
KEY_VAR = f"BP_INTEGRATE_{PROFILE.upper()}_PAGERDUTY_INTEGRATION_KEY"

#: A profile -> its PagerDuty install, (url, key), or None; the key "MISSING" when the
#: settings name a secret the store does not have.
State = dict[str, tuple[str, str] | None]


def base_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BP_INTEGRATE_")}
    env.update(
        BP_INTEGRATE_CONFIG_DIR=str(root / "config"),
        BP_INTEGRATE_STATE_DIR=str(root / "state"),
        BP_INTEGRATE_LOCK_TIMEOUT="60",
        NO_COLOR="1",
    )
    return env


def install_argv(version: tuple[str, str]) -> tuple[list[str], dict[str, str]]:
    argv = ["-p", PROFILE, "install", "pagerduty", "--no-input", "--no-verify"]
    argv += ["--insecure-storage", "--set", f"events_url={version[0]}"]
    return argv, {KEY_VAR: version[1]}


#: The commands that race, by name: argv and extra environment.
COMMANDS: dict[str, tuple[list[str], dict[str, str]]] = {
    "install": install_argv(V1),
    "uninstall": (["-p", PROFILE, "uninstall", "pagerduty", "--yes", "--json"], {}),
    "rename": (["profile", "rename", PROFILE, RENAMED], {}),
    "delete": (["profile", "delete", PROFILE, "--yes"], {}),
}


def start(root: Path, name: str, delay: float = 0.0) -> subprocess.Popen[str]:
    argv, extra = COMMANDS[name]
    if delay:
        time.sleep(delay)
    return subprocess.Popen(
        [sys.executable, "-m", "bp_integrate", *argv],
        env={**base_env(root), **extra},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(
    root: Path, *argv: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bp_integrate", *argv],
        env={**base_env(root), **(extra or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def make_template(root: Path) -> Path:
    """Profile `p` with install V0 in the file store, made by the real CLI."""
    argv, extra = install_argv(V0)
    done = run(root, *argv, extra=extra)
    assert done.returncode == 0, done.stderr
    return root


def fresh(template: Path, root: Path) -> Path:
    shutil.copytree(template / "config", root / "config")
    return root


def config_doc(root: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((root / "config" / "config.yaml").read_text("utf-8"))
    return doc or {}


def pagerduty_state(doc: Mapping[str, Any], stored: Mapping[str, str]) -> tuple[State, set[str]]:
    """(state, orphaned entry names): each profile's install as the config `doc` names
    it, its key from the `stored` entries (entry name -> value)."""
    state: State = {}
    referenced: set[str] = set()
    for profile, raw in (doc.get("profiles") or {}).items():
        entry = ((raw or {}).get("integrations") or {}).get("pagerduty")
        if entry is None:
            state[profile] = None
            continue
        gen = int(entry.get("secrets_generation", 0))
        key = entry_name(profile, "pagerduty", versioned("integration_key", gen))
        referenced.add(key)
        state[profile] = (entry["settings"]["events_url"], stored.get(key, "MISSING"))
    return state, set(stored) - referenced


@dataclass
class Observed:
    state: State
    orphans: set[str]  # stored entries no settings name
    temp_files: list[str]


def observe(root: Path) -> Observed:
    """The state as the files hold it (the file store), read directly (not through the
    tool)."""
    folder = root / "config"
    secrets_path = folder / INSECURE_FILE
    stored: dict[str, str] = (
        json.loads(secrets_path.read_text("utf-8"))["secrets"] if secrets_path.exists() else {}
    )
    state, orphans = pagerduty_state(config_doc(root), stored)
    return Observed(state, orphans, sorted(p.name for p in folder.glob(".*.tmp")))
