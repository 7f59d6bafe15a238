"""The aiohttp application: routing on the raw path, one edge middleware
(errors, limits, metrics, access log), operational endpoints, and the gRPC
clients' lifetime in a cleanup context."""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
import signal
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_runner import GracefulExit

from gateway import metrics, urls
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.handlers import Call, Handlers
from gateway.security import Authenticator, Cors, Unauthenticated

log = logging.getLogger("tfs_gateway")
access_log = logging.getLogger("tfs_gateway.access")

SETTINGS = web.AppKey("settings", Settings)
HANDLERS = web.AppKey("handlers", Handlers)
STATE = web.AppKey("state", dict[str, Any])
AUTH = web.AppKey("auth", Authenticator)
CORS = web.AppKey("cors", Cors)

JSON = "application/json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Operational endpoints, matched on the decoded path without the query string.
HEALTHZ, READYZ, METRICS = "/healthz", "/readyz", "/metrics"


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})


def json_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON)


def error_response(status: int, message: str) -> web.Response:
    return json_response(error_body(message), status)


def http_exception_message(exc: web.HTTPException) -> str:
    # aiohttp's own texts ("Maximum request body size N exceeded, ...") beat its
    # bare reason phrases, which read "413: Request Entity Too Large".
    text = exc.text or ""
    return exc.reason if not text or text.startswith(f"{exc.status}:") else text


async def render_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every failure as ``{"error": message}`` with TF Serving's status table."""
    try:
        return await handler(request)
    except Unauthenticated as exc:
        response = error_response(exc.http_status, exc.message)
        for challenge in exc.challenges:
            response.headers.add("WWW-Authenticate", challenge)
        return response
    except GatewayError as exc:
        if exc.from_backend:
            metrics.BACKEND_ERRORS.labels(request.get("backend", ""), exc.code.name).inc()
        return error_response(exc.http_status, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status in (408, 413):
            metrics.REJECTED.labels("too_large" if exc.status == 413 else "body_timeout").inc()
        return error_response(exc.status, http_exception_message(exc))
    except RecursionError:
        # Only hostile input nests deep enough for this (spec 3 allows any depth);
        # it is the client's error, not the gateway's.
        return error_response(400, "The request is nested too deeply")
    except Exception:
        log.exception("unexpected error handling %s %s", request.method, request.raw_path)
        return error_response(500, "Internal error")


@web.middleware
async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Admission (in-flight cap), errors, CORS headers, metrics and the access log, in one place."""
    settings, state = request.app[SETTINGS], request.app[STATE]
    if state["in_flight"] >= settings.max_in_flight and request.path not in (HEALTHZ, READYZ):
        metrics.REJECTED.labels("overload").inc()
        busy = error_response(503, "The gateway is overloaded; retry later")
        busy.headers["Retry-After"] = "1"
        return with_cors(request, busy)
    state["in_flight"] += 1
    metrics.IN_FLIGHT.inc()
    start = time.perf_counter()
    try:
        response = with_cors(request, await render_errors(request, handler))
    finally:
        state["in_flight"] -= 1
        metrics.IN_FLIGHT.dec()
    observe(request, response, time.perf_counter() - start, settings)
    return response


def with_cors(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Every answer to an allowed Origin carries the CORS headers, errors included."""
    cors = request.app[CORS]
    if cors.enabled:
        response.headers.update(cors.headers_for(request.headers.get("Origin")) or {})
    return response


def observe(
    request: web.Request, response: web.StreamResponse, seconds: float, settings: Settings
) -> None:
    target: urls.Target | None = request.get("target")
    call: Call | None = request.get("call")
    verb = target.verb if target is not None else "other"
    model = metric_model(request.app[STATE], target, response.status)
    metrics.REQUESTS.labels(model, verb, str(response.status)).inc()
    metrics.LATENCY.labels(verb).observe(seconds)
    phases = call.phases if call is not None else {}
    for phase, spent in phases.items():
        metrics.PHASES.labels(verb, phase).observe(spent)
    if settings.access_log:
        access_log.info(access_line(request, response, target, phases, seconds))


def metric_model(state: dict[str, Any], target: urls.Target | None, status: int) -> str:
    """The model label, bounded: names that never answered 200 share one label."""
    if target is None:
        return ""
    known: set[str] = state["known_models"]
    if status == 200:
        known.add(target.model)
    return target.model if target.model in known else "_unknown"


def access_line(
    request: web.Request,
    response: web.StreamResponse,
    target: urls.Target | None,
    phases: dict[str, float],
    seconds: float,
) -> str:
    """One JSON line per request; never the payloads."""
    record = {
        "ts": round(time.time(), 3),
        "id": request.get("request_id"),
        "principal": request.get("principal"),
        "method": request.method,
        "path": request.path,
        "model": target.model if target else None,
        "version": target.version if target else None,
        "label": target.label if target else None,
        "verb": target.verb if target else None,
        "status": response.status,
        "req_bytes": request.content_length or 0,
        "resp_bytes": response.content_length or 0,
        "ms": round(seconds * 1000, 3),
        **{f"{k}_ms": round(v * 1000, 3) for k, v in phases.items()},
    }
    return orjson.dumps(record).decode()


async def read_body(request: web.Request, settings: Settings) -> bytes:
    """The request body, inflated when gzip-encoded (TF Serving does the same).

    A body that fails to inflate counts as empty, as in TF Serving; one that
    inflates past the cap is refused with 413 before it is held in memory.
    """
    try:
        async with asyncio.timeout(settings.body_timeout_s):
            body = await request.read()
    except TimeoutError:
        raise web.HTTPRequestTimeout(text="The request body did not arrive in time") from None
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
    """Route by the raw path: TF Serving's grammar, the Paperspace grammar, operations."""
    raw, method = request.raw_path, request.method
    if method == "OPTIONS":
        return preflight(request)
    settings = request.app[SETTINGS]
    principal = authenticate(request)
    if urls.is_tfs_path(raw):
        if method == "GET" and request.path.lower() == "/v1/models" and not request.query_string:
            return await list_models(request)
        target = urls.parse_tfs(method, raw)
    elif urls.is_paperspace_path(raw):
        target = urls.parse_paperspace(method, raw, request.app[STATE]["deployment_models"])
    else:
        return await operations(request)
    request["target"] = target
    if principal is not None:
        request.app[AUTH].authorize(principal, target)
    body = await read_body(request, settings) if method == "POST" else b""
    request_id = request["request_id"] = request_id_of(request)
    call = request["call"] = Call(request_id=request_id)
    try:
        result = await request.app[HANDLERS].dispatch(target, body, call)
    finally:
        request["backend"] = call.backend
    response = json_response(result)
    response.headers["X-Request-ID"] = request_id
    if len(result) >= settings.gzip_min_bytes:
        response.enable_compression(strategy=zlib.Z_DEFAULT_STRATEGY)
    return response


def authenticate(request: web.Request) -> str | None:
    """The caller's principal, before the URL is looked at (a stranger learns nothing
    from 400 vs 404); None when auth is off or the path is configured open."""
    auth = request.app[AUTH]
    if not auth.enabled or request.path in auth.open_paths:
        return None
    principal = request["principal"] = auth.authenticate(request.headers)
    return principal


def request_id_of(request: web.Request) -> str:
    """The client's X-Request-ID when it is a sane token, else a new one."""
    given = request.headers.get("X-Request-ID", "")
    if 0 < len(given) <= 128 and given.isascii() and given.isprintable():
        return given
    return secrets.token_hex(16)


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
    if request.app[STATE]["draining"]:
        return json_response(orjson.dumps({"ready": False, "reasons": ["shutting down"]}), 503)
    reasons = await request.app[HANDLERS].readiness()
    return json_response(
        orjson.dumps({"ready": not reasons, "reasons": reasons}), 503 if reasons else 200
    )


async def list_models(request: web.Request) -> web.Response:
    """GET /v1/models: the configured models and deployments, with their status."""
    handlers = request.app[HANDLERS]
    models = await handlers.model_states()
    deployments = {
        dep.id: {"model": dep.model, "backend": handlers.settings.backend_for(dep.model, dep.id)}
        for dep in handlers.settings.deployments.values()
    }
    body = {"models": [{"name": n, **s} for n, s in models.items()], "deployments": deployments}
    return json_response(orjson.dumps(body))


def preflight(request: web.Request) -> web.Response:
    """CORS preflight (no credentials needed: browsers send none).

    Without ``cors_origins``, as TF Serving answers it: 200 with an http(s)
    Origin, else 400, no body (spec section 1). With it, an allowed origin
    gets the Access-Control-* headers, another one 403.
    """
    status, headers = request.app[CORS].preflight(request.headers.get("Origin", ""))
    if status == 403:
        return error_response(403, "CORS origin not allowed")
    return web.Response(status=status, headers=headers)


class ProtocolErrorFilter(logging.Filter):
    """aiohttp logs each malformed HTTP message at ERROR with a traceback that quotes the
    raw bytes (headers included, credentials too). Keep one WARNING line, never the bytes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg, record.args = "rejected a malformed HTTP request: %s", (type(exc).__name__,)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def backend_context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        app[HANDLERS] = handlers = Handlers(settings)
        try:
            yield
        finally:
            await handlers.close()

    return context


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
    if app[STATE]["draining"]:
        return
    app[STATE]["draining"] = True
    log.info("draining: readiness fails now, stopping in %.1f s", app[SETTINGS].drain_delay_s)
    asyncio.get_running_loop().call_later(app[SETTINGS].drain_delay_s, _graceful_exit)


def _graceful_exit() -> None:
    raise GracefulExit()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[edge])
    app[SETTINGS] = settings
    app[AUTH] = Authenticator(settings)
    app[CORS] = Cors(settings)
    app[STATE] = {
        "in_flight": 0,
        "draining": False,
        "known_models": set(),
        "deployment_models": {d.id: d.model for d in settings.deployments.values()},
    }
    app.cleanup_ctx.append(backend_context(settings))
    app.on_startup.append(on_startup)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
