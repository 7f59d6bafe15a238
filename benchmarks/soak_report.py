"""The soak's figures and pass rules (``benchmarks.soak``), its text summary and chart.

Rules:

1. No 5xx (and no failed connection) except 503/504 while the ModelServer is down.
   "Down" runs from the SIGKILL until the gateway's ``/readyz`` answers 200 again,
   plus ``GRACE_S`` for the other worker's channel to reconnect (backoff at most 2 s);
   a request counts as during the outage when its time overlaps one.
2. Every valid request is answered correctly when the ModelServer is up (200 and the
   reference answer), and every malformed one gets a 4xx.
3. The RSS of each gateway process grows by less than 10 % from the first minute
   after warm-up to the last minute of the run (medians of the 5 s samples).
4. Each gateway process's open descriptors stay flat: the last minute's median is at
   most ``FD_SLACK`` above the first minute's after warm-up.
5. The gateway logs no error.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.stats import percentile

GRACE_S = 5.0
RSS_GROWTH_LIMIT = 0.10
FD_SLACK = 8
GATEWAY_ROLES = ("gateway", "worker-")


def down_windows(events: Sequence[tuple[float, str]], end: float) -> list[tuple[float, float]]:
    """(SIGKILL, ready again) for every kill; an outage that never ended runs to the end."""
    windows = []
    killed: float | None = None
    for t, event in events:
        if event == "kill":
            killed = t
        elif killed is not None:
            windows.append((killed, t if event == "up" else end))
            killed = None
    if killed is not None:
        windows.append((killed, end))
    return windows


def overlaps(t0: float, t1: float, windows: Iterable[tuple[float, float]]) -> bool:
    return any(t0 <= hi + GRACE_S and t1 >= lo for lo, hi in windows)


def is_gateway(role: str) -> bool:
    return role.startswith(GATEWAY_ROLES)


def log_errors(text: str) -> list[str]:
    markers = (" ERROR ", "ERROR:", "Traceback", "CRITICAL")
    return [line for line in text.splitlines() if any(m in line for m in markers)][:50]


# --- per minute ----------------------------------------------------------------


def minutes(record: Any, windows: list[tuple[float, float]], length: int) -> list[dict[str, Any]]:
    rows = []
    for minute in range(length):
        lo, hi = minute * 60.0, minute * 60.0 + 60.0
        done = [r for r in record.requests if lo <= r[1] < hi]
        latencies = sorted(r[1] - r[0] for r in done)
        rows.append(
            {
                "minute": minute,
                "requests": len(done),
                "by_status": dict(sorted(Counter(str(r[3]) for r in done).items())),
                "p50_ms": round(percentile(latencies, 50) * 1e3, 2) if done else None,
                "p99_ms": round(percentile(latencies, 99) * 1e3, 2) if done else None,
                "modelserver_down_s": round(_down_in(windows, lo, hi), 1),
                "processes": _process_medians([s for s in record.samples if lo <= s["t"] < hi]),
            }
        )
    return rows


TIMELINE_S = 10


def status_class(status: int) -> str:
    for label, test, _ in STATUS_CLASSES:
        if test(status):
            return label
    return "other"


def timeline(requests: list[tuple[float, float, int, int, bool]], end: float) -> list[Any]:
    """Per 10 s: requests by status class and p50/p99 latency, for the chart."""
    bins: list[list[tuple[float, float, int, int, bool]]] = [[] for _ in range(int(end // 10) + 1)]
    for request in requests:
        bins[min(int(request[1] // TIMELINE_S), len(bins) - 1)].append(request)
    out = []
    for i, done in enumerate(bins):
        latencies = sorted(r[1] - r[0] for r in done)
        out.append(
            {
                "t": i * TIMELINE_S,
                "by_class": dict(Counter(status_class(r[3]) for r in done)),
                "p50_ms": round(percentile(latencies, 50) * 1e3, 2) if done else None,
                "p99_ms": round(percentile(latencies, 99) * 1e3, 2) if done else None,
            }
        )
    return out


def _down_in(windows: list[tuple[float, float]], lo: float, hi: float) -> float:
    return sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in windows)


def _process_medians(samples: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    values: dict[str, dict[str, list[float]]] = {}
    for entry in samples:
        for role, stats in entry["processes"].items():
            for key in ("rss_mib", "fds", "threads"):
                values.setdefault(role, {}).setdefault(key, []).append(stats[key])
    return {
        role: {k: round(statistics.median(v), 2) for k, v in stats.items()}
        for role, stats in sorted(values.items())
    }


# --- rules ---------------------------------------------------------------------


def request_rules(
    record: Any, specs: Sequence[Any], windows: list[tuple[float, float]]
) -> dict[str, Any]:
    bad_5xx, wrong = [], []
    for t0, t1, index, status, ok in record.requests:
        down = overlaps(t0, t1, windows)
        if (status >= 500 or status == 0) and not (down and status in (503, 504)):
            bad_5xx.append((round(t1, 3), specs[index].name, status))
        elif not ok and not down:
            wrong.append((round(t1, 3), specs[index].name, status))
    return {
        "no_5xx_except_503_504_while_down": _rule(not bad_5xx, len(bad_5xx), bad_5xx[:20]),
        "answers_correct_while_up": _rule(not wrong, len(wrong), wrong[:20]),
    }


def _rule(passed: bool, count: float, detail: Any) -> dict[str, Any]:
    return {"passed": passed, "value": count, "detail": detail}


def resource_rules(samples: list[dict[str, Any]], warmup_s: float, end: float) -> dict[str, Any]:
    """The first minute after warm-up against the last minute (medians of the samples)."""
    first = _process_medians([s for s in samples if warmup_s <= s["t"] < warmup_s + 60])
    last = _process_medians([s for s in samples if s["t"] >= end - 60])
    roles = [r for r in first if is_gateway(r) and r in last]
    if not roles:
        return {"rss_growth_under_10pct": _rule(False, 0, "no samples after warm-up")}
    growth = {r: round(last[r]["rss_mib"] / first[r]["rss_mib"] - 1, 4) for r in roles}
    fds = {r: last[r]["fds"] - first[r]["fds"] for r in roles}
    worst_rss = max(growth.values())
    worst_fds = max(fds.values())
    return {
        "rss_growth_under_10pct": _rule(worst_rss < RSS_GROWTH_LIMIT, worst_rss, growth),
        "descriptors_flat": _rule(worst_fds <= FD_SLACK, worst_fds, fds),
    }


def summarize(
    record: Any,
    specs: Sequence[Any],
    options: dict[str, Any],
    machine: dict[str, Any],
    gateway_errors: list[str],
) -> dict[str, Any]:
    end = options["minutes"] * 60
    windows = down_windows(record.events, end)
    rows = minutes(record, windows, int(-(-end // 60)))
    rules = request_rules(record, specs, windows)
    rules |= resource_rules(record.samples, options["warmup_minutes"] * 60, end)
    rules["gateway_log_clean"] = _rule(not gateway_errors, len(gateway_errors), gateway_errors)
    statuses = Counter(str(r[3]) for r in record.requests)
    valid = [r for r in record.requests if specs[r[2]].valid]
    outages = [b - a for a, b in windows]
    return {
        "options": options,
        "machine": machine,
        "totals": {
            "requests": len(record.requests),
            "req_s": round(len(record.requests) / end, 1),
            "malformed_share": round(1 - len(valid) / max(1, len(record.requests)), 3),
            "by_status": dict(sorted(statuses.items())),
            "kills": len(windows),
            "outage_s_mean": round(statistics.mean(outages), 1) if outages else 0.0,
            "outage_s_max": round(max(outages), 1) if outages else 0.0,
            "modelserver_down_share": round(sum(outages) / end, 3),
        },
        "down_windows": [[round(a, 3), round(b, 3)] for a, b in windows],
        "minutes": rows,
        "timeline": timeline(record.requests, end),
        "samples": record.samples,
        "wrong_answers": record.wrong[:50],
        "rules": rules,
        "passed": all(rule["passed"] for rule in rules.values()),
    }


# --- text and chart ------------------------------------------------------------


def text(result: dict[str, Any]) -> str:
    totals = result["totals"]
    down = totals["modelserver_down_share"]
    lines = [
        f"soak: {totals['requests']} requests ({totals['req_s']}/s),"
        f" statuses {totals['by_status']}",
        f"soak: {totals['kills']} ModelServer kills, outage mean {totals['outage_s_mean']} s"
        f" (max {totals['outage_s_max']} s), down {down:.0%} of the time",
        "minute  requests   p50 ms   p99 ms  down s  gateway RSS MiB (parent/workers)  fds",
    ]
    for row in result["minutes"]:
        procs = {k: v for k, v in row["processes"].items() if is_gateway(k)}
        rss = "/".join(f"{v['rss_mib']:.0f}" for v in procs.values())
        fds = "/".join(f"{v['fds']:.0f}" for v in procs.values())
        lines.append(
            f"{row['minute']:>6} {row['requests']:>9} {row['p50_ms'] or 0:>8.1f}"
            f" {row['p99_ms'] or 0:>8.1f} {row['modelserver_down_s']:>7.1f}  {rss:>32}  {fds}"
        )
    for name, rule in result["rules"].items():
        lines.append(f"rule {name}: {'PASS' if rule['passed'] else 'FAIL'} ({rule['value']})")
    lines.append(f"soak: {'PASSED' if result['passed'] else 'FAILED'}")
    return "\n".join(lines)


STATUS_CLASSES = (
    ("2xx", lambda s: 200 <= s < 300, "tab:green"),
    ("4xx", lambda s: 400 <= s < 500, "tab:blue"),
    ("503/504", lambda s: s in (503, 504), "tab:orange"),
    ("other 5xx / failed", lambda s: s == 0 or (s >= 500 and s not in (503, 504)), "tab:red"),
)


def chart(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 1, figsize=(11, 12), sharex=True)
    _requests_panel(axes[0], result["timeline"])
    _latency_panel(axes[1], result["timeline"])
    _memory_panel(axes[2], result["samples"])
    _handles_panel(axes[3], result["samples"])
    for ax in axes:
        for lo, hi in result["down_windows"]:
            ax.axvspan(lo / 60, (hi + GRACE_S) / 60, color="0.85", zorder=0)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("minutes (grey: ModelServer killed until ready again)")
    totals = result["totals"]
    verdict = "PASSED" if result["passed"] else "FAILED"
    fig.suptitle(
        f"soak {result['options']['minutes']:g} min, {result['options']['workers']} workers,"
        f" concurrency {result['options']['concurrency']}: {totals['requests']} requests,"
        f" {totals['kills']} ModelServer kills, {verdict}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _requests_panel(ax: Any, bins: list[dict[str, Any]]) -> None:
    x = [(b["t"] + TIMELINE_S / 2) / 60 for b in bins]
    bottom = [0.0] * len(bins)
    for label, _, color in STATUS_CLASSES:
        rates = [b["by_class"].get(label, 0) / TIMELINE_S for b in bins]
        ax.bar(x, rates, width=TIMELINE_S / 60 * 0.9, bottom=bottom, label=label, color=color)
        bottom = [b + r for b, r in zip(bottom, rates, strict=True)]
    ax.set_ylabel(f"requests/s (per {TIMELINE_S} s)")
    ax.legend(loc="lower right", ncol=4, fontsize=8)


def _latency_panel(ax: Any, bins: list[dict[str, Any]]) -> None:
    x = [(b["t"] + TIMELINE_S / 2) / 60 for b in bins]
    ax.plot(x, [b["p50_ms"] for b in bins], label="p50")
    ax.plot(x, [b["p99_ms"] for b in bins], label="p99")
    ax.set_yscale("log")
    ax.set_ylabel("latency (ms), all requests")
    ax.legend(loc="upper right", fontsize=8)


def _series(samples: list[dict[str, Any]], role: str, key: str) -> tuple[list[float], list[float]]:
    points = [(s["t"] / 60, s["processes"][role][key]) for s in samples if role in s["processes"]]
    return [p[0] for p in points], [p[1] for p in points]


def _gateway_roles(samples: list[dict[str, Any]]) -> list[str]:
    return sorted({r for s in samples for r in s["processes"] if is_gateway(r)})


def _memory_panel(ax: Any, samples: list[dict[str, Any]]) -> None:
    for i, role in enumerate(_gateway_roles(samples)):
        ax.plot(*_series(samples, role, "rss_mib"), color=f"C{i}", label=role)
    ax.set_ylabel("gateway RSS (MiB)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower left", ncol=3, fontsize=8)
    twin = ax.twinx()
    twin.plot(*_series(samples, "modelserver", "rss_mib"), color="0.5", lw=0.8)
    twin.set_ylabel("ModelServer RSS (MiB, grey)", color="0.4")
    twin.set_ylim(bottom=0)


def _handles_panel(ax: Any, samples: list[dict[str, Any]]) -> None:
    for i, role in enumerate(_gateway_roles(samples)):
        ax.plot(*_series(samples, role, "fds"), color=f"C{i}", label=f"{role} descriptors")
        ax.plot(*_series(samples, role, "threads"), "--", color=f"C{i}", label=f"{role} threads")
    ax.set_ylabel("descriptors, threads")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower left", ncol=3, fontsize=7)


def main(argv: list[str] | None = None) -> int:
    """Re-render the text and chart of a soak.json: python -m benchmarks.soak_report FILE."""
    import sys

    import orjson

    path = Path((argv or sys.argv[1:])[0])
    result = orjson.loads(path.read_bytes())
    chart(result, path.with_suffix(".png"))
    print(text(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
