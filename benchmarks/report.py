"""Targets and the printed tables (markdown, ready for the README)."""

from __future__ import annotations

from typing import Any

from benchmarks import protocols

Row = dict[str, Any]


def _best(results: dict[str, Any], case: str, side: str) -> float:
    value: float = results["codec"][case][side]["best_ms"]
    return value


def _target(name: str, value: float, op: str, limit: float, unit: str = "x") -> Row:
    met = value >= limit if op == ">=" else value <= limit
    return {
        "target": name,
        "value": round(value, 3),
        "op": op,
        "limit": limit,
        "unit": unit,
        "met": met,
    }


def _run_at(results: dict[str, Any], key: str, concurrency: int) -> Row | None:
    for run in results["e2e"].get(key, {}).get("runs", []):
        if run["concurrency"] == concurrency:
            found: Row = run
            return found
    return None


def targets(results: dict[str, Any]) -> list[Row]:
    """The issue's targets, each as a ratio or a number measured in this run."""
    mnist, big = "request: mnist 1x784 instances", "request: mnist 1000x784"
    resp = "response: 1000x10 float32 float_val"
    out = [
        _target(
            "request MNIST 1x784: naive / gateway",
            _best(results, mnist, "naive") / _best(results, mnist, "gateway"),
            ">=",
            10,
        ),
        _target(
            "request 1000x784: gateway / orjson.loads",
            _best(results, big, "gateway") / _best(results, big, "floor"),
            "<=",
            1.3,
        ),
        _target(
            "response 1000x10: gateway / orjson.dumps",
            _best(results, resp, "gateway") / _best(results, resp, "floor"),
            "<=",
            3,
        ),
        _target(
            "response 1000x10: naive / gateway",
            _best(results, resp, "naive") / _best(results, resp, "gateway"),
            ">=",
            5,
        ),
    ]
    run = _run_at(results, "trivial", 16)
    if run is not None:
        gw, direct = run["gateway"], run["direct"]
        out.append(
            _target(
                "e2e trivial c=16: gateway / direct req/s",
                gw["req_s"] / direct["req_s"],
                ">=",
                0.75,
            )
        )
        out.append(
            _target(
                "e2e trivial c=16: gateway CPU per request",
                gw["server_cpu_us_per_req"],
                "<=",
                250,
                "us",
            )
        )
    rows = results["e2e"].get("protocols")
    if rows:
        out.append(
            _target(
                "V2 binary 1000x784: gateway CPU / TF Serving JSON",
                protocols.ratio(rows, "1000x784", protocols.V2_BINARY),
                "<=",
                0.05,
            )
        )
    mem = results["e2e"]["memory"]
    out += [
        _target("idle RSS", mem["idle_rss_mib"], "<=", 80, "MiB"),
        _target("start-up to first answered predict", mem["startup_s"], "<=", 1.0, "s"),
        _target(
            "peak RSS under 1000x784 load",
            mem["peak_rss_mib"],
            "<=",
            round(mem["allowed_peak_mib"], 1),
            "MiB",
        ),
    ]
    return out


def _codec_table(codec: dict[str, Any]) -> list[str]:
    lines = [
        "| codec case | gateway ms | naive ms | floor ms | naive / gateway | gateway / floor |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for case, sides in codec.items():
        if "gateway" not in sides:
            continue
        gw, naive, floor = (sides.get(s, {}).get("best_ms") for s in ("gateway", "naive", "floor"))
        speedup = f"{naive / gw:.1f}x" if naive else "-"
        cells = (
            case,
            f"{gw:.3f}",
            f"{naive or 0:.3f}",
            f"{floor:.3f}",
            speedup,
            f"{gw / floor:.2f}x",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _e2e_table(e2e: dict[str, Any]) -> list[str]:
    lines = [
        "| backend | c | workers | gateway req/s | p50 ms | p99 ms | gateway CPU us/req "
        "| direct gRPC req/s | p50 ms | p99 ms | gateway / direct "
        "| backend CPU us/req gw / direct |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, block in e2e.items():
        for run in block.get("runs", []) if isinstance(block, dict) else []:
            gw, d = run["gateway"], run["direct"]
            lines.append(
                f"| {key.split()[0]} | {run['concurrency']} | {run['workers']} "
                f"| {gw['req_s']:.0f} | {gw['p50_ms']:.2f} | {gw['p99_ms']:.2f} "
                f"| {gw['server_cpu_us_per_req']:.0f} | {d['req_s']:.0f} | {d['p50_ms']:.2f} "
                f"| {d['p99_ms']:.2f} | {gw['req_s'] / d['req_s']:.2f}x "
                f"| {gw.get('backend_cpu_us_per_req', float('nan')):.0f} "
                f"/ {d['server_cpu_us_per_req']:.0f} |"
            )
    return lines


def cpu_budget(results: dict[str, Any]) -> dict[str, float] | None:
    """Where the gateway's CPU per request goes at c=16 (trivial backend), from parts
    measured in this run: HTTP alone (GET /healthz), one grpc.aio call (the direct
    client's own CPU per call), and the codec micro-benchmarks."""
    run, block = _run_at(results, "trivial", 16), results["e2e"].get("trivial", {})
    if run is None or "healthz" not in block:
        return None
    codec = results["codec"]
    small = codec.get("response: 1x10 float32 float_val", {}).get("gateway", {})
    parts = {
        "total": run["gateway"]["server_cpu_us_per_req"],
        "HTTP (aiohttp + edge middleware, GET /healthz)": block["healthz"]["server_cpu_us_per_req"],
        "gRPC call (grpc.aio, the direct client's CPU per call)": run["direct"][
            "loadgen_cpu_us_per_req"
        ],
        "request codec (1x784)": _best(results, "request: mnist 1x784 instances", "gateway") * 1e3,
        "response codec (1x10 float32)": small.get("best_ms", float("nan")) * 1e3,
    }
    parts["rest (handlers, signatures, metrics, copies)"] = parts["total"] - sum(
        v for k, v in parts.items() if k != "total"
    )
    return parts


def _budget_lines(budget: dict[str, float] | None) -> list[str]:
    if budget is None:
        return []
    lines = ["| gateway CPU per request, c=16, trivial backend | us |", "|---|---:|"]
    lines += [f"| {k} | {v:.0f} |" for k, v in budget.items()]
    return [*lines, ""]


def _memory_lines(mem: dict[str, Any]) -> list[str]:
    return [
        f"gateway start-up (process start to first answered predict): {mem['startup_s']:.2f} s; "
        f"idle RSS {mem['idle_rss_mib']:.1f} MiB; peak RSS {mem['peak_rss_mib']:.1f} MiB with "
        f"{mem['in_flight']} x {mem['body_mib']:.1f} MiB (1000x784) bodies in flight "
        f"(allowed {mem['allowed_peak_mib']:.1f} MiB = idle + 6 x body x in-flight; "
        f"{mem['load']['req_s']:.1f} req/s, p50 {mem['load']['p50_ms']:.0f} ms, "
        f"gateway CPU {mem['load']['server_cpu_us_per_req'] / 1000:.1f} ms/req)"
    ]


def _targets_table(rows: list[Row]) -> list[str]:
    lines = ["| target | measured | limit | met |", "|---|---:|---:|---|"]
    for r in rows:
        unit = "" if r["unit"] == "x" else f" {r['unit']}"
        lines.append(
            f"| {r['target']} | {r['value']:.2f}{unit} | {r['op']} {r['limit']}{unit} "
            f"| {'yes' if r['met'] else 'NO'} |"
        )
    return lines


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    head = (
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"Python {m['python']}, commit {m['commit']}, {m['date']}"
        + (" (--quick)" if results["quick"] else "")
    )
    lines = [head, "", *_codec_table(results["codec"]), ""]
    differ = results["codec"].get("check: request tensors differ from naive", {}).get("value")
    if differ:
        lines += [f"WARNING: request tensors differ from the naive path for {differ}", ""]
    lines += [*_e2e_table(results["e2e"]), ""]
    lines += _budget_lines(results.get("cpu_budget"))
    lines += [*_memory_lines(results["e2e"]["memory"]), ""]
    if results["e2e"].get("protocols"):
        lines += [protocols.render(results["e2e"]["protocols"]), ""]
    return "\n".join([*lines, *_targets_table(results["targets"])])
