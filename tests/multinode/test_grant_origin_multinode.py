"""Two nodes on one PostgreSQL schema: a change to a trusted token issuer made through node 0's admin API ends or
refreshes what node 1 derived from it (issue 13, items 6 and 11).

* Deleting the issuer (after removing it from the application's JwtBearer grant) ends the sessions it granted:
  node 1 refuses their next refresh (InvalidGrant, nothing issued).
* A key the issuer replaced under the same ``kid`` is not used by node 1 until the issuer is updated through node 0
  (UpdateTrustedTokenIssuer): then node 1 drops its cached JWKS and verifies with the new key.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ssoidc.storage.postgres import VERSION_RECHECK_SECONDS
from tests.helpers.clients import make_admin_client, make_client
from tests.helpers.cluster import Cluster, cluster_fixture
from tests.helpers.config import JWT_BEARER
from tests.helpers.idp import IssuerApp, LocalIssuer, local_issuer, register, unregister

cluster = cluster_fixture("grant-origin", n=2)
BOUND = VERSION_RECHECK_SECONDS + 1.5
"""Every node serves a configuration change within this (docs/deployment.md), with slack for a loaded machine."""


def outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"]), exc.response


def until(check: Any) -> Any:
    """Poll ``check()`` (every 20 ms) until it returns something true; fails after ``BOUND`` seconds."""
    start = time.monotonic()
    while not (result := check()):
        assert time.monotonic() - start < BOUND, f"not served within {BOUND} s"
        time.sleep(0.02)
    return result


@pytest.fixture()
def idp() -> Iterator[LocalIssuer]:
    with local_issuer() as issuer:
        yield issuer


@pytest.fixture()
def made(cluster: Cluster, idp: LocalIssuer) -> Iterator[IssuerApp]:
    sso = make_admin_client(cluster.nodes[0], "sso-admin")
    m = register(sso, cluster.nodes[0].instance_arn, idp)
    yield m
    unregister(sso, m)


def jwt_bearer(client: Any, app: str, idp: LocalIssuer) -> Any:
    return client.create_token_with_iam(clientId=app, grantType=JWT_BEARER, assertion=idp.assertion())


def test_deleting_the_issuer_on_node_0_ends_its_sessions_on_node_1(
    cluster: Cluster, idp: LocalIssuer, made: IssuerApp
) -> None:
    node1 = make_client(cluster.nodes[1])
    until(lambda: outcome(lambda: jwt_bearer(node1, made.app_arn, idp))[0] == "ok")  # node 1 serves the app
    tokens = jwt_bearer(node1, made.app_arn, idp)
    refresh_token = node1.create_token_with_iam(
        clientId=made.app_arn, grantType="refresh_token", refreshToken=tokens["refreshToken"]
    )["refreshToken"]

    sso = make_admin_client(cluster.nodes[0], "sso-admin")
    sso.delete_application_grant(ApplicationArn=made.app_arn, GrantType=JWT_BEARER)
    sso.delete_trusted_token_issuer(TrustedTokenIssuerArn=made.issuer_arn)

    def refused() -> Any:
        nonlocal refresh_token
        before = cluster.nodes[1].count("tokens")
        code, body = outcome(
            lambda: node1.create_token_with_iam(
                clientId=made.app_arn, grantType="refresh_token", refreshToken=refresh_token
            )
        )
        if code == "ok":  # node 1 has not caught up yet: the session goes on, with the new token
            refresh_token = body["refreshToken"]
            return None
        return code, body, before

    code, body, before = until(refused)
    assert code == "InvalidGrantException"
    assert body["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "trusted token issuer" in body["Error"]["Message"]
    assert cluster.nodes[1].count("tokens") == before  # nothing issued
    node0 = make_client(cluster.nodes[0])  # and the session is over everywhere
    assert (
        outcome(
            lambda: node0.create_token_with_iam(
                clientId=made.app_arn, grantType="refresh_token", refreshToken=refresh_token
            )
        )[0]
        == "InvalidGrantException"
    )


def test_updating_the_issuer_on_node_0_drops_node_1s_cached_keys(
    cluster: Cluster, idp: LocalIssuer, made: IssuerApp
) -> None:
    node1 = make_client(cluster.nodes[1])
    until(lambda: outcome(lambda: jwt_bearer(node1, made.app_arn, idp))[0] == "ok")  # node 1 caches the JWKS
    fetched = idp.fetches
    idp.rotate()  # a new key under the same kid
    code, body = outcome(lambda: jwt_bearer(node1, made.app_arn, idp))
    assert code == "InvalidGrantException"  # node 1 still verifies with the key it cached
    assert "signature" in body["Error"]["Message"]
    assert idp.fetches == fetched  # a known kid is no reason to refetch

    sso = make_admin_client(cluster.nodes[0], "sso-admin")
    before = sso.describe_trusted_token_issuer(TrustedTokenIssuerArn=made.issuer_arn)
    sso.update_trusted_token_issuer(
        TrustedTokenIssuerArn=made.issuer_arn
    )  # changes nothing: "fetch the keys again"
    until(lambda: outcome(lambda: jwt_bearer(node1, made.app_arn, idp))[0] == "ok")
    assert idp.fetches > fetched
    after = sso.describe_trusted_token_issuer(TrustedTokenIssuerArn=made.issuer_arn)
    assert {k: v for k, v in after.items() if k != "ResponseMetadata"} == {
        k: v for k, v in before.items() if k != "ResponseMetadata"
    }
