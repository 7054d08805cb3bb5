"""Rate limits and the refresh-family cap on a live server (SQLite and PostgreSQL), through boto3 and raw HTTP.

The module's own server runs with deliberately low limits (``SSOIDC_RATE_LIMIT_*``: a burst of a few requests,
then one every 1,000 s, so nothing refills during the test) and ``SSOIDC_MAX_REFRESH_FAMILIES=2``. Each test uses
its own principals (credentials created with the CLI) and its own application, so the tests do not share a budget.
Every refusal is checked for the modelled error, the ``Retry-After`` hint and that nothing was issued, consumed or
changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.helpers.clients import make_admin_client, make_client, post_token, sign_request
from tests.helpers.config import ACCOUNT, JWT_BEARER, REDIRECT_URI
from tests.helpers.pg import drop_schema, new_schema, pg_base_url, require_postgres, with_query
from tests.helpers.servers import LiveServer, create_credential, running_server

PRINCIPAL_BURST = 4
APPLICATION_BURST = 8
FAMILY_CAP = 2
LIMITS = {
    "SSOIDC_RATE_LIMIT_PRINCIPAL": "0.001",
    "SSOIDC_RATE_LIMIT_PRINCIPAL_BURST": str(PRINCIPAL_BURST),
    "SSOIDC_RATE_LIMIT_APPLICATION": "0.001",
    "SSOIDC_RATE_LIMIT_APPLICATION_BURST": str(APPLICATION_BURST),
    "SSOIDC_RATE_LIMIT_ADDRESS": "0",  # every test request comes from 127.0.0.1 (tests/unit covers this one)
    "SSOIDC_MAX_REFRESH_FAMILIES": str(FAMILY_CAP),
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp(f"limits-{request.param}")
    if request.param == "sqlite":
        with running_server(tmp, extra_env=LIMITS) as s:
            yield s
        return
    base = pg_base_url()
    require_postgres(base, "The PostgreSQL leg of the rate-limit tests")
    schema = new_schema("ssoidc_limits")
    try:
        with running_server(tmp, extra_env=LIMITS, database_url=with_query(base, search_path=schema)) as s:
            yield s
    finally:
        drop_schema(base, schema)


def principal(server: LiveServer, name: str) -> tuple[str, str]:
    """A new credential for role ``name``, once the server knows it (on PostgreSQL another process's write can
    take a moment to reach the server). Polled with a wrong secret, which no rate limit of the principal counts:
    the answer turns from UnrecognizedClient (unknown key) to InvalidSignature."""
    store = ("--database-url", server.database_url) if server.database_url else ()
    cred = create_credential(server, f"arn:aws:iam::{ACCOUNT}:role/{name}", *store)
    for _ in range(100):
        probe = post_token(server, b"{}", key=cred[0], secret="x" * 40)
        if not probe.headers["x-amzn-errortype"].startswith("UnrecognizedClientException"):
            assert probe.headers["x-amzn-errortype"].startswith("InvalidSignatureException")
            return cred
        time.sleep(0.05)
    raise AssertionError(f"the server never saw credential {cred[0]}")


def oidc_as(server: LiveServer, cred: tuple[str, str]) -> Any:
    return make_client(server, aws_access_key_id=cred[0], aws_secret_access_key=cred[1])


def counts(server: LiveServer) -> tuple[int, int]:
    return server.count("tokens"), server.count("used_jtis")


def jwt_token(oidc: Any, server: LiveServer, app: str, assertion: str | None = None) -> dict[str, Any]:
    return dict(
        oidc.create_token_with_iam(
            clientId=server.apps[app], grantType=JWT_BEARER, assertion=assertion or server.assertion()
        )
    )


def slow_down(call: Any) -> dict[str, Any]:
    """The ClientError boto3 raises for ``call()``: sso-oidc's modelled SlowDownException with a retry hint."""
    with pytest.raises(ClientError) as info:
        call()
    err = info.value
    assert type(err).__name__ == "SlowDownException", err
    response = dict(err.response)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["error"] == "slow_down"
    assert int(response["ResponseMetadata"]["HTTPHeaders"]["retry-after"]) > 900
    assert response["ResponseMetadata"].get("RetryAttempts", 0) == 0
    return response


def test_a_principal_over_its_limit_gets_slow_down_and_nothing_is_issued(server: LiveServer) -> None:
    first, second = principal(server, "Limited1"), principal(server, "Limited2")
    oidc = oidc_as(server, first)
    for _ in range(PRINCIPAL_BURST):
        assert jwt_token(oidc, server, "main")["accessToken"].startswith("aoa")
    before = counts(server)
    assertion = server.assertion()
    refused = slow_down(lambda: jwt_token(oidc, server, "main", assertion))
    assert "principal" in refused["error_description"]
    body = json.dumps(
        {"clientId": server.apps["main"], "grantType": JWT_BEARER, "assertion": assertion}
    ).encode()
    raw = post_token(server, body, key=first[0], secret=first[1])
    assert raw.status_code == 400
    assert raw.headers["x-amzn-errortype"].startswith("SlowDownException:")
    assert raw.json()["error"] == "slow_down"
    assert int(raw.headers["retry-after"]) > 900
    assert "accessToken" not in raw.text
    assert counts(server) == before  # nothing issued, the assertion's jti not spent
    # the same assertion is still good for another principal: the refusals consumed nothing
    assert jwt_token(oidc_as(server, second), server, "main", assertion)["accessToken"].startswith("aoa")


def test_an_application_over_its_limit_gets_slow_down(server: LiveServer) -> None:
    callers = [oidc_as(server, principal(server, f"AppLimited{i}")) for i in range(3)]
    for n in range(APPLICATION_BURST):  # spread over principals, each under its own limit
        jwt_token(callers[n // PRINCIPAL_BURST], server, "no-refresh")
    before = counts(server)
    refused = slow_down(lambda: jwt_token(callers[2], server, "no-refresh"))
    assert "application" in refused["error_description"]
    assert counts(server) == before
    jwt_token(callers[2], server, "main")  # another application's budget is its own


def test_admin_apis_throttle_the_principal_and_change_nothing(server: LiveServer) -> None:
    admin = make_admin_client(server, "sso-admin")  # the bootstrap credential: the account root
    store_id = admin.list_instances()["Instances"][0]["IdentityStoreId"]
    for _ in range(PRINCIPAL_BURST - 1):
        admin.list_instances()
    users = server.count("dir_users")
    ids = make_admin_client(server, "identitystore")
    with pytest.raises(ClientError) as info:
        ids.create_user(IdentityStoreId=store_id, UserName="throttled", DisplayName="T")
    err = info.value
    assert type(err).__name__ == "ThrottlingException"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err.response["RetryAfterSeconds"] > 900  # identitystore models the hint
    assert int(err.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"]) > 900
    assert server.count("dir_users") == users  # not created
    with pytest.raises(ClientError) as info:
        admin.list_instances()
    assert type(info.value).__name__ == "ThrottlingException"
    assert "principal" in info.value.response["Error"]["Message"]
    body = json.dumps({"IdentityStoreId": store_id, "UserName": "raw", "DisplayName": "R"}).encode()
    headers = sign_request(
        server.url + "/",
        body,
        service="identitystore",
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSIdentityStore.CreateUser"},
    )
    raw = httpx.post(server.url + "/", content=body, headers=headers, timeout=10)
    assert raw.status_code == 400
    assert raw.json()["__type"] == "ThrottlingException"
    assert raw.json()["RetryAfterSeconds"] == int(raw.headers["retry-after"]) > 900
    assert server.count("dir_users") == users


def test_a_new_session_past_the_family_cap_revokes_the_oldest(server: LiveServer) -> None:
    oidc = oidc_as(server, principal(server, "Families"))
    refreshes = []
    for _ in range(FAMILY_CAP + 1):  # three sessions for alice on "web" (authorization codes)
        resp = oidc.create_token_with_iam(
            clientId=server.apps["web"],
            grantType="authorization_code",
            code=server.mint_code(),
            redirectUri=REDIRECT_URI,
        )
        refreshes.append(resp["refreshToken"])
    other = oidc_as(server, principal(server, "Families2"))
    with pytest.raises(ClientError) as info:  # the oldest session was revoked when the third started
        other.create_token_with_iam(
            clientId=server.apps["web"], grantType="refresh_token", refreshToken=refreshes[0]
        )
    assert type(info.value).__name__ == "InvalidGrantException"
    for token in refreshes[1:]:  # the newest two live on
        resp = other.create_token_with_iam(
            clientId=server.apps["web"], grantType="refresh_token", refreshToken=token
        )
        assert resp["refreshToken"].startswith("aor")


@pytest.mark.parametrize("trusted", [False, True], ids=["peer-address", "behind-a-proxy"])
def test_the_address_limit_keys_on_the_peer_unless_a_proxy_is_trusted(
    tmp_path_factory: pytest.TempPathFactory, trusted: bool
) -> None:
    """Unsigned requests count against the client address; ``X-Forwarded-For`` picks the address only when
    ``SSOIDC_FORWARDED_ALLOW_IPS`` names the peer (here 127.0.0.1), so a client cannot rotate it to escape."""
    env = {"SSOIDC_RATE_LIMIT_ADDRESS": "0.001", "SSOIDC_RATE_LIMIT_ADDRESS_BURST": "3"}
    if trusted:
        env["SSOIDC_FORWARDED_ALLOW_IPS"] = "127.0.0.1"
    with running_server(tmp_path_factory.mktemp("address"), extra_env=env) as live:
        body = json.dumps({"clientId": "x", "grantType": JWT_BEARER, "assertion": "x"}).encode()

        def unsigned(n: int) -> httpx.Response:
            headers = {"content-type": "application/json", "x-forwarded-for": f"203.0.113.{n}"}
            return httpx.post(f"{live.url}/token?aws_iam=t", content=body, headers=headers, timeout=10)

        answers = [unsigned(n) for n in range(5)]
        codes = [r.headers["x-amzn-errortype"].split(":")[0] for r in answers]
        if trusted:  # each forwarded address has its own bucket
            assert codes == ["MissingAuthenticationTokenException"] * 5, codes
        else:  # one peer, one bucket, whatever the header says
            assert codes == ["MissingAuthenticationTokenException"] * 3 + ["SlowDownException"] * 2, codes
            assert answers[3].status_code == 400 and int(answers[3].headers["retry-after"]) > 900
            assert live.count("tokens") == 0
