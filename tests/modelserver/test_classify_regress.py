"""Classify, Regress and MultiInference on serialized tf.Examples."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from gateway.core import protos
from tests.modelserver.requests import example, examples_request, rpc_error
from tests.servers import call

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def classify(target: str, name: str, examples: list[Any], **kwargs: Any) -> Any:
    request = examples_request(protos.ClassificationRequest, name, examples, **kwargs)
    return call(target, "Classify", request)


def regress(target: str, name: str, examples: list[Any], **kwargs: Any) -> Any:
    request = examples_request(protos.RegressionRequest, name, examples, **kwargs)
    return call(target, "Regress", request)


def regressions(response: Any) -> list[float]:
    return [r.value for r in response.result.regressions]


@pytest.mark.parametrize("model", ["default", "saved_model_half_plus_two_2_versions"])
def test_classify_scores_only_gives_empty_labels(modelserver_target: str, model: str) -> None:
    response = classify(
        modelserver_target, model, [example(x=2.0), example(x=4.0)], signature="classify_x_to_y"
    )
    result = [[(c.label, c.score) for c in e.classes] for e in response.result.classifications]
    assert result == [[("", 3.0)], [("", 4.0)]]
    assert response.model_spec.name == model
    assert response.model_spec.version.value == 123
    assert response.model_spec.signature_name == "classify_x_to_y"


@pytest.mark.parametrize(
    ("model", "signature", "expected"),
    [
        ("default", "regress_x_to_y", [3.0, 2.5]),
        ("default", "regress_x_to_y2", [4.0, 3.5]),
        ("half_plus_two_tf2", "regress_x_to_y", [3.0, 2.5]),
        ("half_plus_two_tf2", "regress_x_to_y2", [4.0, 3.5]),
        ("saved_model_half_plus_three", "tensorflow/serving/regress", [4.0, 3.5]),
    ],
)
def test_regress(
    modelserver_target: str, model: str, signature: str, expected: list[float]
) -> None:
    response = regress(
        modelserver_target, model, [example(x=2.0), example(x=1.0)], signature=signature
    )
    assert regressions(response) == expected
    assert response.model_spec.signature_name == signature


def test_tf2_predict_method_signature_classifies(modelserver_target: str) -> None:
    # Method-name check off (TF Serving's default): a predict signature that fits works.
    response = classify(
        modelserver_target, "half_plus_two_tf2", [example(x=6.0)], signature="classify_x_to_y"
    )
    assert [c.score for c in response.result.classifications[0].classes] == [5.0]


def test_context_is_merged_and_example_wins(modelserver_target: str) -> None:
    context = example(x=10.0, x2=1.0)
    response = regress(
        modelserver_target,
        "default",
        [example(), example(x=2.0)],
        context=context,
        signature="regress_x_to_y",
    )
    assert regressions(response) == [7.0, 3.0]


def test_int_feature_is_tensorflow_parse_error(modelserver_target: str) -> None:
    request = examples_request(
        protos.RegressionRequest, "default", [example(x=2)], signature="regress_x_to_y"
    )
    code, message = rpc_error(modelserver_target, "Regress", request)
    assert code == INVALID
    assert "Data types don't match. Data type: int64 but expected type: float" in message


def test_empty_input(modelserver_target: str) -> None:
    request = examples_request(protos.RegressionRequest, "default", [], signature="regress_x_to_y")
    assert rpc_error(modelserver_target, "Regress", request) == (INVALID, "Input is empty.")


def test_default_signature_has_no_examples_input(modelserver_target: str) -> None:
    for method, cls, kind in (
        ("Classify", protos.ClassificationRequest, "classification"),
        ("Regress", protos.RegressionRequest, "regression"),
    ):
        request = examples_request(cls, "default", [example(x=1.0)])
        code, message = rpc_error(modelserver_target, method, request)
        assert code == INVALID
        assert message.startswith(f"No {kind} inputs found in SignatureDef: inputs {{\n")
        assert 'name: "x:0"' in message
        assert 'method_name: "tensorflow/serving/predict"' in message


def test_unknown_signature(modelserver_target: str) -> None:
    for method, cls in (
        ("Classify", protos.ClassificationRequest),
        ("Regress", protos.RegressionRequest),
    ):
        request = examples_request(cls, "default", [example(x=1.0)], signature="s")
        assert rpc_error(modelserver_target, method, request) == (
            INVALID,
            "No signature was found with the name: s",
        )


def test_regress_with_two_output_signature_is_rejected(modelserver_target: str) -> None:
    request = examples_request(
        protos.RegressionRequest, "saved_model_counter", [example(x=1.0)], signature="get_counter"
    )
    assert rpc_error(modelserver_target, "Regress", request) == (
        INVALID,
        "Expected one input Tensor.",
    )


def test_classify_unknown_model(modelserver_target: str) -> None:
    request = examples_request(protos.ClassificationRequest, "foo", [example(x=1.0)])
    assert rpc_error(modelserver_target, "Classify", request) == (
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Latest(foo)",
    )


def multi_request(tasks: list[tuple[str, str, str]], examples: list[Any]) -> Any:
    request = protos.MultiInferenceRequest()
    for model, signature, method in tasks:
        task = request.tasks.add(method_name=method)
        task.model_spec.name = model
        task.model_spec.signature_name = signature
    request.input.example_list.examples.extend(examples)
    return request


def test_multi_inference(modelserver_target: str) -> None:
    request = multi_request(
        [
            ("default", "classify_x_to_y", "tensorflow/serving/classify"),
            ("default", "regress_x_to_y2", "tensorflow/serving/regress"),
        ],
        [example(x=2.0)],
    )
    response = call(modelserver_target, "MultiInference", request)
    first, second = response.results
    assert first.classification_result.classifications[0].classes[0].score == 3.0
    assert second.regression_result.regressions[0].value == 4.0
    assert second.model_spec.signature_name == "regress_x_to_y2"
    assert second.model_spec.version.value == 123


@pytest.mark.parametrize(
    ("tasks", "code", "message"),
    [
        (
            [
                ("default", "regress_x_to_y", "tensorflow/serving/regress"),
                ("other", "regress_x_to_y", "tensorflow/serving/regress"),
            ],
            INVALID,
            "All ModelSpecs in a MultiInferenceRequest must access the same model name.",
        ),
        (
            [
                ("default", "regress_x_to_y", "tensorflow/serving/regress"),
                ("default", "regress_x_to_y", "tensorflow/serving/regress"),
            ],
            INVALID,
            "Duplicate evaluation of signature: regress_x_to_y",
        ),
        (
            [("default", "regress_x_to_y", "tensorflow/serving/predict")],
            grpc.StatusCode.UNIMPLEMENTED,
            "Unsupported signature method_name: tensorflow/serving/predict",
        ),
        (
            [("default", "nope", "tensorflow/serving/regress")],
            INVALID,
            "Requested signature not found in model graph: nope",
        ),
    ],
)
def test_multi_inference_errors(
    modelserver_target: str, tasks: list[tuple[str, str, str]], code: grpc.StatusCode, message: str
) -> None:
    request = multi_request(tasks, [example(x=2.0)])
    assert rpc_error(modelserver_target, "MultiInference", request) == (code, message)
