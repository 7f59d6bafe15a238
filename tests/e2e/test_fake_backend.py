"""The gateway against a fake ModelServer: error mapping, deadlines, an
unreachable backend, request ids, routing edges, body limits."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests import fake_backend
from tests.gateway_proc import free_port, running_gateway
from tests.http import get, post, request

MNIST_ROW = {"instances": [[0.5] * 784]}


@pytest.fixture(scope="module")
def backend() -> Iterator[tuple[str, fake_backend.FakeBackend]]:
    server, port, state = fake_backend.serve()
    yield f"127.0.0.1:{port}", state
    server.stop(None)


@pytest.fixture(scope="module")
def gw(backend: tuple[str, fake_backend.FakeBackend]) -> Iterator[str]:
    target, _ = backend
    with running_gateway(
        f"--model-server={target}",
        "--timeout-s=1",
        "--max-body-bytes=1000000",
        "--max-inflated-bytes=10000000",
        "--deployment=d1=ok",
        "--gzip-min-bytes=100",
    ) as (_, url):
        yield url


def test_predict_through_fake(gw: str) -> None:
    reply = post(gw, "/v1/models/ok:predict", MNIST_ROW)
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    predictions = reply.json()["predictions"]
    assert len(predictions) == 1 and len(predictions[0]) == 10


def test_paperspace_form_reaches_same_model(gw: str) -> None:
    reply = post(gw, "/model-serving/d1/versions/1:predict", {"inputs": [[0.5] * 784]})
    assert reply.status == 200, reply.body
    assert len(reply.json()["outputs"][0]) == 10


GRPC_TO_HTTP = [
    ("CANCELLED", 499),
    ("UNKNOWN", 500),
    ("INVALID_ARGUMENT", 400),
    ("NOT_FOUND", 404),
    ("ALREADY_EXISTS", 409),
    ("PERMISSION_DENIED", 403),
    ("RESOURCE_EXHAUSTED", 429),
    ("FAILED_PRECONDITION", 400),
    ("ABORTED", 409),
    ("OUT_OF_RANGE", 400),
    ("UNIMPLEMENTED", 501),
    ("INTERNAL", 500),
    ("DATA_LOSS", 500),
    ("UNAUTHENTICATED", 401),
]


@pytest.mark.parametrize(("code", "status"), GRPC_TO_HTTP)
def test_backend_status_codes_map_to_tf_serving_http_statuses(
    gw: str, code: str, status: int
) -> None:
    reply = get(gw, f"/v1/models/abort.{code}")
    assert reply.status == status
    assert reply.json() == {"error": f"fake backend aborts with {code}"}


def test_backend_unavailable_is_503_with_json(gw: str) -> None:
    reply = get(gw, "/v1/models/abort.UNAVAILABLE")
    assert reply.status == 503
    assert "error" in reply.json()


def test_slow_backend_is_504_at_the_deadline(gw: str) -> None:
    reply = post(gw, "/v1/models/sleep.3:predict", MNIST_ROW)
    assert reply.status == 504
    assert reply.json() == {"error": "Deadline Exceeded"}


def test_unreachable_backend_is_503_quickly() -> None:
    dead = f"127.0.0.1:{free_port()}"
    with running_gateway(f"--model-server={dead}", "--timeout-s=5") as (_, url):
        reply = get(url, "/v1/models/m", timeout=10)
        assert reply.status == 503
        message = reply.json()["error"]
        assert dead not in message and "127.0.0.1" not in message


def test_request_id_is_echoed_and_forwarded(
    gw: str, backend: tuple[str, fake_backend.FakeBackend]
) -> None:
    reply = post(gw, "/v1/models/ok:predict", MNIST_ROW, headers={"X-Request-ID": "abc-123"})
    assert reply.status == 200
    assert reply.headers["X-Request-ID"] == "abc-123"
    assert "abc-123" in backend[1].request_ids
    made = post(gw, "/v1/models/ok:predict", MNIST_ROW).headers["X-Request-ID"]
    assert made and made != "abc-123"


def test_signature_fetch_sends_the_request_id(
    gw: str, backend: tuple[str, fake_backend.FakeBackend]
) -> None:
    # A model the gateway has not seen yet: its signatures are fetched for this request.
    reply = post(gw, "/v1/models/fresh:predict", MNIST_ROW, headers={"X-Request-ID": "meta-7"})
    assert reply.status == 200
    assert "meta-7" in backend[1].metadata_request_ids


def test_signatures_fetched_before_a_request_are_refetched_when_it_fails(
    gw: str, backend: tuple[str, fake_backend.FakeBackend]
) -> None:
    """However soon after the last fetch the model changes, the next request that fails
    on the cached signatures fetches them again and succeeds (no time window)."""
    state = backend[1]
    assert post(gw, "/v1/models/renamed:predict", {"instances": [{"x": 1.0}]}).status == 200
    state.renamed_input = "images"  # a new version, milliseconds later
    reply = post(gw, "/v1/models/renamed:predict", {"instances": [{"images": 1.0}]})
    assert reply.status == 200, reply.body


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/healthz", None),
        ("GET", "/readyz", None),
        ("GET", "/metrics", None),
        ("GET", "/v1/models", None),
        ("GET", "/nowhere", None),
        ("OPTIONS", "/v1/models/ok:predict", None),
        ("POST", "/v1/models/ok:predict", b"{"),
        ("POST", "/v1/models/ok:PREDICT", b"{}"),
        ("GET", "/v1/models/abort.UNAVAILABLE", None),
        ("GET", "/model-serving/unknown-deployment", None),
        ("POST", "/v1/models/ok:predict", b"[" * 2_000_000),
    ],
)
def test_every_answer_carries_the_request_id(
    gw: str, method: str, path: str, body: bytes | None
) -> None:
    reply = request(gw, method, path, body, headers={"X-Request-ID": "every-1"})
    assert reply.headers["X-Request-ID"] == "every-1", (reply.status, reply.body[:100])


def test_body_less_posts_one_after_another(gw: str) -> None:
    # Each gets its answer; none may leave the gateway spinning on an empty body.
    for _ in range(3):
        reply = post(gw, "/v1/models/ok:predict", b"", timeout=10)
        assert reply.json() == {"error": "JSON Parse error: The document is empty"}
        assert post(gw, "/v2/models/ok/infer", None, timeout=10).status == 400
    assert post(gw, "/v1/models/ok:predict", MNIST_ROW, timeout=10).status == 200


def test_unknown_paths_get_json_404(gw: str) -> None:
    # ("/" redirects to the console: tests/console.)
    for path in ("/nope", "/v1", "/v3/models/m", "/v2/nope", "/favicon.ico"):
        reply = get(gw, path)
        assert reply.status == 404
        assert reply.json() == {"error": "Not Found"}


def test_cors_preflight_like_tf_serving(gw: str) -> None:
    ok = request(gw, "OPTIONS", "/v1/models/ok:predict", headers={"Origin": "https://x.test"})
    assert ok.status == 200 and ok.body == b""
    bad = request(gw, "OPTIONS", "/v1/models/ok:predict")
    assert bad.status == 400 and bad.body == b""


def test_gzip_request_body(gw: str) -> None:
    body = gzip.compress(b'{"instances": [[1.0]]}')
    reply = post(gw, "/v1/models/ok:predict", body, headers={"Content-Encoding": "gzip"})
    assert reply.status == 200, reply.body


@pytest.mark.parametrize(
    "body",
    [
        b"not gzip",
        gzip.compress(b'{"instances": [[1.0]]}')[:-4],  # the size in the trailer cut off
        gzip.compress(b'{"instances": [[1.0]]}')[:-8],  # the whole trailer cut off
        gzip.compress(b'{"instances": [[1.0]]}')[:-12],  # into the deflate data
    ],
    ids=["not-gzip", "cut-size", "cut-trailer", "cut-data"],
)
def test_gzip_that_does_not_inflate_counts_as_empty_body(gw: str, body: bytes) -> None:
    # compatibility.md §1: a body that fails to inflate is empty; a stream that stops
    # before its end is one that fails.
    reply = post(gw, "/v1/models/ok:predict", body, headers={"Content-Encoding": "gzip"})
    assert reply.status == 400
    assert reply.json() == {"error": "JSON Parse error: The document is empty"}


def test_oversized_body_is_413_and_gateway_stays_up(gw: str) -> None:
    reply = post(gw, "/v1/models/ok:predict", b"[" * 2_000_000)
    assert reply.status == 413
    assert "error" in reply.json()
    assert post(gw, "/v1/models/ok:predict", MNIST_ROW).status == 200


def test_gzip_bomb_is_413(gw: str) -> None:
    bomb = gzip.compress(b" " * 50_000_000)
    assert len(bomb) < 1_000_000
    reply = post(gw, "/v1/models/ok:predict", bomb, headers={"Content-Encoding": "gzip"})
    assert reply.status == 413
    assert post(gw, "/v1/models/ok:predict", MNIST_ROW).status == 200


def test_grpc_codes_cover_the_table() -> None:
    names = {code for code, _ in GRPC_TO_HTTP} | {"UNAVAILABLE", "DEADLINE_EXCEEDED", "OK"}
    assert names == {c.name for c in grpc.StatusCode}


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip", "gzip"),
        ("gzip, deflate", "gzip"),
        ("deflate, gzip", "gzip"),
        ("deflate, gzip;q=0.5, br", "gzip"),
        ("*", "gzip"),
        ("GZIP", "gzip"),
        ("deflate", None),
        ("gzip;q=0, deflate", None),
        ("gzip; q=0.000", None),
        ("*;q=0", None),
        ("identity", None),
    ],
)
def test_answers_are_gzip_or_plain(gw: str, accept: str, coding: str | None) -> None:
    """README: large answers are gzip-encoded when the client accepts gzip (q=0 refuses)."""
    reply = post(gw, "/v1/models/ok:predict", MNIST_ROW, headers={"Accept-Encoding": accept})
    assert reply.status == 200
    assert reply.headers.get("Content-Encoding") == coding
    body = gzip.decompress(reply.body) if coding else reply.body
    assert len(json.loads(body)["predictions"][0]) == 10


def test_large_answers_are_gzipped_when_the_client_accepts_it(gw: str) -> None:
    plain = post(gw, "/v1/models/ok:predict", MNIST_ROW)
    assert len(plain.body) >= 100 and "Content-Encoding" not in plain.headers
    zipped = post(gw, "/v1/models/ok:predict", MNIST_ROW, headers={"Accept-Encoding": "gzip"})
    assert zipped.status == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == plain.body


def test_signature_fetch_keeps_the_models_metadata_deadline(tmp_path: Path) -> None:
    """The metadata call a predict needs first runs under the model's metadata deadline."""
    server, port, _ = fake_backend.serve()
    config = tmp_path / "gateway.toml"
    config.write_text(
        '[server]\ntimeout_s = 10.0\n[models."slowmeta.3"]\ntimeouts = { metadata = 0.3 }\n'
    )
    try:
        with running_gateway(
            f"--config={config}", f"--model-server=127.0.0.1:{port}", "--workers=1"
        ) as (_, url):
            start = time.monotonic()
            reply = post(url, "/v1/models/slowmeta.3:predict", MNIST_ROW)
            assert reply.status == 504, reply.body
            assert reply.json() == {"error": "Deadline Exceeded"}
            assert time.monotonic() - start < 2.5
    finally:
        server.stop(None)
