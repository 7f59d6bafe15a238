"""Listening sockets checked before start-up: a port that is taken or an address that
does not resolve is reported in one line before any work (models loaded, workers
spawned) is done."""

from __future__ import annotations

import os
import socket


class ListenError(Exception):
    """The address cannot be listened on; the message says why, in one line."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def os_reason(exc: OSError) -> str:
    """ "Address already in use", not Python's "[Errno 98] error while attempting ..."."""
    if isinstance(exc, socket.gaierror):
        return exc.strerror or str(exc)
    if isinstance(exc.errno, int) and exc.errno > 0:
        return os.strerror(exc.errno)
    return exc.strerror or str(exc)


def check_can_listen(host: str, port: int, *, reuse_port: bool = False) -> None:
    """Bind (and release) every address ``host`` resolves to, as the server will."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in addresses:
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                sock.bind(address)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {os_reason(exc)}") from None
