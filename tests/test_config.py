"""Configuration: precedence (defaults < file < environment < flags), routes, clear errors."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from gateway.config import (
    KNOBS,
    ConfigError,
    EmbeddedModelServer,
    Settings,
    build_settings,
    default_workers,
)

README = Path(__file__).resolve().parents[1] / "README.md"


def build(
    tmp_path: Path,
    toml: str | None = None,
    env: dict[str, str] | None = None,
    flags: dict[str, Any] | None = None,
    deployments: list[str] | None = None,
    embedded: EmbeddedModelServer | None = None,
) -> Settings:
    path = None
    if toml is not None:
        path = tmp_path / "gateway.toml"
        path.write_text(toml)
    return build_settings(
        str(path) if path else None,
        env or {},
        flags or {},
        deployments or [],
        embedded or EmbeddedModelServer(),
    )


def test_precedence(tmp_path: Path) -> None:
    toml = '[server]\nport = 9000\ntimeout_s = 5\nmodel_server = "file:1"\nmax_in_flight = 7\n'
    env = {"TFS_GATEWAY_PORT": "9100", "TFS_GATEWAY_TIMEOUT_S": "6.5"}
    settings = build(tmp_path, toml, env, {"port": 9200})
    assert settings.port == 9200  # flag beats environment and file
    assert settings.timeout_s == 6.5  # environment beats file
    assert settings.max_in_flight == 7  # file beats default
    assert settings.model_server == "file:1"
    assert settings.body_timeout_s == Settings().body_timeout_s


def test_backends_models_deployments(tmp_path: Path) -> None:
    toml = """
[server]
model_server = "localhost:8500"
[backends.gpu]
target = "ipv4:127.0.0.1:1,127.0.0.1:2"
timeout_s = 4
[models.resnet]
backend = "gpu"
timeouts = { predict = 2.5 }
[models.slow]
timeout_s = 60
[deployments]
abc = "resnet"
xyz = { model = "other", backend = "gpu" }
"""
    s = build(tmp_path, toml, {"TFS_GATEWAY_DEPLOYMENTS": "env1=m1, env2=m2"}, {}, ["flag1=m3"])
    assert set(s.all_backends()) == {"default", "gpu"}
    assert s.backend_for("resnet") == "gpu"
    assert s.backend_for("other") == "default"
    assert s.backend_for("other", deployment="xyz") == "gpu"
    assert s.timeout_for("resnet", "predict", "gpu") == 2.5
    assert s.timeout_for("resnet", "metadata", "gpu") == 4.0  # the backend's deadline
    assert s.timeout_for("slow", "predict", "default") == 60.0
    assert s.timeout_for("plain", "predict", "default") == 30.0
    assert {d: s.deployments[d].model for d in s.deployments} == {
        "abc": "resnet",
        "xyz": "other",
        "env1": "m1",
        "env2": "m2",
        "flag1": "m3",
    }


BAD = [
    ("[server]\nport = 'x'\nmodel_server = 'a:1'\n", {}, "server.port: expected int"),
    ("[server]\nnope = 1\n", {}, "unknown key 'nope' in [server]"),
    ("[other]\n", {}, "unknown section(s) ['other']"),
    ("[server]\nmodel_server = 'a:1'\n[models.m]\nbackend = 'gpu'\n", {}, "unknown backend 'gpu'"),
    ("[backends.x]\ntimeout_s = 3\n", {}, "backends.x: 'target'"),
    ("[server]\nmodel_server = 'a:1'\n[models.m]\ntimeouts = { predcit = 1 }\n", {}, "predcit"),
    ("[server\n", {}, "is not valid TOML"),
    (
        None,
        {"TFS_GATEWAY_WORKERS": "many", "TFS_GATEWAY_MODEL_SERVER": "a:1"},
        "TFS_GATEWAY_WORKERS",
    ),
    (None, {"TFS_GATEWAY_ACCESS_LOG": "maybe", "TFS_GATEWAY_MODEL_SERVER": "a:1"}, "true or false"),
    (None, {}, "no ModelServer"),
    (None, {"TFS_GATEWAY_MODEL_SERVER": "a:1", "TFS_GATEWAY_DEPLOYMENTS": "noequals"}, "ID=MODEL"),
    (None, {"TFS_GATEWAY_MODEL_SERVER": "a:1", "TFS_GATEWAY_MAX_IN_FLIGHT": "0"}, "max_in_flight"),
]


@pytest.mark.parametrize(("toml", "env", "message"), BAD)
def test_bad_config_fails_with_a_clear_message(
    tmp_path: Path, toml: str | None, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build(tmp_path, toml, env)
    assert message in str(caught.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        build_settings(str(tmp_path / "absent.toml"), {}, {}, [], EmbeddedModelServer())


def test_embedded_modelserver_counts_as_a_backend(tmp_path: Path) -> None:
    settings = build(tmp_path, embedded=EmbeddedModelServer(model_config_file="/x/models.config"))
    assert settings.model_server is None and settings.embedded.wanted


def test_readme_config_table_lists_every_knob() -> None:
    text = README.read_text()
    for knob in KNOBS:
        assert f"| `{knob.name}` | `{knob.flag}` | `{knob.env}` |" in text, knob.name


# --- security: [auth], TLS, CORS ----------------------------------------------

AUTH_TOML = """
[server]
model_server = "a:1"
[auth.keys.ci]
secret_file = "{keys}"
[auth.keys.ops]
secret_env = "OPS_KEY"
[auth.users.alice]
password_env = "ALICE_PW"
[models.m]
auth = ["ops"]
[deployments]
d = {{ model = "m", auth = ["alice"] }}
"""


def test_auth_secrets_from_files_and_environment(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("k-one\n  k-two  \n\n")
    toml = AUTH_TOML.format(keys=keys)
    s = build(tmp_path, toml, {"OPS_KEY": "k-ops", "ALICE_PW": "pw"})
    assert s.auth.enabled
    assert sorted(s.auth.key_digests.values()) == ["ci", "ci", "ops"]
    assert set(s.auth.user_digests) == {"alice"}
    assert s.models["m"].auth == frozenset({"ops"})
    assert s.deployments["d"].auth == frozenset({"alice"})
    # Neither secrets nor their digests show in a printed Settings.
    text = repr(s)
    for secret in ("k-one", "k-two", "k-ops", "pw"):
        assert secret not in text
    for digest in s.auth.key_digests:
        assert digest.hex() not in text and repr(digest) not in text


def test_auth_is_off_by_default(tmp_path: Path) -> None:
    s = build(tmp_path, "[server]\nmodel_server = 'a:1'\n")
    assert not s.auth.enabled
    assert s.auth.open_paths == {"/healthz", "/readyz", "/metrics"}


AUTH_BAD = [
    ("[auth.keys.k]\nsecret_env = 'NOPE'\n", "environment variable NOPE is not set"),
    ("[auth.keys.k]\nsecret_file = '/nonexistent/keys'\n", "cannot read /nonexistent/keys"),
    ("[auth.keys.k]\nsecret = 'inline'\n", "unknown key(s) ['secret']"),
    ("[auth.keys.k]\nsecret_env = 'EMPTY'\nsecret_file = '/x'\n", "exactly one of"),
    ("[auth.keys.k]\nsecret_env = 'BLANK'\n", "the secret is empty"),
    ("[auth.users.u]\npassword_env = 'NOPE'\n", "NOPE is not set"),
    ("[auth.users.'a:b']\npassword_env = 'SET'\n", "cannot hold ':'"),
    ("[auth.keys.k]\nsecret_env = 'SET'\n[models.m]\nauth = ['who']\n", "unknown key or user"),
    ("[models.m]\nauth = ['who']\n", "no [auth.keys] or [auth.users]"),
    ("[models.m]\nauth = 'ops'\n", "expected a list"),
    ("[auth]\nopen_paths = ['/v1/models']\n", "open_paths"),
    ("[auth]\nrealm = 'a\"b'\n", "realm"),
    (
        "[auth.keys.k]\nsecret_env = 'SET'\n[auth.users.k]\npassword_env = 'SET'\n",
        "name both a key and a user",
    ),
    ("[auth.keys.k]\nsecret_env = 'SET'\n[auth.keys.j]\nsecret_env = 'SET'\n", "same key"),
]


@pytest.mark.parametrize(("toml", "message"), AUTH_BAD)
def test_bad_auth_config(tmp_path: Path, toml: str, message: str) -> None:
    env = {"SET": "s3cret-value", "BLANK": "  \n"}
    with pytest.raises(ConfigError) as caught:
        build(tmp_path, "[server]\nmodel_server = 'a:1'\n" + toml, env)
    assert message in str(caught.value)
    assert "s3cret-value" not in str(caught.value)


def test_backend_tls_from_table_and_knobs(tmp_path: Path) -> None:
    pem = tmp_path / "x.pem"
    pem.write_text("pem")
    toml = f"""
[backends.secure]
target = "b:1"
tls_ca_file = "{pem}"
tls_cert_file = "{pem}"
tls_key_file = "{pem}"
tls_server_name = "ms.internal"
[backends.public]
target = "c:1"
tls = true
[models.m]
backend = "secure"
"""
    s = build(tmp_path, toml, {"TFS_GATEWAY_MODEL_SERVER": "a:1"})
    backends = s.all_backends()
    secure = backends["secure"].tls
    assert secure is not None and secure.server_name == "ms.internal" and secure.ca_file == str(pem)
    public = backends["public"].tls
    assert public is not None and public.ca_file is None  # system roots
    assert backends["default"].tls is None
    s = build(
        tmp_path,
        None,
        {
            "TFS_GATEWAY_MODEL_SERVER": "a:1",
            "TFS_GATEWAY_MODEL_SERVER_TLS_CA_FILE": str(pem),
            "TFS_GATEWAY_MODEL_SERVER_TLS_SERVER_NAME": "ms",
        },
    )
    default = s.all_backends()["default"].tls
    assert default is not None and default.ca_file == str(pem) and default.cert_file is None
    s = build(tmp_path, None, {"TFS_GATEWAY_MODEL_SERVER": "a:1"}, {"model_server_tls": True})
    assert s.all_backends()["default"].tls is not None


TLS_CORS_BAD = [
    ({"tls_cert_file": "{pem}"}, "needs its key"),
    ({"tls_cert_file": "/nonexistent.pem", "tls_key_file": "{pem}"}, "cannot read file"),
    ({"tls_client_ca_file": "{pem}"}, "tls_client_ca_file needs tls_cert_file"),
    (
        {"tls_cert_file": "{pem}", "tls_key_file": "{pem}", "tls_client_auth": "maybe"},
        "tls_client_auth",
    ),
    ({"model_server_tls_cert_file": "{pem}"}, "backends.default"),
    ({"cors_origins": "https://ok.test, ftp://x"}, "cors_origins"),
    ({"cors_max_age_s": -1}, "cors_max_age_s"),
]


@pytest.mark.parametrize(("flags", "message"), TLS_CORS_BAD)
def test_bad_tls_and_cors_config(tmp_path: Path, flags: dict[str, Any], message: str) -> None:
    pem = tmp_path / "x.pem"
    pem.write_text("pem")
    flags = {k: v.format(pem=pem) if isinstance(v, str) else v for k, v in flags.items()}
    with pytest.raises(ConfigError, match=re.escape(message)):
        build(tmp_path, None, {"TFS_GATEWAY_MODEL_SERVER": "a:1"}, flags)


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("max 100000\n", None), ("150000 100000\n", 2), ("50000 100000\n", 1), (None, None)],
)
def test_default_workers_follows_the_cgroup_quota(
    tmp_path: Path, cpu_max: str | None, expected: int | None
) -> None:
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max)
    cpus = len(os.sched_getaffinity(0))
    assert default_workers(path) == (cpus if expected is None else min(cpus, expected))
