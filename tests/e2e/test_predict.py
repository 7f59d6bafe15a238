"""Predict end to end: gateway -> bundled ModelServer -> the five test models.

Expected answers and error texts are TF Serving's (compatibility.md §§1-4, 6, 7).
"""

from __future__ import annotations

import math

import pytest

from tests.http import Reply, post

Case = tuple[str, object, int, object]

OK_CASES: list[Case] = [
    # (path, body, status, expected JSON)
    (
        "/v1/models/default:predict",
        {"instances": [1.0, 2.0, 5.0]},
        200,
        {"predictions": [2.5, 3.0, 4.5]},
    ),
    (
        "/v1/models/default:predict",
        {"instances": [[1.0], [2.0], [5.0]]},
        200,
        {"predictions": [[2.5], [3.0], [4.5]]},
    ),
    ("/v1/models/default:predict", {"inputs": [1.0, 2.0, 5.0]}, 200, {"outputs": [2.5, 3.0, 4.5]}),
    ("/v1/models/default:predict", {"inputs": {"x": [[1.0]]}}, 200, {"outputs": [[2.5]]}),
    (
        "/v1/models/default:predict",
        {"instances": [{"x": 1.0}, {"x": 2.0}]},
        200,
        {"predictions": [2.5, 3.0]},
    ),
    # Integer tokens are fine for a float input (compatibility.md §4.3).
    ("/v1/models/default:predict", {"instances": [1, 2]}, 200, {"predictions": [2.5, 3.0]}),
    ("/v1/models/default:predict", {"inputs": 2.0}, 200, {"outputs": 3.0}),
    (
        "/v1/models/default:predict",
        {"signature_name": "serving_default", "instances": [2.0]},
        200,
        {"predictions": [3.0]},
    ),
    ("/v1/models/default/versions/123:predict", {"instances": [2.0]}, 200, {"predictions": [3.0]}),
    (
        "/v1/models/saved_model_half_plus_two_2_versions/labels/Version_Label:predict",
        {"instances": [2.0]},
        200,
        {"predictions": [3.0]},
    ),
    (
        "/v1/models/saved_model_half_plus_three:predict",
        {"instances": [1.0, 2.0]},
        200,
        {"predictions": [3.5, 4.0]},
    ),
    ("/v1/models/half_plus_two_tf2:predict", {"inputs": {"x": [1.0]}}, 200, {"outputs": [2.5]}),
    ("/V1/MODELS/default:predict", {"instances": [2.0]}, 200, {"predictions": [3.0]}),
    # Paperspace form: same answers, optional version.
    ("/model-serving/dep-default:predict", {"instances": [2.0]}, 200, {"predictions": [3.0]}),
    ("/model-serving/dep-default/versions/123:predict", {"inputs": [2.0]}, 200, {"outputs": [3.0]}),
    ("/model-serving/dep-2v:predict", {"instances": [2.0]}, 200, {"predictions": [3.0]}),
]


def _check(reply: Reply, status: int, expected: object) -> None:
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    if isinstance(expected, str):
        assert reply.json()["error"] == expected, reply.body
    else:
        assert reply.json() == expected


@pytest.mark.parametrize(("path", "body", "status", "expected"), OK_CASES)
def test_predict_answers(
    gateway_url: str, path: str, body: object, status: int, expected: object
) -> None:
    assert isinstance(body, dict)
    _check(post(gateway_url, path, body), status, expected)


ERROR_CASES: list[tuple[str, str, int, str]] = [
    # (path, raw body, status, exact error message)
    ("/v1/models/default:predict", "", 400, "JSON Parse error: The document is empty"),
    # JSON errors come before the model lookup (compatibility.md §2).
    ("/v1/models/nope:predict", "", 400, "JSON Parse error: The document is empty"),
    ("/v1/models/nope:predict", "[1, 2]", 400, "JSON Value: [1, 2] Is not object"),
    ("/v1/models/nope:predict", '{"foo": 1}', 404, "Servable not found for request: Latest(nope)"),
    ("/v1/models/default:predict", '{"foo": 1}', 400, "Missing 'inputs' or 'instances' key"),
    (
        "/v1/models/default/versions/124:predict",
        '{"instances": [1.0]}',
        404,
        "Servable not found for request: Specific(default, 124)",
    ),
    (
        "/v1/models/saved_model_half_plus_two_2_versions/labels/nope:predict",
        '{"instances": [1.0]}',
        400,
        "Unrecognized servable version label: nope",
    ),
    (
        "/v1/models/default:predict",
        '{"signature_name": "nope", "instances": [1.0]}',
        400,
        'Serving signature name: "nope" not found in signature def',
    ),
    (
        "/v1/models/saved_model_counter:predict",
        '{"instances": [1.0]}',
        400,
        'Serving signature name: "serving_default" not found in signature def',
    ),
    (
        "/v1/models/saved_model_counter:predict",
        '{"signature_name": "get_counter", "instances": [1.0]}',
        400,
        "Failed to get input map for signature: get_counter",
    ),
    (
        "/v1/models/default:predict",
        '{"instances": [1.0], "inputs": [1.0]}',
        400,
        'JSON Value: {\n    "instances": [1.0],\n    "inputs": [1.0]\n} Not formatted correctly '
        "expecting only one of 'inputs' or 'instances' keys to exist ",
    ),
    (
        "/v1/models/default:predict?x=1",
        '{"instances": [1.0]}',
        400,
        "Malformed request: POST /v1/models/default:predict?x=1",
    ),
    (
        "/v1/models/default:PREDICT",
        '{"instances": [1.0]}',
        400,
        "Malformed request: POST /v1/models/default:PREDICT",
    ),
    (
        "/model-serving/unknown-dep:predict",
        '{"instances": [1.0]}',
        404,
        "Could not find deployment: unknown-dep",
    ),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), ERROR_CASES)
def test_predict_errors(gateway_url: str, path: str, body: str, status: int, message: str) -> None:
    _check(post(gateway_url, path, body), status, message)


def test_signature_name_must_be_a_string(gateway_url: str) -> None:
    reply = post(
        gateway_url, "/v1/models/nope:predict", '{"signature_name": 5, "instances": [1.0]}'
    )
    assert reply.status == 400
    assert reply.json()["error"].endswith("'signature_name' key must be a string value.")


def test_wrong_leaf_type_is_wrapped_in_row_format(gateway_url: str) -> None:
    reply = post(gateway_url, "/v1/models/default:predict", '{"instances": ["a"]}')
    assert reply.status == 400
    message = reply.json()["error"]
    assert message.startswith(
        "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT:"
    )
    assert "is not of expected type: float" in message


def test_nan_and_infinity_tokens_round_trip(gateway_url: str) -> None:
    reply = post(gateway_url, "/v1/models/default:predict", '{"instances": [NaN, Infinity, -Inf]}')
    assert reply.status == 200, reply.body
    assert b"NaN" in reply.body and b"Infinity" in reply.body
    values = reply.json()["predictions"]
    assert math.isnan(values[0]) and values[1] == math.inf and values[2] == -math.inf


def test_trailing_garbage_and_duplicate_keys_like_rapidjson(gateway_url: str) -> None:
    reply = post(
        gateway_url, "/v1/models/default:predict", '{"instances": [2.0], "instances": [4.0]} junk'
    )
    assert reply.status == 200, reply.body
    assert reply.json() == {"predictions": [3.0]}


def test_tensors_beyond_grpc_default_4_mib(gateway_url: str) -> None:
    # 1.5M floats: a 6 MB request tensor and a 6 MB response, past gRPC's default limit.
    count = 1_500_000
    body = b'{"inputs": [' + b",".join([b"2.0"] * count) + b"]}"
    reply = post(gateway_url, "/v1/models/default:predict", body)
    assert reply.status == 200, reply.body[:200]
    outputs = reply.json()["outputs"]
    assert len(outputs) == count and outputs[0] == 3.0 and outputs[-1] == 3.0
