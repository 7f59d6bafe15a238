"""Start and watch the processes of the end-to-end benchmarks (Linux /proc, no psutil)."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import grpc

from gateway.core import embedded, protos

REPO = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
AVAILABLE = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def python(module: str, *args: str, **kw: object) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", module, *args]
    return subprocess.Popen(cmd, cwd=REPO, env=ENV, **kw)  # type: ignore[call-overload,no-any-return]


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    embedded.stop(proc, timeout_s)


# --- /proc ---------------------------------------------------------------------


def family(pid: int) -> list[int]:
    """The process and its descendants (a multi-worker gateway spawns its workers)."""
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                out.extend(family(int(child)))
    return out


def cpu_times(pids: Sequence[int]) -> tuple[float, float]:
    """(user, system) seconds of the processes (fields 14 and 15 of /proc/PID/stat)."""
    user = system = 0
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        user += int(fields[11])
        system += int(fields[12])
    return user / CLK_TCK, system / CLK_TCK


def cpu_seconds(pids: Sequence[int]) -> float:
    return sum(cpu_times(pids))


def status_kib(pid: int, key: str) -> int:
    """A ``Vm*`` line of /proc/PID/status (VmRSS, VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# --- backends --------------------------------------------------------------------


def start_fake_backend() -> tuple[subprocess.Popen[bytes], str]:
    """tests/fake_backend.py in its own process: model ``ok`` answers y = float32 [1, 10]."""
    port = free_port()
    proc = python("tests.fake_backend", f"--port={port}", stdout=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if "fake backend on" not in line:
        stop(proc)
        raise RuntimeError(f"fake backend did not start: {line!r}")
    return proc, f"127.0.0.1:{port}"


def start_modelserver(
    log: IO[bytes], timeout_s: float = 180.0
) -> tuple[subprocess.Popen[bytes], str]:
    """The bundled ModelServer serving the demo models; returns once ``mnist`` is AVAILABLE."""
    template = (REPO / "demo" / "models.config.in").read_text(encoding="utf-8")
    config = Path(tempfile.mkdtemp(prefix="tfs-bench-")) / "models.config"
    config.write_text(template.replace("${DEMO_MODELS}", str(REPO / "demo" / "models")))
    port = free_port()
    args = ["modelserver", "--host=127.0.0.1", f"--port={port}", f"--model_config_file={config}"]
    proc = python("gateway.cli", *args, stdout=log, stderr=log)
    target = f"127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while not _model_available(target, "mnist"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError("the bundled ModelServer did not serve mnist")
        time.sleep(0.2)
    return proc, target


def _model_available(target: str, model: str) -> bool:
    request = protos.GetModelStatusRequest()
    request.model_spec.name = model
    with grpc.insecure_channel(target) as channel:
        stub = channel.unary_unary(
            f"/{protos.MODEL_SERVICE}/GetModelStatus",
            request_serializer=type(request).SerializeToString,
            response_deserializer=protos.GetModelStatusResponse.FromString,
        )
        try:
            response = stub(request, timeout=2)
        except grpc.RpcError:
            return False
    return any(s.state == AVAILABLE for s in response.model_version_status)


# --- gateway ---------------------------------------------------------------------


def post(port: int, path: str, body: bytes, timeout_s: float = 30.0) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def start_gateway(
    target: str, path: str, body: bytes, workers: int | None = 1, timeout_s: float = 60.0
) -> tuple[subprocess.Popen[bytes], int, float]:
    """``tfs-gateway serve`` on a free port (``workers=None``: its default count);
    returns (process, port, seconds from the process start to its first answered predict)."""
    port = free_port()
    args = [
        "serve",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--model-server={target}",
        *([f"--workers={workers}"] if workers is not None else []),
        "--log-level=WARNING",
    ]
    start = time.perf_counter()
    proc = python("gateway.cli", *args, stdout=subprocess.DEVNULL)
    wait_answering(proc, port, path, body, timeout_s)
    return proc, port, time.perf_counter() - start


def start_bare(
    target: str, alias: str, path: str, body: bytes, timeout_s: float = 60.0
) -> tuple[subprocess.Popen[bytes], int]:
    """``benchmarks.bare`` (the floor of this design) on a free port, once it answers."""
    port = free_port()
    args = [f"--port={port}", f"--model-server={target}", f"--input={alias}"]
    proc = python("benchmarks.bare", *args, stdout=subprocess.DEVNULL)
    wait_answering(proc, port, path, body, timeout_s)
    return proc, port


def wait_answering(
    proc: subprocess.Popen[bytes], port: int, path: str, body: bytes, timeout_s: float
) -> float:
    """Seconds until ``proc`` answers 200 to a POST of ``body``; raises if it never does."""
    start = time.perf_counter()
    while True:
        if proc.poll() is not None or time.perf_counter() - start > timeout_s:
            stop(proc)
            raise RuntimeError(f"{proc.args!r} did not answer")
        try:
            status = post(port, path, body)
        except OSError:
            time.sleep(0.002)
            continue
        if status != 200:
            stop(proc)
            raise RuntimeError(f"{proc.args!r} answered {status} to {path}")
        return time.perf_counter() - start


def pss_kib(pids: Sequence[int]) -> int:
    """Proportional set size summed over processes (shared pages split between them)."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total


@contextlib.contextmanager
def running(proc: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    try:
        yield proc
    finally:
        stop(proc)
