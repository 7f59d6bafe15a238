"""The fuzz targets: one function per pure entry point; bytes in, an exception out on a bug.

Input layouts (the seed corpora in ``fuzz/corpus/<target>/`` follow them):

- ``predict``: byte 0 picks the signature that serves as ``serving_default``
  (``fuzz.signatures.NAMES``); the rest is a predict body. The body goes through
  parse, signature lookup, conversion, PredictRequest bytes, and back: the request
  must parse, its tensors must decode, and the columnar answer written for them
  must convert back to the same values.
- ``example``: a classify/regress body -> Classification- and RegressionRequest bytes.
- ``json``: a body for the RapidJSON-compatible parser; where orjson accepts it too
  and no key repeats, both must agree.
- ``urls``: byte 0 picks the method, the rest (Latin-1) is the raw path, for
  both URL grammars.
- ``config``: ``<env lines> NUL <TOML bytes>``; each env line's first byte picks a
  ``TFS_GATEWAY_*`` variable, the rest is its value.
- ``floattext``: byte 0 bit 0 picks float32 or float64, the rest are the values'
  bytes; the scalar, per-value and vectorised writers must agree and round-trip.
- ``b64``: the text of a ``{"b64": ...}`` value; compared with a reference decoder.
- ``gzip``: byte 0 picks how the rest becomes a body (as is, gzipped, gzipped
  and cut, gzipped and flipped, two members), bytes 1-2 the inflate cap.
"""

from __future__ import annotations

import gzip as gzip_module
import math
import os
import re
import tempfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import orjson

from fuzz.signatures import MODELS
from gateway.codec import requests as request_codec
from gateway.codec.floattext import float_text, float_texts, nested_float_items, nested_float_json
from gateway.codec.jsonparse import _Parser, loads
from gateway.codec.tensor import b64_decode, dtype_of, tensor_to_ndarray
from gateway.codec.tfs.example import example_body_from_json
from gateway.codec.tfs.predict import predict_body_from_json, predict_inputs_from_json
from gateway.codec.tfs.predict import predict_response_to_json as response_to_json
from gateway.config import KNOBS, ConfigError, EmbeddedModelServer, build_settings
from gateway.core import protos
from gateway.core.errors import Code, GatewayError
from gateway.edge.middleware import gunzip
from gateway.fronts.tfs import urls as url_grammar


class Bug(AssertionError):
    """A broken property (as opposed to a foreign exception, which is a bug by itself)."""


def check_error(exc: GatewayError) -> None:
    """A GatewayError for bad input renders as JSON and is never a 5xx (501 is TF Serving's)."""
    orjson.dumps({"error": exc.message})
    if exc.http_status >= 500 and exc.code is not Code.UNIMPLEMENTED:
        raise Bug(f"bad input answered {exc.http_status}: {exc!r}")


def guarded(body: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """GatewayError is the designed outcome for bad input; it is checked, not raised."""

    def run(data: bytes) -> None:
        try:
            body(data)
        except GatewayError as exc:
            check_error(exc)
        except RecursionError:
            pass  # the edge answers 400 "The request is nested too deeply"

    run.__name__ = body.__name__
    return run


# ---------------------------------------------------------------------------
# predict


@guarded
def predict(data: bytes) -> None:
    if not data:
        return
    sigs = MODELS[data[0] % len(MODELS)]
    parsed = predict_body_from_json(data[1:])
    dtypes = sigs.input_dtypes(parsed.signature_name)
    inputs, columnar = predict_inputs_from_json(parsed, dtypes)
    wire = request_codec.predict_request(("fuzz", None, None), parsed.signature_name, inputs)
    request = protos.PredictRequest.FromString(wire)
    if request.model_spec.signature_name != parsed.signature_name or set(request.inputs) != set(
        inputs
    ):
        raise Bug("the PredictRequest does not carry the body's signature and inputs")
    if not all(dtype_of(proto.dtype).json_out for proto in request.inputs.values()):
        return  # only an empty tensor converts to these; no answer can hold them
    try:
        _answer_round_trip(dict(request.inputs), columnar, dtypes)
    except GatewayError as exc:
        # Inputs that converted always have an answer: row inputs share their batch.
        raise Bug(f"the answer for converted inputs failed: {exc!r}") from exc


def _answer_round_trip(outputs: dict[str, Any], columnar: bool, dtypes: Mapping[str, int]) -> None:
    arrays = {alias: tensor_to_ndarray(proto) for alias, proto in outputs.items()}
    answer = response_to_json(outputs, columnar)
    loads(answer)
    if columnar:
        _columns_round_trip(answer, dtypes, arrays)


def _columns_round_trip(
    answer: bytes, dtypes: Mapping[str, int], arrays: Mapping[str, np.ndarray]
) -> None:
    """The columnar answer written for the inputs converts back to the same values."""
    again = b'{"inputs":' + answer.removeprefix(b'{"outputs":')
    tensors, _ = predict_inputs_from_json(predict_body_from_json(again), dtypes)
    for alias, proto in tensors.items():
        if not same_values(tensor_to_ndarray(proto), arrays[alias]):
            raise Bug(f"input {alias!r} does not round-trip through its JSON answer")


def same_values(got: np.ndarray, want: np.ndarray) -> bool:
    """Equal shapes and values (NaN equals NaN); an empty tensor's shape is not in its JSON."""
    if got.size == 0 or want.size == 0:
        return bool(got.size == want.size == 0)
    if got.shape != want.shape:
        return False
    if want.dtype.kind == "f":
        return bool(np.array_equal(got, want, equal_nan=True))
    return bool(np.array_equal(got, want))


# ---------------------------------------------------------------------------
# example, json


@guarded
def example(data: bytes) -> None:
    parsed = example_body_from_json(data)
    spec = ("fuzz", None, None)
    for request_cls in (protos.ClassificationRequest, protos.RegressionRequest):
        wire = request_codec.example_request(request_cls(), spec, parsed)
        if request_cls.FromString(wire).input != parsed.input:
            raise Bug("the request's Input differs from the parsed body's")


@guarded
def json(data: bytes) -> None:
    value = loads(data)
    try:
        fast = orjson.loads(data)
    except orjson.JSONDecodeError:
        return
    if data.count(b":") == _members(fast) and not same_json(_Parser(data).parse(), fast):
        raise Bug("the exact parser and orjson disagree on an RFC 8259 document")
    if not same_json(value, fast) and data.count(b":") == _members(fast):
        raise Bug("loads disagrees with orjson on an RFC 8259 document")


def _members(value: Any) -> int:
    if isinstance(value, dict):
        return len(value) + sum(_members(v) for v in value.values())
    if isinstance(value, list):
        return sum(_members(v) for v in value)
    return 0


def same_json(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


# ---------------------------------------------------------------------------
# urls

METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "get", "post")
DEPLOYMENTS = {"d1": "m", "dép": "m2", "a/b": "m3", "x:y": "m4"}
VERBS = (*url_grammar.POST_VERBS, url_grammar.STATUS, url_grammar.METADATA)


@guarded
def urls(data: bytes) -> None:
    if not data:
        return
    method = METHODS[data[0] % len(METHODS)]
    raw = data[1:].decode("latin-1")
    if url_grammar.is_tfs_path(raw):
        target = url_grammar.parse_tfs(method, raw)
    elif url_grammar.is_paperspace_path(raw):
        target = url_grammar.parse_paperspace(method, raw, DEPLOYMENTS)
    else:
        return
    if not target.model or target.verb not in VERBS:
        raise Bug(f"parsed into an unusable target: {target}")
    if target.version is not None and not 0 <= target.version < 2**63:
        raise Bug(f"version out of int64: {target}")
    orjson.dumps(asdict(target))  # access log and metric labels
    request_codec.predict_request((target.model, target.version, target.label), "", {})
    request_codec.metadata_request(target.model, target.version, target.label)
    request_codec.status_request(target.model, target.version)


# ---------------------------------------------------------------------------
# config

ENV_NAMES = (*(knob.env for knob in KNOBS), "TFS_GATEWAY_DEPLOYMENTS")
_CONFIG_DIR = tempfile.mkdtemp(prefix="tfs-gateway-fuzz-config-")
CONFIG_PATH = os.path.join(_CONFIG_DIR, "gateway.toml")


def config_input(data: bytes) -> tuple[dict[str, str], bytes]:
    """(environment, TOML bytes) of a config input."""
    env_block, nul, toml = data.partition(b"\x00")
    if not nul:
        return {}, data
    environ = {}
    for line in env_block.split(b"\n"):
        if line:
            value = line[1:].decode("utf-8", "replace")
            environ[ENV_NAMES[line[0] % len(ENV_NAMES)]] = value
    return environ, toml


def config(data: bytes) -> None:
    environ, toml = config_input(data)
    with open(CONFIG_PATH, "wb") as out:
        out.write(toml)
    try:
        settings = build_settings(CONFIG_PATH, environ, {}, [], EmbeddedModelServer())
    except ConfigError as exc:
        orjson.dumps({"error": str(exc)})
        return
    for knob in KNOBS:
        value = getattr(settings, knob.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise Bug(f"{knob.name} = {value} passed validation")


# ---------------------------------------------------------------------------
# floattext


FLOATS_PER_RUN = 512


def floattext(data: bytes) -> None:
    if len(data) < 2:
        return
    f32 = not data[0] & 1
    dtype = np.dtype(np.float32 if f32 else np.float64)
    raw = data[1 : 1 + FLOATS_PER_RUN * dtype.itemsize]  # the exact checks are slow
    arr = np.frombuffer(raw[: len(raw) - len(raw) % dtype.itemsize], dtype=dtype)
    if not arr.size:
        return
    texts = [float_text(float(x), f32).encode() for x in arr]
    if float_texts(arr, f32) != texts:
        raise Bug("float_texts differs from float_text")
    if nested_float_json(arr) != b"[" + b",".join(texts) + b"]":
        raise Bug("nested_float_json differs from float_text")
    if arr.size % 2 == 0:
        rows = [b"[" + b",".join(texts[i : i + arr.size // 2]) + b"]" for i in (0, arr.size // 2)]
        if nested_float_items(arr.reshape(2, -1)) != rows:
            raise Bug("nested_float_items differs from float_text")
    for text, value in zip(texts, arr.tolist(), strict=True):
        check_float_text(text.decode(), value, f32)


_FLOAT_TEXT = re.compile(r"-?(?:\d+\.\d+|\d\.?\d*e[+-]\d+|\d+\.0)|NaN|-?Infinity")


def check_float_text(text: str, value: float, f32: bool) -> None:
    if _FLOAT_TEXT.fullmatch(text) is None:
        raise Bug(f"{text!r} is not in the float text form")
    if math.isnan(value) or math.isinf(value):
        return
    digits = len(re.sub(r"e.*|[-.]", "", text).lstrip("0").rstrip("0") or "0")
    if digits > (9 if f32 else 17):
        raise Bug(f"{text!r} has {digits} significant digits")
    back = strtof(text) if f32 else float(text)
    if back != value:
        raise Bug(f"{text!r} reads back as {back!r}, not {value!r}")


def strtof(text: str) -> float:
    """The float32 nearest to the decimal (ties to even), as C's strtof reads it."""
    exact = Fraction(text)
    guess = np.float32(float(text))
    with np.errstate(over="ignore"):
        around = (np.nextafter(guess, np.float32(-np.inf)), np.nextafter(guess, np.float32(np.inf)))
    candidates = [c for c in (guess, *around) if np.isfinite(c)]
    if not candidates:
        return float(guess)
    best = min(abs(Fraction(float(c)) - exact) for c in candidates)
    winners = [c for c in candidates if abs(Fraction(float(c)) - exact) == best]
    even = [c for c in winners if int(np.array(c).view(np.uint32)) % 2 == 0]
    return float((even or winners)[0])


# ---------------------------------------------------------------------------
# b64


_SIXES = {
    c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}
_SPACES = frozenset(b" \t\n\v\f\r")


def reference_b64(raw: bytes) -> bytes | None:
    """absl::Base64Unescape's rules, one character at a time: whitespace is skipped,
    ``=`` and ``.`` pad, and pads (none, or exactly the number that completes the last
    quantum) may only be followed by more pads."""
    bits = count = pads = 0
    out = bytearray()
    for c in raw:
        if c in _SPACES:
            continue
        if c in b"=.":
            pads += 1
        elif pads or c not in _SIXES:
            return None
        else:
            bits, count = (bits << 6) | _SIXES[c], count + 1
            if count % 4 == 0:
                out += bits.to_bytes(3, "big")
                bits = 0
    left = count % 4
    if left == 1 or pads not in (0, {0: 0, 2: 2, 3: 1}[left]):
        return None
    if left:
        out += (bits >> (6 * left) % 8).to_bytes(left - 1, "big")  # 12 or 18 bits: 1 or 2 bytes
    return bytes(out)


def b64(data: bytes) -> None:
    try:
        text: str | bytes = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data
    try:
        got: bytes | None = b64_decode({"b64": text})
    except GatewayError as exc:
        check_error(exc)
        got = None
    want = reference_b64(data)
    if got != want:
        raise Bug(f"b64_decode gives {got!r}, the reference {want!r}")


# ---------------------------------------------------------------------------
# gzip


def gzip_input(data: bytes) -> tuple[bytes, int]:
    """(body, cap) of a gzip input."""
    if len(data) < 3:
        return data, 64
    mode, cap, rest = data[0] % 5, int.from_bytes(data[1:3], "little"), data[3:]
    packed = gzip_module.compress(rest, mtime=0)
    bodies = {
        0: rest,
        1: packed,
        2: packed[: cap % (len(packed) + 1)],
        3: packed[:-1] + bytes([packed[-1] ^ 1]),
        4: packed + packed,
    }
    return bodies[mode], cap


def first_member(body: bytes) -> tuple[bytes, bool, bool]:
    """What the first gzip member inflates to before it ends or fails: (bytes, ended, failed).

    Fed one byte at a time, so the output before a failure is kept.
    """
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    for i in range(len(body)):
        try:
            out += inflater.decompress(body[i : i + 1])
        except zlib.error:
            return bytes(out), False, True
        if inflater.eof:
            return bytes(out), True, False
    return bytes(out), False, False


def gzip(data: bytes) -> None:
    body, cap = gzip_input(data)
    try:
        got = gunzip(body, cap)
    except GatewayError as exc:
        check_error(exc)
        return
    inflated, ended, _ = first_member(body)
    if got is None:
        if len(inflated) <= cap:
            raise Bug("refused as too large, but it inflates within the cap")
        return
    if len(got) > cap:
        raise Bug(f"inflated {len(got)} bytes past the cap {cap}")
    if got and not ended:
        raise Bug("a gzip stream that does not end was accepted as a body")
    if ended and got != inflated:
        raise Bug("the inflated body differs from the gzip member")


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    run: Callable[[bytes], None]


TARGETS: dict[str, Target] = {
    fn.__name__: Target(fn.__name__, fn)
    for fn in (predict, example, json, urls, config, floattext, b64, gzip)
}
