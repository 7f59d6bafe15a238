"""CORS with an origin allow-list against a real gateway process. Without
``cors_origins`` the gateway keeps TF Serving's preflight answers (covered by
tests/e2e/test_fake_backend.py::test_cors_preflight_like_tf_serving)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway_proc import running_gateway
from tests.http import post, request

APP = "https://app.example"
DEV = "http://localhost:3000"
ROW = {"instances": [[1.0]]}


@pytest.fixture(scope="module")
def gw(fake_target: str) -> Iterator[str]:
    args = [
        f"--model-server={fake_target}",
        f"--cors-origins={APP}, {DEV}",
        "--cors-methods=POST, GET, OPTIONS",
        "--cors-max-age-s=120",
    ]
    with running_gateway(*args) as (_, url):
        yield url


def preflight(gw: str, origin: str | None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Access-Control-Request-Method": "POST"}
    if origin is not None:
        headers["Origin"] = origin
    reply = request(gw, "OPTIONS", "/v1/models/ok:predict", headers=headers)
    return reply.status, dict(reply.headers), reply.body


@pytest.mark.parametrize("origin", [APP, DEV])
def test_allowed_origin_preflight(gw: str, origin: str) -> None:
    status, headers, body = preflight(gw, origin)
    assert (status, body) == (200, b"")
    assert headers["Access-Control-Allow-Origin"] == origin
    assert headers["Access-Control-Allow-Methods"] == "POST, GET, OPTIONS"
    assert "Content-Type" in headers["Access-Control-Allow-Headers"]
    assert "Authorization" in headers["Access-Control-Allow-Headers"]
    assert headers["Access-Control-Max-Age"] == "120"
    assert headers["Vary"] == "Origin"


def test_other_origin_preflight_is_403(gw: str) -> None:
    for origin in ("https://evil.example", "https://app.example.evil.test", APP + ":8443"):
        status, headers, body = preflight(gw, origin)
        assert status == 403
        assert body == b'{"error":"CORS origin not allowed"}'
        assert "Access-Control-Allow-Origin" not in headers


def test_preflight_without_origin_stays_tf_serving_400(gw: str) -> None:
    for origin in (None, "", "app.example"):
        status, headers, body = preflight(gw, origin)
        assert (status, body) == (400, b"")
        assert "Access-Control-Allow-Origin" not in headers


def test_responses_to_allowed_origins_carry_cors_headers(gw: str) -> None:
    ok = post(gw, "/v1/models/ok:predict", ROW, headers={"Origin": APP})
    assert ok.status == 200
    assert ok.headers["Access-Control-Allow-Origin"] == APP
    error = post(gw, "/v1/models/ok:predict", b"{", headers={"Origin": DEV})
    assert error.status == 400
    assert error.headers["Access-Control-Allow-Origin"] == DEV  # the page can read the error


def test_responses_to_other_origins_carry_none(gw: str) -> None:
    for headers in ({"Origin": "https://evil.example"}, {}):
        reply = post(gw, "/v1/models/ok:predict", ROW, headers=headers)
        assert reply.status == 200  # CORS is for browsers; the request itself is not refused
        assert "Access-Control-Allow-Origin" not in reply.headers
