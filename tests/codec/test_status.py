"""compatibility.md §8: model status and metadata JSON shapes."""

from __future__ import annotations

import orjson

from gateway.codec.tfs.status import model_metadata_to_json, model_status_to_json
from gateway.core import protos


def test_model_status() -> None:
    response = protos.GetModelStatusResponse()
    for version, state in ((124, "END"), (123, "AVAILABLE")):
        status = response.model_version_status.add(
            version=version, state=protos.ModelState.values_by_name[state].number
        )
        status.status.SetInParent()
    assert orjson.loads(model_status_to_json(response)) == {
        "model_version_status": [
            {"version": "124", "state": "END", "status": {"error_code": "OK", "error_message": ""}},
            {
                "version": "123",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            },
        ]
    }


def test_model_metadata() -> None:
    response = protos.GetModelMetadataResponse()
    response.model_spec.name = "default"
    response.model_spec.version.value = 123
    signatures = protos.SignatureDefMap()
    predict = signatures.signature_def["serving_default"]
    predict.method_name = "tensorflow/serving/predict"
    x = predict.inputs["x"]
    x.name, x.dtype = "x:0", 1
    x.tensor_shape.dim.add(size=-1)
    x.tensor_shape.dim.add(size=1)
    predict.outputs["y"].name = "y:0"  # no dtype, no shape
    classify = signatures.signature_def["classify_x_to_y"]
    inputs = classify.inputs["inputs"]
    inputs.name, inputs.dtype = "tf_example:0", 7
    inputs.tensor_shape.unknown_rank = True
    response.metadata["signature_def"].Pack(signatures)
    assert orjson.loads(model_metadata_to_json(response)) == {
        "model_spec": {"name": "default", "signature_name": "", "version": "123"},
        "metadata": {
            "signature_def": {
                "signature_def": {
                    "serving_default": {
                        "inputs": {
                            "x": {
                                "dtype": "DT_FLOAT",
                                "tensor_shape": {
                                    "dim": [{"size": "-1", "name": ""}, {"size": "1", "name": ""}],
                                    "unknown_rank": False,
                                },
                                "name": "x:0",
                            }
                        },
                        "outputs": {"y": {"dtype": "DT_INVALID", "name": "y:0"}},
                        "method_name": "tensorflow/serving/predict",
                        "defaults": {},
                    },
                    "classify_x_to_y": {
                        "inputs": {
                            "inputs": {
                                "dtype": "DT_STRING",
                                "tensor_shape": {"dim": [], "unknown_rank": True},
                                "name": "tf_example:0",
                            }
                        },
                        "outputs": {},
                        "method_name": "",
                        "defaults": {},
                    },
                }
            }
        },
    }
