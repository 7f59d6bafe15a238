"""A battery of hostile requests against a real gateway process (auth on, one
fake backend and the bundled ModelServer behind it). Every one gets a 4xx
``{"error"}`` (or, for broken HTTP framing, a 400 and a closed connection),
never a 500, a hang or a crash; a normal request right after still succeeds;
no answer and no log line carries the API key or a backend address."""

from __future__ import annotations

import gzip
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.gateway_proc import running_gateway
from tests.http import Reply, request
from tests.security.helpers import head_and_body, raw_exchange, read_until_close, status_of
from tests.servers import wait_for

API_KEY = "hostile-test-key-" + "k" * 24
AUTH = {"X-API-Key": API_KEY}
ROW = b'{"instances": [[1.0]]}'
REAL = "saved_model_half_plus_three"  # the bundled ModelServer (default backend); "ok" is fake
DEEP = 10**6
BODY_TIMEOUT_S = 1.0
KEEPALIVE_S = 2.0


@dataclass
class Gateway:
    url: str
    secrets: tuple[str, ...]  # the API key and both backend addresses
    log: Path
    answers: list[bytes]  # every body and raw answer seen, checked at the end


@pytest.fixture(scope="module")
def gw(
    fake_target: str, modelserver_target: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("hostile")
    config = tmp / "gateway.toml"
    config.write_text(
        f"""
[server]
model_server = "{modelserver_target}"
max_body_bytes = 4000000
max_inflated_bytes = 8000000
body_timeout_s = {BODY_TIMEOUT_S}
keepalive_timeout_s = {KEEPALIVE_S}
access_log = false
[backends.fake]
target = "{fake_target}"
[models.ok]
backend = "fake"
[auth.keys.test]
secret_env = "HOSTILE_KEY"
"""
    )
    log = tmp / "gateway.log"
    with (
        log.open("wb") as sink,
        running_gateway(
            f"--config={config}", "--workers=1", stderr=sink, env={"HOSTILE_KEY": API_KEY}
        ) as (proc, url),
    ):
        state = Gateway(url, (API_KEY, fake_target, modelserver_target), log, [])
        yield state
        assert proc.poll() is None, "the gateway died"
    for answer in state.answers:
        for secret in state.secrets:
            assert secret.encode() not in answer
    text = log.read_text(errors="replace")
    for secret in state.secrets[:1]:
        assert secret not in text
    # No 500s, no protocol tracebacks.
    errors = [line for line in text.splitlines() if " ERROR " in line]
    assert not errors, errors


def send(gw: Gateway, method: str, path: str, body: bytes = b"", **headers: str) -> Reply:
    reply = request(gw.url, method, path, body, headers={**AUTH, **headers}, timeout=30)
    gw.answers.append(reply.body)
    return reply


def still_serving(gw: Gateway) -> None:
    reply = send(gw, "POST", "/v1/models/ok:predict", ROW)
    assert reply.status == 200, reply.body
    real = send(gw, "POST", f"/v1/models/{REAL}:predict", b'{"instances": [1.0]}')
    assert real.json() == {"predictions": [3.5]}


def assert_json_error(reply: Reply, status: int) -> None:
    assert reply.status == status, reply.body[:300]
    assert reply.headers["Content-Type"].startswith("application/json")
    assert set(reply.json()) == {"error"}


# --- bodies ---------------------------------------------------------------------

NESTED = b"[" * DEEP + b"]" * DEEP
BODIES: list[tuple[str, bytes, int]] = [
    ("empty", b"", 400),
    ("malformed", b"instances = [1, 2]", 400),
    ("truncated", b'{"instances": [[1.0], [2', 400),
    ("truncated-string", b'{"instances": ["abc', 400),
    ("not-an-object", b"[1, 2]", 400),
    ("invalid-utf8-value", b'{"instances": ["\xff\xfe\xfd"]}', 400),
    ("invalid-utf8-key", b'{"\xff\xfe": [1], "instances": 7}', 400),
    ("lone-surrogate", b'{"instances": ["\\ud800"]}', 400),
    ("deep-top-level", NESTED, 400),
    ("deep-instances", b'{"instances": ' + NESTED + b"}", 400),
    ("deep-object", b'{"a":' * 300_000 + b"1" + b"}" * 300_000, 400),
    ("deep-unclosed", b"[" * DEEP, 400),
    ("1e400", b'{"instances": [1e400]}', 400),
    ("-1e400", b'{"instances": [[-1e400]]}', 400),
    ("huge-integer", b'{"instances": [' + b"9" * 200_000 + b"]}", 400),
    pytest.param(
        "huge-exponent",
        b'{"instances": [1e' + b"9" * 10_000 + b"]}",
        400,
    ),
    ("long-exponent", b'{"instances": [1e' + b"9" * 4000 + b"]}", 400),
    ("huge-fraction", b'{"instances": [0.' + b"1" * 1_000_000 + b"]}", 200),  # a fine number
    ("nan-signature", b'{"signature_name": NaN, "instances": [[1.0]]}', 400),
    ("nan-instances", b'{"instances": NaN}', 400),
    ("nan-as-key", b"{NaN: 1}", 400),
    ("nan-inputs-map", b'{"inputs": {"x": NaN, "y": Infinity}}', 200),  # NaN is a float
    ("nan-in-b64", b'{"instances": [{"b64": NaN}]}', 400),
    ("lowercase-nan", b'{"instances": [nan]}', 400),
    ("duplicate-keys-bad-first", b'{"instances": "x", "instances": [[1.0]]}', 400),
    ("many-keys", b"{" + b",".join(b'"k%d":1' % i for i in range(200_000)) + b"}", 400),
    ("wide-array", b'{"instances": [' + b",".join([b"[]"] * 500_000) + b"]}", 200),  # empty
    ("ragged", b'{"instances": [[1.0], [[1.0]]]}', 400),
]


@pytest.mark.parametrize(("name", "body", "status"), BODIES)
def test_hostile_bodies(gw: Gateway, name: str, body: bytes, status: int) -> None:
    reply = send(gw, "POST", f"/v1/models/{REAL}:predict", body)
    if status == 200:
        assert reply.status == 200, reply.body[:300]
    else:
        assert_json_error(reply, status)
    still_serving(gw)


def test_hostile_classify_bodies(gw: Gateway) -> None:
    for body in (
        b'{"examples": [{"x": ' + NESTED + b"}]}",
        b'{"examples": [{"x": NaN}], "context": NaN}',
        b'{"examples": [{"x": {"b64": "!!!"}}]}',
        b'{"examples": 1e400}',
    ):
        reply = send(gw, "POST", f"/v1/models/{REAL}:classify", body)
        assert 400 <= reply.status < 500 and set(reply.json()) == {"error"}, reply.body[:200]
    still_serving(gw)


def test_tf_serving_leniency_is_kept(gw: Gateway) -> None:
    # compatibility.md §3: first duplicate key wins, parsing stops after the first value or a NUL,
    # an unused key may nest without limit. These are answered, not refused.
    for body in (
        b'{"instances": [[1.0]], "instances": "x"}',
        b'{"instances": [[1.0]]}\x00garbage',
        b'{"instances": [[1.0]]} {"not": "parsed"',
        b'{"unused": ' + NESTED + b', "instances": [[1.0]]}',
    ):
        assert send(gw, "POST", "/v1/models/ok:predict", body).status == 200


def test_oversized_and_gzip_bombs(gw: Gateway) -> None:
    assert_json_error(send(gw, "POST", "/v1/models/ok:predict", b" " * 5_000_000), 413)
    bomb = gzip.compress(b" " * 100_000_000)
    assert len(bomb) < 200_000
    reply = send(gw, "POST", "/v1/models/ok:predict", bomb, **{"Content-Encoding": "gzip"})
    assert_json_error(reply, 413)
    nested = gzip.compress(gzip.compress(b" " * 50_000_000))  # a bomb inside a bomb
    reply = send(gw, "POST", "/v1/models/ok:predict", nested, **{"Content-Encoding": "gzip"})
    assert_json_error(reply, 400)  # one layer is inflated: the rest is not JSON
    still_serving(gw)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "x/y"],
)
def test_wrong_content_types_are_ignored_like_tf_serving(gw: Gateway, content_type: str) -> None:
    # compatibility.md §1: the request Content-Type is ignored; what counts is the JSON.
    ok = send(gw, "POST", "/v1/models/ok:predict", ROW, **{"Content-Type": content_type})
    assert ok.status == 200
    form = send(gw, "POST", "/v1/models/ok:predict", b"a=1&b=2", **{"Content-Type": content_type})
    assert_json_error(form, 400)


# --- Open Inference Protocol bodies (compatibility.md §12) ---------------------------

V2_INPUT = b'{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}'
V2_BINARY = (
    b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32",'
    b' "parameters": {"binary_data_size": 4}}]}'
)
V2_BODIES: list[tuple[str, bytes, dict[str, str]]] = [
    ("deep", b'{"inputs": ' + NESTED + b"}", {}),
    (
        "deep-data",
        b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": '
        + b"[" * 5000
        + b"1"
        + b"]" * 5000
        + b"}]}",
        {},
    ),
    ("nan", b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [NaN]}]}', {}),
    (
        "huge-shape",
        b'{"inputs": [{"name": "x", "shape": [4611686018427387904, 4611686018427387904],'
        b' "datatype": "FP32", "data": []}]}',
        {},
    ),
    (
        "shape-past-int64",
        b'{"inputs": [{"name": "x", "shape": [9223372036854775808],'
        b' "datatype": "FP32", "data": []}]}',
        {},
    ),
    (
        "huge-binary-size",
        V2_BINARY.replace(b": 4}", b": 99999999999999999999}") + b"\0" * 4,
        {"Inference-Header-Content-Length": str(len(V2_BINARY) + 16)},
    ),
    ("header-past-body", V2_BINARY + b"\0" * 4, {"Inference-Header-Content-Length": "999999"}),
    ("header-negative", V2_BINARY + b"\0" * 4, {"Inference-Header-Content-Length": "-1"}),
    ("header-not-ascii", V2_BINARY + b"\0" * 4, {"Inference-Header-Content-Length": "\u00b2"}),
    ("header-zero", V2_BINARY + b"\0" * 4, {"Inference-Header-Content-Length": "0"}),
    (
        "bytes-count-lies",
        b'{"inputs": [{"name": "x", "shape": [1000000000], "datatype": "BYTES",'
        b' "parameters": {"binary_data_size": 8}}]}\xff\xff\xff\xff\0\0\0\0',
        {"Inference-Header-Content-Length": "106"},
    ),
    ("many-inputs", b'{"inputs": [' + b",".join([V2_INPUT] * 20_000) + b"]}", {}),
    ("wrong-types", b'{"id": [], "parameters": [], "inputs": {}, "outputs": 3}', {}),
]


@pytest.mark.parametrize(("name", "body", "headers"), V2_BODIES, ids=[b[0] for b in V2_BODIES])
def test_hostile_v2_bodies(gw: Gateway, name: str, body: bytes, headers: dict[str, str]) -> None:
    if name == "bytes-count-lies":
        headers = {"Inference-Header-Content-Length": str(body.index(b"}]}") + 3)}
    reply = send(gw, "POST", f"/v2/models/{REAL}/infer", body, **headers)
    assert_json_error(reply, 400)
    still_serving(gw)


def test_v2_bodies_count_against_the_limits(gw: Gateway) -> None:
    # max_body_bytes = 4000000: a binary body one byte over it is refused before buffering.
    head = (
        b'{"inputs": [{"name": "x", "shape": [1000000], "datatype": "FP32",'
        b' "parameters": {"binary_data_size": 4000000}}]}'
    )
    headers = {"Inference-Header-Content-Length": str(len(head))}
    too_big = head + b"\0" * (4_000_001 - len(head))
    assert_json_error(send(gw, "POST", f"/v2/models/{REAL}/infer", too_big, **headers), 413)
    bomb = gzip.compress(head + b"\0" * 10_000_000)
    reply = send(gw, "POST", f"/v2/models/{REAL}/infer", bomb, **headers, **GZIP)
    assert_json_error(reply, 413)
    fits = gzip.compress(head + b"\0" * 4_000_000)  # inflates to 4 MB + head: under 8 MB
    reply = send(gw, "POST", f"/v2/models/{REAL}/infer", fits, **headers, **GZIP)
    assert reply.status == 200, reply.body[:300]
    assert reply.json()["outputs"][0]["shape"] == [1000000]
    still_serving(gw)


GZIP = {"Content-Encoding": "gzip"}


# --- paths ----------------------------------------------------------------------

PATHS: list[tuple[str, str, int]] = [
    ("POST", "/v1/models/../ok:predict", 400),
    ("POST", "/v1/models/ok/../../x:predict", 400),
    ("GET", "/v1/models/%2e%2e/metadata", 404),
    ("GET", f"/v1/models/{REAL}%2F..%2F..", 404),
    ("GET", f"/v1/models/{REAL}%00", 404),
    ("GET", "/v1/models/%00", 404),
    ("POST", "/v1/models/ok%3Apredict", 400),
    ("GET", "/v1/models/%ZZ", 404),
    ("GET", "/v1/models/%", 404),
    ("GET", "/v1/models/" + "n" * 7000, 404),
    ("POST", "/model-serving/%2F..%2Fx:predict", 404),
    ("POST", "/model-serving/%00:predict", 404),
    ("GET", "/model-serving/" + "d" * 7000, 404),
    ("GET", "/%2e%2e/%2e%2e/etc/passwd", 404),
    ("GET", "//v1/models/ok", 404),
    ("GET", "/v1/models/ok?" + "q=" * 2000, 404),
]


@pytest.mark.parametrize(("method", "path", "status"), PATHS, ids=[p[1][:40] for p in PATHS])
def test_path_tricks(gw: Gateway, method: str, path: str, status: int) -> None:
    assert_json_error(send(gw, method, path, ROW if method == "POST" else b""), status)
    still_serving(gw)


def test_long_request_lines(gw: Gateway) -> None:
    # Up to 64 KiB (and more) a long name is just an unknown model ...
    raw = raw_http(gw, b"GET /v1/models/" + b"x" * 65_536 + b" HTTP/1.1\r\n" + auth_lines())
    assert status_of(raw) == 404
    assert json.loads(head_and_body(raw)[1])["error"].startswith("Could not find any versions")
    # ... and past the parser's limit the line is refused in JSON, and the connection closed.
    raw = raw_http(gw, b"GET /v1/models/" + b"x" * 300_000 + b" HTTP/1.1\r\n" + auth_lines())
    assert status_of(raw) in (0, 400)
    if raw:
        assert json.loads(head_and_body(raw)[1]) == {"error": "Malformed HTTP request"}
    still_serving(gw)


# --- headers and framing (raw sockets) ---------------------------------------------


def auth_lines() -> bytes:
    return b"Host: gw\r\nX-API-Key: " + API_KEY.encode() + b"\r\nConnection: close\r\n\r\n"


def raw_http(gw: Gateway, data: bytes, record: bool = True) -> bytes:
    raw = raw_exchange(gw.url, data)
    if record:
        gw.answers.append(raw)
    return raw


@pytest.mark.parametrize(
    "request_id",
    [b"abc\rSet-Cookie: evil=1", b"abc\nSet-Cookie: evil=1", b"abc\r\nSet-Cookie: evil=1"],
    ids=["cr", "lf", "crlf"],
)
def test_request_id_injection_is_refused(gw: Gateway, request_id: bytes) -> None:
    raw = raw_http(
        gw, b"GET /v1/models/ok HTTP/1.1\r\nX-Request-ID: " + request_id + b"\r\n" + auth_lines()
    )
    head, _ = head_and_body(raw)
    assert b"evil" not in head and b"Set-Cookie" not in head
    assert status_of(raw) in (0, 200, 400)
    still_serving(gw)


@pytest.mark.parametrize(
    "request_id", ["x" * 129, "x" * 8000, "tab\there", "caf\u00e9", " "], ids=str.__len__
)
def test_unusable_request_ids_are_replaced(gw: Gateway, request_id: str) -> None:
    raw = raw_http(
        gw,
        b"GET /v1/models/ok HTTP/1.1\r\nX-Request-ID: "
        + request_id.encode("utf-8")
        + b"\r\n"
        + auth_lines(),
    )
    assert status_of(raw) == 200
    head, _ = head_and_body(raw)
    echoed = [line for line in head.split(b"\r\n") if line.lower().startswith(b"x-request-id:")]
    assert len(echoed) == 1 and len(echoed[0]) == len("X-Request-ID: ") + 32  # a fresh uuid


def test_a_sane_request_id_is_echoed(gw: Gateway) -> None:
    reply = send(gw, "GET", "/v1/models/ok", **{"X-Request-ID": "trace-123"})
    assert reply.headers["X-Request-ID"] == "trace-123"


@pytest.mark.parametrize(
    "data",
    [
        b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n" + auth_lines(),
        b"GET /healthz HTTP/1.1\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(5000))
        + auth_lines(),
        b"GET /healthz HTTP/1.1\r\nAuthorization: Bearer "
        + API_KEY.encode()
        + b"\rx\r\n"
        + auth_lines(),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS hello
        b"GARBAGE\r\n\r\n",
        b"POST /v1/models/ok:predict HTTP/1.1\r\nContent-Length: -5\r\n" + auth_lines(),
        b"POST /v1/models/ok:predict HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n"
        + auth_lines(),
        b"POST /v1/models/ok:predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
        + auth_lines()
        + b"zz\r\n",
        b"GET /healthz HTTP/9.9\r\n" + auth_lines(),
    ],
    ids=[
        "huge-header",
        "many-headers",
        "cr-in-credentials",
        "tls-hello",
        "garbage",
        "negative-length",
        "two-lengths",
        "bad-chunk",
        "http-9",
    ],
)
def test_broken_http_is_400_or_closed(gw: Gateway, data: bytes) -> None:
    # aiohttp answers unparseable HTTP itself, then closes; the gateway makes that answer
    # JSON with a fixed text, so nothing of the request (credentials included) comes back.
    raw = raw_http(gw, data)
    assert status_of(raw) in (0, 400, 431, 505), raw[:200]
    if raw:
        head, body = head_and_body(raw)
        assert b"application/json" in head and b"X-Request-ID: " in head, head
        assert set(json.loads(body)) == {"error"}, body
    still_serving(gw)


def _connect(gw: Gateway) -> socket.socket:
    parts = urlsplit(gw.url)
    assert parts.hostname is not None and parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=15)


def test_slow_body_sender_gets_408_and_is_let_go(gw: Gateway) -> None:
    start = time.monotonic()
    with _connect(gw) as sock:
        sock.sendall(
            b"POST /v1/models/ok:predict HTTP/1.1\r\nContent-Length: 1000\r\n" + auth_lines() + b"{"
        )
        try:
            for _ in range(40):  # trickle one byte every 0.1 s: 4 s in all if never stopped
                time.sleep(0.1)
                sock.sendall(b" ")
        except OSError:
            pass  # the gateway closed the connection: also fine
        raw = read_until_close(sock)
    gw.answers.append(raw)
    assert status_of(raw) in (0, 408)
    if raw:
        assert head_and_body(raw)[1] == b'{"error":"The request body did not arrive in time"}'
    assert time.monotonic() - start < BODY_TIMEOUT_S + 4  # 408, then at most LINGERING_S
    still_serving(gw)


def test_slow_header_sender_is_disconnected(gw: Gateway) -> None:
    with _connect(gw) as sock:
        sock.sendall(b"POST /v1/models/ok:predict HTTP/1.1\r\nHost: gw\r\n")
        start = time.monotonic()
        raw = read_until_close(sock)  # returns when the gateway closes (socket timeout 15 s)
        assert time.monotonic() - start < KEEPALIVE_S + 5
    assert status_of(raw) in (0, 408)
    still_serving(gw)


def test_many_idle_connections_do_not_block_others(gw: Gateway) -> None:
    socks = [_connect(gw) for _ in range(100)]
    try:
        for sock in socks:
            sock.sendall(b"POST /v1/models/ok:predict HTTP/1.1\r\nContent-Length: 100\r\n")
        still_serving(gw)
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.parametrize(
    "framing",
    [b"Content-Length: 1000\r\n", b"Transfer-Encoding: chunked\r\n"],
    ids=["content-length", "chunked"],
)
def test_client_gone_mid_body_costs_one_log_line(gw: Gateway, framing: bytes) -> None:
    before = gw.log.read_text(errors="replace").count("before sending its whole body")
    with _connect(gw) as sock:
        head = b"POST /v1/models/ok:predict HTTP/1.1\r\nHost: gw\r\n" + framing
        sock.sendall(head + b"X-API-Key: " + API_KEY.encode() + b"\r\n\r\n")
        sock.sendall(b'5\r\n{"ins\r\n' if b"chunked" in framing else b'{"ins')
    # The socket is closed: the gateway notices while it waits for the rest.

    def logged() -> int:
        return gw.log.read_text(errors="replace").count("before sending its whole body")

    wait_for(lambda: logged() == before + 1, timeout_s=15)
    text = gw.log.read_text(errors="replace")
    assert "Traceback" not in text and "ConnectionResetError" not in text
    still_serving(gw)
    assert logged() == before + 1
