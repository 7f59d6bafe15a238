"""Direct gRPC load generator (the baseline the gateway is compared with), in its own process.

``python -m benchmarks.grpc_client --target HOST:PORT --model M --input NAME
--rows R --concurrency C --requests N --max-seconds S`` sends the same
PredictRequest the gateway would send for an MNIST body (float32 [R, 784] in
``tensor_content``) over one grpc.aio channel with C concurrent callers, and
parses every PredictResponse, as a minimal real client would. Same
ready/stdin handshake and JSON line as ``benchmarks.loadgen``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import grpc
import grpc.aio
import orjson

from benchmarks import payloads
from benchmarks.stats import summary
from gateway.core import protos

BIG = 2**31 - 1


def predict_request(model: str, alias: str, rows: int) -> bytes:
    request = protos.PredictRequest()
    request.model_spec.name = model
    payloads.tensor_proto(payloads.mnist_pixels(rows), True, request.inputs[alias])
    serialized: bytes = request.SerializeToString()
    return serialized


async def _phase(stub: Any, request: bytes, concurrency: int, n: int, max_s: float) -> Any:
    clock = time.perf_counter
    deadline = clock() + max_s
    latencies: list[float] = []
    state = {"remaining": n, "errors": 0}

    async def worker() -> None:
        while state["remaining"] > 0 and clock() < deadline:
            state["remaining"] -= 1
            start = clock()
            try:
                await stub(request, timeout=30)
            except grpc.aio.AioRpcError:
                state["errors"] += 1
            latencies.append(clock() - start)

    start = clock()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, clock() - start, state["errors"]


async def main_async(args: argparse.Namespace) -> dict[str, float]:
    options = [("grpc.max_send_message_length", BIG), ("grpc.max_receive_message_length", BIG)]
    async with grpc.aio.insecure_channel(args.target, options=options) as channel:
        stub = channel.unary_unary(
            f"/{protos.PREDICTION_SERVICE}/Predict",
            request_serializer=lambda b: b,
            response_deserializer=protos.PredictResponse.FromString,
        )
        request = predict_request(args.model, args.input, args.rows)
        _, _, errors = await _phase(
            stub, request, args.concurrency, max(args.warmup, args.concurrency), args.max_seconds
        )
        if errors:
            raise RuntimeError(f"{errors} warm-up calls failed")
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        latencies, seconds, errors = await _phase(
            stub, request, args.concurrency, args.requests, args.max_seconds
        )
    return summary(latencies, seconds, errors)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--target", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--rows", type=int, default=1)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--max-seconds", type=float, default=10.0)
    args = p.parse_args(argv)
    result = asyncio.run(main_async(args))
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
