"""End-to-end and memory benchmarks over loopback.

Each load run starts a load generator in its own process (HTTP for the
gateway, grpc.aio for the direct baseline), lets it warm up, snapshots the
CPU time of the processes under test, runs a fixed number of requests (bounded
in time), and snapshots again. CPU per request comes from /proc/PID/stat.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from benchmarks import payloads, procs

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Load:
    concurrency: int
    requests: int
    max_seconds: float
    warmup: int = 50


def _run_generator(
    cmd: Sequence[str], watched: Sequence[int], backend: int | None = None
) -> dict[str, Any]:
    """Run a generator with the ready/go handshake; add CPU us/request of ``watched``
    (and of the ``backend`` process, when it is not the one watched)."""
    others = [backend] if backend is not None else []
    gen = procs.python(*cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert gen.stdin is not None and gen.stdout is not None
    try:
        line = gen.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"load generator failed: {line!r}")
        before = procs.cpu_times(watched)
        own_before = procs.cpu_seconds([gen.pid])
        backend_before = procs.cpu_seconds(others)
        gen.stdin.write(b"go\n")
        gen.stdin.flush()
        result: dict[str, Any] = orjson.loads(gen.stdout.readline())
        after = procs.cpu_times(watched)
        own_after = procs.cpu_seconds([gen.pid])
        backend_after = procs.cpu_seconds(others)
    finally:
        procs.stop(gen)
    n = max(result["requests"], 1)
    result["server_cpu_us_per_req"] = (sum(after) - sum(before)) / n * 1e6
    result["server_sys_us_per_req"] = (after[1] - before[1]) / n * 1e6
    result["loadgen_cpu_us_per_req"] = (own_after - own_before) / n * 1e6
    if others:
        result["backend_cpu_us_per_req"] = (backend_after - backend_before) / n * 1e6
    return result


def http_load(
    port: int,
    path: str,
    body_file: Path | None,
    load: Load,
    watched: Sequence[int],
    backend: int | None = None,
    headers: Sequence[str] = (),
    expect: int = 200,
) -> Any:
    """POST ``body_file`` to ``path`` (GET without a body file); ``headers``: 'Name: value';
    ``expect``: the status of a successful answer."""
    body = [f"--body-file={body_file}"] if body_file else ["--method=GET"]
    cmd = [
        "benchmarks.loadgen",
        f"--port={port}",
        f"--path={path}",
        *body,
        *(f"--header={line}" for line in headers),
        f"--expect={expect}",
        f"--concurrency={load.concurrency}",
        f"--requests={load.requests}",
        f"--warmup={load.warmup}",
        f"--max-seconds={load.max_seconds}",
    ]
    return _run_generator(cmd, watched, backend)


def grpc_load(target: str, model: str, alias: str, rows: int, load: Load, backend: int) -> Any:
    cmd = [
        "benchmarks.grpc_client",
        f"--target={target}",
        f"--model={model}",
        f"--input={alias}",
        f"--rows={rows}",
        f"--concurrency={load.concurrency}",
        f"--requests={load.requests}",
        f"--warmup={load.warmup}",
        f"--max-seconds={load.max_seconds}",
    ]
    return _run_generator(cmd, [backend])


def mnist_body(rows: int) -> bytes:
    return payloads.dumps({"instances": payloads.mnist_pixels(rows)})


def write_body(tmp: Path, name: str, body: bytes) -> Path:
    path = tmp / name
    path.write_bytes(body)
    return path


@dataclass(frozen=True, slots=True)
class Backend:
    name: str
    target: str
    pid: int
    model: str
    alias: str  # the signature input the direct client fills


def compare(
    backend: Backend, loads: Sequence[Load], workers: int, tmp: Path, floor: Load | None = None
) -> dict[str, Any]:
    """Gateway (with ``workers``) vs the bare gateway (``benchmarks.bare``) vs a direct
    gRPC client, at each concurrency, interleaved, against the same backend.

    ``floor``: also load ``GET /healthz``, the gateway's cost of HTTP alone (aiohttp and
    its edge middleware, no codec, no gRPC).
    """
    path = f"/v1/models/{backend.model}:predict"
    body = write_body(tmp, "mnist1.json", mnist_body(1))
    gw, port, startup_s = procs.start_gateway(backend.target, path, body.read_bytes(), workers)
    bare, bare_port = procs.start_bare(backend.target, backend.alias, path, body.read_bytes())
    out: dict[str, Any] = {"startup_s": startup_s, "runs": []}
    with procs.running(gw), procs.running(bare):
        watched = procs.family(gw.pid)
        for load in loads:
            via_gw = http_load(port, path, body, load, watched, backend.pid)
            via_bare = http_load(bare_port, path, body, load, [bare.pid], backend.pid)
            direct = grpc_load(backend.target, backend.model, backend.alias, 1, load, backend.pid)
            out["runs"].append(
                {
                    "concurrency": load.concurrency,
                    "workers": workers,
                    "gateway": via_gw,
                    "bare": via_bare,
                    "direct": direct,
                }
            )
        if floor is not None:
            out["healthz"] = http_load(port, "/healthz", None, floor, watched)
    return out


def idle_pss(backend: Backend) -> dict[str, Any]:
    """PSS of the gateway with its default workers (the CPUs it may use), after start-up
    and a few requests, summed over the supervisor and the workers."""
    path = f"/v1/models/{backend.model}:predict"
    gw, _port, _startup = procs.start_gateway(backend.target, path, mnist_body(1), workers=None)
    with procs.running(gw):
        time.sleep(1.0)
        family = procs.family(gw.pid)
        per_process = {pid: procs.pss_kib([pid]) / 1024 for pid in family}
    return {
        "processes": len(family),
        "pss_mib": sum(per_process.values()),
        "supervisor_pss_mib": per_process[gw.pid],
        "per_process_pss_mib": list(per_process.values()),
    }


def memory(backend: Backend, load: Load, tmp: Path) -> dict[str, Any]:
    """Start-up time, idle RSS, and peak RSS while serving 1000x784 bodies."""
    path = f"/v1/models/{backend.model}:predict"
    small = mnist_body(1)
    gw, port, startup_s = procs.start_gateway(backend.target, path, small)
    with procs.running(gw):
        time.sleep(0.5)
        idle = procs.status_kib(gw.pid, "VmRSS")
        peak_at_start = procs.status_kib(gw.pid, "VmHWM")
        reset = procs.reset_peak_rss(gw.pid)
        big = mnist_body(1000)
        body = write_body(tmp, "mnist1000.json", big)
        result = http_load(port, path, body, load, [gw.pid])
        peak = procs.status_kib(gw.pid, "VmHWM")
        after = procs.status_kib(gw.pid, "VmRSS")
    allowed = idle * 1024 + 6 * len(big) * load.concurrency
    return {
        "startup_s": startup_s,
        "idle_rss_mib": idle / 1024,
        "startup_peak_rss_mib": peak_at_start / 1024,
        "peak_reset": reset,
        "peak_rss_mib": peak / 1024,
        "rss_after_load_mib": after / 1024,
        "body_mib": len(big) / MIB,
        "in_flight": load.concurrency,
        "allowed_peak_mib": allowed / MIB,
        "load": result,
    }


def temp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="tfs-bench-"))
