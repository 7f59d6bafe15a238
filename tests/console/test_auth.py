"""The console with auth on: pages and assets need no key and hold no data; documents
and the model list need one and show only what the key may use; the documents name the
schemes the gateway accepts."""

from __future__ import annotations

import pytest

from tests.console.conftest import API_KEY, OPS_KEY
from tests.http import get

pytestmark = pytest.mark.slow

CI = {"X-API-Key": API_KEY}
OPS = {"Authorization": f"Bearer {OPS_KEY}"}


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/console/",
        "/console/console.js",
        "/docs/",
        "/docs/docs.js",
        "/docs/swagger-ui/swagger-ui.css",
    ],
)
def test_pages_and_assets_need_no_key(auth_gateway: str, path: str) -> None:
    assert get(auth_gateway, path).status in (200, 302)


@pytest.mark.parametrize(
    "path",
    [
        "/openapi.json",
        "/console/api/models",
        "/console/api/stats",
        "/v1/models/half_plus_two_tf2/openapi.json",
        "/model-serving/dep-tf2/openapi.json",
        "/console/api/%6dodels",  # percent-encoded: still not an asset
    ],
)
def test_data_needs_a_key(auth_gateway: str, path: str) -> None:
    reply = get(auth_gateway, path)
    assert reply.status == 401
    assert reply.json() == {"error": "Authentication required"}
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


def test_asset_paths_never_reach_data(auth_gateway: str) -> None:
    # Assets are looked up in a table by their raw path: no decoding, no file system.
    for path in ("/console/%2E%2E/openapi.json", "/docs/../openapi.json", "/console/api%2Fmodels"):
        reply = get(auth_gateway, path)
        assert reply.status == 404 and reply.json() == {"error": "Not Found"}, path


def test_a_key_sees_only_what_it_may_use(auth_gateway: str) -> None:
    listing = get(auth_gateway, "/console/api/models", headers=CI).json()
    assert listing["auth"] is True
    names = {m["name"] for m in listing["models"]}
    assert "default" not in names and "half_plus_two_tf2" in names
    assert [d["id"] for d in listing["deployments"]] == ["dep-tf2"]
    paths = get(auth_gateway, "/openapi.json", headers=CI).json()["paths"]
    assert "/model-serving/dep-tf2:predict" in paths
    assert not any("default" in p or "dep-2v" in p for p in paths)
    everything = get(auth_gateway, "/openapi.json", headers=OPS).json()["paths"]
    assert "/v1/models/default:predict" in everything and "/model-serving/dep-2v" in everything


def test_model_documents_are_guarded_like_the_model(auth_gateway: str) -> None:
    denied = get(auth_gateway, "/v1/models/default/openapi.json", headers=CI)
    assert denied.status == 403
    assert denied.json() == {"error": "Not allowed to use this model"}
    assert get(auth_gateway, "/model-serving/dep-2v/openapi.json", headers=CI).status == 403
    assert get(auth_gateway, "/v1/models/default/openapi.json", headers=OPS).status == 200


def test_documents_name_the_schemes_and_the_open_paths(auth_gateway: str) -> None:
    doc = get(auth_gateway, "/openapi.json", headers=CI).json()
    assert doc["components"]["securitySchemes"] == {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "Bearer": {"type": "http", "scheme": "bearer"},
    }
    assert doc["security"] == [{"ApiKey": []}, {"Bearer": []}]
    assert doc["paths"]["/healthz"]["get"]["security"] == []
    assert "security" not in doc["paths"]["/console/api/models"]["get"]
