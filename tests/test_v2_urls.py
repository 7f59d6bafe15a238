"""Table tests for the Open Inference Protocol's URL grammar (compatibility.md §12.1)."""

from __future__ import annotations

import pytest

from gateway.core.calls import Target
from gateway.core.errors import Code, GatewayError
from gateway.fronts.v2 import urls

DEPLOYMENTS = {"dep-1": "model-a"}

OK = [
    ("GET", "/v2", Target("", urls.SERVER_METADATA)),
    ("GET", "/v2?x=1", Target("", urls.SERVER_METADATA)),
    ("GET", "/v2/health/live", Target("", urls.LIVE)),
    ("GET", "/v2/health/ready", Target("", urls.READY)),
    ("POST", "/v2/repository/index", Target("", urls.REPOSITORY_INDEX)),
    ("GET", "/v2/models/m", Target("m", urls.MODEL_METADATA)),
    ("GET", "/v2/models/m?signature_name=s", Target("m", urls.MODEL_METADATA)),
    ("GET", "/v2/models/m/versions/7", Target("m", urls.MODEL_METADATA, version=7)),
    ("GET", "/v2/models/m/ready", Target("m", urls.MODEL_READY)),
    ("GET", "/v2/models/m/versions/007/ready", Target("m", urls.MODEL_READY, version=7)),
    ("POST", "/v2/models/m/infer", Target("m", urls.INFER)),
    ("POST", "/v2/models/m/versions/3/infer", Target("m", urls.INFER, version=3)),
    ("POST", "/v2/models/a%2Fb/infer", Target("a/b", urls.INFER)),
    ("POST", "/v2/models/a+b/infer", Target("a+b", urls.INFER)),
    # A deployment id stands for its model, as under /model-serving/.
    ("POST", "/v2/models/dep-1/infer", Target("model-a", urls.INFER, deployment="dep-1")),
    ("GET", "/v2/models/dep-1/versions/2", Target("model-a", "model_metadata", 2, None, "dep-1")),
    # The other method on a path of the grammar.
    ("GET", "/v2/models/m/infer", Target("", urls.WRONG_METHOD)),
    ("POST", "/v2/models/m", Target("", urls.WRONG_METHOD)),
    ("POST", "/v2/health/live", Target("", urls.WRONG_METHOD)),
    ("GET", "/v2/repository/index", Target("", urls.WRONG_METHOD)),
]


@pytest.mark.parametrize(("method", "path", "expected"), OK)
def test_grammar_accepts(method: str, path: str, expected: Target) -> None:
    assert urls.is_v2_path(path)
    assert urls.parse(method, path, DEPLOYMENTS) == expected


NOT_FOUND = [
    "/v2/",
    "/v2/models",
    "/v2/models/",
    "/v2/models/m/",
    "/v2/models/m/stats",
    "/v2/models/m/config",
    "/v2/models/m/versions/1/infer/x",
    "/v2/models/m/labels/x/infer",
    "/v2/health",
    "/V2/health/live",
    "/v2/repository/models/m/load",
]


@pytest.mark.parametrize("path", NOT_FOUND)
def test_other_paths_are_404(path: str) -> None:
    with pytest.raises(GatewayError) as caught:
        urls.parse("GET", path, DEPLOYMENTS)
    assert (caught.value.code, caught.value.message) == (Code.NOT_FOUND, "Not Found")


@pytest.mark.parametrize("version", ["abc", "-1", "1.5", "99999999999999999999", "%31"])
def test_bad_versions_are_400(version: str) -> None:
    with pytest.raises(GatewayError) as caught:
        urls.parse("POST", f"/v2/models/m/versions/{version}/infer", DEPLOYMENTS)
    assert caught.value.code == Code.INVALID_ARGUMENT
    assert "The model version must be a decimal number" in caught.value.message


@pytest.mark.parametrize("path", ["/v1/models/m", "/v20", "/model-serving/x", "/v2x/models"])
def test_only_v2_paths_belong_to_the_front(path: str) -> None:
    assert not urls.is_v2_path(path)


@pytest.mark.parametrize(
    ("path", "method"),
    [("/v2/models/m/infer", "POST"), ("/v2/models/m", "GET"), ("/v2/repository/index", "POST")],
)
def test_allowed_method(path: str, method: str) -> None:
    assert urls.allowed_method(path) == method
