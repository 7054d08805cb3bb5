"""The configuration every e2e test runs against, and the names, credentials and constants the tests use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
"""The repository root."""
ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
ADMIN_KEY = "AKIASSOIDCTESTADMIN1"
ADMIN_SECRET = "test/admin/secret/0123456789abcdefghijklmn"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCE = "test-audience"
REDIRECT_URI = "https://app.example.com/callback"
INSTANCE_ARN = "arn:aws:sso:::instance/ssoins-e2e0000000000000"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TYPE = "urn:ietf:params:oauth:token-type:access_token"
REFRESH_TYPE = "urn:ietf:params:oauth:token-type:refresh_token"


def allow_account(account: str = ACCOUNT) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": account},
                "Action": "sso-oauth:CreateTokenWithIAM",
                "Resource": "*",
            }
        ],
    }


def e2e_config(base_url: str) -> dict[str, Any]:
    """The configuration every e2e test runs against (names are referenced by the tests)."""
    issuer = f"{base_url}/demo-issuer"
    jwt_grant = {
        JWT_BEARER: {
            "JwtBearer": {
                "AuthorizedTokenIssuers": [
                    {"TrustedTokenIssuerArn": "demo", "AuthorizedAudiences": [AUDIENCE]}
                ]
            }
        }
    }
    deny_alice_role = {
        "Version": "2012-10-17",
        "Statement": [
            allow_account()["Statement"][0],
            {
                "Sid": "NoDenied",
                "Effect": "Deny",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/Denied"},
                "Action": "sso-oauth:*",
                "Resource": "*",
            },
        ],
    }
    return {
        "Instance": {"Name": "e2e", "InstanceArn": INSTANCE_ARN},
        "TrustedTokenIssuers": [
            {
                "Name": "demo",
                "TrustedTokenIssuerConfiguration": {
                    "OidcJwtConfiguration": {
                        "IssuerUrl": issuer,
                        "ClaimAttributePath": "email",
                        "IdentityStoreAttributePath": "emails.value",
                    }
                },
            }
        ],
        "Applications": [
            {
                "Name": "main",
                "Grants": {
                    **jwt_grant,
                    "refresh_token": {"RefreshToken": {}},
                    "urn:ietf:params:oauth:grant-type:token-exchange": {"TokenExchange": {}},
                },
                "AuthenticationMethods": {"IAM": {"Iam": {"ActorPolicy": deny_alice_role}}},
                "AccessScopes": [
                    {"Scope": "data:read", "AuthorizedTargets": ["target", "target-no-refresh"]},
                    {"Scope": "data:write"},
                ],
                "Assignments": [
                    {"PrincipalType": "USER", "PrincipalId": "alice"},
                    {"PrincipalType": "GROUP", "PrincipalId": "team"},
                ],
            },
            {
                "Name": "no-refresh",
                "Grants": jwt_grant,
                "AuthenticationMethods": {"IAM": {"Iam": {"ActorPolicy": allow_account()}}},
                "AssignmentRequired": False,
            },
            {
                "Name": "no-policy",
                "Grants": jwt_grant,
                "AssignmentRequired": False,
            },
            {
                "Name": "other-account-only",
                "Grants": jwt_grant,
                "AuthenticationMethods": {"IAM": {"Iam": {"ActorPolicy": allow_account(OTHER_ACCOUNT)}}},
                "AssignmentRequired": False,
            },
            {
                "Name": "disabled",
                "Status": "DISABLED",
                "Grants": jwt_grant,
                "AuthenticationMethods": {"IAM": {"Iam": {"ActorPolicy": allow_account()}}},
            },
            {
                "Name": "web",
                "Grants": {
                    "authorization_code": {
                        "AuthorizationCode": {
                            "RedirectUris": [REDIRECT_URI, "http://127.0.0.1/cb", f"{base_url}/demo/callback"]
                        }
                    },
                    "refresh_token": {"RefreshToken": {}},
                },
                "AuthenticationMethods": {"IAM": {"Iam": {"ActorPolicy": allow_account()}}},
                "AccessScopes": [{"Scope": "web:read", "AuthorizedTargets": [INSTANCE_ARN]}],
                "Assignments": [{"PrincipalType": "USER", "PrincipalId": "alice"}],
            },
            {
                "Name": "target-no-refresh",
                "Grants": {"urn:ietf:params:oauth:grant-type:token-exchange": {"TokenExchange": {}}},
                "AuthenticationMethods": {"IAM": {"Iam": {"ActorPolicy": allow_account()}}},
                "AssignmentRequired": False,
            },
            {
                "Name": "target",
                "Grants": {
                    "urn:ietf:params:oauth:grant-type:token-exchange": {"TokenExchange": {}},
                    "refresh_token": {"RefreshToken": {}},
                },
                "AuthenticationMethods": {"IAM": {"Iam": {"ActorPolicy": allow_account()}}},
                "Assignments": [{"PrincipalType": "USER", "PrincipalId": "alice"}],
            },
        ],
        "Users": [
            {"UserName": "alice", "Emails": [{"Value": "alice@example.com"}], "Name": {"GivenName": "Alice"}},
            {"UserName": "bob", "Emails": [{"Value": "bob@example.com"}]},
            {"UserName": "carol", "Emails": [{"Value": "carol@example.com"}]},
            {"UserName": "dup1", "Emails": [{"Value": "dup@example.com"}]},
            {"UserName": "dup2", "Emails": [{"Value": "dup@example.com"}]},
        ],
        "Groups": [{"DisplayName": "team", "Members": ["bob"]}],
    }
