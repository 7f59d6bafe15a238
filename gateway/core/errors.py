"""One error vocabulary for the whole gateway.

Every failure, found locally or reported by the ModelServer, becomes a
``GatewayError`` carrying a canonical status code and a message. One table
(TF Serving's, compatibility.md §7) turns the code into an HTTP status; the app's
middleware renders ``{"error": message}``. Foreign errors (gRPC, aiohttp) are
translated once, at their boundary.
"""

from __future__ import annotations

import enum
import re


class Code(enum.IntEnum):
    """Canonical status codes; the numbers are gRPC's and tensorflow.error.Code's."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


# TF Serving's ToHTTPStatusCode (compatibility.md §7). Codes not listed map to 500.
HTTP_STATUS: dict[Code, int] = {
    Code.OK: 200,
    Code.CANCELLED: 499,
    Code.UNKNOWN: 500,
    Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504,
    Code.NOT_FOUND: 404,
    Code.ALREADY_EXISTS: 409,
    Code.PERMISSION_DENIED: 403,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.FAILED_PRECONDITION: 400,
    Code.ABORTED: 409,
    Code.OUT_OF_RANGE: 400,
    Code.UNIMPLEMENTED: 501,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
    Code.DATA_LOSS: 500,
    Code.UNAUTHENTICATED: 401,
}


def http_status(code: int) -> int:
    """The HTTP status TF Serving answers for a canonical code."""
    try:
        return HTTP_STATUS[Code(code)]
    except ValueError:
        return 500


_SURROGATES = re.compile("[\ud800-\udfff]")


def renderable(message: str) -> str:
    """The message with U+FFFD for any surrogate, so that it can be written as JSON.

    Messages echo client input, and the JSON parser hands bytes that are not UTF-8
    back as surrogate escapes (compatibility.md §3); TF Serving would echo the raw
    bytes, an answer that is not UTF-8 (compatibility.md §10).
    """
    if message.isascii():
        return message
    return _SURROGATES.sub("\ufffd", message)


class GatewayError(Exception):
    """A failure with a canonical code and the message the client will see."""

    def __init__(self, code: Code, message: str, *, from_backend: bool = False) -> None:
        message = renderable(message)
        super().__init__(message)
        self.code = code
        self.message = message
        # True when the ModelServer reported it (counted per backend in metrics).
        self.from_backend = from_backend

    @property
    def http_status(self) -> int:
        return http_status(self.code)

    def __repr__(self) -> str:
        return f"GatewayError({self.code.name}, {self.message!r})"


def invalid_argument(message: str) -> GatewayError:
    return GatewayError(Code.INVALID_ARGUMENT, message)
