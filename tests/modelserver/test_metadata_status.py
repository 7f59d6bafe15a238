"""GetModelMetadata (packed SignatureDefMap) and GetModelStatus."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from gateway.core import protos
from tests.modelserver.requests import DT_FLOAT, DT_STRING, rpc_error, spec
from tests.servers import call, model_status

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


def metadata_request(name: str, fields: tuple[str, ...] = ("signature_def",), **kw: Any) -> Any:
    request = spec(protos.GetModelMetadataRequest(), name, **kw)
    request.metadata_field.extend(fields)
    return request


def signature_map(response: Any) -> Any:
    packed = response.metadata["signature_def"]
    assert packed.type_url == protos.SIGNATURE_DEF_MAP_TYPE_URL
    result = protos.SignatureDefMap()
    assert packed.Unpack(result)
    return result.signature_def


SIGNATURES = {
    "default": {
        "serving_default",
        "classify_x_to_y",
        "regress_x_to_y",
        "regress_x_to_y2",
        "regress_x2_to_y3",
    },
    "saved_model_half_plus_three": {"serving_default", "tensorflow/serving/regress"},
    "half_plus_two_tf2": {
        "serving_default",
        "__saved_model_init_op",
        "classify_x_to_y",
        "classify_x2_to_y3",
        "regress_x_to_y",
        "regress_x_to_y2",
        "regress_x2_to_y3",
    },
    "saved_model_counter": {"get_counter", "incr_counter", "incr_counter_by", "reset_counter"},
    "saved_model_half_plus_two_2_versions": {
        "serving_default",
        "classify_x_to_y",
        "classify_x2_to_y3",
        "regress_x_to_y",
        "regress_x_to_y2",
        "regress_x2_to_y3",
    },
}


@pytest.mark.parametrize("model", sorted(SIGNATURES))
def test_metadata_lists_every_signature(modelserver_target: str, model: str) -> None:
    response = call(modelserver_target, "GetModelMetadata", metadata_request(model))
    assert set(signature_map(response)) == SIGNATURES[model]
    assert response.model_spec.name == model
    assert response.model_spec.version.value == 123
    assert response.model_spec.signature_name == ""


def test_metadata_signature_content(modelserver_target: str) -> None:
    response = call(modelserver_target, "GetModelMetadata", metadata_request("default"))
    signatures = signature_map(response)
    x = signatures["serving_default"].inputs["x"]
    assert (x.name, x.dtype, [d.size for d in x.tensor_shape.dim]) == ("x:0", DT_FLOAT, [-1, 1])
    examples = signatures["classify_x_to_y"].inputs["inputs"]
    assert (examples.dtype, examples.tensor_shape.unknown_rank) == (DT_STRING, True)
    assert signatures["classify_x_to_y"].method_name == "tensorflow/serving/classify"


def test_metadata_keeps_tf2_defaults_and_old_unshaped_infos(modelserver_target: str) -> None:
    tf2 = signature_map(
        call(modelserver_target, "GetModelMetadata", metadata_request("half_plus_two_tf2"))
    )
    assert list(tf2["serving_default"].defaults["x"].float_val) == [0.0]
    assert tf2["__saved_model_init_op"].outputs["__saved_model_init_op"].name == "NoOp"
    old = signature_map(
        call(
            modelserver_target, "GetModelMetadata", metadata_request("saved_model_half_plus_three")
        )
    )
    assert not old["serving_default"].inputs["x"].HasField("tensor_shape")


def test_metadata_by_label_reports_resolved_version(modelserver_target: str) -> None:
    request = metadata_request("saved_model_half_plus_two_2_versions", label="Version_Label")
    response = call(modelserver_target, "GetModelMetadata", request)
    assert response.model_spec.version.value == 123
    assert response.model_spec.version_label == ""


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (metadata_request("foo"), NOT_FOUND, "Servable not found for request: Latest(foo)"),
        (
            metadata_request("default", version=9),
            NOT_FOUND,
            "Servable not found for request: Specific(default, 9)",
        ),
        (metadata_request("default", label="L"), INVALID, "Unrecognized servable version label: L"),
        (
            metadata_request("default", fields=()),
            INVALID,
            "GetModelMetadataRequest must specify at least one metadata_field",
        ),
        (
            metadata_request("default", fields=("foo",)),
            INVALID,
            "Metadata field %s is not supportedfoo",
        ),
        (protos.GetModelMetadataRequest(), INVALID, "Missing ModelSpec"),
    ],
)
def test_metadata_errors(
    modelserver_target: str, request_: Any, code: grpc.StatusCode, message: str
) -> None:
    assert rpc_error(modelserver_target, "GetModelMetadata", request_) == (code, message)


def test_status_of_each_model(modelserver_target: str) -> None:
    for name in SIGNATURES:
        assert model_status(modelserver_target, name) == {123: "AVAILABLE"}


def test_status_fields(modelserver_target: str) -> None:
    request = spec(protos.GetModelStatusRequest(), "default", version=123)
    response = call(modelserver_target, "GetModelStatus", request)
    (entry,) = response.model_version_status
    assert (entry.version, entry.status.error_code, entry.status.error_message) == (123, 0, "")
    assert entry.HasField("status")


def test_status_ignores_label(modelserver_target: str) -> None:
    request = spec(protos.GetModelStatusRequest(), "default", label="anything")
    response = call(modelserver_target, "GetModelStatus", request)
    assert [s.version for s in response.model_version_status] == [123]


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (
            spec(protos.GetModelStatusRequest(), "foo"),
            NOT_FOUND,
            "Could not find any versions of model foo",
        ),
        (
            spec(protos.GetModelStatusRequest(), "default", version=124),
            NOT_FOUND,
            "Could not find version 124 of model default",
        ),
        (protos.GetModelStatusRequest(), INVALID, "Missing ModelSpec"),
    ],
)
def test_status_errors(
    modelserver_target: str, request_: Any, code: grpc.StatusCode, message: str
) -> None:
    assert rpc_error(modelserver_target, "GetModelStatus", request_) == (code, message)
