"""TLS both ways, with certificates made here (trustme): HTTPS on the gateway's
port with optional or required client certificates, and TLS/mTLS from the
gateway to a bundled ModelServer started with its --ssl_* flags."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.gateway_proc import running_gateway
from tests.http import post
from tests.security.helpers import https_request, raw_exchange, status_of
from tests.servers import running_modelserver

ROW = b'{"instances": [[1.0]]}'
MODELSERVER_NAME = "modelserver.test"  # not the address dialled: needs the name override


@dataclass(frozen=True)
class Pems:
    ca: Path  # signs the servers' certificates
    server_cert: Path
    server_key: Path
    client_ca: Path  # signs the client certificates
    client_cert: Path
    client_key: Path
    modelserver_cert: Path
    modelserver_key: Path


def _write_cert(cert: trustme.LeafCert, cert_path: Path, key_path: Path) -> None:
    cert_path.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key_path))


@pytest.fixture(scope="module")
def client_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def client_cert(client_ca: trustme.CA) -> trustme.LeafCert:
    return client_ca.issue_cert("gateway-client.test")


@pytest.fixture(scope="module")
def pems(
    ca: trustme.CA,
    client_ca: trustme.CA,
    client_cert: trustme.LeafCert,
    tmp_path_factory: pytest.TempPathFactory,
) -> Pems:
    tmp = tmp_path_factory.mktemp("tls")
    pems = Pems(*(tmp / name for name in ("ca", "sc", "sk", "cca", "cc", "ck", "mc", "mk")))
    ca.cert_pem.write_to_path(str(pems.ca))
    client_ca.cert_pem.write_to_path(str(pems.client_ca))
    _write_cert(ca.issue_cert("127.0.0.1", "localhost"), pems.server_cert, pems.server_key)
    _write_cert(client_cert, pems.client_cert, pems.client_key)
    _write_cert(ca.issue_cert(MODELSERVER_NAME), pems.modelserver_cert, pems.modelserver_key)
    return pems


def client_context(ca: trustme.CA, cert: trustme.LeafCert | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if cert is not None:
        cert.configure_cert(context)
    return context


def https_healthy(context: ssl.SSLContext) -> Callable[[str], bool]:
    def healthy(url: str) -> bool:
        return https_request(url, "GET", "/healthz", context, timeout=2).status == 200

    return healthy


def https_gateway(
    fake_target: str, pems: Pems, context: ssl.SSLContext, *extra: str
) -> Iterator[str]:
    args = [
        f"--model-server={fake_target}",
        f"--tls-cert-file={pems.server_cert}",
        f"--tls-key-file={pems.server_key}",
        *extra,
    ]
    with running_gateway(*args, scheme="https", healthy=https_healthy(context)) as (_, url):
        yield url


# --- HTTPS on the gateway's port ---------------------------------------------


@pytest.fixture(scope="module")
def tls_gw(fake_target: str, pems: Pems, ca: trustme.CA) -> Iterator[str]:
    yield from https_gateway(fake_target, pems, client_context(ca))


def test_https_serves_with_a_verified_certificate(tls_gw: str, ca: trustme.CA) -> None:
    reply = https_request(tls_gw, "POST", "/v1/models/ok:predict", client_context(ca), ROW)
    assert reply.status == 200, reply.body
    assert "predictions" in reply.json()


def test_an_untrusting_client_refuses_the_gateway(tls_gw: str) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        https_request(tls_gw, "GET", "/healthz", ssl.create_default_context())


def test_plain_http_to_the_https_port_gets_no_answer(tls_gw: str) -> None:
    raw = raw_exchange(tls_gw, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(raw) != 200


# --- client certificates -------------------------------------------------------


@pytest.fixture(scope="module")
def mtls_gw(
    fake_target: str, pems: Pems, ca: trustme.CA, client_cert: trustme.LeafCert
) -> Iterator[str]:
    context = client_context(ca, client_cert)
    yield from https_gateway(fake_target, pems, context, f"--tls-client-ca-file={pems.client_ca}")


def _refused(url: str, context: ssl.SSLContext) -> bool:
    try:
        https_request(url, "GET", "/healthz", context, timeout=5)
    except (ssl.SSLError, OSError, http.client.HTTPException):
        return True
    return False


def test_required_client_certificate(
    mtls_gw: str, ca: trustme.CA, client_cert: trustme.LeafCert
) -> None:
    good = https_request(
        mtls_gw, "POST", "/v1/models/ok:predict", client_context(ca, client_cert), ROW
    )
    assert good.status == 200
    assert _refused(mtls_gw, client_context(ca))  # no certificate
    stranger = ca.issue_cert("stranger.test")  # signed, but not by the client CA
    assert _refused(mtls_gw, client_context(ca, stranger))


def test_optional_client_certificate(
    fake_target: str, pems: Pems, ca: trustme.CA, client_cert: trustme.LeafCert
) -> None:
    extra = (f"--tls-client-ca-file={pems.client_ca}", "--tls-client-auth=optional")
    for url in https_gateway(fake_target, pems, client_context(ca), *extra):
        assert https_request(url, "GET", "/healthz", client_context(ca)).status == 200
        with_cert = client_context(ca, client_cert)
        assert https_request(url, "GET", "/healthz", with_cert).status == 200
        stranger = client_context(ca, ca.issue_cert("stranger.test"))
        assert _refused(url, stranger)  # a certificate that is shown must verify


# --- TLS and mTLS to the ModelServer -------------------------------------------


@pytest.fixture(scope="module")
def tls_modelserver(pems: Pems, tfs_models: Path) -> Iterator[str]:
    args = [
        "--model_name=half_plus_two",
        f"--model_base_path={tfs_models / 'saved_model_half_plus_two_cpu'}",
        f"--ssl_cert_file={pems.modelserver_cert}",
        f"--ssl_key_file={pems.modelserver_key}",
        f"--ssl_client_ca_file={pems.client_ca}",
    ]
    with running_modelserver(args) as (_, target):
        yield target


def test_mtls_to_the_modelserver_from_a_backend_table(
    tls_modelserver: str, pems: Pems, tmp_path: Path
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        f"""
[backends.secure]
target = "{tls_modelserver}"
tls_ca_file = "{pems.ca}"
tls_cert_file = "{pems.client_cert}"
tls_key_file = "{pems.client_key}"
tls_server_name = "{MODELSERVER_NAME}"

[models.half_plus_two]
backend = "secure"
"""
    )
    with running_gateway(f"--config={config}") as (_, url):
        reply = post(url, "/v1/models/half_plus_two:predict", '{"instances": [1.0, 2.0, 5.0]}')
        assert reply.status == 200, reply.body
        assert reply.json() == {"predictions": [2.5, 3.0, 4.5]}


def test_mtls_to_the_default_backend_from_knobs(tls_modelserver: str, pems: Pems) -> None:
    args = [
        f"--model-server={tls_modelserver}",
        f"--model-server-tls-ca-file={pems.ca}",
        f"--model-server-tls-cert-file={pems.client_cert}",
        f"--model-server-tls-key-file={pems.client_key}",
        f"--model-server-tls-server-name={MODELSERVER_NAME}",
    ]
    with running_gateway(*args) as (_, url):
        reply = post(url, "/v1/models/half_plus_two:predict", '{"instances": [1.0]}')
        assert reply.status == 200, reply.body


BROKEN_BACKEND_TLS = {
    "plaintext": [],
    "no-client-certificate": [
        "--model-server-tls-ca-file={ca}",
        f"--model-server-tls-server-name={MODELSERVER_NAME}",
    ],
    "no-name-override": [
        "--model-server-tls-ca-file={ca}",
        "--model-server-tls-cert-file={cc}",
        "--model-server-tls-key-file={ck}",
    ],
    "untrusted-ca": [
        "--model-server-tls-ca-file={cca}",
        "--model-server-tls-cert-file={cc}",
        "--model-server-tls-key-file={ck}",
        f"--model-server-tls-server-name={MODELSERVER_NAME}",
    ],
}


@pytest.mark.parametrize("case", sorted(BROKEN_BACKEND_TLS))
def test_broken_backend_tls_is_503_without_addresses(
    tls_modelserver: str, pems: Pems, case: str
) -> None:
    names = {"ca": pems.ca, "cc": pems.client_cert, "ck": pems.client_key, "cca": pems.client_ca}
    args = [arg.format(**names) for arg in BROKEN_BACKEND_TLS[case]]
    with running_gateway(f"--model-server={tls_modelserver}", "--timeout-s=5", *args) as (_, url):
        reply = post(url, "/v1/models/half_plus_two:predict", '{"instances": [1.0]}')
        assert reply.status == 503, reply.body
        assert reply.json() == {"error": "The ModelServer is unavailable; try again later"}
        port = tls_modelserver.rsplit(":", 1)[1]
        assert b"127.0.0.1" not in reply.body and port.encode() not in reply.body
