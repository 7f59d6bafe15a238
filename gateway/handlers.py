"""One handler per endpoint, each in four steps: URL (already parsed), decode
JSON, call the ModelServer, encode JSON. The order of the checks is TF
Serving's (spec section 2): JSON and ``signature_name`` first, then the model
lookup, then the conversion of the inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway import protos
from gateway.client import ModelServerClient
from gateway.codec import example as example_codec
from gateway.codec import predict as predict_codec
from gateway.codec import status as status_codec
from gateway.errors import Code, GatewayError
from gateway.signatures import DEFAULT_SIGNATURE, ModelSignatures, SignatureCache, SpecKey
from gateway.urls import METADATA, POST_VERBS, STATUS, Target

# Errors after which a predict is retried once with freshly fetched signatures,
# in case the cached ones described another model version.
_STALE_SUSPECTS = frozenset({Code.INVALID_ARGUMENT, Code.FAILED_PRECONDITION, Code.NOT_FOUND})


@dataclass(frozen=True, slots=True)
class Call:
    """Per-request context the handlers pass down to the ModelServer client."""

    request_id: str | None = None
    timeout_s: float | None = None

    def kwargs(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "timeout_s": self.timeout_s}


def spec_key(target: Target) -> SpecKey:
    return (target.model, target.version, target.label)


def fill_model_spec(spec: Any, target: Target, signature_name: str = "") -> None:
    spec.name = target.model
    if target.version is not None:
        spec.version.value = target.version
    elif target.label is not None:
        spec.version_label = target.label
    if signature_name:
        spec.signature_name = signature_name


def encode_predict_request(target: Target, signature_name: str, inputs: Mapping[str, Any]) -> bytes:
    """Serialize a PredictRequest without copying each input tensor into it first.

    Field 2 (``inputs``) is a map: each entry is a length-delimited message with
    the key as field 1 and the TensorProto as field 2, appended after the spec.
    """
    head = protos.PredictRequest()
    fill_model_spec(head.model_spec, target, signature_name)
    parts = [head.SerializeToString()]
    for alias, tensor in inputs.items():
        key = alias.encode()
        value = tensor.SerializeToString()
        entry = b"".join((b"\x0a", _varint(len(key)), key, b"\x12", _varint(len(value)), value))
        parts.extend((b"\x12", _varint(len(entry)), entry))
    return b"".join(parts)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class Handlers:
    """The endpoints, over one ModelServer client and its signature cache."""

    def __init__(self, client: ModelServerClient, signature_ttl_s: float) -> None:
        self.client = client
        self.signatures = SignatureCache(self._fetch_metadata, signature_ttl_s)

    async def _fetch_metadata(self, key: SpecKey) -> Any:
        model, version, label = key
        return await self.client.get_model_metadata(
            metadata_request(Target(model, "metadata", version, label))
        )

    async def predict(self, target: Target, body: bytes, call: Call) -> bytes:
        parsed = predict_codec.predict_body_from_json(body)
        key = spec_key(target)
        sigs = await self.signatures.get(key)
        try:
            return await self._predict_with(target, parsed, sigs, call)
        except GatewayError as exc:
            if exc.code not in _STALE_SUSPECTS or self.signatures.is_fresh(sigs):
                raise
            fresh = await self.signatures.get(key, refresh=True)
            name = parsed.signature_name or DEFAULT_SIGNATURE
            if fresh.inputs.get(name) == sigs.inputs.get(name):
                raise
            return await self._predict_with(target, parsed, fresh, call)

    async def _predict_with(
        self, target: Target, parsed: Any, sigs: ModelSignatures, call: Call
    ) -> bytes:
        dtypes = sigs.input_dtypes(parsed.signature_name)
        inputs, columnar = predict_codec.predict_inputs_from_json(parsed, dtypes)
        request = encode_predict_request(target, parsed.signature_name, inputs)
        response = await self.client.predict(request, **call.kwargs())
        if target.version is None and response.model_spec.version.value != sigs.version:
            # A new version answered: learn its signatures before the next request.
            self.signatures.invalidate(spec_key(target))
        return predict_codec.predict_response_to_json(response.outputs, columnar)

    async def classify(self, target: Target, body: bytes, call: Call) -> bytes:
        parsed = example_codec.example_body_from_json(body)
        request = protos.ClassificationRequest()
        fill_model_spec(request.model_spec, target, parsed.signature_name)
        request.input.CopyFrom(parsed.input)
        response = await self.client.classify(request.SerializeToString(), **call.kwargs())
        return example_codec.classification_result_to_json(response.result)

    async def regress(self, target: Target, body: bytes, call: Call) -> bytes:
        parsed = example_codec.example_body_from_json(body)
        request = protos.RegressionRequest()
        fill_model_spec(request.model_spec, target, parsed.signature_name)
        request.input.CopyFrom(parsed.input)
        response = await self.client.regress(request.SerializeToString(), **call.kwargs())
        return example_codec.regression_result_to_json(response.result)

    async def status(self, target: Target, call: Call) -> bytes:
        # The status API ignores labels (spec 8.1): every version is listed.
        request = protos.GetModelStatusRequest()
        request.model_spec.name = target.model
        if target.version is not None:
            request.model_spec.version.value = target.version
        response = await self.client.get_model_status(request.SerializeToString(), **call.kwargs())
        return status_codec.model_status_to_json(response)

    async def metadata(self, target: Target, call: Call) -> bytes:
        response = await self.client.get_model_metadata(metadata_request(target), **call.kwargs())
        return status_codec.model_metadata_to_json(response)

    async def dispatch(self, target: Target, body: bytes, call: Call) -> bytes:
        """Run the endpoint a parsed URL names (GET endpoints ignore the body)."""
        if target.verb in POST_VERBS:
            post = {"predict": self.predict, "classify": self.classify, "regress": self.regress}
            return await post[target.verb](target, body, call)
        get = {METADATA: self.metadata, STATUS: self.status}
        return await get[target.verb](target, call)


def metadata_request(target: Target) -> bytes:
    request = protos.GetModelMetadataRequest()
    fill_model_spec(request.model_spec, target)
    request.metadata_field.append("signature_def")
    serialized: bytes = request.SerializeToString()
    return serialized
