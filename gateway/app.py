"""The aiohttp application: routing on the raw path, one error middleware, and
the gRPC client's lifetime in a cleanup context."""

from __future__ import annotations

import gc
import logging
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from aiohttp import web

from gateway import urls
from gateway.client import ClientOptions, ModelServerClient
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.handlers import Call, Handlers

log = logging.getLogger("tfs_gateway")

SETTINGS = web.AppKey("settings", Settings)
HANDLERS = web.AppKey("handlers", Handlers)

JSON = "application/json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})


def json_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON)


def error_response(status: int, message: str) -> web.Response:
    return json_response(error_body(message), status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every failure as ``{"error": message}`` with TF Serving's status table."""
    try:
        return await handler(request)
    except GatewayError as exc:
        return error_response(exc.http_status, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # aiohttp's own texts ("Maximum request body size N exceeded, ...") beat
        # its bare reason phrases, which read "413: Request Entity Too Large".
        text = exc.text or ""
        message = exc.reason if not text or text.startswith(f"{exc.status}:") else text
        return error_response(exc.status, message)
    except Exception:
        log.exception("unexpected error handling %s %s", request.method, request.raw_path)
        return error_response(500, "Internal error")


async def read_body(request: web.Request, settings: Settings) -> bytes:
    """The request body, inflated when gzip-encoded (TF Serving does the same).

    A body that fails to inflate counts as empty, as in TF Serving; one that
    inflates past the cap is refused with 413 before it is held in memory.
    """
    body = await request.read()
    if "gzip" not in request.headers.get("Content-Encoding", "").lower():
        return body
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(body, settings.max_inflated_bytes + 1)
    except zlib.error:
        return b""
    if len(inflated) > settings.max_inflated_bytes or inflater.unconsumed_tail:
        raise web.HTTPRequestEntityTooLarge(
            max_size=settings.max_inflated_bytes,
            actual_size=settings.max_inflated_bytes + 1,
            text=f"Request body exceeds {settings.max_inflated_bytes} bytes once decompressed",
        )
    return inflated


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Route by the raw path: TF Serving's grammar, the Paperspace grammar, health."""
    raw = request.raw_path
    method = request.method
    if method == "OPTIONS":
        return preflight(request)
    settings = request.app[SETTINGS]
    if urls.is_tfs_path(raw):
        target = urls.parse_tfs(method, raw)
    elif urls.is_paperspace_path(raw):
        target = urls.parse_paperspace(method, raw, settings.deployments)
    elif raw == "/healthz" and method == "GET":
        return json_response(b'{"status":"ok"}')
    else:
        return error_response(404, "Not Found")
    body = await read_body(request, settings) if method == "POST" else b""
    request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
    result = await request.app[HANDLERS].dispatch(target, body, Call(request_id=request_id))
    response = json_response(result)
    response.headers["X-Request-ID"] = request_id
    return response


def preflight(request: web.Request) -> web.Response:
    """CORS preflight as TF Serving answers it: 200 with an http(s) Origin, else 400; no body."""
    origin = request.headers.get("Origin", "")
    ok = "http://" in origin or "https://" in origin
    return web.Response(status=200 if ok else 400)


def backend_context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        if settings.model_server is None:
            raise RuntimeError("no ModelServer target configured")
        options = ClientOptions(timeout_s=settings.timeout_s, max_attempts=settings.max_attempts)
        client = ModelServerClient(settings.model_server, options)
        app[HANDLERS] = Handlers(client, settings.signature_ttl_s)
        try:
            yield
        finally:
            await client.close()

    return context


async def freeze_gc(_app: web.Application) -> None:
    """Move start-up objects out of the collector's sight.

    Every gen-2 collection walks all tracked objects; freezing the ones that
    live for the whole process keeps request-time collections (frequent when a
    large JSON body allocates millions of objects) short.
    """
    gc.collect()
    gc.freeze()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[error_middleware])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(backend_context(settings))
    app.on_startup.append(freeze_gc)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
