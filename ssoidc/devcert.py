"""A development certificate authority and a server certificate for this machine (``ssoidc dev-cert``).

``aws sso login`` refuses an http start URL, and clients should verify the server they send passwords and tokens
to, so local use needs TLS with a certificate the clients trust. :func:`make_dev_cert` writes three PEM files:

* ``ca.pem``: a self-signed CA certificate (RFC 5280: basicConstraints CA, pathLenConstraint 0, keyUsage
  keyCertSign/cRLSign, subject and authority key identifiers). Its **name constraints** (RFC 5280 section
  4.2.1.10, critical) permit only ``localhost`` and the loopback addresses ``127.0.0.0/8`` and ``::1``, so even a
  copy of it that a user added to a trust store cannot vouch for any other host. Its private key is never written:
  it signs the one server certificate below and is discarded, so nothing else can ever be signed by it;
* ``cert.pem``: the server certificate, for ``localhost``, ``127.0.0.1`` and ``::1`` (subjectAltName, RFC 6125;
  no name in the subject's CN is relied on), extendedKeyUsage serverAuth, valid ``days`` days (at most 397, the
  CA/Browser Forum limit browsers enforce), followed by ``ca.pem`` (the chain a TLS server sends);
* ``key.pem``: the server's private key (ECDSA P-256, PKCS #8, unencrypted), created ``0600``.

Clients verify against ``ca.pem`` (``AWS_CA_BUNDLE``, ``aws --ca-bundle``, boto3 ``verify=``,
``NODE_EXTRA_CA_CERTS``); ``ssoidc serve --tls-certfile cert.pem --tls-keyfile key.pem`` serves with the others.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ssoidc.datadir import create_private

HOSTS = ("localhost",)
ADDRESSES = ("127.0.0.1", "::1")
MAX_DAYS = 397
RENEW_BEFORE_DAYS = 30
"""An existing certificate is kept while it is valid for longer than this."""


@dataclass(frozen=True, slots=True)
class DevCert:
    """The three files of a development certificate directory."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def cert(self) -> Path:
        return self.directory / "cert.pem"

    @property
    def key(self) -> Path:
        return self.directory / "key.pem"

    def context(self) -> ssl.SSLContext:
        """A client TLS context that trusts ``ca.pem`` only (as ``AWS_CA_BUNDLE`` makes the AWS CLI do)."""
        return ssl.create_default_context(cafile=str(self.ca))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ssoidc development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def usable(files: DevCert, now: datetime.datetime) -> bool:
    """True if all three files exist and the server certificate is valid for more than ``RENEW_BEFORE_DAYS``, is
    for every name of ``HOSTS`` and ``ADDRESSES``, and matches the key."""
    try:
        ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
        cert = x509.load_pem_x509_certificates(files.cert.read_bytes())[0]
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    names = set(sans.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    return (
        cert.not_valid_after_utc - now > datetime.timedelta(days=RENEW_BEFORE_DAYS)
        and names >= set(HOSTS)
        and ips >= set(ADDRESSES)
        and cert.public_key() == key.public_key()
    )


def make_dev_cert(directory: Path, *, now: datetime.datetime, days: int = 365) -> DevCert:
    """Write a new CA and server certificate to ``directory`` (created ``0700``, with any missing parents), replacing
    any there. Every file is ``0600``: ``make run-tls`` puts them inside the data directory, which the server keeps
    private (ssoidc/datadir.py) and would otherwise tighten, with a warning, at its first start."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    for missing in reversed([d for d in (directory, *directory.parents) if not d.exists()]):
        missing.mkdir(mode=0o700, exist_ok=True)
    files = DevCert(directory)
    start = now - datetime.timedelta(minutes=5)  # a client whose clock is a little behind
    end = now + datetime.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"ssoidc development CA {now:%Y-%m-%d %H:%M:%S}")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    permitted: list[x509.GeneralName] = [x509.DNSName(h) for h in HOSTS]
    permitted += [
        x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
        x509.IPAddress(ipaddress.ip_network("::1/128")),
    ]
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
        .add_extension(
            x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None), critical=True
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(h) for h in HOSTS]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ADDRESSES]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
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
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    del ca_key  # never written: this CA signs nothing else

    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for path, data in (
        (files.key, key_pem),
        (files.cert, cert.public_bytes(serialization.Encoding.PEM) + ca_pem),
        (files.ca, ca_pem),
    ):
        path.unlink(missing_ok=True)  # a fresh 0600 file, whatever mode an old one had
        create_private(path)
        path.write_bytes(data)
    return files
