"""TF Serving's float text rule (compatibility.md §6.2), exact and vectorised.

Rule: print with 6 significant digits (``%g``); if that text does not parse
back to the same float32/double, print with 9 (float32) or 17 (double)
significant digits; append ``.0`` when the text has neither ``.`` nor ``e``;
NaN, Infinity and -Infinity are bare tokens.

``float_text`` formats one value with Python's exact decimal conversions.
``nested_float_json`` formats a whole array as nested JSON lists without a
per-value Python loop: numpy computes each value's significant digits and
decimal exponent, checks the 6-digit round trip against the float's rounding
interval, and writes characters into a fixed-width byte matrix whose unused
cells are NUL; ``bytes.translate`` then deletes the NULs. Values whose digits
float64 (or x87 long double) arithmetic cannot decide with margin, and float32
subnormals, go through the exact per-value path. float32 digits come from the
bits: tables by exponent give the decimal exponent, the scale to 9 digits and
half the gap to the neighbouring floats.

float32 arrays mostly take a shorter way: once their digits are known, every
value that TF Serving writes in fixed notation (decimal exponent -4 to the
precision less one) is replaced by the double nearest its 6- or 9-digit
decimal, and orjson writes the whole array. A decimal of at most 15 significant
digits is the shortest text of its nearest double, and orjson's fixed notation
(1e-5 up to 1e16, a ``.0`` after integers) covers that range, so the text is
TF Serving's (an import-time probe checks this orjson's layout). The other
values (scientific notation, NaN, Infinity) become a sentinel, NaN, which orjson
writes ``null``, and their texts are spliced in: orjson writes each mantissa,
a table gives the exponent. Beyond one such value in eight the byte matrix is
cheaper.
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction
from typing import Any

import numpy as np
import orjson

__all__ = ["SMALL", "float_text", "float_texts", "nested_float_items", "nested_float_json"]

_Parts = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

ITEM_SEPARATOR = b"\x01"
_F32_MIN_NORMAL = float(
    np.finfo(np.float32).tiny
)  # ends each batch item in items mode; never part of the text


# ---------------------------------------------------------------------------
# Exact scalar path.


def float_text(value: float, f32: bool) -> str:
    """TF Serving's text for one float32 (``f32``) or double value."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    if f32:
        value = float(np.float32(value))
    text = f"{value:.6g}"
    if not _round_trips(text, value, f32):
        text = f"{value:.9g}" if f32 else f"{value:.17g}"
    if "." not in text and "e" not in text:
        text += ".0"
    return text


# Below this many values, formatting each one beats the fixed cost of the
# vectorised path (about a hundred small numpy calls).
SMALL = 256
_HALF_F32_ULP_BITS = 1 << 28  # low 29 bits of a double exactly halfway between two float32s
_LOW29 = (1 << 29) - 1
_PACK_D = struct.Struct("<d")
_PACK_Q = struct.Struct("<Q")
_PACK_F = struct.Struct("<f")


def float_texts(values: np.ndarray, f32: bool) -> list[bytes]:
    """TF Serving's text of each value, one at a time (for small arrays)."""
    return [_quick_text(x, f32).encode() for x in values.tolist()]


def _quick_text(x: float, f32: bool) -> str:
    if x != x or x - x != 0 or (f32 and 0 < abs(x) < _F32_MIN_NORMAL):
        return float_text(x, f32)  # NaN, +-Infinity, float32 subnormals
    text = f"{x:.6g}"
    back = float(text)
    if f32:
        bits = _PACK_Q.unpack(_PACK_D.pack(back))[0]
        if bits & _LOW29 == _HALF_F32_ULP_BITS:
            return float_text(x, f32)  # a float32 tie after rounding to double: decide exactly
        back = _PACK_F.unpack(_PACK_F.pack(back))[0]
    if back != x:
        text = f"{x:.9g}" if f32 else f"{x:.17g}"
    if "." not in text and "e" not in text:
        text += ".0"
    return text


def _round_trips(text: str, value: float, f32: bool) -> bool:
    if not f32:
        return float(text) == value
    # strtof semantics: the decimal must fall inside the float32 rounding interval.
    x = abs(float(np.float32(value)))
    target = abs(Fraction(text))
    if x == 0:
        return target == 0
    mantissa, exponent = math.frexp(x)
    ulp = Fraction(2) ** max(exponent - 24, -149)
    below = ulp / 2 if mantissa == 0.5 and x > _F32_MIN_NORMAL else ulp
    here = Fraction(x)
    lo, hi = here - below / 2, here + ulp / 2
    if lo < target < hi:
        return True
    even = int(np.array(x, np.float32).view(np.uint32)) % 2 == 0
    return even and target in (lo, hi)


def _exact_digits(value: float, f32: bool, p: int) -> tuple[int, int, int]:
    """(p-digit significand, decimal exponent, %g precision) for one finite nonzero value."""
    value = abs(value)
    six = f"{value:.5e}"
    if _round_trips(six, value, f32):
        precision, text = 6, six
    else:
        precision, text = p, f"{value:.{p - 1}e}"
    mantissa, _, exponent = text.partition("e")
    digits = mantissa.replace(".", "")
    return int(digits + "0" * (p - len(digits))), int(exponent), precision


# ---------------------------------------------------------------------------
# Vectorised digits.

_F64_MIN_NORMAL = float(np.finfo(np.float64).tiny)
_LONG_DOUBLE_OK = np.finfo(np.longdouble).nmant >= 63


class _Digits:
    """Per-value significand (p digits), decimal exponent, %g precision, and specials."""

    def __init__(self, flat: np.ndarray, f32: bool) -> None:
        self.p = 9 if f32 else 17
        parts = _digits_f32(flat) if f32 else _digits_f64(flat)
        self.neg, self.nan, self.inf, self.zero, n, e, precision, slow = parts
        for i in np.flatnonzero(slow):
            n[i], e[i], precision[i] = _exact_digits(abs(float(flat[i])), f32, self.p)
        self.n, self.e, self.precision = n, e, precision


_AllParts = tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]


def _digits_f64(flat: np.ndarray) -> _AllParts:
    neg = np.signbit(flat)
    nan = np.isnan(flat)
    inf = np.isinf(flat)
    finite = ~(nan | inf)
    absval = np.abs(flat)
    zero = absval == 0
    n, e, precision, slow = _digits_f64_normal(absval)
    slow &= finite & ~zero
    plain = ~finite | zero
    n[plain] = 0
    e[plain] = 0
    precision[plain] = 6
    return neg, nan, inf, zero, n, e, precision, slow


_POW_OFFSET = 400
with np.errstate(over="ignore"):
    _POW10 = {
        np.dtype(np.float64): np.power(
            10.0, np.arange(-_POW_OFFSET, _POW_OFFSET, dtype=np.float64)
        ),
        np.dtype(np.longdouble): np.power(
            np.longdouble(10), np.arange(-_POW_OFFSET, _POW_OFFSET).astype(np.longdouble)
        ),
    }


def _pow10(k: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    return _POW10[dtype][k + _POW_OFFSET]  # type: ignore[no-any-return]


def _round_scaled(work: np.ndarray, e: np.ndarray, digits: int) -> tuple[np.ndarray, np.ndarray]:
    """work * 10**(digits-1-e) in the dtype of ``work``, and its fraction's distance to .5."""
    y = work * _pow10(digits - 1 - e, work.dtype)
    return y, np.abs(y - np.floor(y) - work.dtype.type(0.5))


def _decimal_exponent(work: np.ndarray, digits: int) -> np.ndarray:
    e = np.floor(np.log10(work.astype(np.float64))).astype(np.int64)
    y = work * _pow10(digits - 1 - e, work.dtype)
    # log10 can be one off next to powers of ten.
    e += (y >= 10.0**digits).astype(np.int64) - (y < 10.0 ** (digits - 1)).astype(np.int64)
    return e


def _f32_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tables by biased float32 exponent b, and by 2 * b + (the value is at or above
    the power of ten inside its binade): the bits of the smallest float32 at or above
    that power (the next binade's start when there is none), the decimal exponent e,
    10**(8 - e), and half an ulp times 10**(5 - e), as doubles."""
    threshold = np.full(256, 0x7F800000, np.uint32)
    exponent = np.zeros(512, np.int64)
    scale9 = np.ones(512)
    half6 = np.zeros(512)
    for biased in range(1, 255):
        low = Fraction(2) ** (biased - 127)
        k = math.floor(math.log10(low))
        k += (Fraction(10) ** (k + 1) <= low) - (Fraction(10) ** k > low)
        threshold[biased] = _f32_bits_at_or_above(min(Fraction(10) ** (k + 1), low * 2))
        for above in (0, 1):
            e = k + above
            exponent[2 * biased + above] = e
            scale9[2 * biased + above] = 10.0 ** (8 - e) if e <= 8 else 1 / 10.0 ** (e - 8)
            half6[2 * biased + above] = 2.0 ** (biased - 151) * 10.0 ** (5 - e)
    return threshold, exponent, scale9, half6


def _f32_bits_at_or_above(bound: Fraction) -> int:
    if bound >= Fraction(2) ** 128:
        return 0x7F800000  # above every finite float32
    with np.errstate(over="ignore"):
        f = np.float32(float(bound))
    while Fraction(float(f)) < bound:
        f = np.nextafter(f, np.float32(np.inf))
    while Fraction(float(np.nextafter(f, np.float32(0)))) >= bound:
        f = np.nextafter(f, np.float32(0))
    return int(np.array(f).view(np.uint32))


_F32_THRESHOLD, _F32_EXPONENT, _F32_SCALE9, _F32_HALF6 = _f32_tables()
_U32 = np.uint32


def _digits_f32(flat: np.ndarray) -> _AllParts:
    """Digits from the float32 bits: the decimal exponent by table, one scaling to
    9 digits in float64, and the 6-digit round trip against half the gap to the
    neighbouring float32 (a quarter below a power of two), all in units of y6."""
    bits = flat.view(np.uint32)
    mag = bits & _U32(0x7FFFFFFF)
    biased = mag >> _U32(23)
    index = (biased << _U32(1)) + (mag >= _F32_THRESHOLD[biased])
    e = _F32_EXPONENT[index]
    y9 = mag.view(np.float32).astype(np.float64) * _F32_SCALE9[index]
    n9 = np.rint(y9)
    y6 = y9 * 1e-3  # one more rounding (< 1e-10 here), well inside the margins
    n6 = np.rint(y6)
    dist = y6 - n6  # > 0: the 6-digit decimal is below the value
    pow2 = ((mag & _U32(0x7FFFFF)) == 0) & (biased > 1)
    half = _F32_HALF6[index]
    half = np.where(pow2 & (dist > 0), half * 0.5, half)
    dist = np.abs(dist)
    short = dist < half
    rt_margin, tie_margin = _MARGINS[9]
    slow = (np.abs(dist - half) < rt_margin) | (
        ~short & (np.abs(np.abs(y9 - n9) - 0.5) < tie_margin)
    )
    n = np.where(short, n6 * 1000, n9)
    carry = n >= 1e9  # rounding up to 10**9 moves the exponent
    if carry.any():
        n = np.where(carry, 1e8, n)
        e = e + carry
    precision = np.where(short, 6, 9)
    if biased.min() == 0 or biased.max() == 255:
        return _f32_specials(bits, mag, biased, n, e, precision, slow)
    none = np.zeros(len(flat), bool)
    return bits > 0x7FFFFFFF, none, none, none, n, e, precision, slow


def _f32_specials(
    bits: np.ndarray,
    mag: np.ndarray,
    biased: np.ndarray,
    n: np.ndarray,
    e: np.ndarray,
    precision: np.ndarray,
    slow: np.ndarray,
) -> _AllParts:
    """Zeros, NaN and Infinity are written from flags; subnormals take the exact path."""
    zero = mag == 0
    normal = (biased != 0) & (biased != 255)
    n = np.where(normal, n, 0.0)
    e = np.where(normal, e, 0)
    precision = np.where(normal, precision, 6)
    slow = np.where(normal, slow, ~zero & (biased == 0))
    nan = (biased == 255) & (mag != 0x7F800000)
    return bits > 0x7FFFFFFF, nan, mag == 0x7F800000, zero, n, e, precision, slow


def _digits_f64_normal(absval: np.ndarray) -> _Parts:
    normal = np.isfinite(absval) & (absval >= _F64_MIN_NORMAL)
    if not _LONG_DOUBLE_OK:
        zeros = np.zeros(absval.shape, np.int64)
        return zeros.astype(np.uint64), zeros, zeros + 17, np.ones(absval.shape, bool)
    work = np.where(normal, absval, 1.0).astype(np.longdouble)
    e = _decimal_exponent(work, 17)
    y17, tie17 = _round_scaled(work, e, 17)
    y6, _ = _round_scaled(work, e, 6)
    scale = _pow10(5 - e, np.dtype(np.longdouble)) / 2
    below, above = _gaps(absval, _is_pow2(absval.view(np.uint64), 52))
    return _choose(y6, y17, e, below * scale, above * scale, tie17, normal, 17)


def _gaps(mag: np.ndarray, pow2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances to the next smaller and next larger float (exact, also at the maximum)."""
    work = np.float64 if mag.dtype == np.float32 else np.longdouble
    below = (mag - np.nextafter(mag, mag.dtype.type(0))).astype(work)
    return below, np.where(pow2, below * 2, below)


def _is_pow2(bits: np.ndarray, mantissa_bits: int) -> np.ndarray:
    return (bits & ((1 << mantissa_bits) - 1)) == 0  # type: ignore[no-any-return]


# Margins: float64 y6 is off by < 1e-9, y9 by < 1e-6; long double y6 by < 1e-12,
# y17 by < 0.05. Values closer than that to a decision boundary go the exact way.
_MARGINS = {9: (1e-7, 2e-6), 17: (2e-12, 0.1)}


def _choose(
    y6: np.ndarray,
    yp: np.ndarray,
    e: np.ndarray,
    half_below: np.ndarray,
    half_above: np.ndarray,
    tie: np.ndarray,
    normal: np.ndarray,
    p: int,
) -> _Parts:
    n6 = np.rint(y6)
    half = np.where(n6 < y6, half_below, half_above)
    dist = np.abs(y6 - n6)
    short = dist < half
    rt_margin, tie_margin = _MARGINS[p]
    slow = ~normal | (np.abs(dist - half) < rt_margin) | (~short & (tie < tie_margin))
    # Rounding up to 10**digits carries into the exponent.
    carry6 = n6 >= 1e6
    n6 = np.where(carry6, n6 / 10, n6)
    np_ = np.rint(yp)
    carryp = np_ >= 10.0**p
    np_ = np.where(carryp, np_ / 10, np_)
    n = np.where(short, n6.astype(np.uint64) * np.uint64(10 ** (p - 6)), np_.astype(np.uint64))
    e_out = e + np.where(short, carry6, carryp)
    precision = np.where(short, 6, p).astype(np.int64)
    return n, e_out, precision, slow


# ---------------------------------------------------------------------------
# Text assembly.

# Digit tables, transposed: row k holds the k-th character of every 3-digit chunk.
_T3 = np.ascontiguousarray(np.array([list(b"%03d" % i) for i in range(1000)], np.uint8).T)
_TZ3 = np.array([3] + [len(b"%03d" % i) - len((b"%03d" % i).rstrip(b"0")) for i in range(1, 1000)])
_NAN = np.frombuffer(b"NaN", np.uint8)[:, None]
_INF = np.frombuffer(b"Infinity", np.uint8)[:, None]


def _digit_chars(n: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """ASCII digits, one row per digit position (p, count), and significant digits (>= 1)."""
    # uint32 division is much cheaper; 9-digit significands fit.
    rest = n.astype(np.uint32) if p <= 9 else n
    thousand = rest.dtype.type(1000)
    chunks = []
    for _ in range((p + 2) // 3):
        rest, low = np.divmod(rest, thousand)
        chunks.append(low)
    chunks.reverse()
    digits = np.concatenate([np.take(_T3, chunk, axis=1) for chunk in chunks])
    return digits[-p:], np.maximum(p - _trailing_zeros(chunks), 1)


def _trailing_zeros(chunks: list[np.ndarray]) -> np.ndarray:
    tz = np.take(_TZ3, chunks[-1])
    all_zero = chunks[-1] == 0
    for chunk in chunks[-2::-1]:
        tz += np.take(_TZ3, chunk) * all_zero
        all_zero &= chunk == 0
    return tz


class _Layout:
    """Column positions of one value's text inside the fixed-width row."""

    def __init__(self, rank: int, p: int) -> None:
        self.rank = rank
        self.sign = rank
        self.lead = rank + 1  # "0." and up to 3 zeros of fixed notation below 1
        self.digits = rank + 6  # d0 s1 d1 s2 ... d(p-1) s(p)
        self.frac_zero = self.digits + 2 * p
        self.exp = self.frac_zero + 1  # 'e', sign, 3 digits
        self.close = self.exp + 5
        self.sep = self.close + rank
        self.width = self.sep + 1


_U8 = np.uint8


def _chars(mask: np.ndarray, char: str) -> np.ndarray:
    """uint8 column: the character where mask holds, NUL elsewhere."""
    return mask.view(np.uint8) * _U8(ord(char))


def _digits(flat: np.ndarray, f32: bool) -> _Digits:
    with np.errstate(all="ignore"):  # NaN/Inf lanes compute garbage that is masked out
        return _Digits(flat, f32)


def _text_matrix(
    flat: np.ndarray, f32: bool, bracket_rank: int, d: _Digits | None = None
) -> tuple[np.ndarray, _Layout]:
    """The text cells, built transposed: row c holds column c of every value's text."""
    if d is None:
        d = _digits(flat, f32)
    p = d.p
    lay = _Layout(bracket_rank, p)
    t = np.zeros((lay.width, len(flat)), np.uint8)
    special = d.nan | d.inf
    any_special = bool(special.any())
    e = d.e
    sci = (e < -4) | (e >= d.precision)
    fixed_pos = ~sci & (e >= 0)
    fixed_neg = ~sci & (e < 0)
    if any_special:
        sci &= ~special
        fixed_pos &= ~special
        fixed_neg &= ~special
    digits, nd = _digit_chars(d.n, p)
    j = np.arange(p)[:, None]
    intlen = e + 1
    digits *= j < np.where(fixed_pos, np.maximum(nd, intlen), nd)
    if any_special:
        digits[:, special] = 0
        digits[:3, d.nan] = _NAN
        digits[:8, d.inf] = _INF
    t[lay.digits : lay.digits + 2 * p : 2] = digits
    dot_at = np.where(fixed_pos, intlen, np.where(sci & (nd > 1), 1, -1))
    t[lay.digits + 1 : lay.digits + 2 * p + 1 : 2] = _chars(j + 1 == dot_at, ".")
    t[lay.sign] = _chars(d.neg & ~d.nan if any_special else d.neg, "-")
    t[lay.frac_zero] = _chars(fixed_pos & (nd <= intlen), "0")
    if fixed_neg.any():
        _fill_small(t, lay, fixed_neg, e)
    if sci.any():
        _fill_exponent(t, lay, sci, e)
    return t, lay


def _fill_small(t: np.ndarray, lay: _Layout, fixed_neg: np.ndarray, e: np.ndarray) -> None:
    t[lay.lead] = _chars(fixed_neg, "0")
    t[lay.lead + 1] = _chars(fixed_neg, ".")
    for z in range(3):
        t[lay.lead + 2 + z] = _chars(fixed_neg & (z < -e - 1), "0")


def _fill_exponent(t: np.ndarray, lay: _Layout, sci: np.ndarray, e: np.ndarray) -> None:
    ae = np.abs(e)
    t[lay.exp] = _chars(sci, "e")
    t[lay.exp + 1] = np.where(sci, np.where(e < 0, ord("-"), ord("+")), 0)
    t[lay.exp + 2] = np.where(sci & (ae >= 100), ae // 100 + 48, 0)
    t[lay.exp + 3] = np.where(sci, (ae // 10) % 10 + 48, 0)
    t[lay.exp + 4] = np.where(sci, ae % 10 + 48, 0)


def _fill_structure(t: np.ndarray, lay: _Layout, shape: tuple[int, ...], items: bool) -> None:
    """Brackets and separators: shape is the bracketed shape (without the batch in items mode).

    Value i opens a bracket for each trailing block of the shape it starts and closes
    one for each it ends; every block length divides the item length, so strided
    views of each row mark them without index arithmetic.
    """
    stride = 1
    for depth in range(1, len(shape) + 1):
        stride *= shape[-depth]
        t[lay.rank - depth].reshape(-1, stride)[:, 0] = ord("[")
        t[lay.close + depth - 1].reshape(-1, stride)[:, -1] = ord("]")
    t[lay.sep] = ord(",")
    if items:
        t[lay.sep].reshape(-1, math.prod(shape))[:, -1] = ITEM_SEPARATOR[0]
    else:
        t[lay.sep, -1] = 0


def _text(t: np.ndarray) -> bytes:
    return t.T.tobytes().translate(None, b"\0")


def nested_float_json(arr: np.ndarray) -> bytes:
    """JSON text of a non-empty float32/float64 array as nested lists (a bare value at rank 0)."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    f32 = arr.dtype == np.float32
    d = _digits(flat, f32)
    if f32 and arr.ndim and _ORJSON_LAYOUT_OK:
        text = _via_orjson(d, arr.shape)
        if text is not None:
            return text
    m, lay = _text_matrix(flat, f32, arr.ndim, d)
    _fill_structure(m, lay, arr.shape, items=False)
    return _text(m)


def nested_float_items(arr: np.ndarray) -> list[bytes]:
    """One JSON text per batch item (along axis 0) of a non-empty float array of rank >= 1."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    m, lay = _text_matrix(flat, arr.dtype == np.float32, arr.ndim - 1)
    _fill_structure(m, lay, arr.shape[1:], items=True)
    return _text(m).split(ITEM_SEPARATOR)[:-1]


# ---------------------------------------------------------------------------
# float32 through orjson.

_POW10_FIXED = np.array([10.0**k for k in range(13)])  # exact below 2**53
_SENTINEL = math.nan  # orjson writes "null", which no number's text holds
_SENTINEL_TEXT = b"null"
_MOST_SPLICED = 8  # 1 value in 8 written apart at most; beyond, the byte matrix is cheaper
_EXP_OFFSET = 64
# "e-05", "e+38": the exponent of %g's scientific notation, by exponent + offset.
_EXP_TEXTS = np.array([b"e%+03d" % (k - _EXP_OFFSET) for k in range(2 * _EXP_OFFSET)], object)


def _orjson_layout_ok() -> bool:
    """Whether this orjson writes doubles in fixed notation as %g does, and the sentinel."""
    probe = {
        0.0001: b"0.0001",
        0.000123456789: b"0.000123456789",
        -0.0025: b"-0.0025",
        1.0: b"1.0",
        9.5: b"9.5",
        99999.5: b"99999.5",
        123456789.0: b"123456789.0",
        -0.0: b"-0.0",
    }
    values = np.array([*probe, _SENTINEL])
    written = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    return written == b"[" + b",".join([*probe.values(), _SENTINEL_TEXT]) + b"]"


_ORJSON_LAYOUT_OK = _orjson_layout_ok()


def _via_orjson(d: _Digits, shape: tuple[int, ...]) -> bytes | None:
    """Fixed-notation values as the doubles nearest their decimals, written by orjson;
    the others (scientific notation, NaN, Infinity) spliced in at sentinels."""
    fixed = (d.e >= -4) & (d.e < d.precision) & ~(d.nan | d.inf)
    spliced = np.flatnonzero(~fixed)
    if len(spliced) * _MOST_SPLICED > len(fixed):
        return None
    # n < 2**30 and 10**(8-e) are exact: one correctly rounded division.
    values = d.n / _POW10_FIXED[np.where(fixed, 8 - d.e, 0)]
    values = np.where(d.neg, -values, values)
    if len(spliced):
        values[spliced] = _SENTINEL
    text = orjson.dumps(values.reshape(shape), option=orjson.OPT_SERIALIZE_NUMPY)
    if not len(spliced):
        return text
    pieces = text.split(_SENTINEL_TEXT)
    if len(pieces) != len(spliced) + 1:
        return None
    parts: list[bytes] = [b""] * (3 * len(spliced) + 1)
    parts[0::3] = pieces
    parts[1::3], parts[2::3] = _scientific_parts(d, spliced)
    return b"".join(parts)


def _scientific_parts(d: _Digits, where: np.ndarray) -> tuple[list[bytes], list[bytes]]:
    """Mantissa and exponent texts of the values at ``where`` ("-1.5" and "e-07").

    The mantissa n / 10**8 lies in [1, 10): orjson writes it in fixed notation,
    and %g leaves out the ".0" of a one-digit mantissa. NaN and Infinity get an
    empty mantissa (or "-") and their token.
    """
    n = d.n[where]
    mantissas = np.where(d.neg[where], -n, n) / 1e8
    written = orjson.dumps(mantissas, option=orjson.OPT_SERIALIZE_NUMPY)
    heads = written.replace(b".0,", b",").replace(b".0]", b"]")[1:-1].split(b",")
    tails = _EXP_TEXTS[d.e[where] + _EXP_OFFSET].tolist()
    for i in np.flatnonzero(d.nan[where] | d.inf[where]).tolist():
        value = where[i]
        heads[i] = b"-" if d.inf[value] and d.neg[value] else b""
        tails[i] = b"NaN" if d.nan[value] else b"Infinity"
    return heads, tails
