"""compatibility.md §3: RapidJSON 1.1.0 acceptance, error texts and offsets, and the echo format."""

from __future__ import annotations

import math
from typing import Any

import pytest

from gateway.codec.jsonparse import echo, loads
from gateway.core.errors import Code, GatewayError

ACCEPTED: list[tuple[bytes, Any]] = [
    (b'{"a": 1}', {"a": 1}),
    (b'{"a": 1} garbage', {"a": 1}),  # stops after the first value
    (b'{"a": [1, 2]}\x00{', {"a": [1, 2]}),  # NUL ends parsing
    (b'{"a": 1, "a": 2}', {"a": 1}),  # first duplicate wins
    (b'{"x": {"k": [1], "k": [2]}, "y": 3}', {"x": {"k": [1]}, "y": 3}),
    (b'{"a": [{"k": 1, "k": 2}]}', {"a": [{"k": 1}]}),
    (b'{"a": "x:y", "b": 1}', {"a": "x:y", "b": 1}),  # ':' inside strings
    (b'{"a": [1.0, {"k": 1, "k": 2}]}', {"a": [1.0, {"k": 1}]}),  # object behind a scalar
    (b'{"a": [NaN]}', {"a": [math.nan]}),
    (b'{"a": [Infinity, -Infinity, Inf, -Inf]}', {"a": [math.inf, -math.inf] * 2}),
    (b'{"a": 1, "b": -5, "c": 0, "d": -0}', {"a": 1, "b": -5, "c": 0, "d": 0}),
    (b'{"a": 1.0, "b": 1e3, "c": -0.0}', {"a": 1.0, "b": 1000.0, "c": -0.0}),
    (b'{"a": 18446744073709551615}', {"a": 18446744073709551615}),
    (b'{"a": 18446744073709551616}', {"a": 1.8446744073709552e19}),  # beyond uint64: double
    (b'{"a": -9223372036854775809}', {"a": -9.223372036854775809e18}),
    (b'{"a": 2e308}', {"a": math.inf}),  # RapidJSON overflows to inf, no error
    (b'{"a": 0.1e309}', {"a": 1e308}),
    (b'{"a": "\\u00e9\\ud83d\\ude00"}', {"a": "\u00e9\U0001f600"}),
    (b'{"a": "\xff\xfe"}', {"a": b"\xff\xfe"}),  # invalid UTF-8 kept as bytes
    (b'  \n{"a":1}', {"a": 1}),
    (b"[1, 2]", [1, 2]),
    (b"01", 0),
]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize(("body", "expected"), ACCEPTED)
def test_accepted(body: bytes, expected: Any) -> None:
    assert _same(loads(body), expected)


def test_deep_nesting_is_accepted() -> None:
    depth = 500_000
    body = b'{"unused": ' + b"[" * depth + b"]" * depth + b', "a": 1}'
    assert loads(body)["a"] == 1


REJECTED: list[tuple[bytes, str]] = [
    (b"", "The document is empty"),
    (b"   ", "The document is empty. at offset: 3"),
    (b"}", "The document is empty. at offset: 0"),
    (b"instances = [1, 2]", "Invalid value. at offset: 0"),
    (b'{"instances": [1, 2', "Missing a comma or ']' after an array element. at offset: 19"),
    (b'{"a": 1 "b": 2}', "Missing a comma or '}' after an object member. at offset: 8"),
    (b'{"a": 1, }', "Missing a name for object member. at offset: 9"),
    (b"{", "Missing a name for object member. at offset: 1"),
    (b'{"a" 1}', "Missing a colon after a name of object member. at offset: 5"),
    (b'{"a": }', "Invalid value. at offset: 6"),
    (b'{"a": [1,]}', "Invalid value. at offset: 9"),
    (b'{"a": 1e400}', "Number too big to be stored in double. at offset: 6"),
    (b'{"a": -1e400}', "Number too big to be stored in double. at offset: 6"),
    (b'{"a": 1.}', "Miss fraction part in number. at offset: 8"),
    (b'{"a": 1e+}', "Miss exponent in number. at offset: 9"),
    (b'{"a": nan}', "Invalid value. at offset: 7"),  # "n" starts null
    (b'{"a": infinity}', "Invalid value. at offset: 6"),
    (b'{"a": Infin}', "Invalid value. at offset: 11"),
    (b'{"a": tru}', "Invalid value. at offset: 9"),
    (b'{"a": "x', "Missing a closing quotation mark in string. at offset: 8"),
    (b'{"a": "x\x00"}', "Missing a closing quotation mark in string. at offset: 8"),
    (b'{"a": "\x01"}', "Invalid escape character in string. at offset: 7"),
    (b'{"a": "\\x"}', "Invalid escape character in string. at offset: 7"),
    (b'{"a": "\\u12G4"}', "Incorrect hex digit after \\u escape in string. at offset: 7"),
    (b'{"a": "\\ud800"}', "The surrogate pair in string is invalid. at offset: 7"),
    (b'{"a": "\\ud800\\u0041"}', "The surrogate pair in string is invalid. at offset: 7"),
]


@pytest.mark.parametrize(("body", "message"), REJECTED)
def test_rejected(body: bytes, message: str) -> None:
    with pytest.raises(GatewayError) as info:
        loads(body)
    assert info.value.code == Code.INVALID_ARGUMENT
    assert info.value.message == f"JSON Parse error: {message}"


ECHOES: list[tuple[Any, str]] = [
    ([1, 2], "[1, 2]"),
    ({"a": 1, "b": [1.0, "x"]}, '{\n    "a": 1,\n    "b": [1.0, "x"]\n}'),
    ({"a": {"b": {}}}, '{\n    "a": {\n        "b": {}\n    }\n}'),
    ([{"a": 1}], '[{\n        "a": 1\n    }]'),
    ([], "[]"),
    ({}, "{}"),
    ([1.5, 1e21, 1e22, 1e-7, 0.0001, -0.0, 100.0], "[1.5, 1e21, 1e22, 1e-7, 0.0001, -0.0, 100.0]"),
    ([1.0, math.nan, 2.0], "[1.0, "),  # RapidJSON's writer stops at NaN
    (math.nan, "NaN"),
    (-math.inf, "-Infinity"),
    (1.0, "1.0"),
    (0.1, "0.1"),
    (1.0000001, "1.00000012"),  # a top-level decimal is written as float32
    (1e300, "1e+300"),  # beyond float32: the double rule
    (1e-300 / 3, "0.0"),  # RapidJSON IsFloat() holds, so it is narrowed to float32
    ('a"b\n', '"a\\"b\\n"'),
    (None, "null"),
    (True, "true"),
    (9007199254740993, "9007199254740993"),
]


@pytest.mark.parametrize(("value", "text"), ECHOES)
def test_echo(value: Any, text: str) -> None:
    assert echo(value) == text


def test_echo_is_cut_at_256_bytes() -> None:
    assert len(echo(list(range(1000)))) == 256
