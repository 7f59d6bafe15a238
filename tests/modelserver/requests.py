"""Request builders for the ModelServer tests (project message classes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
import pytest

from gateway.core import protos
from tests.servers import call

DT_FLOAT = protos.DataType.values_by_name["DT_FLOAT"].number
DT_INT64 = protos.DataType.values_by_name["DT_INT64"].number
DT_STRING = protos.DataType.values_by_name["DT_STRING"].number


def float_tensor(values: Sequence[float], shape: Sequence[int]) -> Any:
    tensor = protos.TensorProto(dtype=DT_FLOAT, float_val=list(values))
    for size in shape:
        tensor.tensor_shape.dim.add(size=size)
    return tensor


def spec(
    request: Any, name: str, signature: str = "", version: int | None = None, label: str = ""
) -> Any:
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    if label:
        request.model_spec.version_label = label
    return request


def predict_request(name: str, inputs: dict[str, Any], **kwargs: Any) -> Any:
    request = spec(protos.PredictRequest(), name, **kwargs)
    for alias, tensor in inputs.items():
        request.inputs[alias].CopyFrom(tensor)
    return request


def example(**features: Any) -> Any:
    """A tf.Example: floats -> float_list, ints -> int64_list, bytes -> bytes_list."""
    result = protos.Example()
    for key, value in features.items():
        feature = result.features.feature[key]
        values = value if isinstance(value, list) else [value]
        if all(isinstance(v, bytes) for v in values):
            feature.bytes_list.value.extend(values)
        elif all(isinstance(v, int) for v in values):
            feature.int64_list.value.extend(values)
        else:
            feature.float_list.value.extend(values)
    return result


def examples_request(
    cls: Any, name: str, examples: Sequence[Any], context: Any = None, **kwargs: Any
) -> Any:
    request = spec(cls(), name, **kwargs)
    if context is None:
        request.input.example_list.examples.extend(examples)
    else:
        request.input.example_list_with_context.examples.extend(examples)
        request.input.example_list_with_context.context.CopyFrom(context)
    return request


def rpc_error(target: str, method: str, request: Any) -> tuple[grpc.StatusCode, str]:
    """Call and expect failure; returns (code, details)."""
    with pytest.raises(grpc.RpcError) as info:
        call(target, method, request)
    error: Any = info.value
    return error.code(), error.details()
