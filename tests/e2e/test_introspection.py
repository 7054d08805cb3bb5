"""RFC 7662 introspection and RFC 7009 revocation against a live server (docs/sts.md "Introspection and
revocation"): SigV4 (``sso-oauth``) as an IAM principal the application's ActorPolicy allows, through raw signed
HTTP (``sign_request``: botocore's SigV4Auth over httpx) and through botocore's own request pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.httpsession import URLLib3Session

from tests.e2e.test_apply_live import apply
from tests.e2e.test_assume_role import live  # noqa: F401 - the fixture: a server of this module's own, each store
from tests.helpers.clients import make_admin_client, make_client, sign_request
from tests.helpers.config import ACCOUNT, JWT_BEARER, e2e_config
from tests.helpers.servers import LiveServer, create_credential
from tests.helpers.text import altered

RS = f"arn:aws:iam::{ACCOUNT}:user/resource-server"
RS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/resource-server"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def server(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> LiveServer:  # noqa: F811
    """The e2e configuration, with ``main``'s ActorPolicy also allowing the resource server to introspect and
    revoke its tokens."""
    doc = e2e_config(live.url)
    main = next(a for a in doc["Applications"] if a["Name"] == "main")
    main["AuthenticationMethods"]["IAM"]["Iam"]["ActorPolicy"]["Statement"].append(
        {
            "Sid": "ResourceServer",
            "Effect": "Allow",
            "Principal": {"AWS": [RS, RS_ROLE]},
            "Action": ["sso-oauth:IntrospectToken", "sso-oauth:RevokeToken"],
            "Resource": "*",
        }
    )
    doc["Roles"] = [
        {
            "RoleName": "resource-server",
            "AssumeRolePolicyDocument": {
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": RS}, "Action": "sts:AssumeRole"}]
            },
            # a role's sessions may do what its permission policies allow (and the ActorPolicy, for the app)
            "Policies": [
                {
                    "PolicyName": "introspect",
                    "PolicyDocument": {
                        "Statement": [
                            {"Effect": "Allow", "Action": "sso-oauth:IntrospectToken", "Resource": "*"}
                        ]
                    },
                }
            ],
        }
    ]
    out = apply(live, doc, tmp_path_factory.mktemp("introspection") / "config.yaml")
    assert out.returncode == 0, out.stderr
    return live


@pytest.fixture(scope="module")
def rs(server: LiveServer) -> tuple[str, str]:
    return create_credential(server, RS)


def tokens(server: LiveServer, app: str = "main", email: str = "alice@example.com") -> dict[str, Any]:
    resp: dict[str, Any] = make_client(server).create_token_with_iam(
        clientId=server.apps[app], grantType=JWT_BEARER, assertion=server.assertion(email)
    )
    return resp


def post(
    server: LiveServer, path: str, form: dict[str, str], creds: tuple[str, str] | None, **kw: Any
) -> httpx.Response:
    url = f"{server.url}{path}"
    body = urlencode(form).encode()
    headers = dict(FORM)
    if creds is not None:
        headers = sign_request(url, body, key=creds[0], secret=creds[1], headers=FORM, **kw)
    return httpx.post(url, content=body, headers=headers, timeout=10)


def introspect(server: LiveServer, token: str, creds: tuple[str, str], app: str = "main") -> dict[str, Any]:
    resp = post(server, "/introspect", {"token": token, "client_id": server.apps[app]}, creds)
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    doc: dict[str, Any] = resp.json()
    return doc


def test_a_live_access_token_is_described(server: LiveServer, rs: tuple[str, str]) -> None:
    t = tokens(server)
    doc = introspect(server, t["accessToken"], rs)
    instance_id = server.instance_arn.rsplit("/", 1)[1]
    assert doc == {
        "active": True,
        "scope": " ".join(t["scope"]),
        "client_id": server.apps["main"],
        "sub": server.users["alice"],
        "exp": doc["exp"],
        "iat": doc["iat"],
        "aud": server.apps["main"],
        "iss": f"{server.url}/{instance_id}",
        "token_type": "Bearer",
    }
    assert doc["exp"] - doc["iat"] == 3600


def test_through_botocores_own_request_pipeline(server: LiveServer, rs: tuple[str, str]) -> None:
    t = tokens(server)
    body = urlencode({"token": t["accessToken"], "client_id": server.apps["main"]})
    req = AWSRequest(method="POST", url=f"{server.url}/introspect", data=body, headers=dict(FORM))
    SigV4Auth(Credentials(*rs), "sso-oauth", "us-east-1").add_auth(req)
    resp = URLLib3Session().send(req.prepare())
    assert resp.status_code == 200
    assert b'"active":true' in resp.content


def test_session_credentials_of_an_allowed_role_may_introspect(
    server: LiveServer, rs: tuple[str, str]
) -> None:
    """Any credential ssoidc knows signs: here an AssumeRole session of a role the ActorPolicy names."""
    sts = make_admin_client(server, "sts", aws_access_key_id=rs[0], aws_secret_access_key=rs[1])
    creds = sts.assume_role(RoleArn=RS_ROLE, RoleSessionName="introspector")["Credentials"]
    t = tokens(server)
    form = {"token": t["accessToken"], "client_id": server.apps["main"]}
    resp = post(
        server,
        "/introspect",
        form,
        (creds["AccessKeyId"], creds["SecretAccessKey"]),
        session_token=creds["SessionToken"],
    )
    assert resp.status_code == 200 and resp.json()["active"] is True
    no_token = post(server, "/introspect", form, (creds["AccessKeyId"], creds["SecretAccessKey"]))
    assert no_token.status_code == 401  # a session key without its session token
    revoke = post(
        server,
        "/revoke",
        form,
        (creds["AccessKeyId"], creds["SecretAccessKey"]),
        session_token=creds["SessionToken"],
    )
    assert revoke.status_code == 403  # the role's policies allow introspection only
    again = post(
        server,
        "/introspect",
        form,
        (creds["AccessKeyId"], creds["SecretAccessKey"]),
        session_token=creds["SessionToken"],
    )
    assert again.json()["active"] is True  # the refused revocation changed nothing


@pytest.mark.parametrize("what", ["unknown", "garbage", "refresh", "other-app", "other-app-client"])
def test_anything_else_is_just_inactive(server: LiveServer, rs: tuple[str, str], what: str) -> None:
    t = tokens(server)
    mine = t["accessToken"]
    token, app = {
        "unknown": (mine[:-4] + ("AAAA" if not mine.endswith("AAAA") else "BBBB"), "main"),
        "garbage": ("not a token at all", "main"),
        "refresh": (t["refreshToken"], "main"),
        "other-app": (tokens(server, "no-refresh", "carol@example.com")["accessToken"], "main"),
        "other-app-client": (mine, "no-refresh"),  # the caller is not allowed on no-refresh: refused first
    }[what]
    if what == "other-app-client":
        resp = post(server, "/introspect", {"token": token, "client_id": server.apps[app]}, rs)
        assert resp.status_code == 403 and resp.json()["error"] == "access_denied"
        assert token not in resp.text
        return
    assert introspect(server, token, rs, app) == {"active": False}


def test_callers_must_be_authenticated_and_allowed(server: LiveServer, rs: tuple[str, str]) -> None:
    t = tokens(server)
    form = {"token": t["accessToken"], "client_id": server.apps["main"]}
    for path in ("/introspect", "/revoke"):
        unsigned = post(server, path, form, None)
        assert unsigned.status_code == 401
        assert unsigned.json()["error"] == "invalid_client"
        assert unsigned.headers["www-authenticate"].startswith("AWS4-HMAC-SHA256")
        wrong = post(server, path, form, (rs[0], "x" * 40))
        assert wrong.status_code == 401
        other_service = post(server, path, form, rs, service="sso")
        assert other_service.status_code == 401
        admin = post(
            server, path, form, ("AKIASSOIDCTESTADMIN1", server.env["SSOIDC_BOOTSTRAP_SECRET_ACCESS_KEY"])
        )
        assert admin.status_code == 403  # the root of the account: allowed CreateTokenWithIAM only
        other = altered(
            server.apps["main"]
        )  # one character off (appending a fixed one could give the same ARN)
        unknown_app = post(server, path, {**form, "client_id": other}, rs)
        assert unknown_app.status_code == 401
        no_token = post(server, path, {"client_id": server.apps["main"]}, rs)
        assert no_token.status_code == 400 and no_token.json()["error"] == "invalid_request"
        for r in (unsigned, wrong, other_service, admin, unknown_app):
            assert t["accessToken"] not in r.text
    url = f"{server.url}/introspect"
    twice = f"token={t['accessToken']}&token=x&client_id={server.apps['main']}".encode()
    resp = httpx.post(
        url, content=twice, headers=sign_request(url, twice, key=rs[0], secret=rs[1], headers=FORM)
    )
    assert resp.status_code == 400
    json_body = b'{"token": "x"}'
    resp = httpx.post(url, content=json_body, headers=sign_request(url, json_body, key=rs[0], secret=rs[1]))
    assert resp.status_code == 400
    assert introspect(server, t["accessToken"], rs)["active"] is True  # none of that revoked anything


def test_revoking_an_access_token_ends_that_token_only(server: LiveServer, rs: tuple[str, str]) -> None:
    t = tokens(server)
    resp = post(server, "/revoke", {"token": t["accessToken"], "client_id": server.apps["main"]}, rs)
    assert resp.status_code == 200 and resp.json() == {}
    assert introspect(server, t["accessToken"], rs) == {"active": False}
    refreshed = make_client(server).create_token_with_iam(
        clientId=server.apps["main"], grantType="refresh_token", refreshToken=t["refreshToken"]
    )
    assert introspect(server, refreshed["accessToken"], rs)["active"] is True


def test_revoking_a_refresh_token_ends_its_family(server: LiveServer, rs: tuple[str, str]) -> None:
    t = tokens(server)
    form = {"token": t["refreshToken"], "client_id": server.apps["main"], "token_type_hint": "refresh_token"}
    assert post(server, "/revoke", form, rs).status_code == 200
    assert introspect(server, t["accessToken"], rs) == {"active": False}
    with pytest.raises(ClientError) as info:
        make_client(server).create_token_with_iam(
            clientId=server.apps["main"], grantType="refresh_token", refreshToken=t["refreshToken"]
        )
    assert info.value.response["Error"]["Code"] == "InvalidGrantException"


def test_revoking_what_is_not_ours_answers_200_and_changes_nothing(
    server: LiveServer, rs: tuple[str, str]
) -> None:
    other = tokens(server, "no-refresh", "carol@example.com")
    mine = tokens(server)
    families = server.count("revoked_families")
    for token in (
        other["accessToken"],
        "aoa-unknown:zz",
        "aor-unknown:zz",
        "junk",
        altered(mine["accessToken"], 2),
    ):
        resp = post(server, "/revoke", {"token": token, "client_id": server.apps["main"]}, rs)
        assert resp.status_code == 200 and resp.json() == {}
    assert server.count("revoked_families") == families
    assert introspect(server, mine["accessToken"], rs)["active"] is True
    other_client = post(
        server, "/introspect", {"token": other["accessToken"], "client_id": server.apps["main"]}, rs
    )
    assert other_client.json() == {"active": False}


def test_no_token_reaches_the_log(server: LiveServer, rs: tuple[str, str]) -> None:
    t = tokens(server)
    introspect(server, t["accessToken"], rs)
    post(server, "/revoke", {"token": t["refreshToken"], "client_id": server.apps["main"]}, rs)
    post(server, "/introspect", {"token": t["accessToken"], "client_id": server.apps["main"]}, None)
    log = (Path(server.data_dir).parent / "server.log").read_text()
    assert t["accessToken"] not in log and t["refreshToken"] not in log
