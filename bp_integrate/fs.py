"""Where bp-integrate keeps its files, and how it writes them: atomically, privately,
one writer at a time.

- Folders are created 0700, parents included, whatever the umask.
- Files are written through a temp file, fsync and `os.replace`; a symlinked file has
  its target written (the link stays); temp files left by an interrupted write are
  removed by the next write.
- `locked()` serialises read-modify-write of a file across processes (flock on its
  folder; msvcrt on Windows), giving up with a clear error after a bounded wait.
- `check_private()` refuses a folder or file another user owns or others can write
  (a planted URL would receive a routing key), unless the user opts out.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bp_integrate.errors import ConfigError

APP_NAME = "bp-integrate"
LOCK_TIMEOUT_ENV = "BP_INTEGRATE_LOCK_TIMEOUT"
UNSAFE_PERMISSIONS_ENV = "BP_INTEGRATE_ALLOW_UNSAFE_PERMISSIONS"
#: A temp file older than this is left over from an interrupted write.
STALE_TMP_SECONDS = 60.0


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
    """Create `path` and any missing parents, each 0700 whatever the umask.

    Only folders created here are chmod-ed, except the leaf, which is always made
    0700 (it is bp-integrate's own folder).
    """
    missing: list[Path] = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue  # another process made it first
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o700)  # mkdir's mode is cut by the umask, never widened
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)  # raises the precise OSError
    with contextlib.suppress(OSError):
        path.chmod(0o700)
    return path


def write_target(path: Path) -> Path:
    """The file a write to `path` should replace: a symlink's target, else `path`."""
    if path.is_symlink():
        return Path(os.path.realpath(path))
    return path


def clean_stale_tmp(path: Path, older_than: float = STALE_TMP_SECONDS) -> list[Path]:
    """Remove `.NAME.*.tmp` files beside `path` left by writes interrupted long ago."""
    removed: list[Path] = []
    cutoff = time.time() - older_than
    with contextlib.suppress(OSError):
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                if tmp.lstat().st_mtime < cutoff:
                    tmp.unlink()
                    removed.append(tmp)
    return removed


def atomic_write(path: Path, text: str, mode: int = 0o600, private_dir: bool = True) -> None:
    """Write `text` to `path` so readers see the old file or the new one, never half.

    A temp file in the same folder, fsync, then `os.replace`; 0600 from the start,
    so a secret-bearing file is never readable by others even for a moment. A
    symlinked `path` keeps its link: the target is what gets replaced. Our own folders
    are made private (0700); `private_dir=False` writes into a folder of the user's
    (a JUnit report where CI wants it) without touching it.
    """
    path = write_target(path)
    if private_dir:
        ensure_private_dir(path.parent)
        clean_stale_tmp(path)
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


# --------------------------------------------------------------------------- locking

_held: dict[Path, tuple[int, int]] = {}  # lock file -> (fd, depth): re-entrant per process


def lock_timeout() -> float:
    """`$BP_INTEGRATE_LOCK_TIMEOUT` seconds (default 10) to wait for another writer."""
    try:
        return max(0.0, float(os.environ.get(LOCK_TIMEOUT_ENV, "10")))
    except ValueError:
        return 10.0


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


@contextlib.contextmanager
def locked(path: Path, what: str) -> Iterator[None]:
    """Hold the exclusive write lock of the folder `path` lives in (re-entrant per process).

    On POSIX the folder itself is locked (flock on its descriptor: no lock file to
    leave behind); on Windows a `.bp-integrate.lock` file in it. The OS releases the
    lock when the holder exits, even on kill -9, so a lock is never stale.
    """
    folder = write_target(path).parent
    lock_path = folder / ".bp-integrate.lock" if sys.platform == "win32" else folder
    if lock_path in _held:
        fd, depth = _held[lock_path]
        _held[lock_path] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held[lock_path]
            _held[lock_path] = (fd, depth - 1)
        return
    try:
        ensure_private_dir(folder)
        if sys.platform == "win32":  # pragma: no cover
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        else:
            fd = os.open(lock_path, os.O_RDONLY)
    except OSError as exc:
        raise ConfigError(
            f"Cannot lock {what} ({lock_path}): {exc.strerror or exc}.",
            "Check that the folder exists and is writable by you.",
        ) from None
    try:
        deadline = time.monotonic() + lock_timeout()
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise ConfigError(
                    f"{what.capitalize()} is being changed by another bp-integrate process "
                    f"(waited {lock_timeout():g} s for {lock_path}); most likely an install, "
                    "uninstall or profile set still running (or waiting at a prompt).",
                    "Let the other command finish (or stop it), then run this one again; "
                    f"{LOCK_TIMEOUT_ENV}=SECONDS waits longer.",
                )
            time.sleep(0.05)
        _held[lock_path] = (fd, 1)
        try:
            yield
        finally:
            del _held[lock_path]
    finally:
        os.close(fd)  # closing the descriptor releases the lock


# --------------------------------------------------------------------------- permissions


def unsafe_reason(path: Path) -> str | None:
    """Why `path` cannot be trusted (another owner, or writable by group/others), or None."""
    if not hasattr(os, "getuid"):
        return None  # Windows: ACLs, not mode bits
    try:
        info = os.stat(path)
    except OSError:
        return None  # missing: nothing to trust yet
    if info.st_uid not in (os.getuid(), 0):
        return f"it is owned by another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not (
        stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX
    ):
        return f"others can write to it (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def check_private(path: Path, what: str) -> None:
    """Refuse `path` if someone else could have planted or changed it.

    `BP_INTEGRATE_ALLOW_UNSAFE_PERMISSIONS=1` turns the refusal into a warning on
    stderr (for shared folders the user really means to trust).
    """
    reason = unsafe_reason(path)
    if reason is None:
        return
    fix = f"chmod go-w {path}" if "write" in reason else f"chown $(id -un) {path}"
    if os.environ.get(UNSAFE_PERMISSIONS_ENV, "") not in ("", "0"):
        print(f"Warning: {what} {path} is unsafe: {reason}.", file=sys.stderr)
        return
    raise ConfigError(
        f"Refusing to use {what} {path}: {reason}, so its contents may not be yours "
        "(a planted URL would receive your keys).",
        f"Fix it ({fix}), or set {UNSAFE_PERMISSIONS_ENV}=1 to use it anyway with a warning.",
    )
