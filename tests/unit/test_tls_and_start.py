"""Unit tests of the TLS settings, ``ssoidc dev-cert``'s certificates, the ``/start`` page and the
``AWS_DATA_PATH`` endpoint rule sets of ``ssoidc cli-endpoints`` (resolved by botocore's own resolver)."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import stat
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import botocore.session
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette

from ssoidc.aws.cli_endpoints import MODELS, SERVICES, write_data_path
from ssoidc.devcert import DevCert, make_dev_cert, usable
from ssoidc.errors import ConfigError
from ssoidc.model import Instance
from ssoidc.oauth.start_url import default_start_url
from ssoidc.settings import Settings, settings_from_env
from ssoidc.web.start import StartPage

NOW = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.UTC)


# -- settings ---------------------------------------------------------------------------------------------------


def test_tls_makes_the_default_public_url_https(tmp_path: Path) -> None:
    plain = Settings(port=8443)
    assert plain.base_url == "http://127.0.0.1:8443"
    tls = Settings(port=8443, tls_certfile=tmp_path / "c.pem", tls_keyfile=tmp_path / "k.pem").validate()
    assert tls.tls and tls.base_url == "https://127.0.0.1:8443"
    assert Settings(host="::1", port=8443, tls_certfile=Path("c"), tls_keyfile=Path("k")).base_url == (
        "https://[::1]:8443"
    )
    public = replace(tls, public_url="https://localhost:8443/")
    assert public.base_url == "https://localhost:8443"
    assert public.signed_hosts is not None and public.signed_hosts[:2] == ("localhost:8443", "127.0.0.1:8443")
    on_443 = replace(tls, public_url="https://sso.example.com", host="0.0.0.0")
    assert on_443.signed_hosts == ("sso.example.com", "sso.example.com:443")


@pytest.mark.parametrize(
    ("given", "missing"),
    [("SSOIDC_TLS_CERTFILE", "SSOIDC_TLS_KEYFILE"), ("SSOIDC_TLS_KEYFILE", "SSOIDC_TLS_CERTFILE")],
)
def test_a_certificate_without_its_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, given: str, missing: str
) -> None:
    monkeypatch.setenv(given, "/some/file.pem")
    with pytest.raises(ConfigError, match=f"{given} .* needs {missing}"):
        settings_from_env()


# -- dev-cert ----------------------------------------------------------------------------------------------------


def test_dev_cert_inside_a_new_data_dir_leaves_it_private(tmp_path: Path) -> None:
    """``make run-tls`` makes the certificate in ``<data dir>/tls`` before the server first starts: every directory
    it creates is 0700 and every file 0600, so the server's private-data-dir check has nothing to tighten."""
    root = tmp_path / "data"
    make_dev_cert(root / "tls", now=NOW, days=1)
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}
    assert {m for p, m in modes.items() if p.is_dir()} == {0o700}
    assert {m for p, m in modes.items() if p.is_file()} == {0o600}


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> DevCert:
    return make_dev_cert(tmp_path_factory.mktemp("tls") / "tls", now=NOW, days=60)


def test_the_dev_certificate_is_for_loopback_only(dev: DevCert) -> None:
    assert sorted(p.name for p in dev.directory.iterdir()) == ["ca.pem", "cert.pem", "key.pem"]  # no CA key
    assert {stat.S_IMODE(p.stat().st_mode) for p in (dev.key, dev.cert, dev.ca)} == {0o600}
    assert stat.S_IMODE(dev.directory.stat().st_mode) == 0o700
    ca = x509.load_pem_x509_certificate(dev.ca.read_bytes())
    leaf, chained_ca = x509.load_pem_x509_certificates(dev.cert.read_bytes())
    assert chained_ca == ca
    leaf.verify_directly_issued_by(ca)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(a) for a in sans.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.not_valid_after_utc == NOW + datetime.timedelta(days=60)
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert set(constraints.value.permitted_subtrees or ()) == {
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
        x509.IPAddress(ipaddress.ip_network("::1/128")),
    }
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca and basic.path_length == 0


def test_a_certificate_for_another_name_under_such_a_ca_is_not_trusted(tmp_path: Path) -> None:
    """What the name constraints buy: a CA built as dev-cert builds its own (whose key, unlike dev-cert's, the
    test keeps) cannot vouch for ``example.com`` to a client that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "constrained CA")])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    permitted: list[x509.GeneralName] = [x509.DNSName("localhost")]
    ca = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.NameConstraints(permitted, None), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(name).public_key(leaf_key.public_key())
        .serial_number(2).not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("example.com")]), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    verifier = PolicyBuilder().store(Store([ca])).time(NOW + datetime.timedelta(hours=1))
    with pytest.raises(VerificationError):
        verifier.build_server_verifier(x509.DNSName("example.com")).verify(leaf, [])


def test_a_usable_certificate_is_kept_and_a_broken_one_is_not(dev: DevCert, tmp_path: Path) -> None:
    assert usable(dev, NOW)
    assert usable(dev, NOW + datetime.timedelta(days=29))
    assert not usable(dev, NOW + datetime.timedelta(days=31))  # 29 days left: under RENEW_BEFORE_DAYS
    other = make_dev_cert(tmp_path / "other", now=NOW, days=60)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "ca.pem").write_bytes(dev.ca.read_bytes())
    (mixed / "cert.pem").write_bytes(dev.cert.read_bytes())
    (mixed / "key.pem").write_bytes(other.key.read_bytes())  # the key of another certificate
    assert not usable(DevCert(mixed), NOW)
    assert not usable(DevCert(tmp_path / "missing"), NOW)
    with pytest.raises(ValueError, match="days"):
        make_dev_cert(tmp_path / "long", now=NOW, days=398)


def test_a_tls_server_with_the_dev_certificate_is_verified_by_name(tmp_path: Path) -> None:
    """A real TLS handshake: the chain and key serve, and a client trusting ``ca.pem`` accepts localhost,
    127.0.0.1 and ::1 and refuses any other name."""
    files = make_dev_cert(tmp_path / "tls", now=datetime.datetime.now(datetime.UTC))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(files.cert, files.key)
    import socket

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            for _ in range(4):
                conn, _addr = listener.accept()
                try:
                    with server_ctx.wrap_socket(conn, server_side=True) as tls:
                        tls.recv(1)
                except (ssl.SSLError, OSError):
                    pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        for name in ("localhost", "127.0.0.1", "::1"):
            with (
                socket.create_connection(("127.0.0.1", port)) as raw,
                files.context().wrap_socket(raw, server_hostname=name) as tls,
            ):
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
                tls.sendall(b"x")
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            files.context().wrap_socket(raw, server_hostname="example.com")
        thread.join(10)


# -- /start ------------------------------------------------------------------------------------------------------


class FakeSnapshots:
    def __init__(self, instance: Instance) -> None:
        self.current = type("Snapshot", (), {"instance": instance})()

    async def refresh(self) -> Any:
        return self.current


INSTANCE = Instance("arn:aws:sso:::instance/ssoins-0000000000000001", "d-1234567890", "123456789012", "i")


@pytest.fixture
def start_client() -> Iterator[tuple[httpx.AsyncClient, FakeSnapshots]]:
    snapshots = FakeSnapshots(INSTANCE)
    app = Starlette(routes=StartPage(snapshots).routes())  # type: ignore[arg-type]
    yield httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://ssoidc.test"), snapshots


@pytest.mark.anyio
async def test_start_redirects_once_and_a_deleted_instance_has_none(
    start_client: tuple[httpx.AsyncClient, FakeSnapshots],
) -> None:
    client, snapshots = start_client
    async with client:
        for method in ("GET", "HEAD"):
            for path in ("/start", "/start/", "/start?x=1"):
                resp = await client.request(method, path)
                assert resp.status_code == 302
                assert resp.headers["location"] == "https://d-1234567890.awsapps.com/start"
                assert resp.headers["cache-control"] == "no-store"
        assert default_start_url("d-1234567890") == "https://d-1234567890.awsapps.com/start"
        snapshots.current.instance = replace(INSTANCE, status="DELETED")
        resp = await client.get("/start")
        assert resp.status_code == 404
        assert "location" not in resp.headers


# -- cli-endpoints -----------------------------------------------------------------------------------------------


def test_the_rule_sets_send_sso_oidc_and_sso_to_the_endpoint(tmp_path: Path) -> None:
    """botocore's own endpoint resolver, reading ``AWS_DATA_PATH`` first, resolves both services to ssoidc in
    every region, and an explicit ``endpoint_url`` still wins."""
    root = write_data_path(tmp_path / "aws-data", "https://localhost:8443/")
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*.json")}
    assert len(before) == len(SERVICES) + len(MODELS)
    # created private, as the data dir keeps its aws-data (nothing for the next start to tighten)
    modes = {p.relative_to(root): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}
    assert {m for p, m in modes.items() if (root / p).is_dir()} == {0o700}
    assert {m for p, m in modes.items() if (root / p).is_file()} == {0o600}
    write_data_path(root, "https://localhost:8443")  # the same text: nothing rewritten
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.json")} == before
    session = botocore.session.Session()
    session.set_config_variable("data_path", str(root))
    for service in SERVICES:
        for region in ("us-east-1", "eu-west-3"):
            client = session.create_client(
                service, region_name=region, aws_access_key_id="a", aws_secret_access_key="b"
            )
            resolved = client._ruleset_resolver.construct_endpoint(
                operation_model=client.meta.service_model.operation_model(
                    client.meta.service_model.operation_names[0]
                ),
                call_args={},
                request_context={},
            )
            assert resolved.url == "https://localhost:8443", (service, region)
        explicit = session.create_client(service, region_name="us-east-1", endpoint_url="https://other:1")
        assert explicit.meta.endpoint_url == "https://other:1"
    doc = json.loads((root / "sso-oidc" / "2019-06-10" / "endpoint-rule-set-1.json").read_text())
    assert set(doc["parameters"]) >= {"Region", "Endpoint"}
