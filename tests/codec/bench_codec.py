"""Codec speed against the targets (a command, not a test): python -m tests.codec.bench_codec.

Prints ratios measured side by side in one process: request decode against
orjson.loads alone and against the naive json + tf.make_tensor_proto path,
response encode against orjson.dumps of the same numpy array.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import orjson

from gateway.codec.tfs.predict import (
    predict_body_from_json,
    predict_inputs_from_json,
    predict_response_to_json,
)
from gateway.core import protos


def best(fn: Callable[[], Any], seconds: float = 1.0) -> float:
    fn()
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 5:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def ours_request(body: bytes) -> bytes:
    tensors, _ = predict_inputs_from_json(predict_body_from_json(body), {"x": 1})
    request = protos.PredictRequest()
    request.model_spec.name = "m"
    for name, tensor in tensors.items():
        request.inputs[name].CopyFrom(tensor)
    return request.SerializeToString()  # type: ignore[no-any-return]


def ours_response(arr: np.ndarray) -> bytes:
    proto = protos.TensorProto(dtype=1, tensor_content=arr.tobytes())
    for size in arr.shape:
        proto.tensor_shape.dim.add(size=size)
    response = protos.PredictResponse.FromString(
        protos.PredictResponse(outputs={"y": proto}).SerializeToString()
    )
    return predict_response_to_json(response.outputs, columnar=False)


def main() -> None:
    rng = np.random.default_rng(0)
    gc.freeze()
    rows: dict[str, dict[str, float]] = {}
    bodies = {}
    for name, shape in (("mnist 1x784", (1, 784)), ("1000x784", (1000, 784))):
        data = rng.random(shape).astype(np.float32)
        body = orjson.dumps({"instances": data}, option=orjson.OPT_SERIALIZE_NUMPY)
        bodies[name] = body
        rows[name] = {
            "ours_s": best(partial(ours_request, body)),
            "orjson_loads_s": best(partial(orjson.loads, body)),
        }
    out = rng.random((1000, 10)).astype(np.float32)
    rows["response 1000x10"] = {
        "ours_s": best(lambda: predict_response_to_json({"y": _proto(out)}, columnar=False)),
        "ours_incl_proto_s": best(lambda: ours_response(out)),
        "orjson_dumps_s": best(lambda: orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY)),
    }
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2  # type: ignore[import-untyped]

    def naive(body: bytes) -> bytes:
        doc = json.loads(body)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "m"
        request.inputs["x"].CopyFrom(tf.make_tensor_proto(doc["instances"], dtype=tf.float32))
        return request.SerializeToString()  # type: ignore[no-any-return]

    rows["mnist 1x784"]["naive_s"] = best(lambda: naive(bodies["mnist 1x784"]))
    for name, row in rows.items():
        print(name, {k: f"{v * 1e6:.0f}us" for k, v in row.items()})
    mnist, big, resp = rows["mnist 1x784"], rows["1000x784"], rows["response 1000x10"]
    print(f"MNIST request: naive/ours = {mnist['naive_s'] / mnist['ours_s']:.1f}x (target >= 10)")
    big_ratio = big["ours_s"] / big["orjson_loads_s"]
    resp_ratio = resp["ours_s"] / resp["orjson_dumps_s"]
    print(f"1000x784 request: ours/orjson.loads = {big_ratio:.2f} (<= 1.3)")
    print(f"1000x10 response: ours/orjson.dumps = {resp_ratio:.2f} (<= 3)")


def _proto(arr: np.ndarray) -> Any:
    proto = protos.TensorProto(dtype=1, tensor_content=arr.tobytes())
    for size in arr.shape:
        proto.tensor_shape.dim.add(size=size)
    return proto


if __name__ == "__main__":
    main()
