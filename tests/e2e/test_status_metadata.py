"""Model status and metadata end to end, in TF Serving's JSON shapes (compatibility.md §8)."""

from __future__ import annotations

import pytest

from tests.http import get

AVAILABLE_123 = {
    "model_version_status": [
        {
            "version": "123",
            "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""},
        }
    ]
}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/models/default",
        "/v1/models/default/versions/123",
        # The status API ignores labels, even unknown ones.
        "/v1/models/default/labels/anything",
        "/v1/models/default/METADATA",
        "/model-serving/dep-default",
        "/model-serving/dep-default/versions/123",
    ],
)
def test_status(gateway_url: str, path: str) -> None:
    reply = get(gateway_url, path)
    assert reply.status == 200, reply.body
    assert reply.json() == AVAILABLE_123


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/v1/models/nope", 404, "Could not find any versions of model nope"),
        ("/v1/models/default/versions/999", 404, "Could not find version 999 of model default"),
        ("/v1/models/nope/metadata", 404, "Servable not found for request: Latest(nope)"),
        (
            "/v1/models/saved_model_half_plus_two_2_versions/labels/nope/metadata",
            400,
            "Unrecognized servable version label: nope",
        ),
        ("/v1/models", 200, None),
        ("/v1/models/default/", 400, "Malformed request: GET /v1/models/default/"),
        ("/v1/models/default:predict", 400, "Malformed request: GET /v1/models/default:predict"),
    ],
)
def test_status_and_metadata_errors(
    gateway_url: str, path: str, status: int, message: str | None
) -> None:
    reply = get(gateway_url, path)
    assert reply.status == status, reply.body
    if message is not None:
        assert reply.json() == {"error": message}


def _dim(size: int) -> dict[str, str]:
    return {"size": str(size), "name": ""}


def test_metadata_shape(gateway_url: str) -> None:
    reply = get(gateway_url, "/v1/models/default/metadata")
    assert reply.status == 200, reply.body
    doc = reply.json()
    assert doc["model_spec"] == {"name": "default", "signature_name": "", "version": "123"}
    sigs = doc["metadata"]["signature_def"]["signature_def"]
    assert set(sigs) >= {"serving_default", "classify_x_to_y", "regress_x_to_y", "regress_x_to_y2"}
    assert sigs["serving_default"] == {
        "inputs": {
            "x": {
                "dtype": "DT_FLOAT",
                "tensor_shape": {"dim": [_dim(-1), _dim(1)], "unknown_rank": False},
                "name": "x:0",
            }
        },
        "outputs": {
            "y": {
                "dtype": "DT_FLOAT",
                "tensor_shape": {"dim": [_dim(-1), _dim(1)], "unknown_rank": False},
                "name": "y:0",
            }
        },
        "method_name": "tensorflow/serving/predict",
        "defaults": {},
    }
    classify_input = sigs["classify_x_to_y"]["inputs"]["inputs"]
    assert classify_input == {
        "dtype": "DT_STRING",
        "tensor_shape": {"dim": [], "unknown_rank": True},
        "name": "tf_example:0",
    }


def test_metadata_resolves_label_to_version(gateway_url: str) -> None:
    reply = get(
        gateway_url, "/v1/models/saved_model_half_plus_two_2_versions/labels/Version_Label/metadata"
    )
    assert reply.status == 200, reply.body
    assert reply.json()["model_spec"] == {
        "name": "saved_model_half_plus_two_2_versions",
        "signature_name": "",
        "version": "123",
    }


def test_metadata_without_tensor_shape(gateway_url: str) -> None:
    reply = get(gateway_url, "/v1/models/saved_model_half_plus_three/metadata")
    assert reply.status == 200, reply.body
    x = reply.json()["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]["x"]
    assert x == {"dtype": "DT_FLOAT", "name": "x:0"}


def test_metadata_through_paperspace_form(gateway_url: str) -> None:
    reply = get(gateway_url, "/model-serving/dep-tf2/metadata")
    assert reply.status == 200, reply.body
    sigs = reply.json()["metadata"]["signature_def"]["signature_def"]
    assert "__saved_model_init_op" in sigs
