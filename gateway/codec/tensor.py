"""One JSON value <-> TensorProto (compatibility.md §§4.3, 4.4, 6.2).

JSON to tensor: the shape comes from the first element at each nesting level;
leaves must sit at depth = rank; the signature's dtype decides which leaves are
accepted (table in compatibility.md §4.3); ``{"b64": ...}`` objects are DT_STRING leaves.
Numeric tensors are built with numpy and sent as little-endian
``tensor_content``; strings go to ``string_val``. An exact walk that mirrors
TF Serving's traversal runs only to produce the right error message.

Tensor to JSON: TensorProtos are decoded completely (typed fields,
``tensor_content``, one value broadcast to the shape, empty), then written as
nested lists: floats by the float text rule, integers exact, bools, strings
raw, ``{"b64": ...}`` for ``*_bytes`` aliases.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from gateway.codec.floattext import (
    SMALL,
    float_text,
    float_texts,
    nested_float_items,
    nested_float_json,
)
from gateway.codec.jsonparse import echo
from gateway.core import protos
from gateway.core.errors import Code, GatewayError, invalid_argument

__all__ = [
    "DTYPES",
    "DType",
    "JsonTensor",
    "dtype_name",
    "error_body",
    "float_text",
    "is_b64_object",
    "json_type",
    "tensor_from_json",
    "tensor_from_ndarray",
    "tensor_items_json",
    "tensor_json",
    "tensor_to_ndarray",
]


@dataclass(frozen=True, slots=True)
class DType:
    """One row of the dtype table."""

    number: int
    name: str  # TF's lowercase name, as in error messages
    numpy: np.dtype[Any] | None  # None: no numpy form used by the codec
    field: str | None  # typed TensorProto field holding the values
    json_in: bool  # accepted as a JSON input leaf (compatibility.md §4.3)
    json_out: bool  # writable as JSON output (compatibility.md §6.2)


def _build_dtypes() -> dict[int, DType]:
    rows: dict[str, tuple[str | None, str | None, bool, bool]] = {
        "DT_FLOAT": ("<f4", "float_val", True, True),
        "DT_DOUBLE": ("<f8", "double_val", True, True),
        "DT_INT32": ("<i4", "int_val", True, True),
        "DT_UINT8": ("u1", "int_val", True, True),
        "DT_INT16": ("<i2", "int_val", True, True),
        "DT_INT8": ("i1", "int_val", True, True),
        "DT_STRING": (None, "string_val", True, True),
        "DT_INT64": ("<i8", "int64_val", True, True),
        "DT_BOOL": ("?", "bool_val", True, True),
        "DT_UINT16": ("<u2", "int_val", False, False),
        "DT_HALF": ("<f2", "half_val", False, False),
        "DT_BFLOAT16": ("<u2", "half_val", False, False),  # the 16-bit patterns (V2 front)
        "DT_UINT32": ("<u4", "uint32_val", True, True),
        "DT_UINT64": ("<u8", "uint64_val", True, True),
    }
    table: dict[int, DType] = {}
    for value in protos.DataType.values:
        np_name, field, json_in, json_out = rows.get(value.name, (None, None, False, False))
        table[value.number] = DType(
            number=value.number,
            name=_tf_name(value.name),
            numpy=np.dtype(np_name) if np_name else None,
            field=field,
            json_in=json_in,
            json_out=json_out,
        )
    return table


def _tf_name(enum_name: str) -> str:
    if enum_name == "DT_INVALID":
        return "INVALID"
    name = enum_name.removeprefix("DT_").lower()
    return name.removesuffix("_ref") + "_ref" if name.endswith("_ref") else name


DTYPES: dict[int, DType] = _build_dtypes()
DT_FLOAT, DT_DOUBLE, DT_STRING, DT_BOOL = 1, 2, 7, 10


def dtype_of(number: int) -> DType:
    row = DTYPES.get(number)
    if row is None:
        return DType(number, f"unknown dtype enum ({number})", None, None, False, False)
    return row


def dtype_name(number: int) -> str:
    return dtype_of(number).name


def error_body(message: str) -> bytes:
    """The error response body ``{"error": message}`` (compatibility.md §7)."""
    return orjson.dumps({"error": message})


# ---------------------------------------------------------------------------
# JSON -> tensor


def json_type(value: Any) -> str:
    """RapidJSON's type name as TF Serving prints it."""
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str | bytes):
        return "String"
    return "Number"


def is_b64_object(value: Any) -> bool:
    """Exactly one member ``b64`` whose value is a string (compatibility.md §4.4)."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str | bytes)


_B64_ALPHABET = re.compile(rb"[A-Za-z0-9+/]*")
_B64_PAD = re.compile(rb"[=.]")
_B64_SPACE = b" \t\n\v\f\r"


def b64_decode(value: dict[str, Any]) -> bytes:
    """Standard base64 as absl::Base64Unescape reads it (compatibility.md §4.4).

    ASCII whitespace anywhere is skipped; ``=`` or ``.`` pad; after the first pad
    only pads (and whitespace) may follow, and there must be none or exactly as
    many as complete the last quantum.
    """
    text = value["b64"]
    raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    if len(raw) % 4 == 0 and b"=" not in raw[:-2]:
        # Fast path: padded (or unpadded whole quanta), strictly valid: the common case.
        try:
            return binascii.a2b_base64(raw, strict_mode=True)
        except binascii.Error:
            pass
    pad = _B64_PAD.search(raw)
    cut = len(raw) if pad is None else pad.start()
    data = raw[:cut].translate(None, _B64_SPACE)
    pads = raw[cut:].translate(None, _B64_SPACE)
    expected = -len(data) % 4  # 0, 2 or 1 pads complete the last quantum; 3 means 1 char
    valid = _B64_ALPHABET.fullmatch(data) is not None and expected != 3
    if not valid or pads.translate(None, b"=.") or len(pads) not in (0, expected):
        raise invalid_argument("Unable to base64 decode")
    return binascii.a2b_base64(data + b"=" * expected, strict_mode=True)


@dataclass(slots=True)
class JsonTensor:
    """A converted JSON value: shape plus values (numpy array, or bytes list for strings)."""

    dtype: DType
    shape: tuple[int, ...]
    values: np.ndarray | list[bytes]

    @property
    def size(self) -> int:
        return len(self.values)

    def to_proto(self, shape: Sequence[int] | None = None) -> Any:
        proto = protos.TensorProto()
        proto.dtype = self.dtype.number
        dims = proto.tensor_shape.dim
        for size in self.shape if shape is None else shape:
            dims.add(size=size)
        if isinstance(self.values, list):
            proto.string_val.extend(self.values)
        else:
            proto.tensor_content = self.values.tobytes()
        return proto


def tensor_from_json(value: Any, dtype: int, bools_possible: bool = True) -> JsonTensor:
    """Convert one JSON value for a signature input of ``dtype`` (compatibility.md §4.3).

    ``bools_possible=False`` promises that the document holds no true/false token,
    which lets numeric tensors skip the boolean check.
    """
    dt = dtype_of(dtype)
    if dt.json_in and dt.numpy is not None:
        fast = _numeric_fast(value, dt, bools_possible)
        if fast is not None:
            return fast
    return _exact(value, dt)


_INT_RANGES: dict[str, tuple[int, int]] = {
    "int32": (-(2**31), 2**31 - 1),
    "int16": (-(2**31), 2**31 - 1),  # compatibility.md §4.3: no range check for the narrow types
    "int8": (-(2**31), 2**31 - 1),
    "uint8": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}


def _numeric_fast(value: Any, dt: DType, bools_possible: bool) -> JsonTensor | None:
    """numpy conversion when the value is a regular array of acceptable leaves; else None."""
    if not isinstance(value, list):
        return None
    try:
        arr = np.array(value)
    except (ValueError, OverflowError):
        return None
    tensor = _array_tensor(arr, dt)
    # numpy folds booleans into numeric arrays: a numeric tensor must not hide one.
    if tensor is not None and arr.dtype.kind != "b" and bools_possible and has_bool(value):
        return None
    return tensor


def tensor_from_ndarray(arr: np.ndarray, dtype: int) -> JsonTensor | None:
    """Convert JSON numbers already in an int64, uint64 or float64 array (compatibility.md §4.3).

    None where the dtype refuses some value (a decimal for an integer dtype, an
    integer out of range) or is not numeric: the exact walk then decides.
    """
    dt = dtype_of(dtype)
    if not dt.json_in or dt.numpy is None:
        return None
    return _array_tensor(arr, dt)


def _array_tensor(arr: np.ndarray, dt: DType) -> JsonTensor | None:
    assert dt.numpy is not None
    if arr.size == 0:
        if arr.dtype.kind not in "fiub":
            return None
        return JsonTensor(dt, arr.shape, np.zeros(0, dt.numpy))
    kind = arr.dtype.kind
    if dt.name == "bool":
        ok = kind == "b"
    elif dt.name in ("float", "double"):
        ok = kind in "fiu"
    else:
        ok = kind in "iu" and _in_range(arr, dt.name)
    if not ok:
        return None
    flat = arr.reshape(-1)
    if dt.name == "float" and kind != "f":
        flat = flat.astype(np.float64)  # RapidJSON's GetFloat goes through double
    with np.errstate(over="ignore"):
        flat = flat.astype(dt.numpy)  # C-style narrowing, compatibility.md §4.3
    return JsonTensor(dt, arr.shape, flat)


def _in_range(arr: np.ndarray, name: str) -> bool:
    low, high = _INT_RANGES[name]
    return bool(arr.min() >= low and arr.max() <= high)


def has_bool(value: list[Any]) -> bool:
    """Whether a nested list holds a JSON true/false anywhere (numpy folds them into numbers)."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool):
            return True
    return False


def _exact(value: Any, dt: DType) -> JsonTensor:
    """Mirror TF Serving's FillTensorProto traversal, raising its first error."""
    shape = _dense_shape(value)
    rank = len(shape)
    leaves: list[Any] = []
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if not isinstance(item, list):
            leaves.append(_leaf(item, level, rank, dt))
            continue
        if level >= rank:
            raise invalid_argument(
                f"Encountered list at unexpected level: {level} expected < {rank}"
            )
        if len(item) != shape[level]:
            raise invalid_argument(
                f"Encountered list at unexpected size: {len(item)} at level: {level}"
                f" expected size: {shape[level]}"
            )
        stack.extend((child, level + 1) for child in reversed(item))
    if dt.numpy is None or dt.name == "string":
        return JsonTensor(dt, shape, leaves)
    with np.errstate(over="ignore"):
        values = np.array(leaves, dtype=_WIDE.get(dt.name, np.int64))
        return JsonTensor(dt, shape, values.astype(dt.numpy).reshape(-1))


# The exact path's leaves are checked already; each is held exactly by its dtype's wide
# form (integer tokens are at most uint64), then narrowed C-style (compatibility.md §4.3).
# Letting numpy pick would turn [0, 2**63 + 1] into float64 and lose the low bits.
_WIDE: dict[str, type[np.generic]] = {
    "float": np.float64,
    "double": np.float64,
    "uint64": np.uint64,
    "bool": np.bool_,
}


def _dense_shape(value: Any) -> tuple[int, ...]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return tuple(shape)


def _leaf(item: Any, level: int, rank: int, dt: DType) -> Any:
    if level != rank:
        raise invalid_argument(
            f"JSON Value: {echo(item)} found at incorrect level: {level + 1}"
            f" in the JSON DOM. Expected at level: {rank}"
        )
    if isinstance(item, dict):
        if dt.name != "string":
            raise _type_error(item, dt)
        if not is_b64_object(item):
            raise invalid_argument(
                f"JSON Value: {echo(item)} not formatted correctly for base64 data"
            )
        return b64_decode(item)
    if not dt.json_in:
        raise GatewayError(
            Code.UNIMPLEMENTED, f"Conversion of JSON Value: {echo(item)} to type: {dt.name}"
        )
    if not _leaf_ok(item, dt.name):
        raise _type_error(item, dt)
    if isinstance(item, str):
        return item.encode("utf-8", "surrogateescape")
    return item


def _leaf_ok(item: Any, name: str) -> bool:
    if name == "string":
        return isinstance(item, str | bytes)
    if name == "bool":
        return isinstance(item, bool)
    if isinstance(item, bool) or not isinstance(item, int | float):
        return False
    if name in ("float", "double"):
        return True
    if isinstance(item, float):
        return False
    low, high = _INT_RANGES[name]
    return low <= item <= high


def _type_error(item: Any, dt: DType) -> GatewayError:
    return invalid_argument(
        f"JSON Value: {echo(item)} Type: {json_type(item)} is not of expected type: {dt.name}"
    )


def shape_text(shape: Sequence[int]) -> str:
    """``[d0,d1]`` as in "Expecting shape [2] but got: [1,2]"."""
    return "[" + ",".join(str(d) for d in shape) + "]"


# ---------------------------------------------------------------------------
# TensorProto -> numpy


def tensor_to_ndarray(proto: Any) -> np.ndarray:
    """All values of a TensorProto, shaped (strings as an object array of bytes)."""
    dt = dtype_of(proto.dtype)
    shape = tuple(d.size for d in proto.tensor_shape.dim)
    count = math.prod(shape)
    if dt.name == "string":
        values: np.ndarray = np.empty(len(proto.string_val), dtype=object)
        values[:] = list(proto.string_val)
    elif proto.tensor_content:
        assert dt.numpy is not None
        values = np.frombuffer(proto.tensor_content, dtype=dt.numpy)
    else:
        values = _typed_values(proto, dt)
    return _broadcast(values, count, dt).reshape(shape)


def _typed_values(proto: Any, dt: DType) -> np.ndarray:
    assert dt.numpy is not None and dt.field is not None
    field = getattr(proto, dt.field)
    if dt.name == "half":
        return np.array(field, dtype=np.uint16).view(np.float16)
    with np.errstate(over="ignore"):
        return np.array(field, dtype=np.int64 if dt.field == "int_val" else dt.numpy).astype(
            dt.numpy
        )


def _broadcast(values: np.ndarray, count: int, dt: DType) -> np.ndarray:
    # Like tf.make_ndarray: no values means zeros; fewer values repeat the last one.
    if len(values) == count:
        return values
    if len(values) == 0:
        if dt.name == "string":
            filler: np.ndarray = np.empty(count, dtype=object)
            filler[:] = b""
            return filler
        assert dt.numpy is not None
        return np.zeros(count, dtype=dt.numpy)
    if len(values) > count:
        raise invalid_argument(f"TensorProto has {len(values)} values for {count} elements")
    return np.concatenate([values, np.repeat(values[-1:], count - len(values))])


# ---------------------------------------------------------------------------
# numpy -> JSON text


def tensor_json(arr: np.ndarray, dt: DType, as_b64: bool) -> bytes:
    """The JSON text of a whole tensor: nested lists, or a bare value at rank 0."""
    if arr.size == 0:
        return orjson.dumps(_empty_lists(arr.shape))
    if dt.name in ("float", "double"):
        if arr.size <= SMALL:
            return _nest_texts(float_texts(arr.reshape(-1), arr.dtype == np.float32), arr.shape)
        return nested_float_json(arr)
    if dt.name == "string":
        return _nest_texts(_string_texts(arr.reshape(-1), as_b64), arr.shape)
    if arr.ndim == 0:
        return orjson.dumps(arr.item())
    return orjson.dumps(np.ascontiguousarray(arr), option=orjson.OPT_SERIALIZE_NUMPY)


def tensor_items_json(arr: np.ndarray, dt: DType, as_b64: bool) -> list[bytes]:
    """One JSON text per batch item (axis 0) of a tensor of rank >= 1."""
    if arr.size == 0:
        return [orjson.dumps(_empty_lists(arr.shape[1:]))] * arr.shape[0]
    if dt.name in ("float", "double") and arr.size > SMALL:
        return nested_float_items(arr)
    if dt.name in ("float", "double", "string"):
        flat = arr.reshape(-1)
        is_float = dt.name != "string"
        texts = (
            float_texts(flat, arr.dtype == np.float32) if is_float else _string_texts(flat, as_b64)
        )
        per = len(texts) // arr.shape[0]
        return [
            _nest_texts(texts[i * per : (i + 1) * per], arr.shape[1:]) for i in range(arr.shape[0])
        ]
    if arr.ndim == 1:
        return [orjson.dumps(v) for v in arr.tolist()]
    arr = np.ascontiguousarray(arr)
    return [orjson.dumps(item, option=orjson.OPT_SERIALIZE_NUMPY) for item in arr]


def _empty_lists(shape: Sequence[int]) -> Any:
    if not shape or shape[0] == 0:
        return []
    return [_empty_lists(shape[1:]) for _ in range(shape[0])]


_JSON_ESCAPE = re.compile(rb'["\\\x00-\x1f]')
_ESCAPES = {i: b"\\u%04X" % i for i in range(0x20)} | {
    0x08: b"\\b",
    0x09: b"\\t",
    0x0A: b"\\n",
    0x0C: b"\\f",
    0x0D: b"\\r",
    0x22: b'\\"',
    0x5C: b"\\\\",
}


def _string_texts(values: np.ndarray, as_b64: bool) -> list[bytes]:
    if as_b64:
        return [b'{"b64":"' + base64.b64encode(v) + b'"}' for v in values]
    return [b'"' + _JSON_ESCAPE.sub(_escape, v) + b'"' for v in values]


def _escape(match: re.Match[bytes]) -> bytes:
    return _ESCAPES[match.group()[0]]


def _nest_texts(texts: Sequence[bytes], shape: Sequence[int]) -> bytes:
    if not shape:
        return texts[0]
    if len(shape) == 1:
        return b"[" + b",".join(texts) + b"]"
    per = len(texts) // shape[0]
    parts = [_nest_texts(texts[i * per : (i + 1) * per], shape[1:]) for i in range(shape[0])]
    return b"[" + b",".join(parts) + b"]"
