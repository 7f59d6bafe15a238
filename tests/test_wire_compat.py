"""Wire compatibility with the official tensorflow-serving-api client.

The official stubs (generated ``_pb2_grpc`` from tensorflow-serving-api) call
the bundled ModelServer; and messages serialized with the project's classes
parse with the official classes, and back. Importing the official modules
loads TensorFlow's protos in this process; the project's private pool does
not collide with them.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import text_format
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from gateway.core import protos
from tests.modelserver.requests import example, examples_request, float_tensor, predict_request
from tests.servers import call


@pytest.fixture
def stub(modelserver_target: str) -> Any:
    with grpc.insecure_channel(modelserver_target) as channel:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def test_official_predict(stub: Any) -> None:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "default"
    request.inputs["x"].dtype = types_pb2.DT_FLOAT
    request.inputs["x"].tensor_shape.dim.add(size=2)
    request.inputs["x"].float_val.extend([1.0, 2.0])
    response = stub.Predict(request, timeout=30)
    assert list(response.outputs["y"].float_val) == [2.5, 3.0]
    assert response.model_spec.version.value == 123


def test_official_classify_and_regress(stub: Any) -> None:
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "default"
    request.model_spec.signature_name = "classify_x_to_y"
    request.input.example_list.examples.add().features.feature["x"].float_list.value.append(2.0)
    assert stub.Classify(request, timeout=30).result.classifications[0].classes[0].score == 3.0
    regress = regression_pb2.RegressionRequest()
    regress.model_spec.name = "half_plus_two_tf2"
    regress.model_spec.signature_name = "regress_x_to_y2"
    regress.input.CopyFrom(request.input)
    assert stub.Regress(regress, timeout=30).result.regressions[0].value == 4.0


def test_official_metadata_unpacks(stub: Any) -> None:
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "half_plus_two_tf2"
    request.metadata_field.append("signature_def")
    response = stub.GetModelMetadata(request, timeout=30)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    assert "__saved_model_init_op" in signatures.signature_def
    assert signatures.signature_def["serving_default"].inputs["x"].name == "serving_default_x:0"


def test_official_status_and_errors(modelserver_target: str) -> None:
    with grpc.insecure_channel(modelserver_target) as channel:
        models = model_service_pb2_grpc.ModelServiceStub(channel)
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = "saved_model_counter"
        response = models.GetModelStatus(request, timeout=30)
        assert (
            response.model_version_status[0].state
            == get_model_status_pb2.ModelVersionStatus.AVAILABLE
        )
        request.model_spec.name = "foo"
        with pytest.raises(grpc.RpcError) as info:
            models.GetModelStatus(request, timeout=30)
    error: Any = info.value
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        "Could not find any versions of model foo",
    )


def test_project_client_reads_official_style_response(modelserver_target: str) -> None:
    request = predict_request("default", {"x": float_tensor([4.0], [1])})
    response = call(modelserver_target, "Predict", request)
    official = predict_pb2.PredictResponse.FromString(response.SerializeToString())
    assert list(official.outputs["y"].float_val) == [4.0]


ROUND_TRIPS = [
    (
        predict_request("m", {"x": float_tensor([1.5, -2.0], [2, 1])}, version=7),
        predict_pb2.PredictRequest,
    ),
    (
        examples_request(
            protos.ClassificationRequest,
            "m",
            [example(x=1.0, s=b"a"), example(n=[1, 2])],
            context=example(c=3.0),
            label="stable",
        ),
        classification_pb2.ClassificationRequest,
    ),
    (
        examples_request(protos.RegressionRequest, "m", [example(x=2.0)], signature="r"),
        regression_pb2.RegressionRequest,
    ),
    (
        protos.TensorProto(dtype=7, string_val=[b"\x00\xff", b"text"], version_number=1),
        tensor_pb2.TensorProto,
    ),
]


@pytest.mark.parametrize(("ours", "official_cls"), ROUND_TRIPS)
def test_messages_round_trip(ours: Any, official_cls: Any) -> None:
    official = official_cls.FromString(ours.SerializeToString())
    back = type(ours).FromString(official.SerializeToString())
    assert back == ours
    # Same text on both sides: every field was known to the official class (text
    # format leaves unknown fields out), with the same name and value.
    assert text_format.MessageToString(official) == text_format.MessageToString(ours)
    assert text_format.MessageToString(ours)
