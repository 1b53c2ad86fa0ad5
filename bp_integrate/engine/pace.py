"""Pacing and measuring a run: the rate limiter and the fixed-size latency histogram."""

from __future__ import annotations

import asyncio
import math
import time


class LatencyHistogram:
    """Latencies in logarithmic buckets: fixed memory, ~1 % error on any percentile
    (HDR-like: 1 % relative precision from 10 µs to 10 min). Histograms merge exactly."""

    def __init__(
        self, lowest_ms: float = 0.01, highest_ms: float = 600_000.0, precision: float = 0.01
    ) -> None:
        self.lowest_ms = lowest_ms
        self._log_base = math.log1p(precision)
        self._buckets = [0] * (int(math.log(highest_ms / lowest_ms) / self._log_base) + 2)
        self.count = 0
        self.total_ms = 0.0
        self.min_ms = math.inf
        self.max_ms = 0.0

    @property
    def size(self) -> int:
        """How many buckets it holds: fixed at creation, whatever is recorded."""
        return len(self._buckets)

    def _index(self, value_ms: float) -> int:
        if value_ms <= self.lowest_ms:
            return 0
        index = int(math.log(value_ms / self.lowest_ms) / self._log_base) + 1
        return min(index, len(self._buckets) - 1)

    def _value(self, index: int) -> float:
        if index == 0:
            return self.lowest_ms
        # The middle of the bucket, geometrically.
        return self.lowest_ms * math.exp((index - 0.5) * self._log_base)

    def record(self, value_ms: float) -> None:
        self._buckets[self._index(value_ms)] += 1
        self.count += 1
        self.total_ms += value_ms
        self.min_ms = min(self.min_ms, value_ms)
        self.max_ms = max(self.max_ms, value_ms)

    def merge(self, other: LatencyHistogram) -> None:
        """Add another histogram's counts (same bounds): percentiles of the whole."""
        if other.size != self.size or other.lowest_ms != self.lowest_ms:
            raise ValueError("histograms with different bounds cannot be merged")
        for index, n in enumerate(other._buckets):
            self._buckets[index] += n
        self.count += other.count
        self.total_ms += other.total_ms
        self.min_ms = min(self.min_ms, other.min_ms)
        self.max_ms = max(self.max_ms, other.max_ms)

    def percentile(self, q: float) -> float:
        """The q-th percentile (0-100) in ms; 0 when empty."""
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(self.count * q / 100.0))
        seen = 0
        for index, n in enumerate(self._buckets):
            seen += n
            if seen >= rank:
                return min(max(self._value(index), self.min_ms), self.max_ms)
        return self.max_ms

    def to_json(self) -> dict[str, float | int]:
        return {
            "count": self.count,
            "min_ms": round(self.min_ms, 3) if self.count else 0.0,
            "mean_ms": round(self.total_ms / self.count, 3) if self.count else 0.0,
            "p50_ms": round(self.percentile(50), 3),
            "p95_ms": round(self.percentile(95), 3),
            "p99_ms": round(self.percentile(99), 3),
            "max_ms": round(self.max_ms, 3),
        }


class RateLimiter:
    """Spaces acquisitions `1/rate` seconds apart (shared by every worker of a run)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = time.monotonic()

    async def acquire(self) -> None:
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)
