"""Predict requests and responses (compatibility.md §§2, 4, 6.1, 6.2).

Request::

    {"signature_name": <string, optional>, "instances": <non-empty list>}   row format
    {"signature_name": <string, optional>, "inputs": <any>}                 columnar format

Response: ``{"predictions": [...]}`` (row) or ``{"outputs": ...}`` (columnar);
a single output is unwrapped, several outputs become objects keyed by alias.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from gateway.codec.jsonparse import echo, loads, may_have_bools
from gateway.codec.tensor import (
    DType,
    JsonTensor,
    dtype_of,
    is_b64_object,
    shape_text,
    tensor_from_json,
    tensor_items_json,
    tensor_json,
    tensor_to_ndarray,
)
from gateway.codec.tfs.dense import DenseBody, dense_body_from_json, dense_inputs_from_json
from gateway.core.errors import GatewayError, invalid_argument

__all__ = [
    "PredictBody",
    "predict_body_from_json",
    "predict_inputs_from_json",
    "predict_response_to_json",
]


@dataclass(frozen=True, slots=True)
class PredictBody:
    signature_name: str  # "" when absent
    doc: dict[str, Any]  # the parsed top-level object; empty when ``dense`` holds the inputs
    bools_possible: bool = True  # False: the body has no true/false token (fast path hint)
    dense: DenseBody | None = None  # regular numeric arrays, read without Python values


def parse_object(body: bytes) -> dict[str, Any]:
    """compatibility.md §3: parse, then require a top-level object."""
    doc = loads(body)
    if not isinstance(doc, dict):
        raise invalid_argument(f"JSON Value: {echo(doc)} Is not object")
    return doc


def signature_name_from(doc: dict[str, Any]) -> str:
    name = doc.get("signature_name", "")
    if not isinstance(name, str | bytes):
        raise invalid_argument(
            f"JSON Value: {echo(doc)} not formatted correctly."
            " 'signature_name' key must be a string value."
        )
    return name if isinstance(name, str) else name.decode("utf-8", "surrogateescape")


def predict_body_from_json(body: bytes, dense: bool = True) -> PredictBody:
    """compatibility.md §2, step 2: JSON parse, top-level object, ``signature_name`` type.

    ``dense=False`` always takes the exact path (the reference of the dense one).
    """
    fast = dense_body_from_json(body) if dense else None
    if fast is not None:
        return PredictBody(fast.signature_name, {}, False, fast)
    return _parsed_body(body)


def _parsed_body(body: bytes) -> PredictBody:
    doc = parse_object(body)
    return PredictBody(signature_name_from(doc), doc, may_have_bools(body))


def predict_inputs_from_json(
    body: PredictBody, input_dtypes: Mapping[str, int]
) -> tuple[dict[str, Any], bool]:
    """compatibility.md §2, step 4: ({alias: TensorProto}, columnar) for the signature's inputs."""
    if body.dense is not None:
        tensors = dense_inputs_from_json(body.dense, input_dtypes)
        if tensors is not None:
            return tensors, body.dense.columnar
        body = _parsed_body(body.dense.body)
    doc = body.doc
    has_instances = "instances" in doc
    has_inputs = "inputs" in doc
    if has_instances and has_inputs:
        raise invalid_argument(
            f"JSON Value: {echo(doc)} Not formatted correctly expecting only one of"
            " 'inputs' or 'instances' keys to exist "
        )
    if has_instances:
        instances = doc["instances"]
        if not isinstance(instances, list):
            raise invalid_argument(
                f"JSON Value: {echo(doc)} Expecting 'instances' to be an list/array"
            )
        if not instances:
            raise invalid_argument(f"JSON Value: {echo(doc)} No values in 'instances' array")
        return _rows(instances, input_dtypes, body.bools_possible), False
    if has_inputs:
        return _columns(doc["inputs"], input_dtypes, body.bools_possible), True
    raise invalid_argument("Missing 'inputs' or 'instances' key")


# ---------------------------------------------------------------------------
# Columnar (compatibility.md §4.2): errors are not wrapped, so Unimplemented stays 501.


def _columns(value: Any, dtypes: Mapping[str, int], bools: bool) -> dict[str, Any]:
    if not isinstance(value, dict) or is_b64_object(value):
        if len(dtypes) > 1:
            raise invalid_argument(
                "inputs is a plain value/list, but expecting an object as multiple input"
                " tensors required as per tensorinfo_map"
            )
        ((name, dtype),) = dtypes.items()
        return {name: tensor_from_json(value, dtype, bools).to_proto()}
    tensors = {}
    for name, dtype in dtypes.items():
        if name not in value:
            raise invalid_argument(f"Missing named input: {name} in 'inputs' object.")
        tensors[name] = tensor_from_json(value[name], dtype, bools).to_proto()
    return tensors


# ---------------------------------------------------------------------------
# Row format (compatibility.md §4.1).


def _is_named(value: Any) -> bool:
    return isinstance(value, dict) and not is_b64_object(value)


def _rows(instances: list[Any], dtypes: Mapping[str, int], bools: bool) -> dict[str, Any]:
    if not isinstance(instances[0], dict) and len(dtypes) > 1:
        raise invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple input"
            " tensors required as per tensorinfo_map"
        )
    count = len(instances)
    if _is_named(instances[0]):
        fast = _named_fast(instances, dtypes, bools)
        if fast is not None:
            return fast
        return _batched(_named_exact(instances, dtypes), dtypes, count)
    # Plain mode feeds one input. A b64 object passed the check above with several
    # inputs; TF Serving then feeds its map's first input and the ModelServer judges
    # the incomplete request (compatibility.md §4.1). Here the first input is the
    # first by name.
    name = min(dtypes)
    dtype = dtypes[name]
    whole = _whole_batch(instances, dtype, bools)
    if whole is not None:
        return {name: whole.to_proto()}
    return _batched(_plain_exact(instances, name, dtype), dtypes, count)


def _whole_batch(values: list[Any], dtype: int, bools: bool) -> JsonTensor | None:
    """Fast path: the whole batch converts as one regular array (same shapes, no errors).

    b64 objects are leaves, not named inputs, so a batch of them converts whole too.
    """
    if any(isinstance(v, dict) and not is_b64_object(v) for v in values):
        return None
    try:
        tensor = tensor_from_json(values, dtype, bools)
    except GatewayError:
        return None
    return tensor if len(tensor.shape) >= 1 and tensor.shape[0] == len(values) else None


def _named_fast(
    instances: list[Any], dtypes: Mapping[str, int], bools: bool
) -> dict[str, Any] | None:
    names = set(dtypes)
    if not all(_is_named(v) and v.keys() == names for v in instances):
        return None
    tensors = {}
    for name, dtype in dtypes.items():
        tensor = _whole_batch([v[name] for v in instances], dtype, bools)
        if tensor is None:
            return None
        tensors[name] = tensor.to_proto()
    return tensors


class _Batch:
    """Per-input accumulation with TF Serving's size and shape consistency checks."""

    def __init__(self) -> None:
        self.parts: dict[str, list[JsonTensor]] = {}

    def add(self, name: str, tensor: JsonTensor) -> None:
        parts = self.parts.setdefault(name, [])
        if parts:
            first = parts[0]
            if first.size != tensor.size:
                raise invalid_argument(
                    f"Expecting tensor size: {first.size} but got: {tensor.size}"
                )
            if first.shape != tensor.shape:
                raise invalid_argument(
                    f"Expecting shape {shape_text(first.shape)} but got: {shape_text(tensor.shape)}"
                )
        parts.append(tensor)


def _wrap(index: int, key: str | None, err: GatewayError) -> GatewayError:
    where = f"{index}" if key is None else f"{index} key: {key}"
    return invalid_argument(
        f"Failed to process element: {where} of 'instances' list."
        f" Error: {err.code.name}: {err.message}"
    )


def _plain_exact(instances: list[Any], name: str, dtype: int) -> _Batch:
    batch = _Batch()
    for i, item in enumerate(instances):
        if _is_named(item):
            raise invalid_argument(f"Expecting value/list but got object at item {i} of input list")
        try:
            batch.add(name, tensor_from_json(item, dtype))
        except GatewayError as err:
            raise _wrap(i, None, err) from None
    return batch


def _named_exact(instances: list[Any], dtypes: Mapping[str, int]) -> _Batch:
    batch = _Batch()
    expected = ",".join(sorted(dtypes))
    for i, item in enumerate(instances):
        if not _is_named(item):
            raise invalid_argument(f"Expecting object but got list at item {i} of input list")
        for key, value in item.items():
            try:
                if key not in dtypes:
                    raise invalid_argument(f"JSON object: does not have named input: {key}")
                batch.add(key, tensor_from_json(value, dtypes[key]))
            except GatewayError as err:
                raise _wrap(i, key, err) from None
        if item.keys() != dtypes.keys():
            raise invalid_argument(
                f"Failed to process element: {i} of 'instances' list. JSON object: {echo(item)}"
                f" keys must be equal to: {expected}"
            )
    return batch


def _batched(batch: _Batch, dtypes: Mapping[str, int], count: int) -> dict[str, Any]:
    tensors = {}
    for name, parts in batch.parts.items():
        first = parts[0]
        shape = (count, *first.shape)
        if isinstance(first.values, list):
            merged = JsonTensor(first.dtype, shape, [v for p in parts for v in p.values])
        else:
            arrays = [p.values for p in parts if isinstance(p.values, np.ndarray)]
            merged = JsonTensor(first.dtype, shape, np.concatenate(arrays))
        tensors[name] = merged.to_proto()
    return tensors


# ---------------------------------------------------------------------------
# Response (compatibility.md §§6.1, 6.2).


def _decoded(outputs: Mapping[str, Any]) -> dict[str, tuple[np.ndarray, DType]]:
    decoded = {}
    for name, proto in outputs.items():
        dt = dtype_of(proto.dtype)
        if not dt.json_out:
            raise invalid_argument(f"Failed to write JSON value for tensor type: {dt.name}")
        decoded[name] = (tensor_to_ndarray(proto), dt)
    return decoded


def predict_response_to_json(outputs: Mapping[str, Any], columnar: bool) -> bytes:
    """JSON body for PredictResponse.outputs ({alias: TensorProto})."""
    decoded = _decoded(outputs)
    if columnar:
        return _columnar_json(decoded)
    return _row_json(decoded)


def _b64(name: str, dt: DType) -> bool:
    return dt.name == "string" and name.endswith("_bytes")


def _columnar_json(decoded: dict[str, tuple[np.ndarray, DType]]) -> bytes:
    texts = {name: tensor_json(arr, dt, _b64(name, dt)) for name, (arr, dt) in decoded.items()}
    if len(texts) == 1:
        (text,) = texts.values()
        return b'{"outputs":' + text + b"}"
    return orjson.dumps({"outputs": {k: orjson.Fragment(v) for k, v in texts.items()}})


def _row_json(decoded: dict[str, tuple[np.ndarray, DType]]) -> bytes:
    batch = None
    for name, (arr, _) in decoded.items():
        if arr.ndim == 0:
            raise invalid_argument(f"Tensor name: {name} has no shape information ")
        if batch is None:
            batch = arr.shape[0]
        elif arr.shape[0] != batch:
            raise invalid_argument(
                f"Tensor name: {name} has inconsistent batch size: {arr.shape[0]}"
                f" expecting: {batch}"
            )
    if len(decoded) == 1:
        ((name, (arr, dt)),) = decoded.items()
        return b'{"predictions":' + tensor_json(arr, dt, _b64(name, dt)) + b"}"
    items = {
        name: tensor_items_json(arr, dt, _b64(name, dt)) for name, (arr, dt) in decoded.items()
    }
    rows = [
        {name: orjson.Fragment(texts[i]) for name, texts in items.items()}
        for i in range(batch or 0)
    ]
    return orjson.dumps({"predictions": rows})
