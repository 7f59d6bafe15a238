"""TensorProto <-> numpy for the ModelServer, as TensorFlow Serving converts them.

Requests are decoded like ``Tensor::FromProto`` (``tensor_content`` or the typed
``*_val`` fields; a short value list is padded with its last value).
Responses are encoded like ``Tensor::AsProtoField`` (typed fields, the
default) or ``Tensor::AsProtoTensorContent`` (raw little-endian bytes; strings
still go to ``string_val``). Reference dtypes (``DT_FLOAT_REF``) are reported
as their base dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2

from gateway.core import protos
from gateway.core.errors import invalid_argument

DT = protos.DataType.values_by_name
REF_OFFSET = 100


def _ints(values: Any) -> list[int]:
    return [int(v) for v in np.asarray(values).ravel()]


def _halfbits(values: Any) -> list[int]:
    # half and bfloat16 travel as their 16-bit patterns in half_val.
    return _ints(np.asarray(values).view(np.uint16))


def _complex(values: Any) -> list[float]:
    flat = np.asarray(values).ravel()
    return [float(x) for pair in zip(flat.real, flat.imag, strict=True) for x in pair]


def _strings(values: Any) -> list[bytes]:
    return [v if isinstance(v, bytes) else str(v).encode() for v in np.asarray(values).ravel()]


def _floats(values: Any) -> Any:
    return np.asarray(values).ravel().tolist()


# dtype enum -> (typed field, converter of the numpy array to the field's values)
TYPED_FIELDS: dict[int, tuple[str, Callable[[Any], Any]]] = {
    DT["DT_FLOAT"].number: ("float_val", _floats),
    DT["DT_DOUBLE"].number: ("double_val", _floats),
    DT["DT_INT32"].number: ("int_val", _ints),
    DT["DT_UINT8"].number: ("int_val", _ints),
    DT["DT_INT16"].number: ("int_val", _ints),
    DT["DT_INT8"].number: ("int_val", _ints),
    DT["DT_UINT16"].number: ("int_val", _ints),
    DT["DT_QINT8"].number: ("int_val", _ints),
    DT["DT_QUINT8"].number: ("int_val", _ints),
    DT["DT_QINT16"].number: ("int_val", _ints),
    DT["DT_QUINT16"].number: ("int_val", _ints),
    DT["DT_QINT32"].number: ("int_val", _ints),
    DT["DT_INT64"].number: ("int64_val", _ints),
    DT["DT_UINT32"].number: ("uint32_val", _ints),
    DT["DT_UINT64"].number: ("uint64_val", _ints),
    DT["DT_BOOL"].number: ("bool_val", _floats),
    DT["DT_STRING"].number: ("string_val", _strings),
    DT["DT_COMPLEX64"].number: ("scomplex_val", _complex),
    DT["DT_COMPLEX128"].number: ("dcomplex_val", _complex),
    DT["DT_HALF"].number: ("half_val", _halfbits),
    DT["DT_BFLOAT16"].number: ("half_val", _halfbits),
}


def base_dtype(dtype: int) -> int:
    """``DT_FLOAT_REF`` -> ``DT_FLOAT``; other dtypes unchanged."""
    return dtype - REF_OFFSET if dtype > REF_OFFSET else dtype


def to_ndarray(proto: Any, alias: str) -> Any:
    """Decode a request TensorProto (project class) into a numpy array.

    Fails with ``tensor parsing error: <alias>`` like TF Serving's GetInputValues.
    """
    tf_proto = tensor_pb2.TensorProto.FromString(proto.SerializeToString())
    try:
        return tf.make_ndarray(tf_proto)
    except (TypeError, ValueError, KeyError) as exc:
        raise invalid_argument(f"tensor parsing error: {alias}") from exc


def from_ndarray(value: Any, dtype: int, as_content: bool = False) -> Any:
    """Encode an output array of ``dtype`` (a DataType number) as a project TensorProto."""
    array = np.asarray(value)
    dtype = base_dtype(dtype)
    proto = protos.TensorProto(dtype=dtype)
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    if as_content and dtype != DT["DT_STRING"].number:
        proto.tensor_content = array.astype(array.dtype.newbyteorder("<")).tobytes()
        return proto
    field, convert = TYPED_FIELDS.get(dtype, (None, None))
    if field is None or convert is None:
        name = protos.DataType.values_by_number[dtype].name
        raise invalid_argument(f"Unsupported output dtype: {name}")
    getattr(proto, field).extend(convert(array))
    return proto
