"""Recent traffic of one worker, for the console's live panel.

A ring of one-second buckets over the last ``window_s`` seconds; each bucket holds
the number of answers, of 4xx and of 5xx answers, and a latency histogram with
bins 25 % apart (so p50 and p99 come out within about 12 %). Recording costs a
logarithm and a few dictionary updates. With several workers each keeps its own
ring: the panel shows the worker that answered its poll.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_BIN_BASE_MS = 0.05
_BIN_RATIO = 1.25
_LOG_RATIO = math.log(_BIN_RATIO)
_MAX_BIN = 80  # 0.05 ms * 1.25**80 is about 14 minutes


def latency_bin(ms: float) -> int:
    if ms <= _BIN_BASE_MS:
        return 0
    return min(_MAX_BIN, 1 + int(math.log(ms / _BIN_BASE_MS) / _LOG_RATIO))


def bin_ms(index: int) -> float:
    """The middle (geometric) of a bin, in milliseconds."""
    if index == 0:
        return _BIN_BASE_MS
    return float(_BIN_BASE_MS * _BIN_RATIO ** (index - 0.5))


@dataclass(slots=True)
class Bucket:
    second: int = -1
    requests: int = 0
    client_errors: int = 0
    server_errors: int = 0
    latency: dict[int, int] = field(default_factory=dict)

    def reset(self, second: int) -> None:
        self.second, self.requests, self.client_errors, self.server_errors = second, 0, 0, 0
        self.latency = {}


def quantile_ms(histogram: dict[int, int], q: float) -> float | None:
    total = sum(histogram.values())
    if total == 0:
        return None
    rank, seen = q * total, 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return round(bin_ms(index), 3)
    return round(bin_ms(max(histogram)), 3)  # pragma: no cover - rounding guard


class RecentTraffic:
    """Requests/s, error rates and latency quantiles over the last minutes."""

    def __init__(self, window_s: int = 300, clock: Callable[[], float] = time.time) -> None:
        self.window_s = window_s
        self._clock = clock
        self._ring = [Bucket() for _ in range(window_s)]

    def record(self, status: int, seconds: float) -> None:
        second = int(self._clock())
        bucket = self._ring[second % self.window_s]
        if bucket.second != second:
            bucket.reset(second)
        bucket.requests += 1
        if status >= 500:
            bucket.server_errors += 1
        elif status >= 400:
            bucket.client_errors += 1
        index = latency_bin(seconds * 1000)
        bucket.latency[index] = bucket.latency.get(index, 0) + 1

    def series(self, step_s: int = 5) -> dict[str, Any]:
        """The window in steps of ``step_s`` seconds aligned to the clock, oldest first;
        the current (incomplete) step is left out."""
        now = int(self._clock())
        end = now - now % step_s
        starts = range(end - self.window_s + step_s, end, step_s)
        points = [self._point(start, step_s) for start in starts]
        return {"window_s": self.window_s, "step_s": step_s, "now": now, "points": points}

    def _point(self, start: int, step_s: int) -> dict[str, Any]:
        requests = client = server = 0
        histogram: dict[int, int] = {}
        for second in range(start, start + step_s):
            bucket = self._ring[second % self.window_s]
            if bucket.second != second:
                continue
            requests += bucket.requests
            client += bucket.client_errors
            server += bucket.server_errors
            for index, count in bucket.latency.items():
                histogram[index] = histogram.get(index, 0) + count
        return {
            "t": start,
            "requests_per_s": round(requests / step_s, 3),
            "client_error_rate": round(client / requests, 4) if requests else 0.0,
            "server_error_rate": round(server / requests, 4) if requests else 0.0,
            "p50_ms": quantile_ms(histogram, 0.5),
            "p99_ms": quantile_ms(histogram, 0.99),
        }
