"""Serving a local org over HTTPS: a self-signed certificate made at start, a threaded server.

:func:`start` runs the server in a background thread (tests, the demo, benchmarks);
:func:`serve_forever` runs it in the foreground (``lead2loyalty localorg serve``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from simple_salesforce.api import Salesforce
from werkzeug.serving import BaseWSGIServer, make_server

from localorg.app import create_app
from localorg.org import LocalOrg

log = logging.getLogger(__name__)


@dataclass
class KeyPair:
    """A PEM certificate and its private key, on disk."""

    cert: Path
    key: Path


def make_certificate(
    directory: Path, name: str, *, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> KeyPair:
    """A self-signed certificate (and key) valid for ``hosts``, written under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    alt: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pair = KeyPair(directory / f"{name}.crt", directory / f"{name}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pair.key.chmod(0o600)
    return pair


def client_credentials_token(
    session: requests.Session, login_url: str, client_id: str, client_secret: str
) -> dict[str, Any]:
    """The OAuth response body of a client-credentials sign-in at ``login_url``."""
    response = session.post(
        login_url + "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        },
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Running:
    """A local org being served: where it is, how to connect, how to stop it."""

    org: LocalOrg
    server: BaseWSGIServer
    thread: threading.Thread | None
    tls: KeyPair
    jwt: KeyPair

    @property
    def url(self) -> str:
        """The org's base URL (instance and login URL at once)."""
        return self.org.instance_url

    def connection_info(self) -> dict[str, object]:
        """The JSON line ``localorg serve`` prints: everything a client needs."""
        info = self.org.connection_info(self.tls.cert)
        info["jwt_private_key"] = str(self.jwt.key)
        return info

    def session(self) -> requests.Session:
        """A requests session that trusts this server's certificate and ignores the environment."""
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.tls.cert)
        return session

    def token(self, session: requests.Session) -> dict[str, Any]:
        """A client-credentials token from the org (the OAuth response body)."""
        config = self.org.config
        return client_credentials_token(session, self.url, config.client_id, config.client_secret)

    def salesforce(self, session: requests.Session | None = None) -> Salesforce:
        """Unmodified simple-salesforce logged in to the org: the baseline for benchmarks."""
        session = session or self.session()
        token = self.token(session)
        return Salesforce(
            instance_url=token["instance_url"], session_id=token["access_token"], session=session
        )

    def stop(self) -> None:
        """Stop serving and wait for the server thread."""
        self.server.shutdown()
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.server.server_close()


def prepare(org: LocalOrg, host: str, port: int, cert_dir: Path) -> Running:
    """Bind the server (port 0 picks a free one) and register the connected app's certificate."""
    tls = make_certificate(cert_dir, "localorg-tls", hosts=(host, "localhost", "127.0.0.1"))
    jwt_pair = make_certificate(cert_dir, "localorg-jwt")
    org.config.jwt_certificate_pem = jwt_pair.cert.read_bytes()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert, tls.key)
    server = make_server(host, port, create_app(org), threaded=True, ssl_context=context)
    org.instance_url = f"https://{host}:{server.server_port}"
    # Werkzeug logs each request at INFO; a benchmark makes hundreds of thousands.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return Running(org, server, None, tls, jwt_pair)


def start(org: LocalOrg, cert_dir: Path, host: str = "127.0.0.1", port: int = 0) -> Running:
    """Serve ``org`` from a background thread; returns once it accepts connections."""
    running = prepare(org, host, port, cert_dir)
    thread = threading.Thread(target=running.server.serve_forever, name="localorg", daemon=True)
    thread.start()
    running.thread = thread
    return running
