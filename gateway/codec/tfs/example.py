"""Classify and regress requests and results (compatibility.md §§5 and 6.3).

Request::

    {"signature_name": <string, optional>,
     "context": <object, optional>,        -> Input.example_list_with_context.context
     "examples": [<object>, ...]}          -> example_list(.examples)

Each example member is one feature, a single value or a list: decimals
(fraction, exponent, NaN/Inf) -> float_list, integer tokens and booleans ->
int64_list, strings and ``{"b64": ...}`` -> bytes_list, ``[]`` -> no kind.

Results: ``{"results": [[[label, score], ...], ...]}`` for classify,
``{"results": [value, ...]}`` for regress; scores and values are float32 text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from gateway.codec.floattext import nested_float_items, nested_float_json
from gateway.codec.jsonparse import echo
from gateway.codec.tensor import b64_decode, is_b64_object, json_type
from gateway.codec.tfs.predict import parse_object, signature_name_from
from gateway.core import protos
from gateway.core.errors import invalid_argument

__all__ = [
    "ExampleBody",
    "classification_result_to_json",
    "example_body_from_json",
    "regression_result_to_json",
]

_INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class ExampleBody:
    signature_name: str
    input: Any  # protos.Input: example_list or example_list_with_context


def example_body_from_json(body: bytes) -> ExampleBody:
    """compatibility.md §5 entirely: parse, signature_name, context and examples conversion."""
    doc = parse_object(body)
    signature_name = signature_name_from(doc)
    request_input = protos.Input()
    has_context = "context" in doc
    if has_context:
        _fill_example(doc["context"], request_input.example_list_with_context.context)
    examples = _examples(doc)
    target = (
        request_input.example_list_with_context.examples
        if has_context
        else request_input.example_list.examples
    )
    for value in examples:
        _fill_example(value, target.add())
    return ExampleBody(signature_name, request_input)


def _examples(doc: dict[str, Any]) -> list[Any]:
    if "examples" not in doc:
        # compatibility.md §5: the text says classify for regress requests too.
        raise invalid_argument(
            f"JSON Value: {echo(doc)} When method is classify, key 'examples' is expected"
            " and was not found"
        )
    examples = doc["examples"]
    if not isinstance(examples, list):
        raise invalid_argument(
            f"JSON Value: {echo(doc)} Expecting 'examples' value to be an list/array"
        )
    if not examples:
        raise invalid_argument(f"JSON Value: {echo(doc)} 'examples' value is an empty array")
    return examples


def _fill_example(value: Any, example: Any) -> None:
    if not isinstance(value, dict):
        raise invalid_argument(f"Example must be JSON object but got JSON {json_type(value)}")
    features = example.features.feature
    for name, content in value.items():
        feature = features[_feature_name(name)]
        feature.SetInParent()
        values = content if isinstance(content, list) else [content]
        kind, converted = _feature_values(name, values)
        if kind is not None:
            getattr(feature, kind).value.extend(converted)


def _feature_name(name: str) -> str:
    """Feature names are protobuf map keys, which must be UTF-8 (compatibility.md §10):
    a key that is not reaches here as surrogate escapes (compatibility.md §3)."""
    if not name.isascii():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise invalid_argument(f"Feature: {name} has a name that is not valid UTF-8") from None
    return name


_KIND_NAMES = {"int64_list": "int64", "float_list": "float", "bytes_list": "bytes"}


def _feature_values(name: str, values: list[Any]) -> tuple[str | None, list[Any]]:
    kind: str | None = None
    converted: list[Any] = []
    for item in values:
        item_kind, item_value = _feature_value(name, item)
        if kind is None:
            kind = item_kind
        elif item_kind != kind:
            raise invalid_argument(
                f"Unexpected element type in feature: {name} expecting type: {_KIND_NAMES[kind]}"
            )
        converted.append(item_value)
    return kind, converted


def _feature_value(name: str, item: Any) -> tuple[str, Any]:
    if isinstance(item, bool):
        return "int64_list", int(item)
    if isinstance(item, int):
        if item > _INT64_MAX:
            raise invalid_argument(
                f"Feature: {name} has uint64_t element. Only int64_t is supported."
            )
        return "int64_list", item
    if isinstance(item, float):
        return "float_list", item
    if isinstance(item, str):
        return "bytes_list", item.encode("utf-8", "surrogateescape")
    if isinstance(item, bytes):
        return "bytes_list", item
    if is_b64_object(item):
        return "bytes_list", b64_decode(item)
    raise invalid_argument(
        f"Feature: {name} has element with unexpected JSON type: {json_type(item)}"
    )


def classification_result_to_json(result: Any) -> bytes:
    """protos.ClassificationResult -> {"results": [[[label, score], ...], ...]}."""
    rows = []
    for classifications in result.classifications:
        classes = classifications.classes
        scores = np.array([c.score for c in classes], dtype=np.float32)
        texts = nested_float_items(scores) if len(scores) else []
        rows.append(
            [[c.label, orjson.Fragment(text)] for c, text in zip(classes, texts, strict=True)]
        )
    return orjson.dumps({"results": rows})


def regression_result_to_json(result: Any) -> bytes:
    """protos.RegressionResult -> {"results": [value, ...]}."""
    values = np.array([r.value for r in result.regressions], dtype=np.float32)
    if not len(values):
        return b'{"results":[]}'
    return b'{"results":' + nested_float_json(values) + b"}"
