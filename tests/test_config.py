"""Configuration: precedence (defaults < file < environment < flags), routes, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config import (
    KNOBS,
    ConfigError,
    EmbeddedModelServer,
    Settings,
    build_settings,
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
