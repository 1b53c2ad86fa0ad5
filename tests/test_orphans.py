"""kill -9 leaves no secret no command can reach: install, uninstall, rename and delete
killed at any moment leave the config old or new, never a URL with another install's
key, and `doctor` finds every secret (and temp file) they left and removes it.

Two kinds of test: processes killed at random moments (few rounds by default,
`BP_KILL_ROUNDS=100` for the full count), and each write window hit exactly, by a
child that dies (os._exit) at a chosen step: in the file store and in a keyring
(tests/file_keyring.py), which cannot list its entries (the index finds them).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from race_procs import (
    COMMANDS,
    PROFILE,
    RENAMED,
    V0,
    V1,
    Observed,
    State,
    base_env,
    config_doc,
    fresh,
    install_argv,
    observe,
    pagerduty_state,
    run,
    start,
)

from bp_integrate.secrets import INSECURE_FILE, KEYRING_INDEX, SERVICE

ROUNDS = int(os.environ.get("BP_KILL_ROUNDS", "4"))
TESTS = Path(__file__).resolve().parent

#: Each command's state once it has run to the end, from {p: V0}.
AFTER: dict[str, State] = {
    "install": {PROFILE: V1},
    "uninstall": {PROFILE: None},
    "rename": {RENAMED: V0},
    "delete": {},
}


def temp_files(root: Path) -> set[str]:
    found: set[str] = set()
    for folder in (root / "config", root / "state"):
        if folder.is_dir():
            found |= {str(p) for p in folder.glob(".*.tmp")}
    return found


def doctor(root: Path, *flags: str, extra: dict[str, str] | None = None) -> dict[str, object]:
    done = run(root, "doctor", "--no-network", "--json", *flags, extra=extra)
    assert "Traceback" not in done.stderr and "unexpected" not in done.stderr, done.stderr
    doc: dict[str, object] = json.loads(done.stdout)
    return doc


def orphan_names(doc: dict[str, object]) -> set[str]:
    orphans = doc["orphans"]
    assert isinstance(orphans, list)
    return {str(o["name"]) for o in orphans}


def check_after_kill(root: Path, name: str, seen: Observed, extra: dict[str, str]) -> None:
    """Old or new; no mixed pair; doctor lists exactly the orphans; --yes leaves none."""
    assert seen.state in ({PROFILE: V0}, AFTER[name]), (name, seen.state)
    for pair in seen.state.values():
        assert pair in (None, V0, V1), (name, pair)  # never a URL with another's key
    expected = seen.orphans | temp_files(root)
    found = doctor(root, extra=extra)
    assert orphan_names(found) == expected, (name, found["orphans"], expected)
    cleaned = doctor(root, "--yes", extra=extra)
    assert len(cleaned["removed"]) == len(expected), cleaned  # type: ignore[arg-type]
    after = observe(root)
    assert after.state == seen.state  # doctor removes orphans, never settings
    assert after.orphans == set() and temp_files(root) == set()
    assert orphan_names(doctor(root, extra=extra)) == set()


def test_killed_at_random_moments_nothing_is_left_unreachable(
    pd_template: Path, tmp_path: Path
) -> None:
    rng = random.Random(int(os.environ.get("BP_KILL_SEED", "9")))
    left_something = 0
    finished = 0
    old_state = 0
    started = time.monotonic()
    for number in range(ROUNDS):
        root = fresh(pd_template, tmp_path / f"round{number}")
        name = rng.choice(list(COMMANDS))
        proc = start(root, name)
        if number % 2:  # anywhere in the command's life
            time.sleep(rng.uniform(0.15, 0.5))
        else:  # just after its first write: inside the windows between writes
            first_write(root, proc)
            time.sleep(rng.uniform(0, 0.004))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        else:
            finished += 1
        proc.communicate(timeout=60)
        seen = observe(root)
        left_something += bool(seen.orphans or temp_files(root))
        old_state += seen.state == {PROFILE: V0}
        check_after_kill(root, name, seen, {})
    elapsed = time.monotonic() - started
    print(
        f"\n{ROUNDS} kill rounds in {elapsed:.1f} s ({finished} finished before the kill): "
        f"config old ({old_state}) or new ({ROUNDS - old_state}) each time, no mixed pair; "
        f"{left_something} round(s) left orphans "
        "or temp files, every one found by doctor and removed with --yes."
    )


def first_write(root: Path, proc: subprocess.Popen[str]) -> None:
    """Return as soon as the config or the secrets file is replaced (or `proc` ends)."""
    files = [root / "config" / "config.yaml", root / "config" / INSECURE_FILE]

    def stamp() -> list[tuple[int, int] | None]:
        found: list[tuple[int, int] | None] = []
        for path in files:
            try:
                info = path.stat()
            except OSError:
                found.append(None)
                continue
            found.append((info.st_ino, info.st_mtime_ns))
        return found

    before = stamp()
    deadline = time.monotonic() + 30
    while stamp() == before and proc.poll() is None and time.monotonic() < deadline:
        pass


# --------------------------------------------------------------------------- exact windows

#: A child that runs the CLI and dies (as kill -9 would: no cleanup) at one step.
DRIVER = """
import os, sys
from bp_integrate import config, secrets, store

where = os.environ["CRASH_AT"]
real_save = config.Config.save
real_delete = secrets.delete_entries

def save(self):
    if where == "before-settings":
        os._exit(9)
    real_save(self)
    if where == "after-settings":
        os._exit(9)

def delete_entries(entries):
    if where == "before-old-secrets-deleted":
        os._exit(9)
    return real_delete(entries)

config.Config.save = save
secrets.delete_entries = delete_entries
store.delete_entries = delete_entries
sys.argv = ["bp-integrate", *sys.argv[1:]]
from bp_integrate.cli import main
main()
"""

KEYRING_ENV = {
    "PYTHON_KEYRING_BACKEND": "file_keyring.FileKeyring",
    "PYTHONPATH": str(TESTS),
}


def keyring_env(root: Path) -> dict[str, str]:
    return {**KEYRING_ENV, "BP_TEST_KEYRING_FILE": str(root / "keyring.json")}


def keyring_state(root: Path) -> tuple[State, set[str]]:
    """(state, orphaned entry names) of a keyring-store install: the settings from the
    config, the keys from the test keyring's file."""
    path = root / "keyring.json"
    stored = {
        k.split("\t", 1)[1]: v
        for k, v in (json.loads(path.read_text("utf-8")) if path.exists() else {}).items()
        if k.startswith(f"{SERVICE}\t")
    }
    return pagerduty_state(config_doc(root), stored)


WINDOWS = [
    ("install", "before-settings"),  # new secrets written, settings not switched
    ("install", "before-old-secrets-deleted"),  # switched, the old generation still there
    ("uninstall", "after-settings"),
    ("rename", "before-settings"),  # secrets copied, settings not renamed
    ("rename", "before-old-secrets-deleted"),
    ("delete", "after-settings"),
]


@pytest.mark.parametrize("store", ["file", "keyring"])
@pytest.mark.parametrize(("name", "where"), WINDOWS)
def test_a_kill_in_each_write_window_is_repaired_by_doctor(
    tmp_path: Path, store: str, name: str, where: str
) -> None:
    extra = keyring_env(tmp_path) if store == "keyring" else {}
    argv, key = install_argv(V0)
    if store == "keyring":
        argv = [a for a in argv if a != "--insecure-storage"]
    assert run(tmp_path, *argv, extra={**extra, **key}).returncode == 0
    command, command_env = COMMANDS[name]
    if store == "keyring":
        command = [a for a in command if a != "--insecure-storage"]
    child = subprocess.run(
        [sys.executable, "-c", DRIVER, *command],
        env={**base_env(tmp_path), **extra, **command_env, "CRASH_AT": where},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 9, child.stderr  # it died at the step
    if store == "file":
        seen = observe(tmp_path)
        state, orphans = seen.state, seen.orphans
    else:
        state, orphans = keyring_state(tmp_path)
    assert state in ({PROFILE: V0}, AFTER[name])
    assert all(pair in (None, V0, V1) for pair in state.values()), state
    assert orphans, "each of these windows leaves a secret no settings name"
    found = doctor(tmp_path, extra=extra)
    assert orphan_names(found) == orphans
    doctor(tmp_path, "--yes", extra=extra)
    after_state, after_orphans = (
        keyring_state(tmp_path) if store == "keyring" else (observe(tmp_path).state, set())
    )
    if store == "file":
        after_orphans = observe(tmp_path).orphans
    assert after_state == state and after_orphans == set()
    if store == "keyring":  # the index names exactly what the keyring holds again
        index = json.loads((tmp_path / "state" / KEYRING_INDEX).read_text("utf-8"))
        held = json.loads((tmp_path / "keyring.json").read_text("utf-8"))
        assert set(index["entries"]) == {k.split("\t", 1)[1] for k in held}
