"""The manifests and the compose file against the gateway's own code.

Env names, TOML keys, ports, probe paths and targets used in deploy/ and
docker-compose.yml must be ones the gateway reads: each config is loaded with
gateway.config.build_settings and compared with gateway.app's paths and the
ModelServer side of the same file.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gateway import app
from gateway.config import ENV_PREFIX, ConfigError, EmbeddedModelServer, Settings, build_settings
from tests.deploy.manifests import (
    ALL_OVERLAYS,
    COMPOSE_PROFILES,
    GATEWAY_ENV,
    OVERLAYS,
    REPO,
    TFSERVING_GRPC_PORT,
    Doc,
    active_services,
    compose_env,
    config_models,
    container,
    env_of,
    flag_value,
    host_path,
    load_compose,
    mounted_volume,
    named_port,
    one,
    parse_models_config,
    pod_spec,
    render,
)


def settings_from(environ: dict[str, str]) -> Settings:
    return build_settings(None, environ, {}, [], EmbeddedModelServer())


def grpc_host_port(target: str) -> tuple[str, int]:
    """host and port of ``host:port`` or ``dns:///host:port``."""
    if target.startswith("dns:///"):
        target = target[len("dns:///") :]
    parts = urlsplit("//" + target)
    assert parts.hostname is not None and parts.port is not None, target
    return parts.hostname, parts.port


def test_unknown_env_names_would_be_caught() -> None:
    # build_settings ignores unknown TFS_GATEWAY_* names, hence the set check below;
    # the set itself must hold what the loader really reads.
    assert settings_from({"TFS_GATEWAY_MODEL_SERVER": "127.0.0.1:1"}).model_server == "127.0.0.1:1"
    assert "TFS_GATEWAY_MODELSERVER" not in GATEWAY_ENV
    with pytest.raises(ConfigError):
        settings_from({"TFS_GATEWAY_MODEL_SERVER": "x:1", "TFS_GATEWAY_CONFIG": "/nonexistent"})


# --- Kubernetes ---------------------------------------------------------------


class K8s:
    """The gateway's view of one rendered overlay."""

    def __init__(self, overlay: str, tmp: Path) -> None:
        self.docs = render(overlay)
        self.deployment = one(self.docs, "Deployment", "tfs-gateway")
        self.gateway = container(self.deployment, "gateway")
        self.env = env_of(self.gateway)
        self.settings = self._settings(tmp)

    def _settings(self, tmp: Path) -> Settings:
        """Load the mounted ConfigMap exactly where TFS_GATEWAY_CONFIG points."""
        config_path = self.env[ENV_PREFIX + "CONFIG"]
        mount, volume = mounted_volume(self.deployment, self.gateway, config_path)
        configmap = one(self.docs, "ConfigMap", volume["configMap"]["name"])
        key = config_path[len(mount["mountPath"]) :].strip("/")
        local = tmp / key
        local.write_text(configmap["data"][key], encoding="utf-8")
        return settings_from({**self.env, ENV_PREFIX + "CONFIG": str(local)})


@pytest.fixture(params=ALL_OVERLAYS)
def any_k8s(request: pytest.FixtureRequest, tmp_path: Path) -> K8s:
    """Every overlay: the gateway's side."""
    return K8s(request.param, tmp_path)


@pytest.fixture(params=OVERLAYS)
def k8s(request: pytest.FixtureRequest, tmp_path: Path) -> K8s:
    """The overlays that run TF Serving too."""
    return K8s(request.param, tmp_path)


def test_k8s_gateway_env_names_are_read_by_the_gateway(any_k8s: K8s) -> None:
    names = {n for n in any_k8s.env if n.startswith(ENV_PREFIX)}
    assert names, "the gateway container sets no TFS_GATEWAY_* variable"
    assert names <= GATEWAY_ENV


def test_k8s_configmap_parses_and_sets_the_serving_knobs(k8s: K8s) -> None:
    s = k8s.settings
    assert s.workers >= 2
    assert set(s.models) == {"half_plus_two", "mnist"}
    assert {d: dep.model for d, dep in s.deployments.items()} == {
        "mnist": "mnist",
        "half-plus-two": "half_plus_two",
    }


def test_k8s_gateway_workers_fit_the_cpu_limit(any_k8s: K8s) -> None:
    # workers defaults to the node's CPUs, not the container's; the config must set it.
    assert any_k8s.settings.workers <= int(any_k8s.gateway["resources"]["limits"]["cpu"])


def test_k8s_ports_and_probe_paths_are_the_gateways(any_k8s: K8s) -> None:
    port = any_k8s.settings.port
    assert port == Settings().port == 8501
    liveness, readiness = any_k8s.gateway["livenessProbe"], any_k8s.gateway["readinessProbe"]
    assert liveness["httpGet"]["path"] == app.HEALTHZ == "/healthz"
    assert readiness["httpGet"]["path"] == app.READYZ == "/readyz"
    assert any_k8s.gateway["startupProbe"]["httpGet"]["path"] == app.HEALTHZ
    for probe in (liveness, readiness, any_k8s.gateway["startupProbe"]):
        assert named_port(any_k8s.gateway, probe["httpGet"]["port"]) == port
    annotations = any_k8s.deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == app.METRICS == "/metrics"
    assert annotations["prometheus.io/port"] == str(port)
    service = one(any_k8s.docs, "Service", "tfs-gateway")
    (entry,) = service["spec"]["ports"]
    assert entry["port"] == port
    assert named_port(any_k8s.gateway, entry["targetPort"]) == port


def _selects(selector: dict[str, str], deployment: Doc) -> bool:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in selector.items())


def test_k8s_service_hpa_and_pdbs_point_at_the_right_pods(k8s: K8s) -> None:
    tfserving = one(k8s.docs, "Deployment", "tfserving")
    assert _selects(one(k8s.docs, "Service", "tfs-gateway")["spec"]["selector"], k8s.deployment)
    assert not _selects(one(k8s.docs, "Service", "tfs-gateway")["spec"]["selector"], tfserving)
    hpa = one(k8s.docs, "HorizontalPodAutoscaler", "tfs-gateway")
    assert hpa["spec"]["scaleTargetRef"]["name"] == k8s.deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2  # so the PDB below can let one go
    for name, deployment in (("tfs-gateway", k8s.deployment), ("tfserving", tfserving)):
        pdb = one(k8s.docs, "PodDisruptionBudget", name)
        assert _selects(pdb["spec"]["selector"]["matchLabels"], deployment)
        assert pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]


def test_k8s_grace_period_covers_the_drain(any_k8s: K8s) -> None:
    s = any_k8s.settings
    assert s.drain_delay_s > 0, "without a drain delay the pod needs a preStop sleep"
    grace = pod_spec(any_k8s.deployment)["terminationGracePeriodSeconds"]
    assert grace > s.drain_delay_s + s.shutdown_timeout_s


def test_k8s_tmp_is_writable_on_the_read_only_root(any_k8s: K8s) -> None:
    assert any_k8s.gateway["securityContext"]["readOnlyRootFilesystem"] is True
    mount, volume = mounted_volume(any_k8s.deployment, any_k8s.gateway, "/tmp")
    assert mount["mountPath"] == "/tmp" and not mount.get("readOnly", False)
    assert "emptyDir" in volume


def test_k8s_gateway_target_is_the_headless_tf_serving_service(k8s: K8s) -> None:
    target = k8s.settings.model_server
    assert target is not None and target.startswith("dns:///"), target
    host, port = grpc_host_port(target)
    headless = one(k8s.docs, "Service", "tfserving-headless")
    assert headless["spec"]["clusterIP"] == "None"
    meta = headless["metadata"]
    assert host == f"{meta['name']}.{meta['namespace']}.svc.cluster.local"
    (entry,) = headless["spec"]["ports"]
    assert entry["port"] == port
    tfserving = one(k8s.docs, "Deployment", "tfserving")
    assert _selects(headless["spec"]["selector"], tfserving)
    server = container(tfserving, "tfserving")
    assert named_port(server, entry["targetPort"]) == int(flag_value(server["args"], "--port"))


def test_k8s_models_config_serves_what_the_gateway_routes(k8s: K8s) -> None:
    tfserving = one(k8s.docs, "Deployment", "tfserving")
    server = container(tfserving, "tfserving")
    config_path = flag_value(server["args"], "--model_config_file")
    mount, volume = mounted_volume(tfserving, server, config_path)
    configmap = one(k8s.docs, "ConfigMap", volume["configMap"]["name"])
    text = configmap["data"][config_path[len(mount["mountPath"]) :].strip("/")]
    models = config_models(parse_models_config(text))
    routed = set(k8s.settings.models) | {d.model for d in k8s.settings.deployments.values()}
    assert routed <= set(models)
    for base_path in models.values():
        mount, volume = mounted_volume(tfserving, server, base_path)
        assert mount["readOnly"] is True
        # The initContainer fills that same volume.
        (init,) = pod_spec(tfserving)["initContainers"]
        assert volume["name"] in {m["name"] for m in init["volumeMounts"]}


# --- docker compose -------------------------------------------------------------


def compose_settings(gateway: Doc) -> Settings:
    env = compose_env(gateway)
    config = host_path(gateway, env[ENV_PREFIX + "CONFIG"])
    assert config.is_file(), config
    return settings_from({**env, ENV_PREFIX + "CONFIG": str(config)})


def test_compose_gateway_env_names_are_read_by_the_gateway() -> None:
    env = compose_env(load_compose()["services"]["gateway"])
    assert {n for n in env if n.startswith(ENV_PREFIX)} <= GATEWAY_ENV


@pytest.mark.parametrize("profile", COMPOSE_PROFILES)
def test_compose_profile_runs_the_gateway_and_one_model_server(profile: str) -> None:
    services = active_services(load_compose(), profile)
    gateway = services.pop("gateway")
    settings = compose_settings(gateway)
    assert settings.model_server is not None
    host, port = grpc_host_port(settings.model_server)
    # Exactly one active service answers to the target's host name.
    (server,) = [s for n, s in services.items() if n == host or host in _aliases(s)] or pytest.fail(
        f"no {host} in profile {profile}"
    )
    command = server.get("command", [])
    listens = int(flag_value(command, "--port")) if "--port" in str(command) else None
    assert port == (listens or TFSERVING_GRPC_PORT)
    models = _compose_models(server)
    routed = set(settings.models) | {d.model for d in settings.deployments.values()}
    assert routed <= set(models)


def _aliases(service: Doc) -> list[str]:
    networks = service.get("networks", {})
    return [a for net in networks.values() for a in (net or {}).get("aliases", [])]


def _compose_models(server: Doc) -> dict[str, str]:
    """The model server's models.config, each base path checked to hold a SavedModel."""
    config = host_path(server, flag_value(server["command"], "--model_config_file"))
    models = config_models(parse_models_config(config.read_text(encoding="utf-8")))
    for base_path in models.values():
        local = host_path(server, base_path)
        assert local.is_relative_to(REPO / "demo" / "models"), local
        assert list(local.glob("*/saved_model.pb")), f"no SavedModel version under {local}"
    return models


def test_compose_ports_healthcheck_and_grace_match_the_gateway() -> None:
    gateway = load_compose()["services"]["gateway"]
    settings = compose_settings(gateway)
    published = [str(p).split(":") for p in gateway["ports"]]
    assert [p[-1] for p in published] == [str(settings.port)] == ["8501"]
    assert gateway["read_only"] is True and "/tmp" in gateway["tmpfs"]
    grace = gateway["stop_grace_period"]
    assert grace.endswith("s") and int(grace[:-1]) > settings.drain_delay_s + (
        settings.shutdown_timeout_s
    )
    assert {d: dep.model for d, dep in settings.deployments.items()}["mnist"] == "mnist"
