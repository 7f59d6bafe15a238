"""Settings: every knob of the gateway and its default, in one place.

Sources, lowest precedence first: defaults, a TOML config file
(``--config`` or ``TFS_GATEWAY_CONFIG``), environment variables
(``TFS_GATEWAY_<KNOB>``), command-line flags. The ``KNOBS`` table drives all
three spellings and the README's config table. Bad configuration raises
``ConfigError`` with a message that names the offending key.
"""

from __future__ import annotations

import hashlib
import math
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


CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def default_workers(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The CPUs this process may use: its affinity, capped by a cgroup v2 CPU quota.

    In a container the affinity lists the node's CPUs; the quota
    (``cpu.max``: "<quota> <period>" or "max <period>") is the real limit.
    """
    cpus = max(1, len(os.sched_getaffinity(0)))
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return cpus
    if quota == "max":
        return cpus
    return max(1, min(cpus, math.ceil(int(quota) / int(period))))


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
    Knob("tls_cert_file", str, "PEM certificate chain: serve HTTPS (with tls_key_file)"),
    Knob("tls_key_file", str, "PEM private key of tls_cert_file"),
    Knob("tls_client_ca_file", str, "PEM CA bundle: verify client certificates against it"),
    Knob(
        "tls_client_auth", str, "with tls_client_ca_file: client certificates required or optional"
    ),
    Knob("model_server_tls", bool, "TLS to the default backend (implied by its tls files)"),
    Knob("model_server_tls_ca_file", str, "PEM CA bundle for the default backend (else system)"),
    Knob("model_server_tls_cert_file", str, "PEM client certificate: mTLS to the default backend"),
    Knob("model_server_tls_key_file", str, "PEM key of model_server_tls_cert_file"),
    Knob("model_server_tls_server_name", str, "name the default backend's certificate must carry"),
    Knob("cors_origins", str, "CORS: comma-separated allowed origins or *; none: TF Serving's"),
    Knob("cors_methods", str, "CORS: methods a browser may use"),
    Knob("cors_headers", str, "CORS: request headers a browser may send"),
    Knob("cors_max_age_s", int, "CORS: seconds a browser may cache a preflight answer"),
    Knob("console", bool, "the web console (/console/), Swagger UI (/docs/) and OpenAPI documents"),
)

OPERATIONS_PATHS = ("/healthz", "/readyz", "/metrics")
DEFAULT_REALM = "tfs-gateway"
CLIENT_AUTH_MODES = ("required", "optional")


def secret_digest(secret: bytes) -> bytes:
    """What the gateway keeps of a secret: SHA-256, compared in constant time."""
    return hashlib.sha256(secret).digest()


@dataclass(frozen=True, slots=True)
class BackendTLS:
    """TLS to one backend: CA bundle (None: system roots), client pair, name override."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Who may call: API keys and Basic users (digests only, never the secrets).

    ``allow`` is the principals allowed where a model or deployment names none
    (None: every principal). ``open_paths`` need no credentials.
    """

    realm: str = DEFAULT_REALM
    open_paths: frozenset[str] = frozenset(OPERATIONS_PATHS)
    allow: frozenset[str] | None = None
    key_digests: Mapping[bytes, str] = field(default_factory=dict, repr=False)
    user_digests: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def enabled(self) -> bool:
        return bool(self.key_digests or self.user_digests)

    @property
    def principals(self) -> frozenset[str]:
        return frozenset(self.key_digests.values()) | frozenset(self.user_digests)


@dataclass(frozen=True, slots=True)
class Backend:
    """A ModelServer (or a set of replicas behind one gRPC target)."""

    name: str
    target: str
    timeout_s: float | None = None
    max_attempts: int | None = None
    tls: BackendTLS | None = None


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """Which backend serves a model, its deadlines (per verb if given), who may call it."""

    name: str
    backend: str = DEFAULT_BACKEND
    timeout_s: float | None = None
    verb_timeouts: Mapping[str, float] = field(default_factory=dict)
    auth: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Deployment:
    """A Paperspace deployment id, the model (and backend) it stands for, who may call it."""

    id: str
    model: str
    backend: str | None = None
    auth: frozenset[str] | None = None


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
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_client_ca_file: str | None = None
    tls_client_auth: str = "required"
    model_server_tls: bool = False
    model_server_tls_ca_file: str | None = None
    model_server_tls_cert_file: str | None = None
    model_server_tls_key_file: str | None = None
    model_server_tls_server_name: str | None = None
    cors_origins: str | None = None  # None: TF Serving's preflight answers (compatibility.md §1)
    cors_methods: str = "POST, GET"  # what TF Serving's CORS support allows
    cors_headers: str = "Content-Type, Authorization, X-API-Key, X-Request-ID"
    cors_max_age_s: int = 600
    console: bool = True
    backends: Mapping[str, Backend] = field(default_factory=dict)
    models: Mapping[str, ModelRoute] = field(default_factory=dict)
    deployments: Mapping[str, Deployment] = field(default_factory=dict)
    embedded: EmbeddedModelServer = field(default_factory=EmbeddedModelServer)
    auth: AuthSettings = field(default_factory=AuthSettings)

    def all_backends(self) -> dict[str, Backend]:
        """Configured backends, with the default one built from model_server."""
        out = dict(self.backends)
        if self.model_server is not None:
            base = out.get(DEFAULT_BACKEND, Backend(DEFAULT_BACKEND, self.model_server))
            tls = self.default_backend_tls() or base.tls
            out[DEFAULT_BACKEND] = replace(base, target=self.model_server, tls=tls)
        return out

    def backend_names(self) -> list[str]:
        """Every backend a request may go to, the default one even before its target is
        known (the embedded ModelServer's port is found at start-up)."""
        return sorted({*self.backends, DEFAULT_BACKEND})

    def default_backend_tls(self) -> BackendTLS | None:
        """TLS to the default backend from the model_server_tls* knobs, if any is set."""
        tls = BackendTLS(
            self.model_server_tls_ca_file,
            self.model_server_tls_cert_file,
            self.model_server_tls_key_file,
            self.model_server_tls_server_name,
        )
        return tls if self.model_server_tls or tls != BackendTLS() else None

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
        # all_backends() only fills in the default's target; deadlines live in `backends`.
        configured = self.backends.get(backend)
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
_SECTIONS = {"server", "backends", "models", "deployments", "auth"}


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


_BACKEND_TLS_KEYS = ("tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name")


def _optional_str(spec: Mapping[str, Any], key: str, where: str) -> str | None:
    value = spec.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{where}.{key}: expected a non-empty string")
    return value


def backend_tls_from_toml(spec: Mapping[str, Any], where: str) -> BackendTLS | None:
    """``tls = true`` and/or any ``tls_*`` key turns TLS on for that backend."""
    tls = BackendTLS(*(_optional_str(spec, key, where) for key in _BACKEND_TLS_KEYS))
    enabled = spec.get("tls", False)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}.tls: expected true or false")
    return tls if enabled or tls != BackendTLS() else None


def backends_from_toml(doc: Mapping[str, Any], source: str) -> dict[str, Backend]:
    out = {}
    allowed = {"target", "timeout_s", "max_attempts", "tls", *_BACKEND_TLS_KEYS}
    for name, entry in _table(doc, "backends", source).items():
        where = f"{source}: backends.{name}"
        spec = _fields_of(entry, allowed, where)
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
            backend_tls_from_toml(spec, where),
        )
    return out


def _principal_list(value: Any, where: str) -> frozenset[str] | None:
    """A list of key or user names (``auth = [...]``, ``allow = [...]``); None when absent."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: expected a list of key or user names")
    return frozenset(value)


def models_from_toml(doc: Mapping[str, Any], source: str) -> dict[str, ModelRoute]:
    out = {}
    for name, entry in _table(doc, "models", source).items():
        where = f"{source}: models.{name}"
        spec = _fields_of(entry, {"backend", "timeout_s", "timeouts", "auth"}, where)
        verbs = _fields_of(spec.get("timeouts", {}), set(VERBS), f"{where}.timeouts")
        timeout = spec.get("timeout_s")
        out[name] = ModelRoute(
            name=name,
            backend=str(spec.get("backend", DEFAULT_BACKEND)),
            timeout_s=None if timeout is None else _number(timeout, f"{where}.timeout_s"),
            verb_timeouts={v: _number(t, f"{where}.timeouts.{v}") for v, t in verbs.items()},
            auth=_principal_list(spec.get("auth"), f"{where}.auth"),
        )
    return out


def deployments_from_toml(doc: Mapping[str, Any], source: str) -> dict[str, Deployment]:
    out = {}
    for ident, entry in _table(doc, "deployments", source).items():
        where = f"{source}: deployments.{ident}"
        if isinstance(entry, str):
            out[ident] = Deployment(ident, entry)
            continue
        spec = _fields_of(entry, {"model", "backend", "auth"}, where)
        if not isinstance(spec.get("model"), str):
            raise ConfigError(f"{where}: 'model' is required")
        backend = spec.get("backend")
        out[ident] = Deployment(
            ident,
            spec["model"],
            None if backend is None else str(backend),
            _principal_list(spec.get("auth"), f"{where}.auth"),
        )
    return out


# --- [auth]: secrets come from files or the environment, never from the config text --


def _secret_source(
    spec: Mapping[str, Any], stem: str, environ: Mapping[str, str], where: str
) -> bytes:
    """The bytes of ``<stem>_file`` or ``<stem>_env``; error messages name the source only."""
    path, var = spec.get(f"{stem}_file"), spec.get(f"{stem}_env")
    if (path is None) == (var is None):
        raise ConfigError(f"{where}: give exactly one of {stem}_file or {stem}_env")
    if var is not None:
        value = environ.get(str(var), "")
        if not value:
            raise ConfigError(f"{where}: environment variable {var} is not set")
        return value.encode()
    try:
        return Path(str(path)).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}") from None


def _api_keys(spec: Mapping[str, Any], environ: Mapping[str, str], where: str) -> list[bytes]:
    """Every non-blank line is a key (several lines let keys rotate without downtime)."""
    keys = [line.strip() for line in _secret_source(spec, "secret", environ, where).splitlines()]
    keys = [key for key in keys if key]
    if not keys:
        raise ConfigError(f"{where}: the secret is empty")
    return keys


def _password(spec: Mapping[str, Any], environ: Mapping[str, str], where: str) -> bytes:
    password = _secret_source(spec, "password", environ, where).rstrip(b"\r\n")
    if not password:
        raise ConfigError(f"{where}: the password is empty")
    return password


def _key_digests(
    table: Mapping[str, Any], environ: Mapping[str, str], where: str
) -> dict[bytes, str]:
    out: dict[bytes, str] = {}
    for name, entry in table.items():
        spec = _fields_of(entry, {"secret_file", "secret_env"}, f"{where}.keys.{name}")
        for key in _api_keys(spec, environ, f"{where}.keys.{name}"):
            digest = secret_digest(key)
            if out.setdefault(digest, name) != name:
                raise ConfigError(f"{where}.keys.{name}: the same key is also {out[digest]!r}'s")
    return out


def _user_digests(
    table: Mapping[str, Any], environ: Mapping[str, str], where: str
) -> dict[str, bytes]:
    out = {}
    for name, entry in table.items():
        if ":" in name:
            raise ConfigError(f"{where}.users.{name}: a Basic user name cannot hold ':'")
        spec = _fields_of(entry, {"password_file", "password_env"}, f"{where}.users.{name}")
        out[name] = secret_digest(_password(spec, environ, f"{where}.users.{name}"))
    return out


def _paths(value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not set(value) <= set(OPERATIONS_PATHS):
        raise ConfigError(f"{where}: expected a list drawn from {list(OPERATIONS_PATHS)}")
    return frozenset(value)


def auth_from_toml(doc: Mapping[str, Any], environ: Mapping[str, str], source: str) -> AuthSettings:
    where = f"{source}: auth"
    allowed = {"realm", "open_paths", "allow", "keys", "users"}
    spec = _fields_of(_table(doc, "auth", source), allowed, where)
    realm = spec.get("realm", DEFAULT_REALM)
    if not isinstance(realm, str) or not realm.isprintable() or '"' in realm:
        raise ConfigError(f"{where}.realm: expected printable text without quotes")
    return AuthSettings(
        realm=realm,
        open_paths=_paths(spec.get("open_paths", list(OPERATIONS_PATHS)), f"{where}.open_paths"),
        allow=_principal_list(spec.get("allow"), f"{where}.allow"),
        key_digests=_key_digests(_table(spec, "keys", where), environ, where),
        user_digests=_user_digests(_table(spec, "users", where), environ, where),
    )


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
        # TOML is UTF-8 whatever the locale says.
        doc = tomllib.loads(Path(path).read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 (byte {exc.start})") from None
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
        auth=auth_from_toml(doc, environ, source),
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
    validate_tls(settings, backends)
    validate_cors(settings)
    validate_auth(settings)


def _check_readable(path: str | None, where: str) -> None:
    if path is not None and not os.access(path, os.R_OK):
        raise ConfigError(f"{where}: cannot read file {path}")


def _check_pair(cert: str | None, key: str | None, where: str) -> None:
    if (cert is None) != (key is None):
        raise ConfigError(f"{where}: a certificate needs its key and a key its certificate")


def validate_tls(settings: Settings, backends: Mapping[str, Backend]) -> None:
    _check_pair(settings.tls_cert_file, settings.tls_key_file, "tls_cert_file/tls_key_file")
    if settings.tls_client_ca_file is not None and settings.tls_cert_file is None:
        raise ConfigError("tls_client_ca_file needs tls_cert_file and tls_key_file")
    if settings.tls_client_auth not in CLIENT_AUTH_MODES:
        raise ConfigError(f"tls_client_auth: expected one of {list(CLIENT_AUTH_MODES)}")
    for knob in ("tls_cert_file", "tls_key_file", "tls_client_ca_file"):
        _check_readable(getattr(settings, knob), knob)
    for backend in backends.values():
        if backend.tls is not None:
            where = f"backends.{backend.name}"
            _check_pair(backend.tls.cert_file, backend.tls.key_file, where)
            for path in (backend.tls.ca_file, backend.tls.cert_file, backend.tls.key_file):
                _check_readable(path, where)


def cors_list(text: str | None) -> tuple[str, ...]:
    """A comma-separated knob value as a tuple of its non-empty items."""
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())


def validate_cors(settings: Settings) -> None:
    for origin in cors_list(settings.cors_origins):
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ConfigError(f"cors_origins: {origin!r} is neither * nor an http(s) origin")
    if settings.cors_max_age_s < 0:
        raise ConfigError("cors_max_age_s must not be negative")


def validate_auth(settings: Settings) -> None:
    """Every name in an allow list is a configured key or user."""
    known = settings.auth.principals
    named = [("auth.allow", settings.auth.allow)]
    named += [(f"models.{m.name}.auth", m.auth) for m in settings.models.values()]
    named += [(f"deployments.{d.id}.auth", d.auth) for d in settings.deployments.values()]
    for where, names in named:
        if names is not None and not known:
            raise ConfigError(f"{where}: no [auth.keys] or [auth.users] are configured")
        unknown = sorted((names or frozenset()) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown key or user name(s) {unknown}")
    clash = set(settings.auth.key_digests.values()) & set(settings.auth.user_digests)
    if clash:
        raise ConfigError(f"auth: {sorted(clash)} name both a key and a user")


def _check_backend(name: str, backends: Mapping[str, Backend], where: str) -> None:
    if name not in backends:
        raise ConfigError(f"{where}: unknown backend {name!r} (known: {sorted(backends)})")


def knob_defaults() -> dict[str, Any]:
    """Each knob's default, for the README table and --help."""
    defaults = {f.name: f.default for f in fields(Settings) if f.name in _KNOBS_BY_NAME}
    defaults["workers"] = "CPUs"
    return defaults
