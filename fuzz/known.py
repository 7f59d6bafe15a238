"""Bugs the fuzzers find that are known and owned elsewhere (issue 11), so a fuzz run
reports them without failing. Each entry recognises its inputs from what the input
*is*, never from the exception it raises, so a new bug on the same input is not hidden
when the message changes. When the owner's fix lands, the entry's regression test in
tests/test_fuzz.py (``xfail(strict=True)``) starts passing and fails the run: delete
the entry and the xfail then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fuzz.signatures import MODELS
from fuzz.targets import first_member, gzip_input
from gateway.codec.jsonparse import loads
from gateway.codec.tensor import is_b64_object
from gateway.codec.tfs.predict import signature_name_from
from gateway.core.errors import GatewayError


@dataclass(frozen=True, slots=True)
class Known:
    name: str
    what: str
    matches: dict[str, Callable[[bytes], bool]]  # target -> does this input trigger it


def _doc(body: bytes) -> Any:
    try:
        return loads(body)
    except (GatewayError, RecursionError):
        return None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad_signature_name(body: bytes) -> bool:
    doc = _doc(body)
    if not isinstance(doc, dict):
        return False
    try:
        return not _utf8(signature_name_from(doc))
    except GatewayError:
        return False


def _b64_rows_multi_input(data: bytes) -> bool:
    if not data:
        return False
    doc = _doc(data[1:])
    if not isinstance(doc, dict) or "inputs" in doc:
        return False
    instances = doc.get("instances")
    if not isinstance(instances, list) or not instances or not is_b64_object(instances[0]):
        return False
    try:
        dtypes = MODELS[data[0] % len(MODELS)].input_dtypes(signature_name_from(doc))
    except GatewayError:
        return False
    return len(dtypes) > 1


def _truncated_gzip(data: bytes) -> bool:
    inflated, ended, failed = first_member(gzip_input(data)[0])
    return bool(inflated) and not ended and not failed


# Empty: the three found while issue 11 was open (a non-UTF-8 classify signature_name, a
# b64 object leading a two-input signature's rows, a cut gzip trailer) are fixed and live on
# as found inputs in tests/test_fuzz.py.
KNOWN: tuple[Known, ...] = ()


def known_bug(target: str, data: bytes) -> Known | None:
    """The known bug this input of ``target`` triggers, if any."""
    for known in KNOWN:
        matches = known.matches.get(target)
        if matches is not None and matches(data):
            return known
    return None
