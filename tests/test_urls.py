"""Table tests for the URL grammars (compatibility.md §1)."""

from __future__ import annotations

import pytest

from gateway.core.calls import Target
from gateway.core.errors import Code, GatewayError
from gateway.fronts.tfs.urls import is_paperspace_path, is_tfs_path, parse_paperspace, parse_tfs

TFS_OK = [
    ("POST", "/v1/models/m:predict", Target("m", "predict")),
    ("POST", "/v1/models/m:classify", Target("m", "classify")),
    ("POST", "/v1/models/m:regress", Target("m", "regress")),
    ("POST", "/v1/models/m/versions/7:predict", Target("m", "predict", version=7)),
    ("POST", "/v1/models/m/versions/00000123:predict", Target("m", "predict", version=123)),
    ("POST", "/v1/models/m/labels/stable:predict", Target("m", "predict", label="stable")),
    ("POST", "/V1/MODELS/m:predict", Target("m", "predict")),
    ("POST", "/v1/models/a%2Fb:predict", Target("a/b", "predict")),
    ("POST", "/v1/models/a+b:predict", Target("a+b", "predict")),
    ("POST", "/v1/models/m/labels/x%3Ay:predict", Target("m", "predict", label="x:y")),
    ("GET", "/v1/models/m", Target("m", "status")),
    ("GET", "/v1/models/m/versions/3", Target("m", "status", version=3)),
    ("GET", "/v1/models/m/labels/l", Target("m", "status", label="l")),
    ("GET", "/v1/models/m/metadata", Target("m", "metadata")),
    ("GET", "/v1/models/m/versions/3/metadata", Target("m", "metadata", version=3)),
    ("GET", "/v1/models/m/labels/l/metadata", Target("m", "metadata", label="l")),
    # Case-insensitive regex, case-sensitive dispatch: /METADATA answers status.
    ("GET", "/v1/models/m/METADATA", Target("m", "status")),
    # The query string is part of the path TF Serving matches.
    ("GET", "/v1/models/m?x=1", Target("m?x=1", "status")),
    ("GET", "/v1/models/metadata", Target("metadata", "status")),
]


@pytest.mark.parametrize(("method", "path", "expected"), TFS_OK)
def test_tfs_grammar_accepts(method: str, path: str, expected: Target) -> None:
    assert parse_tfs(method, path) == expected


TFS_ERRORS = [
    ("POST", "/v1/models/m:PREDICT", "Malformed request: POST /v1/models/m:PREDICT"),
    ("POST", "/v1/models/m:predict?x=1", "Malformed request: POST /v1/models/m:predict?x=1"),
    ("POST", "/v1/models/m:foo", "Malformed request: POST /v1/models/m:foo"),
    ("POST", "/v1/foo", "Malformed request: POST /v1/foo"),
    ("POST", "/v1/models/m", "Malformed request: POST /v1/models/m"),
    ("POST", "/v1/models/m/metadata", "Malformed request: POST /v1/models/m/metadata"),
    (
        "POST",
        "/v1/models/m/versions/1/labels/x:predict",
        "Malformed request: POST /v1/models/m/versions/1/labels/x:predict",
    ),
    (
        "POST",
        "/v1/models/m/version/1:predict",
        "Malformed request: POST /v1/models/m/version/1:predict",
    ),
    ("GET", "/v1/models/m/", "Malformed request: GET /v1/models/m/"),
    ("GET", "/v1/models/m:predict", "Malformed request: GET /v1/models/m:predict"),
    ("GET", "/v1/models/m/labels", "Malformed request: GET /v1/models/m/labels"),
    ("GET", "/v1/models", "Missing model name in request."),
    ("PUT", "/v1/models/m", "Malformed request: PUT /v1/models/m"),
    ("DELETE", "/v1/models/m:predict", "Malformed request: DELETE /v1/models/m:predict"),
    (
        "POST",
        "/v1/models/m/versions/99999999999999999999:predict",
        "Failed to convert version: 99999999999999999999 to numeric.",
    ),
]


@pytest.mark.parametrize(("method", "path", "message"), TFS_ERRORS)
def test_tfs_grammar_rejects(method: str, path: str, message: str) -> None:
    with pytest.raises(GatewayError) as caught:
        parse_tfs(method, path)
    assert caught.value.code == Code.INVALID_ARGUMENT
    assert caught.value.message == message


DEPLOYMENTS = {"dep1": "mnist", "d%2F": "weird"}

PS_OK = [
    ("POST", "/model-serving/dep1:predict", Target("mnist", "predict", deployment="dep1")),
    (
        "POST",
        "/model-serving/dep1/versions/1:predict",
        Target("mnist", "predict", version=1, deployment="dep1"),
    ),
    ("POST", "/model-serving/dep1:classify", Target("mnist", "classify", deployment="dep1")),
    ("GET", "/model-serving/dep1", Target("mnist", "status", deployment="dep1")),
    (
        "GET",
        "/model-serving/dep1/versions/2/metadata",
        Target("mnist", "metadata", version=2, deployment="dep1"),
    ),
]


@pytest.mark.parametrize(("method", "path", "expected"), PS_OK)
def test_paperspace_grammar_accepts(method: str, path: str, expected: Target) -> None:
    assert parse_paperspace(method, path, DEPLOYMENTS) == expected


def test_paperspace_unknown_deployment_is_404() -> None:
    with pytest.raises(GatewayError) as caught:
        parse_paperspace("POST", "/model-serving/nope:predict", DEPLOYMENTS)
    assert caught.value.code == Code.NOT_FOUND
    assert caught.value.http_status == 404
    assert "nope" in caught.value.message


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/model-serving/dep1/labels/x:predict"),
        ("POST", "/model-serving/dep1"),
        ("GET", "/model-serving/dep1:predict"),
        ("PATCH", "/model-serving/dep1"),
    ],
)
def test_paperspace_grammar_rejects(method: str, path: str) -> None:
    with pytest.raises(GatewayError) as caught:
        parse_paperspace(method, path, DEPLOYMENTS)
    assert caught.value.message == f"Malformed request: {method} {path}"


@pytest.mark.parametrize(
    ("path", "tfs", "paperspace"),
    [
        ("/v1/models/m", True, False),
        ("/V1/x", True, False),
        ("/v1", False, False),
        ("/v2/models/m", False, False),
        ("/model-serving/x", False, True),
        ("/", False, False),
    ],
)
def test_prefixes(path: str, tfs: bool, paperspace: bool) -> None:
    assert is_tfs_path(path) is tfs
    assert is_paperspace_path(path) is paperspace
