"""Settings: every knob of the gateway and its default, in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class EmbeddedModelServer:
    """The bundled ModelServer that `serve` starts when no --model-server is given."""

    model_config_file: str | None = None
    model_name: str | None = None
    model_base_path: str | None = None
    extra_args: tuple[str, ...] = ()
    startup_timeout_s: float = 180.0

    @property
    def wanted(self) -> bool:
        return self.model_config_file is not None or self.model_base_path is not None


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "0.0.0.0"
    port: int = 8501
    # gRPC target of the ModelServer: host:port, dns:///name:port, ipv4:a:p,b:p.
    model_server: str | None = None
    # Paperspace deployment id -> model name.
    deployments: Mapping[str, str] = field(default_factory=dict)
    embedded: EmbeddedModelServer = field(default_factory=EmbeddedModelServer)
    # Deadline of each ModelServer call (TF Serving's REST port uses 30 s).
    timeout_s: float = 30.0
    # Largest request body accepted, and largest gzip body once inflated.
    max_body_bytes: int = 64 * MIB
    max_inflated_bytes: int = 64 * MIB
    # How long learned signatures are trusted before they are fetched again.
    signature_ttl_s: float = 30.0
    # Retries of UNAVAILABLE calls (attempts in all, 1 = no retry).
    max_attempts: int = 3
    workers: int = 1
