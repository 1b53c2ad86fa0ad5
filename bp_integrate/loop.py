"""The event loop every async part runs on (the run engine, storm workers, the emulator):
uvloop's when it is installed (the `fast` extra), else asyncio's. Measured: a storm
sends 0-10 % more per second on it, the emulator answers 0-25 % more requests per
second under load (benchmarks/README.md)."""

from __future__ import annotations

import asyncio


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop
