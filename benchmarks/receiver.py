"""Emulator benchmark: `hey -c 50` against loopback nginx and against the emulator, side by side.

Starts, on 127.0.0.1:
* nginx (Debian's /usr/sbin/nginx, a generated config in a temp dir, one worker,
  `return 202` with a PagerDuty-like JSON body): the ceiling of this machine;
* the emulator as a library (`EmulatorServer` in a child process, nothing printed: the
  emulator's adapter under aiohttp's low-level `web.Server`, `build_server`), on uvloop
  when it is installed, and again on asyncio's own loop (uvloop hidden), which is what a
  plain `pip install bp-integrate` runs;
* the same emulator and adapter as an `aiohttp.web.Application` (`build_app`, what one
  embeds in an aiohttp application; one catch-all route) under an `AppRunner`, to show
  what the application layer costs;
* the emulator as users run it (`bp-integrate receiver --port P`, output to /dev/null).

Each gets `hey -c 50 -z Ds -m POST` with the same PagerDuty Events v2 enqueue body
(a valid trigger, so the emulator validates, records and answers 202). The servers
take turns for R rounds, so load from other processes on the machine skews all of them
alike. Prints every round (requests/s, the ratio to nginx of that round, the load
average), then the median round of each (requests/s, ratio, p50/p99) and how many
answers were not 202; asserts nothing.

    python benchmarks/receiver.py                 # 3 rounds of 5 s
    python benchmarks/receiver.py --rounds 1 --duration 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loopback import NGINX, free_port, nginx_conf, wait_listening

HEY = ("hey", "-c", "50", "-m", "POST")
BODY = {
    "routing_key": "0123456789abcdef0123456789abcdef",
    "event_action": "trigger",
    "dedup_key": "bench-incident-1",
    "payload": {"summary": "CPU high on db-1", "source": "db-1", "severity": "critical"},
}
EMULATOR = """\
import sys, threading
if sys.argv[2] == "asyncio":
    sys.modules["uvloop"] = None  # as if the `fast` extra were not installed
from bp_integrate.emulator import EmulatorServer
with EmulatorServer(port=int(sys.argv[1])):
    threading.Event().wait()
"""
APPLICATION = """\
import asyncio, sys
from aiohttp import web
from bp_integrate.emulator.app import build_app
from bp_integrate.loop import new_event_loop

async def main():
    runner = web.AppRunner(build_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1]), backlog=1024).start()
    await asyncio.Event().wait()

new_event_loop().run_until_complete(main())
"""


@dataclass
class Round:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    not_202: int


def run_hey(url: str, body_file: Path, duration: float) -> Round:
    out = subprocess.run(
        [*HEY, "-z", f"{duration:g}s", "-T", "application/json", "-D", str(body_file), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = float(re.search(r"50% in ([\d.]+) secs", out).group(1))  # type: ignore[union-attr]
    p99 = float(re.search(r"99% in ([\d.]+) secs", out).group(1))  # type: ignore[union-attr]
    codes = {int(c): int(n) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)}
    return Round(rps, p50 * 1000, p99 * 1000, sum(n for c, n in codes.items() if c != 202))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of hey per round")
    args = parser.parse_args()
    if shutil.which("hey") is None or not os.path.exists(NGINX):
        raise SystemExit("needs hey and nginx: apt-get install -y hey nginx")
    load_before = os.getloadavg()[0]
    python = sys.executable
    cli = str(Path(python).with_name("bp-integrate"))
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bp-bench-receiver-") as tmp:
        body_file = Path(tmp, "body.json")
        body_file.write_text(json.dumps(BODY))
        names = ["nginx", "emulator", "emulator-application", "receiver"]
        if _has_uvloop():
            names.insert(2, "emulator-asyncio")
        ports = {name: free_port() for name in names}
        nginx_conf(
            Path(tmp),
            ports["nginx"],
            "/",
            '{"status":"success","message":"Event processed","dedup_key":"x"}',
        )
        try:
            procs.append(
                subprocess.Popen([NGINX, "-c", f"{tmp}/nginx.conf"], stderr=subprocess.DEVNULL)
            )
            procs.append(
                subprocess.Popen([python, "-c", EMULATOR, str(ports["emulator"]), "default"])
            )
            if "emulator-asyncio" in ports:
                procs.append(
                    subprocess.Popen(
                        [python, "-c", EMULATOR, str(ports["emulator-asyncio"]), "asyncio"]
                    )
                )
            procs.append(
                subprocess.Popen([python, "-c", APPLICATION, str(ports["emulator-application"])])
            )
            procs.append(
                subprocess.Popen(
                    [cli, "receiver", "--port", str(ports["receiver"])],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env={**os.environ, "NO_COLOR": "1"},
                )
            )
            for name, proc in zip(ports, procs, strict=True):
                wait_listening(ports[name], proc)
            rounds: dict[str, list[Round]] = {name: [] for name in ports}
            loads: list[tuple[float, float]] = []
            for _ in range(args.rounds):
                before = os.getloadavg()[0]
                for name, port in ports.items():
                    url = f"http://127.0.0.1:{port}/v2/enqueue"
                    rounds[name].append(run_hey(url, body_file, args.duration))
                loads.append((before, os.getloadavg()[0]))
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=10)
    loop = "uvloop" if _has_uvloop() else "asyncio"
    print(
        f"hey -c 50 -z {args.duration:g}s, PagerDuty enqueue body, median of "
        f"{args.rounds} round(s); {os.cpu_count()} CPUs; load average {load_before:.2f} "
        f"before, {os.getloadavg()[0]:.2f} after"
    )
    labels = {
        "nginx": "nginx (1 worker, return 202)",
        "emulator": f"emulator (EmulatorServer, {loop})",
        "emulator-asyncio": "emulator (EmulatorServer, asyncio)",
        "emulator-application": f"emulator (web.Application, {loop})",
        "receiver": "bp-integrate receiver (> /dev/null)",
    }
    print("round  load      " + "  ".join(f"{name:>20}" for name in rounds))
    for n, (load_from, load_to) in enumerate(loads):
        ceiling_n = rounds["nginx"][n].requests_per_s
        cells = [
            f"{r[n].requests_per_s:>10,.0f} ({r[n].requests_per_s / ceiling_n:.2f}x)"
            for r in rounds.values()
        ]
        print(f"{n + 1:>5}  {load_from:.1f}-{load_to:.1f}  " + "  ".join(f"{c:>20}" for c in cells))
    print(f"{'server':<40} {'requests/s':>11} {'x nginx':>8} {'p50':>9} {'p99':>9} {'not 202':>8}")
    ceiling = statistics.median(r.requests_per_s for r in rounds["nginx"])
    for name, results in rounds.items():
        mid = sorted(results, key=lambda r: r.requests_per_s)[len(results) // 2]
        print(
            f"{labels[name]:<40} {mid.requests_per_s:>11,.0f} "
            f"{mid.requests_per_s / ceiling:>7.2f}x {mid.p50_ms:>7.1f}ms {mid.p99_ms:>7.1f}ms "
            f"{sum(r.not_202 for r in results):>8}"
        )


def _has_uvloop() -> bool:
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
