"""Latency summaries shared by the load generators."""

from __future__ import annotations

import math


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in [0, 100])."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary(latencies_s: list[float], seconds: float, errors: int) -> dict[str, float]:
    ordered = sorted(latencies_s)
    return {
        "requests": float(len(ordered)),
        "errors": float(errors),
        "seconds": seconds,
        "req_s": len(ordered) / seconds if seconds > 0 else 0.0,
        "p50_ms": percentile(ordered, 50) * 1e3,
        "p99_ms": percentile(ordered, 99) * 1e3,
    }
