"""The same tensors through three protocols of one gateway, side by side: the Open
Inference Protocol with binary tensor data, the Open Inference Protocol as JSON,
and TF Serving's JSON.

    .venv/bin/python -m benchmarks.protocols [--quick] [--out FILE]

Tensors: MNIST-like 1000x784 float32 and one 224x224x3 float32 image. Bodies: V2
binary is exactly what tritonclient sends (``generate_request_body`` with
``binary_data=True``, the output asked for in binary too); V2 JSON has tritonclient's
layout (flat row-major ``data``, output asked for as JSON) and TF Serving JSON is
``{"instances": ...}``, both with the same number text (``benchmarks.payloads.dumps``).
The backend is the trivial one (tests/fake_backend.py answers y = float32 [1, 10]),
so the gateway's own cost shows: its CPU per request is read from /proc while a
load generator process keeps ``CONCURRENCY`` requests in flight. Two last rows are
the floors of a binary request's two halves: the gateway receiving the same V2
binary body and answering at once (405 on a GET path), and a grpc.aio client sending
the same 1000x784 tensor straight to the backend (that client's own CPU per call).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from tritonclient.http import InferenceServerClient, InferInput, InferRequestedOutput

from benchmarks import e2e, payloads, procs

CONCURRENCY = 2
MIB = 1024 * 1024
V2_PATH = "/v2/models/ok/infer"
TFS_PATH = "/v1/models/ok:predict"
V2_BINARY, V2_JSON, TFS_JSON = "V2 binary", "V2 JSON", "TF Serving JSON"
HTTP_ONLY = "HTTP receive only (same V2 binary body, no codec, no backend)"
DIRECT = "direct gRPC client, same tensor (its own CPU)"
DEFAULT_OUT = procs.REPO / "benchmarks" / "results" / "protocols.json"


@dataclass(frozen=True, slots=True)
class Case:
    tensor: str
    protocol: str
    path: str
    body: bytes
    headers: tuple[str, ...] = ()


def v2_binary(array: np.ndarray) -> tuple[bytes, tuple[str, ...]]:
    given = InferInput("x", list(array.shape), "FP32").set_data_from_numpy(array)
    outputs = [InferRequestedOutput("y", binary_data=True)]
    body, json_size = InferenceServerClient.generate_request_body([given], outputs=outputs)
    return body, (f"Inference-Header-Content-Length: {json_size}",)


def v2_json(array: np.ndarray) -> bytes:
    given = {"name": "x", "shape": list(array.shape), "datatype": "FP32", "data": array.ravel()}
    wanted = {"name": "y", "parameters": {"binary_data": False}}
    return payloads.dumps({"inputs": [given], "outputs": [wanted]})


def cases() -> Iterator[Case]:
    tensors = {"1000x784": payloads.mnist_pixels(1000, 2), "224x224x3": payloads.image_pixels()}
    for name, array in tensors.items():
        body, headers = v2_binary(array)
        yield Case(name, V2_BINARY, V2_PATH, body, headers)
        yield Case(name, V2_JSON, V2_PATH, v2_json(array))
        yield Case(name, TFS_JSON, TFS_PATH, payloads.dumps({"instances": array}))


def measure(target: str, backend_pid: int, quick: bool, tmp: Path) -> list[dict[str, Any]]:
    """Every case against one gateway in front of the trivial backend at ``target``."""
    load = e2e.Load(CONCURRENCY, 2000, 3.0 if quick else 8.0, warmup=4)
    rows = []
    warm = payloads.dumps({"instances": payloads.mnist_pixels(1)})
    gw, port, _ = procs.start_gateway(target, TFS_PATH, warm)
    with procs.running(gw):
        watched = procs.family(gw.pid)
        for index, case in enumerate(cases()):
            body = e2e.write_body(tmp, f"case{index}.bin", case.body)
            result = e2e.http_load(port, case.path, body, load, watched, backend_pid, case.headers)
            rows.append(_row(case, result))
        rows.append(_http_only_row(port, watched, backend_pid, load, tmp))
    rows.append(_direct_row(target, backend_pid, load))
    return rows


def _http_only_row(
    port: int, watched: list[int], backend_pid: int, load: e2e.Load, tmp: Path
) -> dict[str, Any]:
    """The floor of the receive: the same V2 binary body POSTed to ``/v2/health/live``,
    which the gateway reads in full and answers 405 (no codec, no backend)."""
    body, headers = v2_binary(payloads.mnist_pixels(1000, 2))
    path = e2e.write_body(tmp, "http-only.bin", body)
    result = e2e.http_load(
        port, "/v2/health/live", path, load, watched, backend_pid, headers, expect=405
    )
    return _row(Case("1000x784", HTTP_ONLY, "", body, headers), result)


def _direct_row(target: str, backend_pid: int, load: e2e.Load) -> dict[str, Any]:
    """The floor of the send: a grpc.aio client sending the same 1000x784 PredictRequest
    (tensor_content) to the same backend; its own CPU per call stands in the CPU column."""
    result = e2e.grpc_load(target, "ok", "x", 1000, load, backend_pid)
    case = Case("1000x784", DIRECT, "", b"", ())
    # Only the backend is watched here: its CPU is server_cpu; the client's is loadgen_cpu.
    client = {
        **result,
        "server_cpu_us_per_req": result["loadgen_cpu_us_per_req"],
        "backend_cpu_us_per_req": result["server_cpu_us_per_req"],
    }
    row = _row(case, client)
    row["body_mib"] = 1000 * 784 * 4 / MIB
    return row


def _row(case: Case, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "tensor": case.tensor,
        "protocol": case.protocol,
        "body_mib": len(case.body) / MIB,
        "requests": result["requests"],
        "errors": result["errors"],
        "req_s": result["req_s"],
        "p50_ms": result["p50_ms"],
        "gateway_cpu_ms": result["server_cpu_us_per_req"] / 1000,
        "backend_cpu_ms": result["backend_cpu_us_per_req"] / 1000,
    }


def ratio(rows: list[dict[str, Any]], tensor: str, protocol: str) -> float:
    """Gateway CPU per request of ``protocol`` over TF Serving JSON's, for one tensor."""
    cpu = {r["protocol"]: r["gateway_cpu_ms"] for r in rows if r["tensor"] == tensor}
    value: float = cpu[protocol] / cpu[TFS_JSON]
    return value


def render(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"| tensor | protocol | body MiB | gateway CPU ms/req | / TF Serving JSON "
        f"| req/s (c={CONCURRENCY}) | p50 ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['tensor']} | {r['protocol']} | {r['body_mib']:.2f} "
            f"| {r['gateway_cpu_ms']:.2f} | {ratio(rows, r['tensor'], r['protocol']):.1%} "
            f"| {r['req_s']:.1f} | {r['p50_ms']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="3 s per case instead of 8")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results")
    args = p.parse_args(argv)
    fake, target = procs.start_fake_backend()
    with procs.running(fake):
        rows = measure(target, fake.pid, args.quick, e2e.temp_dir())
    if any(r["errors"] for r in rows):
        print(f"requests failed: {[r for r in rows if r['errors']]}", file=sys.stderr)
        return 1
    print(render(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
