"""The predict bodies served without building Python values (compatibility.md §§4.1, 4.2)::

    {"signature_name": <string, optional>, "instances": <array>}
    {"signature_name": <string, optional>, "inputs": <array> | {"<alias>": <array>, ...}}

with every ``<array>`` a regular array of numbers (``gateway.codec.fastarray``).
Only bodies the exact path accepts with the same values get here, and only
conversions it would make the same way leave here: every other case returns
None and the caller parses the body the exact way, which also writes the errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.codec.fastarray import DenseArray, dense_object_from_json
from gateway.codec.tensor import tensor_from_ndarray

__all__ = ["DenseBody", "dense_body_from_json", "dense_inputs_from_json"]

_KEYS = frozenset(("signature_name", "instances", "inputs"))


@dataclass(frozen=True, slots=True)
class DenseBody:
    signature_name: str  # "" when absent
    columnar: bool  # "inputs" rather than "instances"
    inputs: DenseArray | dict[str, DenseArray]  # one plain array, or arrays by alias
    body: bytes  # the request body, for the exact path


def dense_body_from_json(body: bytes) -> DenseBody | None:
    members = dense_object_from_json(body)
    if members is None or not members.keys() <= _KEYS:
        return None
    name = members.get("signature_name", "")
    if not isinstance(name, str) or ("instances" in members) == ("inputs" in members):
        return None
    columnar = "inputs" in members
    inputs = members["inputs" if columnar else "instances"]
    if isinstance(inputs, str) or (isinstance(inputs, dict) and not columnar):
        return None
    return DenseBody(name, columnar, inputs, body)


def dense_inputs_from_json(
    dense: DenseBody, input_dtypes: Mapping[str, int]
) -> dict[str, Any] | None:
    """{alias: TensorProto} as the exact path would build them, or None to let it decide."""
    arrays = dense.inputs
    if isinstance(arrays, DenseArray):
        if len(input_dtypes) != 1:
            return None
        arrays = dict.fromkeys(input_dtypes, arrays)
    if not input_dtypes or not input_dtypes.keys() <= arrays.keys():
        return None
    tensors = {}
    for alias, dtype in input_dtypes.items():
        tensor = tensor_from_ndarray(arrays[alias].values, dtype)
        if tensor is None:
            return None
        tensors[alias] = tensor.to_proto()
    return tensors
