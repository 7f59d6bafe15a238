"""The TF Serving front: one handler per endpoint, each in four steps: URL
(already parsed), decode JSON, call the ModelServer, encode JSON. The order
of the checks is TF Serving's (compatibility.md §2): JSON and
``signature_name`` first, then the model lookup, then the conversion of the
inputs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from gateway.codec import requests as request_codec
from gateway.codec.tfs import example as example_codec
from gateway.codec.tfs import predict as predict_codec
from gateway.codec.tfs import status as status_codec
from gateway.config import Settings
from gateway.core import protos
from gateway.core.backends import Backends, Route
from gateway.core.calls import Body, Call, Incoming, Reply, Target
from gateway.core.errors import GatewayError, invalid_argument, valid_text
from gateway.core.signatures import ModelSignatures
from gateway.fronts import ApiPart, ApiSubject
from gateway.fronts.tfs import openapi, urls

LIST_MODELS = "list_models"

# classify and regress: (request class, client method, result encoder).
_EXAMPLE_APIS: dict[str, tuple[Any, str, Callable[[Any], bytes]]] = {
    "classify": (
        protos.ClassificationRequest,
        "classify",
        example_codec.classification_result_to_json,
    ),
    "regress": (protos.RegressionRequest, "regress", example_codec.regression_result_to_json),
}


def build_predict_request(route: Route, parsed: Any, sigs: ModelSignatures) -> tuple[bytes, bool]:
    """Convert a parsed predict body with a signature's dtypes; (request bytes, columnar)."""
    dtypes = sigs.input_dtypes(parsed.signature_name)
    inputs, columnar = predict_codec.predict_inputs_from_json(parsed, dtypes)
    return request_codec.predict_request(route.spec, parsed.signature_name, inputs), columnar


class TfsFront:
    """``/v1/...`` (TF Serving's grammar) and ``/model-serving/...`` (Paperspace's)."""

    name = "tfs"

    def __init__(self, settings: Settings, backends: Backends) -> None:
        self.settings = settings
        self.backends = backends
        self.deployment_models = {d.id: d.model for d in settings.deployments.values()}
        self._get: dict[str, Callable[[Route], Awaitable[bytes]]] = {
            urls.METADATA: self.metadata,
            urls.STATUS: self.status,
        }
        self._post: dict[str, Callable[[Route, bytes], Awaitable[bytes]]] = {
            "predict": self.predict,
            "classify": self.examples,
            "regress": self.examples,
        }

    def owns(self, raw_path: str) -> bool:
        return urls.is_tfs_path(raw_path) or urls.is_paperspace_path(raw_path)

    def target(self, incoming: Incoming) -> Target:
        method, raw = incoming.method, incoming.raw_path
        if urls.is_tfs_path(raw):
            if method == "GET" and incoming.path.lower() == "/v1/models" and not incoming.query:
                return Target("", LIST_MODELS)
            return urls.parse_tfs(method, raw)
        return urls.parse_paperspace(method, raw, self.deployment_models)

    def openapi_server(self) -> ApiPart:
        return openapi.server_part()

    def openapi_model(self, subject: ApiSubject) -> ApiPart:
        return openapi.model_part(subject)

    async def handle(self, target: Target, incoming: Incoming, body: Body, call: Call) -> Reply:
        if target.verb == LIST_MODELS:
            return Reply(await self.list_models())
        route = self.backends.route(target, call)
        if target.verb in self._post:
            return Reply(await self._post[target.verb](route, body.data))
        return Reply(await self._get[target.verb](route))

    async def predict(self, route: Route, body: bytes) -> bytes:
        call = route.call
        with call.phase("decode"):
            parsed = predict_codec.predict_body_from_json(body)
        signature_name = parsed.signature_name
        sigs = await self.backends.signatures(route)
        try:
            with call.phase("decode"):
                request, columnar = build_predict_request(route, parsed, sigs)
            # The parsed JSON can be several times the body: it is not held across
            # the call; the rare stale-signature retry parses the body again.
            del parsed
            return await self._call_predict(route, request, columnar, sigs)
        except GatewayError as exc:
            fresh = await self.backends.fresher_signatures(route, sigs, exc, signature_name)
            if fresh is None:
                raise
            with call.phase("decode"):
                parsed = predict_codec.predict_body_from_json(body)
                request, columnar = build_predict_request(route, parsed, fresh)
            del parsed
            return await self._call_predict(route, request, columnar, fresh)

    async def _call_predict(
        self, route: Route, request: bytes, columnar: bool, sigs: ModelSignatures
    ) -> bytes:
        response = await self.backends.predict(route, request, sigs)
        with route.call.phase("encode"):
            return predict_codec.predict_response_to_json(response.outputs, columnar)

    async def examples(self, route: Route, body: bytes) -> bytes:
        """Classify or regress: the Examples are converted before any model lookup (§2)."""
        request_cls, rpc, to_json = _EXAMPLE_APIS[route.target.verb]
        with route.call.phase("decode"):
            parsed = example_codec.example_body_from_json(body)
        if parsed.signature_name != valid_text(parsed.signature_name):
            await self.no_such_signature(route, parsed.signature_name)
        with route.call.phase("decode"):
            request = request_codec.example_request(request_cls(), route.spec, parsed)
        with route.call.phase("backend"):
            response = await getattr(route.client, rpc)(request, **route.kw)
        with route.call.phase("encode"):
            return to_json(response.result)

    async def no_such_signature(self, route: Route, signature_name: str) -> None:
        """A signature name that is not UTF-8 names no signature, but the model lookup
        answers first (compatibility.md §2): ask for the model's signatures, then refuse."""
        await self.backends.signatures(route)
        raise invalid_argument(f"No signature was found with the name: {signature_name}")

    async def status(self, route: Route) -> bytes:
        response = await self.backends.status(route)
        with route.call.phase("encode"):
            return status_codec.model_status_to_json(response)

    async def metadata(self, route: Route) -> bytes:
        response = await self.backends.metadata(route)
        with route.call.phase("encode"):
            return status_codec.model_metadata_to_json(response)

    async def list_models(self) -> bytes:
        """GET /v1/models: the configured models and deployments, with their status."""
        models = await self.backends.model_states()
        deployments = {
            dep.id: {"model": dep.model, "backend": self.settings.backend_for(dep.model, dep.id)}
            for dep in self.settings.deployments.values()
        }
        body = {"models": [{"name": n, **s} for n, s in models.items()], "deployments": deployments}
        return orjson.dumps(body)
