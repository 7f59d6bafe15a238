"""Properties of the codec over generated values (hypothesis), for every JSON dtype and shape:

- JSON -> TensorProto -> JSON round-trips: the tensor holds the values written, and the
  answer written for it reads back as the same values (compatibility.md §§4.3, 6.2: floats
  by the float text rule, so float32 and double values come back exactly);
- the row (``instances``) and columnar (``inputs``) forms of the same batch agree, one
  input or several, and so do the row and columnar answers;
- Example features round-trip into ``tf.Example`` (compatibility.md §5).

The JSON is written here by a small writer of its own, not by the codec.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.codec.jsonparse import loads
from gateway.codec.tensor import tensor_to_ndarray
from gateway.codec.tfs.example import example_body_from_json
from gateway.codec.tfs.predict import (
    predict_body_from_json,
    predict_inputs_from_json,
    predict_response_to_json,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class DType:
    number: int
    numpy: Any  # the numpy dtype of its values; object for strings
    values: st.SearchStrategy[Any]


def _ints(bits: int, signed: bool) -> st.SearchStrategy[int]:
    low = -(2 ** (bits - 1)) if signed else 0
    high = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
    return st.integers(low, high)


DTYPES = {
    "float": DType(1, np.float32, st.floats(width=32)),
    "double": DType(2, np.float64, st.floats()),
    "int32": DType(3, np.int32, _ints(32, True)),
    "uint8": DType(4, np.uint8, _ints(8, False)),
    "int16": DType(5, np.int16, _ints(16, True)),
    "int8": DType(6, np.int8, _ints(8, True)),
    "string": DType(7, object, st.binary(max_size=12)),
    "int64": DType(9, np.int64, _ints(64, True)),
    "bool": DType(10, np.bool_, st.booleans()),
    "uint32": DType(22, np.uint32, _ints(32, False)),
    "uint64": DType(23, np.uint64, _ints(64, False)),
}

# --- an independent JSON writer ---------------------------------------------------------

_ESCAPE = re.compile(rb'["\\\x00-\x1f]')


def _string(value: bytes) -> bytes:
    return b'"' + _ESCAPE.sub(lambda m: b"\\u%04x" % m.group()[0], value) + b'"'


def write(value: Any, b64: bool = False) -> bytes:
    """JSON text; floats as Python's shortest repr (NaN/Infinity tokens), bytes as strings
    (or b64 objects), other bytes left raw (the parser does not validate UTF-8)."""
    if isinstance(value, list):
        return b"[" + b",".join(write(v, b64) for v in value) + b"]"
    if isinstance(value, dict):
        items = (_string(k.encode()) + b":" + write(v, b64) for k, v in value.items())
        return b"{" + b",".join(items) + b"}"
    if isinstance(value, bytes):
        return b'{"b64":"' + base64.b64encode(value) + b'"}' if b64 else _string(value)
    if value is None:
        return b"null"
    if isinstance(value, str):
        return _string(value.encode())
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, float):
        if math.isnan(value):
            return b"NaN"
        if math.isinf(value):
            return b"Infinity" if value > 0 else b"-Infinity"
        return repr(value).encode()
    return str(value).encode()


# --- generated tensors -------------------------------------------------------------------


@st.composite
def shapes(draw: st.DrawFn, min_rank: int = 0, batch: int | None = None) -> tuple[int, ...]:
    """Shapes JSON can hold: a zero dimension is the last (``[]`` has no inner shape)."""
    rank = draw(st.integers(min_rank, 3))
    dims: list[int] = [] if batch is None else [batch]
    for _ in range(rank - len(dims)):
        dims.append(draw(st.integers(0 if not dims or dims[-1] else 1, 3)))
        if dims[-1] == 0:
            break
    return tuple(dims)


def nest(flat: list[Any], shape: tuple[int, ...]) -> Any:
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    per = len(flat) // shape[0] if shape[0] else 0
    return [nest(flat[i * per : (i + 1) * per], shape[1:]) for i in range(shape[0])]


@st.composite
def tensors(
    draw: st.DrawFn, name: str, min_rank: int = 0, batch: int | None = None
) -> tuple[Any, np.ndarray]:
    """(nested JSON value, the numpy array it stands for)."""
    dtype = DTYPES[name]
    shape = draw(shapes(min_rank, batch))
    count = math.prod(shape)
    flat = draw(st.lists(dtype.values, min_size=count, max_size=count))
    array = np.empty(count, dtype=object)
    array[:] = flat
    return nest(flat, shape), array.astype(dtype.numpy).reshape(shape)


def same(got: np.ndarray, want: np.ndarray) -> bool:
    if got.shape != want.shape:
        return False
    if want.dtype.kind == "f":
        return bool(np.array_equal(got, want, equal_nan=True))
    return bool(np.array_equal(got, want))


def convert(body: bytes, dtypes: dict[str, int]) -> dict[str, np.ndarray]:
    tensors_, _ = predict_inputs_from_json(predict_body_from_json(body), dtypes)
    return {alias: tensor_to_ndarray(proto) for alias, proto in tensors_.items()}


def as_array(value: Any, like: np.ndarray) -> np.ndarray:
    """A parsed JSON answer back in the tensor's dtype (strings as bytes)."""
    array = np.empty(like.shape, dtype=object)
    flat = array.reshape(-1)
    flat[:] = _flatten(value, like.ndim)
    if like.dtype == object:
        return np.array(
            [v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v for v in flat],
            dtype=object,
        ).reshape(like.shape)
    return array.astype(like.dtype)


def _flatten(value: Any, rank: int) -> list[Any]:
    if rank == 0:
        return [value]
    return [leaf for item in value for leaf in _flatten(item, rank - 1)]


# --- round trips ----------------------------------------------------------------------------


@SETTINGS
@given(st.data(), st.sampled_from(sorted(DTYPES)), st.booleans())
def test_json_tensor_json_round_trip(data: st.DataObject, name: str, b64: bool) -> None:
    value, array = data.draw(tensors(name))
    dtypes = {"x_bytes" if b64 else "x": DTYPES[name].number}
    (got,) = convert(b'{"inputs":' + write(value, b64) + b"}", dtypes).values()
    assert same(got, array)
    outputs, _ = predict_inputs_from_json(
        predict_body_from_json(b'{"inputs":' + write(value, b64) + b"}"), dtypes
    )
    answer = loads(predict_response_to_json(outputs, columnar=True))["outputs"]
    if array.size:
        answer_array = as_array(_unb64(answer) if b64 and name == "string" else answer, array)
        assert same(answer_array, array)


def _unb64(value: Any) -> Any:
    if isinstance(value, list):
        return [_unb64(v) for v in value]
    return base64.b64decode(value["b64"])


@SETTINGS
@given(st.data(), st.sampled_from(sorted(DTYPES)))
def test_rows_and_columns_agree_for_one_input(data: st.DataObject, name: str) -> None:
    value, array = data.draw(tensors(name, min_rank=1, batch=data.draw(st.integers(1, 3))))
    dtypes = {"x": DTYPES[name].number}
    text = write(value)
    rows = convert(b'{"instances":' + text + b"}", dtypes)
    columns = convert(b'{"inputs":' + text + b"}", dtypes)
    assert same(rows["x"], columns["x"]) and same(rows["x"], array)


@SETTINGS
@given(st.data(), st.lists(st.sampled_from(sorted(DTYPES)), min_size=2, max_size=3))
def test_rows_and_columns_agree_for_named_inputs(data: st.DataObject, names: list[str]) -> None:
    batch = data.draw(st.integers(1, 3))
    inputs = {f"in{i}": data.draw(tensors(n, min_rank=1, batch=batch)) for i, n in enumerate(names)}
    dtypes = {alias: DTYPES[n].number for alias, n in zip(inputs, names, strict=True)}
    instances = [{alias: value[i] for alias, (value, _) in inputs.items()} for i in range(batch)]
    columns = {alias: value for alias, (value, _) in inputs.items()}
    from_rows = convert(b'{"instances":' + write(instances) + b"}", dtypes)
    from_columns = convert(b'{"inputs":' + write(columns) + b"}", dtypes)
    for alias, (_, array) in inputs.items():
        assert same(from_rows[alias], array) and same(from_columns[alias], array)
    outputs, _ = predict_inputs_from_json(
        predict_body_from_json(b'{"inputs":' + write(columns) + b"}"), dtypes
    )
    predictions = loads(predict_response_to_json(outputs, columnar=False))["predictions"]
    by_alias = loads(predict_response_to_json(outputs, columnar=True))["outputs"]
    assert len(predictions) == batch
    for alias, (_, array) in inputs.items():
        if array.size:
            rows_back = as_array([row[alias] for row in predictions], array)
            assert same(rows_back, array) and same(as_array(by_alias[alias], array), array)


# --- Example features ----------------------------------------------------------------------

FEATURE_VALUES = st.one_of(
    st.lists(_ints(64, True), max_size=4).map(lambda v: ("int64_list", v)),
    st.lists(st.floats(width=32), min_size=1, max_size=4).map(lambda v: ("float_list", v)),
    st.lists(st.binary(max_size=8), min_size=1, max_size=4).map(lambda v: ("bytes_list", v)),
)
FEATURES = st.dictionaries(st.text(min_size=1, max_size=6), FEATURE_VALUES, max_size=4)


def _feature_json(kind: str, values: list[Any], b64: bool) -> Any:
    return values if len(values) != 1 else values[0]


def _features_of(example: Any) -> dict[str, tuple[str | None, list[Any]]]:
    out = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        out[name] = (kind, list(getattr(feature, kind).value) if kind else [])
    return out


def _expected(features: dict[str, tuple[str, list[Any]]]) -> dict[str, tuple[str | None, Any]]:
    out: dict[str, tuple[str | None, Any]] = {}
    for name, (kind, values) in features.items():
        if not values:
            out[name] = (None, [])
        elif kind == "float_list":
            out[name] = (kind, np.array(values, dtype=np.float32))
        else:
            out[name] = (kind, values)
    return out


def _same_features(got: dict[str, Any], want: dict[str, Any]) -> bool:
    if got.keys() != want.keys():
        return False
    for name, (kind, values) in want.items():
        got_kind, got_values = got[name]
        if got_kind != kind:
            return False
        if isinstance(values, np.ndarray):
            if not np.array_equal(np.array(got_values, np.float32), values, equal_nan=True):
                return False
        elif got_values != values:
            return False
    return True


@SETTINGS
@given(st.lists(FEATURES, min_size=1, max_size=3), st.none() | FEATURES, st.booleans())
def test_example_features_round_trip(
    examples: list[dict[str, Any]], context: dict[str, Any] | None, b64: bool
) -> None:
    doc: dict[str, Any] = {
        "examples": [{n: _feature_json(k, v, b64) for n, (k, v) in e.items()} for e in examples]
    }
    if context is not None:
        doc["context"] = {n: _feature_json(k, v, b64) for n, (k, v) in context.items()}
    parsed = example_body_from_json(write(doc, b64))
    if context is None:
        got = parsed.input.example_list.examples
    else:
        got = parsed.input.example_list_with_context.examples
        own = _features_of(parsed.input.example_list_with_context.context)
        assert _same_features(own, _expected(context))
    assert len(got) == len(examples)
    for example, features in zip(got, examples, strict=True):
        assert _same_features(_features_of(example), _expected(features))
