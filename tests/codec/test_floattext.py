"""compatibility.md §6.2 float text: the vectorised formatter equals a straightforward reference."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from gateway.codec import floattext
from gateway.codec.floattext import float_text, float_texts, nested_float_items, nested_float_json


def _strtof_equal(text: str, x: np.float32) -> bool:
    """Reference strtof round trip: nearest float32 (ties to even) to the exact decimal."""
    target = Fraction(text)
    candidates = [x, np.nextafter(x, np.float32(-np.inf)), np.nextafter(x, np.float32(np.inf))]
    exact = [(abs(Fraction(float(c)) - target), c) for c in candidates if np.isfinite(c)]
    best = min(d for d, _ in exact)
    winners = [c for d, c in exact if d == best]
    if len(winners) > 1:
        winners = [c for c in winners if int(np.array(c).view(np.uint32)) % 2 == 0]
    if abs(target) >= Fraction(2) ** 128 - Fraction(2) ** 103:
        return False
    return bool(winners[0] == x)


def reference(value: float, f32: bool) -> str:
    """compatibility.md §6.2 written out directly, one value at a time."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = f"{value:.6g}"
    same = _strtof_equal(text, np.float32(value)) if f32 else float(text) == value
    if not same:
        text = f"{value:.9g}" if f32 else f"{value:.17g}"
    if "." not in text and "e" not in text:
        text += ".0"
    return text


def _ref_json(arr: np.ndarray) -> bytes:
    f32 = arr.dtype == np.float32
    if arr.ndim == 0:
        return reference(float(arr), f32).encode()
    return b"[" + b",".join(_ref_json(a) for a in arr) + b"]"


EXAMPLES_F32 = [
    (0.1, "0.1"),
    (1 / 3, "0.333333343"),
    (1000002.0, "1000002.0"),
    (1e6, "1e+06"),
    (9e6, "9e+06"),
    (3e-5, "3e-05"),
    (0.0003, "0.0003"),
    (-0.0, "-0.0"),
    (0.0, "0.0"),
    (3.0, "3.0"),
    (1435774380.0, "1.43577434e+09"),
    (math.nan, "NaN"),
    (math.inf, "Infinity"),
    (-math.inf, "-Infinity"),
    (1e-45, "1.4013e-45"),
    (3.4028234663852886e38, "3.40282347e+38"),
]


@pytest.mark.parametrize(("value", "text"), EXAMPLES_F32)
def test_float32_examples(value: float, text: str) -> None:
    assert float_text(value, f32=True) == text
    assert nested_float_json(np.array(value, np.float32)) == text.encode()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1 / 3, "0.33333333333333331"),
        (0.1, "0.1"),
        (1e22, "1e+22"),
        (2.0**60, "1.152921504606847e+18"),
    ],
)
def test_double_examples(value: float, text: str) -> None:
    assert float_text(value, f32=False) == text
    assert nested_float_json(np.array(value)) == text.encode()


def _float32_samples() -> list[np.ndarray]:
    rng = np.random.default_rng(20240601)
    bits = rng.integers(0, 2**32, 60_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    wide = (rng.standard_normal(20_000) * 10.0 ** rng.integers(-44, 38, 20_000)).astype(np.float32)
    nice = (np.round(rng.random(20_000) * 1e6) / 10.0 ** rng.integers(0, 12, 20_000)).astype(
        np.float32
    )
    powers = np.array([2.0**k for k in range(-149, 128)] + [10.0**k for k in range(-45, 39)])
    edges = np.concatenate([powers, np.nextafter(powers, 0), np.nextafter(powers, np.inf)])
    with np.errstate(over="ignore"):
        return [
            bits,
            wide,
            nice,
            edges.astype(np.float32),
            rng.random((100, 10)).astype(np.float32),
        ]


def _float64_samples() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**64, 10_000, dtype=np.uint64).view(np.float64)
    nice = np.round(rng.random(20_000) * 1e6) / 10.0 ** rng.integers(0, 20, 20_000)
    powers = np.array([10.0**k for k in range(-320, 308)] + [2.0**k for k in range(-1074, 1024, 7)])
    return [bits, nice, powers, np.nextafter(powers, 0), rng.random(5000)]


@pytest.mark.parametrize("sample", range(5))
def test_float32_property(sample: int) -> None:
    arr = _float32_samples()[sample]
    assert nested_float_json(arr) == _ref_json(arr)


@pytest.mark.parametrize("sample", range(5))
def test_float64_property(sample: int) -> None:
    arr = _float64_samples()[sample]
    assert nested_float_json(arr) == _ref_json(arr)


@pytest.mark.parametrize("shape", [(), (1,), (3,), (2, 3), (2, 1, 3), (1, 1, 1, 1), (4, 2, 2)])
def test_nesting(shape: tuple[int, ...]) -> None:
    arr = (np.arange(math.prod(shape), dtype=np.float32) / 7).reshape(shape)
    assert nested_float_json(arr) == _ref_json(arr)
    if shape:
        assert nested_float_items(arr) == [_ref_json(a) for a in arr]


@pytest.mark.parametrize("sample", range(5))
def test_per_value_path_matches_reference_float32(sample: int) -> None:
    # The small-array path formats values one by one; it must agree exactly.
    arr = _float32_samples()[sample].reshape(-1)
    assert float_texts(arr, f32=True) == [reference(float(v), True).encode() for v in arr]


@pytest.mark.parametrize("sample", range(5))
def test_per_value_path_matches_reference_float64(sample: int) -> None:
    arr = _float64_samples()[sample].reshape(-1)
    assert float_texts(arr, f32=False) == [reference(float(v), False).encode() for v in arr]


def test_per_value_path_decides_float32_ties_exactly() -> None:
    # 16777217 is halfway between the float32s 16777216 and 16777218.
    ties = np.array([16777216.0, 16777218.0, 3.0e10, 1.0e10, 33554436.0], dtype=np.float32)
    assert float_texts(ties, f32=True) == [reference(float(v), True).encode() for v in ties]


# The orjson route for float32 (fixed-notation values written by orjson, the rest
# spliced in) must write exactly what the reference writes.


def _fixed_range_f32(rng: np.random.Generator, count: int) -> np.ndarray:
    """Values TF Serving writes in fixed notation: 9- and 6-digit ones, integers, zeros."""
    decades = 10.0 ** rng.integers(-4, 6, count)  # [1e-4, 1e6): fixed at either precision
    values = (1 + 9 * rng.random(count)) * decades * rng.choice([-1, 1], count)
    rounded = np.round(rng.random(count) * 1e5) / 10.0 ** rng.integers(0, 5, count)
    integers = rng.integers(-(10**6), 10**6, count).astype(np.float64)
    picked = rng.integers(0, 3, count)
    out = np.choose(picked, [values, rounded, integers]).astype(np.float32)
    out[rng.random(count) < 0.05] = 0.0
    out[rng.random(count) < 0.01] = -0.0
    return out


def _spliced_f32(rng: np.random.Generator, count: int) -> np.ndarray:
    """Values written apart: scientific notation, NaN, infinities, subnormals, extremes."""
    specials = np.array(
        [np.nan, np.inf, -np.inf, 1e6, -1e6, 1e-5, 9.99999e-5, 1e-45, -1.2e-38, 3.4028235e38],
        np.float32,
    )
    wide = (rng.standard_normal(count) * 10.0 ** rng.integers(-44, 38, count)).astype(np.float32)
    return np.concatenate([specials, wide])[rng.integers(0, len(specials) + count, count)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shape", [(2000,), (250, 8), (20, 10, 10)])
def test_float32_orjson_route(seed: int, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(seed)
    size = math.prod(shape)
    arr = _fixed_range_f32(rng, size)
    spliced = rng.random(size) < [0.0, 0.001, 0.01, 0.05, 0.1, 0.12][seed]
    arr[spliced] = _spliced_f32(rng, int(spliced.sum()))
    arr = arr.reshape(shape)
    assert floattext._via_orjson(floattext._digits(arr.reshape(-1), True), shape) is not None
    with np.errstate(over="ignore"):  # the reference steps past the largest float32
        assert nested_float_json(arr) == _ref_json(arr)


def test_float32_many_spliced_values_take_the_byte_matrix() -> None:
    rng = np.random.default_rng(3)
    arr = _spliced_f32(rng, 3000)
    assert floattext._via_orjson(floattext._digits(arr, True), arr.shape) is None
    with np.errstate(over="ignore"):
        assert nested_float_json(arr) == _ref_json(arr)
