"""The edge's recent-traffic ring (the console's live panel): rates, error shares and
latency quantiles per step, and what falls out of the window."""

from __future__ import annotations

import pytest

from gateway.edge.traffic import RecentTraffic, bin_ms, latency_bin, quantile_ms


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_rates_errors_and_quantiles_per_step() -> None:
    clock = Clock()
    traffic = RecentTraffic(window_s=60, clock=clock)
    for i in range(100):
        traffic.record(200 if i < 90 else (404 if i < 95 else 503), 0.010 if i < 98 else 1.0)
    clock.now += 5
    points = traffic.series(step_s=5)["points"]
    filled = [p for p in points if p["requests_per_s"]]
    assert len(filled) == 1
    point = filled[0]
    assert point["requests_per_s"] == 20.0  # 100 answers in a 5 s step
    assert point["client_error_rate"] == 0.05 and point["server_error_rate"] == 0.05
    assert point["p50_ms"] == pytest.approx(10, rel=0.15)
    assert point["p99_ms"] == pytest.approx(1000, rel=0.15)


def test_the_current_step_is_left_out_and_old_seconds_fall_out() -> None:
    clock = Clock(1_000_000.0)
    traffic = RecentTraffic(window_s=60, clock=clock)
    traffic.record(200, 0.001)
    series = traffic.series(step_s=5)
    assert len(series["points"]) == 11
    assert all(p["requests_per_s"] == 0 for p in series["points"])
    clock.now += 5
    assert sum(p["requests_per_s"] for p in traffic.series(5)["points"]) == 0.2
    clock.now += 120  # the ring slot is reused only for its own second
    traffic.record(200, 0.001)
    clock.now += 5
    assert sum(p["requests_per_s"] for p in traffic.series(5)["points"]) == 0.2


def test_empty_steps_have_no_quantiles() -> None:
    clock = Clock()
    point = RecentTraffic(window_s=10, clock=clock).series(5)["points"][0]
    assert point["p50_ms"] is None and point["p99_ms"] is None


@pytest.mark.parametrize("ms", [0.01, 0.05, 0.3, 7.0, 250.0, 30_000.0])
def test_bins_are_within_a_quarter(ms: float) -> None:
    assert bin_ms(latency_bin(ms)) == pytest.approx(max(ms, 0.05), rel=0.13)


def test_quantile_of_nothing() -> None:
    assert quantile_ms({}, 0.5) is None
