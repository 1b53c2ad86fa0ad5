"""Generated hostile inputs against the CLI: no "Error: unexpected", no hang.

Families (each input runs in-process through click's CliRunner, in a fresh config
and state folder, with a per-input deadline enforced by SIGALRM):

- answers:  `install <integration> --answers FILE` with generated YAML
- config:   config.yaml generated, then list / show / profile show / a dry run
- scenario: `replay FILE --dry-run` with generated YAML, or a generated scenario name
- set:      `send-test <event> --dry-run --set PATH=VALUE` with generated paths/values
- history:  generated run files, then `history`, `history --json`, `replay --from-run`
- payload:  `send-test <event> --dry-run --payload FILE` with generated JSON
- argv:     generated command lines from the CLI's own vocabulary

YAML documents are structured (shaped like the real file, then one place replaced by a
generated value), hostile (alias bombs, circular anchors, deep nesting, huge scalars),
or byte-mutated (invalid UTF-8, NUL, stray anchors inserted at a generated offset).

    python benchmarks/fuzz.py                   # 2,000 inputs a family (14,000 in all)
    python benchmarks/fuzz.py --per-family 200  # quicker

Prints the counts; tests/test_safety_fuzz.py runs the same families with a small
budget (BP_INTEGRATE_FUZZ_EXAMPLES, default 50 a family) and asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

PD_KEY = "0123456789abcdef0123456789abcdef"
RUN_ID = "20240501T101502123Z-3fa1c2"
INTEGRATIONS = ("xmatters", "pagerduty", "incidentio", "panopta")
KEYS = st.sampled_from(
    [
        "profiles", "default", "integrations", "settings", "secrets", "secret_store",
        "version", "bigpanda", "api_url", "steps", "name", "tags", "event", "incident",
        "alerts", "status", "at", "type", "id", "counts", "targets", "events_url",
        "trigger_url", "recipients", "auth", "username", "override_tag", "callback_url",
        "outage_url", "clear_url", "target", "payload", "field_map", "1", "",
    ]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["keyring", "env", "file", "trigger", "resolve", "https://x.test/a"])
    # issue 20 item 7: lone surrogates, YAML dates and timestamps, huge numbers
    | st.sampled_from(["\ud800", "a\udfffb", 1e308, -(2**64), 10**400])
    | st.dates()
    | st.datetimes()
)
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(KEYS | st.text(max_size=6) | st.integers(-3, 3), children, max_size=4)
    ),
    max_leaves=25,
)


def dump(value: Any) -> bytes:
    try:
        return yaml.safe_dump(value, allow_unicode=True).encode("utf-8", "surrogatepass")
    except (yaml.YAMLError, ValueError):
        return b"x: 1\n"


@st.composite
def replaced(draw: Any, template: Any) -> Any:
    """`template` with one place (chosen by the draw) replaced by a generated value."""
    doc = json.loads(json.dumps(template))
    spots: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in list(items):
            spots.append((node, key))
            if isinstance(child, dict | list):
                walk(child)

    walk(doc)
    roll = draw(st.integers(0, 9))
    if roll == 1:
        return doc  # the real shape, unchanged: the success path is exercised too
    if not spots or roll == 0:
        return draw(VALUES)
    parent, key = draw(st.sampled_from(spots))
    parent[key] = draw(VALUES)
    if isinstance(parent, dict) and draw(st.booleans()):
        parent[draw(KEYS | st.integers(-2, 2))] = draw(VALUES)
    return doc


def hostile() -> st.SearchStrategy[bytes]:
    """Alias bombs, circular anchors, deep nesting, long scalars."""
    bombs = st.tuples(st.integers(2, 12), st.integers(2, 12)).map(
        lambda dw: "".join(
            f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i else 'x'] * dw[1])}]\n"
            for i in range(dw[0])
        ).encode()
    )
    circular = st.sampled_from(
        [b"&a [*a]\n", b"a: &a {b: *a}\n", b"profiles: &p {default: *p}\n", b"steps: &s [*s]\n"]
    )
    deep = st.tuples(st.integers(10, 20000), st.sampled_from(["[", "{a: ", "- "])).map(
        lambda nk: (nk[1] * nk[0] + "1" + ("]" * nk[0] if nk[1] == "[" else "")).encode()
    )
    huge = st.integers(1000, 200000).map(lambda n: b"name: " + b"x" * n + b"\n")
    return bombs | circular | deep | huge | st.binary(max_size=300)


@st.composite
def mutated(draw: Any, base: st.SearchStrategy[bytes]) -> bytes:
    data = draw(base)
    at = draw(st.integers(0, len(data)))
    junk = draw(
        st.sampled_from([b"\xff", b"\xc3", b"\x00", b"&a ", b"*a", b"\t", b"\xed\xa0\x80", b"!!"])
        | st.binary(min_size=1, max_size=8)
    )
    return data[:at] + junk + data[at:]


def yaml_family(template: Any) -> st.SearchStrategy[bytes]:
    structured = replaced(template).map(dump)
    return structured | hostile() | mutated(structured)


@dataclass
class Case:
    family: str
    argv: list[str]
    files: dict[str, bytes] = field(default_factory=dict)  # path relative to the workspace
    installed: bool = False
    stdin: bytes | None = None
    links: dict[str, str] = field(default_factory=dict)  # path -> what the symlink names
    modes: dict[str, int] = field(default_factory=dict)  # path (or folder) -> chmod mode


CONFIG_TEMPLATE = {
    "version": 1,
    "profiles": {
        "default": {
            "bigpanda": {"region": "us", "api_url": "https://api.bigpanda.io"},
            "integrations": {
                "pagerduty": {
                    "settings": {"events_url": "https://events.pagerduty.com/v2/enqueue"},
                    "secret_store": "env",
                    "secrets": ["integration_key"],
                    "installed_at": "2024-05-01T10:00:00+00:00",
                    "updated_at": "2024-05-01T10:00:00+00:00",
                }
            },
        }
    },
}
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "answers"
#: The shipped answers file of each integration: the shape generated answers start from.
ANSWERS = {name: yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text()) for name in INTEGRATIONS}
SECRET_ENV = {
    "BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY": PD_KEY,
    "BP_INTEGRATE_XMATTERS_PASSWORD": "xm-password",
    "BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY": "xm-api-key",
    "BP_INTEGRATE_INCIDENTIO_SECRET": "inc-secret",
    "BP_INTEGRATE_PANOPTA_OUTAGE_URL_APIKEY": "pan-key",
    "BP_INTEGRATE_PANOPTA_CLEAR_URL_APIKEY": "pan-key",
}
SCENARIO_TEMPLATE = {
    "name": "disk-full",
    "description": "Disk usage warning that escalates, then recovers.",
    "tags": {"service": "checkout", "check": "Disk usage /var"},
    "steps": [
        {"event": "incident#new", "set": {"incident.alerts[0].description": "Disk 91%"}},
        {"event": "incident#updated", "delay": 0.01, "tags": {"priority": "P1"}},
        {"event": "incident#commented", "comment": "Cleaning up old WAL segments"},
        {"event": "incident#closed"},
    ],
}
RUN_TEMPLATE = [
    {"type": "run", "id": RUN_ID, "started_at": "2024-05-01T10:15:02.123+00:00",
     "command": "send-test", "profile": "default", "targets": ["pagerduty"], "options": {}},
    {"type": "event", "seq": 1, "event": "trigger", "incident_id": "abc",
     "body": {"incident": {"id": "abc", "status": "critical", "alerts": []}}},
    {"type": "send", "seq": 1, "integration": "pagerduty", "status": 202, "ok": True},
    {"type": "end", "finished_at": "2024-05-01T10:15:03+00:00", "outcome": "success",
     "counts": {"events": 1, "sent": 1, "ok": 1, "failed": 0, "skipped": 0}},
]  # fmt: skip
EVENTS = st.sampled_from(["new", "trigger", "resolve", "comment", "incident#new", "x"])


INSTALL = ["install", "--no-input", "--no-verify", "--secret-store", "env"]


def answers_cases() -> st.SearchStrategy[Case]:
    def for_integration(name: str) -> st.SearchStrategy[Case]:
        return yaml_family(ANSWERS[name]).map(
            lambda body: Case(
                "answers",
                [*INSTALL, name, "--answers", "answers.yaml"],
                {"answers.yaml": body},
            )
        )

    return st.one_of(*(for_integration(name) for name in INTEGRATIONS))


CONFIG_COMMANDS = st.sampled_from(
    [["list"], ["profile", "show"], ["show", "pagerduty"], ["send-test", "new", "--dry-run"]]
)


def config_cases() -> st.SearchStrategy[Case]:
    return st.tuples(CONFIG_COMMANDS, yaml_family(CONFIG_TEMPLATE)).map(
        lambda cb: Case("config", cb[0], {"config/config.yaml": cb[1]})
    )


def scenario_cases() -> st.SearchStrategy[Case]:
    files = yaml_family(SCENARIO_TEMPLATE).map(
        lambda b: Case("scenario", ["replay", "s.yaml", "--dry-run"], {"s.yaml": b}, True)
    )
    delays = st.tuples(st.integers(1, 60), st.sampled_from([3600, 3599.5, 86400, 1e300])).map(
        lambda nd: Case(
            "scenario",
            ["replay", "s.yaml", "--dry-run"],
            {
                "s.yaml": yaml.safe_dump(
                    {"steps": [{"event": "new", "delay": nd[1]}] * nd[0]}
                ).encode()
            },
            True,
        )
    )
    names = (st.text(min_size=1, max_size=400) | st.integers(250, 5000).map("n".__mul__)).map(
        lambda n: Case("scenario", ["replay", n, "--dry-run"], {}, True)
    )
    return files | delays | names


SEGMENTS = st.sampled_from(
    ["incident", "alerts", "status", "tags", "0", "[0]", "[-1]", "1", "id", "updated_at",
     "started_on", "comment", "primary_property", "x", "", "[99999]"]
) | st.text(max_size=8) | st.integers(1, 6000).map("9".__mul__)  # fmt: skip
SET_VALUES = (
    VALUES.map(lambda v: json.dumps(v, allow_nan=True, default=str))
    | st.text(max_size=40)
    | st.sampled_from(["5", "1e20", "-1e308", "abc", "[]", "{}", "null", "\ud800", "9" * 5000])
    | st.integers(1, 5000).map(lambda n: "[" * n + "]" * n)
)


REAL_PATHS = st.sampled_from(
    ["incident", "incident.alerts", "incident.alerts.0", "incident.alerts[0].status",
     "incident.alerts[0].tags", "incident.alerts[0].description", "incident.status",
     "incident.updated_at", "incident.started_on", "incident.end", "incident.tags",
     "incident.id", "incident.alerts[0].primary_property", "comment", "incident.comments"]
)  # fmt: skip


def set_cases() -> st.SearchStrategy[Case]:
    random = st.lists(SEGMENTS, min_size=1, max_size=6).map(".".join)
    suffixed = st.tuples(REAL_PATHS, st.lists(SEGMENTS, max_size=2)).map(
        lambda ps: ".".join([ps[0], *ps[1]])
    )
    paths = REAL_PATHS | suffixed | random
    return st.tuples(EVENTS, paths, SET_VALUES).map(
        lambda epv: Case(
            "set",
            ["send-test", epv[0], "--dry-run", "--to", "pagerduty", "--set", f"{epv[1]}={epv[2]}"],
            {},
            True,
        )
    )


@st.composite
def run_file(draw: Any) -> bytes:
    lines: list[bytes] = []
    for record in RUN_TEMPLATE:
        kind = draw(st.integers(0, 5))
        if kind == 0:
            lines.append(json.dumps(draw(replaced(record)), allow_nan=True, default=str).encode())
        elif kind == 1:
            lines.append(draw(hostile()).replace(b"\n", b" "))
        else:
            lines.append(json.dumps(record).encode())
    data = b"\n".join(lines) + b"\n"
    return draw(mutated(st.just(data))) if draw(st.booleans()) else data


HISTORY_COMMANDS = st.sampled_from(
    [["history"], ["history", "--json"], ["replay", "--from-run", RUN_ID, "--dry-run"]]
)


RUN_PATH = f"state/runs/{RUN_ID}.jsonl"
#: What a run file may be instead of a file bp-integrate wrote (item 7 d): a link to an
#: endless device, a FIFO nobody writes, or a file or folder anyone could have written.
ODD_RUNS = st.sampled_from(
    [
        {"links": {RUN_PATH: "/dev/zero"}},
        {"links": {RUN_PATH: "/dev/urandom"}},
        {"links": {RUN_PATH: "/proc/self/fd/0"}},
        {"fifo": True},
        {"modes": {RUN_PATH: 0o666}},
        {"modes": {"state/runs": 0o777}},
        {"modes": {RUN_PATH: 0o620}},
    ]
)


def history_cases() -> st.SearchStrategy[Case]:
    plain = st.tuples(HISTORY_COMMANDS, run_file()).map(
        lambda cf: Case("history", cf[0], {RUN_PATH: cf[1]}, True)
    )
    odd = st.tuples(HISTORY_COMMANDS, run_file(), ODD_RUNS).map(
        lambda cfo: Case(
            "history",
            cfo[0],
            {} if cfo[2].get("links") or cfo[2].get("fifo") else {RUN_PATH: cfo[1]},
            True,
            links={**cfo[2].get("links", {}), **({RUN_PATH: "fifo"} if cfo[2].get("fifo") else {})},
            modes=cfo[2].get("modes", {}),
        )
    )
    return plain | odd


PAYLOAD_TEMPLATE = {
    "incident": {
        "id": "5f1b2c3d4e",
        "status": "critical",
        "start": 1714557302,
        "updated_at": 1714557302,
        "alerts": [{"status": "critical", "description": "Disk 91%", "tags": {"host": "db-3"}}],
    }
}


def payload_json(value: Any) -> bytes:
    try:
        return json.dumps(value, allow_nan=True, default=str).encode("utf-8", "surrogatepass")
    except (ValueError, TypeError):
        return b"{}"


def payload_cases() -> st.SearchStrategy[Case]:
    deep = st.integers(10, 20000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n)
    odd = st.sampled_from(
        [b"NaN", b'{"a": Infinity}', b"[]", b'"x"', b'{"a": 1' + b"0" * 5000, b'"\\ud800"',
         b'{"incident": {"id": "\\udfff", "status": "critical"}}', b'{"alerts": 5}',
         b'{"incident": {"alerts": "abc"}}', b'{"incident": {"alerts": {"a": 1}}}',
         b'{"incident": {"alerts": [1, null]}}', b'{"incident": 5}', b'{"x": 1e400}']
    )  # fmt: skip
    structured = replaced(PAYLOAD_TEMPLATE).map(payload_json)
    bodies = structured | deep | odd | st.binary(max_size=300) | mutated(structured)
    return st.tuples(EVENTS, bodies).map(
        lambda eb: Case(
            "payload",
            ["send-test", eb[0], "--dry-run", "--to", "pagerduty", "--payload", "p.json"],
            {"p.json": eb[1]},
            True,
        )
    )


ARGV_WORDS = st.sampled_from(
    ["list", "install", "show", "uninstall", "send-test", "replay", "history", "profile",
     "set", "encode", "basic-auth", "demo", "--json", "--dry-run", "--set", "--to",
     "--profile", "-p", "--count", "--start", "--concurrency", "--limit", "--keep",
     "--prune", "--region", "--answers", "--no-input", "--yes", "pagerduty", "xmatters",
     "lifecycle", "new", "-1", "0", "99999999999999999999", "eu", "a=b", "--", "-"]
) | st.text(max_size=12)  # fmt: skip


def argv_cases() -> st.SearchStrategy[Case]:
    return st.lists(ARGV_WORDS, max_size=8).map(lambda argv: Case("argv", argv, {}, True))


FAMILIES = {
    "answers": answers_cases,
    "config": config_cases,
    "scenario": scenario_cases,
    "set": set_cases,
    "history": history_cases,
    "payload": payload_cases,
    "argv": argv_cases,
}


# --------------------------------------------------------------------------- running


class Hang(BaseException):
    """Raised by the per-input deadline (BaseException: no handler swallows it)."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    def fire(signum: int, frame: Any) -> None:
        raise Hang()

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    family: str
    argv: list[str]
    exit_code: int | None
    unexpected: str | None  # the "Error: unexpected" line, or an escaped exception
    hang: bool
    seconds: float
    output: str = ""  # stderr then stdout, for a look at one case


_TEMPLATE_CONFIG = yaml.safe_dump(CONFIG_TEMPLATE, sort_keys=False).encode()


def lay_out(work: Path, case: Case) -> None:
    """The case's files, links, FIFOs and modes in the workspace `work`."""
    for name, data in case.files.items():
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        target.write_bytes(data)
    for name, points_to in case.links.items():
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if points_to == "fifo":
            os.mkfifo(target, 0o600)
        else:
            target.symlink_to(points_to)
    for name, mode in case.modes.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not (work / name).exists():
            (work / name).mkdir(mode=0o700)
        os.chmod(work / name, mode)


def unexpected_in(output: str) -> str | None:
    """The first line that says an error was not foreseen: "Error: unexpected" or a
    traceback (which a user should never see)."""
    return next(
        (
            line
            for line in output.splitlines()
            if "Error: unexpected" in line or "Traceback" in line
        ),
        None,
    )


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(case: Case, limit: float = 10.0) -> Outcome:
    """Run one generated input in a fresh workspace; what happened."""
    from typer.testing import CliRunner

    from bp_integrate import ui
    from bp_integrate.cli import app

    work = Path(tempfile.mkdtemp(prefix="bp-fuzz-"))
    cwd = os.getcwd()
    try:
        (work / "config").mkdir(mode=0o700)
        (work / "state").mkdir(mode=0o700)
        if case.installed:
            (work / "config" / "config.yaml").write_bytes(_TEMPLATE_CONFIG)
        lay_out(work, case)
        env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("BP_INTEGRATE_")}
        env |= {
            "BP_INTEGRATE_CONFIG_DIR": str(work / "config"),
            "BP_INTEGRATE_STATE_DIR": str(work / "state"),
            **SECRET_ENV,
            "BP_INTEGRATE_LOCK_TIMEOUT": "1",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
        os.chdir(work)
        ui.err.cache_clear()
        ui.out.cache_clear()
        started = time.perf_counter()
        try:
            with deadline(limit):
                result = CliRunner().invoke(app, case.argv, input=case.stdin, env=env)
        except Hang:
            return Outcome(case.family, case.argv, None, None, True, time.perf_counter() - started)
        seconds = time.perf_counter() - started
        unexpected = unexpected_in(result.stderr + result.stdout)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            unexpected = f"escaped {type(result.exception).__name__}: {result.exception}"
        output = result.stderr + result.stdout
        return Outcome(case.family, case.argv, result.exit_code, unexpected, False, seconds, output)
    finally:
        os.chdir(cwd)
        ui.err.cache_clear()
        ui.out.cache_clear()
        shutil.rmtree(work, ignore_errors=True)


RSS_MARK = b"\nBP_FUZZ_PEAK_RSS_KIB="
#: The real CLI entry point (`bp_integrate.cli.main`), reporting its peak RSS at exit:
#: VmHWM, the high-water mark of its own memory since exec (ru_maxrss would include
#: the pages of the forking parent, which Linux counts until the exec).
CHILD = (
    "import atexit, os, sys\n"
    "def peak():\n"
    "    with open('/proc/self/status', 'rb') as f:\n"
    "        kib = next(int(l.split()[1]) for l in f if l.startswith(b'VmHWM:'))\n"
    "    os.write(2, b'%s%d' % (" + repr(RSS_MARK) + ", kib))\n"
    "atexit.register(peak)\n"
    "sys.argv[0] = 'bp-integrate'\n"
    "from bp_integrate.cli import main\n"
    "main()\n"
)


def can_exec(argv: list[str]) -> bool:
    """Whether a real process can be given `argv`: no NUL, and each argument bytes the
    file system encoding makes (a shell hands over bytes; `\\ud800` is no bytes)."""
    try:
        return not any(b"\x00" in os.fsencode(arg) for arg in argv)
    except UnicodeEncodeError:
        return False


def run_subprocess(case: Case, limit: float = 20.0) -> tuple[Outcome, float]:
    """Run one input as a real bp-integrate process; the outcome and that process's own
    peak RSS in MiB (it reports its VmHWM as it exits)."""
    work = Path(tempfile.mkdtemp(prefix="bp-fuzz-sub-"))
    try:
        (work / "config").mkdir(mode=0o700)
        (work / "state").mkdir(mode=0o700)
        if case.installed:
            (work / "config" / "config.yaml").write_bytes(_TEMPLATE_CONFIG)
        lay_out(work, case)
        env = {k: v for k, v in os.environ.items() if not k.startswith("BP_INTEGRATE_")}
        env |= {
            "BP_INTEGRATE_CONFIG_DIR": str(work / "config"),
            "BP_INTEGRATE_STATE_DIR": str(work / "state"),
            **SECRET_ENV,
            "BP_INTEGRATE_LOCK_TIMEOUT": "1",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "NO_COLOR": "1",
        }
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", CHILD, *case.argv],
            cwd=work,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            out, err = process.communicate(case.stdin or b"", timeout=limit)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            return Outcome(case.family, case.argv, None, None, True, limit), 0.0
        seconds = time.perf_counter() - started
        said = err.rsplit(RSS_MARK, 1)
        rss = int(said[1]) / 1024 if len(said) == 2 and said[1].strip().isdigit() else 0.0
        output = (said[0] + out).decode("utf-8", "replace")
        code = process.returncode
        outcome = Outcome(
            case.family, case.argv, code, unexpected_in(output), False, seconds, output
        )
        return outcome, rss
    finally:
        shutil.rmtree(work, ignore_errors=True)


def settings_for(examples: int, derandomize: bool = False) -> settings:
    """The benchmark explores (a new draw each run); the test suite passes
    `derandomize=True`, so CI is reproducible: the same inputs every run."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=derandomize,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def sweep(family: str, examples: int, limit: float, every_nth_as_process: int = 0) -> Sweep:
    """Run `examples` generated inputs of one family (every nth also as a real process);
    every outcome, nothing asserted."""
    done = Sweep()

    @settings_for(examples)
    @given(FAMILIES[family]())
    def one(case: Case) -> None:
        done.outcomes.append(run_case(case, limit))
        done.peak_rss_mib = max(done.peak_rss_mib, peak_rss_mib())
        due = every_nth_as_process and len(done.outcomes) % every_nth_as_process == 0
        if due and can_exec(case.argv):
            outcome, rss = run_subprocess(case, limit=SLOW)
            done.processes.append(outcome)
            done.process_rss_mib = max(done.process_rss_mib, rss)

    one()
    return done


#: The issue's bars: no input may take longer (s) or hold more memory (MiB).
SLOW = 20.0
BIG_MIB = 1024.0


@dataclass
class Sweep:
    outcomes: list[Outcome] = field(default_factory=list)
    processes: list[Outcome] = field(default_factory=list)  # the sample run as processes
    peak_rss_mib: float = 0.0  # this process's peak while the family ran in-process
    process_rss_mib: float = 0.0  # the largest peak of any sampled process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-family", type=int, default=2000)
    parser.add_argument("--deadline", type=float, default=SLOW, help="seconds an input")
    parser.add_argument("--families", nargs="*", default=list(FAMILIES))
    parser.add_argument(
        "--process-every", type=int, default=50, help="also run every Nth input as a process"
    )
    args = parser.parse_args()
    total = Counter[str]()
    process_peak = 0.0
    started = time.perf_counter()
    print(f"{'family':<10}{'inputs':>7}{'unexp':>6}{'hangs':>6}{'>20s':>5}{'max s':>7}"
          f"{'RSS MiB':>8}{'procs':>6}{'p-unexp':>8}{'p-RSS':>7}  exit codes  time")  # fmt: skip
    for family in args.families:
        t0 = time.perf_counter()
        done = sweep(family, args.per_family, args.deadline, args.process_every)
        outcomes = done.outcomes + done.processes
        unexpected = [o for o in outcomes if o.unexpected]
        hangs = [o for o in outcomes if o.hang]
        slow = [o for o in outcomes if o.hang or o.seconds > SLOW]
        codes = Counter(o.exit_code for o in done.outcomes if not o.hang)
        shown = ", ".join(f"{c}:{n}" for c, n in sorted(codes.items(), key=lambda x: str(x[0])))
        slowest = max((o.seconds for o in outcomes), default=0.0)
        p_unexp = sum(1 for o in done.processes if o.unexpected)
        print(f"{family:<10}{len(done.outcomes):>7}{len(unexpected):>6}{len(hangs):>6}"
              f"{len(slow):>5}{slowest:>7.2f}{done.peak_rss_mib:>8.0f}{len(done.processes):>6}"
              f"{p_unexp:>8}{done.process_rss_mib:>7.0f}  {shown}  "
              f"{time.perf_counter() - t0:.0f}s", flush=True)  # fmt: skip
        for o in (unexpected + hangs)[:5]:
            print(f"    {'HANG' if o.hang else o.unexpected!s:.150}  argv={o.argv!r:.150}")
        process_peak = max(process_peak, done.process_rss_mib)
        big = done.peak_rss_mib > BIG_MIB or done.process_rss_mib > BIG_MIB
        total.update(
            inputs=len(done.outcomes),
            processes=len(done.processes),
            unexpected=len(unexpected),
            hangs=len(hangs),
            slow=len(slow),
            big=int(big),
        )
    print(
        f"total: {total['inputs']} inputs ({total['processes']} also as processes), "
        f"{total['unexpected']} unexpected or tracebacks, {total['hangs']} hangs, "
        f"{total['slow']} over {SLOW:g} s, {total['big']} families over {BIG_MIB:g} MiB, "
        f"peak RSS {peak_rss_mib():.0f} MiB in-process, "
        f"{process_peak:.0f} MiB the most of one process, "
        f"{time.perf_counter() - started:.0f} s"
    )
    sys.exit(1 if total["unexpected"] or total["hangs"] or total["slow"] or total["big"] else 0)


if __name__ == "__main__":
    main()
