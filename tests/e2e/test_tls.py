"""``ssoidc serve --tls-certfile/--tls-keyfile`` with the certificate ``ssoidc dev-cert`` makes, driven by real
clients: boto3 with ``verify=<ca.pem>``, the AWS CLI v1 and v2 with ``--ca-bundle``, Debian's AWS CLI 2.9 pointed
at ssoidc by ``ssoidc cli-endpoints`` (``AWS_DATA_PATH``) with no ``--endpoint-url``, raw TLS sockets for the HTTP
limits, and ``GET|HEAD /start``.

Every CLI runs with a proxy that reaches nothing but this server (a dead one, or ``tests.helpers.guard_proxy``):
none of these requests can reach AWS.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError, SSLError

from ssoidc.devcert import DevCert
from ssoidc.oauth.start_url import default_start_url
from tests.helpers.cli import V1_AWS, V2_AWS, data_path, proxy_env
from tests.helpers.clients import make_client, sign_request
from tests.helpers.config import REDIRECT_URI, ROOT
from tests.helpers.guard_proxy import guard_proxy
from tests.helpers.servers import LiveServer, running_server


def run_ssoidc(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ssoidc", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env or dict(os.environ),
    )


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[DevCert, str]:
    """``ssoidc dev-cert --dir DIR`` run as a user would: its files and what it printed."""
    directory = tmp_path_factory.mktemp("tls") / "tls"
    out = run_ssoidc("dev-cert", "--dir", str(directory))
    assert out.returncode == 0, out.stderr
    return DevCert(directory.resolve()), out.stdout


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, cert: tuple[DevCert, str]) -> Iterator[LiveServer]:
    env = {"SSOIDC_HTTP_HEAD_TIMEOUT": "2"}  # short, for the stalled-handshake test; the clients send at once
    with running_server(tmp_path_factory.mktemp("tls-server"), tls=cert[0], extra_env=env) as server:
        yield server


def redeem(oidc: object, server: LiveServer, code: str) -> dict[str, object]:
    return dict(
        oidc.create_token_with_iam(  # type: ignore[attr-defined]
            clientId=server.apps["web"], grantType="authorization_code", code=code, redirectUri=REDIRECT_URI
        )
    )


def test_dev_cert_prints_the_serve_flags_and_the_ca_bundle(cert: tuple[DevCert, str]) -> None:
    files, printed = cert
    assert f"--tls-certfile {files.cert} --tls-keyfile {files.key}" in printed
    assert f"AWS_CA_BUNDLE={files.ca}" in printed
    assert f"--ca-bundle {files.ca}" in printed
    assert sorted(p.name for p in files.directory.iterdir()) == ["ca.pem", "cert.pem", "key.pem"]  # no CA key
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.directory.stat().st_mode) == 0o700


def test_the_server_serves_https_and_says_so(tls_server: LiveServer, cert: tuple[DevCert, str]) -> None:
    log = (tls_server.data_dir.parent / "server.log").read_text()
    assert f"ssoidc serving on https://localhost:{tls_server.port}" in log
    assert f"clients trust it with AWS_CA_BUNDLE={cert[0].ca}" in log
    assert (
        f"SigV4 requests must be signed for: localhost:{tls_server.port}, 127.0.0.1:{tls_server.port}" in log
    )
    assert (
        f"sso_start_url = {default_start_url(tls_server.configuration().instance.identity_store_id)}" in log
    )
    assert f"AWS_ENDPOINT_URL_SSO_OIDC=https://localhost:{tls_server.port}" in log
    discovery = httpx.get(
        f"{tls_server.url}/{tls_server.instance_arn.rsplit('/', 1)[1]}/.well-known/openid-configuration",
        verify=cert[0].context(),
    ).json()
    assert discovery["issuer"].startswith(f"https://localhost:{tls_server.port}/")


def test_boto3_verifies_the_server_against_the_dev_ca(
    tls_server: LiveServer, cert: tuple[DevCert, str]
) -> None:
    code = tls_server.mint_code()
    untrusting = make_client(tls_server)  # the default trust store (certifi) does not know the dev CA
    with pytest.raises(SSLError):
        redeem(untrusting, tls_server, code)
    trusting = make_client(tls_server, verify=str(cert[0].ca))
    tokens = redeem(trusting, tls_server, code)  # the refused connection consumed nothing
    assert str(tokens["accessToken"]).startswith("aoa")
    with pytest.raises(ClientError) as info:  # and a code is still single use over TLS
        redeem(trusting, tls_server, code)
    assert info.value.response["Error"]["Code"] == "InvalidGrantException"


def test_the_signed_host_must_be_the_https_public_url_s(
    tls_server: LiveServer, cert: tuple[DevCert, str]
) -> None:
    """The allowed hosts follow the https public URL: a request signed for ``localhost:<port>`` passes, the same
    request signed for another deployment's host is refused, both sent over TLS to this server."""
    body = b"{}"
    target = {
        "X-Amz-Target": "SWBExternalService.ListInstances",
        "Content-Type": "application/x-amz-json-1.1",
    }
    with httpx.Client(verify=cert[0].context()) as http:
        for host, status in ((f"localhost:{tls_server.port}", 200), ("sso.us-east-1.amazonaws.com", 403)):
            headers = sign_request(f"https://{host}/", body, service="sso", headers=target)
            headers["Host"] = host  # replayed byte for byte: the signature is valid for these headers
            resp = http.post(f"{tls_server.url}/", content=body, headers=headers)
            assert resp.status_code == status, resp.text
        assert resp.json()["__type"] == "InvalidSignatureException"
        assert f"localhost:{tls_server.port}" in resp.json()["message"]


def test_plain_http_to_the_tls_port_is_not_served(tls_server: LiveServer) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{tls_server.port}/healthz", timeout=5)


@pytest.mark.parametrize("path", ["/start", "/start/"])
def test_start_answers_one_redirect_to_the_aws_form_start_url(
    tls_server: LiveServer, cert: tuple[DevCert, str], path: str
) -> None:
    expected = default_start_url(tls_server.configuration().instance.identity_store_id)
    with httpx.Client(verify=cert[0].context(), follow_redirects=False) as http:
        for method in ("HEAD", "GET"):  # the AWS CLI sends HEAD, and GET if HEAD is refused
            resp = http.request(method, f"{tls_server.url}{path}")
            assert resp.status_code == 302, method
            assert resp.headers["location"] == expected  # the final hop: an AWS-owned host, never fetched
            assert resp.headers["cache-control"] == "no-store"
            assert resp.content == b""
        assert http.post(f"{tls_server.url}/start").status_code == 405


def tls_exchange(server: LiveServer, ca: Path, request: bytes) -> bytes:
    """Send ``request`` on a fresh TLS connection (verified against ``ca``) and read until the server closes."""
    context = DevCert(ca.parent).context()
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(request)
        chunks = []
        while chunk := tls.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_http_limits_apply_over_tls(tls_server: LiveServer, cert: tuple[DevCert, str]) -> None:
    """``ssoidc.web.http_limits`` is the protocol under TLS too: too many headers, or too large a head, is
    answered 431 and the connection closed, before the application runs."""
    many = b"".join(b"x-h%d: v\r\n" % i for i in range(150))
    answer = tls_exchange(
        tls_server, cert[0].ca, b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n" + many + b"\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 431 ")
    big = b"x-big: " + b"a" * 20000 + b"\r\n"
    answer = tls_exchange(
        tls_server, cert[0].ca, b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n" + big + b"\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 431 ")
    ok = tls_exchange(
        tls_server, cert[0].ca, b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
    )
    assert ok.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("sent", [b"", b"\x16\x03\x01\x02\x00"], ids=["nothing", "half-a-client-hello"])
def test_a_stalled_tls_handshake_is_dropped_at_the_head_deadline(tls_server: LiveServer, sent: bytes) -> None:
    """The event loop's own handshake timeout is 60 s; ssoidc.web.tls_loop makes it the head deadline (2 s here),
    so a client that never finishes its handshake is closed within the 30 s this test waits."""
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=30) as sock:
        sock.sendall(sent)
        with contextlib.suppress(ConnectionResetError):  # closed by a reset is closed too
            assert sock.recv(65536) == b""


@pytest.mark.parametrize("cli", ["v1", "v2"])
def test_the_aws_cli_trusts_the_server_with_ca_bundle(
    tls_server: LiveServer, cert: tuple[DevCert, str], cli: str, tmp_path: Path
) -> None:
    exe = V1_AWS if cli == "v1" else V2_AWS
    if not exe.exists():
        pytest.fail(f"{exe} is missing: run make install and make system-deps")
    env = tls_server.aws_env() | proxy_env() | {"AWS_MAX_ATTEMPTS": "1"}
    if cli == "v2":
        env["AWS_DATA_PATH"] = str(data_path(tmp_path / "aws-data"))
    argv = [str(exe), "sso-admin", "list-instances", "--endpoint-url", tls_server.url, "--output", "json"]
    refused = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "SSL" in refused.stderr or "certificate" in refused.stderr
    trusted = subprocess.run(
        [*argv, "--ca-bundle", str(cert[0].ca)], env=env, capture_output=True, text=True, timeout=60
    )
    assert trusted.returncode == 0, trusted.stderr
    assert json.loads(trusted.stdout)["Instances"][0]["InstanceArn"] == tls_server.instance_arn
    via_env = subprocess.run(
        argv, env=env | {"AWS_CA_BUNDLE": str(cert[0].ca)}, capture_output=True, text=True, timeout=60
    )
    assert via_env.returncode == 0, via_env.stderr


def test_cli_v2_2_9_reaches_ssoidc_through_cli_endpoints_without_endpoint_url(
    tls_server: LiveServer, cert: tuple[DevCert, str], tmp_path: Path
) -> None:
    """Debian's AWS CLI 2.9 reads no ``AWS_ENDPOINT_URL_*``: ``ssoidc cli-endpoints`` writes the ``AWS_DATA_PATH``
    rule sets that send its sso-oidc client (what ``aws sso login`` and token refresh create, with no
    ``--endpoint-url``) to ssoidc. Every connection goes through a proxy that tunnels only to this server."""
    if not V2_AWS.exists():
        pytest.fail(f"{V2_AWS} (AWS CLI v2) is missing: run make system-deps")
    root = data_path(tmp_path / "aws-data")  # the pinned models: CLI 2.9's predate CreateTokenWithIAM
    out = run_ssoidc("cli-endpoints", "--endpoint-url", tls_server.url, "--dir", str(root))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"export AWS_DATA_PATH={root.resolve()}"
    env = {k: v for k, v in tls_server.aws_env().items() if not k.startswith("AWS_ENDPOINT_URL")}
    env |= {"AWS_DATA_PATH": str(root), "AWS_CA_BUNDLE": str(cert[0].ca), "AWS_MAX_ATTEMPTS": "1"}
    code = tls_server.mint_code()
    argv = [
        str(V2_AWS), "sso-oidc", "create-token-with-iam", "--client-id", tls_server.apps["web"],
        "--grant-type", "authorization_code", f"--code={code}", "--redirect-uri", REDIRECT_URI, "--output", "json",
    ]  # fmt: skip
    with guard_proxy(f"localhost:{tls_server.port}") as proxy:
        proc = subprocess.run(argv, env=env | proxy.env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["accessToken"].startswith("aoa")
    assert proxy.refused == []
    assert proxy.tunnelled == [f"localhost:{tls_server.port}"]


def test_serve_refuses_a_key_that_does_not_match_in_one_line(
    cert: tuple[DevCert, str], tmp_path: Path
) -> None:
    other = run_ssoidc("dev-cert", "--dir", str(tmp_path / "other"))
    assert other.returncode == 0, other.stderr
    env = dict(os.environ) | {"SSOIDC_MASTER_KEY": ""}
    out = run_ssoidc(
        "serve", "--data-dir", str(tmp_path / "data"),
        "--tls-certfile", str(cert[0].cert), "--tls-keyfile", str(tmp_path / "other" / "key.pem"),
        env=env,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: TLS: cannot use the certificate")
    loose = tmp_path / "loose-key.pem"  # the right key, readable by everyone: served, with a warning
    loose.write_bytes(cert[0].key.read_bytes())
    loose.chmod(0o644)
    with socket.create_server(("127.0.0.1", 0)) as busy:  # a busy port: it stops there, after the TLS checks
        out = run_ssoidc(
            "serve", "--data-dir", str(tmp_path / "data"), "--port", str(busy.getsockname()[1]),
            "--tls-certfile", str(cert[0].cert), "--tls-keyfile", str(loose), env=env,
        )  # fmt: skip
    assert f"warning: the TLS key {loose} is readable by other users (mode 0644)" in out.stderr
    assert "the address is already in use" in out.stderr
    alone = run_ssoidc(
        "serve", "--data-dir", str(tmp_path / "data"), "--tls-certfile", str(cert[0].cert), env=env
    )
    assert alone.returncode == 2
    assert "SSOIDC_TLS_CERTFILE (--tls-certfile) needs SSOIDC_TLS_KEYFILE (--tls-keyfile) too" in alone.stderr
