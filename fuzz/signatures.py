"""The signatures the predict fuzzer converts against: one single-input signature
per dtype (accepted as JSON or not), named inputs of mixed dtypes, fixed and
unknown dimensions. They go through the same metadata reader as a real
ModelServer's answer (``signatures_from_metadata``)."""

from __future__ import annotations

from typing import Any

from gateway.core import protos
from gateway.core.signatures import DEFAULT_SIGNATURE, ModelSignatures, signatures_from_metadata

UNKNOWN = -1

# name -> {alias: (dtype enum name, dims)}; dims of -1 are unknown, as in a SavedModel.
SPREAD: dict[str, dict[str, tuple[str, tuple[int, ...]]]] = {
    "float": {"x": ("DT_FLOAT", (UNKNOWN,))},
    "double": {"x": ("DT_DOUBLE", (UNKNOWN, 2))},
    "int32": {"x": ("DT_INT32", (UNKNOWN, UNKNOWN))},
    "uint8": {"x": ("DT_UINT8", (UNKNOWN, 28, 28))},
    "int16": {"x": ("DT_INT16", ())},
    "int8": {"x": ("DT_INT8", (UNKNOWN,))},
    "string": {"x": ("DT_STRING", (UNKNOWN,))},
    "int64": {"x": ("DT_INT64", (1,))},
    "bool": {"x": ("DT_BOOL", (UNKNOWN, 3))},
    "uint32": {"x": ("DT_UINT32", (UNKNOWN,))},
    "uint64": {"x": ("DT_UINT64", (UNKNOWN,))},
    "half": {"x": ("DT_HALF", (UNKNOWN,))},
    "uint16": {"x": ("DT_UINT16", (UNKNOWN,))},
    "bfloat16": {"x": ("DT_BFLOAT16", (UNKNOWN,))},
    "complex64": {"x": ("DT_COMPLEX64", (UNKNOWN,))},
    "variant": {"x": ("DT_VARIANT", ())},
    "image_bytes": {"image_bytes": ("DT_STRING", (UNKNOWN,))},
    "pair": {"a": ("DT_INT32", (UNKNOWN, 2)), "b": ("DT_STRING", (UNKNOWN,))},
    "mixed": {
        "f": ("DT_FLOAT", (UNKNOWN, 2)),
        "flag": ("DT_BOOL", (UNKNOWN,)),
        "id": ("DT_INT64", (UNKNOWN,)),
        "s": ("DT_STRING", ()),
    },
    "unicode": {"é x": ("DT_DOUBLE", (UNKNOWN,)), "ü": ("DT_UINT8", (UNKNOWN,))},
    "empty": {},
}


def signature_def_map(spread: dict[str, dict[str, tuple[str, tuple[int, ...]]]]) -> Any:
    sigmap = protos.SignatureDefMap()
    for name, inputs in spread.items():
        sig = sigmap.signature_def[name]
        sig.method_name = "tensorflow/serving/predict"
        for alias, (dtype, dims) in inputs.items():
            info = sig.inputs[alias]
            info.name = f"{alias}:0"
            info.dtype = protos.DataType.values_by_name[dtype].number
            for size in dims:
                info.tensor_shape.dim.add(size=size)
        sig.outputs["y"].name = "y:0"
        sig.outputs["y"].dtype = protos.DataType.values_by_name["DT_FLOAT"].number
    return sigmap


def model_signatures(default: str) -> ModelSignatures:
    """Every signature of the spread, with ``default`` also as serving_default."""
    spread = {**SPREAD, DEFAULT_SIGNATURE: SPREAD[default]}
    response = protos.GetModelMetadataResponse()
    response.model_spec.name = "fuzz"
    response.model_spec.version.value = 1
    response.metadata["signature_def"].Pack(signature_def_map(spread))
    return signatures_from_metadata(response, 0.0)


NAMES = tuple(SPREAD)
MODELS = tuple(model_signatures(name) for name in NAMES)
