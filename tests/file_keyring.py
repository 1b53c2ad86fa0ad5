"""A keyring backend in a JSON file, for tests that run bp-integrate in a child process
through a real pty (the child cannot share the in-process MemoryKeyring). Chosen only
through PYTHON_KEYRING_BACKEND=file_keyring.FileKeyring with BP_TEST_KEYRING_FILE set."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]
    viable = False  # never picked by itself: only PYTHON_KEYRING_BACKEND names it

    @staticmethod
    def _path() -> Path:
        return Path(os.environ["BP_TEST_KEYRING_FILE"])

    def _load(self) -> dict[str, str]:
        path = self._path()
        return json.loads(path.read_text("utf-8")) if path.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\t{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\t{username}"] = password
        self._path().write_text(json.dumps(data), "utf-8")

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}\t{username}", None) is None:
            raise PasswordDeleteError(username)
        self._path().write_text(json.dumps(data), "utf-8")
