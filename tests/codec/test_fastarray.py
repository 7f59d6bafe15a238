"""The dense path (gateway/codec/fastarray.py, gateway/codec/tfs/dense.py) against the exact one.

For every body and signature, the default path and the exact path
(``predict_body_from_json(body, dense=False)``) must both fail with the same
code and message, or both build the same PredictRequest bytes. Bodies are
written token by token, so number spellings, whitespace, duplicate keys and
strings holding brackets are all exercised; most are regular numeric arrays,
mutated one way or another to be irregular.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.codec import fastarray
from gateway.codec.fastarray import DenseArray, dense_object_from_json, regular_skeleton
from gateway.codec.requests import predict_request
from gateway.codec.tfs.predict import predict_body_from_json, predict_inputs_from_json
from gateway.core.errors import GatewayError

F, D, I32, U8, I8, S, I64, B, HALF, U32, U64 = 1, 2, 3, 4, 6, 7, 9, 10, 19, 22, 23
SPEC = ("m", 3, None)


def outcome(body: bytes, dtypes: dict[str, int], dense: bool) -> tuple[Any, ...]:
    try:
        parsed = predict_body_from_json(body, dense=dense)
        inputs, columnar = predict_inputs_from_json(parsed, dtypes)
        request = predict_request(SPEC, parsed.signature_name, inputs)
    except GatewayError as err:
        return ("error", err.code, err.message)
    except Exception as err:  # the exact path's own failures must be reproduced too
        return ("raised", type(err).__name__, str(err))
    return ("ok", parsed.signature_name, columnar, request)


def same_outcome(body: bytes, dtypes: dict[str, int]) -> tuple[Any, ...]:
    fast = outcome(body, dtypes, dense=True)
    exact = outcome(body, dtypes, dense=False)
    assert fast == exact, body[:300]
    return fast


def took_dense(body: bytes) -> bool:
    try:
        return predict_body_from_json(body).dense is not None
    except GatewayError:
        return False


# ---------------------------------------------------------------------------
# Bodies, token by token.

BOUNDARY_INTS = [
    v + d
    for v in (0, 255, 2**31, 2**32, 2**53, 2**63, 2**64, -(2**31), -(2**63))
    for d in (-1, 0, 1)
]
INT_TOKENS = st.one_of(
    st.integers(-300, 300), st.integers(-(2**64), 2**64), st.sampled_from(BOUNDARY_INTS)
).map(str)
FLOAT_TOKENS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(width=32, allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(
        [
            "-0",
            "-0.0",
            "1E+2",
            "2.5e-3",
            "1e-400",
            "-1e-400",
            "1e39",
            "3.4028235677973366e38",
            "0.1000000000000000055511151231257827021181583404541015625",
            "9007199254740993.0",
            "1.00000005960464477539062500000001",
        ]
    ),
)
LEAF_FAMILIES = {
    "ints": INT_TOKENS,
    "floats": FLOAT_TOKENS,
    "mixed": st.one_of(INT_TOKENS, FLOAT_TOKENS),
}
# One of these, put in place of a number, makes the array a different case.
ODD_LEAVES = st.sampled_from(
    [
        "true",
        "false",
        "null",
        '"a"',
        '"[1,2]"',
        "{}",
        '{"b64": "aGk="}',
        "[]",
        "NaN",
        "Infinity",
        "-Infinity",
        "-Inf",
        "1e400",
        "-1e400",
        str(2**64),
        "01",
        "1.",
        ".5",
        "+1",
    ]
)
WHITESPACE = st.sampled_from(["", "", "", " ", "\n", "\t", "\r\n  "])
STRING_TEXT = st.lists(
    st.sampled_from([*'ab[]{},:"\\é\u2028', "\\u005b", "\\ud800", "\\n"]), max_size=6
).map("".join)


def string_token(text: str) -> str:
    # Quotes and backslashes are escaped unless they already start an escape in the text.
    out = []
    for i, ch in enumerate(text):
        if ch == '"' or (ch == "\\" and text[i + 1 : i + 2] not in ("u", "n")):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


@st.composite
def arrays(draw: st.DrawFn) -> str:
    """A regular array of number tokens, sometimes made irregular on purpose."""
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    count = int(np.prod(shape))
    family = LEAF_FAMILIES[draw(st.sampled_from(sorted(LEAF_FAMILIES)))]
    leaves = draw(st.lists(family, min_size=count, max_size=count))
    how = draw(
        st.sampled_from(["regular"] * 6 + ["leaf", "drop", "extra", "nest", "empty", "flat"])
    )
    at = draw(st.integers(0, count - 1))
    if how == "leaf":
        leaves[at] = draw(ODD_LEAVES)
    elif how == "nest":
        leaves[at] = "[" + leaves[at] + "]"
    ws = draw(WHITESPACE)
    return _nest(leaves, shape, how, at, ws)


def _nest(leaves: list[str], shape: list[int], how: str, at: int, ws: str) -> str:
    if len(shape) == 1:
        items = list(leaves)
        if how == "drop" and 0 <= at < len(items):
            items.pop(at)
        elif how == "extra" and 0 <= at < len(items):
            items.insert(at, items[at])
        elif how == "empty" and 0 <= at < len(items):
            items = []
        elif how == "flat" and 0 <= at < len(items) and len(items) > 1:
            items = items[:1]
        return "[" + ws + ("," + ws).join(items) + ws + "]"
    per = len(leaves) // shape[0]
    parts = [
        _nest(leaves[i * per : (i + 1) * per], shape[1:], how, at - i * per, ws)
        for i in range(shape[0])
    ]
    return "[" + ("," + ws).join(parts) + "]"


ALIASES = st.sampled_from(["x", "y", "b64"])


@st.composite
def inputs_values(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["array", "array", "named", "named", "b64", "scalar"]))
    if kind == "array":
        return draw(arrays())
    if kind == "b64":
        return '{"b64": "aGk="}'
    if kind == "scalar":
        return draw(FLOAT_TOKENS)
    names = draw(st.lists(ALIASES, min_size=0, max_size=3))
    return "{" + ",".join(f'"{n}": {draw(arrays())}' for n in names) + "}"


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    members = []
    key = draw(st.sampled_from(["instances", "inputs"]))
    members.append((key, draw(arrays()) if key == "instances" else draw(inputs_values())))
    if draw(st.booleans()):
        value = draw(
            st.one_of(
                STRING_TEXT.map(string_token),
                st.sampled_from(['"serving_default"', '""', "null", "1", "[]", "{}"]),
            )
        )
        members.append(("signature_name", value))
    extra = draw(st.sampled_from([None] * 12 + ["instances", "inputs", "other", "dup"]))
    if extra == "dup":
        members.append(members[0])
    elif extra is not None:
        members.append((extra, draw(arrays())))
    order = draw(st.permutations(members))
    ws = draw(WHITESPACE)
    text = "{" + ws + ("," + ws).join(f'"{k}"{ws}:{ws}{v}' for k, v in order) + ws + "}"
    body = text.encode()
    edit = draw(st.sampled_from([None] * 20 + ["bom", "nul", "trail", "bad_utf8", "cut"]))
    if edit == "bom":
        body = b"\xef\xbb\xbf" + body
    elif edit == "nul":
        body += b"\x00junk"
    elif edit == "trail":
        body += b" x"
    elif edit == "bad_utf8":
        body = body.replace(b"{", b'{"\xff": 1,', 1)
    elif edit == "cut":
        body = body[: draw(st.integers(0, len(body)))]
    return body


DTYPE_SETS = st.one_of(
    st.sampled_from([{"x": F}, {"x": D}, {"x": I64}, {"x": I32}, {"x": U8}, {"x": F, "y": D}]),
    st.dictionaries(
        ALIASES,
        st.sampled_from([F, D, I32, U8, I8, I64, U32, U64, B, S, HALF]),
        min_size=1,
        max_size=2,
    ),
)


@settings(
    max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(body=bodies(), dtypes=DTYPE_SETS)
def test_dense_path_matches_exact_path(body: bytes, dtypes: dict[str, int]) -> None:
    same_outcome(body, dtypes)


# ---------------------------------------------------------------------------
# The dense path is taken where it should be, and only there.

REGULAR = [
    (b'{"instances": [[1.5, 2], [3, 4]]}', {"x": F}),
    (b'{"instances": [[1.5, 2], [3, 4]]}', {"x": D}),
    (b'{"instances": [[1, 2], [3, 4]]}', {"x": I32}),
    (b'{"instances": [[1, 2], [3, 4]]}', {"x": U8}),
    (b'{"instances": [300, -1]}', {"x": I8}),
    (b'{"instances": [9007199254740993]}', {"x": I64}),
    (b'{"instances": [9007199254740993]}', {"x": F}),
    (b'{"instances": [-0, -0.0, 1e-400, -1e-400]}', {"x": F}),
    (b'{"instances": [1e39, -1e39, 3.4028235677973366e38]}', {"x": F}),
    (b'{"signature_name": "serving_default", "instances": [[[1], [2]]]}', {"x": F}),
    (b' {"inputs": [1, 2, 3]} \n', {"x": F}),
    (b'{"inputs": {"x": [1, 2], "y": [[3.5]]}}', {"x": I64, "y": D}),
    (b'{"inputs": {"x": [1, 2], "unused": [0]}}', {"x": F}),
]


@pytest.mark.parametrize(("body", "dtypes"), REGULAR)
def test_regular_numeric_bodies_take_the_dense_path(body: bytes, dtypes: dict[str, int]) -> None:
    assert took_dense(body)
    assert same_outcome(body, dtypes)[0] == "ok"


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [[1, 2], [3, [4]]]}',  # simdjson's as_buffer would flatten this
        b'{"instances": [[[1, 2], [3, 4]], [[5, 6, 7], [8]]]}',  # same counts as regular
        b'{"instances": [[1], []]}',
        b'{"instances": [[], [1]]}',
        b'{"instances": [[1, 2], 3]}',
        b'{"instances": [1, true]}',
        b'{"instances": [1, null]}',
        b'{"instances": [NaN, 1]}',
        b'{"instances": [1e400]}',
        b'{"instances": [1], "instances": [2]}',
        b'{"instances": [1], "inputs": [2]}',
        b'{"instances": [1], "other": [2]}',
        b'{"instances": [1], "signature_name": "a\\"b"}',
        b'{"instances": [1], "signature_name": 1}',
        b'{"signature_name": "s[1]", "instances": [[[1], [2]]]}',  # brackets in a string
        b'{"inputs": {"x,y": [1]}}',
        b'{"instances": {"x": [1]}}',
        b'\xef\xbb\xbf{"instances": [1]}',
        b'{"instances": [1]} x',
        b'{"instances": [1]}\x00',
        b"[1, 2]",
        b"",
    ],
)
def test_other_bodies_take_the_exact_path(body: bytes) -> None:
    if body:
        assert not took_dense(body)
    same_outcome(body, {"x": F})
    same_outcome(body, {"x": I32, "y": F})


@pytest.mark.parametrize(
    ("body", "dtypes"),
    [
        (b'{"instances": [1.5, 2]}', {"x": I32}),  # a decimal for an integer input
        (b'{"instances": [1, 2]}', {"x": S}),
        (b'{"instances": [1, 2]}', {"x": B}),
        (b'{"instances": [1, 2]}', {"x": HALF}),
        (b'{"instances": [1, 2]}', {"x": F, "y": F}),
        (b'{"instances": [1, 2]}', {}),
        (b'{"instances": [4294967296]}', {"x": I32}),
        (b'{"instances": [18446744073709551615]}', {"x": U64}),
        (b'{"inputs": {"x": [1]}}', {"x": F, "y": F}),
    ],
)
def test_conversions_the_dense_path_declines(body: bytes, dtypes: dict[str, int]) -> None:
    """Parsed densely, converted the exact way: same result, errors included."""
    assert took_dense(body)
    same_outcome(body, dtypes)


def test_ints_stay_exact_and_decimals_become_doubles() -> None:
    members = dense_object_from_json(b'{"a": [[1, 2], [3, 4]], "b": [1, 2.5], "c": [1, 2e0]}')
    assert members is not None
    a, b, c = (members[k] for k in "abc")
    assert isinstance(a, DenseArray) and a.values.dtype == np.int64 and a.values.shape == (2, 2)
    assert isinstance(b, DenseArray) and b.values.dtype == np.float64
    assert isinstance(c, DenseArray) and c.values.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("shape", "skeleton"),
    [([1], b"[]"), ([3], b"[,,]"), ([2, 1], b"[[],[]]"), ([2, 2, 2], b"[[[,],[,]],[[,],[,]]]")],
)
def test_regular_skeleton(shape: list[int], skeleton: bytes) -> None:
    assert regular_skeleton(shape) == skeleton
    body = orjson.dumps(np.zeros(shape).tolist())
    assert body.translate(None, b"0.") == skeleton


def test_bodies_above_the_retained_size_use_their_own_parser() -> None:
    rows = np.arange(fastarray.RETAIN_BYTES // 8, dtype=np.float64).reshape(-1, 4).tolist()
    body = orjson.dumps({"instances": rows})
    assert len(body) > fastarray.RETAIN_BYTES
    assert took_dense(body)
    assert same_outcome(body, {"x": D})[0] == "ok"


def test_a_parser_still_in_use_is_not_reused() -> None:
    held = fastarray._PARSERS.shared.parse(b"[[1, 2]]")  # a live proxy pins the parser
    try:
        assert took_dense(b'{"instances": [1.0]}') is False
        same_outcome(b'{"instances": [1.0]}', {"x": F})
    finally:
        del held
    assert took_dense(b'{"instances": [1.0]}')
