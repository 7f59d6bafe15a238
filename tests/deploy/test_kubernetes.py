"""deploy/kubernetes: each overlay renders with kustomize and passes the Kubernetes schemas.

Strict validation (unknown fields are errors) against the oldest Kubernetes
release the manifests claim (1.28) and the newest that kubernetes-validate ships.
"""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
from kubernetes_validate.utils import latest_version

from tests.deploy.manifests import ALL_OVERLAYS, OVERLAYS, container, one, pod_spec, render

# The oldest release the manifests claim, and the newest the installed package ships.
K8S_VERSIONS = ("1.28.0", latest_version())
EXPECTED_KINDS = {
    "Namespace",
    "ConfigMap",
    "Service",
    "Deployment",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
}


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", ALL_OVERLAYS)
def test_overlay_passes_kubernetes_schemas(overlay: str, version: str) -> None:
    docs = render(overlay)
    assert {d["kind"] for d in docs} == EXPECTED_KINDS
    assert len(docs) == (6 if overlay == "external" else 10)
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_strict_validation_catches_a_misspelled_field() -> None:
    # Proves the check above can fail: one typo in a probe is rejected.
    deployment = copy.deepcopy(one(render("cpu"), "Deployment", "tfs-gateway"))
    probe = container(deployment, "gateway")["readinessProbe"]
    probe["periodSecond"] = probe.pop("periodSeconds")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)


def test_everything_lands_in_one_namespace() -> None:
    for overlay in ALL_OVERLAYS:
        for doc in render(overlay):
            if doc["kind"] != "Namespace":
                assert doc["metadata"]["namespace"] == "tfs-gateway", doc["metadata"]["name"]


def test_gpu_overlay_puts_tf_serving_on_a_gpu_node() -> None:
    tfserving = one(render("gpu"), "Deployment", "tfserving")
    spec = pod_spec(tfserving)
    item = container(tfserving, "tfserving")
    assert item["image"] == "tensorflow/serving:latest-gpu"
    assert item["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    # The patch merges: the base's args, probes and volumes survive it.
    assert (
        item["args"]
        == container(one(render("cpu"), "Deployment", "tfserving"), "tfserving")["args"]
    )


def test_cpu_overlay_asks_for_no_gpu_and_gateway_never_does() -> None:
    cpu = render("cpu")
    item = container(one(cpu, "Deployment", "tfserving"), "tfserving")
    assert item["image"] == "tensorflow/serving:latest"
    assert "nvidia.com/gpu" not in item["resources"].get("limits", {})
    assert "nodeSelector" not in pod_spec(one(cpu, "Deployment", "tfserving"))
    for overlay in OVERLAYS:
        gateway = one(render(overlay), "Deployment", "tfs-gateway")
        assert "nvidia.com/gpu" not in str(gateway)
        assert container(gateway, "gateway")["image"].startswith("tfs-gateway:")


def test_containers_run_unprivileged_on_read_only_root() -> None:
    for overlay in ALL_OVERLAYS:
        for deployment in (d for d in render(overlay) if d["kind"] == "Deployment"):
            spec = pod_spec(deployment)
            assert spec["securityContext"]["runAsNonRoot"] is True
            assert spec["securityContext"]["runAsUser"] > 0
            for item in spec["containers"] + spec.get("initContainers", []):
                ctx = item["securityContext"]
                assert ctx["readOnlyRootFilesystem"] is True, item["name"]
                assert ctx["allowPrivilegeEscalation"] is False, item["name"]
                assert ctx["capabilities"]["drop"] == ["ALL"], item["name"]
                assert "memory" in item["resources"]["limits"], item["name"]


def test_external_overlay_is_the_gateway_alone() -> None:
    docs = render("external")
    names = [d["metadata"]["name"] for d in docs]
    assert not [n for n in names if n.startswith("tfserving")], names
    assert one(docs, "Deployment", "tfs-gateway")
