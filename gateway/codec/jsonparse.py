"""JSON parsing with the acceptance rules of RapidJSON 1.1.0 as TF Serving uses it.

compatibility.md §3: iterative parsing (no depth limit), ``NaN``/``Infinity``/``Inf``
tokens, parsing stops after the first complete value (trailing bytes and a NUL
end it), first duplicate key wins, string bytes are not UTF-8 validated, and
errors read ``JSON Parse error: <RapidJSON message> at offset: <byte>``.

``loads`` tries orjson first (strict RFC 8259, the common case) and falls back
to an exact pure-Python state machine whenever orjson refuses the body or the
body may hold duplicate keys. Integer tokens stay ``int``, decimals are
``float``; a string that is not valid UTF-8 comes back as ``bytes``.

``echo`` renders a parsed value the way TF Serving echoes JSON in error
messages (RapidJSON's PrettyWriter with single-line arrays).
"""

from __future__ import annotations

import contextlib
import math
import re
from decimal import Decimal
from typing import Any

import orjson

from gateway.core.errors import invalid_argument

__all__ = ["count_byte", "echo", "loads", "may_have_bools"]

ECHO_LIMIT = 256  # compatibility.md §3: the echo is cut off after about 256 bytes

_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1


def loads(body: bytes) -> Any:
    """Parse a request body; raises GatewayError(INVALID_ARGUMENT) on syntax errors."""
    if not body:
        # Checked before parsing, hence no period and no offset (compatibility.md §3).
        raise invalid_argument("JSON Parse error: The document is empty")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _Parser(body).parse()
    if _may_have_duplicates(body, value):
        return _Parser(body).parse()
    return value


# ---------------------------------------------------------------------------
# Duplicate keys: orjson keeps the last one, RapidJSON lookups find the first.
#
# Every ':' in the body is either a member separator or sits inside a string.
# Counting members in the parsed tree is cheap when we only descend into
# containers whose first element is a container (numeric leaves are skipped).
# If that count equals the number of ':' bytes, no member was dropped. Otherwise
# the exact (slow) parser decides; that costs only for bodies with ':' inside
# strings or objects hidden behind scalars.


def _may_have_duplicates(body: bytes, value: Any) -> bool:
    colons = count_byte(body, b":")
    if colons == 0:
        return False
    return _count_members(value) != colons


_FIND_LIMIT = 64


def count_byte(body: bytes, byte: bytes) -> int:
    """Occurrences of one byte; memchr hops when it is rare (keys only, the usual case)."""
    count = 0
    pos = body.find(byte)
    while pos >= 0:
        count += 1
        if count > _FIND_LIMIT:
            return count + body.count(byte, pos + 1)
        pos = body.find(byte, pos + 1)
    return count


def may_have_bools(body: bytes) -> bool:
    """False when the body has no ``true``/``false`` token (cheap for numeric bodies).

    numpy folds booleans into numeric arrays silently, so the tensor fast path
    must know whether a boolean could be hiding among numbers (compatibility.md §4.3 rejects
    them for numeric dtypes).
    """
    for byte, word, back in ((b"u", b"true", 2), (b"l", b"false", 2)):
        pos = body.find(byte)
        seen = 0
        while pos >= 0:
            if body[pos - back : pos - back + len(word)] == word:
                return True
            seen += 1
            if seen > _FIND_LIMIT:
                return word in body
            pos = body.find(byte, pos + 1)
    return False


def _count_members(value: Any) -> int:
    members = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            members += len(item)
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list) and item and isinstance(item[0], dict | list):
            stack.extend(item)
    return members


# ---------------------------------------------------------------------------
# The exact parser (RapidJSON 1.1.0 iterative mode, kParseNanAndInfFlag,
# kParseStopWhenDoneFlag).

_EMPTY = "The document is empty."
_VALUE_INVALID = "Invalid value."
_MISS_NAME = "Missing a name for object member."
_MISS_COLON = "Missing a colon after a name of object member."
_MISS_COMMA_CURLY = "Missing a comma or '}' after an object member."
_MISS_COMMA_BRACKET = "Missing a comma or ']' after an array element."
_BAD_HEX = "Incorrect hex digit after \\u escape in string."
_BAD_SURROGATE = "The surrogate pair in string is invalid."
_BAD_ESCAPE = "Invalid escape character in string."
_MISS_QUOTE = "Missing a closing quotation mark in string."
_TOO_BIG = "Number too big to be stored in double."
_MISS_FRACTION = "Miss fraction part in number."
_MISS_EXPONENT = "Miss exponent in number."

_WS = re.compile(rb"[ \t\n\r]*")
_PLAIN = re.compile(rb'[^"\\\x00-\x1f]*')
_NUMBER = re.compile(rb"(-?)(?:(0|[1-9][0-9]*)(?:(\.)([0-9]*))?(?:([eE][+-]?)([0-9]*))?)?")
_HEX4 = re.compile(rb"[0-9a-fA-F]{4}")
_ESCAPES = {
    ord('"'): b'"',
    ord("\\"): b"\\",
    ord("/"): b"/",
    ord("b"): b"\b",
    ord("f"): b"\f",
    ord("n"): b"\n",
    ord("r"): b"\r",
    ord("t"): b"\t",
}
_LITERALS = {ord("t"): (b"true", True), ord("f"): (b"false", False), ord("n"): (b"null", None)}


class _ParseError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class _Parser:
    """RapidJSON's iterative state machine, building Python values."""

    def __init__(self, body: bytes) -> None:
        nul = body.find(b"\x00")
        # RapidJSON's stream reads NUL as end of input (compatibility.md §3).
        self.s = body if nul < 0 else body[:nul]
        self.pos = 0

    def parse(self) -> Any:
        try:
            return self._document()
        except _ParseError as err:
            raise invalid_argument(f"JSON Parse error: {err} at offset: {err.offset}") from None

    def _skip(self) -> int:
        m = _WS.match(self.s, self.pos)
        assert m is not None
        self.pos = m.end()
        return self.s[self.pos] if self.pos < len(self.s) else -1

    def _document(self) -> Any:
        c = self._skip()
        if c == -1 or c in b"]},:":
            raise _ParseError(_EMPTY, self.pos)
        if c not in b"[{":
            return self._scalar(c)
        return self._containers(c)

    def _containers(self, c: int) -> Any:
        # Stack entries: [container, pending key or None]; iterative so depth is unlimited.
        root: Any = [] if c == ord("[") else {}
        stack: list[list[Any]] = [[root, None]]
        self.pos += 1
        expect_first = True
        while True:
            top = stack[-1]
            container = top[0]
            c = self._skip()
            if isinstance(container, list):
                value_ready = self._array_step(c, container, expect_first)
            else:
                value_ready = self._object_step(c, top, expect_first)
            expect_first = False
            if value_ready is _CLOSE:
                stack.pop()
                if not stack:
                    return root
                self._store(stack[-1], container)
                continue
            if value_ready is _OPEN:
                child: Any = [] if self.s[self.pos] == ord("[") else {}
                self.pos += 1
                stack.append([child, None])
                expect_first = True

    # Returns _CLOSE when the container ended, _OPEN when a child container starts,
    # None after a scalar was stored.
    def _array_step(self, c: int, container: list[Any], first: bool) -> object:
        if first:
            if c == ord("]"):
                self.pos += 1
                return _CLOSE
        elif c == ord("]"):
            self.pos += 1
            return _CLOSE
        elif c == ord(","):
            self.pos += 1
            c = self._skip()
        else:
            raise _ParseError(_MISS_COMMA_BRACKET, self.pos)
        return self._value_or_open(c, container, None)

    def _object_step(self, c: int, top: list[Any], first: bool) -> object:
        if not first:
            if c == ord("}"):
                self.pos += 1
                return _CLOSE
            if c != ord(","):
                raise _ParseError(_MISS_COMMA_CURLY, self.pos)
            self.pos += 1
            c = self._skip()
        elif c == ord("}"):
            self.pos += 1
            return _CLOSE
        if c != ord('"'):
            raise _ParseError(_MISS_NAME, self.pos)
        key = self._string()
        top[1] = key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key
        if self._skip() != ord(":"):
            raise _ParseError(_MISS_COLON, self.pos)
        self.pos += 1
        c = self._skip()
        return self._value_or_open(c, top[0], top[1])

    def _value_or_open(self, c: int, container: Any, key: str | None) -> object:
        if c in (ord("["), ord("{")):
            return _OPEN
        if c == -1 or c in b"]},:":
            raise _ParseError(_VALUE_INVALID, self.pos)
        value = self._scalar(c)
        if key is None:
            container.append(value)
        elif key not in container:  # first duplicate wins (compatibility.md §3)
            container[key] = value
        return None

    @staticmethod
    def _store(parent: list[Any], child: Any) -> None:
        container, key = parent
        if isinstance(container, list):
            container.append(child)
        elif key not in container:
            container[key] = child

    def _scalar(self, c: int) -> Any:
        if c == ord('"'):
            return self._string()
        literal = _LITERALS.get(c)
        if literal is not None:
            return self._literal(*literal)
        return self._number()

    def _literal(self, text: bytes, value: Any) -> Any:
        start = self.pos
        n = 1
        while n < len(text) and self.s[start + n : start + n + 1] == text[n : n + 1]:
            n += 1
        self.pos = start + n
        if n < len(text):
            raise _ParseError(_VALUE_INVALID, self.pos)
        return value

    def _string(self) -> str | bytes:
        s = self.s
        self.pos += 1
        chunks: list[bytes] = []
        while True:
            m = _PLAIN.match(s, self.pos)
            assert m is not None
            chunks.append(m.group())
            self.pos = m.end()
            if self.pos >= len(s):
                raise _ParseError(_MISS_QUOTE, self.pos)
            c = s[self.pos]
            if c == ord('"'):
                self.pos += 1
                raw = b"".join(chunks)
                try:
                    return raw.decode("utf-8")
                except UnicodeDecodeError:
                    return raw  # compatibility.md §3: bytes are not UTF-8 validated
            if c != ord("\\"):
                raise _ParseError(_BAD_ESCAPE, self.pos)  # unescaped control character
            chunks.append(self._escape())

    def _escape(self) -> bytes:
        start = self.pos
        e = self.s[start + 1] if start + 1 < len(self.s) else -1
        simple = _ESCAPES.get(e)
        if simple is not None:
            self.pos = start + 2
            return simple
        if e != ord("u"):
            raise _ParseError(_BAD_ESCAPE, start)
        self.pos = start + 2
        code = self._hex4(start)
        if 0xD800 <= code <= 0xDBFF:
            if self.s[self.pos : self.pos + 2] != b"\\u":
                raise _ParseError(_BAD_SURROGATE, start)
            self.pos += 2
            low = self._hex4(start)
            if not 0xDC00 <= low <= 0xDFFF:
                raise _ParseError(_BAD_SURROGATE, start)
            code = ((code - 0xD800) << 10 | (low - 0xDC00)) + 0x10000
        return chr(code).encode("utf-8", "surrogatepass")

    def _hex4(self, escape_offset: int) -> int:
        m = _HEX4.match(self.s, self.pos)
        if m is None:
            raise _ParseError(_BAD_HEX, escape_offset)
        self.pos = m.end()
        return int(m.group(), 16)

    def _number(self) -> Any:
        start = self.pos
        m = _NUMBER.match(self.s, start)
        assert m is not None
        minus, int_part, dot, frac, exp_mark, exp_digits = m.groups()
        if int_part is None:
            return self._nan_or_inf(start + len(minus), bool(minus))
        if dot and not frac:
            raise _ParseError(_MISS_FRACTION, start + len(minus) + len(int_part) + 1)
        if exp_mark and not exp_digits:
            raise _ParseError(_MISS_EXPONENT, m.end())
        self.pos = m.end()
        token = m.group()
        if len(int_part) > 300 and _integer_too_big(int_part):
            raise _ParseError(_TOO_BIG, start)
        if exp_mark:
            if "-" not in exp_mark.decode() and _exponent_too_big(
                int_part, frac or b"", exp_digits
            ):
                raise _ParseError(_TOO_BIG, start)
            return float(token)
        if dot:
            return float(token)
        value = int(token)
        if _INT64_MIN <= value <= _UINT64_MAX:
            return value
        return float(token)  # compatibility.md §3: integers beyond 64 bits become doubles

    def _nan_or_inf(self, pos: int, minus: bool) -> float:
        # Mirrors RapidJSON's consume chain: "N","a","N" else "I","n","f"["inity"].
        s = self.s
        pos, ok = _consume(s, pos, b"NaN")
        if ok:
            self.pos = pos
            return math.nan
        pos, ok = _consume(s, pos, b"Inf")
        if not ok:
            raise _ParseError(_VALUE_INVALID, pos)
        if s[pos : pos + 1] == b"i":
            pos, ok = _consume(s, pos, b"inity")
            if not ok:
                raise _ParseError(_VALUE_INVALID, pos)
        self.pos = pos
        return -math.inf if minus else math.inf


_CLOSE = object()
_OPEN = object()


def _consume(s: bytes, pos: int, text: bytes) -> tuple[int, bool]:
    for ch in text:
        if pos >= len(s) or s[pos] != ch:
            return pos, False
        pos += 1
    return pos, True


def _integer_too_big(digits: bytes) -> bool:
    # RapidJSON switches to a double beyond uint64 and fails once d >= DBL_MAX/10
    # before taking another digit.
    value = 0
    d = 0.0
    as_double = False
    for ch in digits:
        digit = ch - 48
        if as_double:
            if d >= 1.7976931348623157e307:
                return True
            d = d * 10 + digit
        elif value * 10 + digit > _UINT64_MAX:
            as_double = True
            d = float(value) * 10 + digit
        else:
            value = value * 10 + digit
    return False


def _exponent_too_big(int_part: bytes, frac: bytes, exp_digits: bytes) -> bool:
    digits = exp_digits.lstrip(b"0") or b"0"
    if len(digits) <= 3 and int(digits) <= 308:
        return False  # expFrac <= 0, so RapidJSON's limit 308 - expFrac is >= 308
    limit = str(308 - _rapidjson_exp_frac(int_part, frac))
    # Compare by length first: int() refuses strings over 4300 digits.
    if len(digits) != len(limit):
        return len(digits) > len(limit)
    return digits > limit.encode()


def _rapidjson_exp_frac(int_part: bytes, frac: bytes) -> int:
    """The (negative) count of fraction digits RapidJSON folds into its significand."""
    if not frac:
        return 0
    value = int(int_part)
    # Beyond uint64 the significand is already a double with 17+ digits.
    significant = 17 if value > _UINT64_MAX else len(int_part.lstrip(b"0"))
    exp_frac = 0
    i = 0
    if value <= _UINT64_MAX:
        while i < len(frac) and value <= 2**53 - 1:
            value = value * 10 + frac[i] - 48
            exp_frac -= 1
            if value != 0:
                significant += 1
            i += 1
    d = float(value)
    while i < len(frac):
        if significant < 17:
            d = d * 10 + frac[i] - 48
            exp_frac -= 1
            if d > 0:
                significant += 1
        i += 1
    return exp_frac


# ---------------------------------------------------------------------------
# Echo: RapidJSON PrettyWriter (4-space indent, kFormatSingleLineArray).


class _Stop(Exception):
    """RapidJSON's writer refuses NaN/Inf inside a container and stops there."""


def echo(value: Any) -> str:
    """The re-serialisation of ``value`` that TF Serving puts in error messages."""
    out: list[str] = []
    if isinstance(value, float):
        from gateway.codec.tensor import float_text  # local: tensor imports this module

        # A top-level decimal goes through TF's own float writer: as float32 when
        # it fits (RapidJSON IsFloat), else as double.
        is_f32 = not math.isfinite(value) or abs(value) <= 3.4028234e38
        text = float_text(value, f32=is_f32 and math.isfinite(value))
        out.append(text)
    else:
        with contextlib.suppress(_Stop):
            _write(value, 0, out)
    data = "".join(out).encode("utf-8", "surrogateescape")[:ECHO_LIMIT]
    return data.decode("utf-8", "replace")


def _write(value: Any, level: int, out: list[str]) -> None:
    if isinstance(value, dict):
        _write_object(value, level, out)
    elif isinstance(value, list):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(", ")
            _write(item, level + 1, out)
        out.append("]")
    else:
        out.append(_scalar_text(value))


def _write_object(value: dict[str, Any], level: int, out: list[str]) -> None:
    out.append("{")
    if not value:
        out.append("}")
        return
    inner = "    " * (level + 1)
    for i, (key, item) in enumerate(value.items()):
        out.append(",\n" if i else "\n")
        out.append(inner)
        out.append(_string_text(key))
        out.append(": ")
        _write(item, level + 1, out)
    out.append("\n" + "    " * level + "}")


def _scalar_text(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Stop
        return _grisu_text(value)
    return _string_text(value)


_CONTROL = {i: f"\\u{i:04X}" for i in range(0x20)} | {
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
}


def _string_text(value: str | bytes) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    return '"' + value.translate(_CONTROL) + '"'


def _grisu_text(value: float) -> str:
    """RapidJSON's dtoa layout (shortest digits, Prettify) for a finite double."""
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    _, digit_tuple, k = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple))
    stripped = digits.rstrip("0")
    assert isinstance(k, int)
    return sign + _prettify(stripped, k + len(digits) - len(stripped))


def _prettify(digits: str, k: int) -> str:
    length = len(digits)
    kk = length + k  # 10^(kk-1) <= v < 10^kk
    if k >= 0 and kk <= 21:
        return digits + "0" * k + ".0"
    if 0 < kk <= 21:
        return digits[:kk] + "." + digits[kk:]
    if -6 < kk <= 0:
        return "0." + "0" * -kk + digits
    exponent = kk - 1
    exp_text = f"e{'-' if exponent < 0 else ''}{abs(exponent)}"
    if length == 1:
        return digits + exp_text
    return digits[0] + "." + digits[1:] + exp_text
