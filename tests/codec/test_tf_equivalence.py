"""The gateway's request tensors equal what tf.make_tensor_proto builds from the same data.

TensorFlow is imported here only (tests may use it; the gateway never does).
Both protos are compared through tf.make_ndarray after parsing the gateway's
bytes with TensorFlow's own TensorProto class, which also proves wire compatibility.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2

from gateway.codec.tfs.predict import predict_body_from_json, predict_inputs_from_json

DTYPES = {"float32": 1, "float64": 2, "int32": 3, "uint8": 4, "int16": 5, "int8": 6,
          "string": 7, "int64": 9, "bool": 10, "uint32": 22, "uint64": 23}  # fmt: skip

CASES: list[tuple[str, str]] = [
    ("float32", "[[0.1, 0.2, 0.3], [1e-8, -2.5, 3e38]]"),
    ("float32", "[1, 2, 1435774380]"),
    ("float32", "[NaN, Infinity, -Infinity]"),
    ("float64", "[[0.3333333333333333, 1e300], [-0.0, 5e-324]]"),
    ("int32", "[[1, -2], [2147483647, -2147483648]]"),
    ("int16", "[1, -300]"),
    ("int8", "[[1], [-7]]"),
    ("uint8", "[0, 255]"),
    ("int64", "[9007199254740993, -9223372036854775808]"),
    ("uint32", "[0, 4294967295]"),
    ("uint64", "[18446744073709551615]"),
    ("bool", "[[true, false], [false, true]]"),
    ("string", '["a", "\u00e9", ""]'),
    ("float32", "[[[0.5]]]"),
    ("float32", "2.5"),
    ("float32", "[[], []]"),
]
PARAMS = [(d, t, c) for d, t in CASES for c in (True, False) if c or t.startswith("[")]


def _gateway_array(text: str, dtype: str, columnar: bool) -> np.ndarray:
    key = "inputs" if columnar else "instances"
    body = f'{{"{key}": {text}}}'.encode()
    tensors, _ = predict_inputs_from_json(predict_body_from_json(body), {"x": DTYPES[dtype]})
    official = tensor_pb2.TensorProto.FromString(tensors["x"].SerializeToString())
    return tf.make_ndarray(official)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("dtype", "text", "columnar"), PARAMS)
def test_same_tensor_as_make_tensor_proto(dtype: str, text: str, columnar: bool) -> None:
    data = json.loads(text)  # Python's json reads NaN/Infinity like the gateway does
    expected = tf.make_ndarray(tf.make_tensor_proto(data, dtype=getattr(tf, dtype)))
    got = _gateway_array(text, dtype, columnar)
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    if dtype == "string":
        assert got.tolist() == expected.tolist()
    else:
        np.testing.assert_array_equal(got, expected)
