"""No input makes the app answer 5xx (hypothesis): generated methods, paths in both URL
grammars and beyond, headers (gzip, request ids) and bodies, sent over a real socket to
the in-process app in front of a small fake ModelServer whose models carry the fuzzers'
spread of signatures (every dtype, named inputs). The one 5xx allowed is TF Serving's 501
for a dtype that JSON cannot fill (compatibility.md §4.3); errors are ``{"error": ...}``.
Inputs that trigger a known bug owned elsewhere (fuzz.known) are let through.
"""

from __future__ import annotations

import asyncio
import gzip
import string
from collections.abc import Iterator
from typing import Any

import aiohttp
import grpc
import orjson
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from fuzz.known import known_bug
from fuzz.signatures import NAMES, SPREAD, signature_def_map
from gateway.app import create_app
from gateway.config import Deployment, Settings
from gateway.core import protos
from gateway.edge.middleware import gunzip
from tests import fake_backend
from tests.codec.test_properties import DTYPES, FEATURES, tensors, write

# aiohttp 3.14 warns once per str key stored on a request (it wants web.RequestKey); the
# gateway's subprocess tests never see it, but here pytest's warnings-as-errors would turn
# the first request["target"] = ... of the process into a 500.
pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning")

DEPLOYMENTS = {"d1": "float", "d2": "mixed", "d3": "string", "d4": "ok"}
CAP = 100_000


class SpreadBackend(fake_backend.FakeBackend):
    """The fake ModelServer with the fuzzers' signatures; model <dtype name> has that
    signature as serving_default (others: float's), and classify/regress answer."""

    def metadata(self, request: Any, context: grpc.ServicerContext) -> Any:
        name = request.model_spec.name
        spread = {**SPREAD, "serving_default": SPREAD.get(name, SPREAD["float"])}
        response = protos.GetModelMetadataResponse()
        response.model_spec.name = name
        response.model_spec.version.value = 1
        response.metadata["signature_def"].Pack(signature_def_map(spread))
        return response

    def classify(self, request: Any, context: grpc.ServicerContext) -> Any:
        response = protos.ClassificationResponse()
        response.result.classifications.add().classes.add(label="a", score=0.25)
        return response

    def regress(self, request: Any, context: grpc.ServicerContext) -> Any:
        response = protos.RegressionResponse()
        response.result.regressions.add(value=1.5)
        return response

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        def unary(fn: Any, req: Any, resp: Any) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=req.FromString, response_serializer=resp.SerializeToString
            )

        extra = {
            "Classify": unary(
                self.classify, protos.ClassificationRequest, protos.ClassificationResponse
            ),
            "Regress": unary(self.regress, protos.RegressionRequest, protos.RegressionResponse),
        }
        return [
            grpc.method_handlers_generic_handler(protos.PREDICTION_SERVICE, extra),
            *super().handlers(),
        ]


class App:
    """The app on 127.0.0.1 in its own event loop, and a client session."""

    def __init__(self, target: str) -> None:
        settings = Settings(
            model_server=target,
            deployments={d: Deployment(d, m) for d, m in DEPLOYMENTS.items()},
            access_log=False,
            timeout_s=10.0,
            max_body_bytes=CAP,
            max_inflated_bytes=CAP,
        )
        self.loop = asyncio.new_event_loop()
        # The runner's settings of gateway.serve that change what the app sees.
        self.server = TestServer(create_app(settings), host="127.0.0.1")
        self.loop.run_until_complete(
            self.server.start_server(auto_decompress=False, access_log=None)
        )
        self.session = self.loop.run_until_complete(self._session())

    async def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    def send(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        return self.loop.run_until_complete(self._send(method, path, body, headers))

    async def _send(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        url = URL(f"http://127.0.0.1:{self.server.port}{path}", encoded=True)
        async with self.session.request(method, url, data=body, headers=headers) as reply:
            return reply.status, await reply.read()

    def close(self) -> None:
        self.loop.run_until_complete(self.session.close())
        self.loop.run_until_complete(self.server.close())
        self.loop.close()


@pytest.fixture(scope="module")
def app() -> Iterator[App]:
    backend = SpreadBackend()
    server = grpc.server(fake_backend.futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers(backend.handlers())
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    running = App(f"127.0.0.1:{port}")
    yield running
    running.close()
    server.stop(None)


# --- requests --------------------------------------------------------------------------

SEGMENT = st.text(
    string.ascii_letters + string.digits + "-_.~%+!$&'()*,;=@", min_size=1, max_size=8
)
MODELS = st.sampled_from([*NAMES, "ok", "nope"]) | SEGMENT.filter(lambda s: "." not in s)
VERSIONS = st.sampled_from(["", "/versions/1", "/versions/99999999999999999999", "/labels/l"])
TAILS = st.sampled_from([":predict", ":classify", ":regress", "", "/metadata", ":bogus", "/"])
PATHS = st.one_of(
    st.builds(lambda m, v, t: f"/v1/models/{m}{v}{t}", MODELS, VERSIONS, TAILS),
    st.builds(
        lambda d, v, t: f"/model-serving/{d}{v}{t}",
        st.sampled_from([*DEPLOYMENTS, "nope"]) | SEGMENT,
        VERSIONS,
        TAILS,
    ),
    st.sampled_from(["/healthz", "/readyz", "/metrics", "/v1/models", "/v1/models?x=1", "/"]),
    st.text(string.ascii_letters + string.digits + "/:%?=&-._~", max_size=30).map("/{}".format),
)

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(),
    st.integers(-(2**70), 2**70),
    st.text(max_size=5),
    st.binary(max_size=5),
)
KEYS = st.sampled_from(["b64", "x", "a", "b", "f", "flag", "id", "s", "é x"]) | st.text(max_size=4)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=16,
)
SIGNATURE_NAMES = st.sampled_from(["", *NAMES]) | st.binary(max_size=4) | VALUES
DOCS = st.fixed_dictionaries(
    {},
    optional={
        "signature_name": SIGNATURE_NAMES,
        "instances": VALUES,
        "inputs": VALUES,
        "examples": st.lists(st.dictionaries(KEYS, VALUES, max_size=3), max_size=3) | VALUES,
        "context": VALUES,
    },
)
BODIES = st.one_of(DOCS.map(write), st.binary(max_size=64), st.just(b""))
HEADER_TEXT = st.text(string.printable.strip() + " ", max_size=140)


# DT_ names of the spread's inputs -> the property tests' value strategies.
_DTYPE_NAMES = {f"DT_{name.upper()}": name for name in DTYPES}


@st.composite
def tensor_values(draw: st.DrawFn, dtype: str, batch: int | None) -> Any:
    """A valid value for the dtype (sometimes any JSON value instead)."""
    name = _DTYPE_NAMES.get(dtype)
    if name is None or draw(st.integers(0, 5)) == 0:
        return draw(VALUES)
    value, _ = draw(tensors(name, min_rank=0 if batch is None else 1, batch=batch))
    return value


@st.composite
def predict_docs(draw: st.DrawFn, signature: str) -> dict[str, Any]:
    """Row or columnar bodies for the signature's inputs, valid or slightly off."""
    inputs = SPREAD.get(signature, SPREAD["float"])
    batch = draw(st.integers(1, 3))
    values = {a: draw(tensor_values(dtype, batch)) for a, (dtype, _) in inputs.items()}
    if draw(st.booleans()):
        rows: list[Any] = [
            {a: v[i] if isinstance(v, list) and i < len(v) else v for a, v in values.items()}
            for i in range(batch)
        ]
        if len(values) == 1 and draw(st.booleans()):
            rows = [row.popitem()[1] for row in rows]
        doc: dict[str, Any] = {"instances": rows}
    else:
        one = len(values) == 1 and draw(st.booleans())
        doc = {"inputs": next(iter(values.values())) if one else values}
    if draw(st.integers(0, 3)) == 0:
        doc["signature_name"] = draw(SIGNATURE_NAMES)
    return doc


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str]]:
    """Well-formed URLs of both grammars with bodies that mostly parse."""
    verb = draw(st.sampled_from(["predict", "predict", "predict", "classify", "regress"]))
    deployment = draw(st.sampled_from([*DEPLOYMENTS, None, None]))
    model = DEPLOYMENTS[deployment] if deployment else draw(st.sampled_from(NAMES))
    version = draw(st.sampled_from(["", "", "/versions/1"]))
    base = f"/model-serving/{deployment}" if deployment else f"/v1/models/{model}"
    if verb == "predict":
        doc = draw(predict_docs(model))
    else:
        examples = draw(st.lists(FEATURES, max_size=3))
        doc = {"examples": [_feature_doc(e) for e in examples]}
    return "POST", f"{base}{version}:{verb}", write(doc), {}


def _feature_doc(features: dict[str, Any]) -> dict[str, Any]:
    return {
        name: values if len(values) != 1 else values[0] for name, (_, values) in features.items()
    }


@st.composite
def anything(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str]]:
    method = draw(st.sampled_from(["GET", "POST", "POST", "PUT", "DELETE", "OPTIONS"]))
    return method, draw(PATHS), draw(BODIES), {}


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str]]:
    method, path, body, headers = draw(calls() | anything())
    if draw(st.booleans()):
        headers["X-Request-ID"] = draw(HEADER_TEXT)
    if draw(st.integers(0, 4)) == 0:
        headers["Content-Encoding"] = "gzip"
        body = draw(st.sampled_from([gzip.compress(body), gzip.compress(body)[:-3], body]))
    if draw(st.integers(0, 4)) == 0:
        headers["Origin"] = draw(st.sampled_from(["http://a.example", "x"]))
    return method, path, body, headers


def _is_known(body: bytes, headers: dict[str, str]) -> bool:
    if "Content-Encoding" in headers:
        body = gunzip(body, CAP) or b""
    predict = any(known_bug("predict", bytes([i]) + body) for i in range(len(NAMES)))
    return predict or known_bug("example", body) is not None


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_no_input_makes_the_app_answer_5xx(
    app: App, request: tuple[str, str, bytes, dict[str, str]]
) -> None:
    method, path, body, headers = request
    status, reply = app.send(method, path, body, headers)
    if status >= 500 and _is_known(body, headers):
        return
    if status == 501:
        assert orjson.loads(reply)["error"].startswith("Conversion of JSON Value"), reply
    else:
        assert status < 500, (status, reply)
    if status >= 400 and method != "OPTIONS":
        error = orjson.loads(reply)
        assert list(error) == ["error"] and isinstance(error["error"], str)
