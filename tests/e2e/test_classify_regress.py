"""Classify and regress end to end on the half_plus_two test models (spec 5, 6.3)."""

from __future__ import annotations

import pytest

from tests.http import post

CASES = [
    # (path, body, expected JSON)
    (
        "/v1/models/default:classify",
        {"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]},
        {"results": [[["", 3.0]]]},
    ),
    (
        "/v1/models/default:regress",
        {"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}, {"x": 4.0}]},
        {"results": [3.0, 4.0]},
    ),
    (
        "/v1/models/default:regress",
        {"signature_name": "regress_x_to_y2", "examples": [{"x": 2.0}]},
        {"results": [4.0]},
    ),
    # Context features are merged into every example; the example's own value wins.
    (
        "/v1/models/default:regress",
        {"signature_name": "regress_x_to_y", "context": {"x": 2.0}, "examples": [{}, {"x": 4.0}]},
        {"results": [3.0, 4.0]},
    ),
    (
        "/v1/models/saved_model_half_plus_two_2_versions/versions/123:regress",
        {"signature_name": "regress_x_to_y", "examples": [{"x": [2.0]}]},
        {"results": [3.0]},
    ),
    (
        "/model-serving/dep-default:classify",
        {"signature_name": "classify_x_to_y", "examples": [{"x": 1.0}]},
        {"results": [[["", 2.5]]]},
    ),
    (
        "/model-serving/dep-default/versions/123:regress",
        {"signature_name": "regress_x_to_y", "examples": [{"x": 1.0}]},
        {"results": [2.5]},
    ),
    # TF2 signatures have the predict method name; the check is off, as in TF Serving.
    (
        "/v1/models/half_plus_two_tf2:regress",
        {"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]},
        {"results": [3.0]},
    ),
    (
        "/v1/models/half_plus_two_tf2:classify",
        {"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]},
        {"results": [[["", 3.0]]]},
    ),
]


@pytest.mark.parametrize(("path", "body", "expected"), CASES)
def test_classify_and_regress(
    gateway_url: str, path: str, body: dict[str, object], expected: object
) -> None:
    reply = post(gateway_url, path, body)
    assert reply.status == 200, reply.body
    assert reply.json() == expected


ERRORS = [
    # (path, raw body, status, message or prefix)
    (
        "/v1/models/default:regress",
        '{"signature_name": "regress_x_to_y"}',
        400,
        "When method is classify, key 'examples' is expected and was not found",
    ),
    # Example conversion happens before the model lookup (spec 2.5).
    (
        "/v1/models/nope:classify",
        '{"examples": [1]}',
        400,
        "Example must be JSON object but got JSON Number",
    ),
    (
        "/v1/models/nope:classify",
        '{"examples": [{"x": 2.0}]}',
        404,
        "Servable not found for request: Latest(nope)",
    ),
    (
        "/v1/models/default:classify",
        '{"signature_name": "nope", "examples": [{"x": 2.0}]}',
        400,
        "No signature was found with the name: nope",
    ),
    (
        "/v1/models/default:classify",
        '{"examples": [{"x": 2.0}]}',
        400,
        "No classification inputs found in SignatureDef",
    ),
    (
        "/v1/models/default:regress",
        '{"examples": [{"x": 2.0}]}',
        400,
        "No regression inputs found in SignatureDef",
    ),
    (
        "/v1/models/default:regress",
        '{"signature_name": "regress_x_to_y", "examples": [{"x": [10, 10.0]}]}',
        400,
        "Unexpected element type in feature: x expecting type: int64",
    ),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), ERRORS)
def test_classify_regress_errors(
    gateway_url: str, path: str, body: str, status: int, message: str
) -> None:
    reply = post(gateway_url, path, body)
    assert reply.status == status, reply.body
    assert message in reply.json()["error"]


def test_integer_feature_pitfall_reaches_tensorflow(gateway_url: str) -> None:
    # {"x": 2} is an int64 feature; the model parses floats, so TensorFlow refuses it.
    reply = post(
        gateway_url,
        "/v1/models/default:regress",
        {"signature_name": "regress_x_to_y", "examples": [{"x": 2}]},
    )
    assert reply.status == 400, reply.body
    assert "Data types don't match" in reply.json()["error"]
