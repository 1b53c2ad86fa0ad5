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
    python benchmarks/storm.py --servers nginx --sizes 20000 --no-curl \
        --clients aiohttp,pyreqwest --locust /tmp/locust-venv/bin/locust
                                                   # the webhook client candidates, and Locust

`--clients` runs the storm once per candidate webhook client: `aiohttp` is the product's
client as it ships (`bp_integrate.http`); `pyreqwest`, `aiosonic` and `curl_cffi` are the
adapters below, each put in place of the product's own through `_BP_INTEGRATE_BENCH_SENDER`
(read by `bp_integrate.http.async_sender` for this benchmark only; they need those
packages installed, none is a dependency). `--locust PATH` also runs Locust's FastHttpUser
(one fixed POST of the storm's body, as many users as the storm's concurrency, with 1 and
W processes; Locust in a virtual environment of its own, it pins gevent) against the same
nginx in the same run.

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


# ------------------------------------------------------------- webhook client candidates
# Each is an AsyncSender (bp_integrate.http): request() -> Response, aclose().


class ReqwestSender:
    """pyreqwest (Rust reqwest and hyper, rustls): the product's sender before issue 16 chose
    aiohttp, kept here as a candidate. Direct sends only; a streamed answer, as it shipped."""

    def __init__(self, max_connections: int) -> None:
        from datetime import timedelta

        from pyreqwest.client import ClientBuilder

        self._client = (
            ClientBuilder()
            .max_connections(max(1, max_connections))
            .follow_redirects(False)
            .default_cookie_store(False)
            .gzip(True)
            .deflate(True)
            .http1_only()
            .pool_idle_timeout(timedelta(seconds=4))
            .no_proxy()
            .build()
        )
        self._spans: dict[float, object] = {}

    async def request(self, method, url, headers, content, timeout):  # type: ignore[no-untyped-def]
        from datetime import timedelta

        from pyreqwest.exceptions import PyreqwestError

        from bp_integrate.failures import classify
        from bp_integrate.http import NetworkFailure, Response

        span = self._spans.setdefault(timeout, timedelta(seconds=timeout))
        try:
            request = (
                self._client.request(method, url).headers(dict(headers)).body_bytes(content)
                .timeout(span).streamed_read_buffer_limit(0).build_streamed()
            )  # fmt: skip
            async with request as answer:
                body = bytes(await answer.body_reader.read(65536) or b"")
                return Response(
                    answer.status, {k.lower(): v for k, v in answer.headers.items()}, body
                )
        except (PyreqwestError, TimeoutError, OSError) as exc:
            raise NetworkFailure(classify(exc)) from None

    async def aclose(self) -> None:
        await self._client.close()


class AiosonicSender:
    def __init__(self, max_connections: int) -> None:
        import aiosonic

        self._client = aiosonic.HTTPClient(
            connector=aiosonic.TCPConnector(pool_configs={":default": {"size": max_connections}})
        )

    async def request(self, method, url, headers, content, timeout):  # type: ignore[no-untyped-def]
        from bp_integrate.failures import classify
        from bp_integrate.http import NetworkFailure, Response

        try:
            answer = await self._client.request(url, method, dict(headers), data=content)
            body = await answer.content()
            return Response(
                answer.status_code, {k.lower(): v for k, v in answer.headers.items()}, body
            )
        except Exception as exc:  # aiosonic's errors have no common base
            raise NetworkFailure(classify(exc)) from None

    async def aclose(self) -> None:
        await self._client.connector.cleanup()


class CurlCffiSender:
    def __init__(self, max_connections: int) -> None:
        from curl_cffi.requests import AsyncSession

        self._session = AsyncSession(max_clients=max_connections)

    async def request(self, method, url, headers, content, timeout):  # type: ignore[no-untyped-def]
        from bp_integrate.failures import classify
        from bp_integrate.http import NetworkFailure, Response

        try:
            answer = await self._session.request(
                method, url, headers=dict(headers), data=content, timeout=timeout,
                allow_redirects=False,
            )  # fmt: skip
            return Response(
                answer.status_code,
                {k.lower(): v for k, v in answer.headers.items()},
                answer.content,
            )
        except Exception as exc:  # curl_cffi's RequestException and friends
            raise NetworkFailure(classify(exc)) from None

    async def aclose(self) -> None:
        await self._session.close()


#: --clients name -> the `_BP_INTEGRATE_BENCH_SENDER` hook (None: the product as it ships).
CLIENTS: dict[str, str | None] = {
    "aiohttp": None,
    "pyreqwest": "storm:ReqwestSender",
    "aiosonic": "storm:AiosonicSender",
    "curl_cffi": "storm:CurlCffiSender",
}

LOCUSTFILE = """\
import os
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

BODY = open(os.environ["BENCH_BODY"], "rb").read()
PATH = os.environ["BENCH_PATH"]


class Storm(FastHttpUser):
    wait_time = constant(0)

    @task
    def post(self):
        self.client.post(PATH, data=BODY, headers={"Content-Type": "application/json"})
"""


def locust(locust_bin: str, base: str, path: str, body: Path, users: int, processes: int,
           seconds: int, work: Path) -> dict | None:  # fmt: skip
    """Locust FastHttpUser, headless: requests/s and p50/p99 (ms) over `seconds`."""
    work.mkdir(parents=True, exist_ok=True)
    script = work / "locustfile.py"
    script.write_text(LOCUSTFILE)
    prefix = work / f"locust-{processes}"
    env = dict(os.environ, BENCH_BODY=str(body), BENCH_PATH=path)
    args = [locust_bin, "-f", str(script), "--headless", "-u", str(users), "-r", str(users),
            "-t", f"{seconds}s", "-H", base, "--csv", str(prefix), "--only-summary",
            "--loglevel", "ERROR"]  # fmt: skip
    if processes > 1:
        args += ["--processes", str(processes)]
    subprocess.run(args, env=env, cwd=str(work), capture_output=True, timeout=seconds + 60)
    stats = prefix.with_name(prefix.name + "_stats.csv")
    if not stats.exists():
        return None
    import csv

    for line in csv.DictReader(stats.open()):
        if line["Name"] == "Aggregated":
            return {
                "rate": float(line["Requests/s"]),
                "p50_ms": float(line["50%"]),
                "p99_ms": float(line["99%"]),
                "failed": int(line["Failure Count"]),
            }
    return None


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
    client: str | None = None,
) -> dict:
    """One storm in a child process: its JSON summary plus each process's peak RSS.

    `code`: a folder holding another commit's bp_integrate, run instead of this one.
    `workers`: --workers W (None: not given, for engines without the option).
    """
    label = code.name if code else "this"
    out_path = work / f"storm-{count}-{label}-{workers}-{(client or '').replace(':', '-')}.json"
    child_env = dict(env)
    if code is not None:
        child_env["PYTHONPATH"] = str(code)
    if client is not None:
        child_env["_BP_INTEGRATE_BENCH_SENDER"] = client
        child_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(Path(__file__).resolve().parent), child_env.get("PYTHONPATH")) if p
        )
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
    """A table row; the last cell is the 1-minute load average as the row ended (the
    machine may be shared: ratios to hey in the same run are what compare)."""
    ratio = f"{rate / ceiling:.2f}x" if ceiling else "-"
    load = f"{os.getloadavg()[0]:.1f}"
    return f"| {name} | {rate:,.0f} | {ratio} | {p50:.1f} ms | {p99:.1f} ms | {rss} | {load} |"


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
        print("| run | events/s | x hey | p50 | p99 | peak RSS | load |")
        print("|---|---|---|---|---|---|---|")
        if ceiling:
            bad = f" ({ceiling['not_2xx']} not 2xx)" if ceiling["not_2xx"] else ""
            print(row(f"hey -c {args.concurrency}{bad}", ceiling["rate"], top,
                      ceiling["p50_ms"], ceiling["p99_ms"], "-"), flush=True)  # fmt: skip
        engines: list[tuple[str, Path | None, int | None, str | None]] = []
        for client in args.clients.split(","):
            hook = CLIENTS[client]
            engines += [
                (f"storm ({client}) W = 1", None, 1, hook),
                (f"storm ({client}) W = {cores}", None, cores, hook),
            ]
        if args.old:
            engines.insert(0, (f"old engine ({args.old})", args.old_code, None, None))
        for count in sizes:
            for name, code, workers, hook in engines:
                doc = storm(
                    count, args.concurrency, env, work / kind / "profile", code, workers, hook
                )
                lat = doc["latency"]
                print(
                    row(f"{name}, N = {count:,}", doc["events_per_s"], top,
                        lat["p50_ms"], lat["p99_ms"], rss_cell(doc))
                    + ("" if doc["failed"] == 0 else f" ({doc['failed']} failed)"),
                    flush=True,
                )  # fmt: skip
        if kind == "nginx" and args.locust:
            base, _, path = url.partition(TRIGGER_PATH)
            for processes in sorted({1, cores}):
                found = locust(args.locust, base, TRIGGER_PATH + path, body, args.concurrency,
                               processes, args.locust_seconds, work / kind / "locust")  # fmt: skip
                if found is None:
                    print(f"| Locust FastHttpUser, {processes} process(es) | (no figures) |")
                    continue
                bad = f" ({found['failed']} failed)" if found["failed"] else ""
                print(row(f"Locust FastHttpUser, {processes} process(es), "
                          f"{args.concurrency} users{bad}", found["rate"], top,
                          found["p50_ms"], found["p99_ms"], "-"), flush=True)  # fmt: skip
        if ceiling and args.clients != "aiohttp":
            again = hey(url, args.hey_requests, args.concurrency, body)
            if again:
                print(row(f"hey -c {args.concurrency} again", again["rate"], top,
                          again["p50_ms"], again["p99_ms"], "-"), flush=True)  # fmt: skip
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
        "--clients",
        default="aiohttp",
        help=f"Webhook clients to storm with, in order ({','.join(CLIENTS)}).",
    )
    parser.add_argument("--locust", metavar="PATH", help="Also run this Locust (FastHttpUser).")
    parser.add_argument("--locust-seconds", type=int, default=20)
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
