"""Codec micro-benchmarks, one side per process.

``python -m benchmarks.codec_bench --side gateway`` times the project's codec
(and the floors, ``orjson.loads`` / ``orjson.dumps`` of the numpy array) in a
process that, like the gateway, never imports TensorFlow. ``--side naive``
times ``benchmarks.naive`` in a process that does. Both freeze their start-up
objects out of the GC (as the gateway does after start-up), so the naive side
is not penalised for TensorFlow's 270k tracked objects. Each prints one JSON
object: case -> {"best_ms", "median_ms", "runs"} per implementation.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import orjson

from benchmarks import payloads
from gateway.core import protos

Timing = dict[str, float]


def measure(fn: Callable[[], object], min_repeat_s: float, repeats: int) -> Timing:
    """Best and median seconds per call over ``repeats`` runs of ~``min_repeat_s`` each.

    Timed in this process's CPU time: the codec is single-threaded, and on a shared
    machine wall time also counts the moments other processes hold the core.
    """
    fn()  # warm caches and lazy imports
    timer = timeit.Timer(fn, timer=time.process_time)
    number, took = timer.autorange()
    number = max(1, int(number * min_repeat_s / max(took, 1e-9)))
    per_call = [t / number for t in timer.repeat(repeat=repeats, number=number)]
    return {
        "best_ms": min(per_call) * 1e3,
        "median_ms": statistics.median(per_call) * 1e3,
        "calls": float(number * repeats),
    }


def response_messages(tensor_content: bool) -> dict[str, bytes]:
    """Serialized PredictResponses (output ``scores``), as the ModelServer sends them."""
    out = {}
    for name, array in payloads.response_arrays().items():
        response = protos.PredictResponse()
        response.model_spec.name = "m"
        payloads.tensor_proto(array, tensor_content, response.outputs["scores"])
        out[name] = response.SerializeToString()
    return out


def gateway_side(min_repeat_s: float, repeats: int) -> dict[str, dict[str, Timing]]:
    from gateway.codec.requests import predict_request
    from gateway.codec.tfs import predict as predict_codec

    spec = ("m", None, None)
    results: dict[str, dict[str, Timing]] = {}

    def request_fn(body: bytes, dtypes: dict[str, int]) -> Callable[[], bytes]:
        def run() -> bytes:
            parsed = predict_codec.predict_body_from_json(body)
            inputs, _ = predict_codec.predict_inputs_from_json(parsed, dtypes)
            return predict_request(spec, parsed.signature_name, inputs)

        return run

    gc.collect()
    gc.freeze()
    for case in payloads.request_cases():
        results["request: " + case.name] = {
            "gateway": measure(request_fn(case.body, case.input_dtypes), min_repeat_s, repeats),
            "floor": measure(partial(orjson.loads, case.body), min_repeat_s, repeats),
        }
    arrays = payloads.response_arrays()
    for tensor_content in (False, True):
        for name, data in response_messages(tensor_content).items():
            outputs = protos.PredictResponse.FromString(data).outputs
            array = arrays[name]
            key = f"response: {name} {'tensor_content' if tensor_content else 'float_val'}"
            results[key] = {
                "gateway": measure(
                    partial(predict_codec.predict_response_to_json, outputs, False),
                    min_repeat_s,
                    repeats,
                ),
                "floor": measure(
                    partial(orjson.dumps, array, option=orjson.OPT_SERIALIZE_NUMPY),
                    min_repeat_s,
                    repeats,
                ),
                "parse": measure(
                    partial(protos.PredictResponse.FromString, data), min_repeat_s, repeats
                ),
            }
    return results


def naive_side(min_repeat_s: float, repeats: int) -> dict[str, dict[str, Timing]]:
    from benchmarks import naive

    results: dict[str, dict[str, Timing]] = {}
    gc.collect()
    gc.freeze()
    for case in payloads.request_cases():
        results["request: " + case.name] = {
            "naive": measure(
                partial(naive.predict_request_from_json, case.body, case.input_dtypes),
                min_repeat_s,
                repeats,
            )
        }
    for tensor_content in (False, True):
        render = (
            naive.predict_response_to_json_ndarray
            if tensor_content
            else naive.predict_response_to_json
        )
        for name, data in response_messages(tensor_content).items():
            response = naive.parse_predict_response(data)
            key = f"response: {name} {'tensor_content' if tensor_content else 'float_val'}"
            results[key] = {"naive": measure(partial(render, response), min_repeat_s, repeats)}
    return results


def check_equivalent() -> list[str]:
    """Both paths must build the same request tensors; returns the cases that differ."""
    from tensorflow.core.framework import tensor_pb2

    from benchmarks import naive
    from gateway.codec.tfs import predict as predict_codec

    differ = []
    for case in payloads.request_cases():
        parsed = predict_codec.predict_body_from_json(case.body)
        ours, _ = predict_codec.predict_inputs_from_json(parsed, case.input_dtypes)
        theirs = naive.parse_predict_request(
            naive.predict_request_from_json(case.body, case.input_dtypes)
        )
        for alias, tensor in ours.items():
            a = tensor_pb2.TensorProto.FromString(tensor.SerializeToString())
            if not np.array_equal(_ndarray(a), _ndarray(theirs.inputs[alias])):
                differ.append(case.name)
    return differ


def _ndarray(tensor: Any) -> Any:
    import tensorflow as tf

    return tf.make_ndarray(tensor)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--side", choices=("gateway", "naive", "check"), required=True)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    min_repeat_s, repeats = (0.02, 3) if args.quick else (0.1, 7)
    out: Any
    if args.side == "check":
        out = {"differ": check_equivalent()}
    elif args.side == "gateway":
        out = gateway_side(min_repeat_s, repeats)
    else:
        out = naive_side(min_repeat_s, repeats)
        out["check: request tensors differ from naive"] = check_equivalent()
    sys.stdout.buffer.write(orjson.dumps(out) + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
