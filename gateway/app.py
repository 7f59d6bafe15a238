"""The aiohttp application: the fronts mounted behind the edge middleware, the
operational endpoints, and the lifetimes (typed app keys; the backends' gRPC
clients live in a cleanup context)."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import orjson
from aiohttp import web
from aiohttp.web import ContentCoding
from aiohttp.web_runner import GracefulExit

from gateway.codec.schema import ERROR_SCHEMA
from gateway.config import Settings
from gateway.core.backends import Backends
from gateway.core.calls import Body, Call, Incoming, Reply, Target
from gateway.core.errors import GatewayError
from gateway.core.health import HealthBoard
from gateway.edge import metrics
from gateway.edge.accesslog import AccessLog
from gateway.edge.middleware import (
    ACCESS_LOG,
    AUTH,
    CORS,
    EDGE,
    HEALTHZ,
    JSON,
    METRICS,
    READYZ,
    SETTINGS,
    EdgeState,
    ProtocolErrorFilter,
    accepts_gzip,
    authenticate,
    edge,
    error_response,
    json_response,
    preflight,
    read_body,
)
from gateway.edge.security import Authenticator, Cors
from gateway.fronts import ApiPart, ApiSubject, Described, Front, PublicPaths
from gateway.fronts.console.front import ConsoleFront, EdgeView
from gateway.fronts.tfs.handlers import TfsFront
from gateway.fronts.v2.handlers import V2Front

__all__ = ["HEALTHZ", "METRICS", "READYZ", "ProtocolErrorFilter", "create_app"]

log = logging.getLogger("tfs_gateway")

BACKENDS = web.AppKey("backends", Backends)
FRONTS = web.AppKey("fronts", list[Front])


def incoming_of(request: web.Request) -> Incoming:
    return Incoming(request.method, request.raw_path, request.path, request.query, request.headers)


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Hand the request to the front whose grammar owns its raw path, else operations."""
    if request.method == "OPTIONS":
        return preflight(request)
    raw = request.raw_path
    front = next((f for f in request.app[FRONTS] if f.owns(raw)), None)
    public = isinstance(front, PublicPaths) and front.is_public(raw)
    principal = None if public else authenticate(request)
    if front is None:
        return await operations(request)
    request["traffic"] = front.name != ConsoleFront.name
    request["front"] = front.name
    incoming = incoming_of(request)
    target = request["target"] = front.target(incoming)
    if principal is not None and target.model:
        request.app[AUTH].authorize(principal, target)
    settings = request.app[SETTINGS]
    body = await read_body(request, settings) if request.method == "POST" else Body()
    call = request["call"] = Call(request_id=request["request_id"], principal=principal)
    try:
        reply = await front.handle(target, incoming, body, call)
    finally:
        request["backend"] = call.backend
    return http_response(reply, request.headers.get("Accept-Encoding", ""), settings)


def http_response(reply: Reply, accept_encoding: str, settings: Settings) -> web.Response:
    """The front's reply; gzip-encoded when it is large and the client accepts gzip."""
    response = web.Response(body=reply.body, status=reply.status, headers=reply.headers)
    response.headers["Content-Type"] = reply.content_type
    if len(reply.body) >= settings.gzip_min_bytes and accepts_gzip(accept_encoding):
        response.enable_compression(ContentCoding.gzip, zlib.Z_DEFAULT_STRATEGY)
    return response


async def operations(request: web.Request) -> web.StreamResponse:
    path = request.path if request.method == "GET" else None
    if path == HEALTHZ:
        return json_response(b'{"status":"ok"}')
    if path == READYZ:
        return await readiness(request)
    if path == METRICS:
        body, content_type = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})
    return error_response(404, "Not Found")


async def readiness(request: web.Request) -> web.Response:
    reasons = await readiness_reasons(request.app)
    return json_response(
        orjson.dumps({"ready": not reasons, "reasons": reasons}), 503 if reasons else 200
    )


async def readiness_reasons(app: web.Application) -> list[str]:
    """Why the gateway is not ready (empty when it is); fronts ask this too."""
    if app[EDGE].draining:
        return ["shutting down"]
    return await app[BACKENDS].readiness()


def backend_context(
    settings: Settings, health: HealthBoard | None
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The backends' channels and the fronts over them live as long as the app."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        app[BACKENDS] = backends = Backends(settings, health)
        readiness = partial(readiness_reasons, app)
        app[FRONTS].extend(mount_fronts(settings, backends, edge_view(app), readiness))
        try:
            yield
        finally:
            await backends.close()

    return context


_READINESS = {
    "type": "object",
    "properties": {
        "ready": {"type": "boolean"},
        "reasons": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["ready", "reasons"],
}
_ERROR = {
    "description": "An error",
    "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _operation(name: str, summary: str, answers: dict[str, Any]) -> dict[str, Any]:
    responses = {**answers, "4XX": _ERROR, "5XX": _ERROR}
    return {
        "get": {
            "operationId": name,
            "tags": ["operations"],
            "summary": summary,
            "responses": responses,
        }
    }


def _json_answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


class Operations:
    """The operational endpoints' part of the OpenAPI documents."""

    def openapi_server(self) -> ApiPart:
        healthz = {"type": "object", "properties": {"status": {"const": "ok"}}}
        metrics_text = {
            "description": "Prometheus text format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
        paths = {
            HEALTHZ: _operation(
                "healthz", "200 while the process runs", {"200": _json_answer("alive", healthz)}
            ),
            READYZ: _operation(
                "readyz",
                "Whether every backend answers and every configured model has an AVAILABLE version",
                {
                    "200": _json_answer("ready", _READINESS),
                    "503": _json_answer("not ready", _READINESS),
                },
            ),
            METRICS: _operation("metrics", "Prometheus metrics", {"200": metrics_text}),
        }
        tags = [{"name": "operations", "description": "Health, readiness and metrics"}]
        return ApiPart(paths=paths, schemas={"Error": ERROR_SCHEMA}, tags=tags)

    def openapi_model(self, subject: ApiSubject) -> ApiPart:
        return ApiPart()


def edge_view(app: web.Application) -> EdgeView:
    """What the console may read of the edge: models seen answering, recent traffic,
    and whether a principal may use a model."""
    state, auth = app[EDGE], app[AUTH]

    def may_use(principal: str, target: Target) -> bool:
        try:
            auth.authorize(principal, target)
        except GatewayError:
            return False
        return True

    return EdgeView(lambda: tuple(state.known_models), state.traffic.series, may_use)


def mount_fronts(
    settings: Settings,
    backends: Backends,
    edge: EdgeView,
    readiness: Callable[[], Awaitable[list[str]]],
) -> list[Front]:
    """The fronts in the order they are asked; the console first, because it owns a few
    paths inside the TF Serving grammar's prefixes (``.../openapi.json``)."""
    fronts: list[Front] = [TfsFront(settings, backends), V2Front(settings, backends, readiness)]
    if settings.console:
        described = [f for f in fronts if isinstance(f, Described)]
        fronts.insert(0, ConsoleFront(settings, backends, [*described, Operations()], edge))
    return fronts


async def on_startup(app: web.Application) -> None:
    """Install the draining SIGTERM handler, then freeze start-up objects out of GC.

    Freezing matters: every gen-2 collection walks all tracked objects, and a
    large JSON body allocates millions of them.
    """
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, begin_drain, app)
    gc.collect()
    gc.freeze()


def begin_drain(app: web.Application) -> None:
    """SIGTERM: fail /readyz at once, close the port after drain_delay_s, then
    let in-flight requests finish (aiohttp's shutdown_timeout bounds that)."""
    if app[EDGE].draining:
        return
    app[EDGE].draining = True
    log.info("draining: readiness fails now, stopping in %.1f s", app[SETTINGS].drain_delay_s)
    asyncio.get_running_loop().call_later(app[SETTINGS].drain_delay_s, _graceful_exit)


def _graceful_exit() -> None:
    raise GracefulExit()


async def flush_access_log(app: web.Application) -> None:
    app[ACCESS_LOG].flush()


# Request lines of at least 64 KiB parse, so a long model name gets the JSON 404 of any
# unknown model rather than aiohttp's "line too long" (header lines keep aiohttp's 8190).
MAX_REQUEST_LINE_BYTES = 128 * 1024


def create_app(settings: Settings, health: HealthBoard | None = None) -> web.Application:
    """The app; ``health`` is the workers' shared view of the backends (core.health)."""
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[edge],
        handler_args={"max_line_size": MAX_REQUEST_LINE_BYTES},
    )
    app[SETTINGS] = settings
    app[AUTH] = Authenticator(settings)
    app[CORS] = Cors(settings)
    app[EDGE] = EdgeState()
    app[FRONTS] = []
    if settings.access_log:
        app[ACCESS_LOG] = AccessLog()
        app.on_cleanup.append(flush_access_log)
    app.cleanup_ctx.append(backend_context(settings, health))
    app.on_startup.append(on_startup)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
