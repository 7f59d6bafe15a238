"""Command-line flags in tensorflow_model_server's spelling.

Boolean flags accept ``--flag``, ``--flag=true`` and ``--flag=false`` like
absl flags. ``--rest_api_port`` is accepted and ignored: the bundled server
speaks gRPC only (the gateway provides REST). TLS takes explicit PEM files
(``--ssl_cert_file``, ``--ssl_key_file``, ``--ssl_client_ca_file``) instead of
TF Serving's ``--ssl_config_file`` text proto; the effect is the same.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

TRUE_WORDS = {"true", "1", "yes", "t", "y"}
FALSE_WORDS = {"false", "0", "no", "f", "n"}


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


@dataclass(frozen=True)
class Flags:
    """Everything the bundled ModelServer can be told on its command line."""

    host: str
    port: int
    model_name: str
    model_base_path: str
    model_config_file: str
    allow_version_labels_for_unavailable_models: bool
    file_system_poll_wait_seconds: float
    enable_serialization_as_tensor_content: bool
    enable_signature_method_name_check: bool
    grpc_max_threads: int
    ssl_cert_file: str = ""
    ssl_key_file: str = ""
    ssl_client_ca_file: str = ""


def _bool_flag(parser: argparse.ArgumentParser, name: str, help_text: str) -> None:
    parser.add_argument(
        f"--{name}", type=parse_bool, nargs="?", const=True, default=False, help=help_text
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfs-gateway modelserver",
        description="Bundled TensorFlow ModelServer: TF Serving's gRPC API on tensorflow-cpu.",
    )
    add = parser.add_argument
    add("--port", type=int, default=8500, help="gRPC port (default 8500)")
    add("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    add("--model_name", default="default", help="model name, with --model_base_path")
    add("--model_base_path", default="", help="directory of numeric version directories")
    add("--model_config_file", default="", help="ModelServerConfig in protobuf text format")
    _bool_flag(
        parser,
        "allow_version_labels_for_unavailable_models",
        "let version labels point to versions that are not loaded yet",
    )
    add(
        "--file_system_poll_wait_seconds",
        type=float,
        default=1.0,
        help="seconds between polls for new versions; <= 0 polls once (default 1)",
    )
    _bool_flag(
        parser,
        "enable_serialization_as_tensor_content",
        "answer predict outputs in tensor_content instead of typed value fields",
    )
    _bool_flag(
        parser,
        "enable_signature_method_name_check",
        "require classify/regress/predict method names on signatures (TF Serving: off)",
    )
    add("--grpc_max_threads", type=int, default=16, help="gRPC worker threads (default 16)")
    add("--rest_api_port", type=int, default=0, help="accepted and ignored (gRPC only)")
    add("--ssl_cert_file", default="", help="PEM certificate chain: serve gRPC over TLS")
    add("--ssl_key_file", default="", help="PEM private key of --ssl_cert_file")
    add(
        "--ssl_client_ca_file",
        default="",
        help="PEM CA bundle: require client certificates signed by it (mTLS)",
    )
    return parser


def parse_flags(argv: Sequence[str]) -> Flags:
    """Parse the command line; exits with status 2 on a bad flag, as argparse does."""
    parser = build_parser()
    ns = parser.parse_args(list(argv))
    if not ns.model_config_file and not ns.model_base_path:
        parser.error("either --model_config_file or --model_base_path is required")
    if ns.model_config_file and ns.model_base_path:
        parser.error("--model_config_file and --model_base_path are mutually exclusive")
    if bool(ns.ssl_cert_file) != bool(ns.ssl_key_file):
        parser.error("--ssl_cert_file and --ssl_key_file go together")
    if ns.ssl_client_ca_file and not ns.ssl_cert_file:
        parser.error("--ssl_client_ca_file needs --ssl_cert_file and --ssl_key_file")
    return Flags(
        host=ns.host,
        port=ns.port,
        model_name=ns.model_name,
        model_base_path=ns.model_base_path,
        model_config_file=ns.model_config_file,
        allow_version_labels_for_unavailable_models=ns.allow_version_labels_for_unavailable_models,
        file_system_poll_wait_seconds=ns.file_system_poll_wait_seconds,
        enable_serialization_as_tensor_content=ns.enable_serialization_as_tensor_content,
        enable_signature_method_name_check=ns.enable_signature_method_name_check,
        grpc_max_threads=ns.grpc_max_threads,
        ssl_cert_file=ns.ssl_cert_file,
        ssl_key_file=ns.ssl_key_file,
        ssl_client_ca_file=ns.ssl_client_ca_file,
    )
