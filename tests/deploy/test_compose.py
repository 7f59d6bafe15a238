"""docker-compose.yml against the Compose Specification schema, and its profiles.

The schema is vendored under deploy/schemas (see its README for the source).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from tests.deploy.manifests import (
    COMPOSE_PROFILES,
    DEPLOY,
    REPO,
    Doc,
    active_services,
    dockerfile_instructions,
    load_compose,
)


def validator() -> Any:
    schema = json.loads((DEPLOY / "schemas" / "compose-spec.json").read_text(encoding="utf-8"))
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def errors(doc: Doc) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in validator().iter_errors(doc)]


def test_compose_file_passes_the_compose_schema() -> None:
    assert errors(load_compose()) == []


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d["services"]["gateway"].update(enviroment={"A": "1"}),
        lambda d: d["services"]["gateway"].update(ports="8501:8501"),
        lambda d: d.update(service={}),
    ],
    ids=["misspelled-key", "ports-not-a-list", "unknown-top-level"],
)
def test_compose_schema_rejects_broken_files(break_it: Any) -> None:
    doc = copy.deepcopy(load_compose())
    break_it(doc)
    assert errors(doc)


def test_plain_up_starts_nothing_so_a_profile_must_be_chosen() -> None:
    compose = load_compose()
    assert all(svc.get("profiles") for svc in compose["services"].values())
    for profile in COMPOSE_PROFILES:
        assert "gateway" in active_services(compose, profile)


def test_cpu_profile_runs_the_official_tf_serving_image() -> None:
    services = active_services(load_compose(), "cpu")
    assert set(services) == {"gateway", "tfserving"}
    assert services["tfserving"]["image"].startswith("tensorflow/serving:")
    assert not services["tfserving"]["image"].endswith("-gpu")
    assert "deploy" not in services["tfserving"]


def test_gpu_profile_reserves_an_nvidia_gpu_for_the_gpu_image() -> None:
    services = active_services(load_compose(), "gpu")
    assert set(services) == {"gateway", "tfserving-gpu"}
    server = services["tfserving-gpu"]
    assert server["image"] == "tensorflow/serving:latest-gpu"
    (device,) = server["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert device["count"] >= 1


def test_bundled_profile_builds_the_modelserver_image() -> None:
    services = active_services(load_compose(), "bundled")
    assert set(services) == {"gateway", "bundled-modelserver"}
    build = services["bundled-modelserver"]["build"]
    dockerfile = REPO / build["context"] / build["dockerfile"]
    entrypoint = dict(dockerfile_instructions(dockerfile))["ENTRYPOINT"]
    assert json.loads(entrypoint) == ["tfs-gateway", "modelserver"]


def test_gateway_is_built_from_the_gateway_dockerfile() -> None:
    build = load_compose()["services"]["gateway"]["build"]
    assert (REPO / build["context"] / build["dockerfile"]) == DEPLOY / "gateway.Dockerfile"
