"""The project's test models answer as TF Serving's own test models do (run on request).

Set ``TFS_UPSTREAM_MODELS`` to TF Serving's test data directory (in a TF Serving checkout,
``tensorflow_serving/servables/tensorflow/testdata``: the directory that holds
``saved_model_half_plus_two_cpu`` and its siblings). One bundled ModelServer then serves
both trees, TF Serving's under the prefix ``upstream_``, and every request below goes to
both. Signature maps must be equal field for field, and answers and errors must be equal
except for the model name they echo. Without the variable the test is skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from gateway.core import protos
from tests import models
from tests.modelserver.requests import (
    DT_INT64,
    example,
    examples_request,
    float_tensor,
    predict_request,
    spec,
)
from tests.servers import call, start_modelserver, stop_modelserver

UPSTREAM = os.environ.get("TFS_UPSTREAM_MODELS", "")
PREFIX = "upstream_"
pytestmark = pytest.mark.skipif(
    not UPSTREAM,
    reason="TFS_UPSTREAM_MODELS is not set (TF Serving's servables/tensorflow/testdata "
    "directory): the comparison with TF Serving's own test models is skipped",
)

Build = Callable[[str], Any]  # served name -> request
# TensorFlow names a tf.function's graph after the Python function and a trace counter,
# and puts that name in kernel errors; neither says anything about the model.
FUNCTION_NODE = re.compile(r"\{\{function_node __inference_\w+\}\}")


@pytest.fixture(scope="module")
def both(tfs_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    upstream = Path(UPSTREAM).resolve()
    missing = models.missing_directories(upstream)
    if missing:
        pytest.fail(f"TFS_UPSTREAM_MODELS={upstream} has no {', '.join(missing)}")
    config = tmp_path_factory.mktemp("parity") / "models.config"
    entries = models.config_entries(tfs_models) + models.config_entries(upstream, PREFIX)
    config.write_text("model_config_list {\n" + entries + "}\n", encoding="utf-8")
    names = [*models.MODEL_NAMES, *(PREFIX + n for n in models.MODEL_NAMES)]
    args = [
        "--model_config_file",
        str(config),
        "--allow_version_labels_for_unavailable_models",
    ]
    proc, target = start_modelserver(args, wait_models=names)
    yield target
    stop_modelserver(proc)


def answer(target: str, method: str, request: Any) -> tuple[str, Any]:
    """("ok", response) or ("error", (code, details)), with the served name unprefixed.

    A metadata answer is compared by its unpacked SignatureDefMap: the packed bytes
    depend on the order in which maps were serialized. Errors lose the tf.function
    names TensorFlow puts in them.
    """
    try:
        response = call(target, method, request)
    except grpc.RpcError as exc:
        error: Any = exc
        details = FUNCTION_NODE.sub("{{function_node}}", error.details())
        return "error", (error.code(), details.replace(PREFIX, ""))
    for holder in [response, *getattr(response, "results", [])]:
        if "model_spec" in holder.DESCRIPTOR.fields_by_name:
            holder.model_spec.name = holder.model_spec.name.removeprefix(PREFIX)
    if method == "GetModelMetadata":
        signatures = protos.SignatureDefMap()
        assert response.metadata["signature_def"].Unpack(signatures)
        return "ok", (response.model_spec, signatures)
    return "ok", response


def assert_same(target: str, method: str, build: Build, name: str) -> None:
    ours = answer(target, method, build(name))
    theirs = answer(target, method, build(PREFIX + name))
    assert ours == theirs, f"{method} on {name}"


def metadata(name: str) -> Any:
    request = spec(protos.GetModelMetadataRequest(), name)
    request.metadata_field.append("signature_def")
    return request


def status(name: str) -> Any:
    return spec(protos.GetModelStatusRequest(), name)


@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_same_signatures_and_status(both: str, name: str) -> None:
    assert_same(both, "GetModelMetadata", metadata, name)
    assert_same(both, "GetModelStatus", status, name)


def predict(inputs: dict[str, Any], **kw: Any) -> Build:
    return lambda name: predict_request(name, inputs, **kw)


HALF_PLUS = ("default", "saved_model_half_plus_two_2_versions", "saved_model_half_plus_three")
PREDICTS: list[tuple[tuple[str, ...], Build]] = [
    ((*HALF_PLUS, "half_plus_two_tf2"), predict({"x": float_tensor([1.0, 2.0, 4.0], [3])})),
    ((*HALF_PLUS, "half_plus_two_tf2"), predict({"x": float_tensor([1.0, 2.0], [2, 1])})),
    (HALF_PLUS, predict({"x": float_tensor([1.0, 2.0, 3.0, 4.0], [2, 2])})),
    (("half_plus_two_tf2",), predict({})),
    (HALF_PLUS, predict({})),
    (HALF_PLUS, predict({"z": float_tensor([1.0], [1])})),
    (HALF_PLUS, predict({"x": protos.TensorProto(dtype=DT_INT64, int64_val=[1])})),
    (("saved_model_half_plus_two_2_versions",), predict({}, label="Version_Label")),
    (
        ("default", "half_plus_two_tf2"),
        predict({"inputs": float_tensor([4.0], [1])}, signature="regress_x2_to_y3"),
    ),
    (("default",), predict({"x": float_tensor([1.0], [1])}, signature="nope")),
    (("saved_model_counter",), predict({})),
]


@pytest.mark.parametrize(("names", "build"), PREDICTS)
def test_same_predictions(both: str, names: tuple[str, ...], build: Build) -> None:
    for name in names:
        assert_same(both, "Predict", build, name)


def test_same_counter_sequence(both: str) -> None:
    delta = {"delta": float_tensor([2.5], [])}
    for signature, inputs in [
        ("get_counter", {}),
        ("incr_counter", {}),
        ("incr_counter_by", delta),
        ("get_counter", {}),
        ("reset_counter", {}),
        ("get_counter", {}),
    ]:
        assert_same(both, "Predict", predict(inputs, signature=signature), "saved_model_counter")


def examples(cls: Any, batch: list[Any], **kw: Any) -> Build:
    return lambda name: examples_request(cls, name, batch, **kw)


BATCHES = [
    [example(x=2.0), example(x=1.0)],
    [example(x=2.0, x2=4.0)],
    [example(x2=4.0)],  # x is required
    [example(x=2)],  # an int64 feature where a float is parsed
    [],
]
TF1_HALF_PLUS_TWO = ("default", "saved_model_half_plus_two_2_versions")
ALL_HALF_PLUS_TWO = (*TF1_HALF_PLUS_TWO, "half_plus_two_tf2")
CLASSIFY = protos.ClassificationRequest
REGRESS = protos.RegressionRequest
EXAMPLE_CASES: list[tuple[tuple[str, ...], str, Any, str]] = [
    (ALL_HALF_PLUS_TWO, "Classify", CLASSIFY, "classify_x_to_y"),
    (ALL_HALF_PLUS_TWO, "Regress", REGRESS, "regress_x_to_y"),
    (ALL_HALF_PLUS_TWO, "Regress", REGRESS, "regress_x_to_y2"),
    (ALL_HALF_PLUS_TWO, "Regress", REGRESS, "regress_x2_to_y3"),
    (
        ("saved_model_half_plus_two_2_versions", "half_plus_two_tf2"),
        "Classify",
        CLASSIFY,
        "classify_x2_to_y3",
    ),
    (("saved_model_half_plus_three",), "Regress", REGRESS, "tensorflow/serving/regress"),
    (("default", "saved_model_half_plus_three"), "Regress", REGRESS, ""),
    (("default",), "Classify", CLASSIFY, ""),
]


@pytest.mark.parametrize(("names", "method", "cls", "signature"), EXAMPLE_CASES)
def test_same_classify_and_regress(
    both: str, names: tuple[str, ...], method: str, cls: Any, signature: str
) -> None:
    for name in names:
        for batch in BATCHES:
            assert_same(both, method, examples(cls, batch, signature=signature), name)
        with_context = examples(
            cls, [example(), example(x=4.0)], context=example(x=2.0), signature=signature
        )
        assert_same(both, method, with_context, name)


def multi_inference(name: str) -> Any:
    request = protos.MultiInferenceRequest()
    for signature, method in [
        ("classify_x_to_y", "tensorflow/serving/classify"),
        ("regress_x_to_y2", "tensorflow/serving/regress"),
    ]:
        task = request.tasks.add(method_name=method)
        task.model_spec.name = name
        task.model_spec.signature_name = signature
    request.input.example_list.examples.extend([example(x=2.0), example(x=3.0)])
    return request


def test_same_multi_inference(both: str) -> None:
    for name in TF1_HALF_PLUS_TWO:
        assert_same(both, "MultiInference", multi_inference, name)
