"""The emulator's own certificate authority and the one leaf certificate it serves SFMC's names with.

Made with the ``cryptography`` package on first use, in a directory of the user's (next to the database
by default, or ``--ca-dir``); never shipped. Files:

- ``ca.pem`` / ``ca-key.pem``: the authority (ECDSA P-256, ten years). Trust ``ca.pem`` in a client.
- ``leaf.pem`` / ``leaf-key.pem``: a server certificate for every name in ``domain/hosts.certificate_names``
  (``*.auth|rest|soap.marketingcloudapis.com``, the legacy hosts, ``localhost`` and ``127.0.0.1``); made
  again when it is missing, expires within a month, or the list of names changed.
- ``bundle.pem``: the system's (certifi's) authorities plus ``ca.pem``, for ``SSL_CERT_FILE`` and
  ``REQUESTS_CA_BUNDLE``, which replace a runtime's trust store rather than add to it.

Several processes may start on one directory at once (parallel tests): a file lock serialises creation.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import os
import ssl
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..domain.hosts import certificate_names

CA_NAME = "SFMC Emulator Local CA"
CA_DAYS = 3650
LEAF_DAYS = 365  # clients refuse server certificates valid for much longer
RENEW_BEFORE = dt.timedelta(days=30)
ADDRESSES = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class LocalCA:
    directory: Path

    @property
    def cert_path(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def leaf_path(self) -> Path:
        return self.directory / "leaf.pem"

    @property
    def leaf_key_path(self) -> Path:
        return self.directory / "leaf-key.pem"

    @property
    def bundle_path(self) -> Path:
        return self.directory / "bundle.pem"

    def pem(self) -> str:
        return self.cert_path.read_text()

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context presenting the leaf certificate (TLS 1.2 and later)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.leaf_path, self.leaf_key_path)
        context.set_alpn_protocols(["http/1.1"])
        return context


def default_ca_dir(database: str) -> Path:
    """Next to the database file (the emulator's data directory); the working directory for ``:memory:``."""
    if database and database != ":memory:":
        return Path(database).resolve().parent / "sfmc-emulator-ca"
    return Path.cwd() / "sfmc-emulator-ca"


def ensure_ca(directory: str | os.PathLike) -> LocalCA:
    """The authority in ``directory``, made (with its leaf and bundle) where missing or out of date."""
    ca = LocalCA(Path(directory).resolve())
    ca.directory.mkdir(parents=True, exist_ok=True)
    with _locked(ca.directory / ".lock"):
        now = dt.datetime.now(dt.UTC)
        key_path = ca.directory / "ca-key.pem"
        if not (ca.cert_path.exists() and key_path.exists()):
            key = ec.generate_private_key(ec.SECP256R1())
            _write(key_path, _key_pem(key), private=True)
            _write(ca.cert_path, _ca_certificate(key, now).public_bytes(serialization.Encoding.PEM))
            ca.leaf_path.unlink(missing_ok=True)
            ca.bundle_path.unlink(missing_ok=True)
        ca_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(ca.cert_path.read_bytes())
        if _leaf_outdated(ca, now):
            leaf_key = ec.generate_private_key(ec.SECP256R1())
            leaf = _leaf_certificate(ca_cert, ca_key, leaf_key, now)
            _write(ca.leaf_key_path, _key_pem(leaf_key), private=True)
            _write(ca.leaf_path, leaf.public_bytes(serialization.Encoding.PEM))
        if not ca.bundle_path.exists():
            _write(ca.bundle_path, _system_bundle() + ca.cert_path.read_bytes())
    return ca


@contextmanager
def _locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _system_bundle() -> bytes:
    try:
        import certifi

        return Path(certifi.where()).read_bytes().rstrip(b"\n") + b"\n"
    except (ImportError, OSError):
        return b""


def _ca_certificate(key, now: dt.datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _alt_names() -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in certificate_names()]
    return names + [x509.IPAddress(ipaddress.ip_address(a)) for a in ADDRESSES]


def _leaf_certificate(ca_cert: x509.Certificate, ca_key, leaf_key, now: dt.datetime) -> x509.Certificate:
    public = leaf_key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SFMC emulator")]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.SubjectAlternativeName(_alt_names()), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _leaf_outdated(ca: LocalCA, now: dt.datetime) -> bool:
    if not (ca.leaf_path.exists() and ca.leaf_key_path.exists()):
        return True
    try:
        leaf = x509.load_pem_x509_certificate(ca.leaf_path.read_bytes())
        ca_cert = x509.load_pem_x509_certificate(ca.cert_path.read_bytes())
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return True
    return (
        leaf.issuer != ca_cert.subject
        or leaf.not_valid_after_utc - now < RENEW_BEFORE
        or set(names) != set(_alt_names())
    )
