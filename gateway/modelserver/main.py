"""``tfs-gateway modelserver``: load the models, serve gRPC, stop on SIGTERM/SIGINT.

Prints ``ModelServer listening on HOST:PORT`` to stderr once every model of
the initial config has been loaded and the port accepts calls.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import text_format

from gateway.core import protos
from gateway.core.embedded import TENSORFLOW_MISSING, tensorflow_installed
from gateway.core.errors import GatewayError
from gateway.core.ports import ListenError, check_can_listen, os_reason
from gateway.modelserver.flags import Flags, parse_flags

log = logging.getLogger("gateway.modelserver")
GRACE_S = 5.0


def initial_config(flags: Flags) -> Any:
    """The ModelServerConfig from --model_config_file or --model_name/--model_base_path."""
    config = protos.ModelServerConfig()
    if flags.model_config_file:
        with open(flags.model_config_file, encoding="utf-8") as handle:
            text_format.Parse(handle.read(), config, descriptor_pool=protos.POOL)
        return config
    model = config.model_config_list.config.add()
    model.name = flags.model_name
    model.base_path = os.path.abspath(flags.model_base_path)
    model.model_platform = "tensorflow"
    return config


def server_credentials(flags: Flags) -> Any:
    """gRPC server credentials from the --ssl_* flags; None serves plaintext."""
    if not flags.ssl_cert_file:
        return None

    def read(path: str) -> bytes:
        with open(path, "rb") as handle:
            return handle.read()

    client_ca = read(flags.ssl_client_ca_file) if flags.ssl_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(read(flags.ssl_key_file), read(flags.ssl_cert_file))],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(3600):
        pass


def serve(flags: Flags) -> int:
    # Everything that can fail fast does, before TensorFlow loads (seconds) and models load.
    config = initial_config(flags)
    credentials = server_credentials(flags)
    check_can_listen(flags.host, flags.port)
    # TensorFlow is imported here, after flag parsing, so --help stays fast.
    from gateway.modelserver.inference import InferenceOptions
    from gateway.modelserver.manager import ModelManager
    from gateway.modelserver.service import create_server

    manager = ModelManager(flags.allow_version_labels_for_unavailable_models)
    try:
        manager.reload(config)
    except GatewayError as exc:
        print(f"Failed to start server. Error: {exc.code.name}: {exc.message}", file=sys.stderr)
        return 1
    options = InferenceOptions(
        tensor_content=flags.enable_serialization_as_tensor_content,
        method_name_check=flags.enable_signature_method_name_check,
    )
    address = f"{flags.host}:{flags.port}"
    server, port = create_server(manager, options, address, flags.grpc_max_threads, credentials)
    server.start()
    manager.start_polling(flags.file_system_poll_wait_seconds)
    print(f"ModelServer listening on {flags.host}:{port}", file=sys.stderr, flush=True)
    _wait_for_signal()
    manager.stop()
    server.stop(GRACE_S).wait()
    return 0


def main(argv: Sequence[str]) -> int:
    """Exit status 2 (one line) without TensorFlow or with bad flags; 1 (one line,
    TF Serving's ``Failed to start server.``) when start-up fails otherwise."""
    flags = parse_flags(argv)
    if not tensorflow_installed():
        print(f"tfs-gateway modelserver: {TENSORFLOW_MISSING}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        return serve(flags)
    except ImportError as exc:  # an install whose TensorFlow is broken
        print(f"tfs-gateway modelserver: TensorFlow does not import: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"Failed to start server. Error: {os_error_text(exc)}", file=sys.stderr)
        return 1
    except (ListenError, RuntimeError, text_format.ParseError) as exc:
        print(f"Failed to start server. Error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 128 + signal.SIGINT


def os_error_text(exc: OSError) -> str:
    """``/path: No such file or directory`` rather than ``[Errno 2] ...``."""
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{os_reason(exc)}"
