"""Auth at the edge against a real gateway process: API keys (Bearer, X-API-Key,
several keys per principal), HTTP Basic, allow lists per model and deployment,
open and protected operations endpoints, and secrets that never leak."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway_proc import running_gateway
from tests.http import Reply, get, post, request

CI_KEYS = ("ci-key-1-" + "a" * 24, "ci-key-2-" + "b" * 24)  # two lines: rotation
OPS_KEY = "ops-key-" + "c" * 24
ALICE_PASSWORD = "alice: pass word ü"  # a colon and spaces are fine inside a password
ROW = {"instances": [[1.0]]}

CONFIG = """
[server]
model_server = "{target}"
cors_origins = "*"

[auth]
realm = "models"
allow = ["ci", "alice"]
open_paths = ["/healthz", "/readyz"]

[auth.keys.ci]
secret_file = "{keys}"

[auth.keys.ops]
secret_env = "TEST_OPS_KEY"

[auth.users.alice]
password_file = "{password}"

[models.restricted]
auth = ["ops"]

[deployments]
"dep-open" = "ok"
"dep-alice" = {{ model = "ok", auth = ["alice"] }}
"dep-restricted" = {{ model = "restricted", auth = ["ci"] }}
"""


@pytest.fixture(scope="module")
def access_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("auth") / "access.log"


@pytest.fixture(scope="module")
def gw(
    fake_target: str, tmp_path_factory: pytest.TempPathFactory, access_log: Path
) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("auth-config")
    keys, password = tmp / "ci.keys", tmp / "alice.password"
    keys.write_text("\n".join(CI_KEYS) + "\n\n")
    password.write_bytes(ALICE_PASSWORD.encode() + b"\n")
    config = tmp / "gateway.toml"
    config.write_text(CONFIG.format(target=fake_target, keys=keys, password=password))
    with (
        access_log.open("wb") as log,
        running_gateway(
            f"--config={config}", "--workers=1", stdout=log, env={"TEST_OPS_KEY": OPS_KEY}
        ) as (_, url),
    ):
        yield url


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def predict(gw: str, model: str, headers: dict[str, str]) -> Reply:
    return post(gw, f"/v1/models/{model}:predict", ROW, headers=headers)


def assert_401(reply: Reply, message: str) -> None:
    assert reply.status == 401, reply.body
    assert reply.json() == {"error": message}
    assert reply.headers.get_all("WWW-Authenticate") == [
        'Bearer realm="models"',
        'Basic realm="models", charset="UTF-8"',
    ]


def test_no_credentials_is_401_with_both_challenges(gw: str) -> None:
    assert_401(predict(gw, "ok", {}), "Authentication required")


@pytest.mark.parametrize(
    "headers",
    [
        bearer(CI_KEYS[0]),
        bearer(CI_KEYS[1]),
        {"Authorization": f"bearer   {CI_KEYS[0]}"},  # scheme names are case-insensitive
        {"X-API-Key": CI_KEYS[1]},
        basic("alice", ALICE_PASSWORD),
    ],
    ids=["bearer-key1", "bearer-key2", "lowercase-scheme", "x-api-key", "basic"],
)
def test_valid_credentials_pass(gw: str, headers: dict[str, str]) -> None:
    reply = predict(gw, "ok", headers)
    assert reply.status == 200, reply.body


@pytest.mark.parametrize(
    "headers",
    [
        bearer("wrong-" + CI_KEYS[0]),
        bearer(CI_KEYS[0][:-1]),
        bearer(""),
        {"X-API-Key": "nope"},
        basic("alice", "wrong"),
        basic("mallory", ALICE_PASSWORD),
        basic("alice", ALICE_PASSWORD + " "),
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\x00").decode()},
        {"Authorization": f"Token {CI_KEYS[0]}"},  # unknown scheme and no X-API-Key
    ],
)
def test_invalid_credentials_are_401_and_not_echoed(gw: str, headers: dict[str, str]) -> None:
    reply = predict(gw, "ok", headers)
    if headers.get("Authorization", "").startswith("Token"):
        assert_401(reply, "Authentication required")
    else:
        assert_401(reply, "Invalid credentials")
    for secret in (*CI_KEYS, OPS_KEY, ALICE_PASSWORD, headers.get("X-API-Key", "")):
        if secret:
            assert secret.encode() not in reply.body


def test_global_allow_list(gw: str) -> None:
    # ops is not in [auth] allow, so it may only use what names it.
    reply = predict(gw, "ok", bearer(OPS_KEY))
    assert reply.status == 403
    assert reply.json() == {"error": "Not allowed to use this model"}


def test_model_allow_list(gw: str) -> None:
    assert predict(gw, "restricted", bearer(OPS_KEY)).status == 200
    for headers in (bearer(CI_KEYS[0]), basic("alice", ALICE_PASSWORD)):
        reply = predict(gw, "restricted", headers)
        assert reply.status == 403 and "error" in reply.json()
        # status and metadata are guarded as well
        assert get(gw, "/v1/models/restricted", headers=headers).status == 403
        assert get(gw, "/v1/models/restricted/metadata", headers=headers).status == 403


def test_deployment_allow_list_wins_over_the_model(gw: str) -> None:
    path = "/model-serving/{}:predict"
    alice, ci = basic("alice", ALICE_PASSWORD), bearer(CI_KEYS[0])
    assert post(gw, path.format("dep-alice"), ROW, headers=alice).status == 200
    denied = post(gw, path.format("dep-alice"), ROW, headers=ci)
    assert denied.status == 403
    assert denied.json() == {"error": "Not allowed to use this deployment"}
    assert post(gw, path.format("dep-open"), ROW, headers=ci).status == 200
    # the deployment names ci, so ci reaches a model it could not use by name
    assert post(gw, path.format("dep-restricted"), ROW, headers=ci).status == 200
    assert post(gw, path.format("dep-restricted"), ROW, headers=bearer(OPS_KEY)).status == 403


V2_BODY = b'{"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [1.0]}]}'


def infer(gw: str, name: str, headers: dict[str, str]) -> Reply:
    return post(gw, f"/v2/models/{name}/infer", V2_BODY, headers=headers)


def test_v2_takes_the_same_credentials_and_lists(gw: str) -> None:
    assert_401(infer(gw, "ok", {}), "Authentication required")
    assert_401(get(gw, "/v2/health/live"), "Authentication required")
    assert_401(infer(gw, "ok", bearer("wrong")), "Invalid credentials")
    assert infer(gw, "ok", bearer(CI_KEYS[0])).status == 200
    assert infer(gw, "ok", basic("alice", ALICE_PASSWORD)).status == 200
    assert infer(gw, "ok", bearer(OPS_KEY)).status == 403  # not in [auth] allow
    assert infer(gw, "restricted", bearer(OPS_KEY)).status == 200
    ci = bearer(CI_KEYS[0])
    for path in ("/v2/models/restricted", "/v2/models/restricted/ready"):
        assert get(gw, path, headers=ci).json() == {"error": "Not allowed to use this model"}
    # A deployment id under /v2 carries its deployment's list, as under /model-serving/.
    assert infer(gw, "dep-restricted", ci).status == 200
    assert infer(gw, "dep-alice", ci).json() == {"error": "Not allowed to use this deployment"}
    assert get(gw, "/v2/health/live", headers=ci).status == 200


def test_strangers_learn_nothing_from_urls(gw: str) -> None:
    # 401 before the URL is parsed: no 400 for a malformed one, no 404 for unknown ones.
    for method, path in [
        ("POST", "/v1/models/ok:PREDICT"),
        ("GET", "/v1/models"),
        ("GET", "/nope"),
        ("POST", "/model-serving/unknown:predict"),
        ("POST", "/v2/models/unknown/infer"),
        ("GET", "/v2/nope"),
    ]:
        assert_401(request(gw, method, path, b"{}"), "Authentication required")


def test_operations_endpoints_open_or_protected(gw: str) -> None:
    assert get(gw, "/healthz").status == 200
    assert get(gw, "/readyz").status in (200, 503)  # open; readiness itself is not the point
    assert_401(get(gw, "/metrics"), "Authentication required")
    metrics = get(gw, "/metrics", headers=bearer(CI_KEYS[0]))
    assert metrics.status == 200 and b"tfs_gateway" in metrics.body
    listing = get(gw, "/v1/models", headers=bearer(OPS_KEY))
    assert listing.status == 200


def test_preflight_needs_no_credentials_and_401_carries_cors(gw: str) -> None:
    pre = request(gw, "OPTIONS", "/v1/models/ok:predict", headers={"Origin": "https://a.test"})
    assert pre.status == 200 and pre.body == b""
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    denied = predict(gw, "ok", {"Origin": "https://a.test"})
    assert denied.status == 401
    assert denied.headers["Access-Control-Allow-Origin"] == "*"  # the page can read the error


def test_access_log_names_the_principal_never_the_secret(gw: str, access_log: Path) -> None:
    predict(gw, "ok", bearer(CI_KEYS[0]))
    predict(gw, "ok", basic("alice", ALICE_PASSWORD))
    predict(gw, "ok", bearer("leaked-" + OPS_KEY))
    text = access_log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert {"ci", "alice"} <= {line.get("principal") for line in lines}
    for secret in (*CI_KEYS, OPS_KEY, ALICE_PASSWORD, base64.b64encode(b"alice:").decode()):
        assert secret not in text
