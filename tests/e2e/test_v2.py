"""The Open Inference Protocol end to end: a real V2 client library (tritonclient's
HTTP client) -> gateway process -> bundled ModelServer -> the test models
(compatibility.md §12). Raw HTTP covers what the client hides: headers,
content types, gzip, methods and error bodies."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.http import get, post, request

TWO_VERSIONS = "saved_model_half_plus_two_2_versions"


@pytest.fixture(scope="module")
def client(gateway_url: str) -> Iterator[triton.InferenceServerClient]:
    c = triton.InferenceServerClient(gateway_url.removeprefix("http://"), network_timeout=30.0)
    yield c
    c.close()


def fails(call: Any, *args: Any, **kw: Any) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as caught:
        call(*args, **kw)
    return caught.value


def v2_input(name: str, array: np.ndarray, binary: bool, datatype: str = "FP32") -> Any:
    given = triton.InferInput(name, list(array.shape), datatype)
    return given.set_data_from_numpy(array, binary_data=binary)


# --- server -------------------------------------------------------------------------------


def test_health_and_server_metadata(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.get_server_metadata() == {
        "name": "tfs-gateway",
        "version": "0.1.0",
        "extensions": ["binary_tensor_data"],
    }


def test_repository_index(client: triton.InferenceServerClient, gateway_url: str) -> None:
    # The configured models (here: those of the fixture's deployments) in Triton's format.
    index = client.get_model_repository_index()
    assert client.get_model_repository_index() == index  # body-less POSTs, one after another
    assert index == [
        {"name": "default", "version": "123", "state": "READY"},
        {"name": "half_plus_two_tf2", "version": "123", "state": "READY"},
        {"name": TWO_VERSIONS, "version": "123", "state": "READY"},
    ]
    ready = post(gateway_url, "/v2/repository/index", b'{"ready": true}')
    assert ready.status == 200 and ready.json() == index
    assert post(gateway_url, "/v2/repository/index", b'{"ready": 3}').status == 400


# --- models: readiness and metadata -------------------------------------------------------


def tensor(name: str, shape: list[int]) -> dict[str, Any]:
    return {"name": name, "datatype": "FP32", "shape": shape}


METADATA = [
    # (model, version, query, inputs, outputs)
    ("default", "", None, [tensor("x", [-1, 1])], [tensor("y", [-1, 1])]),
    (TWO_VERSIONS, "123", None, [tensor("x", [-1, 1])], [tensor("y", [-1, 1])]),
    ("half_plus_two_tf2", "", None, [tensor("x", [1])], [tensor("y", [1])]),
    # Shapes of unknown rank read [-1].
    ("saved_model_half_plus_three", "", None, [tensor("x", [-1])], [tensor("y", [-1])]),
    # No serving_default: the signature is chosen with a query parameter.
    (
        "saved_model_counter",
        "",
        {"signature_name": "incr_counter_by"},
        [tensor("delta", [-1])],
        [tensor("output", [])],
    ),
    (
        "default",
        "",
        {"signature_name": "regress_x2_to_y3"},
        [tensor("inputs", [-1, 1])],
        [tensor("outputs", [-1, 1])],
    ),
]


@pytest.mark.parametrize(("model", "version", "query", "inputs", "outputs"), METADATA)
def test_model_metadata(
    client: triton.InferenceServerClient,
    model: str,
    version: str,
    query: dict[str, str] | None,
    inputs: list[Any],
    outputs: list[Any],
) -> None:
    assert client.is_model_ready(model, version)
    metadata = client.get_model_metadata(model, version, query_params=query)
    assert metadata == {
        "name": model,
        "versions": ["123"],
        "platform": "tensorflow_savedmodel",
        "inputs": inputs,
        "outputs": outputs,
    }


def test_deployment_ids_stand_for_their_model(client: triton.InferenceServerClient) -> None:
    assert client.is_model_ready("dep-2v", "123")
    assert client.get_model_metadata("dep-tf2")["name"] == "half_plus_two_tf2"


def test_unknown_models_and_versions(client: triton.InferenceServerClient) -> None:
    assert not client.is_model_ready("no_such_model")
    assert not client.is_model_ready("default", "7")
    assert fails(client.get_model_metadata, "no_such_model").status() == "404"
    assert fails(client.get_model_metadata, "default", "7").status() == "404"
    x = v2_input("x", np.ones((1, 1), np.float32), binary=False)
    assert fails(client.infer, "no_such_model", [x]).status() == "404"


def test_a_model_without_serving_default_names_its_signatures(
    client: triton.InferenceServerClient,
) -> None:
    error = fails(client.get_model_metadata, "saved_model_counter")
    assert error.status() == "400"
    assert error.message() == (
        "model 'saved_model_counter' has no signature 'serving_default'; its signatures:"
        " get_counter, incr_counter, incr_counter_by, reset_counter"
        " (pick one with the signature_name parameter)"
    )


# --- inference ----------------------------------------------------------------------------

INFER = [
    # (model, version, input shape, values, expected outputs)
    ("default", "", [3, 1], [1.0, 2.0, 5.0], [2.5, 3.0, 4.5]),
    (TWO_VERSIONS, "123", [2, 1], [1.0, 2.0], [2.5, 3.0]),
    ("half_plus_two_tf2", "", [1], [2.0], [3.0]),
    ("saved_model_half_plus_three", "", [3], [1.0, 2.0, 3.0], [3.5, 4.0, 4.5]),
    ("saved_model_half_plus_three", "", [2, 2], [0.0, 2.0, 4.0, 6.0], [3.0, 4.0, 5.0, 6.0]),
    ("dep-default", "", [1, 1], [4.0], [4.0]),
]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize(("model", "version", "shape", "values", "expected"), INFER)
def test_infer(
    client: triton.InferenceServerClient,
    binary: bool,
    model: str,
    version: str,
    shape: list[int],
    values: list[float],
    expected: list[float],
) -> None:
    x = v2_input("x", np.array(values, np.float32).reshape(shape), binary)
    wanted = [triton.InferRequestedOutput("y", binary_data=binary)]
    result = client.infer(model, [x], model_version=version, outputs=wanted, request_id="r-1")
    response = result.get_response()
    assert response["id"] == "r-1"
    assert response["model_version"] == "123"
    assert response["outputs"][0]["datatype"] == "FP32"
    assert response["outputs"][0]["shape"] == shape
    assert ("parameters" in response["outputs"][0]) is binary
    y = result.as_numpy("y")
    assert y.dtype == np.float32 and y.shape == tuple(shape)
    assert y.ravel().tolist() == expected


def test_all_outputs_come_binary_without_an_output_list(
    client: triton.InferenceServerClient,
) -> None:
    # The client then asks for binary_data_output; the inputs go as JSON here.
    x = v2_input("x", np.array([[1.0]], np.float32), binary=False)
    result = client.infer("default", [x])
    assert result.get_output("y")["parameters"] == {"binary_data_size": 4}
    assert result.as_numpy("y").tolist() == [[2.5]]


def test_other_signatures_by_parameter(client: triton.InferenceServerClient) -> None:
    x2 = v2_input("inputs", np.array([[4.0]], np.float32), binary=True)
    result = client.infer("default", [x2], parameters={"signature_name": "regress_x2_to_y3"})
    assert result.as_numpy("outputs").tolist() == [[5.0]]  # 0.5 * 4 + 3
    counter = client.infer("saved_model_counter", [], parameters={"signature_name": "get_counter"})
    assert counter.get_output("output")["shape"] == []
    assert counter.as_numpy("output").dtype == np.float32
    delta = v2_input("delta", np.array(0.0, np.float32), binary=False)
    same = client.infer(
        "saved_model_counter", [delta], parameters={"signature_name": "incr_counter_by"}
    )
    assert same.as_numpy("output") == counter.as_numpy("output")


def test_compressed_both_ways(client: triton.InferenceServerClient) -> None:
    values = np.linspace(0, 1, 20000, dtype=np.float32).reshape(-1, 1)
    x = v2_input("x", values, binary=False)
    result = client.infer(
        "default",
        [x],
        outputs=[triton.InferRequestedOutput("y", binary_data=False)],
        request_compression_algorithm="gzip",
        response_compression_algorithm="gzip",
    )
    np.testing.assert_allclose(result.as_numpy("y"), values * 0.5 + 2, rtol=1e-6)


# --- errors -------------------------------------------------------------------------------

ERRORS = [
    # (inputs as (name, dtype, shape), outputs, message)
    (
        [("x", "FP64", [1, 1])],
        [],
        "input 'x' has datatype FP64, but the model expects FP32 (DT_FLOAT)",
    ),
    ([], [], "input 'x' of signature 'serving_default' is missing from the request"),
    (
        [("x", "FP32", [1, 1]), ("z", "FP32", [1])],
        [],
        "input 'z' is not an input of signature 'serving_default'; its inputs: x",
    ),
    (
        [("x", "FP32", [1, 1])],
        ["nope"],
        "output 'nope' is not an output of signature 'serving_default'; its outputs: y",
    ),
]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize(("inputs", "outputs", "message"), ERRORS)
def test_requests_that_do_not_fit_the_signature_are_400(
    client: triton.InferenceServerClient,
    binary: bool,
    inputs: list[tuple[str, str, list[int]]],
    outputs: list[str],
    message: str,
) -> None:
    numpy_of = {"FP32": np.float32, "FP64": np.float64}
    given = [
        v2_input(name, np.ones(shape, numpy_of[dtype]), binary, dtype)
        for name, dtype, shape in inputs
    ]
    wanted = [triton.InferRequestedOutput(n) for n in outputs] or None
    error = fails(client.infer, "default", given, outputs=wanted)
    assert (error.status(), error.message()) == ("400", message)


def test_modelserver_errors_keep_their_status(client: triton.InferenceServerClient) -> None:
    # The counter takes a scalar delta; the ModelServer refuses [1] with INVALID_ARGUMENT.
    delta = v2_input("delta", np.zeros(1, np.float32), binary=True)
    error = fails(
        client.infer,
        "saved_model_counter",
        [delta],
        parameters={"signature_name": "incr_counter_by"},
    )
    assert error.status() == "400"
    assert error.message().startswith("Parameters and update must be the same size")


def infer_raw(url: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
    return post(url, "/v2/models/default/infer", body, headers=headers or {})


def test_json_bodies_need_no_content_type(gateway_url: str) -> None:
    body = b'{"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [[2]]}]}'
    reply = infer_raw(gateway_url, body)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert "Inference-Header-Content-Length" not in reply.headers
    assert reply.json()["outputs"][0]["data"] == [3.0]


def test_binary_answers_carry_the_header_and_octet_stream(gateway_url: str) -> None:
    head = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [2, 1],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": 8},
                }
            ],
            "outputs": [{"name": "y", "parameters": {"binary_data": True}}],
        }
    )
    raw = np.array([2.0, 4.0], "<f4").tobytes()
    headers = {"Inference-Header-Content-Length": str(len(head)), "Content-Type": "x/y"}
    reply = infer_raw(gateway_url, head + raw, headers)
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"] == "application/octet-stream"
    size = int(reply.headers["Inference-Header-Content-Length"])
    doc = json.loads(reply.body[:size])
    assert doc["outputs"][0]["parameters"] == {"binary_data_size": 8}
    assert np.frombuffer(reply.body[size:], "<f4").tolist() == [3.0, 4.0]


def test_gzip_request_with_binary_parts(gateway_url: str) -> None:
    head = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [1, 1],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": 4},
                }
            ]
        }
    )
    body = gzip.compress(head + np.array([6.0], "<f4").tobytes())
    headers = {"Inference-Header-Content-Length": str(len(head)), "Content-Encoding": "gzip"}
    reply = infer_raw(gateway_url, body, headers)
    assert reply.status == 200 and reply.json()["outputs"][0]["data"] == [5.0]


BINARY_HEAD = (
    b'{"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32",'
    b' "parameters": {"binary_data_size": 4}}]}'
)
RAW_ERRORS = [
    # (body, headers, status, message fragment)
    (b"{", {}, 400, "not valid JSON"),
    (b'{"inputs": []}', {"Inference-Header-Content-Length": "99"}, 400, "past the end"),
    (
        BINARY_HEAD + b"\0\0\0\0\0",
        {"Inference-Header-Content-Length": str(len(BINARY_HEAD))},
        400,
        "1 bytes of binary data follow",
    ),
    (
        BINARY_HEAD + b"\0\0",
        {"Inference-Header-Content-Length": str(len(BINARY_HEAD))},
        400,
        "binary_data_size is 4, but only 2 bytes of binary data remain",
    ),
    (
        b'{"inputs": [{"name": "x", "shape": [2, 1], "datatype": "FP32", "data": [1]}]}',
        {},
        400,
        "shape [2,1] has 2 elements, but 'data' has 1",
    ),
]


@pytest.mark.parametrize(("body", "headers", "status", "fragment"), RAW_ERRORS)
def test_raw_errors(
    gateway_url: str, body: bytes, headers: dict[str, str], status: int, fragment: str
) -> None:
    reply = infer_raw(gateway_url, body, headers)
    assert reply.status == status
    assert reply.headers["Content-Type"] == "application/json"
    assert fragment in reply.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/v2/models/default/infer", 405, "POST"),
        ("POST", "/v2/health/ready", 405, "GET"),
        ("DELETE", "/v2/models/default", 405, "GET"),
        ("GET", "/v2/models/default/stats", 404, None),
        ("GET", "/v2/", 404, None),
    ],
)
def test_paths_and_methods(
    gateway_url: str, method: str, path: str, status: int, allow: str | None
) -> None:
    reply = request(gateway_url, method, path)
    assert reply.status == status
    assert "error" in reply.json()
    assert reply.headers.get("Allow") == allow


def test_model_ready_by_version(gateway_url: str) -> None:
    reply = get(gateway_url, "/v2/models/default/versions/123/ready")
    assert reply.status == 200 and reply.json() == {"name": "default", "ready": True}
    assert get(gateway_url, "/v2/models/default/versions/9/ready").status == 404
