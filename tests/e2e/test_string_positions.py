"""Every byte sequence in every JSON string position, and in every name a URL carries,
gets TF Serving's answer or a 4xx ``{"error": ...}`` (issue 11, item 9): never a 500,
never an error text that is not JSON or that names a Python exception.

The gateway stands in front of the bundled ModelServer serving the test models, so
what the ModelServer says about such input is checked too.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote_from_bytes

import pytest

from tests.http import Reply, request

# Raw bytes as they appear between the quotes of a JSON string: invalid UTF-8, UTF-8
# encodings of surrogates, escapes of lone surrogates and NUL, controls, a quote, a
# backslash escape, multi-byte text, a long run.
JSON_STRINGS = {
    "invalid-utf8": b"\xff\xfe",
    "encoded-surrogate": b"\xed\xa0\x80",
    "lone-low-surrogate-escape": b"\\udc00",
    "lone-high-surrogate-escape": b"\\ud800",
    "nul-escape": b"a\\u0000b",
    "control-escape": b"\\u0001\\n",
    "quote": b'\\"',
    "text": "h\u00e9\u00e9 \u2603 \U0001f600".encode(),
    "long": b"n" * 5000,
    "empty": b"",
}

# (name, verb, JSON body with %s where the string goes)
POSITIONS = [
    ("predict signature_name", "predict", b'{"signature_name": "%s", "instances": [1.0]}'),
    ("classify signature_name", "classify", b'{"signature_name": "%s", "examples": [{"x": 1.0}]}'),
    ("regress signature_name", "regress", b'{"signature_name": "%s", "examples": [{"x": 1.0}]}'),
    ("row input name", "predict", b'{"instances": [{"%s": 1.0}]}'),
    ("columnar input name", "predict", b'{"inputs": {"%s": [1.0]}}'),
    ("string value", "predict", b'{"signature_name": "classify_x_to_y", "instances": ["%s"]}'),
    (
        "b64 payload, row",
        "predict",
        b'{"signature_name": "classify_x_to_y", "instances": [{"b64": "%s"}]}',
    ),
    (
        "b64 payload, columnar",
        "predict",
        b'{"signature_name": "classify_x_to_y", "inputs": {"b64": "%s"}}',
    ),
    ("b64 payload to a float input", "predict", b'{"instances": [{"b64": "%s"}]}'),
    (
        "feature name",
        "classify",
        b'{"signature_name": "classify_x_to_y", "examples": [{"%s": 1.0}]}',
    ),
    (
        "feature bytes",
        "regress",
        b'{"signature_name": "regress_x_to_y", "examples": [{"x": "%s"}]}',
    ),
    (
        "feature b64",
        "classify",
        b'{"signature_name": "classify_x_to_y", "examples": [{"x": {"b64": "%s"}}]}',
    ),
    (
        "context feature name",
        "classify",
        b'{"signature_name": "classify_x_to_y", "context": {"%s": 1.0}, "examples": [{}]}',
    ),
    (
        "context feature bytes",
        "regress",
        b'{"signature_name": "regress_x_to_y", "context": {"x": "%s"}, "examples": [{}]}',
    ),
    ("context as a string", "classify", b'{"context": "%s", "examples": [{}]}'),
    ("unknown key", "predict", b'{"%s": 1, "instances": [1.0]}'),
]

# Raw bytes of a name in a URL, percent-encoded where they go.
URL_NAMES = {
    "invalid-utf8": b"\xff\xfe",
    "encoded-surrogate": b"\xed\xa0\x80",
    "nul": b"a\x00b",
    "controls": b"\x01\n\r\t",
    "quote-backslash": b'"\\',
    "text": "h\u00e9\u00e9 \u2603".encode(),
    "percent": b"%",
    "slash-colon-query": b"a/b:c?d",
    "long-10k": b"m" * 10_000,
    "long-64k": b"m" * 65_000,
}

URL_FORMS = [
    ("POST", "/v1/models/{}:predict"),
    ("POST", "/v1/models/{}:classify"),
    ("GET", "/v1/models/{}"),
    ("GET", "/v1/models/{}/metadata"),
    ("GET", "/v1/models/default/labels/{}"),
    ("GET", "/v1/models/default/labels/{}/metadata"),
    ("POST", "/v1/models/default/labels/{}:predict"),
    ("POST", "/model-serving/{}:predict"),
    ("GET", "/model-serving/{}/metadata"),
]

PYTHON_NAMES = re.compile(
    r"Traceback|\b(?:Unicode\w*Error|ValueError|TypeError|KeyError|IndexError|"
    r"AttributeError|RuntimeError|AssertionError|OverflowError|RecursionError)\b"
)


def check_answer(reply: Reply) -> None:
    """A JSON answer: 200, or a 4xx with {"error": <clean text>}; a request id always."""
    assert reply.status == 200 or 400 <= reply.status < 500, (reply.status, reply.body[:300])
    assert reply.headers["Content-Type"].startswith("application/json"), reply.body[:200]
    assert reply.headers["X-Request-ID"]
    doc = json.loads(reply.body)  # UTF-8 and well-formed
    if reply.status != 200:
        assert list(doc) == ["error"] and isinstance(doc["error"], str), doc
        assert not PYTHON_NAMES.search(doc["error"]), doc["error"]


@pytest.mark.parametrize("value", JSON_STRINGS.values(), ids=list(JSON_STRINGS))
@pytest.mark.parametrize(
    ("verb", "template"), [p[1:] for p in POSITIONS], ids=[p[0] for p in POSITIONS]
)
def test_json_string_positions(gateway_url: str, verb: str, template: bytes, value: bytes) -> None:
    body = template.replace(b"%s", value)
    check_answer(request(gateway_url, "POST", f"/v1/models/default:{verb}", body))


@pytest.mark.parametrize("name", URL_NAMES.values(), ids=list(URL_NAMES))
@pytest.mark.parametrize(("method", "form"), URL_FORMS, ids=[f"{m} {f}" for m, f in URL_FORMS])
def test_names_in_urls(gateway_url: str, method: str, form: str, name: bytes) -> None:
    path = form.format(quote_from_bytes(name, safe=""))
    body = b'{"instances": [1.0]}' if method == "POST" else None
    check_answer(request(gateway_url, method, path, body))


def test_long_model_name_is_the_404_of_any_unknown_model(gateway_url: str) -> None:
    name = "m" * 65_000
    reply = request(gateway_url, "POST", f"/v1/models/{name}:predict", b'{"instances": [1.0]}')
    assert reply.status == 404
    assert reply.json()["error"].startswith(f"Servable not found for request: Latest({name[:100]}")


def test_signature_name_that_is_not_utf8(gateway_url: str) -> None:
    """TF Serving's signature-not-found answers; the name's bad bytes show as U+FFFD."""
    predict = request(
        gateway_url,
        "POST",
        "/v1/models/default:predict",
        b'{"signature_name": "s\xff", "instances": [1.0]}',
    )
    assert predict.status == 400
    assert predict.json() == {
        "error": 'Serving signature name: "s\ufffd" not found in signature def'
    }
    for verb in ("classify", "regress"):
        reply = request(
            gateway_url,
            "POST",
            f"/v1/models/default:{verb}",
            b'{"signature_name": "s\\udc00", "examples": [{"x": 1.0}]}',
        )
        assert reply.status == 400
        assert reply.json() == {
            "error": "No signature was found with the name: s\ufffd\ufffd\ufffd"
        }
    # The model lookup still comes first (compatibility.md §2).
    unknown = request(
        gateway_url,
        "POST",
        "/v1/models/nope:classify",
        b'{"signature_name": "s\xff", "examples": [{"x": 1.0}]}',
    )
    assert unknown.status == 404
    assert unknown.json() == {"error": "Servable not found for request: Latest(nope)"}


def test_payload_that_is_not_an_example_gets_the_kernel_error(gateway_url: str) -> None:
    """ParseExample on bytes that are no Example: TensorFlow's INVALID_ARGUMENT text."""
    for payload in ("//4=", "CgVhYg=="):  # b"\xff\xfe"; a field cut short
        body = {"signature_name": "classify_x_to_y", "instances": [{"b64": payload}]}
        reply = request(gateway_url, "POST", "/v1/models/default:predict", body)
        assert reply.status == 400, reply.body
        assert reply.json()["error"].startswith("Could not parse example input, value: '")
