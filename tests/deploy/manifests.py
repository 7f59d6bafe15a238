"""Read the deploy files the way their tools do: kustomize output, compose, Dockerfiles.

``render(overlay)`` runs ``kubectl kustomize`` (kubectl is required; a missing
one fails the test with a message, never skips it). The other helpers find
resources, containers, env vars and ports in the parsed YAML.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import text_format

from gateway.config import ENV_PREFIX, KNOBS
from gateway.core import protos

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUSTOMIZE = DEPLOY / "kubernetes"
# Overlays that run TF Serving in the cluster, and all of them (external: the gateway alone).
OVERLAYS = ("cpu", "gpu")
ALL_OVERLAYS = (*OVERLAYS, "external")
COMPOSE_FILE = REPO / "docker-compose.yml"
COMPOSE_PROFILES = ("cpu", "gpu", "bundled")
TFSERVING_GRPC_PORT = 8500  # the official image's entrypoint passes --port=8500

# Every TFS_GATEWAY_* name build_settings reads: one per knob, plus the two
# that are not knobs (the config file path and the deployment pairs).
GATEWAY_ENV = {knob.env for knob in KNOBS} | {ENV_PREFIX + "CONFIG", ENV_PREFIX + "DEPLOYMENTS"}

Doc = dict[str, Any]


@cache
def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl not found on PATH: it renders deploy/kubernetes (kubectl kustomize)")
    return path


@cache
def _render_text(overlay: str) -> str:
    cmd = [kubectl(), "kustomize", str(KUSTOMIZE / "overlays" / overlay)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        pytest.fail(f"kubectl kustomize {overlay} failed:\n{done.stderr}")
    return done.stdout


def render(overlay: str) -> list[Doc]:
    """The overlay's resources, freshly parsed (callers may mutate them)."""
    return [doc for doc in yaml.safe_load_all(_render_text(overlay)) if doc]


def one(docs: list[Doc], kind: str, name_prefix: str) -> Doc:
    """The single resource of a kind whose name starts with the prefix (ConfigMaps get a hash)."""
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(name_prefix)]
    assert len(found) == 1, f"expected one {kind} {name_prefix}*, found {len(found)}"
    return found[0]


def pod_spec(deployment: Doc) -> Doc:
    spec: Doc = deployment["spec"]["template"]["spec"]
    return spec


def container(deployment: Doc, name: str) -> Doc:
    for item in pod_spec(deployment)["containers"]:
        if item["name"] == name:
            found: Doc = item
            return found
    raise AssertionError(f"no container {name} in {deployment['metadata']['name']}")


def env_of(item: Doc) -> dict[str, str]:
    return {e["name"]: e["value"] for e in item.get("env", [])}


def named_port(item: Doc, port: int | str) -> int:
    """A container port by number or by name, as probes and Services refer to it."""
    for entry in item["ports"]:
        if port in (entry["containerPort"], entry.get("name")):
            number: int = entry["containerPort"]
            return number
    raise AssertionError(f"container {item['name']} has no port {port!r}")


def mounted_volume(deployment: Doc, item: Doc, path: str) -> tuple[Doc, Doc]:
    """(volumeMount, volume) of the mount that holds ``path`` in this container."""
    for mount in item.get("volumeMounts", []):
        root = mount["mountPath"].rstrip("/")
        if path == root or path.startswith(root + "/"):
            for volume in pod_spec(deployment)["volumes"]:
                if volume["name"] == mount["name"]:
                    return mount, volume
    raise AssertionError(f"{path} is on no volume of container {item['name']}")


def flag_value(args: list[str], flag: str) -> str:
    """``--flag=value`` from an argument list (TF Serving's spelling)."""
    values = [a.split("=", 1)[1] for a in args if a.startswith(flag + "=")]
    assert len(values) == 1, f"expected one {flag}=... in {args}"
    return values[0]


def parse_models_config(text: str) -> Any:
    config = protos.ModelServerConfig()
    text_format.Parse(text, config, descriptor_pool=protos.POOL)
    return config


def config_models(config: Any) -> dict[str, str]:
    """Model name -> base_path of a ModelServerConfig."""
    return {m.name: m.base_path for m in config.model_config_list.config}


def load_compose() -> Doc:
    doc: Doc = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return doc


def active_services(compose: Doc, profile: str) -> dict[str, Doc]:
    """The services `docker compose --profile P up` starts (no profile, or P among them)."""
    return {
        name: svc
        for name, svc in compose["services"].items()
        if not svc.get("profiles") or profile in svc["profiles"]
    }


def compose_env(service: Doc) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def host_path(service: Doc, container_path: str) -> Path:
    """The repository file a compose bind mount puts at ``container_path``."""
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        root = target.rstrip("/")
        if container_path == root or container_path.startswith(root + "/"):
            return (REPO / source).resolve() / container_path[len(root) :].lstrip("/")
    raise AssertionError(f"{container_path} is not mounted in {service}")


def read_toml(path: Path) -> Doc:
    return tomllib.loads(path.read_text(encoding="utf-8"))


# --- Dockerfiles -------------------------------------------------------------


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    return instructions[starts[-1] :]


def copy_sources(instructions: list[tuple[str, str]]) -> list[str]:
    """Build-context paths the COPY instructions read (``--from`` copies excluded)."""
    sources: list[str] = []
    for keyword, rest in instructions:
        words = shlex.split(rest)
        if keyword == "COPY" and not any(w.startswith("--from") for w in words):
            sources.extend(w for w in words[:-1] if not w.startswith("--"))
    return sources
