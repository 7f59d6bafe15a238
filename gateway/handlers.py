"""One handler per endpoint, each in four steps: URL (already parsed), decode
JSON, call the ModelServer, encode JSON. The order of the checks is TF
Serving's (spec section 2): JSON and ``signature_name`` first, then the model
lookup, then the conversion of the inputs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from gateway import protos
from gateway.client import ChannelTLS, ClientOptions, ModelServerClient
from gateway.codec import example as example_codec
from gateway.codec import predict as predict_codec
from gateway.codec import status as status_codec
from gateway.config import BackendTLS, Settings
from gateway.errors import Code, GatewayError
from gateway.signatures import DEFAULT_SIGNATURE, ModelSignatures, SignatureCache, SpecKey
from gateway.urls import METADATA, POST_VERBS, STATUS, Target

# classify and regress: (request class, client method, result encoder).
_EXAMPLE_APIS: dict[str, tuple[Any, str, Callable[[Any], bytes]]] = {
    "classify": (
        protos.ClassificationRequest,
        "classify",
        example_codec.classification_result_to_json,
    ),
    "regress": (protos.RegressionRequest, "regress", example_codec.regression_result_to_json),
}

# Errors after which a predict is retried once with freshly fetched signatures,
# in case the cached ones described another model version.
_STALE_SUSPECTS = frozenset({Code.INVALID_ARGUMENT, Code.FAILED_PRECONDITION, Code.NOT_FOUND})
_AVAILABLE = 30  # ModelVersionStatus.State.AVAILABLE


@dataclass(slots=True)
class Call:
    """Per-request context: the id sent to the ModelServer, and where time went."""

    request_id: str | None = None
    backend: str = ""
    phases: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - start


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
    """Serialize a PredictRequest without first copying each input tensor into it.

    Field 2 (``inputs``) is a map: each entry is a length-delimited message with
    the key as field 1 and the TensorProto as field 2, appended after the spec.
    Everything is joined once, so a large tensor is copied once after its own
    serialization.
    """
    head = protos.PredictRequest()
    fill_model_spec(head.model_spec, target, signature_name)
    parts = [head.SerializeToString()]
    for alias, tensor in inputs.items():
        key = alias.encode()
        value = tensor.SerializeToString()
        key_field = b"\x0a" + _varint(len(key)) + key
        value_head = b"\x12" + _varint(len(value))
        entry_size = len(key_field) + len(value_head) + len(value)
        parts.extend((b"\x12", _varint(entry_size), key_field, value_head, value))
    return b"".join(parts)


def build_predict_request(target: Target, parsed: Any, sigs: ModelSignatures) -> tuple[bytes, bool]:
    """Convert a parsed predict body with a signature's dtypes; (request bytes, columnar)."""
    dtypes = sigs.input_dtypes(parsed.signature_name)
    inputs, columnar = predict_codec.predict_inputs_from_json(parsed, dtypes)
    return encode_predict_request(target, parsed.signature_name, inputs), columnar


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def metadata_request(target: Target) -> bytes:
    request = protos.GetModelMetadataRequest()
    fill_model_spec(request.model_spec, target)
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


def channel_tls(tls: BackendTLS | None) -> ChannelTLS | None:
    if tls is None:
        return None
    return ChannelTLS.from_files(tls.ca_file, tls.cert_file, tls.key_file, tls.server_name)


class BackendState:
    """One backend's client and what the gateway learned of its models."""

    def __init__(self, name: str, client: ModelServerClient, signature_ttl_s: float) -> None:
        self.name = name
        self.client = client
        self.signatures = SignatureCache(self._fetch_metadata, signature_ttl_s)

    async def _fetch_metadata(self, key: SpecKey) -> Any:
        model, version, label = key
        return await self.client.get_model_metadata(
            metadata_request(Target(model, METADATA, version, label))
        )


class Handlers:
    """The endpoints, over one client per configured backend."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.backends = {
            name: BackendState(
                name,
                ModelServerClient(
                    backend.target,
                    ClientOptions(
                        timeout_s=settings.timeout_s,
                        max_attempts=backend.max_attempts or settings.max_attempts,
                        max_message_bytes=settings.max_message_bytes,
                        tls=channel_tls(backend.tls),
                    ),
                ),
                settings.signature_ttl_s,
            )
            for name, backend in settings.all_backends().items()
        }

    async def close(self) -> None:
        await asyncio.gather(*(b.client.close() for b in self.backends.values()))

    def _route(self, target: Target, call: Call) -> tuple[BackendState, dict[str, Any]]:
        name = self.settings.backend_for(target.model, target.deployment)
        call.backend = name
        timeout = self.settings.timeout_for(target.model, target.verb, name)
        return self.backends[name], {"request_id": call.request_id, "timeout_s": timeout}

    async def dispatch(self, target: Target, body: bytes, call: Call) -> bytes:
        """Run the endpoint a parsed URL names (GET endpoints ignore the body)."""
        if target.verb in POST_VERBS:
            post = {"predict": self.predict, "classify": self.examples, "regress": self.examples}
            return await post[target.verb](target, body, call)
        get = {METADATA: self.metadata, STATUS: self.status}
        return await get[target.verb](target, call)

    async def predict(self, target: Target, body: bytes, call: Call) -> bytes:
        backend, kw = self._route(target, call)
        with call.phase("decode"):
            parsed = predict_codec.predict_body_from_json(body)
        key = spec_key(target)
        sigs = backend.signatures.peek(key)
        if sigs is None:
            with call.phase("backend"):
                sigs = await backend.signatures.get(key)
        try:
            with call.phase("decode"):
                request, columnar = build_predict_request(target, parsed, sigs)
            # The parsed JSON can be several times the body: it is not held across
            # the call; the rare stale-signature retry parses the body again.
            del parsed
            return await self._call_predict(backend, kw, target, request, columnar, sigs, call)
        except GatewayError as exc:
            if exc.code not in _STALE_SUSPECTS or backend.signatures.is_fresh(sigs):
                raise
            with call.phase("backend"):
                fresh = await backend.signatures.get(key, refresh=True)
            with call.phase("decode"):
                parsed = predict_codec.predict_body_from_json(body)
                name = parsed.signature_name or DEFAULT_SIGNATURE
                if fresh.inputs.get(name) == sigs.inputs.get(name):
                    raise
                request, columnar = build_predict_request(target, parsed, fresh)
            del parsed
            return await self._call_predict(backend, kw, target, request, columnar, fresh, call)

    async def _call_predict(
        self,
        backend: BackendState,
        kw: dict[str, Any],
        target: Target,
        request: bytes,
        columnar: bool,
        sigs: ModelSignatures,
        call: Call,
    ) -> bytes:
        with call.phase("backend"):
            response = await backend.client.predict(request, **kw)
        if target.version is None and response.model_spec.version.value != sigs.version:
            # Another version answered: learn its signatures before the next request.
            backend.signatures.invalidate(spec_key(target))
        with call.phase("encode"):
            return predict_codec.predict_response_to_json(response.outputs, columnar)

    async def examples(self, target: Target, body: bytes, call: Call) -> bytes:
        """Classify or regress: the Example list is converted before any model lookup (spec 2)."""
        request_cls, rpc, to_json = _EXAMPLE_APIS[target.verb]
        backend, kw = self._route(target, call)
        with call.phase("decode"):
            request = example_request(request_cls(), target, body)
        with call.phase("backend"):
            response = await getattr(backend.client, rpc)(request, **kw)
        with call.phase("encode"):
            return to_json(response.result)

    async def status(self, target: Target, call: Call) -> bytes:
        # The status API ignores labels (spec 8.1): every version is listed.
        backend, kw = self._route(target, call)
        with call.phase("backend"):
            response = await backend.client.get_model_status(
                status_request(target.model, target.version), **kw
            )
        with call.phase("encode"):
            return status_codec.model_status_to_json(response)

    async def metadata(self, target: Target, call: Call) -> bytes:
        backend, kw = self._route(target, call)
        with call.phase("backend"):
            response = await backend.client.get_model_metadata(metadata_request(target), **kw)
        with call.phase("encode"):
            return status_codec.model_metadata_to_json(response)

    # --- operations ------------------------------------------------------------

    def configured_models(self) -> dict[str, str]:
        """Model name -> backend, for every model named in routes or deployments."""
        models = {name: route.backend for name, route in self.settings.models.items()}
        for dep in self.settings.deployments.values():
            models.setdefault(dep.model, self.settings.backend_for(dep.model, dep.id))
        return models

    async def model_states(self, timeout_s: float = 2.0) -> dict[str, Any]:
        """Each configured model's versions and states, or the error that hid them."""
        models = self.configured_models()
        results = await asyncio.gather(
            *(self._states(model, backend, timeout_s) for model, backend in models.items())
        )
        return dict(zip(models, results, strict=True))

    async def _states(self, model: str, backend: str, timeout_s: float) -> Any:
        try:
            response = await self.backends[backend].client.get_model_status(
                status_request(model), timeout_s=timeout_s
            )
        except GatewayError as exc:
            return {"backend": backend, "error": exc.message, "code": exc.code.name}
        versions = [
            {"version": str(v.version), "state": protos.ModelState.values_by_number[v.state].name}
            for v in response.model_version_status
        ]
        return {"backend": backend, "versions": versions}

    async def backend_reachable(self, name: str, timeout_s: float = 2.0) -> str | None:
        """None when the backend answers a status call (any answer), else the reason."""
        try:
            await self.backends[name].client.get_model_status(
                status_request("__tfs_gateway_probe__"), timeout_s=timeout_s
            )
        except GatewayError as exc:
            if exc.code in (Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED):
                return f"backend {name} is unreachable: {exc.message}"
        return None

    async def readiness(self) -> list[str]:
        """Why the gateway is not ready (empty when it is)."""
        reasons = [
            r
            for r in await asyncio.gather(*(self.backend_reachable(n) for n in self.backends))
            if r is not None
        ]
        for model, state in (await self.model_states()).items():
            versions = state.get("versions", [])
            if not any(v["state"] == "AVAILABLE" for v in versions):
                reasons.append(f"model {model} has no AVAILABLE version")
        return reasons


def example_request(request: Any, target: Target, body: bytes) -> bytes:
    """A Classification- or RegressionRequest from an Example-list JSON body (spec 5)."""
    parsed = example_codec.example_body_from_json(body)
    fill_model_spec(request.model_spec, target, parsed.signature_name)
    request.input.CopyFrom(parsed.input)
    serialized: bytes = request.SerializeToString()
    return serialized
