"""A small fake ModelServer for fault injection and for isolating the gateway's cost.

It speaks the PredictionService/ModelService gRPC API with canned answers and
takes its behaviour from the model name, so one server covers every case:

- ``ok`` (or any other name): metadata with one predict signature
  (``x``: DT_FLOAT -> ``y``), status AVAILABLE at version 1, and a canned
  Predict answer ``y`` = float32 [1, 10].
- ``abort.<CODE>``: every call fails with that gRPC status code, e.g. ``abort.NOT_FOUND``.
- ``sleep.<seconds>``: Predict waits that long before answering.
- ``slowmeta.<seconds>``: GetModelMetadata waits that long before answering.
- ``renamed``: like ``ok``, but its input is named by ``FakeBackend.renamed_input``
  (change it to play a new model version with other signatures).

Predict and GetModelMetadata record the ``x-request-id`` metadata they receive.

Run it alone with ``python tests/fake_backend.py --port N``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from gateway.core import protos

DT_FLOAT = 1
AVAILABLE = 30


def _behaviour(context: grpc.ServicerContext, model: str, sleep: str = "") -> None:
    kind, _, arg = model.partition(".")
    if kind == "abort":
        context.abort(grpc.StatusCode[arg], f"fake backend aborts with {arg}")
    if sleep and kind == sleep:
        time.sleep(float(arg))


def _request_ids(context: grpc.ServicerContext) -> list[str]:
    return [v for k, v in context.invocation_metadata() if k == "x-request-id"]


def _spec(target: Any, model: str) -> None:
    target.name = model
    target.version.value = 1


def canned_outputs(rows: int = 1, cols: int = 10) -> Any:
    tensor = protos.TensorProto(dtype=DT_FLOAT)
    tensor.tensor_shape.dim.add(size=rows)
    tensor.tensor_shape.dim.add(size=cols)
    tensor.float_val.extend(np.linspace(0, 1, rows * cols, dtype=np.float32).tolist())
    return tensor


class FakeBackend:
    def __init__(self) -> None:
        self.predict_calls = 0
        self.request_ids: list[str] = []
        self.metadata_request_ids: list[str] = []
        self.renamed_input = "x"
        self._canned = canned_outputs()

    def predict(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.predict_calls += 1
        self.request_ids.extend(_request_ids(context))
        _behaviour(context, request.model_spec.name, sleep="sleep")
        response = protos.PredictResponse()
        _spec(response.model_spec, request.model_spec.name)
        response.outputs["y"].CopyFrom(self._canned)
        return response

    def metadata(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.metadata_request_ids.extend(_request_ids(context))
        _behaviour(context, request.model_spec.name, sleep="slowmeta")
        sigmap = protos.SignatureDefMap()
        sig = sigmap.signature_def["serving_default"]
        sig.method_name = "tensorflow/serving/predict"
        alias = self.renamed_input if request.model_spec.name == "renamed" else "x"
        sig.inputs[alias].name = f"{alias}:0"
        sig.inputs[alias].dtype = DT_FLOAT
        sig.outputs["y"].name = "y:0"
        sig.outputs["y"].dtype = DT_FLOAT
        response = protos.GetModelMetadataResponse()
        _spec(response.model_spec, request.model_spec.name)
        response.metadata["signature_def"].Pack(sigmap)
        return response

    def status(self, request: Any, context: grpc.ServicerContext) -> Any:
        _behaviour(context, request.model_spec.name)
        response = protos.GetModelStatusResponse()
        response.model_version_status.add(version=1, state=AVAILABLE)
        return response

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        def unary(fn: Any, req: Any, resp: Any) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=req.FromString, response_serializer=resp.SerializeToString
            )

        prediction = {
            "Predict": unary(self.predict, protos.PredictRequest, protos.PredictResponse),
            "GetModelMetadata": unary(
                self.metadata, protos.GetModelMetadataRequest, protos.GetModelMetadataResponse
            ),
        }
        model = {
            "GetModelStatus": unary(
                self.status, protos.GetModelStatusRequest, protos.GetModelStatusResponse
            )
        }
        return [
            grpc.method_handlers_generic_handler(protos.PREDICTION_SERVICE, prediction),
            grpc.method_handlers_generic_handler(protos.MODEL_SERVICE, model),
        ]


def serve(
    port: int = 0, host: str = "127.0.0.1", workers: int = 8
) -> tuple[grpc.Server, int, FakeBackend]:
    backend = FakeBackend()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    server.add_generic_rpc_handlers(backend.handlers())
    bound = server.add_insecure_port(f"{host}:{port}")
    server.start()
    return server, bound, backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    server, port, _ = serve(args.port, workers=args.workers)
    print(f"fake backend on 127.0.0.1:{port}", flush=True)
    server.wait_for_termination()


def spawn(port: int) -> subprocess.Popen[str]:
    """The fake backend in its own process (so a test can kill it), once it serves."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_backend", f"--port={port}"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "fake backend on" not in line:
        proc.kill()
        raise RuntimeError(f"fake backend did not start: {line!r}")
    return proc


if __name__ == "__main__":
    main()
