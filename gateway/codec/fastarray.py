"""Regular numeric arrays read from JSON text straight into numpy (compatibility.md §§3, 4.3).

The format this fast path accepts is a JSON object whose members are strings,
numeric arrays, or objects of numeric arrays::

    {"<key>": "<string>" | <array> | {"<name>": <array>, ...}, ...}

where each ``<array>`` is regular: every array at level k has the length of the
first one at that level, every leaf is a number at the same depth, and no array
is empty. Numbers become an int64 array when every one of them is an integer
token within int64, else a float64 array; both conversions are exact or
correctly rounded, as the exact path's are.

Anything else returns None and the caller takes the exact path (jsonparse, then
tensor), which stays the reference: another value kind, a ragged, nested or
empty array, a duplicate key, a backslash anywhere in the body, a body that does
not start with ``{`` (so a byte order mark too), NaN/Infinity tokens, numbers
beyond double or 64-bit integer range, invalid UTF-8, trailing bytes.

How the shape is proved without visiting every array: simdjson validates the
document and builds its tape; the shape comes from the first element at each
level; ``as_buffer`` flattens the numbers (failing on any other leaf). Then the
body's structural bytes ``[ ] { } ,`` in order (its skeleton) must equal the
skeleton that the object would have with every array regular of its shape. With
no backslash in the body, strings are bytes as written, so a string contributes
the structural characters it holds; keys and string values holding any are
refused, so every structural byte is a token. An equal skeleton then fixes the
array tree: each slot above the last level holds exactly one array, each slot of
the last level at most one number, and the count of numbers equal to the
shape's product fills every last-level slot.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import simdjson

__all__ = ["RETAIN_BYTES", "DenseArray", "Member", "dense_object_from_json", "regular_skeleton"]

# The per-thread parser keeps buffers sized for the largest body it parsed;
# bodies above this get a parser of their own, freed after use.
RETAIN_BYTES = 8 << 20
_MAX_RANK = 32  # numpy allows 64 dimensions; deeper arrays take the exact path

# The format holds at most two objects and a string per key plus one value;
# more of either byte means another kind of body, refused before any parsing.
_MAX_BRACES = 2
_MAX_QUOTES = 64
_STRUCTURE = "[]{},"
_NOT_STRUCTURE = bytes(b for b in range(256) if chr(b) not in _STRUCTURE)
_STARTS_AS_OBJECT = re.compile(rb"[ \t\n\r]*\{")


@dataclass(frozen=True, slots=True)
class DenseArray:
    """A regular numeric array, shaped: int64 when every number is an int64 token, else float64."""

    values: np.ndarray


Member = str | DenseArray | dict[str, DenseArray]


class _Parsers(threading.local):
    def __init__(self) -> None:
        self.shared = simdjson.Parser()


_PARSERS = _Parsers()


def dense_object_from_json(body: bytes) -> dict[str, Member] | None:
    """The members of a body of the format above; None: take the exact path."""
    if b"\\" in body or _STARTS_AS_OBJECT.match(body) is None:
        return None
    if not (_at_most(body, b"{", _MAX_BRACES) and _at_most(body, b'"', _MAX_QUOTES)):
        return None
    try:
        found = _walk(_parse(body))
    except (ValueError, TypeError, RuntimeError, IndexError, KeyError):
        return None  # simdjson refused the text, or a leaf is not a number
    if found is None:
        return None
    members, skeleton = found
    if body.translate(None, _NOT_STRUCTURE) != skeleton:
        return None
    return members


def _at_most(body: bytes, byte: bytes, limit: int) -> bool:
    """Whether ``byte`` occurs at most ``limit`` times; stops at the one past the limit."""
    pos = -1
    for _ in range(limit + 1):
        pos = body.find(byte, pos + 1)
        if pos < 0:
            return True
    return False


def _parse(body: bytes) -> object:
    if len(body) > RETAIN_BYTES:
        return simdjson.Parser().parse(body)
    return _PARSERS.shared.parse(body)


def _walk(doc: object) -> tuple[dict[str, Member], bytes] | None:
    """Members and the skeleton the body must have; the proxies die with this frame."""
    if not isinstance(doc, simdjson.Object):
        return None
    members: dict[str, Member] = {}
    parts = []
    for key in doc:  # items() and values() would build Python values
        if key in members or _has_structure(key):
            return None
        found = _member(doc[key])
        if found is None:
            return None
        members[key], part = found
        parts.append(part)
    return members, b"{" + b",".join(parts) + b"}"


def _member(value: object) -> tuple[Member, bytes] | None:
    if isinstance(value, str):
        return None if _has_structure(value) else (value, b"")
    if isinstance(value, simdjson.Array):
        return _dense(value)
    if isinstance(value, simdjson.Object):
        return _named_arrays(value)
    return None


def _named_arrays(obj: Mapping[str, object]) -> tuple[dict[str, DenseArray], bytes] | None:
    arrays: dict[str, DenseArray] = {}
    parts = []
    for name in obj:
        value = obj[name]
        if name in arrays or _has_structure(name) or not isinstance(value, simdjson.Array):
            return None
        found = _dense(value)
        if found is None:
            return None
        arrays[name], part = found
        parts.append(part)
    return arrays, b"{" + b",".join(parts) + b"}"


def _has_structure(text: str) -> bool:
    return any(c in text for c in _STRUCTURE)


def _dense(array: simdjson.Array) -> tuple[DenseArray, bytes] | None:
    shape: list[int] = []
    node: object = array
    while isinstance(node, simdjson.Array):
        size = len(node)
        if size == 0 or len(shape) == _MAX_RANK:
            return None
        shape.append(size)
        node = node[0]
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None
    values = _numbers(array, "i" if isinstance(node, int) else "d")
    if values.size != math.prod(shape):
        return None
    return DenseArray(values.reshape(shape)), regular_skeleton(shape)


def _numbers(array: simdjson.Array, kind: Literal["i", "d"]) -> np.ndarray:
    """Every number, flattened: int64 when all are int64 tokens, else float64."""
    if kind == "i":
        try:
            return np.frombuffer(array.as_buffer(of_type="i"), np.int64)
        except (TypeError, ValueError):
            pass  # a decimal, or an integer beyond int64
    return np.frombuffer(array.as_buffer(of_type="d"), np.float64)


def regular_skeleton(shape: list[int]) -> bytes:
    """The structural bytes of a regular array of ``shape`` (sizes >= 1)."""
    text = b"[" + b"," * (shape[-1] - 1) + b"]"
    for size in reversed(shape[:-1]):
        text = b"[" + (text + b",") * (size - 1) + text + b"]"
    return text
