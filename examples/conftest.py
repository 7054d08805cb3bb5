"""The configuration every example test's ssoidc starts with (the ``ssoidc apply`` file shape as a dict).

Nothing else is needed: installing ssoidc registers its pytest plugin, which provides ``ssoidc_server``.
``test_issuer_config()`` is the server's own local trusted token issuer (``ssoidc_server.issuer``).
"""

from typing import Any

import pytest

from ssoidc.testing import test_issuer_config

ACCOUNT = "123456789012"  # the account of the server's admin credential (ssoidc.testing's default)


@pytest.fixture
def ssoidc_config() -> dict[str, Any]:
    return {
        "Instance": {"Name": "example"},
        "TrustedTokenIssuers": [
            test_issuer_config(),  # the server's local issuer, "{issuer_url}"
        ],
        "Applications": [
            {
                "Name": "my-app",
                "Grants": {
                    "urn:ietf:params:oauth:grant-type:jwt-bearer": {
                        "JwtBearer": {
                            "AuthorizedTokenIssuers": [
                                {
                                    "TrustedTokenIssuerArn": "test-issuer",
                                    "AuthorizedAudiences": ["ssoidc-demo"],
                                }
                            ]
                        }
                    },
                    "refresh_token": {"RefreshToken": {}},
                },
                "AuthenticationMethods": {
                    "IAM": {
                        "Iam": {
                            "ActorPolicy": {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Principal": {"AWS": ACCOUNT},
                                        "Action": "sso-oauth:CreateTokenWithIAM",
                                        "Resource": "*",
                                    }
                                ],
                            }
                        }
                    }
                },
                "Assignments": [{"PrincipalType": "USER", "PrincipalId": "alice"}],
            }
        ],
        "Users": [
            {
                "UserName": "alice",
                "DisplayName": "Alice Liddell",
                "Name": {"GivenName": "Alice", "FamilyName": "Liddell"},
                "Emails": [{"Value": "alice@example.com", "Type": "work", "Primary": True}],
            }
        ],
    }
