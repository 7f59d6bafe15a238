"""A plain HTTP client for tests: raw paths sent verbatim, any method, no raising on 4xx."""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        # TF Serving writes NaN/Infinity tokens; Python's json reads them too.
        return json.loads(self.body)


def request(
    base_url: str,
    method: str,
    path: str,
    body: bytes | str | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
    context: ssl.SSLContext | None = None,
) -> Reply:
    """One request on a fresh connection; HTTPS when ``context`` is given."""
    parts = urlsplit(base_url)
    conn = (
        http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        if context is None
        else http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=context
        )
    )
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def post(
    base_url: str, path: str, body: bytes | str | dict[str, Any] | None = None, **kw: Any
) -> Reply:
    return request(base_url, "POST", path, body, **kw)


def get(base_url: str, path: str, **kw: Any) -> Reply:
    return request(base_url, "GET", path, **kw)
