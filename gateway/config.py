"""Settings: every knob of the gateway and its default, in one place.

Sources, lowest precedence first: defaults, a TOML config file
(``--config`` or ``TFS_GATEWAY_CONFIG``), environment variables
(``TFS_GATEWAY_<KNOB>``), command-line flags. The ``KNOBS`` table drives all
three spellings and the README's config table. Bad configuration raises
``ConfigError`` with a message that names the offending key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
ENV_PREFIX = "TFS_GATEWAY_"
DEFAULT_BACKEND = "default"
VERBS = ("predict", "classify", "regress", "metadata", "status")


class ConfigError(ValueError):
    """Configuration that cannot work; raised at start-up, never at request time."""


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


@dataclass(frozen=True, slots=True)
class Knob:
    """One scalar setting of the [server] table, with its help text."""

    name: str
    kind: type
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


KNOBS: tuple[Knob, ...] = (
    Knob("host", str, "address to listen on"),
    Knob("port", int, "HTTP port"),
    Knob("workers", int, "gateway processes sharing the port (SO_REUSEPORT); default: CPUs"),
    Knob(
        "model_server", str, "gRPC target of the default backend (host:port, dns:///..., ipv4:a,b)"
    ),
    Knob("timeout_s", float, "deadline of each ModelServer call, unless a model overrides it"),
    Knob("max_attempts", int, "attempts per call on UNAVAILABLE (1 = no retry)"),
    Knob("max_message_bytes", int, "largest gRPC message either way"),
    Knob("max_body_bytes", int, "largest request body (413 beyond)"),
    Knob("max_inflated_bytes", int, "largest gzip request body once inflated (413 beyond)"),
    Knob("max_in_flight", int, "requests handled at once per worker (503 + Retry-After beyond)"),
    Knob("body_timeout_s", float, "time a client has to send its whole body (408 beyond)"),
    Knob("keepalive_timeout_s", float, "idle keep-alive connections are closed after this"),
    Knob("drain_delay_s", float, "on SIGTERM, /readyz fails this long before the port closes"),
    Knob("shutdown_timeout_s", float, "then in-flight requests get this long to finish"),
    Knob("gzip_min_bytes", int, "gzip responses at least this large when the client accepts"),
    Knob("signature_ttl_s", float, "how long learned signatures are trusted"),
    Knob("access_log", bool, "one JSON line per request on stdout"),
    Knob("log_level", str, "logging level"),
)


@dataclass(frozen=True, slots=True)
class Backend:
    """A ModelServer (or a set of replicas behind one gRPC target)."""

    name: str
    target: str
    timeout_s: float | None = None
    max_attempts: int | None = None


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """Which backend serves a model, and its deadlines (per verb if given)."""

    name: str
    backend: str = DEFAULT_BACKEND
    timeout_s: float | None = None
    verb_timeouts: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Deployment:
    """A Paperspace deployment id and the model (and backend) it stands for."""

    id: str
    model: str
    backend: str | None = None


@dataclass(frozen=True, slots=True)
class EmbeddedModelServer:
    """The bundled ModelServer that `serve` starts when no backend target is given."""

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
    workers: int = 1
    # Target of the default backend; also filled in from the embedded ModelServer.
    model_server: str | None = None
    timeout_s: float = 30.0  # TF Serving's REST port uses 30 s
    max_attempts: int = 3
    max_message_bytes: int = 2**31 - 1  # what TF Serving accepts
    max_body_bytes: int = 64 * MIB
    max_inflated_bytes: int = 64 * MIB
    max_in_flight: int = 256
    body_timeout_s: float = 60.0
    keepalive_timeout_s: float = 75.0
    drain_delay_s: float = 0.0
    shutdown_timeout_s: float = 30.0
    gzip_min_bytes: int = 64 * 1024
    signature_ttl_s: float = 30.0
    access_log: bool = True
    log_level: str = "INFO"
    backends: Mapping[str, Backend] = field(default_factory=dict)
    models: Mapping[str, ModelRoute] = field(default_factory=dict)
    deployments: Mapping[str, Deployment] = field(default_factory=dict)
    embedded: EmbeddedModelServer = field(default_factory=EmbeddedModelServer)

    def all_backends(self) -> dict[str, Backend]:
        """Configured backends, with the default one built from model_server."""
        out = dict(self.backends)
        if self.model_server is not None:
            out[DEFAULT_BACKEND] = replace(
                out.get(DEFAULT_BACKEND, Backend(DEFAULT_BACKEND, self.model_server)),
                target=self.model_server,
            )
        return out

    def backend_for(self, model: str, deployment: str | None = None) -> str:
        if deployment is not None:
            routed = self.deployments[deployment].backend
            if routed is not None:
                return routed
        route = self.models.get(model)
        return route.backend if route is not None else DEFAULT_BACKEND

    def timeout_for(self, model: str, verb: str, backend: str) -> float:
        route = self.models.get(model)
        if route is not None:
            if verb in route.verb_timeouts:
                return route.verb_timeouts[verb]
            if route.timeout_s is not None:
                return route.timeout_s
        configured = self.all_backends().get(backend)
        if configured is not None and configured.timeout_s is not None:
            return configured.timeout_s
        return self.timeout_s


# --- loading -----------------------------------------------------------------


def _coerce(knob: Knob, value: Any, where: str) -> Any:
    if knob.kind is bool and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if knob.kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and knob.kind in (int, float):
        try:
            return knob.kind(value)
        except ValueError:
            raise ConfigError(f"{where}: expected {knob.kind.__name__}, got {value!r}") from None
    if not isinstance(value, knob.kind) or isinstance(value, bool) is not (knob.kind is bool):
        raise ConfigError(f"{where}: expected {knob.kind.__name__}, got {value!r}")
    return value


_KNOBS_BY_NAME = {knob.name: knob for knob in KNOBS}
_SECTIONS = {"server", "backends", "models", "deployments"}


def scalars_from_toml(doc: Mapping[str, Any], source: str) -> dict[str, Any]:
    server = doc.get("server", {})
    if not isinstance(server, dict):
        raise ConfigError(f"{source}: [server] must be a table")
    out = {}
    for key, value in server.items():
        knob = _KNOBS_BY_NAME.get(key)
        if knob is None:
            raise ConfigError(f"{source}: unknown key {key!r} in [server]")
        out[key] = _coerce(knob, value, f"{source}: server.{key}")
    return out


def scalars_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    return {
        knob.name: _coerce(knob, environ[knob.env], knob.env)
        for knob in KNOBS
        if environ.get(knob.env, "") != ""
    }


def _table(doc: Mapping[str, Any], name: str, source: str) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    return value


def _fields_of(entry: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(entry) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    return entry


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}: expected a positive number, got {value!r}")
    return float(value)


def backends_from_toml(doc: Mapping[str, Any], source: str) -> dict[str, Backend]:
    out = {}
    for name, entry in _table(doc, "backends", source).items():
        where = f"{source}: backends.{name}"
        spec = _fields_of(entry, {"target", "timeout_s", "max_attempts"}, where)
        target = spec.get("target")
        if not isinstance(target, str) or not target:
            raise ConfigError(f"{where}: 'target' (a gRPC target string) is required")
        timeout = spec.get("timeout_s")
        attempts = spec.get("max_attempts")
        if attempts is not None and (not isinstance(attempts, int) or attempts < 1):
            raise ConfigError(f"{where}.max_attempts: expected an integer >= 1")
        out[name] = Backend(
            name,
            target,
            None if timeout is None else _number(timeout, f"{where}.timeout_s"),
            attempts,
        )
    return out


def models_from_toml(doc: Mapping[str, Any], source: str) -> dict[str, ModelRoute]:
    out = {}
    for name, entry in _table(doc, "models", source).items():
        where = f"{source}: models.{name}"
        spec = _fields_of(entry, {"backend", "timeout_s", "timeouts"}, where)
        verbs = _fields_of(spec.get("timeouts", {}), set(VERBS), f"{where}.timeouts")
        timeout = spec.get("timeout_s")
        out[name] = ModelRoute(
            name=name,
            backend=str(spec.get("backend", DEFAULT_BACKEND)),
            timeout_s=None if timeout is None else _number(timeout, f"{where}.timeout_s"),
            verb_timeouts={v: _number(t, f"{where}.timeouts.{v}") for v, t in verbs.items()},
        )
    return out


def deployments_from_toml(doc: Mapping[str, Any], source: str) -> dict[str, Deployment]:
    out = {}
    for ident, entry in _table(doc, "deployments", source).items():
        where = f"{source}: deployments.{ident}"
        if isinstance(entry, str):
            out[ident] = Deployment(ident, entry)
            continue
        spec = _fields_of(entry, {"model", "backend"}, where)
        if not isinstance(spec.get("model"), str):
            raise ConfigError(f"{where}: 'model' is required")
        backend = spec.get("backend")
        out[ident] = Deployment(ident, spec["model"], None if backend is None else str(backend))
    return out


def deployments_from_pairs(pairs: list[str], where: str) -> dict[str, Deployment]:
    """``ID=MODEL`` pairs (flags, or the comma-separated environment variable)."""
    out = {}
    for pair in pairs:
        ident, sep, model = pair.strip().partition("=")
        if not sep or not ident or not model:
            raise ConfigError(f"{where}: expected ID=MODEL, got {pair!r}")
        out[ident] = Deployment(ident, model)
    return out


def read_toml(path: str) -> dict[str, Any]:
    try:
        doc = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = set(doc) - _SECTIONS
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {sorted(unknown)}")
    return doc


def build_settings(
    config_file: str | None,
    environ: Mapping[str, str],
    flags: Mapping[str, Any],
    flag_deployments: list[str],
    embedded: EmbeddedModelServer,
) -> Settings:
    """Merge the sources (defaults < file < environment < flags) and validate."""
    path = config_file or environ.get(ENV_PREFIX + "CONFIG") or None
    doc = read_toml(path) if path else {}
    source = path or "config"
    scalars: dict[str, Any] = {"workers": default_workers()}
    scalars.update(scalars_from_toml(doc, source))
    scalars.update(scalars_from_env(environ))
    scalars.update({k: v for k, v in flags.items() if v is not None})
    deployments = deployments_from_toml(doc, source)
    env_pairs = [p for p in environ.get(ENV_PREFIX + "DEPLOYMENTS", "").split(",") if p.strip()]
    deployments.update(deployments_from_pairs(env_pairs, ENV_PREFIX + "DEPLOYMENTS"))
    deployments.update(deployments_from_pairs(flag_deployments, "--deployment"))
    settings = Settings(
        **scalars,
        backends=backends_from_toml(doc, source),
        models=models_from_toml(doc, source),
        deployments=deployments,
        embedded=embedded,
    )
    validate(settings, embedded_pending=embedded.wanted)
    return settings


def validate(settings: Settings, embedded_pending: bool = False) -> None:
    backends = settings.all_backends()
    if embedded_pending and settings.model_server is None:
        backends[DEFAULT_BACKEND] = Backend(DEFAULT_BACKEND, "embedded")
    if not backends:
        raise ConfigError(
            "no ModelServer: give --model-server TARGET (or [backends.default] in the config "
            "file), or --model_config_file / --model_base_path for the bundled ModelServer"
        )
    for knob in ("port", "workers", "max_body_bytes", "max_inflated_bytes", "max_in_flight"):
        if getattr(settings, knob) < (0 if knob == "port" else 1):
            raise ConfigError(f"{knob} must be positive, got {getattr(settings, knob)}")
    for model in settings.models.values():
        _check_backend(model.backend, backends, f"models.{model.name}.backend")
    for dep in settings.deployments.values():
        if dep.backend is not None:
            _check_backend(dep.backend, backends, f"deployments.{dep.id}.backend")
    if DEFAULT_BACKEND not in backends:
        routed = {m.name for m in settings.models.values()}
        if not routed and not settings.deployments:
            raise ConfigError("no default backend and no [models] routes")


def _check_backend(name: str, backends: Mapping[str, Backend], where: str) -> None:
    if name not in backends:
        raise ConfigError(f"{where}: unknown backend {name!r} (known: {sorted(backends)})")


def knob_defaults() -> dict[str, Any]:
    """Each knob's default, for the README table and --help."""
    defaults = {f.name: f.default for f in fields(Settings) if f.name in _KNOBS_BY_NAME}
    defaults["workers"] = "CPUs"
    return defaults
