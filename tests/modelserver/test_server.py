"""Process-level behaviour: flags, --help, robustness, concurrency, response encoding."""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from gateway.core import protos
from tests.modelserver.requests import (
    example,
    examples_request,
    float_tensor,
    predict_request,
    rpc_error,
)
from tests.servers import REPO, call, start_modelserver, stop_modelserver

FLAGS = [
    "--port",
    "--model_name",
    "--model_base_path",
    "--model_config_file",
    "--allow_version_labels_for_unavailable_models",
    "--file_system_poll_wait_seconds",
    "--enable_serialization_as_tensor_content",
]


def test_help_lists_flags() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "modelserver", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for flag in FLAGS:
        assert flag in result.stdout


def test_concurrent_calls_all_answer(modelserver_target: str) -> None:
    def one(i: int) -> float:
        request = predict_request("default", {"x": float_tensor([float(i)], [1])})
        return float(call(modelserver_target, "Predict", request).outputs["y"].float_val[0])

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(64)))
    assert results == [0.5 * i + 2 for i in range(64)]


def test_garbage_bytes_do_not_take_the_server_down(modelserver_target: str) -> None:
    with grpc.insecure_channel(modelserver_target) as channel:
        raw = channel.unary_unary(f"/{protos.PREDICTION_SERVICE}/Predict")
        with pytest.raises(grpc.RpcError) as info:
            raw(b"\xff\xff\xff\xff", timeout=10)
    assert info.value.code() != grpc.StatusCode.OK  # type: ignore[attr-defined]
    request = predict_request("default", {"x": float_tensor([2.0], [1])})
    assert call(modelserver_target, "Predict", request).outputs["y"].float_val[0] == 3.0


@pytest.fixture(scope="module")
def flagged_server(tfs_models: Path) -> Iterator[str]:
    """--model_name/--model_base_path, tensor_content answers, method-name check on."""
    args = [
        "--model_name",
        "hp2",
        "--model_base_path",
        str(tfs_models / "saved_model_half_plus_two_cpu"),
        "--enable_serialization_as_tensor_content",
        "--enable_signature_method_name_check=true",
        "--rest_api_port=0",
        "--file_system_poll_wait_seconds=0",
    ]
    proc, target = start_modelserver(args, wait_models=["hp2"])
    yield target
    stop_modelserver(proc)


def test_tensor_content_responses(flagged_server: str) -> None:
    request = predict_request("hp2", {"x": float_tensor([1.0, 2.0], [2, 1])})
    y = call(flagged_server, "Predict", request).outputs["y"]
    assert list(y.float_val) == []
    assert y.tensor_content == struct.pack("<2f", 2.5, 3.0)
    assert [d.size for d in y.tensor_shape.dim] == [2, 1]


def test_method_name_check(flagged_server: str) -> None:
    request = examples_request(protos.RegressionRequest, "hp2", [example(x=1.0)])
    assert rpc_error(flagged_server, "Regress", request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Expected regression signature method_name to be tensorflow/serving/regress. "
        "Was: tensorflow/serving/predict",
    )
    request = examples_request(
        protos.ClassificationRequest, "hp2", [example(x=1.0)], signature="regress_x_to_y"
    )
    assert rpc_error(flagged_server, "Classify", request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Expected classification signature method_name to be tensorflow/serving/classify. "
        "Was: tensorflow/serving/regress",
    )
