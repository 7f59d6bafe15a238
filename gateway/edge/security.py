"""Security at the edge: who may call (API keys, HTTP Basic), CORS answers, the HTTPS context.

Everything here is built once from ``Settings`` when the app starts; a request
costs one SHA-256 of the presented secret, a dict lookup and a constant-time
comparison of digests. Nothing here imports aiohttp or grpc: the app turns
the answers into responses.

Auth (off unless ``[auth.keys]`` or ``[auth.users]`` exist):

- ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` name an API key's
  principal; ``Authorization: Basic base64(user:password)`` a user.
- Missing or wrong credentials are 401 with one ``WWW-Authenticate``
  challenge per configured scheme; a principal outside the allow list of the
  deployment (when it has one), else of the model, else ``[auth] allow``, is 403.
"""

from __future__ import annotations

import binascii
import hmac
import ssl
from base64 import b64decode
from collections.abc import Callable, Mapping

from gateway.config import ConfigError, Settings, cors_list, secret_digest
from gateway.core.calls import Target
from gateway.core.errors import Code, GatewayError

# Compared against when a Basic user is unknown, so both paths cost the same.
_NO_USER_DIGEST = secret_digest(b"\x00no such user\x00")
_NO_KEY_DIGEST = secret_digest(b"\x00no such key\x00")


class Unauthenticated(GatewayError):
    """401; the challenges become ``WWW-Authenticate`` headers."""

    def __init__(self, message: str, challenges: tuple[str, ...]) -> None:
        super().__init__(Code.UNAUTHENTICATED, message)
        self.challenges = challenges


def _header_bytes(value: str) -> bytes:
    # aiohttp decodes header bytes as UTF-8 with surrogateescape; this undoes it exactly.
    return value.encode("utf-8", "surrogateescape")


class Authenticator:
    """API keys and Basic users -> principal names; allow lists -> 403."""

    def __init__(self, settings: Settings) -> None:
        auth = settings.auth
        self.enabled = auth.enabled
        self.open_paths = auth.open_paths
        self._keys = dict(auth.key_digests)
        self._users = dict(auth.user_digests)
        self._default = auth.allow
        self._models = {m.name: m.auth for m in settings.models.values() if m.auth is not None}
        self._deployments = {
            d.id: d.auth for d in settings.deployments.values() if d.auth is not None
        }
        self.challenges = self._challenges(auth.realm)
        self._schemes: dict[str, Callable[[str], str | None]] = {
            "bearer": self._bearer,
            "basic": self._basic,
        }

    def _challenges(self, realm: str) -> tuple[str, ...]:
        offered = (
            (self._keys, f'Bearer realm="{realm}"'),
            (self._users, f'Basic realm="{realm}", charset="UTF-8"'),
        )
        return tuple(challenge for table, challenge in offered if table)

    def authenticate(self, headers: Mapping[str, str]) -> str:
        """The caller's principal; raises Unauthenticated (never echoing what was sent)."""
        scheme, _, credentials = headers.get("Authorization", "").strip().partition(" ")
        check = self._schemes.get(scheme.lower())
        if check is not None:
            principal = check(credentials.strip())
        elif "X-API-Key" in headers:
            principal = self._bearer(headers["X-API-Key"].strip())
        else:
            raise Unauthenticated("Authentication required", self.challenges)
        if principal is None:
            raise Unauthenticated("Invalid credentials", self.challenges)
        return principal

    def _bearer(self, key: str) -> str | None:
        digest = secret_digest(_header_bytes(key))
        principal = self._keys.get(digest)
        # The lookup is by digest; the comparison of digests is constant-time either way.
        stored = _NO_KEY_DIGEST if principal is None else digest
        return principal if hmac.compare_digest(stored, digest) else None

    def _basic(self, encoded: str) -> str | None:
        try:
            user, sep, password = b64decode(encoded, validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return None
        name = user.decode("utf-8", "replace")
        stored = self._users.get(name, _NO_USER_DIGEST)
        matches = hmac.compare_digest(stored, secret_digest(password))
        return name if matches and sep and name in self._users else None

    def authorize(self, principal: str, target: Target) -> None:
        """403 unless the principal is on the list that applies to this target."""
        allowed = self._models.get(target.model, self._default)
        if target.deployment is not None:
            allowed = self._deployments.get(target.deployment, allowed)
        if allowed is not None and principal not in allowed:
            what = "deployment" if target.deployment is not None else "model"
            raise GatewayError(Code.PERMISSION_DENIED, f"Not allowed to use this {what}")


class Cors:
    """The CORS answers: TF Serving's when no origins are configured (compatibility.md §1)."""

    def __init__(self, settings: Settings) -> None:
        origins = cors_list(settings.cors_origins)
        self.enabled = bool(origins)
        self._any = "*" in origins
        self._origins = frozenset(origins)
        self._common = {
            "Access-Control-Allow-Methods": ", ".join(cors_list(settings.cors_methods)),
            "Access-Control-Allow-Headers": ", ".join(cors_list(settings.cors_headers)),
        }
        self._max_age = str(settings.cors_max_age_s) if settings.cors_max_age_s > 0 else None

    def headers_for(self, origin: str | None) -> dict[str, str] | None:
        """Headers for a response to this Origin; None when it is not allowed."""
        if not self.enabled or not origin:
            return None
        if self._any:
            return {"Access-Control-Allow-Origin": "*", **self._common}
        if origin not in self._origins:
            return None
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", **self._common}

    def preflight(self, origin: str) -> tuple[int, dict[str, str]]:
        """Status and headers of an OPTIONS answer (the body is always empty)."""
        if "http://" not in origin and "https://" not in origin:
            return 400, {}  # TF Serving: no usable Origin -> bare 400
        if not self.enabled:
            return 200, {}
        headers = self.headers_for(origin)
        if headers is None:
            return 403, {}
        if self._max_age is not None:
            headers["Access-Control-Max-Age"] = self._max_age
        return 200, headers


_CLIENT_AUTH_MODES = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL}


def server_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """HTTPS for the gateway's port (TLS 1.2+), verifying client certificates if asked."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
        if settings.tls_client_ca_file is not None:
            context.load_verify_locations(settings.tls_client_ca_file)
            context.verify_mode = _CLIENT_AUTH_MODES[settings.tls_client_auth]
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"TLS files: {exc}") from None
    return context
