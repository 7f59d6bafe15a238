"""Run every speed comparison in one go, print a table, write JSON.

    .venv/bin/python -m benchmarks.run [--quick] [--out benchmarks/results/latest.json]

1. Codec micro-benchmarks: the project's codec vs the naive path
   (``benchmarks.naive``) vs the floor (``orjson.loads`` / ``orjson.dumps`` alone).
2. End to end over loopback: load generator process -> gateway -> backend, vs a
   direct gRPC client process -> the same backend, at the same concurrency; the
   backends are a canned gRPC server (isolates the gateway) and the bundled
   ModelServer serving the demo ``mnist`` model.
3. Memory: the gateway's start-up time, idle RSS and peak RSS under 1000x784 bodies.
4. Protocols: 1000x784 and 224x224x3 float32 tensors through V2 binary, V2 JSON and
   TF Serving JSON (``benchmarks.protocols``; also runs alone).

``--quick`` (under a minute) shortens every measurement and skips the ModelServer.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from benchmarks import e2e, machine, procs, protocols, report

DEFAULT_OUT = procs.REPO / "benchmarks" / "results" / "latest.json"


def codec(quick: bool) -> dict[str, Any]:
    """Each side in its own process (only the naive side imports TensorFlow); merged."""
    merged: dict[str, Any] = {}
    for side in ("gateway", "naive"):
        args = [sys.executable, "-m", "benchmarks.codec_bench", f"--side={side}"]
        out = subprocess.run(
            args + (["--quick"] if quick else []),
            cwd=procs.REPO,
            env=procs.ENV,
            capture_output=True,
            check=True,
        ).stdout
        for case, timings in orjson.loads(out).items():
            merged.setdefault(case, {}).update(
                timings if isinstance(timings, dict) else {"value": timings}
            )
    return merged


def loads(quick: bool) -> list[e2e.Load]:
    if quick:
        return [e2e.Load(16, 2000, 4.0)]
    return [e2e.Load(1, 1000, 8.0), e2e.Load(16, 3000, 8.0), e2e.Load(64, 3000, 8.0)]


def end_to_end(quick: bool, tmp: Path, log: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    fake, target = procs.start_fake_backend()
    with procs.running(fake):
        backend = e2e.Backend("trivial", target, fake.pid, "ok", "x")
        floor = e2e.Load(16, 2000, 4.0) if quick else e2e.Load(16, 4000, 8.0)
        out["trivial"] = e2e.compare(backend, loads(quick), 1, tmp, floor=floor)
        if not quick:
            out["trivial workers=2"] = e2e.compare(backend, [e2e.Load(16, 3000, 8.0)], 2, tmp)
        big = e2e.Load(4, 12, 20.0, warmup=4) if quick else e2e.Load(8, 48, 30.0, warmup=8)
        out["memory"] = e2e.memory(backend, big, tmp)
        out["memory"]["idle_default_workers"] = e2e.idle_pss(backend)
        out["protocols"] = protocols.measure(target, fake.pid, quick, tmp)
    if not quick:
        server, target = procs.start_modelserver(log)
        with procs.running(server):
            backend = e2e.Backend("modelserver", target, server.pid, "mnist", "images")
            out["modelserver"] = e2e.compare(backend, loads(quick), 1, tmp)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="under a minute; no ModelServer")
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="JSON results (default %(default)s)"
    )
    args = p.parse_args(argv)
    started = time.perf_counter()
    if os.getloadavg()[0] > 0.5:
        print(
            f"note: load average {os.getloadavg()[0]:.2f} before the run; something else "
            "is using the CPUs and the numbers will be noisy",
            file=sys.stderr,
        )
    results: dict[str, Any] = {"machine": machine.info(), "quick": args.quick}
    print("codec micro-benchmarks ...", file=sys.stderr, flush=True)
    results["codec"] = codec(args.quick)
    print("end to end and memory ...", file=sys.stderr, flush=True)
    tmp = e2e.temp_dir()
    with (tmp / "modelserver.log").open("wb") as log:
        results["e2e"] = end_to_end(args.quick, tmp, log)
    results["targets"] = report.targets(results)
    results["cpu_budget"] = report.cpu_budget(results)
    results["elapsed_s"] = time.perf_counter() - started
    results["machine"]["loadavg_at_end"] = os.getloadavg()
    print(report.render(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
