"""How a user tests code that talks to IAM Identity Center, with ssoidc's pytest fixture (docs/testing.md).

Each test gets a fresh, real ssoidc (``ssoidc_server``); plain ``boto3.client(...)`` calls reach it, with no
endpoint or credentials in the test, and can never reach AWS or read the developer's own profile.
"""

import json

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.tokens import SSOTokenProvider

from ssoidc.testing import TestServer

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCOUNT = "123456789012"  # the instance's account (ssoidc.testing's default)


def test_create_token_with_iam(ssoidc_server: TestServer) -> None:
    """Trusted identity propagation: exchange the IdP's assertion for Identity Center tokens."""
    oidc = boto3.client("sso-oidc")
    token = oidc.create_token_with_iam(
        clientId=ssoidc_server.application_arn("my-app"),
        grantType=JWT_BEARER,
        assertion=ssoidc_server.issuer.assertion("alice@example.com"),
    )
    assert token["tokenType"] == "Bearer"
    assert token["expiresIn"] == 3600
    refreshed = oidc.create_token_with_iam(
        clientId=ssoidc_server.application_arn("my-app"),
        grantType="refresh_token",
        refreshToken=token["refreshToken"],
    )
    assert refreshed["accessToken"] != token["accessToken"]


def test_unassigned_user_is_refused(ssoidc_server: TestServer) -> None:
    oidc = boto3.client("sso-oidc")
    with pytest.raises(ClientError) as err:
        oidc.create_token_with_iam(
            clientId=ssoidc_server.application_arn("my-app"),
            grantType=JWT_BEARER,
            assertion=ssoidc_server.issuer.assertion("mallory@example.com"),
        )
    assert err.value.response["Error"]["Code"] == "InvalidGrantException"


def test_sso_profile_gets_credentials_that_work(ssoidc_server: TestServer) -> None:
    """IAM Identity Center end to end: a permission set assigned with sso-admin, `aws sso login`, then a plain
    ``boto3.Session(profile_name=...)`` gets role credentials through botocore's own SSO provider."""
    admin = boto3.client("sso-admin")
    instance = admin.list_instances()["Instances"][0]
    arn, store_id = instance["InstanceArn"], instance["IdentityStoreId"]
    ps = admin.create_permission_set(InstanceArn=arn, Name="Reader", SessionDuration="PT2H")["PermissionSet"]
    reads = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sso:ListInstances", "Resource": "*"}],
    }
    admin.put_inline_policy_to_permission_set(
        InstanceArn=arn, PermissionSetArn=ps["PermissionSetArn"], InlinePolicy=json.dumps(reads)
    )
    alice = boto3.client("identitystore").get_user_id(
        IdentityStoreId=store_id,
        AlternateIdentifier={"UniqueAttribute": {"AttributePath": "userName", "AttributeValue": "alice"}},
    )["UserId"]
    admin.create_account_assignment(
        InstanceArn=arn,
        TargetId=ACCOUNT,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=ps["PermissionSetArn"],
        PrincipalType="USER",
        PrincipalId=alice,
    )

    profile = ssoidc_server.login("alice", account_id=ACCOUNT, role_name="Reader")
    session = boto3.Session(profile_name=profile)
    who = session.client("sts").get_caller_identity()
    assert who["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Reader_")
    assert who["Arn"].endswith("/alice")
    reader = session.client("sso-admin")
    assert reader.list_instances()["Instances"][0]["InstanceArn"] == arn  # the permission set allows it
    with pytest.raises(ClientError) as err:  # and nothing else
        reader.list_permission_sets(InstanceArn=arn)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"


def test_expired_cached_sso_token_is_refreshed(ssoidc_server: TestServer) -> None:
    """The test botocore could not write: an SSO token in the cache expires, and the SDK refreshes it."""
    profile = ssoidc_server.login("alice")
    before = ssoidc_server.read_token_cache("ssoidc")
    provider = SSOTokenProvider(botocore.session.Session(profile=profile))
    assert provider.load_token().get_frozen_token().token == before["accessToken"]  # fresh: used as it is

    ssoidc_server.clock.advance(3600 - 5 * 60)  # five minutes left: inside botocore's refresh window
    refreshed = provider.load_token().get_frozen_token().token
    after = ssoidc_server.read_token_cache("ssoidc")
    assert refreshed == after["accessToken"] != before["accessToken"]
    assert after["refreshToken"] != before["refreshToken"]  # rotated by ssoidc

    ssoidc_server.clock.advance(3600)  # the old access token's life is over on the server too
    oidc = boto3.client("sso-oidc")
    with pytest.raises(ClientError) as err:  # the spent refresh token cannot be replayed
        oidc.create_token(
            clientId=before["clientId"],
            clientSecret=before["clientSecret"],
            grantType="refresh_token",
            refreshToken=before["refreshToken"],
        )
    assert err.value.response["Error"]["Code"] == "InvalidGrantException"


def test_client_retries_a_server_error(ssoidc_server: TestServer) -> None:
    """Fault injection: the next two calls fail with a modelled 500; botocore's standard retries get through."""
    ssoidc_server.faults.fail("ListInstances", "InternalServerException", count=2)
    admin = boto3.client("sso-admin", config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
    assert admin.list_instances()["Instances"][0]["Status"] == "ACTIVE"
    assert ssoidc_server.faults.pending() == []


def test_code_handles_slow_down(ssoidc_server: TestServer) -> None:
    """botocore does not retry SlowDownException: the application's own handling must, and can be tested."""
    ssoidc_server.faults.fail("CreateTokenWithIAM", "SlowDownException")
    oidc = boto3.client("sso-oidc")
    request = {
        "clientId": ssoidc_server.application_arn("my-app"),
        "grantType": JWT_BEARER,
        "assertion": ssoidc_server.issuer.assertion("alice@example.com"),
    }
    with pytest.raises(ClientError) as err:
        oidc.create_token_with_iam(**request)
    assert err.value.response["Error"]["Code"] == "SlowDownException"
    assert oidc.create_token_with_iam(**request)["tokenType"] == "Bearer"  # the fault was for one call
