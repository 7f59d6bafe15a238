"""Table tests for the V2 codec (compatibility.md §12): every datatype both ways,
as JSON and as binary data, with the bodies a real V2 client library
(tritonclient) writes and reads; then every error a request can earn."""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np
import orjson
import pytest
from tritonclient.http import InferenceServerClient, InferInput, InferRequestedOutput

from gateway.codec.requests import predict_request
from gateway.codec.tensor import tensor_to_ndarray
from gateway.codec.v2 import datatypes, model
from gateway.codec.v2.infer import (
    InferRequest,
    SignatureView,
    check_signature,
    infer_request_from_http,
    infer_response_to_http,
)
from gateway.core import protos
from gateway.core.errors import Code, GatewayError

# One array per datatype, shape [2, 2]: extremes, signs, zeros, non-ASCII bytes.
ARRAYS: dict[str, np.ndarray] = {
    "BOOL": np.array([[True, False], [False, True]]),
    "UINT8": np.array([[0, 255], [1, 7]], np.uint8),
    "UINT16": np.array([[0, 65535], [1, 7]], np.uint16),
    "UINT32": np.array([[0, 2**32 - 1], [1, 7]], np.uint32),
    "UINT64": np.array([[0, 2**64 - 1], [1, 7]], np.uint64),
    "INT8": np.array([[-128, 127], [0, -1]], np.int8),
    "INT16": np.array([[-(2**15), 2**15 - 1], [0, -1]], np.int16),
    "INT32": np.array([[-(2**31), 2**31 - 1], [0, -1]], np.int32),
    "INT64": np.array([[-(2**63), 2**63 - 1], [0, -1]], np.int64),
    "FP16": np.array([[1.5, -2.0], [65504.0, 6.1035e-05]], np.float16),
    "FP32": np.array([[0.1, -3.5], [1e30, 0.0]], np.float32),
    "FP64": np.array([[0.1, 1e300], [-0.0, 5e-324]], np.float64),
    "BF16": np.array([[1.0, -2.5], [3.140625, 1e38]], ml_dtypes.bfloat16),
    "BYTES": np.array([[b"a", b""], ["h\u00e9llo".encode(), b"\x00\xff"]], dtype=object),
}
TF_OF = {name: row.tf for name, row in datatypes.BY_NAME.items()}
SPEC = ("m", None, None)


def parse(body: bytes, header: str | None, chunk: int = 0) -> InferRequest:
    """Parse a body that arrived in one piece, or in pieces of ``chunk`` bytes."""
    step = chunk or max(len(body), 1)
    return infer_request_from_http([body[i : i + step] for i in range(0, len(body), step)], header)


def client_body(datatype: str, array: np.ndarray, binary: bool) -> tuple[bytes, str | None]:
    """The body tritonclient sends for one input ``x`` (and its header length)."""
    given = InferInput("x", list(array.shape), datatype)
    given.set_data_from_numpy(array, binary_data=binary)
    outputs = [InferRequestedOutput("y", binary_data=binary)]
    body, json_size = InferenceServerClient.generate_request_body([given], outputs=outputs)
    return body, None if json_size is None else str(json_size)


def sent_to_modelserver(body: bytes, header: str | None = None, chunk: int = 0) -> Any:
    """The PredictRequest the gateway would send, parsed back."""
    request = parse(body, header, chunk)
    inputs = {given.name: given.tensor for given in request.inputs}
    wire = predict_request(SPEC, request.signature_name, inputs, request.output_filter())
    return protos.PredictRequest.FromString(wire)


def as_sent(array: np.ndarray, datatype: str) -> np.ndarray:
    """What the ModelServer should find: the same elements in TF's representation."""
    if datatype == "BF16":
        return array.view(np.uint16)
    return array


def assert_same(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape
    if expected.dtype == object:
        assert got.tolist() == expected.tolist()
    else:
        assert got.dtype == expected.dtype
        assert got.tobytes() == expected.tobytes()


# --- requests -----------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [0, 3, 50], ids=["one-piece", "3-byte-chunks", "50-byte-chunks"])
@pytest.mark.parametrize("datatype", sorted(ARRAYS))
def test_binary_inputs_reach_the_modelserver_unchanged(datatype: str, chunk: int) -> None:
    array = ARRAYS[datatype]
    body, header = client_body(datatype, array, binary=True)
    assert header is not None
    sent = sent_to_modelserver(body, header, chunk)
    tensor = sent.inputs["x"]
    assert tensor.dtype == TF_OF[datatype]
    assert [d.size for d in tensor.tensor_shape.dim] == [2, 2]
    assert_same(tensor_to_ndarray(tensor), as_sent(array, datatype))
    assert list(sent.output_filter) == ["y"]


# tritonclient refuses BF16 as JSON and non-UTF-8 BYTES as JSON: those rows are written here.
JSON_BY_HAND = {
    "BF16": [[1.0, -2.5], [3.140625, 1e38]],
    "BYTES": [["a", ""], ["h\u00e9llo", "\u00ff"]],
}


@pytest.mark.parametrize("datatype", sorted(ARRAYS))
def test_json_inputs_reach_the_modelserver_unchanged(datatype: str) -> None:
    array = ARRAYS[datatype]
    if datatype in JSON_BY_HAND:
        doc = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": datatype}]}
        doc["inputs"][0]["data"] = JSON_BY_HAND[datatype]
        body, header = orjson.dumps(doc), None
    else:
        body, header = client_body(datatype, array, binary=False)
    assert header is None
    expected = as_sent(array, datatype)
    if datatype == "BYTES":
        expected = np.array([[b"a", b""], ["h\u00e9llo".encode(), "\u00ff".encode()]], object)
    assert_same(tensor_to_ndarray(sent_to_modelserver(body).inputs["x"]), expected)


def test_nested_and_flat_json_data_are_the_same_tensor() -> None:
    def doc(data: Any) -> bytes:
        return orjson.dumps(
            {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "INT32", "data": data}]}
        )

    flat = sent_to_modelserver(doc([1, 2, 3, 4, 5, 6])).inputs["x"]
    nested = sent_to_modelserver(doc([[1, 2, 3], [4, 5, 6]])).inputs["x"]
    assert flat == nested
    assert tensor_to_ndarray(flat).tolist() == [[1, 2, 3], [4, 5, 6]]


def test_nesting_deeper_than_numpy_goes() -> None:
    data: Any = [2.0]
    for _ in range(99):
        data = [data]
    sent = sent_to_modelserver(one("FP32", [1] * 100, data)).inputs["x"]
    assert len(sent.tensor_shape.dim) == 100
    assert np.frombuffer(sent.tensor_content, "<f4").tolist() == [2.0]
    with pytest.raises(GatewayError, match="not as shape"):
        parse(one("FP32", [1] * 99, data), None)


def test_booleans_outside_the_data_do_not_slow_or_break_numbers() -> None:
    body = orjson.dumps(
        {
            "parameters": {"binary_data_output": True},
            "inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1, 2.5]}],
            "outputs": [{"name": "y", "parameters": {"binary_data": False}}],
        }
    )
    request = parse(body, None)
    assert request.binary_output is True and request.outputs[0].binary is False
    assert tensor_to_ndarray(sent_to_modelserver(body).inputs["x"]).tolist() == [1.0, 2.5]


def test_json_request_fields() -> None:
    body = orjson.dumps(
        {
            "id": "req-7",
            "parameters": {"signature_name": "other", "priority": 3},
            "inputs": [{"name": "x", "shape": [0], "datatype": "FP32", "data": []}],
            "outputs": [{"name": "b"}, {"name": "a"}],
        }
    )
    request = parse(body, None)
    assert request.id == "req-7"
    assert request.signature_name == "other"
    assert request.output_filter() == ["b", "a"]
    assert request.binary_output is False
    sent = sent_to_modelserver(body)
    assert sent.model_spec.signature_name == "other"
    assert tensor_to_ndarray(sent.inputs["x"]).shape == (0,)


def test_binary_and_json_inputs_mix_in_order() -> None:
    a = InferInput("a", [2], "FP32").set_data_from_numpy(np.array([1, 2], np.float32))
    b = InferInput("b", [1], "INT64").set_data_from_numpy(np.array([9]), binary_data=False)
    c = InferInput("c", [2], "BYTES").set_data_from_numpy(np.array([b"xy", b"z"], object))
    body, json_size = InferenceServerClient.generate_request_body([a, b, c])
    sent = sent_to_modelserver(body, str(json_size))
    assert tensor_to_ndarray(sent.inputs["a"]).tolist() == [1.0, 2.0]
    assert tensor_to_ndarray(sent.inputs["b"]).tolist() == [9]
    assert tensor_to_ndarray(sent.inputs["c"]).tolist() == [b"xy", b"z"]


def test_binary_inputs_are_not_copied_before_the_final_join() -> None:
    array = np.arange(1000, dtype=np.float32)
    body, header = client_body("FP32", array, binary=True)
    assert header is not None
    json_size = int(header)
    chunks = [body[:100], body[100 : json_size + 1000], body[json_size + 1000 :]]
    request = infer_request_from_http(chunks, header)
    content = request.inputs[0].tensor.content
    assert [view.obj for view in content] == chunks[1:]
    assert b"".join(content) == array.tobytes()


# --- request errors -----------------------------------------------------------------------


def one(datatype: str, shape: list[int], data: Any, **extra: Any) -> bytes:
    given = {"name": "x", "shape": shape, "datatype": datatype, "data": data, **extra}
    return orjson.dumps({"inputs": [given]})


def binary(size: int, payload: bytes, datatype: str = "FP32", shape: Any = None) -> bytes:
    given = {
        "name": "x",
        "shape": shape if shape is not None else [size // 4],
        "datatype": datatype,
        "parameters": {"binary_data_size": size},
    }
    return orjson.dumps({"inputs": [given]}) + payload


def header_of(body: bytes) -> str:
    return str(body.index(b"}]}") + 3)


REQUEST_ERRORS: list[tuple[str, bytes, str | None, str]] = [
    # (case, body, Inference-Header-Content-Length, message fragment)
    ("empty body", b"", None, "The inference request is empty"),
    ("not JSON", b"{nope", None, "not valid JSON"),
    ("not an object", b"[1]", None, "must be a JSON object"),
    ("no inputs", b"{}", None, "needs 'inputs' as an array"),
    ("inputs not objects", b'{"inputs": [1]}', None, "Each of 'inputs' must be an object"),
    ("id not a string", b'{"id": 7, "inputs": []}', None, "'id' must be a string"),
    (
        "signature_name not a string",
        b'{"parameters": {"signature_name": 1}, "inputs": []}',
        None,
        "'signature_name' must be a string",
    ),
    (
        "binary_data_output not a bool",
        b'{"parameters": {"binary_data_output": 1}, "inputs": []}',
        None,
        "'binary_data_output' must be true or false",
    ),
    ("input without name", b'{"inputs": [{"shape": [1]}]}', None, "needs a 'name' string"),
    (
        "duplicate input",
        b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]},'
        b' {"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}',
        None,
        "input 'x' appears twice",
    ),
    ("negative shape", one("FP32", [-1], [1]), None, "'shape' must be an array of non-negative"),
    ("shape of floats", one("FP32", [1.0], [1]), None, "'shape' must be an array of non-negative"),
    ("unknown datatype", one("FLOAT", [1], [1]), None, 'unknown datatype "FLOAT"; known: BOOL'),
    (
        "no data",
        orjson.dumps({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]}),
        None,
        "has neither 'data' nor binary_data_size",
    ),
    ("data not an array", one("FP32", [1], 1.0), None, "'data' must be an array"),
    (
        "too few elements",
        one("FP32", [3], [1, 2]),
        None,
        "shape [3] has 3 elements, but 'data' has 2",
    ),
    (
        "too many elements",
        one("FP32", [1], [1, 2]),
        None,
        "shape [1] has 1 elements, but 'data' has 2",
    ),
    (
        "wrong nesting",
        one("FP32", [2, 3], [[1, 2], [3, 4], [5, 6]]),
        None,
        "'data' is nested as [3,2], not as shape [2,3]",
    ),
    ("ragged", one("FP32", [2, 2], [[1, 2], [3]]), None, "not a regular nested array"),
    ("ragged depth", one("FP32", [2], [1, [2]]), None, "not a regular nested array"),
    ("bool in FP32", one("FP32", [2], [1.0, True]), None, "FP32 data holds true, not a number"),
    (
        "bool in FP32 beside a bool parameter",
        orjson.dumps(
            {
                "parameters": {"binary_data_output": True},
                "inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1.0, True]}],
            }
        ),
        None,
        "FP32 data holds true, not a number",
    ),
    ("string in FP32", one("FP32", [2], [1.0, "2"]), None, 'FP32 data holds "2", not a number'),
    ("null in FP64", one("FP64", [1], [None]), None, "FP64 data holds null, not a number"),
    ("float in INT32", one("INT32", [2], [1, 2.5]), None, "INT32 data holds 2.5, not an integer"),
    ("bool in INT64", one("INT64", [2], [1, False]), None, "INT64 data holds false, not a number"),
    ("INT8 overflow", one("INT8", [2], [1, 300]), None, "300 is out of range for INT8"),
    ("UINT8 negative", one("UINT8", [1], [-1]), None, "-1 is out of range for UINT8"),
    ("UINT64 negative", one("UINT64", [2], [-1, 2**63]), None, "-1 is out of range for UINT64"),
    ("INT64 too big", one("INT64", [1], [2**63]), None, "9223372036854775808 is out of range"),
    ("FP16 overflow", one("FP16", [1], [1e6]), None, "a value is out of range for FP16"),
    ("FP32 overflow", one("FP32", [1], [1e39]), None, "a value is out of range for FP32"),
    ("BF16 overflow", one("BF16", [1], [1e39]), None, "a value is out of range for BF16"),
    ("number for BOOL", one("BOOL", [2], [1, 0]), None, "BOOL data holds 1; use true or false"),
    (
        "number in BYTES",
        one("BYTES", [2], ["a", 1]),
        None,
        "BYTES data holds 1, which is not a string",
    ),
    ("header not a number", one("FP32", [1], [1]), "12ab", "must be a number of bytes"),
    ("header past the body", one("FP32", [1], [1]), "4096", "is 4096, past the end of the"),
    ("binary without header", binary(8, b""), None, "there is no Inference-Header-Content-Length"),
    ("too few bytes", binary(8, b"\0" * 4), "HEADER", "binary_data_size is 8, but only 4 bytes"),
    ("trailing bytes", binary(8, b"\0" * 12), "HEADER", "4 bytes of binary data follow the last"),
    ("size not a count", binary(-4, b""), "HEADER", "binary_data_size must be a byte count"),
    (
        "size vs shape",
        binary(8, b"\0" * 8, shape=[3]),
        "HEADER",
        "binary_data_size is 8 bytes, but shape [3] of FP32 takes 12",
    ),
    (
        "bytes run out",
        binary(6, b"\x05\0\0\0ab", "BYTES", [1]),
        "HEADER",
        "BYTES element 0 claims 5 bytes, but 2 remain",
    ),
    (
        "too few BYTES",
        binary(5, b"\x01\0\0\0a", "BYTES", [2]),
        "HEADER",
        "binary BYTES data ends after 1 of 2 elements",
    ),
    (
        "left over BYTES",
        binary(7, b"\x01\0\0\0abc", "BYTES", [1]),
        "HEADER",
        "2 bytes follow the 1 BYTES elements",
    ),
    (
        "both data and binary",
        orjson.dumps(
            {
                "inputs": [
                    {
                        "name": "x",
                        "shape": [1],
                        "datatype": "FP32",
                        "data": [1],
                        "parameters": {"binary_data_size": 4},
                    }
                ]
            }
        )
        + b"\0" * 4,
        "HEADER",
        "has both 'data' and binary_data_size",
    ),
    (
        "shared memory",
        one("FP32", [1], [1], parameters={"shared_memory_region": "r"}),
        None,
        "shared memory is not supported",
    ),
    (
        "classification",
        orjson.dumps(
            {"inputs": [], "outputs": [{"name": "y", "parameters": {"classification": 3}}]}
        ),
        None,
        "the classification extension is not supported",
    ),
    (
        "duplicate output",
        orjson.dumps({"inputs": [], "outputs": [{"name": "y"}, {"name": "y"}]}),
        None,
        "output 'y' appears twice",
    ),
    (
        "binary_data not a bool",
        orjson.dumps({"inputs": [], "outputs": [{"name": "y", "parameters": {"binary_data": 1}}]}),
        None,
        "output 'y' 'binary_data' must be true or false",
    ),
]


@pytest.mark.parametrize("chunk", [0, 5], ids=["one-piece", "5-byte-chunks"])
@pytest.mark.parametrize(
    ("body", "header", "fragment"),
    [case[1:] for case in REQUEST_ERRORS],
    ids=[case[0] for case in REQUEST_ERRORS],
)
def test_bad_requests_are_400_with_a_clear_message(
    body: bytes, header: str | None, fragment: str, chunk: int
) -> None:
    if header == "HEADER":
        header = header_of(body)
    with pytest.raises(GatewayError) as caught:
        parse(body, header, chunk)
    assert caught.value.code == Code.INVALID_ARGUMENT
    assert fragment in caught.value.message


# --- the request against the signature ----------------------------------------------------

SIGNATURE = SignatureView(
    "serving_default",
    inputs={"x": 1, "mask": 10, "opt": 3},  # DT_FLOAT, DT_BOOL, DT_INT32
    outputs={"y": 1, "z": 101},  # DT_FLOAT, DT_FLOAT_REF
    defaults={"opt"},
)


def request_of(*inputs: tuple[str, str], outputs: tuple[str, ...] = ()) -> Any:
    doc = {
        "inputs": [{"name": n, "shape": [1], "datatype": d, "data": [0]} for n, d in inputs],
        "outputs": [{"name": n} for n in outputs],
    }
    for item in doc["inputs"]:
        if item["datatype"] == "BOOL":
            item["data"] = [True]
    return parse(orjson.dumps(doc), None)


def test_a_matching_request_passes() -> None:
    check_signature(request_of(("x", "FP32"), ("mask", "BOOL"), outputs=("z",)), SIGNATURE)


SIGNATURE_ERRORS = [
    (
        request_of(("x", "FP64"), ("mask", "BOOL")),
        "input 'x' has datatype FP64, but the model expects FP32 (DT_FLOAT)",
    ),
    (request_of(("x", "FP32")), "input 'mask' of signature 'serving_default' is missing"),
    (
        request_of(("x", "FP32"), ("mask", "BOOL"), ("w", "FP32")),
        "input 'w' is not an input of signature 'serving_default'; its inputs: mask, opt, x",
    ),
    (
        request_of(("x", "FP32"), ("mask", "BOOL"), outputs=("q",)),
        "output 'q' is not an output of signature 'serving_default'; its outputs: y, z",
    ),
]


@pytest.mark.parametrize(("request_", "fragment"), SIGNATURE_ERRORS)
def test_signature_mismatches_are_400(request_: Any, fragment: str) -> None:
    with pytest.raises(GatewayError) as caught:
        check_signature(request_, SIGNATURE)
    assert caught.value.code == Code.INVALID_ARGUMENT
    assert fragment in caught.value.message


def test_a_type_v2_cannot_carry_is_named() -> None:
    view = SignatureView("s", {"x": 8}, {}, ())  # DT_COMPLEX64
    with pytest.raises(GatewayError, match="expects DT_COMPLEX64"):
        check_signature(request_of(("x", "FP32")), view)


# --- responses ----------------------------------------------------------------------------

TYPED_FIELDS = {
    "BOOL": "bool_val",
    "UINT8": "int_val",
    "UINT16": "int_val",
    "UINT32": "uint32_val",
    "UINT64": "uint64_val",
    "INT8": "int_val",
    "INT16": "int_val",
    "INT32": "int_val",
    "INT64": "int64_val",
    "FP16": "half_val",
    "FP32": "float_val",
    "FP64": "double_val",
    "BF16": "half_val",
    "BYTES": "string_val",
}


def tensor_proto(datatype: str, array: np.ndarray, content: bool) -> Any:
    """A TensorProto as a ModelServer writes it: typed fields or tensor_content."""
    proto = protos.TensorProto(dtype=TF_OF[datatype])
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    values = as_sent(array, datatype).reshape(-1)
    if datatype == "BYTES":
        proto.string_val.extend(values.tolist())
    elif content:
        proto.tensor_content = values.tobytes()
    elif datatype == "FP16":
        proto.half_val.extend(values.view(np.uint16).tolist())
    else:
        getattr(proto, TYPED_FIELDS[datatype]).extend(values.tolist())
    return proto


def answer(datatype: str, array: np.ndarray, content: bool) -> Any:
    response = protos.PredictResponse()
    response.model_spec.name = "m"
    response.model_spec.version.value = 3
    response.outputs["y"].CopyFrom(tensor_proto(datatype, array, content))
    return response


def client_result(body: bytes, json_size: int | None) -> Any:
    return InferenceServerClient.parse_response_body(body, header_length=json_size)


@pytest.mark.parametrize("content", [False, True], ids=["typed", "tensor_content"])
@pytest.mark.parametrize("datatype", sorted(ARRAYS))
def test_binary_outputs_read_back_in_the_client(datatype: str, content: bool) -> None:
    array = ARRAYS[datatype]
    body, header = client_body(datatype, array, binary=True)
    request = parse(body, header)
    answer_body, json_size = infer_response_to_http(answer(datatype, array, content), request, "m")
    assert json_size is not None
    result = client_result(answer_body, json_size)
    assert result.get_output("y")["datatype"] == datatype
    assert_same(result.as_numpy("y"), array)


JSON_OUT_ARRAYS = {**ARRAYS, "BYTES": np.array([["a", ""], ["h\u00e9llo", "z"]], dtype=object)}


@pytest.mark.parametrize("datatype", sorted(ARRAYS))
def test_json_outputs_read_back_in_the_client(datatype: str) -> None:
    array = JSON_OUT_ARRAYS[datatype]
    sent = array if datatype != "BYTES" else np.vectorize(str.encode, otypes=[object])(array)
    request = parse(b'{"inputs": [], "outputs": [{"name": "y"}]}', None)
    answer_body, json_size = infer_response_to_http(answer(datatype, sent, False), request, "m")
    assert json_size is None
    result = client_result(answer_body, None)
    got = result.as_numpy("y")
    if datatype == "BYTES":
        assert got.tolist() == array.tolist()
    else:
        assert_same(got, array)


def test_response_fields_and_output_order() -> None:
    response = answer("FP32", np.zeros((1, 2), np.float32), False)
    response.outputs["a"].CopyFrom(tensor_proto("INT32", np.array([5], np.int32), False))
    everything = parse(b'{"id": "q", "inputs": []}', None)
    doc = orjson.loads(infer_response_to_http(response, everything, "model-x")[0])
    assert doc == {
        "model_name": "model-x",
        "model_version": "3",
        "id": "q",
        "outputs": [
            {"name": "a", "datatype": "INT32", "shape": [1], "data": [5]},
            {"name": "y", "datatype": "FP32", "shape": [1, 2], "data": [0.0, 0.0]},
        ],
    }
    chosen = parse(
        b'{"inputs": [], "outputs": [{"name": "y", "parameters": {"binary_data": true}},'
        b' {"name": "a"}], "parameters": {"binary_data_output": false}}',
        None,
    )
    body, json_size = infer_response_to_http(response, chosen, "m")
    assert json_size is not None
    head = orjson.loads(body[:json_size])
    assert "id" not in head
    assert [o["name"] for o in head["outputs"]] == ["y", "a"]
    assert head["outputs"][0]["parameters"] == {"binary_data_size": 8}
    assert body[json_size:] == b"\0" * 8


def test_outputs_v2_cannot_write_are_refused() -> None:
    request = parse(b'{"inputs": []}', None)
    response = protos.PredictResponse()
    response.outputs["y"].string_val.append(b"\xff")
    response.outputs["y"].dtype = 7
    with pytest.raises(GatewayError, match="not UTF-8; ask for it with binary_data") as caught:
        infer_response_to_http(response, request, "m")
    assert caught.value.code == Code.INVALID_ARGUMENT
    response.outputs["y"].dtype = 8  # DT_COMPLEX64
    with pytest.raises(GatewayError, match="DT_COMPLEX64, which V2 cannot carry") as caught:
        infer_response_to_http(response, request, "m")
    assert caught.value.code == Code.UNIMPLEMENTED
    asked = parse(b'{"inputs": [], "outputs": [{"name": "q"}]}', None)
    with pytest.raises(GatewayError) as caught:
        infer_response_to_http(response, asked, "m")
    assert caught.value.code == Code.INTERNAL


def test_ref_dtypes_read_as_their_base_type() -> None:
    assert datatypes.BY_TF[101] is datatypes.BY_NAME["FP32"]  # DT_FLOAT_REF
    assert datatypes.BY_TF[107] is datatypes.BY_NAME["BYTES"]  # DT_STRING_REF


# --- metadata, readiness, index -----------------------------------------------------------


def metadata_response() -> Any:
    sigmap = protos.SignatureDefMap()
    sig = sigmap.signature_def["serving_default"]
    sig.inputs["x"].dtype = 1
    sig.inputs["x"].tensor_shape.dim.add(size=-1)
    sig.inputs["x"].tensor_shape.dim.add(size=3)
    sig.inputs["any"].dtype = 7  # no tensor_shape at all: unknown
    sig.outputs["y"].dtype = 8
    sig.outputs["y"].tensor_shape.unknown_rank = True
    sigmap.signature_def["other"].outputs["z"].dtype = 9
    sigmap.signature_def["other"].outputs["z"].tensor_shape.SetInParent()  # a scalar
    response = protos.GetModelMetadataResponse()
    response.metadata["signature_def"].Pack(sigmap)
    return response


def test_model_metadata() -> None:
    doc = orjson.loads(model.model_metadata_to_json("m", ["1", "2"], metadata_response(), ""))
    assert doc == {
        "name": "m",
        "versions": ["1", "2"],
        "platform": "tensorflow_savedmodel",
        "inputs": [
            {"name": "any", "datatype": "BYTES", "shape": [-1]},
            {"name": "x", "datatype": "FP32", "shape": [-1, 3]},
        ],
        "outputs": [{"name": "y", "datatype": "DT_COMPLEX64", "shape": [-1]}],
    }
    other = orjson.loads(model.model_metadata_to_json("m", [], metadata_response(), "other"))
    assert other["inputs"] == []
    assert other["outputs"] == [{"name": "z", "datatype": "INT64", "shape": []}]


def test_model_metadata_of_a_missing_signature_names_the_others() -> None:
    with pytest.raises(GatewayError) as caught:
        model.model_metadata_to_json("m", [], metadata_response(), "nope")
    assert caught.value.code == Code.INVALID_ARGUMENT
    assert caught.value.message == (
        "model 'm' has no signature 'nope'; its signatures: other, serving_default"
        " (pick one with the signature_name parameter)"
    )


def status_response(*states: tuple[int, str]) -> Any:
    response = protos.GetModelStatusResponse()
    for version, state in states:
        response.model_version_status.add(
            version=version, state=protos.ModelState.values_by_name[state].number
        )
    return response


def test_versions_and_states() -> None:
    status = status_response((1, "END"), (2, "AVAILABLE"), (3, "LOADING"))
    assert model.available_versions(status) == ["2"]
    assert model.version_states(status) == {"1": "END", "2": "AVAILABLE", "3": "LOADING"}


def test_repository_index_in_tritons_words() -> None:
    models = {
        "b": {"backend": "default", "versions": [{"version": "1", "state": "AVAILABLE"}]},
        "a": {
            "backend": "default",
            "versions": [
                {"version": "1", "state": "END"},
                {"version": "2", "state": "LOADING"},
                {"version": "3", "state": "UNLOADING"},
            ],
        },
        "c": {"backend": "gpu", "error": "Servable not found", "code": "NOT_FOUND"},
    }
    assert orjson.loads(model.repository_index_to_json(models, ready_only=False)) == [
        {"name": "a", "version": "1", "state": "UNAVAILABLE"},
        {"name": "a", "version": "2", "state": "LOADING"},
        {"name": "a", "version": "3", "state": "UNLOADING"},
        {"name": "b", "version": "1", "state": "READY"},
        {"name": "c", "state": "UNAVAILABLE", "reason": "Servable not found"},
    ]
    assert orjson.loads(model.repository_index_to_json(models, ready_only=True)) == [
        {"name": "b", "version": "1", "state": "READY"}
    ]


@pytest.mark.parametrize(
    ("body", "ready"), [(b"", False), (b" ", False), (b"{}", False), (b'{"ready": true}', True)]
)
def test_index_requests(body: bytes, ready: bool) -> None:
    assert model.index_request_from_json(body) is ready


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"ready": 1}'])
def test_bad_index_requests(body: bytes) -> None:
    with pytest.raises(GatewayError) as caught:
        model.index_request_from_json(body)
    assert caught.value.code == Code.INVALID_ARGUMENT
