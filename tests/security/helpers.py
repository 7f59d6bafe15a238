"""HTTPS and raw-socket clients for the security tests."""

from __future__ import annotations

import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

from tests.http import Reply, request


def https_request(
    base_url: str,
    method: str,
    path: str,
    context: ssl.SSLContext,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Reply:
    return request(base_url, method, path, body, headers, timeout, context)


def raw_exchange(base_url: str, data: bytes, timeout: float = 10.0) -> bytes:
    """Send bytes as they are; return everything the server answers until it closes
    (or b"" when it resets the connection)."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            return read_until_close(sock)
        except (ConnectionResetError, BrokenPipeError):
            return b""


def read_until_close(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def status_of(raw: bytes) -> int:
    """The status code of the first response in raw bytes (0 when there is none)."""
    if not raw.startswith(b"HTTP/1."):
        return 0
    return int(raw.split(b" ", 2)[1])


def head_and_body(raw: bytes) -> tuple[bytes, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return head, body


def json_body(raw: bytes) -> Any:
    import json

    return json.loads(head_and_body(raw)[1])
