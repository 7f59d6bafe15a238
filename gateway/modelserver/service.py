"""The gRPC server: PredictionService and ModelService on generic handlers.

No generated stubs: each method is a unary-unary handler whose request and
response classes come from ``gateway.protos``. Handlers run on the server's
thread pool; TensorFlow releases the GIL while a Session runs, so concurrent
calls overlap. Every failure becomes a gRPC status with TF Serving's code and
text; nothing a client sends can take the server down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent import futures
from functools import partial
from typing import Any

import grpc

from gateway.core import protos
from gateway.core.errors import Code, GatewayError
from gateway.modelserver import inference
from gateway.modelserver.inference import InferenceOptions
from gateway.modelserver.manager import ModelManager

log = logging.getLogger("gateway.modelserver")

# TF Serving's gRPC layer cuts long messages (compatibility.md §7).
MAX_ERROR_CHARS = 1024
TRUNCATED = "...TRUNCATED"
# What a client sees of a fault in the bundled server itself (the log has the traceback).
INTERNAL_ERROR = "Internal error in the ModelServer"
MAX_MESSAGE_BYTES = 2**31 - 1
GRPC_CODES = {code.value[0]: code for code in grpc.StatusCode}

Handler = Callable[[Any], Any]


def grpc_message(message: str) -> str:
    if len(message) > MAX_ERROR_CHARS:
        return message[:MAX_ERROR_CHARS] + TRUNCATED
    return message


def _guarded(method: str, handler: Handler) -> Callable[[Any, Any], Any]:
    def call(request: Any, context: Any) -> Any:
        try:
            return handler(request)
        except GatewayError as exc:
            code, message = exc.code, exc.message
        except Exception:  # a bug must cost one request, not the server
            log.exception("%s failed", method)
            code, message = Code.INTERNAL, INTERNAL_ERROR
        context.abort(GRPC_CODES[int(code)], grpc_message(message))

    return call


def _unary(method: str, handler: Handler, request_cls: Any, response_cls: Any) -> Any:
    return grpc.unary_unary_rpc_method_handler(
        _guarded(method, handler),
        request_deserializer=request_cls.FromString,
        response_serializer=response_cls.SerializeToString,
    )


def prediction_handlers(manager: ModelManager, options: InferenceOptions) -> Any:
    methods = {
        "Predict": (inference.predict, protos.PredictRequest, protos.PredictResponse),
        "Classify": (
            inference.classify,
            protos.ClassificationRequest,
            protos.ClassificationResponse,
        ),
        "Regress": (inference.regress, protos.RegressionRequest, protos.RegressionResponse),
        "MultiInference": (
            inference.multi_inference,
            protos.MultiInferenceRequest,
            protos.MultiInferenceResponse,
        ),
    }
    table = {
        name: _unary(name, partial(func, manager, options=options), req, resp)
        for name, (func, req, resp) in methods.items()
    }
    table["GetModelMetadata"] = _unary(
        "GetModelMetadata",
        partial(inference.get_model_metadata, manager),
        protos.GetModelMetadataRequest,
        protos.GetModelMetadataResponse,
    )
    return grpc.method_handlers_generic_handler(protos.PREDICTION_SERVICE, table)


def model_handlers(manager: ModelManager) -> Any:
    table = {
        "GetModelStatus": _unary(
            "GetModelStatus",
            partial(inference.get_model_status, manager),
            protos.GetModelStatusRequest,
            protos.GetModelStatusResponse,
        ),
        "HandleReloadConfigRequest": _unary(
            "HandleReloadConfigRequest",
            partial(inference.reload_config, manager),
            protos.ReloadConfigRequest,
            protos.ReloadConfigResponse,
        ),
    }
    return grpc.method_handlers_generic_handler(protos.MODEL_SERVICE, table)


def create_server(
    manager: ModelManager,
    options: InferenceOptions,
    address: str,
    max_workers: int,
    credentials: Any = None,
) -> tuple[Any, int]:
    """A started-ready (not yet started) gRPC server and its bound port (TLS with credentials)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        handlers=[prediction_handlers(manager, options), model_handlers(manager)],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    if credentials is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    if port == 0:
        raise OSError(f"could not bind {address}")
    return server, port
