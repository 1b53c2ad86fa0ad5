"""Storm-mode benchmark: events/s, latency and peak memory of `bp-integrate replay lifecycle
--count N`, side by side in one run with the ceiling (`hey -c 50` on the same server).

Two servers on loopback, one after the other: nginx (Debian's /usr/sbin/nginx, a
generated config in a temp dir, one worker, `return 202 '{"requestId":"x"}'` on the
xMatters trigger path) and the embedded emulator (`EmulatorServer` in a child process).
Against each: `hey -c 50` POSTing the storm's own first body, then the storm with one
worker (W = 1: this process) and with one worker per core (W = cores), for each N. The
storm targets an xMatters integration installed in a throwaway profile (config and state
dirs in a temp dir, secrets from the environment). Each storm runs in a child process;
peak RSS is read per process (the storm's process and each worker: VmHWM from /proc,
polled while it runs, and the storm process's own from os.wait4). `--old REF` exports
that commit's bp_integrate (git archive) and runs it with this Python too (W = 1 rows:
old engines have no --workers), so both engines meet the same servers and load.

    python benchmarks/storm.py                     # N = 1,000 and 100,000
    python benchmarks/storm.py --quick             # N = 200 and 2,000
    python benchmarks/storm.py --sizes 1000,20000 --servers nginx
    python benchmarks/storm.py --old 8ed573c       # also the engine of commit 8ed573c

Prints figures; asserts nothing. Needs Debian's nginx and hey for the full table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loopback import NGINX, free_port, start_nginx, wait_listening

FUNCTION_ID = "6b7c1f0e-2d4a-4c8e-9f3b-0a1b2c3d4e5f"
TRIGGER_PATH = f"/api/integration/1/functions/{FUNCTION_ID}/triggers"
API_KEY = "bench-api-key"


def start_server(work: Path, kind: str) -> tuple[subprocess.Popen[bytes], str, str]:
    """(process, base URL, what it is) for kind "nginx" or "emulator"."""
    port = free_port()
    if kind == "nginx":
        ngx = work / "nginx"
        ngx.mkdir()
        proc = start_nginx(ngx, port, "/api/integration/1/functions/", '{"requestId":"x"}')
        what = "nginx (return 202, 1 worker)"
    else:
        code = (
            "import time\n"
            "from bp_integrate.emulator import EmulatorConfig, EmulatorServer\n"
            f"with EmulatorServer(port={port}, config=EmulatorConfig(xmatters_api_key="
            f"{API_KEY!r})):\n"
            "    time.sleep(10**6)\n"
        )
        proc = subprocess.Popen([sys.executable, "-c", code])
        what = "the emulator (EmulatorServer in a child process)"
    wait_listening(port)
    return proc, f"http://127.0.0.1:{port}", what


def profile_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BP_INTEGRATE_")}
    work.mkdir(parents=True, exist_ok=True)
    env.update(
        BP_INTEGRATE_CONFIG_DIR=str(work / "config"),
        BP_INTEGRATE_STATE_DIR=str(work / "state"),
        BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY=API_KEY,
        NO_COLOR="1",
    )
    return env


def install(base_url: str, env: dict[str, str]) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bp_integrate",
            "install",
            "xmatters",
            "--no-input",
            "--no-verify",
            "--secret-store",
            "env",
            "--set",
            f"trigger_url={base_url}{TRIGGER_PATH}?apiKey=****",
            "--set",
            "recipients=bench",
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _hwm_mb(pid: int) -> float | None:
    """A live process's peak RSS so far (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _children(pid: int) -> list[int]:
    try:
        return [int(n) for n in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def storm(
    count: int,
    concurrency: int,
    env: dict[str, str],
    work: Path,
    code: Path | None = None,
    workers: int | None = None,
) -> dict:
    """One storm in a child process: its JSON summary plus each process's peak RSS.

    `code`: a folder holding another commit's bp_integrate, run instead of this one.
    `workers`: --workers W (None: not given, for engines without the option).
    """
    label = code.name if code else "this"
    out_path = work / f"storm-{count}-{label}-{workers}.json"
    child_env = dict(env)
    if code is not None:
        child_env["PYTHONPATH"] = str(code)
    args = [sys.executable, "-m", "bp_integrate", "replay", "lifecycle", "--count", str(count),
            "--concurrency", str(concurrency), "--json", "--retries", "0"]  # fmt: skip
    if workers is not None:
        args += ["--workers", str(workers)]
    worker_peaks: dict[int, float] = {}
    with out_path.open("wb") as out:
        proc = subprocess.Popen(
            args, env=child_env, cwd=str(code or work), stdout=out, stderr=subprocess.DEVNULL
        )
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            for child in _children(proc.pid):
                peak = _hwm_mb(child)
                if peak is not None:
                    worker_peaks[child] = max(peak, worker_peaks.get(child, 0.0))
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
    doc = json.loads(out_path.read_text())
    # ru_maxrss of wait4: the storm process, or a worker if one grew larger (Linux
    # folds reaped children in); the workers' own are polled above.
    doc["peak_rss_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    doc["worker_rss_mb"] = sorted(worker_peaks.values())
    doc["exit_code"] = proc.returncode
    runs = work / "state" / "runs"
    doc["history_mb"] = sum(p.stat().st_size for p in runs.glob("*.jsonl")) / 1e6
    for path in runs.glob("*.jsonl"):
        path.unlink()  # keep the temp dir small between runs
    return doc


def export_commit(ref: str, work: Path) -> Path:
    """That commit's bp_integrate package in a folder of its own (git archive)."""
    root = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], check=True, capture_output=True, text=True
    ).stdout.strip()
    sha = subprocess.run(
        ["git", "-C", root, "rev-parse", "--short", ref], check=True, capture_output=True, text=True
    ).stdout.strip()
    target = work / f"old-{sha}"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", root, "archive", sha, "bp_integrate"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def storm_body(env: dict[str, str], work: Path) -> Path:
    """The storm's first request body (its dry run), for hey to send the same bytes."""
    out = subprocess.run(
        [sys.executable, "-m", "bp_integrate", "replay", "lifecycle", "--dry-run", "--json"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    first = json.loads(out.splitlines()[0])["requests"][0]["body"]
    path = work / "hey-body.json"
    path.write_text(json.dumps(first, separators=(",", ":"), ensure_ascii=False))
    return path


def hey(url: str, requests: int, concurrency: int, body: Path) -> dict | None:
    """`hey -c C -n N` POSTing the storm's body: requests/s, p50/p99 (ms), non-2xx."""
    if not shutil.which("hey"):
        return None
    out = subprocess.run(
        ["hey", "-c", str(concurrency), "-n", str(requests), "-m", "POST",
         "-T", "application/json", "-D", str(body), url],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = dict(re.findall(r"(\d+)% in ([\d.]+) secs", out))
    codes = dict(re.findall(r"\[(\d{3})\]\s+(\d+) responses", out))
    return {
        "rate": rate,
        "not_2xx": sum(int(n) for code, n in codes.items() if not code.startswith("2")),
        "p50_ms": float(pct.get("50", "nan")) * 1000,
        "p99_ms": float(pct.get("99", "nan")) * 1000,
    }


def curl_loop(base_url: str, count: int, work: Path) -> float | None:
    """Requests/s of `count` sequential curl invocations in a shell loop."""
    if not shutil.which("curl"):
        return None
    body = work / "body.json"
    body.write_text('{"event_type":"incident#new","incident":{"id":"x","status":"critical"}}')
    url = f"{base_url}{TRIGGER_PATH}?apiKey={API_KEY}"
    script = (
        f"for i in $(seq {count}); do curl -s -o /dev/null -X POST "
        f'-H "Content-Type: application/json" --data-binary @{body} "{url}"; done'
    )
    started = time.perf_counter()
    subprocess.run(["sh", "-c", script], check=True)
    return count / (time.perf_counter() - started)


def row(name: str, rate: float, ceiling: float | None, p50: float, p99: float, rss: str) -> str:
    ratio = f"{rate / ceiling:.2f}x" if ceiling else "-"
    return f"| {name} | {rate:,.0f} | {ratio} | {p50:.1f} ms | {p99:.1f} ms | {rss} |"


def rss_cell(doc: dict) -> str:
    workers = doc.get("worker_rss_mb") or []
    if not workers:
        return f"{doc['peak_rss_mb']:.1f} MB"
    shown = " + ".join(f"{mb:.1f}" for mb in workers)
    return f"{doc['peak_rss_mb']:.1f} MB (workers {shown} MB)"


def bench_server(kind: str, args: argparse.Namespace, sizes: list[int], work: Path) -> None:
    cores = os.cpu_count() or 1
    (work / kind).mkdir()
    server, base_url, what = start_server(work / kind, kind)
    try:
        env = profile_env(work / kind / "profile")
        install(base_url, env)
        url = f"{base_url}{TRIGGER_PATH}?apiKey={API_KEY}"
        body = storm_body(env, work / kind)
        ceiling = hey(url, args.hey_requests, args.concurrency, body)
        top = ceiling["rate"] if ceiling else None
        print(f"\n{what} at {base_url}\n")
        print("| run | events/s | x hey | p50 | p99 | peak RSS |")
        print("|---|---|---|---|---|---|")
        if ceiling:
            bad = f" ({ceiling['not_2xx']} not 2xx)" if ceiling["not_2xx"] else ""
            print(row(f"hey -c {args.concurrency}{bad}", ceiling["rate"], top,
                      ceiling["p50_ms"], ceiling["p99_ms"], "-"), flush=True)  # fmt: skip
        engines: list[tuple[str, Path | None, int | None]] = [
            ("storm W = 1", None, 1),
            (f"storm W = {cores}", None, cores),
        ]
        if args.old:
            engines.insert(0, (f"old engine ({args.old})", args.old_code, None))
        for count in sizes:
            for name, code, workers in engines:
                doc = storm(count, args.concurrency, env, work / kind / "profile", code, workers)
                lat = doc["latency"]
                print(
                    row(f"{name}, N = {count:,}", doc["events_per_s"], top,
                        lat["p50_ms"], lat["p99_ms"], rss_cell(doc))
                    + ("" if doc["failed"] == 0 else f" ({doc['failed']} failed)"),
                    flush=True,
                )  # fmt: skip
        if kind == "nginx" and not args.no_curl:
            loops = 200 if args.quick else 1_000
            rate = curl_loop(base_url, loops, work / kind)
            if rate is not None:
                print(row(f"curl in a shell loop ({loops:,} requests)", rate, top, 0, 0, "-"))
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 200 and 2,000 only.")
    parser.add_argument("--sizes", help="Comma-separated N values (default 1000,100000).")
    parser.add_argument(
        "--servers", default="nginx,emulator", help="Which servers, in order (nginx,emulator)."
    )
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--hey-requests", type=int, default=50_000)
    parser.add_argument("--no-curl", action="store_true", help="Skip the curl loop.")
    parser.add_argument(
        "--old", metavar="REF", help="Also run the engine of this commit (e.g. 8ed573c)."
    )
    args = parser.parse_args()
    if args.sizes:
        sizes = [int(n) for n in args.sizes.split(",")]
    else:
        sizes = [200, 2_000] if args.quick else [1_000, 100_000]
    if args.quick:
        args.hey_requests = min(args.hey_requests, 10_000)
    with tempfile.TemporaryDirectory(prefix="bp-storm-bench-") as tmp:
        work = Path(tmp)
        args.old_code = export_commit(args.old, work) if args.old else None
        print(
            f"concurrency {args.concurrency}; scenario lifecycle (5 events per incident, one "
            f"xMatters target); {os.cpu_count()} CPUs; load average "
            f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        for kind in args.servers.split(","):
            if kind == "nginx" and not Path(NGINX).exists():
                print("\n(nginx not found: skipped)")
                continue
            bench_server(kind, args, sizes, work)
        print(f"\nload average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
