"""Demo mode (``ssoidc serve --demo``, ``make run``): demo data and a built-in token issuer. DEV ONLY.

The demo token issuer lives at ``<base url>/demo-issuer`` and publishes OpenID discovery and a JWKS there; it is
served only in demo mode. ``ssoidc demo token USER`` mints an RS256 assertion for it (``aud`` ``ssoidc-demo``,
``email`` = the user's email, a fresh ``jti``), good for five minutes.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from ssoidc.config.apply import parse_file
from ssoidc.config.schema import ConfigFile
from ssoidc.oauth.redirect_uri import is_valid
from ssoidc.settings import Settings

DEMO_AUDIENCE = "ssoidc-demo"
DEMO_APP = "demo-app"
DEMO_TARGET_APP = "demo-target"
DEMO_WEB_APP = "demo-web"
DEMO_PERMISSION_SET = "DemoReadOnly"
DEMO_USERS = {
    "alice": ("Alice", "Liddell", "alice@example.com"),
    "bob": ("Bob", "Builder", "bob@example.com"),
}
DEMO_PASSWORDS = {"alice": "alice-demo-password", "bob": "bob-demo-password"}


def demo_issuer_url(settings: Settings) -> str:
    return f"{settings.base_url}/demo-issuer"


def demo_redirect_uri(settings: Settings) -> str:
    """The demo web application's redirect URI: ``<base url>/demo/callback`` when that is a redirect URI an
    application may register (https, or http on a loopback host); otherwise (``--host 0.0.0.0``, a plain-http
    public URL) the same page on ``http://127.0.0.1:<port>``, so demo mode always starts."""
    uri = f"{settings.base_url}/demo/callback"
    return uri if is_valid(uri) else f"http://127.0.0.1:{settings.port}/demo/callback"


def demo_config_dict(settings: Settings) -> dict[str, Any]:
    account = settings.account_id
    iam = {
        "IAM": {
            "Iam": {
                "ActorPolicy": {
                    "Version": "2012-10-17",
                    "Statement": {
                        "Effect": "Allow",
                        "Principal": {"AWS": account},
                        "Action": "sso-oauth:CreateTokenWithIAM",
                        "Resource": "*",
                    },
                }
            }
        }
    }
    return {
        "Instance": {"Name": "ssoidc-demo"},
        "TrustedTokenIssuers": [
            {
                "Name": "demo-issuer",
                "TrustedTokenIssuerType": "OIDC_JWT",
                "TrustedTokenIssuerConfiguration": {
                    "OidcJwtConfiguration": {
                        "IssuerUrl": demo_issuer_url(settings),
                        "ClaimAttributePath": "email",
                        "IdentityStoreAttributePath": "emails.value",
                        "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
                    }
                },
            }
        ],
        "Applications": [
            {
                "Name": DEMO_APP,
                "Description": "Demo application: JWT bearer and refresh grants",
                "Grants": {
                    "urn:ietf:params:oauth:grant-type:jwt-bearer": {
                        "JwtBearer": {
                            "AuthorizedTokenIssuers": [
                                {
                                    "TrustedTokenIssuerArn": "demo-issuer",
                                    "AuthorizedAudiences": [DEMO_AUDIENCE],
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
                                        "Principal": {"AWS": account},
                                        "Action": "sso-oauth:CreateTokenWithIAM",
                                        "Resource": "*",
                                    }
                                ],
                            }
                        }
                    }
                },
                "AccessScopes": [{"Scope": "demo:read", "AuthorizedTargets": [DEMO_TARGET_APP]}],
                "Assignments": [{"PrincipalType": "GROUP", "PrincipalId": "demo-users"}],
            },
            {
                "Name": DEMO_WEB_APP,
                "Description": "Demo web application: sign in in a browser, then redeem the code",
                "Grants": {
                    "authorization_code": {
                        "AuthorizationCode": {"RedirectUris": [demo_redirect_uri(settings)]}
                    },
                    "refresh_token": {"RefreshToken": {}},
                },
                "AuthenticationMethods": iam,
                "Assignments": [{"PrincipalType": "USER", "PrincipalId": "alice"}],
            },
            {
                "Name": DEMO_TARGET_APP,
                "Description": "Demo token-exchange target",
                "Grants": {"urn:ietf:params:oauth:grant-type:token-exchange": {"TokenExchange": {}}},
                "AuthenticationMethods": iam,
                "Assignments": [{"PrincipalType": "GROUP", "PrincipalId": "demo-users"}],
            },
        ],
        "Users": [
            {
                "UserName": name,
                "DisplayName": f"{given} {family}",
                "Name": {"GivenName": given, "FamilyName": family},
                "Emails": [{"Value": email, "Type": "work", "Primary": True}],
            }
            for name, (given, family, email) in DEMO_USERS.items()
        ],
        "Groups": [{"DisplayName": "demo-users", "Members": list(DEMO_USERS)}],
        # the portal's role for the demo users on the instance's own account (aws sso get-role-credentials, an
        # sso-session profile's credentials): read-only on ssoidc's configuration plane (docs/portal.md)
        "PermissionSets": [
            {
                "Name": DEMO_PERMISSION_SET,
                "Description": "Demo role: read the configuration (ssoidc's ReadOnlyAccess approximation)",
                "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            }
        ],
        "AccountAssignments": [
            {
                "TargetId": account,
                "PermissionSetArn": DEMO_PERMISSION_SET,
                "PrincipalType": "GROUP",
                "PrincipalId": "demo-users",
            }
        ],
    }


def demo_config(settings: Settings) -> ConfigFile:
    import yaml

    return parse_file(yaml.safe_dump(demo_config_dict(settings)), "demo")


def demo_claims(
    settings: Settings, user: str, *, now: float | None = None, lifetime: int = 300
) -> dict[str, Any]:
    """Claims of a demo assertion for ``user`` (a demo user name or an email address)."""
    t = int(now if now is not None else time.time())
    email = DEMO_USERS[user][2] if user in DEMO_USERS else user
    return {
        "iss": demo_issuer_url(settings),
        "sub": email,
        "aud": DEMO_AUDIENCE,
        "email": email,
        "email_verified": True,
        "iat": t,
        "nbf": t,
        "exp": t + lifetime,
        "jti": secrets.token_urlsafe(16),
    }


def demo_discovery(settings: Settings) -> dict[str, Any]:
    iss = demo_issuer_url(settings)
    return {
        "issuer": iss,
        "jwks_uri": f"{iss}/jwks.json",
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
    }
