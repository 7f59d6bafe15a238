"""TF Serving's float text rule (spec 6.2), exact and vectorised.

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
subnormals, go through the exact per-value path.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

__all__ = ["float_text", "nested_float_items", "nested_float_json"]

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
        self.neg = np.signbit(flat)
        self.nan = np.isnan(flat)
        self.inf = np.isinf(flat)
        finite = ~(self.nan | self.inf)
        absval = np.abs(flat.astype(np.float64))
        self.zero = absval == 0
        if f32:
            n, e, precision, slow = _digits_f32(flat, absval)
        else:
            n, e, precision, slow = _digits_f64(absval)
        slow &= finite & ~self.zero
        for i in np.flatnonzero(slow):
            n[i], e[i], precision[i] = _exact_digits(float(absval[i]), f32, self.p)
        plain = ~finite | self.zero
        n[plain] = 0
        e[plain] = 0
        precision[plain] = 6
        self.n, self.e, self.precision = n, e, precision


def _round_scaled(work: np.ndarray, e: np.ndarray, digits: int) -> tuple[np.ndarray, np.ndarray]:
    """work * 10**(digits-1-e) in the dtype of ``work``, and its fraction's distance to .5."""
    scale = np.power(work.dtype.type(10), (digits - 1 - e).astype(work.dtype))
    y = work * scale
    return y, np.abs(y - np.floor(y) - work.dtype.type(0.5))


def _decimal_exponent(work: np.ndarray, digits: int) -> np.ndarray:
    e = np.floor(np.log10(work.astype(np.float64))).astype(np.int64)
    y, _ = _round_scaled(work, e, digits)
    e += (y >= 10.0**digits).astype(np.int64) - (y < 10.0 ** (digits - 1)).astype(np.int64)
    return e


def _digits_f32(flat: np.ndarray, absval: np.ndarray) -> _Parts:
    normal = np.isfinite(absval) & (absval >= _F32_MIN_NORMAL)
    work = np.where(normal, absval, 1.0)
    e = _decimal_exponent(work, 9)
    y9, tie9 = _round_scaled(work, e, 9)
    y6, _ = _round_scaled(work, e, 6)
    # 6-digit round trip: |D6 - x| against half the gap to the neighbouring float32,
    # in the units of y6 (below a power of two the gap is half as wide).
    mag = np.abs(flat.astype(np.float32))
    scale = np.power(10.0, (5 - e).astype(np.float64)) / 2
    below, above = _gaps(mag, _is_pow2(mag.view(np.uint32), 23))
    return _choose(y6, y9, e, below * scale, above * scale, tie9, normal, 9)


def _digits_f64(absval: np.ndarray) -> _Parts:
    normal = np.isfinite(absval) & (absval >= _F64_MIN_NORMAL)
    if not _LONG_DOUBLE_OK:
        zeros = np.zeros(absval.shape, np.int64)
        return zeros.astype(np.uint64), zeros, zeros + 17, np.ones(absval.shape, bool)
    work = np.where(normal, absval, 1.0).astype(np.longdouble)
    e = _decimal_exponent(work, 17)
    y17, tie17 = _round_scaled(work, e, 17)
    y6, _ = _round_scaled(work, e, 6)
    scale = np.power(np.longdouble(10), (5 - e).astype(np.longdouble)) / 2
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

_T3 = np.array([list(b"%03d" % i) for i in range(1000)], dtype=np.uint8)
_TZ3 = np.array([3] + [len(b"%03d" % i) - len((b"%03d" % i).rstrip(b"0")) for i in range(1, 1000)])
_NAN = np.frombuffer(b"NaN", np.uint8)
_INF = np.frombuffer(b"Infinity", np.uint8)


def _digit_chars(n: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """ASCII digit matrix (count, p) and the number of significant digits (>= 1)."""
    chunks = []
    rest = n
    for _ in range((p + 2) // 3):
        rest, low = np.divmod(rest, np.uint64(1000))
        chunks.append(low.astype(np.intp))
    chunks.reverse()
    digits = _T3[np.stack(chunks, axis=1)].reshape(len(n), -1)[:, -p:]
    tz = np.zeros(len(n), np.int64)
    all_zero = np.ones(len(n), bool)
    for chunk in reversed(chunks):
        tz += np.where(all_zero, _TZ3[chunk], 0)
        all_zero &= chunk == 0
    return digits, np.maximum(p - tz, 1)


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


def _text_matrix(flat: np.ndarray, f32: bool, bracket_rank: int) -> tuple[np.ndarray, _Layout]:
    with np.errstate(all="ignore"):  # NaN/Inf lanes compute garbage that is masked out
        d = _Digits(flat, f32)
    p = d.p
    lay = _Layout(bracket_rank, p)
    count = len(flat)
    m = np.zeros((count, lay.width), np.uint8)
    special = d.nan | d.inf
    e = d.e
    sci = ~special & ((e < -4) | (e >= d.precision))
    fixed_pos = ~special & ~sci & (e >= 0)
    fixed_neg = ~special & ~sci & (e < 0)
    digits, nd = _digit_chars(d.n, p)
    j = np.arange(p)
    intlen = e + 1
    keep = (j < nd[:, None]) | (fixed_pos[:, None] & (j < intlen[:, None]))
    digits = np.where(keep & ~special[:, None], digits, 0).astype(np.uint8)
    digits[d.nan, :3] = _NAN
    digits[d.inf, :8] = _INF
    m[:, lay.digits : lay.digits + 2 * p : 2] = digits
    dot_at = np.where(fixed_pos, intlen, np.where(sci & (nd > 1), 1, -1))
    m[:, lay.digits + 1 : lay.digits + 2 * p + 1 : 2] = np.where(
        j + 1 == dot_at[:, None], ord("."), 0
    )
    m[:, lay.sign] = np.where(d.neg & ~d.nan, ord("-"), 0)
    m[:, lay.frac_zero] = np.where(fixed_pos & (nd <= intlen), ord("0"), 0)
    _fill_small(m, lay, fixed_neg, e)
    _fill_exponent(m, lay, sci, e)
    return m, lay


def _fill_small(m: np.ndarray, lay: _Layout, fixed_neg: np.ndarray, e: np.ndarray) -> None:
    m[:, lay.lead] = np.where(fixed_neg, ord("0"), 0)
    m[:, lay.lead + 1] = np.where(fixed_neg, ord("."), 0)
    for z in range(3):
        m[:, lay.lead + 2 + z] = np.where(fixed_neg & (z < -e - 1), ord("0"), 0)


def _fill_exponent(m: np.ndarray, lay: _Layout, sci: np.ndarray, e: np.ndarray) -> None:
    ae = np.abs(e)
    m[:, lay.exp] = np.where(sci, ord("e"), 0)
    m[:, lay.exp + 1] = np.where(sci, np.where(e < 0, ord("-"), ord("+")), 0)
    m[:, lay.exp + 2] = np.where(sci & (ae >= 100), ae // 100 + 48, 0)
    m[:, lay.exp + 3] = np.where(sci, (ae // 10) % 10 + 48, 0)
    m[:, lay.exp + 4] = np.where(sci, ae % 10 + 48, 0)


def _fill_structure(m: np.ndarray, lay: _Layout, shape: tuple[int, ...], items: bool) -> None:
    """Brackets and separators: shape is the bracketed shape (without the batch in items mode)."""
    count = m.shape[0]
    per_item = math.prod(shape)
    local = np.arange(count) % per_item
    stride = 1
    for t in range(1, len(shape) + 1):
        stride *= shape[-t]
        m[:, lay.rank - t] = np.where(local % stride == 0, ord("["), 0)
        m[:, lay.close + t - 1] = np.where((local + 1) % stride == 0, ord("]"), 0)
    if items:
        m[:, lay.sep] = np.where((local + 1) % per_item == 0, ITEM_SEPARATOR[0], ord(","))
    else:
        m[:, lay.sep] = ord(",")
        m[-1, lay.sep] = 0


def nested_float_json(arr: np.ndarray) -> bytes:
    """JSON text of a non-empty float32/float64 array as nested lists (a bare value at rank 0)."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    m, lay = _text_matrix(flat, arr.dtype == np.float32, arr.ndim)
    _fill_structure(m, lay, arr.shape, items=False)
    return m.tobytes().translate(None, b"\0")


def nested_float_items(arr: np.ndarray) -> list[bytes]:
    """One JSON text per batch item (along axis 0) of a non-empty float array of rank >= 1."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    m, lay = _text_matrix(flat, arr.dtype == np.float32, arr.ndim - 1)
    _fill_structure(m, lay, arr.shape[1:], items=True)
    return m.tobytes().translate(None, b"\0").split(ITEM_SEPARATOR)[:-1]
