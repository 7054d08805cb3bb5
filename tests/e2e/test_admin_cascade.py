"""Delete cascades through both front doors: a deleted application's (and user's) tokens die at once.

DeleteApplication (sso-admin) and dropping an application or user from the file (``ssoidc apply``) must revoke
every token issued for them, in the same transaction as the change; tokens of other applications survive.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from ssoidc.storage.base import TokenRecord
from tests.helpers.clients import make_admin_client, make_client
from tests.helpers.config import JWT_BEARER, ROOT, TOKEN_EXCHANGE, e2e_config
from tests.helpers.servers import LiveServer, private_server

live = private_server("cascade", scope="function")


def stored(server: LiveServer, token: str) -> TokenRecord:
    rec = server.with_store(lambda st: st.find_token(hashlib.sha256(token.encode()).digest()))
    assert rec is not None
    return rec


def error_code(call: Any) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


def test_delete_application_revokes_its_tokens_and_only_its(live: LiveServer) -> None:
    oidc = make_client(live)
    main = oidc.create_token_with_iam(
        clientId=live.apps["main"], grantType=JWT_BEARER, assertion=live.assertion()
    )
    other = oidc.create_token_with_iam(
        clientId=live.apps["no-refresh"], grantType=JWT_BEARER, assertion=live.assertion()
    )
    assert stored(live, main["accessToken"]).revoked_at is None
    sso = make_admin_client(live, "sso-admin")

    sso.delete_application(ApplicationArn=live.apps["main"])

    for token in (main["accessToken"], main["refreshToken"]):
        assert stored(live, token).revoked_at is not None
    assert stored(live, other["accessToken"]).revoked_at is None
    # the access token can no longer be exchanged, and the other application's token still can
    assert (
        error_code(
            lambda: oidc.create_token_with_iam(
                clientId=live.apps["target"],
                grantType=TOKEN_EXCHANGE,
                subjectToken=main["accessToken"],
                subjectTokenType="urn:ietf:params:oauth:token-type:access_token",
            )
        )
        == "InvalidGrantException"
    )
    assert (
        error_code(
            lambda: oidc.create_token_with_iam(
                clientId=live.apps["main"], grantType="refresh_token", refreshToken=main["refreshToken"]
            )
        )
        == "InvalidClientException"
    )


def test_dropping_application_and_user_from_the_file_revokes_their_tokens(
    live: LiveServer, tmp_path: Path
) -> None:
    oidc = make_client(live)
    bob = oidc.create_token_with_iam(
        clientId=live.apps["main"], grantType=JWT_BEARER, assertion=live.assertion("bob@example.com")
    )
    alice_other = oidc.create_token_with_iam(
        clientId=live.apps["no-refresh"], grantType=JWT_BEARER, assertion=live.assertion("alice@example.com")
    )
    config = e2e_config(live.url)
    config["Users"] = [u for u in config["Users"] if u["UserName"] != "bob"]
    for group in config.get("Groups", []):
        group["Members"] = [m for m in group.get("Members", []) if m != "bob"]
    for app in config["Applications"]:
        app["Assignments"] = [a for a in app.get("Assignments", []) if a["PrincipalId"] != "bob"]
    config["Applications"] = [a for a in config["Applications"] if a["Name"] != "no-refresh"]
    for app in config["Applications"]:
        for scope in app.get("AccessScopes", []):
            scope["AuthorizedTargets"] = [t for t in scope.get("AuthorizedTargets", []) if t != "no-refresh"]
    path = tmp_path / "smaller.yaml"
    path.write_text(yaml.safe_dump(config))

    subprocess.run(
        [sys.executable, "-m", "ssoidc", "apply", str(path), "--data-dir", str(live.data_dir)],
        env=live.env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )

    assert stored(live, bob["refreshToken"]).revoked_at is not None
    assert stored(live, alice_other["accessToken"]).revoked_at is not None
    assert (
        error_code(
            lambda: oidc.create_token_with_iam(
                clientId=live.apps["main"], grantType="refresh_token", refreshToken=bob["refreshToken"]
            )
        )
        == "InvalidGrantException"
    )
    # alice's tokens for the applications that remain are untouched
    alice = oidc.create_token_with_iam(
        clientId=live.apps["main"], grantType=JWT_BEARER, assertion=live.assertion()
    )
    assert stored(live, alice["refreshToken"]).revoked_at is None
