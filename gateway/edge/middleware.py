"""The edge middleware and the helpers every front's request passes through:
admission (in-flight cap), error rendering (``{"error": message}`` with the one
status table), CORS headers, metrics, the access log, body reading with its
limits, request ids and authentication."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import secrets
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from gateway.config import Settings
from gateway.core.calls import Body, Call, Target
from gateway.core.errors import GatewayError, valid_text
from gateway.edge import metrics
from gateway.edge.accesslog import AccessLog
from gateway.edge.security import Authenticator, Cors, Unauthenticated
from gateway.edge.traffic import RecentTraffic

log = logging.getLogger("tfs_gateway")

JSON = "application/json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Operational endpoints, matched on the decoded path without the query string.
HEALTHZ, READYZ, METRICS = "/healthz", "/readyz", "/metrics"
# The metrics' front label of requests no front owns (operations, unknown paths).
OPERATIONS = "ops"


@dataclass(slots=True)
class EdgeState:
    """What the edge keeps per worker."""

    in_flight: int = 0
    draining: bool = False
    known_models: set[str] = field(default_factory=set)
    # Requests to the model fronts (not the console's own), for the live panel.
    traffic: RecentTraffic = field(default_factory=RecentTraffic)


SETTINGS = web.AppKey("settings", Settings)
EDGE = web.AppKey("edge", EdgeState)
AUTH = web.AppKey("auth", Authenticator)
CORS = web.AppKey("cors", Cors)
ACCESS_LOG = web.AppKey("access_log", AccessLog)


class ClientGone(Exception):
    """The client closed the connection before its whole body arrived."""


def error_body(message: str) -> bytes:
    """``{"error": message}``; a message quoting bytes that are not UTF-8 still renders."""
    return orjson.dumps({"error": valid_text(message)})


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
    except ClientGone:
        # Nobody is left to answer: one line in the log, 499 in the access log and metrics.
        log.info(
            "client closed the connection before sending its whole body: %s %s",
            request.method,
            request.path[:200],
        )
        return error_response(499, "Client closed the connection")
    except RecursionError:
        # Only hostile input nests deep enough for this (compatibility.md §3 allows any depth);
        # it is the client's error, not the gateway's.
        return error_response(400, "The request is nested too deeply")
    except Exception:
        log.exception("unexpected error handling %s %s", request.method, request.raw_path)
        return error_response(500, "Internal error")


@web.middleware
async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Admission (in-flight cap), errors, request ids, CORS headers, metrics and the
    access log, in one place."""
    settings, state = request.app[SETTINGS], request.app[EDGE]
    request["request_id"] = request_id_of(request)
    if state.in_flight >= settings.max_in_flight and request.path not in (HEALTHZ, READYZ):
        metrics.REJECTED.labels("overload").inc()
        busy = error_response(503, "The gateway is overloaded; retry later")
        busy.headers["Retry-After"] = "1"
        return with_edge_headers(request, busy)
    state.in_flight += 1
    metrics.IN_FLIGHT.inc()
    start = time.perf_counter()
    try:
        response = with_edge_headers(request, await render_errors(request, handler))
    finally:
        state.in_flight -= 1
        metrics.IN_FLIGHT.dec()
    observe(request, response, time.perf_counter() - start, settings)
    return response


def with_edge_headers(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Every answer carries the request id; every answer to an allowed Origin carries
    the CORS headers, errors included."""
    response.headers["X-Request-ID"] = request["request_id"]
    cors = request.app[CORS]
    if cors.enabled:
        response.headers.update(cors.headers_for(request.headers.get("Origin")) or {})
    return response


def observe(
    request: web.Request, response: web.StreamResponse, seconds: float, settings: Settings
) -> None:
    target: Target | None = request.get("target")
    call: Call | None = request.get("call")
    verb = target.verb if target is not None else "other"
    front = request.get("front", OPERATIONS)
    state = request.app[EDGE]
    model = metric_model(state, target, response.status)
    if request.get("traffic"):
        state.traffic.record(response.status, seconds)
    metrics.requests_by(front, model, verb, str(response.status)).inc()
    metrics.latency_by(front, verb).observe(seconds)
    phases = call.phases if call is not None else {}
    for phase, spent in phases.items():
        metrics.phases_by(verb, phase).observe(spent)
    access = request.app.get(ACCESS_LOG)
    if access is not None:
        access.write(access_line(request, response, target, phases, seconds))


def metric_model(state: EdgeState, target: Target | None, status: int) -> str:
    """The model label, bounded: names that never answered 200 share one label."""
    if target is None or not target.model:
        return ""
    known = state.known_models
    if status == 200:
        known.add(target.model)
    return target.model if target.model in known else "_unknown"


def access_line(
    request: web.Request,
    response: web.StreamResponse,
    target: Target | None,
    phases: dict[str, float],
    seconds: float,
) -> bytes:
    """One JSON line per request; never the payloads."""
    record = {
        "ts": round(time.time(), 3),
        "id": request.get("request_id"),
        "principal": request.get("principal"),
        "method": request.method,
        "path": request.path,
        "model": (target.model or None) if target else None,
        "version": target.version if target else None,
        "label": target.label if target else None,
        "verb": target.verb if target else None,
        "status": response.status,
        "req_bytes": request.content_length or 0,
        "resp_bytes": response.content_length or 0,
        "ms": round(seconds * 1000, 3),
        **{f"{k}_ms": round(v * 1000, 3) for k, v in phases.items()},
    }
    return orjson.dumps(record) + b"\n"


async def read_body(request: web.Request, settings: Settings) -> Body:
    """The request body, inflated when gzip-encoded (TF Serving does the same).

    A body that fails to inflate counts as empty, as in TF Serving; one that
    inflates past the cap is refused with 413 before it is held in memory.
    """
    try:
        if request.content.is_eof():  # all of it has arrived already: no timer needed
            chunks = await read_chunks(request, settings.max_body_bytes)
        else:
            async with asyncio.timeout(settings.body_timeout_s):
                chunks = await read_chunks(request, settings.max_body_bytes)
    except TimeoutError:
        raise web.HTTPRequestTimeout(text="The request body did not arrive in time") from None
    except ConnectionError:
        raise ClientGone from None
    if "gzip" not in request.headers.get("Content-Encoding", "").lower():
        return Body(chunks)
    cap = settings.max_inflated_bytes
    inflated = gunzip(b"".join(chunks), cap)
    if inflated is None:
        raise web.HTTPRequestEntityTooLarge(
            max_size=cap,
            actual_size=cap + 1,
            text=f"Request body exceeds {cap} bytes once decompressed",
        )
    return Body((inflated,)) if inflated else Body()


async def read_chunks(request: web.Request, limit: int) -> list[bytes]:
    """The body in the chunks it came in, not copied (aiohttp's ``read()`` copies a large
    body three times); 413 past ``limit``, at once when Content-Length says so."""
    declared = request.content_length or 0
    if declared > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
    if not request.can_read_body:
        # aiohttp's shared empty payload ends chunk iteration only once per process.
        return []
    stream = request.content
    stream.set_read_chunk_size(limit)  # as read() does: no pause/resume per 64 KiB
    chunks, size = [], 0
    async for chunk, _ in stream.iter_chunks():
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
        chunks.append(chunk)
    return chunks


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header admits gzip (RFC 9110 §12.5.3: q=0 refuses;
    ``*`` stands for every coding not named)."""
    weights: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.partition(";")
        weights.setdefault(coding.strip(), _q_value(params))
    for name in ("gzip", "x-gzip", "*"):
        if name in weights:
            return weights[name] > 0
    return False


def _q_value(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


def gunzip(body: bytes, cap: int) -> bytes | None:
    """A gzip body inflated, pure (the fuzzers call it directly): b"" when it does not
    inflate or does not end properly, a cut trailer included (TF Serving counts it as
    empty: compatibility.md §1); None when it would inflate past ``cap`` bytes
    (inflating stops there)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(body, cap + 1)
    except zlib.error:
        return b""
    if len(inflated) > cap or inflater.unconsumed_tail:
        return None
    return inflated if inflater.eof else b""


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
    return new_request_id()


class _Ids:
    """Fresh request ids: a random per-process prefix and a counter (no system call
    per request, unlike ``secrets``); the prefix is drawn again after a fork."""

    pid = -1
    prefix = ""
    counter = itertools.count()


def new_request_id() -> str:
    if _Ids.pid != os.getpid():
        _Ids.pid, _Ids.prefix = os.getpid(), secrets.token_hex(8)
    return f"{_Ids.prefix}{next(_Ids.counter):016x}"


def preflight(request: web.Request) -> web.Response:
    """CORS preflight (no credentials needed: browsers send none).

    Without ``cors_origins``, as TF Serving answers it: 200 with an http(s)
    Origin, else 400, no body (compatibility.md §1). With it, an allowed origin
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


# aiohttp answers what it cannot parse as HTTP (and what escapes every middleware)
# itself, in text/plain. Texts for those answers, by status; others use the phrase.
_PROTOCOL_TEXTS = {
    400: "Malformed HTTP request",
    500: "Internal error",
    504: "Deadline Exceeded",
}


def protocol_error_text(status: int) -> str:
    if status in _PROTOCOL_TEXTS:
        return _PROTOCOL_TEXTS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Malformed HTTP request"


def answer_protocol_errors_in_json() -> None:
    """Make aiohttp's own error answers ``{"error": ...}`` JSON with a request id.

    They come from ``RequestHandler.handle_error``, before any middleware runs, and
    aiohttp has no setting for them; so this process's handler class gets a wrapper
    that keeps aiohttp's logging and connection handling and replaces only the body.
    """
    original = RequestHandler.handle_error
    if getattr(original, "json_errors", False):
        return

    def handle_error(
        self: RequestHandler,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        original(self, request, status, exc, message)  # logs; raises once bytes went out
        response = error_response(status, protocol_error_text(status))
        response.headers["X-Request-ID"] = new_request_id()
        response.force_close()
        return response

    handle_error.json_errors = True  # type: ignore[attr-defined]
    RequestHandler.handle_error = handle_error  # type: ignore[method-assign]
