"""Predict on the five test models: results, model_spec, encodings, errors."""

from __future__ import annotations

import struct

import grpc
import numpy as np
import pytest

from gateway.core import protos
from tests.modelserver.requests import (
    DT_FLOAT,
    DT_INT64,
    DT_STRING,
    float_tensor,
    predict_request,
    rpc_error,
)
from tests.servers import call

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def predict(target: str, request: object) -> object:
    return call(target, "Predict", request)


@pytest.mark.parametrize(
    ("model", "alias", "expected"),
    [
        ("default", "x", [2.5, 3.0, 4.0]),
        ("saved_model_half_plus_two_2_versions", "x", [2.5, 3.0, 4.0]),
        ("saved_model_half_plus_three", "x", [3.5, 4.0, 5.0]),
        ("half_plus_two_tf2", "x", [2.5, 3.0, 4.0]),
    ],
)
def test_predict_each_model(
    modelserver_target: str, model: str, alias: str, expected: list[float]
) -> None:
    request = predict_request(model, {alias: float_tensor([1.0, 2.0, 4.0], [3])})
    response = predict(modelserver_target, request)
    y = response.outputs["y"]
    assert list(y.float_val) == expected
    assert [d.size for d in y.tensor_shape.dim] == [3]
    assert y.dtype == DT_FLOAT
    assert not y.tensor_content  # typed fields by default, as TF Serving
    assert response.model_spec.name == model
    assert response.model_spec.version.value == 123
    assert response.model_spec.signature_name == "serving_default"


def test_batch_shape_is_kept(modelserver_target: str) -> None:
    request = predict_request("default", {"x": float_tensor([1.0, 2.0], [2, 1])})
    y = predict(modelserver_target, request).outputs["y"]
    assert [d.size for d in y.tensor_shape.dim] == [2, 1]
    assert list(y.float_val) == [2.5, 3.0]


def test_tensor_content_input(modelserver_target: str) -> None:
    tensor = protos.TensorProto(dtype=DT_FLOAT, tensor_content=struct.pack("<3f", 1, 2, 3))
    tensor.tensor_shape.dim.add(size=3)
    y = predict(modelserver_target, predict_request("default", {"x": tensor})).outputs["y"]
    assert list(y.float_val) == [2.5, 3.0, 3.5]


def test_short_value_list_is_padded_with_last_value(modelserver_target: str) -> None:
    y = predict(modelserver_target, predict_request("default", {"x": float_tensor([4.0], [3])}))
    assert list(y.outputs["y"].float_val) == [4.0, 4.0, 4.0]


def test_named_signature_and_output_filter(modelserver_target: str) -> None:
    request = predict_request(
        "default", {"x": float_tensor([2.0], [1, 1])}, signature="serving_default"
    )
    request.output_filter.append("y")
    response = predict(modelserver_target, request)
    assert list(response.outputs) == ["y"]


def test_counter_get_counter_reports_ref_dtype_as_base(modelserver_target: str) -> None:
    request = predict_request("saved_model_counter", {}, signature="get_counter")
    response = predict(modelserver_target, request)
    output = response.outputs["output"]
    assert output.dtype == DT_FLOAT  # DT_FLOAT_REF in the graph
    assert list(output.float_val) == [0.0]
    assert response.model_spec.signature_name == "get_counter"


def test_tf2_default_input_is_used_when_missing(modelserver_target: str) -> None:
    response = predict(modelserver_target, predict_request("half_plus_two_tf2", {}))
    assert list(response.outputs["y"].float_val) == [2.0]  # default x = 0.0


def test_specific_version_and_label(modelserver_target: str) -> None:
    name = "saved_model_half_plus_two_2_versions"
    for kwargs in ({"version": 123}, {"label": "Version_Label"}):
        request = predict_request(name, {"x": float_tensor([2.0], [1])}, **kwargs)
        response = predict(modelserver_target, request)
        assert response.model_spec.version.value == 123
        assert list(response.outputs["y"].float_val) == [3.0]


def test_feed_shape_is_not_checked(modelserver_target: str) -> None:
    # compatibility.md §9.5: TF Serving does not check feeds against the placeholder shape.
    y = predict(
        modelserver_target, predict_request("default", {"x": float_tensor([2.0] * 4, [2, 2])})
    )
    assert [d.size for d in y.outputs["y"].tensor_shape.dim] == [2, 2]


ERRORS = [
    (
        predict_request("foo", {}),
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Latest(foo)",
    ),
    (
        predict_request("default", {}, version=7),
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Specific(default, 7)",
    ),
    (
        predict_request("saved_model_half_plus_two_2_versions", {}, version=124),
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Specific(saved_model_half_plus_two_2_versions, 124)",
    ),
    (
        predict_request("default", {}, label="nope"),
        INVALID,
        "Unrecognized servable version label: nope",
    ),
    (
        predict_request("default", {"x": float_tensor([1.0], [1])}, signature="s"),
        grpc.StatusCode.FAILED_PRECONDITION,
        'Serving signature key "s" not found.',
    ),
    (
        predict_request("saved_model_counter", {}),
        grpc.StatusCode.FAILED_PRECONDITION,
        'Serving signature key "serving_default" not found.',
    ),
    (
        predict_request("default", {}),
        INVALID,
        "input size does not match signature: 0!=1 len({}) != len({x}). Sent extra: {}. "
        "Missing but required: {x}.",
    ),
    (
        predict_request("default", {"z": float_tensor([1.0], [1])}),
        INVALID,
        "Signature input alias: x(feed name: x:0) not found in request and no default value "
        "provided. Inputs expected to be in the request {z}, or default input alias set: ",
    ),
    (
        predict_request("default", {"x": float_tensor([1.0], [1]), "z": float_tensor([1.0], [1])}),
        INVALID,
        "input size does not match signature: 2!=1 len({x,z}) != len({x}). Sent extra: {z}. "
        "Missing but required: {}.",
    ),
    (
        predict_request("default", {"x": protos.TensorProto(dtype=DT_INT64, int64_val=[1])}),
        INVALID,
        "Expects arg[0] to be float but int64 is provided",
    ),
    (
        predict_request(
            "default", {"x": protos.TensorProto(dtype=DT_FLOAT, tensor_content=b"abc")}
        ),
        INVALID,
        "tensor parsing error: x",
    ),
    (
        predict_request("", {}),
        INVALID,
        "ModelSpec has no name specified.",
    ),
    (
        protos.PredictRequest(),
        INVALID,
        "Missing ModelSpec",
    ),
]


@pytest.mark.parametrize(("request_", "code", "message"), ERRORS)
def test_predict_errors(
    modelserver_target: str, request_: object, code: grpc.StatusCode, message: str
) -> None:
    assert rpc_error(modelserver_target, "Predict", request_) == (code, message)


def test_output_filter_errors(modelserver_target: str) -> None:
    request = predict_request("default", {"x": float_tensor([1.0], [1])})
    request.output_filter.append("nope")
    assert rpc_error(modelserver_target, "Predict", request) == (
        INVALID,
        "output tensor alias not found in signature: nope Outputs expected to be in the set {y}.",
    )
    del request.output_filter[:]
    request.output_filter.extend(["y", "y"])
    assert rpc_error(modelserver_target, "Predict", request) == (
        INVALID,
        "duplicate output tensor alias: y",
    )


def test_string_into_float_placeholder_is_tensorflow_error(modelserver_target: str) -> None:
    tensor = protos.TensorProto(dtype=7, string_val=[b"a"])
    code, message = rpc_error(
        modelserver_target, "Predict", predict_request("default", {"x": tensor})
    )
    assert (code, message) == (INVALID, "Expects arg[0] to be float but string is provided")


def test_large_message_over_default_grpc_limit(modelserver_target: str) -> None:
    values = np.arange(2_000_000, dtype=np.float32)  # 8 MB, twice gRPC's 4 MiB default
    tensor = protos.TensorProto(dtype=DT_FLOAT, tensor_content=values.tobytes())
    tensor.tensor_shape.dim.add(size=values.size)
    y = predict(modelserver_target, predict_request("saved_model_half_plus_three", {"x": tensor}))
    assert len(y.outputs["y"].float_val) == values.size
    assert y.outputs["y"].float_val[10] == 8.0


@pytest.mark.parametrize(
    ("payload", "quoted"),
    [(b"\x0a\x05ab", "\n\x05ab"), (b"\xff\xfe", "\ufffd\ufffd")],
    ids=["cut-short", "not-utf8"],
)
def test_bytes_that_are_no_example_get_the_kernel_error(
    modelserver_target: str, payload: bytes, quoted: str
) -> None:
    """TF Serving's code and text for ParseExample on garbage, even when the text quotes
    bytes that are not UTF-8 (which TensorFlow's Python binding cannot raise as such)."""
    tensor = protos.TensorProto(dtype=DT_STRING, string_val=[payload])
    tensor.tensor_shape.dim.add(size=1)
    request = predict_request("default", {"inputs": tensor}, signature="classify_x_to_y")
    code, details = rpc_error(modelserver_target, "Predict", request)
    assert code == INVALID
    assert details.startswith(f"Could not parse example input, value: '{quoted}'"), details
