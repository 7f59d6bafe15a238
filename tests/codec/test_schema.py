"""JSON Schemas of tensors by dtype and shape (gateway.codec.schema), table-driven, checked
with a real JSON Schema 2020-12 validator against values TF Serving accepts and refuses
(compatibility.md §4.3)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from gateway.codec import schema
from gateway.core import protos


def dt(name: str) -> int:
    return int(protos.DataType.values_by_name[name].number)


def validator(root: dict[str, Any], dtypes: list[int]) -> jsonschema.Draft202012Validator:
    """A validator whose ``#/components/schemas/...`` refs resolve to the tensor components."""
    document = {"components": {"schemas": schema.tensor_components(dtypes)}, **root}
    registry = Registry().with_resource("urn:doc", DRAFT202012.create_resource(document))
    return jsonschema.Draft202012Validator({"$ref": "urn:doc#/root"}, registry=registry)


def valid(value_schema: dict[str, Any], dtype: int, value: Any) -> bool:
    return validator({"root": value_schema}, [dtype]).is_valid(value)


LEAVES = [
    # (dtype, accepted leaves, refused leaves)
    ("DT_FLOAT", [1.0, 1, -0.0, 1e38], ["1", True, None, {"b64": "AA=="}]),
    ("DT_DOUBLE", [1.5, 2], ["x", False]),
    ("DT_INT32", [1, -(2**31), 2**31 - 1], [1.5, 2**31, "1", True]),
    ("DT_INT8", [300, -1], [2**31, 0.5]),  # narrow ints are not range-checked
    ("DT_UINT8", [-1, 255], [2**31]),
    ("DT_INT64", [2**63 - 1, -(2**63)], [2**63, 1.5]),
    ("DT_UINT32", [0, 2**32 - 1], [-1, 2**32]),
    ("DT_UINT64", [0, 2**64 - 1], [-1, 2**64]),
    ("DT_BOOL", [True, False], [0, 1, "true"]),
    ("DT_STRING", ["a", "", {"b64": "YQ=="}], [1, {"b64": 1}, {"b64": "YQ==", "x": 1}, None]),
]


@pytest.mark.parametrize(("name", "accepted", "refused"), LEAVES)
def test_leaf_schema_by_dtype(name: str, accepted: list[Any], refused: list[Any]) -> None:
    leaf = schema.leaf_schema(dt(name))
    for value in accepted:
        assert valid(leaf, dt(name), value), value
    for value in refused:
        assert not valid(leaf, dt(name), value), value


def test_reference_dtypes_count_as_their_base_type() -> None:
    assert schema.dtype_enum_name(dt("DT_FLOAT_REF")) == "DT_FLOAT"
    assert schema.has_json_form(dt("DT_FLOAT_REF"))


def test_dtypes_without_json_form_are_described_not_typed() -> None:
    assert not schema.has_json_form(dt("DT_HALF"))
    assert "no JSON form" in schema.leaf_schema(dt("DT_HALF"))["description"]


def test_declared_shape_becomes_nested_arrays_with_fixed_sizes() -> None:
    declared = schema.tensor_schema(dt("DT_FLOAT"), (-1, 2))["anyOf"][0]
    assert declared["type"] == "array" and "minItems" not in declared
    assert declared["items"]["minItems"] == declared["items"]["maxItems"] == 2


@pytest.mark.parametrize(
    "value",
    [[[1.0, 2.0]], [[1.0, 2.0], [3.0, 4.0]], [1.0, 2.0, 3.0], 1.0, [[[1.0]]], []],
)
def test_tensor_schema_admits_any_shape_of_its_dtype(value: Any) -> None:
    # The server does not compare shapes with the signature (compatibility.md §4).
    assert valid(schema.tensor_schema(dt("DT_FLOAT"), (-1, 2)), dt("DT_FLOAT"), value)


@pytest.mark.parametrize("value", [["a"], [[1.0, "b"]], {"x": 1.0}, [[True]]])
def test_tensor_schema_refuses_other_dtypes(value: Any) -> None:
    assert not valid(schema.tensor_schema(dt("DT_FLOAT"), (-1, 2)), dt("DT_FLOAT"), value)


def test_unknown_rank_is_any_tensor() -> None:
    for value in (1.0, [1.0], [[[2.0]]]):
        assert valid(schema.tensor_schema(dt("DT_FLOAT"), None), dt("DT_FLOAT"), value)


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1.0, None])
def test_float_answers_admit_non_finite_tokens(value: Any) -> None:
    ref = schema.any_output_ref(dt("DT_FLOAT"))
    assert valid(ref, dt("DT_FLOAT"), [value])
    assert not valid(ref, dt("DT_FLOAT"), ["x"])


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((-1, 2), [[1.0, 1.0]]), ((3,), [1.0, 1.0, 1.0]), ((), 1.0), (None, 1.0), ((-1,), [1.0])],
)
def test_shaped_example(shape: tuple[int, ...] | None, expected: Any) -> None:
    assert schema.shaped_example(shape, 1.0) == expected
