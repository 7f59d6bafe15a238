"""The Open Inference Protocol front: one handler per endpoint over the shared
core. Infer checks in this order (compatibility.md §12.4): the body (JSON,
binary parts, every input's data against its shape and datatype), then the
model (its signatures: unknown model 404), then the request against the
signature (names, missing inputs, datatypes), then the ModelServer's predict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import gateway
from gateway.codec import requests as request_codec
from gateway.codec.v2 import infer as infer_codec
from gateway.codec.v2 import model as model_codec
from gateway.config import Settings
from gateway.core.backends import Backends, Route
from gateway.core.calls import Body, Call, Incoming, Reply, Target
from gateway.core.errors import Code, GatewayError
from gateway.core.signatures import ModelSignatures
from gateway.fronts.v2 import urls

SERVER_NAME = "tfs-gateway"
EXTENSIONS = ["binary_tensor_data"]

# The configuration's verbs (deadlines per model and verb) for each V2 endpoint.
_CONFIG_VERBS = {
    urls.INFER: "predict",
    urls.MODEL_METADATA: "metadata",
    urls.MODEL_READY: "status",
}

Readiness = Callable[[], Awaitable[list[str]]]
Handler = Callable[[Target, Incoming, Body, Call], Awaitable[Reply]]


def signature_view(sigs: ModelSignatures, name: str, model: str) -> infer_codec.SignatureView:
    chosen = name or model_codec.DEFAULT_SIGNATURE
    if chosen not in sigs.inputs:
        raise model_codec.no_such_signature(model, chosen, sigs.inputs)
    return infer_codec.SignatureView(
        chosen, sigs.inputs[chosen], sigs.outputs.get(chosen, {}), sigs.defaults.get(chosen, ())
    )


def build_predict_request(
    route: Route, request: infer_codec.InferRequest, sigs: ModelSignatures
) -> bytes:
    view = signature_view(sigs, request.signature_name, route.target.model)
    infer_codec.check_signature(request, view)
    inputs = {given.name: given.tensor for given in request.inputs}
    return request_codec.predict_request(
        route.spec, request.signature_name, inputs, request.output_filter()
    )


class V2Front:
    """``/v2/...``: health, metadata, readiness, the repository index and inference."""

    name = "v2"

    def __init__(self, settings: Settings, backends: Backends, readiness: Readiness) -> None:
        self.backends = backends
        self.readiness = readiness
        self.deployment_models = {d.id: d.model for d in settings.deployments.values()}
        self._handlers: dict[str, Handler] = {
            urls.SERVER_METADATA: self.server_metadata,
            urls.LIVE: self.live,
            urls.READY: self.ready,
            urls.MODEL_METADATA: self.model_metadata,
            urls.MODEL_READY: self.model_ready,
            urls.INFER: self.infer,
            urls.REPOSITORY_INDEX: self.repository_index,
            urls.WRONG_METHOD: self.wrong_method,
        }

    def owns(self, raw_path: str) -> bool:
        return urls.is_v2_path(raw_path)

    def target(self, incoming: Incoming) -> Target:
        return urls.parse(incoming.method, incoming.raw_path, self.deployment_models)

    async def handle(self, target: Target, incoming: Incoming, body: Body, call: Call) -> Reply:
        return await self._handlers[target.verb](target, incoming, body, call)

    def _route(self, target: Target, call: Call, *, all_versions: bool = False) -> Route:
        version = None if all_versions else target.version
        routed = replace(target, verb=_CONFIG_VERBS[target.verb], version=version)
        return self.backends.route(routed, call)

    # --- server -------------------------------------------------------------------

    async def server_metadata(self, t: Target, i: Incoming, b: Body, c: Call) -> Reply:
        version = gateway.__version__
        return Reply(model_codec.server_metadata_to_json(SERVER_NAME, version, EXTENSIONS))

    async def live(self, t: Target, i: Incoming, b: Body, c: Call) -> Reply:
        return Reply(b'{"live":true}')

    async def ready(self, t: Target, i: Incoming, b: Body, c: Call) -> Reply:
        """Ready as ``/readyz`` is: every backend answers, every configured model is AVAILABLE."""
        reasons = await self.readiness()
        if reasons:
            raise GatewayError(Code.UNAVAILABLE, "Not ready: " + "; ".join(reasons))
        return Reply(b'{"ready":true}')

    async def repository_index(self, t: Target, i: Incoming, body: Body, c: Call) -> Reply:
        ready_only = model_codec.index_request_from_json(body.data)
        models = await self.backends.model_states()
        return Reply(model_codec.repository_index_to_json(models, ready_only))

    async def wrong_method(self, t: Target, incoming: Incoming, b: Body, c: Call) -> Reply:
        allowed = urls.allowed_method(incoming.raw_path)
        body = b'{"error":"Method Not Allowed"}'
        return Reply(body, status=405, headers={"Allow": allowed})

    # --- models -------------------------------------------------------------------

    async def model_metadata(
        self, target: Target, incoming: Incoming, b: Body, call: Call
    ) -> Reply:
        signature_name = incoming.query.get("signature_name", "")
        metadata, status = await asyncio.gather(
            self.backends.metadata(self._route(target, call)),
            # Every version of the model, whichever one the metadata describes.
            self.backends.status(self._route(target, call, all_versions=True)),
        )
        versions = model_codec.available_versions(status)
        with call.phase("encode"):
            body = model_codec.model_metadata_to_json(
                target.model, versions, metadata, signature_name
            )
        return Reply(body)

    async def model_ready(self, target: Target, i: Incoming, b: Body, call: Call) -> Reply:
        """200 when the version (or, without one, any version) is AVAILABLE, else 503."""
        status = await self.backends.status(self._route(target, call))
        states = model_codec.version_states(status)
        if model_codec.AVAILABLE not in states.values():
            shown = ", ".join(f"version {v} is {s}" for v, s in states.items()) or "no versions"
            raise GatewayError(Code.UNAVAILABLE, f"Model '{target.model}' is not ready: {shown}")
        return Reply(model_codec.model_ready_to_json(target.model))

    async def infer(self, target: Target, incoming: Incoming, body: Body, call: Call) -> Reply:
        with call.phase("decode"):
            header = incoming.headers.get(infer_codec.HEADER_LENGTH)
            request = infer_codec.infer_request_from_http(body.chunks, header)
        route = self._route(target, call)
        response = await self._predict(route, request)
        with call.phase("encode"):
            answer, json_size = infer_codec.infer_response_to_http(response, request, target.model)
        if json_size is None:
            return Reply(answer)
        headers = {infer_codec.HEADER_LENGTH: str(json_size)}
        return Reply(answer, content_type=infer_codec.OCTET_STREAM, headers=headers)

    async def _predict(self, route: Route, request: infer_codec.InferRequest) -> Any:
        """Predict with the cached signatures; once more with fresh ones if they were stale."""
        sigs = await self.backends.signatures(route)
        try:
            with route.call.phase("decode"):
                payload = build_predict_request(route, request, sigs)
            return await self.backends.predict(route, payload, sigs)
        except GatewayError as exc:
            fresh = await self.backends.fresher_signatures(route, sigs, exc, request.signature_name)
            if fresh is None:
                raise
            with route.call.phase("decode"):
                payload = build_predict_request(route, request, fresh)
            return await self.backends.predict(route, payload, fresh)
