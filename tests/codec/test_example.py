"""compatibility.md §§5 and 6.3: Example JSON -> Input, classify/regress results -> JSON."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.codec.tfs.example import (
    classification_result_to_json,
    example_body_from_json,
    regression_result_to_json,
)
from gateway.core import protos
from gateway.core.errors import Code, GatewayError


def _features(example: Any) -> dict[str, tuple[str | None, list[Any]]]:
    out = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        out[name] = (kind, list(getattr(feature, kind).value) if kind else [])
    return out


FEATURES: list[tuple[bytes, dict[str, tuple[str | None, list[Any]]]]] = [
    (b'{"x": 2.0}', {"x": ("float_list", [2.0])}),
    (b'{"x": [1.5, 2e3, NaN]}', {"x": ("float_list", [1.5, 2000.0, float("nan")])}),
    (b'{"x": 2}', {"x": ("int64_list", [2])}),
    (b'{"x": [true, false, 3]}', {"x": ("int64_list", [1, 0, 3])}),
    (b'{"x": "a"}', {"x": ("bytes_list", [b"a"])}),
    (b'{"x": ["a", {"b64": "aGk="}]}', {"x": ("bytes_list", [b"a", b"hi"])}),
    (b'{"x": []}', {"x": (None, [])}),
    (b'{"x": 18446744073709551616}', {"x": ("float_list", [1.8446744073709552e19])}),
]


@pytest.mark.parametrize(("example", "expected"), FEATURES)
def test_feature_typing(example: bytes, expected: dict[str, Any]) -> None:
    parsed = example_body_from_json(b'{"examples": [' + example + b"]}")
    (got,) = parsed.input.example_list.examples
    features = _features(got)
    assert features.keys() == expected.keys()
    for name, (kind, values) in expected.items():
        assert features[name][0] == kind
        assert repr(features[name][1]) == repr(values)


def test_context_and_signature() -> None:
    body = b'{"signature_name": "s", "context": {"c": 1}, "examples": [{}, {"x": "a"}]}'
    parsed = example_body_from_json(body)
    assert parsed.signature_name == "s"
    assert parsed.input.WhichOneof("kind") == "example_list_with_context"
    with_context = parsed.input.example_list_with_context
    assert _features(with_context.context) == {"c": ("int64_list", [1])}
    assert [_features(e) for e in with_context.examples] == [{}, {"x": ("bytes_list", [b"a"])}]


ERRORS: list[tuple[bytes, str]] = [
    (b"[1]", "JSON Value: [1] Is not object"),
    (
        b'{"x": 1}',
        "JSON Value: {\n    \"x\": 1\n} When method is classify, key 'examples' is expected and"
        " was not found",
    ),
    (
        b'{"examples": 1}',
        "JSON Value: {\n    \"examples\": 1\n} Expecting 'examples' value to be an list/array",
    ),
    (
        b'{"examples": []}',
        "JSON Value: {\n    \"examples\": []\n} 'examples' value is an empty array",
    ),
    (b'{"examples": [1]}', "Example must be JSON object but got JSON Number"),
    (b'{"context": [], "examples": [{}]}', "Example must be JSON object but got JSON Array"),
    (b'{"context": "s", "examples": [{}]}', "Example must be JSON object but got JSON String"),
    (
        b'{"examples": [{"f": [10, 10.0]}]}',
        "Unexpected element type in feature: f expecting type: int64",
    ),
    (
        b'{"examples": [{"f": [1.5, 2]}]}',
        "Unexpected element type in feature: f expecting type: float",
    ),
    (
        b'{"examples": [{"f": ["a", 1]}]}',
        "Unexpected element type in feature: f expecting type: bytes",
    ),
    (b'{"examples": [{"f": null}]}', "Feature: f has element with unexpected JSON type: Null"),
    (b'{"examples": [{"f": [[1]]}]}', "Feature: f has element with unexpected JSON type: Array"),
    (
        b'{"examples": [{"f": {"a": 1}}]}',
        "Feature: f has element with unexpected JSON type: Object",
    ),
    (
        b'{"examples": [{"f": 9223372036854775808}]}',
        "Feature: f has uint64_t element. Only int64_t is supported.",
    ),
    (b'{"examples": [{"f": {"b64": "!"}}]}', "Unable to base64 decode"),
]


@pytest.mark.parametrize(("body", "message"), ERRORS)
def test_errors(body: bytes, message: str) -> None:
    with pytest.raises(GatewayError) as info:
        example_body_from_json(body)
    assert (info.value.code, info.value.message) == (Code.INVALID_ARGUMENT, message)


def test_classification_result() -> None:
    result = protos.message_class("tensorflow.serving.ClassificationResult")()
    first = result.classifications.add()
    first.classes.add(label="a", score=0.1)
    first.classes.add(label="", score=1 / 3)
    result.classifications.add().classes.add(score=3.0)
    assert classification_result_to_json(result) == (
        b'{"results":[[["a",0.1],["",0.333333343]],[["",3.0]]]}'
    )


def test_regression_result() -> None:
    result = protos.message_class("tensorflow.serving.RegressionResult")()
    for value in (3.0, 0.1, 1e6):
        result.regressions.add(value=value)
    assert regression_result_to_json(result) == b'{"results":[3.0,0.1,1e+06]}'
