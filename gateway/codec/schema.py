"""JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) for tensors written as JSON
values, and example values for them; shared by every front's OpenAPI description.

Leaves by dtype, as TF Serving's JSON conversion accepts them (compatibility.md §4.3):

    DT_FLOAT, DT_DOUBLE                    number (integer tokens too)
    DT_INT8, DT_INT16, DT_INT32, DT_UINT8  integer within int32 (the narrow ones are
                                           not range-checked)
    DT_INT64                               integer within int64
    DT_UINT32, DT_UINT64                   integer from 0 to 2^32-1, 2^64-1
    DT_BOOL                                boolean
    DT_STRING                              string, or {"b64": <base64 string>} (§4.4)
    any other dtype                        no JSON form: every value is refused

A tensor is a leaf or nested lists of leaves. A declared shape becomes nested
arrays, a fixed dimension ``minItems`` = ``maxItems``; but shapes are not compared
with what is sent (compatibility.md §4), so every tensor schema also admits any
shape of its dtype (the recursive ``Tensor_<dtype>`` component). A schema is never
stricter than the server.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from gateway.core import protos

__all__ = [
    "B64_OBJECT",
    "ERROR_SCHEMA",
    "any_output_ref",
    "any_tensor_ref",
    "dtype_enum_name",
    "has_json_form",
    "leaf_example",
    "leaf_schema",
    "shaped_example",
    "tensor_components",
    "tensor_schema",
]

Schema = dict[str, Any]

COMPONENTS = "#/components/schemas/"

B64_OBJECT: Schema = {
    "type": "object",
    "description": "Binary data: standard base64, padding optional (compatibility.md §4.4)",
    "properties": {"b64": {"type": "string", "contentEncoding": "base64"}},
    "required": ["b64"],
    "additionalProperties": False,
}

ERROR_SCHEMA: Schema = {
    "type": "object",
    "description": "Every failure: TF Serving's message and HTTP status (compatibility.md §7)",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}

_INT32 = (-(2**31), 2**31 - 1)


def _integer(bounds: tuple[int, int], fmt: str) -> Schema:
    return {"type": "integer", "format": fmt, "minimum": bounds[0], "maximum": bounds[1]}


# dtype enum name -> leaf schema (compatibility.md §4.3).
_LEAVES: dict[str, Schema] = {
    "DT_FLOAT": {"type": "number", "format": "float"},
    "DT_DOUBLE": {"type": "number", "format": "double"},
    "DT_INT32": _integer(_INT32, "int32"),
    "DT_INT16": _integer(_INT32, "int32"),
    "DT_INT8": _integer(_INT32, "int32"),
    "DT_UINT8": _integer(_INT32, "int32"),
    "DT_INT64": _integer((-(2**63), 2**63 - 1), "int64"),
    "DT_UINT32": _integer((0, 2**32 - 1), "uint32"),
    "DT_UINT64": _integer((0, 2**64 - 1), "uint64"),
    "DT_BOOL": {"type": "boolean"},
    "DT_STRING": {"anyOf": [{"type": "string"}, B64_OBJECT]},
}

# dtype enum name -> an example leaf.
_EXAMPLES: dict[str, Any] = {
    "DT_FLOAT": 1.0,
    "DT_DOUBLE": 1.0,
    "DT_BOOL": True,
    "DT_STRING": "a",
}


def dtype_enum_name(dtype: int) -> str:
    """``DT_FLOAT`` for 1; reference dtypes (``DT_FLOAT_REF``) count as their base type."""
    value = protos.DataType.values_by_number.get(dtype)
    name = value.name if value is not None else f"DT_{dtype}"
    return str(name).removesuffix("_REF")


def has_json_form(dtype: int) -> bool:
    return dtype_enum_name(dtype) in _LEAVES


def leaf_schema(dtype: int) -> Schema:
    """One value of the dtype; ``{}`` with a note for dtypes without a JSON form."""
    name = dtype_enum_name(dtype)
    leaf = _LEAVES.get(name)
    if leaf is None:
        return {"description": f"{name} has no JSON form: TF Serving refuses every value"}
    return dict(leaf)


def leaf_example(dtype: int) -> Any:
    name = dtype_enum_name(dtype)
    return _EXAMPLES.get(name, 1)


def _component_name(dtype: int) -> str:
    return "Tensor_" + dtype_enum_name(dtype).removeprefix("DT_").lower()


def any_tensor_ref(dtype: int) -> Schema:
    return {"$ref": COMPONENTS + _component_name(dtype)}


_FLOATS = ("DT_FLOAT", "DT_DOUBLE")
_NON_FINITE = (
    "NaN, Infinity and -Infinity are written as bare tokens (compatibility.md §6.2); "
    "strict JSON parsers refuse them"
)


def any_output_ref(dtype: int) -> Schema:
    """An answer's tensor: floats may also be NaN or infinite (null to strict parsers)."""
    if dtype_enum_name(dtype) in _FLOATS:
        return {"$ref": COMPONENTS + "Output_" + _component_name(dtype)}
    return any_tensor_ref(dtype)


def _recursive(name: str, title: str, leaf: Schema) -> Schema:
    return {
        "title": title,
        "anyOf": [leaf, {"type": "array", "items": {"$ref": COMPONENTS + name}}],
    }


def tensor_components(dtypes: Sequence[int]) -> dict[str, Schema]:
    """The recursive any-shape tensor schemas the refs above point to."""
    out: dict[str, Schema] = {}
    for dtype in dtypes:
        name, enum_name = _component_name(dtype), dtype_enum_name(dtype)
        out[name] = _recursive(name, f"{enum_name} tensor of any shape", leaf_schema(dtype))
        if enum_name in _FLOATS:
            # Any number, or a value of no JSON type: how validators see NaN and ±inf.
            leaf: Schema = {
                "description": f"a number; {_NON_FINITE}",
                "not": {"type": ["string", "boolean", "object", "array"]},
            }
            out["Output_" + name] = _recursive("Output_" + name, f"{enum_name} answer", leaf)
    return out


def _shaped(shape: Sequence[int], leaf: Schema) -> Schema:
    schema = leaf
    for size in reversed(shape):
        schema = {"type": "array", "items": schema}
        if size >= 0:
            schema |= {"minItems": size, "maxItems": size}
    return schema


def shape_text(shape: Sequence[int] | None) -> str:
    return "unknown" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def tensor_schema(dtype: int, shape: Sequence[int] | None) -> Schema:
    """A tensor of the dtype: its declared shape first, then (leniently) any shape."""
    name = dtype_enum_name(dtype)
    if shape is None:
        return {"description": f"{name}, shape unknown", **any_tensor_ref(dtype)}
    return {
        "description": f"{name}, declared shape {shape_text(shape)}; "
        "the server does not compare shapes, so any shape of this dtype is accepted",
        "anyOf": [_shaped(shape, leaf_schema(dtype)), any_tensor_ref(dtype)],
    }


def shaped_example(shape: Sequence[int] | None, leaf: Any) -> Any:
    """A value of the shape (unknown dimensions: 1; unknown rank: a scalar)."""
    value = leaf
    for size in reversed(shape or ()):
        value = [value] * (1 if size < 0 else size)
    return value


def b64_example(data: bytes) -> dict[str, str]:
    return {"b64": base64.b64encode(data).decode("ascii")}
