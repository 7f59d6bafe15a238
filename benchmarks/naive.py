"""The naive REST-to-gRPC path, kept as the reference the gateway is measured against.

This is what a straightforward Python proxy does: ``json.loads`` the body,
``tf.make_tensor_proto`` each input, fill the official ``PredictRequest`` and
serialize it; render the answer with ``json_format.MessageToDict`` and
``json.dumps``. It imports TensorFlow, so only the benchmarks use it (the
gateway never does).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import predict_pb2  # type: ignore[import-untyped]

_TF_DTYPES = {1: tf.float32, 2: tf.float64, 3: tf.int32, 7: tf.string, 9: tf.int64, 10: tf.bool}


def _unwrap_b64(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_unwrap_b64(v) for v in value]
    return value


def predict_request_from_json(
    body: bytes, input_dtypes: Mapping[str, int], model: str = "m"
) -> bytes:
    """JSON body -> serialized PredictRequest (row form with one input, or columnar)."""
    doc = json.loads(body)
    if "instances" in doc:
        (alias,) = input_dtypes
        values = {alias: doc["instances"]}
    else:
        values = doc["inputs"] if isinstance(doc["inputs"], dict) else {"": doc["inputs"]}
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    for alias, value in values.items():
        tensor = tf.make_tensor_proto(_unwrap_b64(value), dtype=_TF_DTYPES[input_dtypes[alias]])
        request.inputs[alias].CopyFrom(tensor)
    serialized: bytes = request.SerializeToString()
    return serialized


def predict_response_to_json(response: Any) -> bytes:
    """PredictResponse -> JSON through protobuf's generic JSON mapping."""
    return json.dumps(json_format.MessageToDict(response)).encode()


def predict_response_to_json_ndarray(response: Any) -> bytes:
    """PredictResponse -> JSON the other naive way: ``tf.make_ndarray(...).tolist()``.

    Used for ``tensor_content`` responses, where MessageToDict would only emit base64.
    """
    outputs = {name: tf.make_ndarray(t).tolist() for name, t in response.outputs.items()}
    if len(outputs) == 1:
        return json.dumps({"predictions": next(iter(outputs.values()))}).encode()
    return json.dumps({"outputs": outputs}).encode()


def parse_predict_request(data: bytes) -> Any:
    return predict_pb2.PredictRequest.FromString(data)


def parse_predict_response(data: bytes) -> Any:
    return predict_pb2.PredictResponse.FromString(data)
