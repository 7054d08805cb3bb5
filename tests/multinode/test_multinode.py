"""Three ``ssoidc serve`` nodes on one PostgreSQL schema: the guarantees hold across nodes, not only within one.

Clients spread their requests round-robin over the nodes (as a load balancer would). Every node runs the same e2e
configuration (``tests.helpers.config.e2e_config``); see ``tests/helpers/cluster.py`` for how the cluster is built.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml
from botocore.exceptions import ClientError

from ssoidc.storage.postgres import VERSION_RECHECK_SECONDS
from tests.helpers.clients import make_admin_client, make_client
from tests.helpers.cluster import Cluster, cluster_fixture
from tests.helpers.config import (
    ACCESS_TYPE,
    JWT_BEARER,
    REDIRECT_URI,
    REFRESH_TYPE,
    ROOT,
    TOKEN_EXCHANGE,
    e2e_config,
)

RACERS = 30


GRACE_S = 3.0
"""The nodes' refresh grace window: wide enough that 30 racing requests released together all land inside it on a
loaded machine."""
cluster = cluster_fixture("multinode", extra_env={"SSOIDC_REFRESH_GRACE_SECONDS": str(int(GRACE_S))})


@pytest.fixture(scope="module")
def oidc(cluster: Cluster) -> list[Any]:
    """One sso-oidc client per node (thread-safe; pool big enough for the racers a node gets)."""
    return [make_client(node, config={"max_pool_connections": RACERS}) for node in cluster.nodes]


def race(clients: list[Any], n: int = RACERS, **params: Any) -> list[tuple[int, str, dict[str, Any]]]:
    """The same CreateTokenWithIAM request from ``n`` threads released together, round-robin over the nodes:
    ``(node, "ok" or the error code, response)`` of each."""
    gate = threading.Barrier(n)

    def call(k: int) -> tuple[int, str, dict[str, Any]]:
        node = k % len(clients)
        gate.wait()
        try:
            return node, "ok", dict(clients[node].create_token_with_iam(**params))
        except ClientError as exc:
            return node, str(exc.response["Error"]["Code"]), dict(exc.response)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(call, range(n)))


def error_code(call: Any) -> str:
    with pytest.raises(ClientError) as info:
        call()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    return str(info.value.response["Error"]["Code"])


def jwt_tokens(cluster: Cluster, client: Any, app: str = "main", email: str = "alice@example.com") -> Any:
    node = cluster.nodes[0]
    return client.create_token_with_iam(
        clientId=node.apps[app], grantType=JWT_BEARER, assertion=node.assertion(email)
    )


def refresh(cluster: Cluster, client: Any, token: str, app: str = "main") -> Any:
    return client.create_token_with_iam(
        clientId=cluster.nodes[0].apps[app], grantType="refresh_token", refreshToken=token
    )


def exchange(cluster: Cluster, client: Any, subject: str, **kw: Any) -> Any:
    return client.create_token_with_iam(
        clientId=cluster.nodes[0].apps["target"],
        grantType=TOKEN_EXCHANGE,
        subjectToken=subject,
        subjectTokenType=ACCESS_TYPE,
        **kw,
    )


def assert_one_winner(results: list[tuple[int, str, dict[str, Any]]]) -> dict[str, Any]:
    outcomes = Counter(code for _, code, _ in results)
    assert outcomes == {"ok": 1, "InvalidGrantException": RACERS - 1}, outcomes
    losers_by_node = Counter(node for node, code, _ in results if code != "ok")
    assert len(losers_by_node) == 3  # every node refused some: the single use is enforced across nodes
    return next(resp for _, code, resp in results if code == "ok")


# -- first start ------------------------------------------------------------------------------------------------


def test_simultaneous_first_start_creates_keys_once_and_every_node_serves_the_same(cluster: Cluster) -> None:
    keys = cluster.fetch("SELECT purpose, alg, count(*) FROM signing_keys GROUP BY purpose, alg")
    assert len(keys) == 2  # the idToken key and the demo issuer's key
    assert all(row[2] == 1 for row in keys), keys
    assert cluster.fetchval("SELECT count(*) FROM credentials") == 1  # the bootstrap admin, once
    assert cluster.fetchval("SELECT count(*) FROM schema_migrations") == cluster.fetchval(
        "SELECT max(version) FROM schema_migrations"
    )

    instance_id = cluster.nodes[0].instance_arn.rsplit("/", 1)[-1]
    docs = []
    for node in cluster.nodes:
        jwks = httpx.get(f"{node.url}/{instance_id}/.well-known/jwks.json", timeout=5).json()
        disc = httpx.get(f"{node.url}/{instance_id}/.well-known/openid-configuration", timeout=5).json()
        demo = httpx.get(f"{node.url}/demo-issuer/jwks.json", timeout=5).json()
        docs.append((jwks, disc["issuer"], demo))
    assert len(docs[0][0]["keys"]) == 1
    assert docs[0] == docs[1] == docs[2]

    # every node serves the same applications, and an idToken of any node carries the same iss and kid
    admin = [make_admin_client(node, "sso-admin") for node in cluster.nodes]
    instance = cluster.nodes[0].instance_arn
    arns = [
        sorted(a["ApplicationArn"] for a in c.list_applications(InstanceArn=instance)["Applications"])
        for c in admin
    ]
    assert arns[0] == arns[1] == arns[2] == sorted(cluster.nodes[0].apps.values())
    published = jwt.PyJWK(docs[0][0]["keys"][0])
    for node in cluster.nodes:
        resp = jwt_tokens(cluster, make_client(node))
        claims = jwt.decode(  # signed with the one published key, whichever node signed it
            resp["idToken"],
            published.key,
            algorithms=[published.algorithm_name],
            options={"verify_aud": False},
        )
        assert claims["iss"] == docs[0][1]


# -- single use across nodes ------------------------------------------------------------------------------------


def test_one_authorization_code_redeemed_on_three_nodes_at_once_yields_exactly_one(
    cluster: Cluster, oidc: list[Any]
) -> None:
    app, code = cluster.nodes[0].apps["web"], cluster.nodes[0].mint_code()
    results = race(oidc, clientId=app, grantType="authorization_code", code=code, redirectUri=REDIRECT_URI)
    won = assert_one_winner(results)
    # A replayed code revokes what it issued (RFC 6749 4.1.2), and every node sees that revocation.
    for client in oidc:
        assert error_code(lambda c=client: refresh(cluster, c, won["refreshToken"], app="web")) == (
            "InvalidGrantException"
        )
        assert (
            error_code(lambda c=client: exchange(cluster, c, won["accessToken"])) == "InvalidGrantException"
        )


def test_one_refresh_token_redeemed_on_three_nodes_at_once_yields_exactly_one(
    cluster: Cluster, oidc: list[Any]
) -> None:
    first = jwt_tokens(cluster, oidc[0])
    revoked_before = cluster.fetchval("SELECT count(*) FROM revoked_families")
    app = cluster.nodes[0].apps["main"]
    results = race(oidc, clientId=app, grantType="refresh_token", refreshToken=first["refreshToken"])
    won = assert_one_winner(results)
    # the losers came within the grace window: refused without revoking, so the winner's chain goes on anywhere
    assert all("rotated moments ago" in r["error_description"] for _, code, r in results if code != "ok")
    for client in oidc:
        won = refresh(cluster, client, won["refreshToken"])
    assert cluster.fetchval("SELECT count(*) FROM revoked_families") == revoked_before


def test_one_assertion_jti_redeemed_on_three_nodes_at_once_yields_exactly_one(
    cluster: Cluster, oidc: list[Any]
) -> None:
    node = cluster.nodes[0]
    jti = f"race-{time.time_ns()}"
    results = race(oidc, clientId=node.apps["main"], grantType=JWT_BEARER, assertion=node.assertion(jti=jti))
    assert_one_winner(results)
    assert all("already been used" in r["error_description"] for _, code, r in results if code != "ok")
    assert cluster.fetchval("SELECT count(*) FROM used_jtis WHERE jti = $1", jti) == 1


# -- revocation -------------------------------------------------------------------------------------------------


def test_family_revoked_through_one_node_fails_at_once_on_the_others(
    cluster: Cluster, oidc: list[Any]
) -> None:
    n0, n1, n2 = oidc
    first = jwt_tokens(cluster, n0)
    second = refresh(cluster, n1, first["refreshToken"])
    third = refresh(cluster, n2, second["refreshToken"])
    exchanged = exchange(cluster, n0, third["accessToken"], requestedTokenType=REFRESH_TYPE)
    other = jwt_tokens(cluster, n1)  # another session of the same user
    time.sleep(GRACE_S + 0.2)  # past the nodes' grace window: a reuse now revokes the family
    with pytest.raises(ClientError) as info:
        refresh(cluster, n0, first["refreshToken"])  # reuse through node 0
    assert "revoked" in info.value.response["error_description"]
    # at once, on the other nodes: every token of the family is dead
    assert error_code(lambda: refresh(cluster, n1, third["refreshToken"])) == "InvalidGrantException"
    assert error_code(lambda: exchange(cluster, n2, third["accessToken"])) == "InvalidGrantException"
    assert error_code(lambda: exchange(cluster, n1, second["accessToken"])) == "InvalidGrantException"
    assert error_code(lambda: refresh(cluster, n2, exchanged["refreshToken"], app="target")) == (
        "InvalidGrantException"
    )
    assert refresh(cluster, n2, other["refreshToken"])["accessToken"]  # the other session is untouched


# -- configuration ----------------------------------------------------------------------------------------------


# The documented bound (docs/deployment.md): PostgreSQL NOTIFYs every configuration-version change at commit, so
# other nodes serve it within milliseconds; even a lost notification is caught by the 1 s re-read.
PROPAGATION_BOUND = VERSION_RECHECK_SECONDS + 1.5  # + slack for the polling requests on a loaded CI machine


def served_within(check: Any, bound: float = PROPAGATION_BOUND) -> float:
    """Seconds until ``check()`` holds, polling every 10 ms; fails if that takes longer than ``bound``."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < bound, f"not served within {bound} s"
        time.sleep(0.01)
    return time.monotonic() - start


def test_configuration_change_through_one_node_is_served_by_the_others_within_the_bound(
    cluster: Cluster, oidc: list[Any], tmp_path: Path
) -> None:
    """A change made through any node (sso-admin) or by ``ssoidc apply`` on the database is served by every node
    within the documented bound."""
    app = cluster.nodes[0].apps["no-refresh"]  # no other test uses this application
    for client in oidc:
        assert jwt_tokens(cluster, client, app="no-refresh")["accessToken"]

    def refused(client: Any) -> bool:
        try:
            jwt_tokens(cluster, client, app="no-refresh")
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "InvalidClientException"
            return True
        return False

    def served(client: Any, **kw: Any) -> bool:
        try:
            return bool(jwt_tokens(cluster, client, **kw)["accessToken"])
        except ClientError:
            return False

    make_admin_client(cluster.nodes[0], "sso-admin").update_application(ApplicationArn=app, Status="DISABLED")
    assert refused(oidc[0])  # the node that made the change: at once
    for client in oidc[1:]:
        served_within(lambda c=client: refused(c))
    make_admin_client(cluster.nodes[2], "sso-admin").update_application(ApplicationArn=app, Status="ENABLED")
    assert served(oidc[2], app="no-refresh")
    for client in oidc[:2]:
        served_within(lambda c=client: served(c, app="no-refresh"))

    # the operator's path: `ssoidc apply` against the database while the nodes serve
    for client in oidc:
        assert error_code(lambda c=client: jwt_tokens(cluster, c, email="carol@example.com")) == (
            "AccessDeniedException"
        )
    doc = e2e_config(cluster.url(0))
    main = next(a for a in doc["Applications"] if a["Name"] == "main")
    main["Assignments"].append({"PrincipalType": "USER", "PrincipalId": "carol"})
    path = tmp_path / "carol.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = subprocess.run(
        [sys.executable, "-m", "ssoidc", "apply", str(path), "--data-dir", str(tmp_path / "cli"),
         "--database-url", cluster.database_url],
        env=cluster.env, capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    for client in oidc:
        served_within(lambda c=client: served(c, email="carol@example.com"))


def outcome(call: Any) -> str:
    """ "ok", or the error code of a refusal (never a 5xx)."""
    try:
        call()
    except ClientError as exc:
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] < 500
        return str(exc.response["Error"]["Code"])
    return "ok"


def test_directory_writes_through_one_node_are_seen_by_every_node_despite_their_caches(
    cluster: Cluster, oidc: list[Any]
) -> None:
    """Users and assignments are rows read by index through each worker's bounded cache: a user created through
    one node gets tokens through every node; once every node has cached that user's assignment, removing it
    through another node is refused everywhere within the bound, and so is the deleted user."""
    ids = make_admin_client(cluster.nodes[0], "identitystore")
    admin = make_admin_client(cluster.nodes[1], "sso-admin")
    store_id = admin.list_instances()["Instances"][0]["IdentityStoreId"]
    app = cluster.nodes[0].apps["main"]
    email = "dora@example.com"
    user_id = ids.create_user(
        IdentityStoreId=store_id,
        UserName="dora",
        DisplayName="Dora",
        Name={"GivenName": "Dora", "FamilyName": "D"},
        Emails=[{"Value": email, "Primary": True}],
    )["UserId"]
    for client in oidc:  # not assigned yet: refused (and the refusal is what each node caches)
        assert error_code(lambda c=client: jwt_tokens(cluster, c, email=email)) == "AccessDeniedException"
    admin.create_application_assignment(ApplicationArn=app, PrincipalId=user_id, PrincipalType="USER")
    for client in oidc:
        served_within(lambda c=client: outcome(lambda: jwt_tokens(cluster, c, email=email)) == "ok")
    admin.delete_application_assignment(ApplicationArn=app, PrincipalId=user_id, PrincipalType="USER")
    for client in oidc:
        served_within(
            lambda c=client: (
                error_code(lambda: jwt_tokens(cluster, c, email=email)) == "AccessDeniedException"
            )
        )
    admin.create_application_assignment(ApplicationArn=app, PrincipalId=user_id, PrincipalType="USER")
    for client in oidc:
        served_within(lambda c=client: outcome(lambda: jwt_tokens(cluster, c, email=email)) == "ok")
    make_admin_client(cluster.nodes[2], "identitystore").delete_user(IdentityStoreId=store_id, UserId=user_id)
    for client in oidc:
        served_within(
            lambda c=client: (
                error_code(lambda: jwt_tokens(cluster, c, email=email)) == "InvalidGrantException"
            )
        )
