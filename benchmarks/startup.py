"""Start-up time of `bp-integrate --help` beside a minimal Typer app's `--help`.

Goal: bp-integrate's median at most 1.15x the minimal app's (same Python, same Typer),
so the CLI's own start-up costs little on top of Typer's. Prints the figures; asserts
nothing (CI does not run benchmarks; tests/test_startup.py guards the imports).

    python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.15

MINIMAL_APP = '''
import typer

app = typer.Typer(help="A minimal Typer app, for comparison.")


@app.callback()
def root() -> None:
    """Minimal."""


@app.command()
def hello(name: str = "world") -> None:
    """Say hello."""
    typer.echo(f"hello {name}")


app()
'''


def median_seconds(command: list[str], runs: int) -> float:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    subprocess.run(command, capture_output=True, env=env, check=True)  # warm the disk cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, env=env, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command (default 15)")
    args = parser.parse_args()

    script = shutil.which("bp-integrate")
    ours = [script, "--help"] if script else [sys.executable, "-m", "bp_integrate", "--help"]
    with tempfile.TemporaryDirectory() as tmp:
        minimal = Path(tmp) / "minimal_typer_app.py"
        minimal.write_text(MINIMAL_APP, encoding="utf-8")
        base = median_seconds([sys.executable, str(minimal), "--help"], args.runs)
    mine = median_seconds(ours, args.runs)

    import typer

    ratio = mine / base
    print(f"Python {sys.version.split()[0]}, Typer {typer.__version__}, {args.runs} runs each")
    print(f"minimal Typer app --help : {base * 1000:7.1f} ms (median)")
    print(f"bp-integrate --help      : {mine * 1000:7.1f} ms (median)  [{' '.join(ours)}]")
    verdict = "meets" if ratio <= GOAL else "MISSES"
    print(f"ratio                    : {ratio:7.3f}x  ({verdict} the goal of <= {GOAL:.2f}x)")


if __name__ == "__main__":
    main()
