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

import orjson
from aiohttp import web
from aiohttp.web_runner import GracefulExit

from gateway.config import Settings
from gateway.core.backends import Backends
from gateway.core.calls import Body, Call, Incoming, Reply
from gateway.edge import metrics
from gateway.edge.middleware import (
    AUTH,
    CORS,
    EDGE,
    HEALTHZ,
    METRICS,
    READYZ,
    SETTINGS,
    EdgeState,
    ProtocolErrorFilter,
    authenticate,
    edge,
    error_response,
    json_response,
    preflight,
    read_body,
    request_id_of,
)
from gateway.edge.security import Authenticator, Cors
from gateway.fronts import Front
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
    principal = authenticate(request)
    raw = request.raw_path
    front = next((f for f in request.app[FRONTS] if f.owns(raw)), None)
    if front is None:
        return await operations(request)
    request["front"] = front.name
    incoming = incoming_of(request)
    target = request["target"] = front.target(incoming)
    if principal is not None and target.model:
        request.app[AUTH].authorize(principal, target)
    settings = request.app[SETTINGS]
    body = await read_body(request, settings) if request.method == "POST" else Body()
    request_id = request["request_id"] = request_id_of(request)
    call = request["call"] = Call(request_id=request_id)
    try:
        reply = await front.handle(target, incoming, body, call)
    finally:
        request["backend"] = call.backend
    return http_response(reply, request_id, settings)


def http_response(reply: Reply, request_id: str, settings: Settings) -> web.Response:
    response = web.Response(body=reply.body, status=reply.status, headers=reply.headers)
    response.headers["Content-Type"] = reply.content_type
    response.headers["X-Request-ID"] = request_id
    if len(reply.body) >= settings.gzip_min_bytes:
        response.enable_compression(strategy=zlib.Z_DEFAULT_STRATEGY)
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


def backend_context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """The backends' channels and the fronts over them live as long as the app."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        app[BACKENDS] = backends = Backends(settings)
        app[FRONTS].extend(mount_fronts(settings, backends, lambda: readiness_reasons(app)))
        try:
            yield
        finally:
            await backends.close()

    return context


def mount_fronts(
    settings: Settings, backends: Backends, readiness: Callable[[], Awaitable[list[str]]]
) -> list[Front]:
    return [TfsFront(settings, backends), V2Front(settings, backends, readiness)]


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


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[edge])
    app[SETTINGS] = settings
    app[AUTH] = Authenticator(settings)
    app[CORS] = Cors(settings)
    app[EDGE] = EdgeState()
    app[FRONTS] = []
    app.cleanup_ctx.append(backend_context(settings))
    app.on_startup.append(on_startup)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
