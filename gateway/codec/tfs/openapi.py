"""JSON Schemas and example bodies of TF Serving's REST JSON for one model, from its
signatures (the schemas of compatibility.md §§4-8, written for OpenAPI 3.1).

Predict request, one alternative per signature that has inputs::

    row       {"signature_name"?: S, "instances": [<item>, ...]}   (§4.1)
              item: the input's value (one input), or {alias: value, ...} with every alias
    columnar  {"signature_name"?: S, "inputs": <value> | {alias: value, ...}}   (§4.2)

``signature_name`` may be left out (or "") for ``serving_default``. A row item drops the
first (batch) dimension of the declared shape. Classify and regress (§5)::

    {"signature_name"?: S, "context"?: {feature: value(s)}, "examples": [{feature: value(s)}]}

offered for signatures that fit the call: one input ``inputs`` of DT_STRING (serialized
Examples) and ``classes``/``scores`` outputs (classify) or one ``outputs`` output (regress).

Schemas are never stricter than the server: keys nobody asked for are allowed, shapes
admit any shape (see gateway.codec.schema). Examples are built to succeed: unknown
dimensions are 1, and the features of an Example take the names, dtypes and sizes of
the model's plain predict inputs (a signature does not name the features its parser
reads; that guess is the usual TF Serving convention, e.g. half_plus_two's ``x``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.codec.schema import (
    B64_OBJECT,
    Schema,
    any_output_ref,
    any_tensor_ref,
    b64_example,
    dtype_enum_name,
    has_json_form,
    leaf_example,
    shaped_example,
    tensor_components,
    tensor_schema,
)
from gateway.core import protos
from gateway.core.signatures import DEFAULT_SIGNATURE, SignatureSpec, TensorSpec

__all__ = [
    "EXAMPLE_VERBS",
    "METADATA_SCHEMA",
    "STATUS_SCHEMA",
    "example_capable",
    "examples_request_examples",
    "examples_request_schema",
    "examples_response_schema",
    "predict_request_examples",
    "predict_request_schema",
    "predict_response_schema",
    "tensor_schemas_for",
]

Signatures = Mapping[str, SignatureSpec]
EXAMPLE_VERBS = ("classify", "regress")
EXAMPLES_INPUT = "inputs"
DT_STRING = 7

# --- predict -------------------------------------------------------------------------


def predictable(sig: SignatureSpec) -> bool:
    """Predict needs an input map (compatibility.md §2, step 3)."""
    return bool(sig.inputs)


def _signature_name_schema(name: str) -> tuple[Schema, list[str]]:
    """(property schema, required keys) selecting this signature."""
    if name == DEFAULT_SIGNATURE:
        return {"type": "string", "enum": [DEFAULT_SIGNATURE, ""]}, []
    return {"type": "string", "const": name}, ["signature_name"]


def _row_element(spec: TensorSpec) -> Schema:
    """A row item for one input: the declared shape without its batch dimension."""
    shape = None if spec.shape is None or not spec.shape else spec.shape[1:]
    return tensor_schema(spec.dtype, shape) if shape is not None else any_tensor_ref(spec.dtype)


def _named(inputs: Mapping[str, Schema], closed: bool) -> Schema:
    schema: Schema = {"type": "object", "properties": dict(inputs), "required": sorted(inputs)}
    if closed:
        schema["additionalProperties"] = False
    return schema


def _row_item(sig: SignatureSpec) -> Schema:
    # Named mode must carry exactly the input names (compatibility.md §4.1).
    named = _named({a: _row_element(s) for a, s in sig.inputs.items()}, closed=True)
    if len(sig.inputs) > 1:
        return named
    (spec,) = sig.inputs.values()
    return {"anyOf": [_row_element(spec), named]}


def _columnar_inputs(sig: SignatureSpec) -> Schema:
    # Keys that are not inputs are ignored here (compatibility.md §4.2).
    named = _named({a: tensor_schema(s.dtype, s.shape) for a, s in sig.inputs.items()}, False)
    if len(sig.inputs) > 1:
        return named
    (spec,) = sig.inputs.values()
    return {"anyOf": [tensor_schema(spec.dtype, spec.shape), named]}


def _predict_alternatives(sig: SignatureSpec) -> list[Schema]:
    name_schema, required = _signature_name_schema(sig.name)
    row = {
        "title": f"{sig.name}, row format",
        "type": "object",
        "properties": {
            "signature_name": name_schema,
            "instances": {"type": "array", "minItems": 1, "items": _row_item(sig)},
        },
        "required": [*required, "instances"],
        "not": {"required": ["inputs"]},
    }
    columnar = {
        "title": f"{sig.name}, columnar format",
        "type": "object",
        "properties": {"signature_name": name_schema, "inputs": _columnar_inputs(sig)},
        "required": [*required, "inputs"],
        "not": {"required": ["instances"]},
    }
    return [row, columnar]


def predict_request_schema(sigs: Signatures) -> Schema:
    """Any signature's row or columnar body (compatibility.md §4)."""
    alternatives = [
        alt for sig in sigs.values() if predictable(sig) for alt in _predict_alternatives(sig)
    ]
    return {"anyOf": alternatives} if alternatives else {"type": "object"}


def _output_item(spec: TensorSpec, alias: str) -> Schema:
    if dtype_enum_name(spec.dtype) == "DT_STRING" and alias.endswith("_bytes"):
        return B64_OBJECT  # compatibility.md §6.2
    return any_output_ref(spec.dtype)


def _predict_response(sig: SignatureSpec) -> list[Schema]:
    outputs = {alias: _output_item(spec, alias) for alias, spec in sig.outputs.items()}
    if len(outputs) == 1:
        (item,) = outputs.values()
        row_item, columnar = item, item
    else:
        row_item = {"type": "object", "properties": outputs}
        columnar = {"type": "object", "properties": outputs}
    return [
        {
            "title": f"{sig.name}, row format",
            "type": "object",
            "properties": {"predictions": {"type": "array", "items": row_item}},
            "required": ["predictions"],
        },
        {
            "title": f"{sig.name}, columnar format",
            "type": "object",
            "properties": {"outputs": columnar},
            "required": ["outputs"],
        },
    ]


def predict_response_schema(sigs: Signatures) -> Schema:
    """``{"predictions": [...]}`` or ``{"outputs": ...}`` (compatibility.md §6.1)."""
    alternatives = [
        alt for sig in sigs.values() if predictable(sig) for alt in _predict_response(sig)
    ]
    return {"anyOf": alternatives} if alternatives else {"type": "object"}


def tensor_schemas_for(sigs: Signatures) -> dict[str, Schema]:
    """The any-shape tensor components that the schemas above refer to."""
    dtypes = {
        spec.dtype
        for sig in sigs.values()
        if predictable(sig)
        for spec in (*sig.inputs.values(), *sig.outputs.values())
    }
    return tensor_components(sorted(dtypes))


# --- examples ------------------------------------------------------------------------


def default_first(sigs: Signatures) -> list[SignatureSpec]:
    return sorted(sigs.values(), key=lambda s: (s.name != DEFAULT_SIGNATURE, s.name))


def _guess_features(sigs: Signatures) -> dict[str, Any]:
    """Features for example requests: the plain (non-string) inputs of a predict
    signature, serving_default first; values sized like one batch item."""
    for sig in default_first(sigs):
        specs = sig.inputs.values()
        if specs and all(has_json_form(s.dtype) and s.dtype != DT_STRING for s in specs):
            return {alias: _feature_value(spec) for alias, spec in sig.inputs.items()}
    return {}


# A float feature needs a decimal token (compatibility.md §5); 1.5 stays one after a
# JavaScript round trip (Swagger UI, the console), where 1.0 would become the integer 1.
FLOAT_FEATURE = 1.5


def _feature_value(spec: TensorSpec) -> Any:
    count = 1
    for size in (spec.shape or (1,))[1:]:
        count *= max(size, 1)
    leaf = leaf_example(spec.dtype)
    if isinstance(leaf, float):
        leaf = FLOAT_FEATURE
    return leaf if count == 1 else [leaf] * count


def _serialized_example(features: Mapping[str, Any]) -> bytes:
    example = protos.Example()
    for name, value in features.items():
        values = value if isinstance(value, list) else [value]
        feature = example.features.feature[name]
        if any(isinstance(v, float) for v in values):
            feature.float_list.value.extend(values)
        else:
            feature.int64_list.value.extend(int(v) for v in values)
    data: bytes = example.SerializeToString()
    return data


def _example_based(sig: SignatureSpec) -> bool:
    spec = sig.inputs.get(EXAMPLES_INPUT)
    return len(sig.inputs) == 1 and spec is not None and spec.dtype == DT_STRING


def _input_leaf(sig: SignatureSpec, spec: TensorSpec, features: Mapping[str, Any]) -> Any:
    if _example_based(sig):
        return b64_example(_serialized_example(features))
    return leaf_example(spec.dtype)


def _has_rank0_output(sig: SignatureSpec) -> bool:
    # Row answers need a batch dimension on every output (compatibility.md §6.1).
    return any(spec.shape == () for spec in sig.outputs.values())


def _exampleable(sig: SignatureSpec) -> bool:
    return predictable(sig) and all(has_json_form(s.dtype) for s in sig.inputs.values())


def _with_name(sig: SignatureSpec, body: dict[str, Any]) -> dict[str, Any]:
    return body if sig.name == DEFAULT_SIGNATURE else {"signature_name": sig.name, **body}


def _row_example(sig: SignatureSpec, features: Mapping[str, Any]) -> dict[str, Any]:
    item = {
        alias: shaped_example(
            None if spec.shape is None else spec.shape[1:], _input_leaf(sig, spec, features)
        )
        for alias, spec in sig.inputs.items()
    }
    value = next(iter(item.values())) if len(item) == 1 else item
    return _with_name(sig, {"instances": [value]})


def _columnar_shape(sig: SignatureSpec, spec: TensorSpec) -> tuple[int, ...]:
    """The declared shape; for an unknown rank a batch of one, unless an output is a
    scalar (then the model is evidently not batched)."""
    if spec.shape is not None:
        return spec.shape
    return () if _has_rank0_output(sig) else (1,)


def _columnar_example(sig: SignatureSpec, features: Mapping[str, Any]) -> dict[str, Any]:
    inputs = {
        alias: shaped_example(_columnar_shape(sig, spec), _input_leaf(sig, spec, features))
        for alias, spec in sig.inputs.items()
    }
    value = next(iter(inputs.values())) if len(inputs) == 1 else inputs
    return _with_name(sig, {"inputs": value})


def predict_request_examples(sigs: Signatures) -> dict[str, dict[str, Any]]:
    """``"<signature> (row)"`` / ``"<signature> (columnar)"`` -> a body that succeeds."""
    features = _guess_features(sigs)
    out: dict[str, dict[str, Any]] = {}
    for sig in default_first(sigs):
        if not _exampleable(sig):
            continue
        if sig.inputs and not _has_rank0_output(sig):
            out[f"{sig.name} (row)"] = _row_example(sig, features)
        out[f"{sig.name} (columnar)"] = _columnar_example(sig, features)
    return out


# --- classify and regress ---------------------------------------------------------------

_EXPECTED_OUTPUTS = {"classify": ("classes", "scores"), "regress": ("outputs",)}


def example_capable(sig: SignatureSpec, verb: str) -> bool:
    """Whether the signature can answer classify or regress (compatibility.md §5): one
    DT_STRING input named ``inputs``, and the outputs the call reads."""
    if not _example_based(sig):
        return False
    wanted = _EXPECTED_OUTPUTS[verb]
    if verb == "regress":
        return set(sig.outputs) == set(wanted)
    return 1 <= len(sig.outputs) <= 2 and any(o in sig.outputs for o in wanted)


_FEATURE_LEAF: Schema = {
    "anyOf": [{"type": "number"}, {"type": "boolean"}, {"type": "string"}, B64_OBJECT]
}
FEATURES_SCHEMA: Schema = {
    "type": "object",
    "description": "feature name -> a value or a list of values: decimals make a float "
    "feature, integers and booleans an int64 one, strings and b64 objects bytes",
    "additionalProperties": {"anyOf": [_FEATURE_LEAF, {"type": "array", "items": _FEATURE_LEAF}]},
}


def examples_request_schema(sigs: Signatures, verb: str) -> Schema:
    capable = sorted(name for name, sig in sigs.items() if example_capable(sig, verb))
    names: list[Any] = capable + ([""] if DEFAULT_SIGNATURE in capable else [])
    schema: Schema = {
        "type": "object",
        "properties": {
            "signature_name": {"type": "string", "enum": names},
            "context": FEATURES_SCHEMA,
            "examples": {"type": "array", "minItems": 1, "items": FEATURES_SCHEMA},
        },
        "required": ["examples"]
        if DEFAULT_SIGNATURE in capable
        else ["signature_name", "examples"],
    }
    return schema


def examples_request_examples(sigs: Signatures, verb: str) -> dict[str, dict[str, Any]]:
    features = _guess_features(sigs)
    return {
        sig.name: _with_name(sig, {"examples": [features]})
        for sig in default_first(sigs)
        if example_capable(sig, verb)
    }


_RESULTS: dict[str, Schema] = {
    "classify": {
        "type": "array",
        "description": "per example, its [label, score] pairs",
        "items": {
            "type": "array",
            "items": {
                "type": "array",
                "description": "[label, score]",
                "items": {"not": {"type": ["boolean", "object", "array"]}},
                "minItems": 2,
                "maxItems": 2,
            },
        },
    },
    "regress": {
        "type": "array",
        "items": {"not": {"type": ["string", "boolean", "object", "array"]}},
    },
}


def examples_response_schema(verb: str) -> Schema:
    """``{"results": ...}`` (compatibility.md §6.3)."""
    return {"type": "object", "properties": {"results": _RESULTS[verb]}, "required": ["results"]}


# --- status and metadata ------------------------------------------------------------

STATUS_SCHEMA: Schema = {
    "type": "object",
    "description": "compatibility.md §8.1",
    "properties": {
        "model_version_status": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "version": {"type": "string"},
                    "state": {
                        "type": "string",
                        "enum": ["UNKNOWN", "START", "LOADING", "AVAILABLE", "UNLOADING", "END"],
                    },
                    "status": {
                        "type": "object",
                        "properties": {
                            "error_code": {"type": "string"},
                            "error_message": {"type": "string"},
                        },
                    },
                },
                "required": ["version", "state"],
            },
        }
    },
    "required": ["model_version_status"],
}

METADATA_SCHEMA: Schema = {
    "type": "object",
    "description": "compatibility.md §8.2",
    "properties": {
        "model_spec": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "signature_name": {"type": "string"},
                "version": {"type": "string"},
            },
        },
        "metadata": {
            "type": "object",
            "properties": {
                "signature_def": {
                    "type": "object",
                    "properties": {"signature_def": {"type": "object"}},
                }
            },
        },
    },
    "required": ["model_spec", "metadata"],
}
