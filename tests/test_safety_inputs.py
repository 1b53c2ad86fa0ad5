"""Hostile or damaged input gives a clear error with the right exit code, never
"Error: unexpected" (issue 8, points 3 and 4): every case here was one before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import PD_KEY, MemoryKeyring, cli, install, invoke, state_dir
from typer.testing import CliRunner

from bp_integrate.emulator import EmulatorServer

BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
    "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
    "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
)
CIRCULAR = "&a [*a]\n"
DEEP = "[" * 5000 + "]" * 5000 + "\n"


def clean(result: object, code: int) -> str:
    """stderr with rich's line wrapping undone, after checking the exit code."""
    stderr: str = result.stderr  # type: ignore[attr-defined]
    assert result.exit_code == code, stderr  # type: ignore[attr-defined]
    assert "unexpected" not in stderr
    assert "Traceback" not in stderr
    return " ".join(stderr.split())


# --- config.yaml ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BOMB + "version: 1\n", "aliases are expanded"),
        ("profiles: " + CIRCULAR, "circular alias"),
        ("profiles: " + DEEP, "nesting depth"),
        (
            "profiles:\n  default:\n    integrations:\n      pagerduty:\n        secrets: 5\n",
            "'secrets' must be a list of field names, not 5",
        ),
        (
            "profiles:\n  default:\n    integrations:\n      1:\n        settings: {}\n",
            "integration key 1 is not an integration name",
        ),
        ("profiles:\n  1: {}\n", "profile key 1 is not a profile name"),
        (
            "profiles:\n  default:\n    integrations:\n      pagerduty:\n"
            "        settings: {events_url: [1, 2]}\n",
            "setting 'events_url' must be a name with a single value",
        ),
        ("version: 1\nprofiles: {a: 2001-02-30}\n", "config file"),
    ],
)
def test_bad_config_files_exit_3_naming_the_problem(
    isolated: Path, text: str, expected: str
) -> None:
    isolated.mkdir(parents=True)
    (isolated / "config.yaml").write_text(text, encoding="utf-8")
    for args in (("list",), ("show", "pagerduty"), ("profile", "show")):
        stderr = clean(cli(*args), 3)
        assert expected in stderr, stderr
    assert (isolated / "config.yaml").read_text(encoding="utf-8") == text


def test_config_not_utf8_names_line_and_column(isolated: Path) -> None:
    isolated.mkdir(parents=True)
    (isolated / "config.yaml").write_bytes(b"version: 1\nprofiles: {}\n# caf\xe9\n")
    stderr = clean(cli("list"), 3)
    assert "is not UTF-8 text (byte 0xe9 at offset 29). The bad byte is on line 3, column 6." in (
        stderr
    )


# --- answers files, scenario files ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (BOMB.encode(), "aliases are expanded"),
        (b"events_url: " + CIRCULAR.encode(), "circular alias"),
        (DEEP.encode(), "nesting depth"),
        (
            b"events_url: x\n\xff\n",
            "not UTF-8 text (byte 0xff at offset 14). The bad byte is on line 2",
        ),
        (b"a" * (4 * 1024 * 1024 + 1), "over the limit of 4,194,304 bytes"),
    ],
)
def test_bad_answers_files_exit_2(tmp_path: Path, body: bytes, expected: str) -> None:
    path = tmp_path / "answers.yaml"
    path.write_bytes(body)
    stderr = clean(cli("install", "pagerduty", "--no-input", "--answers", str(path)), 2)
    assert expected in stderr


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (BOMB.encode(), "aliases are expanded"),
        (b"steps: " + CIRCULAR.encode(), "circular alias"),
        (DEEP.encode(), "nesting depth"),
        (b"steps:\n  - trigger\n\xc3\x28\n", "The bad byte is on line 3, column 1"),
    ],
)
def test_bad_scenario_files_exit_2(tmp_path: Path, body: bytes, expected: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(body)
    stderr = clean(cli("replay", str(path), "--dry-run"), 2)
    assert expected in stderr


def test_a_scenario_name_too_long_for_a_file_name(tmp_path: Path) -> None:
    stderr = clean(cli("replay", "a" * 300, "--dry-run"), 2)
    assert "A file name is too long for the file system" in stderr
    stderr = clean(cli("replay", str(tmp_path / ("b" * 300 + ".yaml")), "--dry-run"), 2)
    assert "too long" in stderr


# --- run history ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        b"[" * 100000 + b"\n",
        b"\xff\xfe\n",
        b'{"type":"run","targets":5,"id":7}\n{"type":"end","counts":[1,2]}\n',
        b"",
    ],
)
def test_history_skips_a_damaged_run_with_a_warning(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    damage: bytes,
) -> None:
    install(emu, "pagerduty", monkeypatch)
    assert cli("send-test", "new", "--to", "pagerduty").exit_code == 0
    runs = state_dir() / "runs"
    bad = runs / "20200101T000000000Z-abcdef.jsonl"
    bad.write_bytes(damage)
    result = cli("history", "--json")
    stderr = clean(result, 0)
    listed = json.loads(result.stdout)["runs"]
    ids = [r["id"] for r in listed]
    if damage.startswith(b'{"type":"run"'):
        assert len(listed) == 2  # readable head: listed, its bad fields left out
        assert listed[1]["targets"] == [] and listed[1]["counts"] == {}
    else:
        assert len(ids) == 1 and "20200101T000000000Z-abcdef" not in ids
        assert f"skipped {bad}: it is damaged or not a run file" in stderr
    assert listed[0]["command"].startswith("send-test")


def test_replay_from_a_run_with_deep_lines_skips_them(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    install(emu, "pagerduty", monkeypatch)
    assert cli("send-test", "new", "--to", "pagerduty").exit_code == 0
    run = next((state_dir() / "runs").glob("*.jsonl"))
    with run.open("ab") as handle:
        handle.write(b"[" * 100000 + b"\n\xff\xfe\n")
    result = cli("replay", "--from-run", run.stem, "--dry-run")
    clean(result, 0)


# --- values that would break every later send (point 4) --------------------------------


def test_non_ascii_header_secret_is_refused_at_install_without_showing_it(
    emu: EmulatorServer, runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    secret = "sécret-ünicode-token"
    result = invoke(
        runner,
        "install",
        "incidentio",
        "--no-input",
        "--set",
        f"callback_url={emu.urls['incidentio_callback']}",
        BP_INTEGRATE_INCIDENTIO_SECRET=secret,
    )
    stderr = clean(result, 2)
    assert "has a character HTTP cannot carry in a header or URL (position 2" in stderr
    assert secret not in stderr and "é" not in stderr
    assert memory_keyring.entries == {}


def test_a_non_ascii_basic_auth_password_is_still_fine(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_PASSWORD", "pässword")
    result = cli(
        "install",
        "xmatters",
        "--no-input",
        "--set",
        f"trigger_url={emu.urls['xmatters_trigger']}",
        "--set",
        "auth=basic",
        "--set",
        "username=bp",
    )
    assert result.exit_code == 0, result.stderr


def test_crlf_in_a_secret_from_the_environment_is_caught_at_send_time(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    install(emu, "incidentio", monkeypatch)
    monkeypatch.setenv("BP_INTEGRATE_INCIDENTIO_SECRET", "abc\r\nX-Injected: 1")
    stderr = clean(cli("send-test", "new", "--to", "incidentio"), 4)
    assert "BP_INTEGRATE_INCIDENTIO_SECRET has a line break or another control character" in (
        stderr
    )
    assert "Injected" not in stderr
    assert [r for r in emu.state.records() if r.path.startswith("/v2")] == []


def test_a_recipients_list_too_long_for_a_url_is_refused(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY", "k" * 20)
    names = ",".join(f"person{i}" for i in range(12000))
    result = cli(
        "install",
        "xmatters",
        "--no-input",
        "--set",
        f"trigger_url={emu.urls['xmatters_trigger']}?apiKey=****",
        "--set",
        "auth=url",
        "--set",
        f"recipients={names}",
    )
    stderr = clean(result, 2)
    assert "at most 8192 fit in a URL or header" in stderr


def test_api_key_stdin_with_invalid_utf8_stores_nothing(
    runner: CliRunner, isolated: Path, memory_keyring: MemoryKeyring
) -> None:
    from bp_integrate.cli import app

    result = runner.invoke(
        app, ["profile", "set", "--api-key-stdin", "--no-verify"], input=b"\xffabc\xfe\n"
    )
    stderr = clean(result, 2)
    assert "--api-key-stdin: standard input is not UTF-8 text (a bad byte at offset 0" in stderr
    assert memory_keyring.entries == {}
    assert not (isolated / "config.yaml").exists()


# --- closed streams and a full disk (real processes: file descriptors are real) --------


def run_cli(args: list[str], tmp_path: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BP_INTEGRATE_")}
    env |= {
        "BP_INTEGRATE_CONFIG_DIR": str(tmp_path / "c"),
        "BP_INTEGRATE_STATE_DIR": str(tmp_path / "s"),
        "NO_COLOR": "1",
        "BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY": PD_KEY,
    }
    return subprocess.run(
        [sys.executable, "-m", "bp_integrate", *args],
        env=env,
        text=True,
        timeout=60,
        **kwargs,  # type: ignore[call-overload]
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_stdout_on_a_full_disk(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        done = run_cli(["list", "--json"], tmp_path, stdout=full, stderr=subprocess.PIPE)
    assert done.returncode == 1
    assert "Error: No space left on the device (writing the output)." in done.stderr
    assert "unexpected" not in done.stderr and "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr


def test_closed_stdout_and_stdin(tmp_path: Path) -> None:
    done = run_cli(
        ["list"], tmp_path, stderr=subprocess.PIPE, pass_fds=(), preexec_fn=lambda: os.close(1)
    )
    assert done.returncode == 1
    assert "Standard output is closed" in done.stderr
    install_args = ["install", "pagerduty", "--no-input", "--insecure-storage"]
    done = run_cli(
        [*install_args, "--secret-stdin", "integration_key"],
        tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(0),
    )
    assert done.returncode == 2
    assert "--secret-stdin integration_key: standard input is closed" in done.stderr
    assert "unexpected" not in done.stderr


# --- found by the fuzz suite ------------------------------------------------------------


def test_a_config_whose_secrets_list_leaves_out_a_required_secret(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolated.mkdir(parents=True)
    (isolated / "config.yaml").write_text(
        "version: 1\nprofiles:\n  default:\n    integrations:\n      pagerduty:\n"
        "        settings: {events_url: 'https://events.pagerduty.com/v2/enqueue'}\n"
        "        secret_store: env\n        secrets: []\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY", PD_KEY)
    stderr = clean(cli("send-test", "new", "--dry-run"), 3)
    assert (
        "The config file lists no secret 'integration_key' for PagerDuty in profile "
        "'default', and it needs one." in stderr
    )


def test_a_scenario_with_a_key_that_is_not_a_name(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("steps:\n  - event: incident#new\n1: x\n", encoding="utf-8")
    stderr = clean(cli("replay", str(path), "--dry-run"), 2)
    assert f"The scenario file {path}: key 1 is not a name." in stderr
    path.write_text("steps:\n  - event: incident#new\n    tags: {2: b}\n", encoding="utf-8")
    stderr = clean(cli("replay", str(path), "--dry-run"), 2)
    assert "key 2 (under steps.0.tags) is not a name." in stderr


def test_run_files_with_wrongly_typed_fields_replay_and_list(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    install(emu, "pagerduty", monkeypatch)
    runs = state_dir() / "runs"
    runs.mkdir(parents=True)
    run_id = "20240501T101502123Z-3fa1c2"
    lines = [
        {"type": "run", "id": run_id, "command": "send-test \ud800", "targets": -885,
         "options": {"envelope": True, "test_marker": "yes"}},
        {"type": "event", "seq": 1, "eventX": "incident#new", "body": {}},
        {"type": "event", "seq": "one", "event": "incident#new",
         "body": {"incident": {"id": "abc", "status": "critical", "alerts": []}}},
        {"type": "end", "outcome": {}, "counts": [1]},
    ]  # fmt: skip
    (runs / f"{run_id}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    stderr = clean(cli("replay", "--from-run", run_id, "--dry-run"), 0)
    assert "unexpected" not in stderr
    result = cli("history")
    clean(result, 0)
    assert f"{run_id}  " in result.stdout and "send-test ?" in result.stdout


def test_a_url_with_a_broken_ipv6_host_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    args = ["install", "xmatters", "--no-input", "--secret-store", "env", "--set", "auth=url"]
    stderr = clean(cli(*args, "--set", "trigger_url=https://[abc/x?apiKey=****"), 2)
    assert "A URL is not valid: Invalid IPv6 URL" in stderr
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_TRIGGER_URL", "https://[abc/x?apiKey=sekrit-1")
    stderr = clean(cli(*args, "--set", "recipients=a"), 2)
    assert "A URL is not valid: Invalid IPv6 URL" in stderr
    assert "sekrit-1" not in stderr


def test_a_payload_file_nested_too_deeply(
    tmp_path: Path,
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
) -> None:
    install(emu, "pagerduty", monkeypatch)
    path = tmp_path / "p.json"
    for depth, expected in ((5000, "is nested too deeply to read"), (100, "64 levels")):
        path.write_text('{"a":' * depth + "1" + "}" * depth, encoding="utf-8")
        stderr = clean(cli("send-test", "new", "--dry-run", "--payload", str(path)), 2)
        assert expected in stderr


def test_a_config_that_lost_its_secrets_list_names_the_fix_even_for_show(
    runner: CliRunner, isolated: Path
) -> None:
    """Found by the fuzzer: `show` (secrets masked) crashed with KeyError."""
    isolated.mkdir(parents=True, exist_ok=True)
    (isolated / "config.yaml").write_text(
        "version: 1\nprofiles:\n  default:\n    integrations:\n      pagerduty:\n"
        "        secret_store: env\n        settings:\n"
        "          events_url: https://events.pagerduty.com/v2/enqueue\n"
    )
    result = invoke(runner, "show", "pagerduty")
    assert result.exit_code == 3
    assert "lists no secret 'integration_key'" in result.stderr
