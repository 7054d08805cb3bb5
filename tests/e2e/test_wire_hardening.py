"""Wire-level hardening (issue 13, items 1, 4 and part of 11), sent as the attacker sends it: raw signed HTTP
(botocore's own signer) where boto3 cannot build the request, boto3 where it can; on both stores.

* a request signed for another deployment's host is refused (``InvalidSignatureException``, naming our host);
* a JSON body with a repeated member name, at any depth, is refused with the modelled input error;
* a ``Content-Type`` that is not signed is refused; an unknown or repeated query parameter is refused;
* every error answer (and every token answer) carries ``Cache-Control: no-store`` and ``Pragma: no-cache``.

Every refusal is followed by a check that nothing was issued, consumed or changed, and that the same grant
still works.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.helpers.clients import make_admin_client, make_client, post_token, sign_request
from tests.helpers.config import ADMIN_KEY, ADMIN_SECRET, JWT_BEARER
from tests.helpers.servers import LiveServer, both_stores

JSON11 = "application/x-amz-json-1.1"
SSO_TARGET = "SWBExternalService"
CUSTOM = "arn:aws:sso::aws:applicationProvider/custom"
OTHER_HOST = "other-deployment.example"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest) -> LiveServer:
    return both_stores(request)


@pytest.fixture()
def unchanged(server: LiveServer) -> Iterator[Callable[[], None]]:
    """Tokens, consumed assertion ids and applications before the test; the test calls the check."""
    sso = make_admin_client(server, "sso-admin")

    def state() -> tuple[int, int, list[str]]:
        apps = sso.list_applications(InstanceArn=server.instance_arn)["Applications"]
        return server.count("tokens"), server.count("used_jtis"), sorted(a["ApplicationArn"] for a in apps)

    before = state()
    yield lambda: None if state() == before else pytest.fail(f"changed: {before} -> {state()}")


def token_body(server: LiveServer, assertion: str, **extra: Any) -> dict[str, Any]:
    return {"clientId": server.apps["main"], "grantType": JWT_BEARER, "assertion": assertion, **extra}


def redeem(server: LiveServer, assertion: str) -> None:
    """The assertion a refused request carried was not consumed: a real client redeems it now."""
    resp = make_client(server).create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=assertion
    )
    assert resp["accessToken"].startswith("aoa")


def no_store(resp: httpx.Response) -> None:
    assert resp.headers.get("cache-control") == "no-store", dict(resp.headers)
    assert resp.headers.get("pragma") == "no-cache", dict(resp.headers)


def error_code(resp: httpx.Response) -> str:
    return resp.headers["x-amzn-errortype"].split(":")[0]


def admin_post(server: LiveServer, target: str, body: bytes, **sign: Any) -> httpx.Response:
    url = f"{server.url}/"
    headers = sign_request(
        url,
        body,
        service="sso",
        headers={"Content-Type": JSON11, "X-Amz-Target": f"{SSO_TARGET}.{target}"},
        **sign,
    )
    return httpx.post(url, content=body, headers=headers, timeout=10)


# -- item 1: a request is bound to the deployment it was signed for ----------------------------------------------


def test_a_token_request_signed_for_another_host_is_refused(
    server: LiveServer, unchanged: Callable[[], None]
) -> None:
    assertion = server.assertion()
    body = json.dumps(token_body(server, assertion)).encode()
    signed = sign_request(f"http://{OTHER_HOST}/token?aws_iam=t", body)  # captured at another deployment
    signed["Host"] = OTHER_HOST  # replayed byte for byte: the signature is valid for these headers
    resp = httpx.post(f"{server.url}/token?aws_iam=t", content=body, headers=signed, timeout=10)
    assert resp.status_code == 403, resp.text
    assert error_code(resp) == "InvalidSignatureException"
    assert f"127.0.0.1:{server.port}" in resp.json()["message"]
    no_store(resp)
    unchanged()
    redeem(server, assertion)


def test_an_admin_write_signed_for_another_host_is_refused(
    server: LiveServer, unchanged: Callable[[], None]
) -> None:
    body = json.dumps(
        {"InstanceArn": server.instance_arn, "ApplicationProviderArn": CUSTOM, "Name": "replayed"}
    ).encode()
    headers = sign_request(
        f"http://{OTHER_HOST}:{server.port}/",
        body,
        service="sso",
        headers={"Content-Type": JSON11, "X-Amz-Target": f"{SSO_TARGET}.CreateApplication"},
    )
    headers["Host"] = f"{OTHER_HOST}:{server.port}"
    resp = httpx.post(f"{server.url}/", content=body, headers=headers, timeout=10)
    assert resp.status_code == 403, resp.text
    assert error_code(resp) == "InvalidSignatureException"
    no_store(resp)
    unchanged()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_the_loopback_names_of_the_listening_port_are_ours(server: LiveServer, host: str) -> None:
    """A node listening on loopback answers for its loopback names (the boto3 endpoint of every other test is
    ``http://127.0.0.1:<port>``); boto3 signs ``host:port``."""
    client = boto3.client(
        "sso-admin",
        endpoint_url=f"http://{host}:{server.port}",
        region_name="us-east-1",
        aws_access_key_id=ADMIN_KEY,
        aws_secret_access_key=ADMIN_SECRET,
    )
    assert client.list_instances()["Instances"]
    banner = (server.data_dir.parent / "server.log").read_text()  # the operator is told at start
    assert f"SigV4 requests must be signed for: 127.0.0.1:{server.port}, localhost:{server.port}" in banner


# -- item 4: ambiguous JSON ------------------------------------------------------------------------------------------


def test_a_repeated_client_id_is_refused(server: LiveServer, unchanged: Callable[[], None]) -> None:
    assertion = server.assertion()
    body = b'{"clientId": "%s", "clientId": "%s", "grantType": "%s", "assertion": "%s"}' % (
        server.apps["no-policy"].encode(),
        server.apps["main"].encode(),
        JWT_BEARER.encode(),
        assertion.encode(),
    )
    resp = post_token(server, body)
    assert resp.status_code == 400, resp.text
    assert error_code(resp) == "InvalidRequestException"
    assert resp.json()["error"] == "invalid_request"
    assert "duplicate member name 'clientId'" in resp.json()["error_description"]
    no_store(resp)
    unchanged()
    redeem(server, assertion)


def test_a_repeated_grant_type_is_refused_whatever_the_spacing(
    server: LiveServer, unchanged: Callable[[], None]
) -> None:
    assertion = server.assertion()
    body = b'{"clientId" : "%s", "grantType" :"refresh_token",\n "grantType"\t: "%s", "assertion":"%s"}' % (
        server.apps["main"].encode(),
        JWT_BEARER.encode(),
        assertion.encode(),
    )
    resp = post_token(server, body)
    assert resp.status_code == 400, resp.text
    assert error_code(resp) == "InvalidRequestException"
    unchanged()
    redeem(server, assertion)


def test_a_repeated_member_in_a_nested_policy_document_is_refused(
    server: LiveServer, unchanged: Callable[[], None]
) -> None:
    """PutApplicationAuthenticationMethod stores an IAM policy document: a repeated ``Effect`` must not let the
    stored policy mean something else than what a reviewer of the request read."""
    app = server.apps["main"]
    sso = make_admin_client(server, "sso-admin")
    before = sso.get_application_authentication_method(ApplicationArn=app, AuthenticationMethodType="IAM")
    statement = '{"Effect": "Deny", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sso-oauth:*", "Resource": "*"}'
    policy = '{"Version": "2012-10-17", "Statement": [' + statement + "]}"
    method = '{"Iam": {"ActorPolicy": ' + policy + "}}"
    body = (
        f'{{"ApplicationArn": "{app}", "AuthenticationMethodType": "IAM", "AuthenticationMethod": {method}}}'
    ).encode()
    resp = admin_post(server, "PutApplicationAuthenticationMethod", body)
    assert resp.status_code == 400, resp.text
    assert error_code(resp) == "ValidationException"
    assert "duplicate member name 'Effect'" in resp.json()["Message"]
    no_store(resp)
    after = sso.get_application_authentication_method(ApplicationArn=app, AuthenticationMethodType="IAM")
    assert after["AuthenticationMethod"] == before["AuthenticationMethod"]
    unchanged()


def test_a_repeated_name_in_an_admin_create_is_refused(
    server: LiveServer, unchanged: Callable[[], None]
) -> None:
    body = (
        f'{{"InstanceArn": "{server.instance_arn}", "ApplicationProviderArn": "{CUSTOM}",'
        ' "Name": "one", "Name": "two"}'
    ).encode()
    resp = admin_post(server, "CreateApplication", body)
    assert resp.status_code == 400, resp.text
    assert error_code(resp) == "ValidationException"
    unchanged()


# -- item 11: unsigned Content-Type, unknown query parameters, no-store --------------------------------------------


def test_an_unsigned_content_type_is_refused(server: LiveServer, unchanged: Callable[[], None]) -> None:
    body = json.dumps(
        {"InstanceArn": server.instance_arn, "ApplicationProviderArn": CUSTOM, "Name": "ct"}
    ).encode()
    req = AWSRequest(
        method="POST",
        url=f"{server.url}/",
        data=body,
        headers={"X-Amz-Target": f"{SSO_TARGET}.CreateApplication"},
    )
    SigV4Auth(Credentials(ADMIN_KEY, ADMIN_SECRET), "sso", "us-east-1").add_auth(req)
    headers = dict(req.headers.items())
    assert "content-type" not in headers["Authorization"]
    headers["Content-Type"] = JSON11  # added after signing: a proxy could change it unnoticed
    resp = httpx.post(f"{server.url}/", content=body, headers=headers, timeout=10)
    assert resp.status_code == 403, resp.text
    assert error_code(resp) == "IncompleteSignatureException"
    assert "'content-type' must be a 'SignedHeader'" in resp.json()["message"]
    no_store(resp)
    unchanged()


@pytest.mark.parametrize("query", ["aws_iam=t&extra=1", "aws_iam=t&aws_iam=t", "aws_iam=t&clientId=x"])
def test_an_unknown_or_repeated_query_parameter_is_refused(
    server: LiveServer, unchanged: Callable[[], None], query: str
) -> None:
    assertion = server.assertion()
    resp = post_token(server, json.dumps(token_body(server, assertion)).encode(), query=query)
    assert resp.status_code == 400, resp.text
    # "aws_iam=t&aws_iam=t" is not CreateTokenWithIAM's literal: routed to CreateToken, which takes no query
    assert error_code(resp) == "InvalidRequestException"
    assert "query string" in resp.json()["error_description"]
    no_store(resp)
    unchanged()
    redeem(server, assertion)


def test_token_answers_and_every_error_answer_are_not_stored(server: LiveServer) -> None:
    ok = post_token(server, json.dumps(token_body(server, server.assertion())).encode())
    assert ok.status_code == 200
    no_store(ok)
    bad_grant = post_token(server, json.dumps(token_body(server, "not-a-jwt")).encode())
    assert bad_grant.status_code == 400
    no_store(bad_grant)
    unsigned = httpx.post(f"{server.url}/token?aws_iam=t", content=b"{}", timeout=10)
    assert unsigned.status_code == 403
    no_store(unsigned)
    admin = admin_post(server, "DescribeApplication", b'{"ApplicationArn": "x"}')
    assert admin.status_code == 400
    no_store(admin)
    unknown = admin_post(server, "NoSuchOperation", b"{}")
    assert unknown.status_code == 400
    no_store(unknown)
    for resp in (httpx.get(f"{server.url}/no/such/page"), httpx.get(f"{server.url}/token")):
        assert resp.status_code in (404, 405)
        no_store(resp)


def test_a_second_operation_header_is_refused(server: LiveServer, unchanged: Callable[[], None]) -> None:
    """The signature covers both ``X-Amz-Target`` values joined; a proxy or log reading the second would see
    another operation than the one dispatched."""
    body = json.dumps(
        {"InstanceArn": server.instance_arn, "ApplicationProviderArn": CUSTOM, "Name": "two-targets"}
    ).encode()
    admin_headers = sign_request(
        f"{server.url}/",
        body,
        service="sso",
        headers={"Content-Type": JSON11, "X-Amz-Target": f"{SSO_TARGET}.CreateApplication"},
    )
    headers = [*admin_headers.items(), ("X-Amz-Target", f"{SSO_TARGET}.ListInstances")]
    resp = httpx.post(f"{server.url}/", content=body, headers=headers, timeout=10)
    assert resp.status_code == 403, resp.text
    assert error_code(resp) == "IncompleteSignatureException"
    no_store(resp)
    unchanged()
