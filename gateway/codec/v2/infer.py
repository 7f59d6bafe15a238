"""Inference requests and responses (compatibility.md §§12.4-12.6).

Request body: JSON, or, when the ``Inference-Header-Content-Length: N`` header
is present, N bytes of JSON followed by the binary parts of the inputs that
carry a ``binary_data_size`` parameter, in the order of those inputs::

    {"id": "7",                                            # optional, echoed
     "parameters": {"signature_name": "serving_default",   # optional
                    "binary_data_output": true},           # default for outputs
     "inputs": [{"name": "x", "shape": [2, 1], "datatype": "FP32", "data": [1.0, 2.0]},
                {"name": "z", "shape": [4], "datatype": "FP32",
                 "parameters": {"binary_data_size": 16}}],
     "outputs": [{"name": "y", "parameters": {"binary_data": true}}]}   # optional subset

Response body: ``{"model_name", "model_version", "id" (when given), "outputs":
[{"name", "datatype", "shape", "data"}]}``. An output sent in binary carries
``"parameters": {"binary_data_size": N}`` instead of ``data``, its bytes follow
the JSON, and the JSON's length goes back as ``Inference-Header-Content-Length``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from gateway.codec.requests import RawTensor
from gateway.codec.v2 import datatypes as dts
from gateway.codec.v2.datatypes import INT64_MAX, Datatype, Shape
from gateway.core import protos
from gateway.core.errors import Code, GatewayError, invalid_argument

HEADER_LENGTH = "Inference-Header-Content-Length"
OCTET_STREAM = "application/octet-stream"

# Parameters that name features the gateway does not implement.
_UNSUPPORTED = ("shared_memory_region", "shared_memory_byte_size", "shared_memory_offset")


@dataclass(frozen=True, slots=True)
class InferInput:
    """One input, converted: what the PredictRequest carries under its name."""

    name: str
    datatype: Datatype
    shape: Shape
    tensor: Any  # RawTensor (fixed-size types) or TensorProto (BYTES)


@dataclass(frozen=True, slots=True)
class RequestedOutput:
    name: str
    binary: bool | None  # None: the request's binary_data_output decides


@dataclass(frozen=True, slots=True)
class InferRequest:
    id: str | None
    signature_name: str
    inputs: list[InferInput]
    outputs: list[RequestedOutput]  # empty: every output of the signature
    binary_output: bool

    def output_filter(self) -> list[str]:
        return [o.name for o in self.outputs]


# ---------------------------------------------------------------------------
# request


def infer_request_from_http(chunks: Sequence[bytes], header_length: str | None) -> InferRequest:
    """Parse a request body, given in the chunks it arrived in (JSON, or JSON + binary
    parts), and convert every input; binary parts stay views of the chunks."""
    json_size = _json_size(header_length, sum(len(chunk) for chunk in chunks))
    head, rest = split_body(chunks, json_size)
    doc = _document(head)
    parameters = _parameters(doc.get("parameters"), "request")
    raw_inputs = _list(doc, "inputs", required=True)
    binaries = _binary_parts(raw_inputs, rest, header_length is not None)
    bools = _data_may_hold_bools(head, doc)
    seen: set[str] = set()
    inputs = [_input(item, binaries[index], bools, seen) for index, item in enumerate(raw_inputs)]
    return InferRequest(
        id=_optional(doc, "id", str, "request"),
        signature_name=_optional(parameters, "signature_name", str, "request parameter") or "",
        inputs=inputs,
        outputs=_outputs(_list(doc, "outputs", required=False)),
        binary_output=_optional(parameters, "binary_data_output", bool, "request parameter")
        or False,
    )


def split_body(chunks: Sequence[bytes], at: int) -> tuple[bytes, list[memoryview]]:
    """The first ``at`` bytes as one bytes object; the rest as views of the chunks."""
    head: list[bytes | memoryview] = []
    rest: list[memoryview] = []
    pos = 0
    for chunk in chunks:
        end = pos + len(chunk)
        if end <= at:
            head.append(chunk)
        elif pos >= at:
            rest.append(memoryview(chunk))
        else:
            view = memoryview(chunk)
            head.append(view[: at - pos])
            rest.append(view[at - pos :])
        pos = end
    # One whole chunk comes back as itself: a JSON body in one chunk is not copied.
    return b"".join(head), rest


def _json_size(header_length: str | None, body_size: int) -> int:
    if header_length is None:
        return body_size
    text = header_length.strip()
    if not text.isdigit() or not text.isascii():
        raise invalid_argument(f"{HEADER_LENGTH} must be a number of bytes, not {text!r}")
    size = int(text)
    if size > body_size:
        raise invalid_argument(
            f"{HEADER_LENGTH} is {size}, past the end of the {body_size}-byte body"
        )
    return size


def _document(head: bytes) -> dict[str, Any]:
    if not head:
        raise invalid_argument("The inference request is empty")
    try:
        doc = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise invalid_argument(f"The inference request is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise invalid_argument("The inference request must be a JSON object")
    return doc


def _optional(doc: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = doc.get(key)
    if value is not None and not isinstance(value, kind):
        raise invalid_argument(f"{where} '{key}' must be {_KIND_NAMES[kind]}")
    return value


_KIND_NAMES: dict[type, str] = {str: "a string", bool: "true or false"}


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_argument(f"{where} 'parameters' must be an object")
    for key in _UNSUPPORTED:
        if key in value:
            raise invalid_argument(f"{where} parameter '{key}': shared memory is not supported")
    return value


def _list(doc: Mapping[str, Any], key: str, *, required: bool) -> list[dict[str, Any]]:
    value = doc.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise invalid_argument(f"The inference request needs '{key}' as an array")
    for item in value:
        if not isinstance(item, dict):
            raise invalid_argument(f"Each of '{key}' must be an object")
    return value


def _name(item: Mapping[str, Any], what: str, seen: set[str]) -> str:
    name = item.get("name")
    if not isinstance(name, str):
        raise invalid_argument(f"Each {what} needs a 'name' string")
    if name in seen:
        raise invalid_argument(f"{what} '{name}' appears twice")
    seen.add(name)
    return name


def _binary_parts(
    inputs: list[dict[str, Any]], binary: list[memoryview], has_header: bool
) -> list[dts.Parts | None]:
    """Cut the binary data after the JSON into the parts of the inputs that announce one."""
    parts: list[dts.Parts | None] = []
    views = deque(binary)
    remaining = sum(len(view) for view in binary)
    for item in inputs:
        parameters = item.get("parameters")
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is None:
            parts.append(None)
            continue
        where = f"input '{item.get('name')}'"
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise invalid_argument(f"{where}: binary_data_size must be a byte count")
        if not has_header:
            raise invalid_argument(f"{where} has binary_data_size, but there is no {HEADER_LENGTH}")
        if size > remaining:
            raise invalid_argument(
                f"{where}: binary_data_size is {size}, but only {remaining} bytes"
                " of binary data remain"
            )
        parts.append(_take(views, size))
        remaining -= size
    if remaining:
        raise invalid_argument(
            f"{remaining} bytes of binary data follow the last input's binary data"
        )
    return parts


def _take(views: deque[memoryview], size: int) -> dts.Parts:
    """The next ``size`` bytes, as views (not copies) of the buffers they lie in."""
    taken: list[memoryview] = []
    while size:
        view = views[0]
        if len(view) <= size:
            taken.append(views.popleft())
            size -= len(view)
        else:
            taken.append(view[:size])
            views[0] = view[size:]
            size = 0
    return tuple(taken)


def _data_may_hold_bools(head: bytes, doc: dict[str, Any]) -> bool:
    """False when no true/false token sits inside any input's ``data``.

    Every boolean value is a ``true``/``false`` token in the text, so when the
    text holds no more such words than the document holds booleans outside
    the inputs' data, the data holds none (numpy would fold them into numbers).
    """
    words = head.count(b"true") + head.count(b"false")
    if words == 0:
        return False
    outside = {k: v for k, v in doc.items() if k != "inputs"}
    outside["inputs"] = [{k: v for k, v in item.items() if k != "data"} for item in doc["inputs"]]
    return words != _count_bools(outside)


def _count_bools(value: Any) -> int:
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool):
            count += 1
    return count


def _shape(value: Any, where: str) -> Shape:
    if not isinstance(value, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= INT64_MAX for d in value
    ):
        raise invalid_argument(f"{where}: 'shape' must be an array of non-negative integers")
    return tuple(value)


def _input(
    item: dict[str, Any], binary: dts.Parts | None, bools: bool, seen: set[str]
) -> InferInput:
    name = _name(item, "input", seen)
    where = f"input '{name}'"
    shape = _shape(item.get("shape"), where)
    dt = dts.datatype_named(item.get("datatype"), where)
    _parameters(item.get("parameters"), where)
    data = item.get("data")
    if binary is not None and data is not None:
        raise invalid_argument(f"{where} has both 'data' and binary_data_size")
    if binary is not None:
        elements = dts.elements_from_binary(binary, dt, shape, where)
    elif data is not None:
        elements = dts.elements_from_json(data, dt, shape, where, bools)
    else:
        raise invalid_argument(f"{where} has neither 'data' nor binary_data_size")
    return InferInput(name, dt, shape, _tensor(dt, shape, elements))


def _tensor(dt: Datatype, shape: Shape, elements: dts.Elements) -> Any:
    if isinstance(elements, list):
        proto = protos.TensorProto(dtype=dt.tf)
        for size in shape:
            proto.tensor_shape.dim.add(size=size)
        proto.string_val.extend(elements)
        return proto
    content = elements if isinstance(elements, tuple) else (_byte_view(elements),)
    return RawTensor(dt.tf, shape, content)


def _byte_view(array: np.ndarray) -> memoryview:
    """The array's bytes without a copy (it is contiguous and 1-D)."""
    return memoryview(array.data).cast("B")


def _outputs(items: list[dict[str, Any]]) -> list[RequestedOutput]:
    seen: set[str] = set()
    outputs = []
    for item in items:
        name = _name(item, "output", seen)
        where = f"output '{name}'"
        parameters = _parameters(item.get("parameters"), where)
        if "classification" in parameters:
            raise invalid_argument(f"{where}: the classification extension is not supported")
        outputs.append(RequestedOutput(name, _optional(parameters, "binary_data", bool, where)))
    return outputs


# ---------------------------------------------------------------------------
# the request against the model's signature


@dataclass(frozen=True, slots=True)
class SignatureView:
    """What a request is checked against: one signature's inputs, outputs and defaults."""

    name: str
    inputs: Mapping[str, int]  # alias -> tensorflow.DataType
    outputs: Mapping[str, int]
    defaults: Collection[str]  # inputs the signature can do without


def check_signature(request: InferRequest, signature: SignatureView) -> None:
    """400 for an input or output the signature lacks, a missing input, a datatype mismatch."""
    where = f"signature '{signature.name}'"
    for given in request.inputs:
        expected = signature.inputs.get(given.name)
        if expected is None:
            raise invalid_argument(
                f"input '{given.name}' is not an input of {where}; its inputs: "
                + _names(signature.inputs)
            )
        _check_datatype(given, expected)
    named = {given.name for given in request.inputs}
    for alias in sorted(signature.inputs):
        if alias not in named and alias not in signature.defaults:
            raise invalid_argument(f"input '{alias}' of {where} is missing from the request")
    for output in request.outputs:
        if output.name not in signature.outputs:
            raise invalid_argument(
                f"output '{output.name}' is not an output of {where}; its outputs: "
                + _names(signature.outputs)
            )


def _check_datatype(given: InferInput, expected: int) -> None:
    if given.datatype.tf == expected or dts.BY_TF.get(expected) is given.datatype:
        return
    row = dts.BY_TF.get(expected)
    wanted = f"{row.name} ({row.tf_name})" if row else f"{dts.tf_type_name(expected)}"
    raise invalid_argument(
        f"input '{given.name}' has datatype {given.datatype.name}, but the model expects {wanted}"
    )


def _names(names: Collection[str]) -> str:
    return ", ".join(sorted(names)) or "none"


# ---------------------------------------------------------------------------
# response


def infer_response_to_http(
    response: Any, request: InferRequest, model_name: str
) -> tuple[bytes, int | None]:
    """(body, JSON length when binary parts follow it, else None)."""
    outputs = response.outputs
    wanted = request.outputs or [RequestedOutput(n, None) for n in sorted(outputs)]
    entries: list[dict[str, Any]] = []
    parts: list[bytes] = []
    for output in wanted:
        proto = outputs.get(output.name)
        if proto is None:
            raise GatewayError(Code.INTERNAL, f"The ModelServer sent no output '{output.name}'")
        binary = request.binary_output if output.binary is None else output.binary
        entries.append(_output_entry(output.name, proto, binary, parts))
    head: dict[str, Any] = {
        "model_name": model_name,
        "model_version": str(response.model_spec.version.value),
    }
    if request.id is not None:
        head["id"] = request.id
    head["outputs"] = entries
    text = orjson.dumps(head, option=orjson.OPT_SERIALIZE_NUMPY)
    if not parts:
        return text, None
    return b"".join((text, *parts)), len(text)


def _output_entry(name: str, proto: Any, binary: bool, parts: list[bytes]) -> dict[str, Any]:
    where = f"output '{name}'"
    dt = dts.datatype_of_tf(proto.dtype, where)
    entry: dict[str, Any] = {
        "name": name,
        "datatype": dt.name,
        "shape": list(dts.tensor_shape(proto)),
    }
    if binary:
        data = dts.elements_to_binary(proto, dt)
        entry["parameters"] = {"binary_data_size": len(data)}
        parts.append(data)
    else:
        entry["data"] = dts.elements_to_json(proto, dt, where)
    return entry
