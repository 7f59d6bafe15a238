"""The OpenAPI documents on a real gateway over the five test models: each one is valid
OpenAPI 3.1 (openapi-spec-validator), every example request in it succeeds, bodies the
ModelServer accepts pass its schemas, and the console's pages, redirects and errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.gateway_proc import running_gateway
from tests.http import get, post, request
from tests.servers import MODEL_NAMES

pytestmark = pytest.mark.slow

# Examples that are not posted: the counter changes state other tests read, and
# half_plus_three's regress signature declares a float input where its graph parses
# serialized Examples (no REST body can satisfy both).
NOT_POSTED = {
    ("saved_model_counter", "incr_counter_by (columnar)"),
    ("saved_model_half_plus_three", "tensorflow/serving/regress (row)"),
    ("saved_model_half_plus_three", "tensorflow/serving/regress (columnar)"),
}
DOCUMENTS = [
    "/openapi.json",
    *(f"/v1/models/{name}/openapi.json" for name in MODEL_NAMES),
    "/v1/models/saved_model_half_plus_two_2_versions/versions/123/openapi.json",
    "/v1/models/saved_model_half_plus_two_2_versions/labels/Version_Label/openapi.json",
    "/model-serving/dep-default/openapi.json",
    "/model-serving/dep-2v/versions/123/openapi.json",
]


def document(base_url: str, path: str) -> dict[str, Any]:
    reply = get(base_url, path)
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    doc: dict[str, Any] = reply.json()
    return doc


def examples_of(doc: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(path, example name, body) for every example request of a document."""
    for path, item in doc["paths"].items():
        media = item.get("post", {}).get("requestBody", {}).get("content", {})
        for name, example in media.get("application/json", {}).get("examples", {}).items():
            yield path, name, example["value"]


@pytest.mark.parametrize("path", DOCUMENTS)
def test_every_document_is_valid_openapi(console_gateway: str, path: str) -> None:
    doc = document(console_gateway, path)
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_example_request_succeeds(console_gateway: str, name: str) -> None:
    doc = document(console_gateway, f"/v1/models/{name}/openapi.json")
    posted = 0
    for path, example, body in examples_of(doc):
        if (name, example) in NOT_POSTED:
            continue
        reply = post(console_gateway, path, json.dumps(body))
        assert reply.status == 200, (path, example, reply.body)
        posted += 1
    assert posted or name == "saved_model_counter"


def test_model_document_paths(console_gateway: str) -> None:
    paths = document(console_gateway, "/v1/models/default/openapi.json")["paths"]
    assert sorted(paths) == [
        "/v1/models/default",
        "/v1/models/default/metadata",
        "/v1/models/default:classify",
        "/v1/models/default:predict",
        "/v1/models/default:regress",
    ]
    examples = paths["/v1/models/default:predict"]["post"]["requestBody"]["content"]
    names = list(examples["application/json"]["examples"])
    assert names[0] == "serving_default (row)"
    named = examples["application/json"]["examples"]["regress_x2_to_y3 (row)"]["value"]
    assert named["signature_name"] == "regress_x2_to_y3"


def test_versioned_and_deployment_documents_use_their_url_form(console_gateway: str) -> None:
    labelled = "/v1/models/saved_model_half_plus_two_2_versions/labels/Version_Label"
    assert f"{labelled}:predict" in document(console_gateway, f"{labelled}/openapi.json")["paths"]
    deployment = document(console_gateway, "/model-serving/dep-2v/versions/123/openapi.json")
    assert sorted(deployment["paths"])[0] == "/model-serving/dep-2v/versions/123"


def test_server_document_has_every_known_model_deployment_and_the_operations(
    console_gateway: str,
) -> None:
    paths = document(console_gateway, "/openapi.json")["paths"]
    for expected in (
        "/v1/models",
        "/healthz",
        "/readyz",
        "/metrics",
        "/console/api/models",
        "/console/api/stats",
        "/v1/models/default:predict",
        "/model-serving/dep-default:predict",
        "/model-serving/dep-2v:predict",
        "/v1/models/saved_model_half_plus_two_2_versions:predict",
    ):
        assert expected in paths, expected


LENIENT = [
    # Bodies the ModelServer accepts for `default` (x: DT_FLOAT [-1, 1]): each must pass.
    {"instances": [1.0, 2.0, 5.0]},
    {"instances": [[1, 2]]},
    {"instances": [{"x": [1.0]}]},
    {"inputs": 1.0},
    {"inputs": {"x": [[1.0]], "unused": True}},
    {"signature_name": "", "instances": [[1.0]], "whatever": [1]},
    {"signature_name": "classify_x_to_y", "inputs": {"inputs": []}},
]


@pytest.mark.parametrize("body", LENIENT)
def test_schema_is_never_stricter_than_the_model_server(
    console_gateway: str, body: dict[str, Any]
) -> None:
    doc = document(console_gateway, "/v1/models/default/openapi.json")
    # The doc's "#/components/..." refs resolve against the document itself.
    doc_registry = Registry().with_resource("", DRAFT202012.create_resource(doc))
    schema = doc["paths"]["/v1/models/default:predict"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    validator = jsonschema.Draft202012Validator(
        {**schema, "components": doc["components"]}, registry=doc_registry
    )
    assert post(console_gateway, "/v1/models/default:predict", json.dumps(body)).status == 200
    assert validator.is_valid(body)


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/v1/models/nope/openapi.json", 404, "Servable not found for request: Latest(nope)"),
        ("/model-serving/nope/openapi.json", 404, "Could not find deployment: nope"),
        ("/v1/models/default/versions/7/openapi.json", 404, "Specific(default, 7)"),
        ("/v1/models/default/versions/99999999999999999999/openapi.json", 400, "Failed to convert"),
        ("/console/api/nope", 404, "Not Found"),
        ("/console/nope.js", 404, "Not Found"),
    ],
)
def test_errors_are_json(console_gateway: str, path: str, status: int, message: str) -> None:
    reply = get(console_gateway, path)
    assert reply.status == status
    assert message in reply.json()["error"]


def test_pages_redirects_and_headers(console_gateway: str) -> None:
    root = get(console_gateway, "/")
    assert root.status == 302 and root.headers["Location"] == "/console/"
    assert get(console_gateway, "/docs").headers["Location"] == "/docs/"
    page = get(console_gateway, "/console/")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "unsafe" not in policy
    assert b'data-testid="request-body"' in page.body and b"<script>" not in page.body
    script = get(console_gateway, "/console/console.js")
    assert script.headers["Content-Type"].startswith("text/javascript")
    again = get(
        console_gateway, "/console/console.js", headers={"If-None-Match": script.headers["ETag"]}
    )
    assert again.status == 304 and again.body == b""  # the 1.7 MB bundle is not resent
    bundle = get(console_gateway, "/docs/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status == 200 and len(bundle.body) > 1_000_000
    assert get(console_gateway, "/docs/swagger-ui/VERSION").body.strip() == b"5.35.0"
    assert request(console_gateway, "HEAD", "/console/").status == 200


def test_only_reads_are_allowed(console_gateway: str) -> None:
    reply = post(console_gateway, "/openapi.json", b"{}")
    assert reply.status == 405 and reply.headers["Allow"] == "GET, HEAD"
    assert reply.json() == {"error": "Method Not Allowed"}


def test_model_list_names_where_each_model_is_known_from(console_gateway: str) -> None:
    post(console_gateway, "/v1/models/half_plus_two_tf2:predict", '{"instances": [1.0]}')
    listing = get(console_gateway, "/console/api/models").json()
    models = {m["name"]: m for m in listing["models"]}
    assert models["default"]["sources"][0] == "configured"
    assert models["default"]["deployments"] == ["dep-default"]
    assert models["default"]["versions"] == [{"version": "123", "state": "AVAILABLE"}]
    assert "seen" in models["half_plus_two_tf2"]["sources"]
    assert {"id": "dep-2v", "model": "saved_model_half_plus_two_2_versions"} in listing[
        "deployments"
    ]


def stats_points(base_url: str) -> list[dict[str, Any]]:
    stats = get(base_url, "/console/api/stats").json()
    assert stats["scope"] == "worker" and stats["step_s"] == 5
    points: list[dict[str, Any]] = stats["points"]
    return points


def test_stats_count_model_calls(console_gateway: str) -> None:
    for _ in range(5):
        post(console_gateway, "/v1/models/default:predict", '{"instances": [[1.0]]}')
    post(console_gateway, "/v1/models/default:predict", "not json")
    # Steps end on whole seconds: wait until the step holding the 400 has closed.
    deadline = time.monotonic() + 15
    while not any(p["client_error_rate"] for p in stats_points(console_gateway)):
        assert time.monotonic() < deadline, "the 400 never showed up"
        time.sleep(0.5)
    busy = [p for p in stats_points(console_gateway) if p["requests_per_s"]]
    assert sum(p["requests_per_s"] for p in busy) * 5 >= 6
    assert all(p["p50_ms"] is not None and p["p99_ms"] >= p["p50_ms"] for p in busy)


def test_console_knob_turns_it_all_off(modelserver_target: str) -> None:
    args = [f"--model-server={modelserver_target}", "--console=false", "--access-log=false"]
    with running_gateway(*args) as (_, url):
        assert get(url, "/").status == 404
        assert get(url, "/console/").status == 404
        assert get(url, "/openapi.json").status == 404
        # TF Serving's own answer for a path outside its grammar (compatibility.md §1).
        reply = get(url, "/v1/models/default/openapi.json")
        assert reply.status == 400
        assert reply.json()["error"] == "Malformed request: GET /v1/models/default/openapi.json"
