"""The interactive parts through a real pseudo-terminal (pexpect): what a person at a
terminal sees and types, hidden input and Ctrl-C included (issue 9 points 3, 4, 6)."""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import pytest
from helpers import XM_URL

pexpect = pytest.importorskip("pexpect")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")

PASSWORD = "s3cret-word-7788"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def spawn(
    tmp_path: Path, *args: str, columns: int = 80, extra_env: dict[str, str] | None = None
) -> pexpect.spawn:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("BP_INTEGRATE_") and k != "COLUMNS"
    }
    env.update(
        {
            "BP_INTEGRATE_CONFIG_DIR": str(tmp_path / "config"),
            "BP_INTEGRATE_STATE_DIR": str(tmp_path / "state"),
            "NO_COLOR": "1",
            "TERM": "xterm",
            **(extra_env or {}),
        }
    )
    child = pexpect.spawn(
        sys.executable,
        ["-m", "bp_integrate", *args],
        env=env,
        encoding="utf-8",
        timeout=20,
        dimensions=(40, columns),
    )
    child.logfile_read = io.StringIO()  # the whole transcript, as the terminal got it
    return child


def transcript(child: pexpect.spawn) -> str:
    """What the terminal showed, without styles (NO_COLOR keeps bold and dim)."""
    return ANSI.sub("", child.logfile_read.getvalue()).replace("\r", "")


def answer(child: pexpect.spawn, prompt: str, text: str) -> None:
    child.expect_exact(prompt)
    child.sendline(text)


def finish(child: pexpect.spawn) -> tuple[int, str]:
    rest = child.read()
    child.close()
    return child.exitstatus, rest


STORE = ("--secret-store", "file", "--insecure-storage")


def install_xmatters_basic(tmp_path: Path) -> str:
    """The full xMatters basic-auth walkthrough, with a mistyped choice and a `back`."""
    child = spawn(tmp_path, "install", "xmatters", *STORE)
    answer(child, "[hidden input; Enter to skip]", "")  # no App Key
    answer(child, "xMatters trigger URL (hidden input: paste and press Enter)", XM_URL)
    answer(child, "Authentication (url, basic or none) [basic]:", "basci")
    child.expect_exact("Did you mean 'basic'?")
    answer(child, "Authentication (url, basic or none) [basic]:", "basic")
    answer(child, "xMatters integration user name:", "xm-user")
    answer(child, "xMatters integration user password [hidden input]:", "wrong-one")
    answer(child, "Done with 'Install the BigPanda workflow'? [Y/n/back]", "back")
    # the step again: each value offered as given, the password by its tail only
    answer(child, "(hidden input: paste and press Enter) [", "")
    answer(child, "Authentication (url, basic or none) [basic]:", "")
    answer(child, "xMatters integration user name [xm-user]:", "")
    # (the prompt is wrapped at a word on 80 columns)
    answer(child, "stored one (****)]:", f"  {PASSWORD} ")  # pasted with blanks around it
    answer(child, "Done with 'Install the BigPanda workflow'? [Y/n/back]", "y")
    answer(child, "Recipients (comma-separated users or groups, optional):", "Cloud Devops, ,")
    answer(child, "Show the secret values (****) so you can copy them? [y/N]", "")
    answer(child, "Done with 'Configure the webhook'? [Y/n]", "y")
    answer(child, "Send one test event (incident#new) to xMatters now?", "")
    code, rest = finish(child)
    assert code == 0, rest
    return transcript(child)


def test_xmatters_basic_walkthrough_with_back_and_a_mistyped_choice(tmp_path: Path) -> None:
    transcript = install_xmatters_basic(tmp_path)
    assert "Installed xMatters in profile 'default' (secrets: file)." in transcript
    assert PASSWORD not in transcript and "wrong-one" not in transcript  # never echoed
    secrets = (tmp_path / "config" / "INSECURE-plaintext-secrets.json").read_text(encoding="utf-8")
    assert PASSWORD in secrets and "wrong-one" not in secrets
    assert f'"{PASSWORD}"' in secrets  # trimmed
    config = (tmp_path / "config" / "config.yaml").read_text(encoding="utf-8")
    assert "Cloud Devops" in config and "Cloud Devops, ," not in config


def test_prose_wraps_at_words_on_an_80_column_terminal(tmp_path: Path) -> None:
    child = spawn(tmp_path, "install", "xmatters", *STORE, columns=80)
    child.expect_exact("[hidden input; Enter to skip]")
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()
    lines = [line.rstrip() for line in transcript(child).splitlines()]
    step = "Integrations -> New Integration -> xMatters -> Integrate. One App Key per"
    assert any(line.strip().startswith(step[:40]) for line in lines)
    for line in lines:
        assert len(line) <= 80, line
    # every word arrives whole: no word of the step text is split across lines
    words = set(re.findall(r"\S+", " ".join(lines)))
    for word in ("integrated", "Integration", "Integrate."):
        assert word in words


def test_uninstall_enter_everywhere_removes_nothing(tmp_path: Path) -> None:
    install_xmatters_basic(tmp_path)
    config = tmp_path / "config" / "config.yaml"
    secrets = tmp_path / "config" / "INSECURE-plaintext-secrets.json"
    before = config.read_bytes(), secrets.read_bytes()
    child = spawn(tmp_path, "uninstall", "xmatters")
    child.expect_exact("Uninstalling xMatters from profile 'default'.")
    answer(child, "Is another integration replacing this one? [y/N]", "")  # No: go on
    child.expect_exact("Done? [y/N]")
    child.sendline("")
    code, rest = finish(child)
    assert code == 1
    assert "nothing was removed" in rest
    assert (config.read_bytes(), secrets.read_bytes()) == before
    # and all the way to the final question: Enter there keeps everything too
    child = spawn(tmp_path, "uninstall", "xmatters")
    answer(child, "Is another integration replacing this one? [y/N]", "n")
    for _ in range(3):
        answer(child, "Done? [y/N]", "y")
    answer(child, "from profile 'default'? [y/N]", "")
    code, rest = finish(child)
    assert code == 1
    assert "Nothing was removed." in rest
    assert (config.read_bytes(), secrets.read_bytes()) == before


def test_ctrl_c_at_a_prompt_saves_nothing(tmp_path: Path) -> None:
    child = spawn(tmp_path, "install", "xmatters", *STORE)
    answer(child, "[hidden input; Enter to skip]", "")
    child.expect_exact("xMatters trigger URL (hidden input: paste and press Enter)")
    child.sendcontrol("c")
    code, rest = finish(child)
    assert code == 130
    assert "Interrupted: nothing was changed." in rest
    assert "Traceback" not in rest
    assert not (tmp_path / "config" / "config.yaml").exists()
    assert not (tmp_path / "config" / "INSECURE-plaintext-secrets.json").exists()
