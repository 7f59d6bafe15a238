"""TF Serving's request and answer schemas and example bodies for a model's signatures
(gateway.codec.tfs.openapi): bodies TF Serving accepts validate, examples validate against
their own schemas, classify/regress are offered where a signature fits (compatibility.md
§§4-6). The end-to-end tests post the examples to a real gateway."""

from __future__ import annotations

import base64
from typing import Any

import jsonschema
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from gateway.codec.tfs import openapi
from gateway.core import protos
from gateway.core.signatures import SignatureSpec, TensorSpec

F, D, S, I64, B = 1, 2, 7, 9, 10
PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"


def sig(name: str, method: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> SignatureSpec:
    def specs(table: dict[str, Any]) -> dict[str, TensorSpec]:
        return {alias: TensorSpec(dtype, shape) for alias, (dtype, shape) in table.items()}

    return SignatureSpec(name, method, specs(inputs), specs(outputs))


# Shaped like the test and demo models.
HALF_PLUS_TWO = {
    s.name: s
    for s in (
        sig("serving_default", PREDICT, {"x": (F, (-1, 1))}, {"y": (F, (-1, 1))}),
        sig("classify_x_to_y", CLASSIFY, {"inputs": (S, None)}, {"scores": (F, (-1, 1))}),
        sig("regress_x_to_y", REGRESS, {"inputs": (S, None)}, {"outputs": (F, (-1, 1))}),
        sig("regress_x2_to_y3", REGRESS, {"inputs": (F, (-1, 1))}, {"outputs": (F, (-1, 1))}),
    )
}
TWO_INPUTS = {
    "serving_default": sig(
        "serving_default", PREDICT, {"a": (F, (-1, 2)), "b": (I64, (-1,))}, {"y": (F, (-1,))}
    ),
}
COUNTER = {
    "get_counter": sig("get_counter", PREDICT, {}, {"output": (F, ())}),
    "incr_counter_by": sig("incr_counter_by", PREDICT, {"delta": (F, None)}, {"output": (F, ())}),
}
MNIST_LIKE = {
    "serving_default": sig(
        "serving_default", PREDICT, {"images": (F, (-1, 4))}, {"scores": (F, (-1, 3))}
    ),
    "classify": sig(
        "classify",
        CLASSIFY,
        {"inputs": (S, (-1,))},
        {"classes": (S, (-1, 3)), "scores": (F, (-1, 3))},
    ),
}


def validator(schema: dict[str, Any], sigs: dict[str, SignatureSpec]) -> jsonschema.Validator:
    document = {"components": {"schemas": openapi.tensor_schemas_for(sigs)}, "root": schema}
    registry = Registry().with_resource("urn:doc", DRAFT202012.create_resource(document))
    return jsonschema.Draft202012Validator({"$ref": "urn:doc#/root"}, registry=registry)


ACCEPTED = [
    # Bodies TF Serving accepts for half_plus_two's serving_default (x: DT_FLOAT [-1, 1]).
    {"instances": [[1.0], [2.0]]},
    {"instances": [1.0, 2.0, 5.0]},  # a batch of scalars (compatibility.md §4)
    {"instances": [{"x": [1.0]}]},  # named mode with one input (§4.1)
    {"instances": [[1]]},  # integer tokens for a float input (§4.3)
    {"inputs": [[1.0]]},
    {"inputs": 1.0},  # a bare value feeds the only input (§4.2)
    {"inputs": {"x": [[1.0]], "ignored": "anything"}},  # other keys are ignored (§4.2)
    {"inputs": []},  # an empty list is allowed in columnar format
    {"signature_name": "", "instances": [[1.0]]},
    {"signature_name": "serving_default", "instances": [[1.0]], "output_filter": ["y"]},
    {"signature_name": "regress_x2_to_y3", "instances": [[1.0]]},
    {"signature_name": "classify_x_to_y", "instances": [{"b64": "AA=="}]},
]
REFUSED = [
    {"instances": []},
    {"instances": [[1.0]], "inputs": [[1.0]]},
    {"instances": [["a"]]},
    {"instances": [{"y": [1.0]}]},
    {"signature_name": 1, "instances": [[1.0]]},
    {"signature_name": "nope", "instances": [[1.0]]},
    {"other": 1},
]


@pytest.mark.parametrize("body", ACCEPTED)
def test_predict_schema_accepts_what_tf_serving_accepts(body: dict[str, Any]) -> None:
    schema = openapi.predict_request_schema(HALF_PLUS_TWO)
    assert validator(schema, HALF_PLUS_TWO).is_valid(body)


@pytest.mark.parametrize("body", REFUSED)
def test_predict_schema_refuses_what_tf_serving_refuses(body: dict[str, Any]) -> None:
    schema = openapi.predict_request_schema(HALF_PLUS_TWO)
    assert not validator(schema, HALF_PLUS_TWO).is_valid(body)


def test_several_inputs_need_named_rows_with_exactly_the_inputs() -> None:
    check = validator(openapi.predict_request_schema(TWO_INPUTS), TWO_INPUTS)
    assert check.is_valid({"instances": [{"a": [1.0, 2.0], "b": 3}]})
    assert check.is_valid({"inputs": {"a": [[1.0, 2.0]], "b": [3], "extra": 1}})
    assert not check.is_valid({"instances": [[1.0, 2.0]]})
    assert not check.is_valid({"instances": [{"a": [1.0, 2.0], "b": 3, "c": 1}]})
    assert not check.is_valid({"instances": [{"a": [1.0, 2.0]}]})


@pytest.mark.parametrize("sigs", [HALF_PLUS_TWO, TWO_INPUTS, COUNTER, MNIST_LIKE])
def test_examples_validate_against_their_schema(sigs: dict[str, SignatureSpec]) -> None:
    check = validator(openapi.predict_request_schema(sigs), sigs)
    for name, body in openapi.predict_request_examples(sigs).items():
        assert check.is_valid(body), name
    for verb in openapi.EXAMPLE_VERBS:
        examples_check = validator(openapi.examples_request_schema(sigs, verb), sigs)
        for name, body in openapi.examples_request_examples(sigs, verb).items():
            assert examples_check.is_valid(body), (verb, name)


def test_predict_examples_for_half_plus_two() -> None:
    examples = openapi.predict_request_examples(HALF_PLUS_TWO)
    assert next(iter(examples)) == "serving_default (row)"  # the console's first choice
    assert examples["serving_default (row)"] == {"instances": [[1.0]]}
    assert examples["serving_default (columnar)"] == {"inputs": [[1.0]]}
    assert examples["regress_x2_to_y3 (row)"]["signature_name"] == "regress_x2_to_y3"
    packed = examples["classify_x_to_y (row)"]["instances"][0]["b64"]
    example = protos.Example.FromString(base64.b64decode(packed))
    assert list(example.features.feature["x"].float_list.value) == [1.5]
    # Unknown rank: a batch of one in columnar format.
    assert examples["classify_x_to_y (columnar)"]["inputs"] == [{"b64": packed}]


def test_unbatched_models_get_scalars_and_no_row_example() -> None:
    # A scalar output cannot be written in row format (compatibility.md §6.1).
    examples = openapi.predict_request_examples(COUNTER)
    assert examples == {
        "incr_counter_by (columnar)": {"signature_name": "incr_counter_by", "inputs": 1.0}
    }


def test_classify_and_regress_are_offered_where_a_signature_fits() -> None:
    fits = {
        verb: sorted(n for n, s in HALF_PLUS_TWO.items() if openapi.example_capable(s, verb))
        for verb in openapi.EXAMPLE_VERBS
    }
    assert fits == {"classify": ["classify_x_to_y"], "regress": ["regress_x_to_y"]}
    assert openapi.examples_request_examples(HALF_PLUS_TWO, "classify") == {
        "classify_x_to_y": {"signature_name": "classify_x_to_y", "examples": [{"x": 1.5}]}
    }
    assert openapi.examples_request_examples(MNIST_LIKE, "classify")["classify"]["examples"] == [
        {"images": [1.5] * 4}
    ]
    assert not any(openapi.example_capable(s, "regress") for s in MNIST_LIKE.values())


def test_examples_schema_requires_a_signature_name_unless_the_default_fits() -> None:
    schema = openapi.examples_request_schema(HALF_PLUS_TWO, "regress")
    assert schema["required"] == ["signature_name", "examples"]
    check = validator(schema, HALF_PLUS_TWO)
    body = {"signature_name": "regress_x_to_y", "context": {"x": 1.5}, "examples": [{}]}
    assert check.is_valid(body)
    assert not check.is_valid({"examples": [{"x": 1.5}]})
    assert not check.is_valid({"signature_name": "regress_x_to_y", "examples": []})


def test_answers_validate() -> None:
    check = validator(openapi.predict_response_schema(MNIST_LIKE), MNIST_LIKE)
    assert check.is_valid({"predictions": [[0.1, 0.2, 0.7]]})
    assert check.is_valid({"outputs": [[0.1, float("nan"), 0.7]]})
    classify = validator(openapi.examples_response_schema("classify"), MNIST_LIKE)
    assert classify.is_valid({"results": [[["0", 0.5], ["1", 0.5]]]})
    assert not classify.is_valid({"results": [[["0"]]]})
