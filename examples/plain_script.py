"""ssoidc.testing without pytest: the context manager in a plain script (run by `make test`).

The same four scenarios as test_examples.py: CreateTokenWithIAM with a JWT bearer assertion, an SSO profile through
``boto3.Session(profile_name=...)``, an expired cached SSO token refreshed by botocore, and a retry through an
injected fault.
"""

import json

import boto3
import botocore.session
from botocore.config import Config
from botocore.tokens import SSOTokenProvider

import ssoidc.testing

ACCOUNT = "123456789012"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CONFIG = {
    "Instance": {"Name": "script"},
    "TrustedTokenIssuers": [ssoidc.testing.test_issuer_config()],
    "Applications": [
        {
            "Name": "my-app",
            "Grants": {
                JWT_BEARER: {
                    "JwtBearer": {
                        "AuthorizedTokenIssuers": [
                            {"TrustedTokenIssuerArn": "test-issuer", "AuthorizedAudiences": ["ssoidc-demo"]}
                        ]
                    }
                }
            },
            "AuthenticationMethods": {
                "IAM": {
                    "Iam": {
                        "ActorPolicy": {
                            "Statement": {
                                "Effect": "Allow",
                                "Principal": {"AWS": ACCOUNT},
                                "Action": "sso-oauth:CreateTokenWithIAM",
                                "Resource": "*",
                            }
                        }
                    }
                }
            },
            "AssignmentRequired": False,
        }
    ],
    "Users": [
        {"UserName": "bob", "DisplayName": "Bob", "Emails": [{"Value": "bob@example.com", "Primary": True}]}
    ],
    "PermissionSets": [
        {
            "Name": "Viewer",
            "InlinePolicy": {
                "Statement": [{"Effect": "Allow", "Action": "sso:ListInstances", "Resource": "*"}]
            },
        }
    ],
    "AccountAssignments": [
        {"TargetId": ACCOUNT, "PermissionSetArn": "Viewer", "PrincipalType": "USER", "PrincipalId": "bob"}
    ],
}


def main() -> None:
    with ssoidc.testing.server(config=CONFIG) as idc:
        # 1. trusted identity propagation
        token = boto3.client("sso-oidc").create_token_with_iam(
            clientId=idc.application_arn("my-app"),
            grantType=JWT_BEARER,
            assertion=idc.issuer.assertion("bob@example.com"),
        )
        assert token["tokenType"] == "Bearer"

        # 2. an SSO profile: aws sso login, then botocore's SSO credential provider
        profile = idc.login("bob", account_id=ACCOUNT, role_name="Viewer")
        who = boto3.Session(profile_name=profile).client("sts").get_caller_identity()
        assert who["Arn"].endswith("/bob") and ":assumed-role/AWSReservedSSO_Viewer_" in who["Arn"]

        # 3. the cached SSO token expires; botocore refreshes it through ssoidc
        provider = SSOTokenProvider(botocore.session.Session(profile=profile))
        before = idc.read_token_cache(profile)["accessToken"]
        idc.clock.advance(3600 - 5 * 60)
        assert provider.load_token().get_frozen_token().token != before

        # 4. a retry through an injected fault
        idc.faults.fail("ListInstances", "ThrottlingException", count=2)
        admin = boto3.client(
            "sso-admin", config=Config(retries={"mode": "standard", "total_max_attempts": 3})
        )
        instance = admin.list_instances()["Instances"][0]
        print(
            f"ok: {idc.endpoint_url} served {instance['InstanceArn']} to {json.dumps(who['Arn'])};"
            f" the clock is {idc.clock.offset:.0f} s ahead"
        )


if __name__ == "__main__":
    main()
