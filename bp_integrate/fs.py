"""Where bp-integrate keeps its files, and how it writes them (atomically, privately)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

APP_NAME = "bp-integrate"


def config_dir() -> Path:
    """`$BP_INTEGRATE_CONFIG_DIR`, else the platform's user config folder."""
    override = os.environ.get("BP_INTEGRATE_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / APP_NAME


def state_dir() -> Path:
    """`$BP_INTEGRATE_STATE_DIR`, else the XDG state folder (run history lives here)."""
    override = os.environ.get("BP_INTEGRATE_STATE_DIR")
    if override:
        return Path(override).expanduser()
    if sys.platform in ("win32", "darwin"):
        return config_dir() / "state"
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / APP_NAME


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700 for the leaf."""
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        path.chmod(0o700)
    return path


def atomic_write(path: Path, text: str, mode: int = 0o600) -> None:
    """Write `text` to `path` so readers see the old file or the new one, never half.

    A temp file in the same folder, fsync, then `os.replace`; 0600 from the start,
    so a secret-bearing file is never readable by others even for a moment.
    """
    ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
