"""Request protos for the ModelServer, shared by every front: the model spec,
status and metadata requests, and a PredictRequest assembled from already
converted TensorProtos (the wire format of map field 2, written directly).

A tensor may also arrive as a ``RawTensor``: dtype, shape and the buffers of its
raw little-endian elements, written as TensorProto field 4 (``tensor_content``)
without first copying them into a message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.core import protos
from gateway.core.errors import valid_text

Buffer = bytes | memoryview


@dataclass(frozen=True, slots=True)
class RawTensor:
    """A fixed-size-dtype TensorProto given as its header and its raw elements, which
    may lie in several buffers (byte-format: len() is a size in bytes)."""

    dtype: int
    shape: tuple[int, ...]
    content: tuple[Buffer, ...]

    def parts(self) -> list[Buffer]:
        head = protos.TensorProto(dtype=self.dtype)
        for size in self.shape:
            head.tensor_shape.dim.add(size=size)
        size = sum(len(part) for part in self.content)
        # Field 4 (tensor_content), length-delimited: tag 0x22.
        return [head.SerializeToString(), b"\x22", _varint(size), *self.content]


def _tensor_parts(tensor: Any) -> list[Buffer]:
    if isinstance(tensor, RawTensor):
        return tensor.parts()
    return [tensor if isinstance(tensor, bytes) else tensor.SerializeToString()]


def fill_model_spec(
    spec: Any,
    model: str,
    version: int | None = None,
    label: str | None = None,
    signature_name: str = "",
) -> None:
    # Names travel as proto3 strings: bytes that were not UTF-8 show as U+FFFD
    # (compatibility.md §10.4), and the ModelServer answers "not found" for them.
    spec.name = valid_text(model)
    if version is not None:
        spec.version.value = version
    elif label is not None:
        spec.version_label = valid_text(label)
    if signature_name:
        spec.signature_name = valid_text(signature_name)


def predict_request(
    spec: tuple[str, int | None, str | None],
    signature_name: str,
    inputs: Mapping[str, Any],
    output_filter: Sequence[str] = (),
) -> bytes:
    """Serialize a PredictRequest without first copying each input tensor into it.

    Field 2 (``inputs``) is a map: each entry is a length-delimited message with
    the key as field 1 and the TensorProto as field 2, appended after the spec
    (and the output filter, field 3). A tensor is a message, its serialized
    bytes or a ``RawTensor``. Everything is joined once, so a large tensor is
    copied once after its own serialization (a RawTensor's buffer: once in all).
    """
    head = protos.PredictRequest()
    fill_model_spec(head.model_spec, *spec, signature_name)
    head.output_filter.extend(output_filter)
    parts: list[Buffer] = [head.SerializeToString()]
    for alias, tensor in inputs.items():
        key = alias.encode()
        value = _tensor_parts(tensor)
        value_size = sum(len(part) for part in value)
        key_field = b"\x0a" + _varint(len(key)) + key
        value_head = b"\x12" + _varint(value_size)
        entry_size = len(key_field) + len(value_head) + value_size
        parts.extend((b"\x12", _varint(entry_size), key_field, value_head, *value))
    return b"".join(parts)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def metadata_request(model: str, version: int | None = None, label: str | None = None) -> bytes:
    request = protos.GetModelMetadataRequest()
    fill_model_spec(request.model_spec, model, version, label)
    request.metadata_field.append("signature_def")
    serialized: bytes = request.SerializeToString()
    return serialized


def status_request(model: str, version: int | None = None) -> bytes:
    request = protos.GetModelStatusRequest()
    request.model_spec.name = model
    if version is not None:
        request.model_spec.version.value = version
    serialized: bytes = request.SerializeToString()
    return serialized


def example_request(request: Any, spec: tuple[str, int | None, str | None], parsed: Any) -> bytes:
    """A Classification- or RegressionRequest from a parsed Example-list body."""
    fill_model_spec(request.model_spec, *spec, parsed.signature_name)
    request.input.CopyFrom(parsed.input)
    serialized: bytes = request.SerializeToString()
    return serialized
