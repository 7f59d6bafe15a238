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


def _codec_ratio(results: dict[str, Any], case: str) -> float:
    return _best(results, case, "gateway") / _best(results, case, "floor")


def targets(results: dict[str, Any]) -> list[Row]:
    """The targets, each as a ratio or a number measured in this run."""
    mnist, resp = "request: mnist 1x784 instances", "response: 1000x10 float32 float_val"
    out = [
        _target(
            "request MNIST 1x784: naive / gateway",
            _best(results, mnist, "naive") / _best(results, mnist, "gateway"),
            ">=",
            10,
        ),
        _target(
            "request 1000x784: gateway / orjson.loads",
            _codec_ratio(results, "request: mnist 1000x784"),
            "<=",
            1.5,
        ),
        _target(
            "request 224x224x3: gateway / orjson.loads",
            _codec_ratio(results, "request: image 224x224x3 float"),
            "<=",
            2.5,
        ),
        _target("response 1000x10: gateway / orjson.dumps", _codec_ratio(results, resp), "<=", 3),
    ]
    out += _bare_targets(results)
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
        _target("start-up to first answered predict", mem["startup_s"], "<=", 1.0, "s"),
        _target(
            "peak RSS under 1000x784 load",
            mem["peak_rss_mib"],
            "<=",
            round(mem["allowed_peak_mib"], 1),
            "MiB",
        ),
    ]
    idle = mem.get("idle_default_workers")
    if idle is not None:
        name = f"idle PSS, default workers ({idle['processes']} processes)"
        out.append(_target(name, idle["pss_mib"], "<=", 90, "MiB"))
    return out


def _bare_targets(results: dict[str, Any]) -> list[Row]:
    """The gateway against the bare aiohttp + grpc.aio floor, trivial backend, 1 worker."""
    out: list[Row] = []
    run = _run_at(results, "trivial", 16)
    if run is not None:
        gw, bare = run["gateway"], run["bare"]
        cpu = gw["server_cpu_us_per_req"] / bare["server_cpu_us_per_req"]
        out.append(_target("trivial c=16: gateway / bare CPU per request", cpu, "<=", 1.15))
        out.append(
            _target("trivial c=16: gateway / bare req/s", gw["req_s"] / bare["req_s"], ">=", 0.85)
        )
    run = _run_at(results, "trivial", 1)
    if run is not None:
        extra = run["gateway"]["p50_ms"] - run["bare"]["p50_ms"]
        out.append(_target("trivial c=1: gateway p50 - bare p50", extra, "<=", 0.15, "ms"))
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
        "| backend | c | workers | gateway req/s | p50 ms | p99 ms | CPU us/req "
        "| bare req/s | p50 ms | p99 ms | CPU us/req "
        "| direct gRPC req/s | p50 ms "
        "| gateway / bare CPU | gateway / bare req/s | gateway / direct req/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, block in e2e.items():
        for run in block.get("runs", []) if isinstance(block, dict) else []:
            gw, bare, d = run["gateway"], run["bare"], run["direct"]
            cells = [
                key.split()[0],
                str(run["concurrency"]),
                str(run["workers"]),
                *_load_cells(gw),
                *_load_cells(bare),
                f"{d['req_s']:.0f}",
                f"{d['p50_ms']:.2f}",
                f"{gw['server_cpu_us_per_req'] / bare['server_cpu_us_per_req']:.2f}x",
                f"{gw['req_s'] / bare['req_s']:.2f}x",
                f"{gw['req_s'] / d['req_s']:.2f}x",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def _load_cells(side: Row) -> list[str]:
    return [
        f"{side['req_s']:.0f}",
        f"{side['p50_ms']:.2f}",
        f"{side['p99_ms']:.2f}",
        f"{side['server_cpu_us_per_req']:.0f}",
    ]


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
    idle = mem.get("idle_default_workers")
    pss = (
        [
            f"idle PSS with the default workers: {idle['pss_mib']:.1f} MiB over "
            f"{idle['processes']} processes (supervisor {idle['supervisor_pss_mib']:.1f} MiB)"
        ]
        if idle
        else []
    )
    return [
        *pss,
        f"gateway start-up (process start to first answered predict): {mem['startup_s']:.2f} s; "
        f"idle RSS {mem['idle_rss_mib']:.1f} MiB; peak RSS {mem['peak_rss_mib']:.1f} MiB with "
        f"{mem['in_flight']} x {mem['body_mib']:.1f} MiB (1000x784) bodies in flight "
        f"(allowed {mem['allowed_peak_mib']:.1f} MiB = idle + 6 x body x in-flight; "
        f"{mem['load']['req_s']:.1f} req/s, p50 {mem['load']['p50_ms']:.0f} ms, "
        f"gateway CPU {mem['load']['server_cpu_us_per_req'] / 1000:.1f} ms/req)",
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
