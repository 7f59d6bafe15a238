"""The only module that talks gRPC: one client per ModelServer backend.

It owns the channel (message size limits, keepalive, client-side round-robin
over every address the target resolves to, retries on UNAVAILABLE through
gRPC's own retry policy), applies deadlines, and translates every gRPC failure
into a ``GatewayError`` once, here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from gateway.core import protos
from gateway.core.errors import Code, GatewayError
from gateway.core.health import BackendHealth, reason_of

MAX_MESSAGE_BYTES = 2**31 - 1  # what TF Serving accepts (2 GiB - 1)

# Transport failures whose gRPC text names addresses or sockets: the client
# gets a stable message instead (backend addresses are not the client's business).
_TRANSPORT_HINTS = ("failed to connect", "connection", "socket", "ipv4:", "ipv6:", "dns:", "unix:")


@dataclass(frozen=True, slots=True)
class ChannelTLS:
    """TLS to a backend: CA bundle (None: system roots), client pair for mTLS, name override."""

    root_certificates: bytes | None = None
    certificate_chain: bytes | None = None
    private_key: bytes | None = None
    server_name: str | None = None

    @classmethod
    def from_files(
        cls,
        ca_file: str | None,
        cert_file: str | None,
        key_file: str | None,
        server_name: str | None,
    ) -> ChannelTLS:
        def read(path: str | None) -> bytes | None:
            return None if path is None else Path(path).read_bytes()

        return cls(read(ca_file), read(cert_file), read(key_file), server_name)

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            self.root_certificates, self.private_key, self.certificate_chain
        )


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Channel and call settings for one backend."""

    timeout_s: float = 30.0
    max_message_bytes: int = MAX_MESSAGE_BYTES
    keepalive_time_s: float = 30.0
    keepalive_timeout_s: float = 10.0
    max_attempts: int = 3
    initial_backoff_s: float = 0.05
    max_backoff_s: float = 1.0
    max_reconnect_backoff_s: float = 2.0
    tls: ChannelTLS | None = None


def service_config(options: ClientOptions) -> str:
    """gRPC service config: round-robin over resolved addresses, retry UNAVAILABLE."""
    retry = {
        "maxAttempts": max(2, options.max_attempts),
        "initialBackoff": f"{options.initial_backoff_s}s",
        "maxBackoff": f"{options.max_backoff_s}s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }
    method: dict[str, Any] = {
        "name": [{"service": protos.PREDICTION_SERVICE}, {"service": protos.MODEL_SERVICE}],
    }
    if options.max_attempts > 1:
        method["retryPolicy"] = retry
    return json.dumps({"loadBalancingConfig": [{"round_robin": {}}], "methodConfig": [method]})


def channel_options(options: ClientOptions) -> list[tuple[str, Any]]:
    name_override = options.tls.server_name if options.tls is not None else None
    tls = [] if name_override is None else [("grpc.ssl_target_name_override", name_override)]
    return [
        *tls,
        ("grpc.max_send_message_length", options.max_message_bytes),
        ("grpc.max_receive_message_length", options.max_message_bytes),
        ("grpc.keepalive_time_ms", int(options.keepalive_time_s * 1000)),
        ("grpc.keepalive_timeout_ms", int(options.keepalive_timeout_s * 1000)),
        ("grpc.enable_retries", 1 if options.max_attempts > 1 else 0),
        # Reconnect quickly after a backend restarts (gRPC's default backoff grows to 120 s).
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", int(options.max_reconnect_backoff_s * 1000)),
        ("grpc.service_config", service_config(options)),
    ]


def open_channel(target: str, options: ClientOptions) -> grpc.aio.Channel:
    if options.tls is None:
        return grpc.aio.insecure_channel(target, options=channel_options(options))
    credentials = options.tls.credentials()
    return grpc.aio.secure_channel(target, credentials, options=channel_options(options))


def _identity(data: bytes) -> bytes:
    return data


class ModelServerClient:
    """Async calls to one ModelServer target (``host:port``, ``dns:///...``, ``ipv4:a,b``).

    Each call's outcome updates ``health`` (logged once per change).
    """

    def __init__(
        self,
        target: str,
        options: ClientOptions | None = None,
        health: BackendHealth | None = None,
    ) -> None:
        self.target = target
        self.options = options or ClientOptions()
        self.health = health or BackendHealth("ModelServer")  # the name logs show
        self._channel = open_channel(target, self.options)
        self._predict = self._method(protos.PREDICTION_SERVICE, "Predict", protos.PredictResponse)
        self._classify = self._method(
            protos.PREDICTION_SERVICE, "Classify", protos.ClassificationResponse
        )
        self._regress = self._method(
            protos.PREDICTION_SERVICE, "Regress", protos.RegressionResponse
        )
        self._metadata = self._method(
            protos.PREDICTION_SERVICE, "GetModelMetadata", protos.GetModelMetadataResponse
        )
        self._status = self._method(
            protos.MODEL_SERVICE, "GetModelStatus", protos.GetModelStatusResponse
        )

    def _method(self, service: str, name: str, response_cls: Any) -> Any:
        # Requests arrive already serialized (the handlers build them), so the
        # request serializer is the identity and no message is copied twice.
        return self._channel.unary_unary(
            f"/{service}/{name}",
            request_serializer=_identity,
            response_deserializer=response_cls.FromString,
        )

    async def predict(self, request: bytes, **kw: Any) -> Any:
        return await self._call(self._predict, request, **kw)

    async def classify(self, request: bytes, **kw: Any) -> Any:
        return await self._call(self._classify, request, **kw)

    async def regress(self, request: bytes, **kw: Any) -> Any:
        return await self._call(self._regress, request, **kw)

    async def get_model_metadata(self, request: bytes, **kw: Any) -> Any:
        return await self._call(self._metadata, request, **kw)

    async def get_model_status(self, request: bytes, **kw: Any) -> Any:
        return await self._call(self._status, request, **kw)

    async def _call(
        self,
        method: Callable[..., Any],
        request: bytes,
        *,
        timeout_s: float | None = None,
        request_id: str | None = None,
    ) -> Any:
        metadata = (("x-request-id", request_id),) if request_id else None
        timeout = self.options.timeout_s if timeout_s is None else timeout_s
        try:
            response = await method(request, timeout=timeout, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            self._observe(exc)
            raise translate_rpc_error(exc) from None
        self.health.answered()
        return response

    def _observe(self, exc: grpc.aio.AioRpcError) -> None:
        code = exc.code()
        if code == grpc.StatusCode.UNAVAILABLE:
            self.health.unavailable(exc.details() or "")
        elif code != grpc.StatusCode.DEADLINE_EXCEEDED:
            self.health.answered()

    async def close(self) -> None:
        await self._channel.close()


def translate_rpc_error(exc: grpc.aio.AioRpcError) -> GatewayError:
    """The one place a gRPC failure becomes a GatewayError."""
    status = exc.code()
    code = Code(status.value[0]) if status.value[0] in Code._value2member_map_ else Code.UNKNOWN
    details = exc.details() or ""
    if code == Code.UNAVAILABLE and any(hint in details.lower() for hint in _TRANSPORT_HINTS):
        details = "The ModelServer is unavailable; try again later"
    elif code == Code.DEADLINE_EXCEEDED:
        details = "Deadline Exceeded"
    return GatewayError(code, details, from_backend=True)


def probe(target: str, options: ClientOptions, timeout_s: float = 2.0) -> str | None:
    """One blocking status call (for start-up, before any event loop): None when the
    ModelServer answered (any reply, an error too), else the reason, without addresses."""
    if options.tls is None:
        channel = grpc.insecure_channel(target, options=channel_options(options))
    else:
        credentials = options.tls.credentials()
        channel = grpc.secure_channel(target, credentials, options=channel_options(options))
    with channel:
        status = channel.unary_unary(
            f"/{protos.MODEL_SERVICE}/GetModelStatus",
            request_serializer=_identity,
            response_deserializer=protos.GetModelStatusResponse.FromString,
        )
        request = protos.GetModelStatusRequest()
        request.model_spec.name = "__tfs_gateway_probe__"
        try:
            status(request.SerializeToString(), timeout=timeout_s)
        except grpc.RpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return f"no answer within {timeout_s:g} s"
            if code == grpc.StatusCode.UNAVAILABLE:
                return reason_of(exc.details() or "")
    return None
