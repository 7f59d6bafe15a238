"""V2 tensor datatypes and the elements of one tensor (compatibility.md §12.3).

One table maps each V2 datatype to its TensorFlow DataType (reference types
such as DT_FLOAT_REF read as their base type) and to its element layout.

JSON ``data``: the shape's elements as one flat row-major array, or as arrays
nested exactly as the shape. BOOL takes ``true``/``false``; the integer types
take integers within their range; FP16, FP32, FP64 and BF16 take any number
that stays finite in the type; BYTES takes strings (their UTF-8 bytes).
Nothing else converts, silently or not.

Binary data (Triton's binary tensor data extension): row-major little-endian
elements; BOOL one byte each; BF16 the upper 16 bits of a float32; BYTES each
element as a 4-byte little-endian length followed by that many bytes.
TensorProto ``tensor_content`` has the same layout for every fixed-size type,
so binary inputs travel to the ModelServer as they came.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from gateway.codec.tensor import has_bool, tensor_to_ndarray
from gateway.core import protos
from gateway.core.errors import Code, GatewayError, invalid_argument

INT64_MAX = 2**63 - 1

Shape = tuple[int, ...]
# A binary part as it lies in the request body: views of the chunks it spans.
Parts = tuple[memoryview, ...]
# What one input's elements become: a numpy array or the raw little-endian
# elements as they lie in the body (fixed-size types), or the element bytes (BYTES).
Elements = np.ndarray | Parts | list[bytes]


@dataclass(frozen=True, slots=True)
class Datatype:
    """One row of the datatype table."""

    name: str  # the V2 name
    tf: int  # tensorflow.DataType number
    tf_name: str  # e.g. DT_FLOAT, for messages
    layout: np.dtype[Any] | None  # one element in binary data and tensor_content; None: BYTES
    kind: str  # which JSON values it takes: bool, int, float, bf16, bytes


# V2 name -> (TensorFlow DataType, element layout, JSON kind).
_TABLE: dict[str, tuple[str, str | None, str]] = {
    "BOOL": ("DT_BOOL", "?", "bool"),
    "UINT8": ("DT_UINT8", "u1", "int"),
    "UINT16": ("DT_UINT16", "<u2", "int"),
    "UINT32": ("DT_UINT32", "<u4", "int"),
    "UINT64": ("DT_UINT64", "<u8", "int"),
    "INT8": ("DT_INT8", "i1", "int"),
    "INT16": ("DT_INT16", "<i2", "int"),
    "INT32": ("DT_INT32", "<i4", "int"),
    "INT64": ("DT_INT64", "<i8", "int"),
    "FP16": ("DT_HALF", "<f2", "float"),
    "FP32": ("DT_FLOAT", "<f4", "float"),
    "FP64": ("DT_DOUBLE", "<f8", "float"),
    "BF16": ("DT_BFLOAT16", "<u2", "bf16"),  # the 16-bit patterns
    "BYTES": ("DT_STRING", None, "bytes"),
}


def _build() -> tuple[dict[str, Datatype], dict[int, Datatype]]:
    by_name: dict[str, Datatype] = {}
    by_tf: dict[int, Datatype] = {}
    for name, (tf_name, layout, kind) in _TABLE.items():
        number = protos.DataType.values_by_name[tf_name].number
        row = Datatype(name, number, tf_name, np.dtype(layout) if layout else None, kind)
        by_name[name] = row
        by_tf[number] = row
        by_tf[protos.DataType.values_by_name[tf_name + "_REF"].number] = row
    return by_name, by_tf


BY_NAME, BY_TF = _build()


def tf_type_name(number: int) -> str:
    value = protos.DataType.values_by_number.get(number)
    return value.name if value is not None else f"DataType {number}"


def datatype_named(value: Any, where: str) -> Datatype:
    """The row for a request's ``datatype``; 400 naming the known ones otherwise."""
    row = BY_NAME.get(value) if isinstance(value, str) else None
    if row is None:
        known = ", ".join(BY_NAME)
        raise invalid_argument(f"{where}: unknown datatype {_show(value)}; known: {known}")
    return row


def datatype_of_tf(number: int, where: str) -> Datatype:
    """The V2 datatype of a TensorFlow dtype; 501 when V2 has none."""
    row = BY_TF.get(number)
    if row is None:
        raise GatewayError(
            Code.UNIMPLEMENTED, f"{where} has type {tf_type_name(number)}, which V2 cannot carry"
        )
    return row


def _show(value: Any) -> str:
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


def element_count(shape: Shape) -> int:
    return math.prod(shape)


def shape_text(shape: Sequence[int]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


# ---------------------------------------------------------------------------
# JSON data -> elements


def elements_from_json(data: Any, dt: Datatype, shape: Shape, where: str, bools: bool) -> Elements:
    """Convert an input's ``data``; ``bools=False`` promises no true/false among the numbers."""
    if not isinstance(data, list):
        raise invalid_argument(f"{where}: 'data' must be an array")
    if dt.kind == "bytes":
        nesting, leaves = _regular(data, where)
        _check_nesting(nesting, shape, where)
        return [_utf8(leaf, where) for leaf in leaves]
    try:
        arr = np.array(data)
        nesting, flat = arr.shape, arr.reshape(-1)
    except (ValueError, OverflowError):
        # Irregular nesting raises here; regular nesting deeper than numpy's 64 dimensions
        # goes on as a flat array of leaves.
        nesting, leaves = _regular(data, where)
        flat = np.array(leaves, dtype=object)
    _check_nesting(nesting, shape, where)
    if not _numbers_ok(flat, dt, bools, data):
        flat = _exact_numbers(data, dt, where)
    return _narrow(flat, dt, where)


def _regular(data: list[Any], where: str) -> tuple[Shape, list[Any]]:
    """The nesting of a regular array and its leaves in row-major order."""
    nesting: list[int] = []
    probe: Any = data
    while isinstance(probe, list):
        nesting.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    leaves: list[Any] = []
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, list):
            if level >= len(nesting) or len(item) != nesting[level]:
                raise invalid_argument(f"{where}: 'data' is not a regular nested array")
            stack.extend((child, level + 1) for child in reversed(item))
        elif level != len(nesting):
            raise invalid_argument(f"{where}: 'data' is not a regular nested array")
        else:
            leaves.append(item)
    return tuple(nesting), leaves


def _check_nesting(nesting: Shape, shape: Shape, where: str) -> None:
    """Flat with the shape's element count, or nested exactly as the shape."""
    count = element_count(shape)
    if nesting == shape or (len(nesting) == 1 and nesting[0] == count):
        return
    if len(nesting) == 1:
        raise invalid_argument(
            f"{where}: shape {shape_text(shape)} has {count} elements, but 'data' has {nesting[0]}"
        )
    raise invalid_argument(
        f"{where}: 'data' is nested as {shape_text(nesting)}, not as shape {shape_text(shape)}"
    )


def _utf8(leaf: Any, where: str) -> bytes:
    if not isinstance(leaf, str):
        raise invalid_argument(f"{where}: BYTES data holds {_show(leaf)}, which is not a string")
    return leaf.encode("utf-8", "surrogatepass")


# numpy kinds a fast conversion may start from, per JSON kind.
_FAST_KINDS = {"bool": "b", "int": "iu", "float": "iuf", "bf16": "iuf"}


def _numbers_ok(flat: np.ndarray, dt: Datatype, bools: bool, data: list[Any]) -> bool:
    """Whether numpy's reading of the data is exactly the JSON values, valid for ``dt``."""
    if flat.size == 0:
        return True
    if flat.dtype.kind not in _FAST_KINDS[dt.kind]:
        return False
    if dt.kind != "bool" and bools and has_bool(data):
        return False  # numpy folds true/false into numbers without a word
    return dt.kind != "int" or _in_range(flat, dt)


def _in_range(flat: np.ndarray, dt: Datatype) -> bool:
    assert dt.layout is not None
    info = np.iinfo(dt.layout)
    return bool(flat.min() >= info.min and flat.max() <= info.max)


def _exact_numbers(data: list[Any], dt: Datatype, where: str) -> np.ndarray:
    """Check every leaf (naming the first bad one), then convert from Python values."""
    leaves = _regular(data, where)[1]
    for leaf in leaves:
        _check_leaf(leaf, dt, where)
    if dt.kind == "bool":
        return np.array(leaves, dtype=bool)
    if dt.kind == "int":
        assert dt.layout is not None
        return np.array(leaves, dtype=dt.layout)
    try:
        return np.array([float(leaf) for leaf in leaves], dtype=np.float64)
    except OverflowError:
        raise invalid_argument(f"{where}: a value is out of range for {dt.name}") from None


def _check_leaf(leaf: Any, dt: Datatype, where: str) -> None:
    if dt.kind == "bool":
        if not isinstance(leaf, bool):
            raise invalid_argument(f"{where}: BOOL data holds {_show(leaf)}; use true or false")
        return
    if isinstance(leaf, bool) or not isinstance(leaf, int | float):
        raise invalid_argument(f"{where}: {dt.name} data holds {_show(leaf)}, not a number")
    if dt.kind != "int":
        return
    if not isinstance(leaf, int):
        raise invalid_argument(f"{where}: {dt.name} data holds {_show(leaf)}, not an integer")
    assert dt.layout is not None
    info = np.iinfo(dt.layout)
    if not info.min <= leaf <= info.max:
        raise invalid_argument(f"{where}: {leaf} is out of range for {dt.name}")


def _narrow(flat: np.ndarray, dt: Datatype, where: str) -> np.ndarray:
    """Cast checked values to the datatype's layout; floats must stay finite."""
    assert dt.layout is not None
    if dt.kind in ("bool", "int"):
        return np.ascontiguousarray(flat, dtype=dt.layout)
    with np.errstate(over="ignore"):
        if dt.kind == "bf16":
            out = bf16_bits(flat.astype(np.float32))
            finite = bool(((out & 0x7F80) != 0x7F80).all())
        else:
            out = flat.astype(dt.layout)
            finite = bool(np.isfinite(out).all())
    if not finite:
        raise invalid_argument(f"{where}: a value is out of range for {dt.name}")
    return out


def bf16_bits(values: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns, rounding to nearest even (as TensorFlow does)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    return rounded.astype("<u2")


def bf16_floats(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns -> float32 (exact)."""
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


# ---------------------------------------------------------------------------
# binary data -> elements


def elements_from_binary(raw: Parts, dt: Datatype, shape: Shape, where: str) -> Elements:
    """An input's binary part: checked against its shape, never copied element by element
    (fixed-size types are not copied at all)."""
    count = element_count(shape)
    size = sum(len(view) for view in raw)
    if dt.layout is None:
        return _length_prefixed(_contiguous(raw), count, where)
    need = count * dt.layout.itemsize
    if size != need:
        raise invalid_argument(
            f"{where}: binary_data_size is {size} bytes, but shape {shape_text(shape)}"
            f" of {dt.name} takes {need}"
        )
    if dt.kind == "bool":
        truth: np.ndarray = np.frombuffer(_contiguous(raw), dtype=np.uint8) != 0
        return truth  # any non-zero byte is true
    return raw


def _contiguous(raw: Parts) -> memoryview:
    return raw[0] if len(raw) == 1 else memoryview(b"".join(raw))


def _length_prefixed(raw: memoryview, count: int, where: str) -> list[bytes]:
    values: list[bytes] = []
    pos, end = 0, len(raw)
    while len(values) < count:
        if end - pos < 4:
            raise invalid_argument(
                f"{where}: binary BYTES data ends after {len(values)} of {count} elements"
            )
        size = int.from_bytes(raw[pos : pos + 4], "little")
        pos += 4
        if size > end - pos:
            raise invalid_argument(
                f"{where}: BYTES element {len(values)} claims {size} bytes,"
                f" but {end - pos} remain in its binary data"
            )
        values.append(bytes(raw[pos : pos + size]))
        pos += size
    if pos != end:
        raise invalid_argument(
            f"{where}: {end - pos} bytes follow the {count} BYTES elements of its shape"
        )
    return values


def bytes_to_binary(values: Sequence[bytes]) -> bytes:
    """BYTES elements with their 4-byte little-endian length prefixes."""
    parts: list[bytes] = []
    for value in values:
        parts.append(len(value).to_bytes(4, "little"))
        parts.append(value)
    return b"".join(parts)


# ---------------------------------------------------------------------------
# TensorProto -> elements


def tensor_shape(proto: Any) -> Shape:
    return tuple(d.size for d in proto.tensor_shape.dim)


def elements_to_json(proto: Any, dt: Datatype, where: str) -> np.ndarray | list[str]:
    """An output's elements, flat and row-major, as orjson writes them."""
    flat = tensor_to_ndarray(proto).reshape(-1)
    if dt.kind == "bytes":
        return [_text(value, where) for value in flat]
    if dt.kind == "bf16":
        return bf16_floats(flat)
    return np.ascontiguousarray(flat)


def _text(value: bytes, where: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_argument(
            f"{where} holds bytes that are not UTF-8; ask for it with binary_data"
        ) from None


def elements_to_binary(proto: Any, dt: Datatype) -> bytes:
    """An output's binary part: ``tensor_content`` as it came when it is complete."""
    if dt.layout is None:
        return bytes_to_binary(tensor_to_ndarray(proto).reshape(-1).tolist())
    content: bytes = proto.tensor_content
    if len(content) == element_count(tensor_shape(proto)) * dt.layout.itemsize:
        return content
    flat = tensor_to_ndarray(proto).reshape(-1)
    return np.ascontiguousarray(flat, dtype=dt.layout).tobytes()
