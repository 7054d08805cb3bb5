"""Acceptance: a trusted identity propagation setup built from scratch with boto3 alone, then used.

Operations driven (sso-admin): ListInstances, ListApplications, DeleteApplication, ListTrustedTokenIssuers,
DeleteTrustedTokenIssuer, CreateTrustedTokenIssuer, CreateApplication, PutApplicationGrant,
PutApplicationAuthenticationMethod, PutApplicationAccessScope, PutApplicationAssignmentConfiguration,
GetApplicationAssignmentConfiguration, CreateApplicationAssignment; (identitystore) CreateUser, CreateGroup,
CreateGroupMembership, DeleteUser; (sso-oidc) CreateTokenWithIAM with the JWT-bearer, refresh-token and
token-exchange grants.

The module starts its own server and first clears the e2e configuration's applications and its trusted token
issuer, so everything the tokens depend on afterwards was made through the admin API. The new issuer reuses the
URL of the server's demo issuer (the issuer URL must equal the ``issuer`` of its discovery document), so
``LiveServer.assertion`` signs assertions it accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.clients import decode_unverified, make_admin_client, make_client
from tests.helpers.config import (
    ACCESS_TYPE,
    ACCOUNT,
    AUDIENCE,
    JWT_BEARER,
    REFRESH_TYPE,
    TOKEN_EXCHANGE,
    allow_account,
)
from tests.helpers.servers import LiveServer, private_server

CUSTOM = "arn:aws:sso::aws:applicationProvider/custom"
ADMIN_ROOT = f"arn:aws:iam::{ACCOUNT}:root"
MEMBER_EMAIL = "walker@example.org"
OUTSIDER_EMAIL = "outsider@example.org"


def error_code(call: Any, *args: Any, **kw: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call(*args, **kw)
    resp = info.value.response
    return (
        resp["Error"]["Code"],
        str(resp.get("error_description") or resp["Error"].get("Message", "")),
        resp["ResponseMetadata"]["HTTPStatusCode"],
    )


@dataclass
class Setup:
    server: LiveServer
    sso: Any
    ids: Any
    oidc: Any
    instance_arn: str
    store_id: str
    tti_arn: str
    client_app: str
    target_app: str
    member_id: str
    outsider_id: str
    group_id: str


live = private_server("walkthrough")


@pytest.fixture(scope="module")
def setup(live: LiveServer) -> Setup:
    sso, ids = make_admin_client(live, "sso-admin"), make_admin_client(live, "identitystore")
    oidc = make_client(live)

    instances = sso.list_instances()["Instances"]
    assert len(instances) == 1
    instance_arn, store_id = instances[0]["InstanceArn"], instances[0]["IdentityStoreId"]
    assert instance_arn == live.instance_arn
    assert store_id.startswith("d-")

    # from scratch: no application and no trusted token issuer survive from the file configuration
    for page in sso.get_paginator("list_applications").paginate(InstanceArn=instance_arn):
        for app in page["Applications"]:
            sso.delete_application(ApplicationArn=app["ApplicationArn"])
    assert sso.list_applications(InstanceArn=instance_arn)["Applications"] == []
    for t in sso.list_trusted_token_issuers(InstanceArn=instance_arn)["TrustedTokenIssuers"]:
        sso.delete_trusted_token_issuer(TrustedTokenIssuerArn=t["TrustedTokenIssuerArn"])
    assert sso.list_trusted_token_issuers(InstanceArn=instance_arn)["TrustedTokenIssuers"] == []

    tti_arn = sso.create_trusted_token_issuer(
        InstanceArn=instance_arn,
        Name="walkthrough-idp",
        TrustedTokenIssuerType="OIDC_JWT",
        TrustedTokenIssuerConfiguration={
            "OidcJwtConfiguration": {
                "IssuerUrl": live.issuer_url,
                "ClaimAttributePath": "email",
                "IdentityStoreAttributePath": "emails.value",
                "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
            }
        },
    )["TrustedTokenIssuerArn"]

    def new_app(name: str) -> str:
        out = sso.create_application(
            InstanceArn=instance_arn,
            ApplicationProviderArn=CUSTOM,
            Name=name,
            PortalOptions={"Visibility": "DISABLED"},
        )
        assert out["ApplicationArn"].startswith(f"arn:aws:sso::{ACCOUNT}:application/")
        return str(out["ApplicationArn"])

    client_app, target_app = new_app("walkthrough-client"), new_app("walkthrough-target")
    sso.put_application_grant(
        ApplicationArn=client_app,
        GrantType=JWT_BEARER,
        Grant={
            "JwtBearer": {
                "AuthorizedTokenIssuers": [
                    {"TrustedTokenIssuerArn": tti_arn, "AuthorizedAudiences": [AUDIENCE]}
                ]
            }
        },
    )
    for app in (client_app, target_app):
        sso.put_application_grant(ApplicationArn=app, GrantType="refresh_token", Grant={"RefreshToken": {}})
        sso.put_application_grant(ApplicationArn=app, GrantType=TOKEN_EXCHANGE, Grant={"TokenExchange": {}})
        sso.put_application_authentication_method(
            ApplicationArn=app,
            AuthenticationMethodType="IAM",
            AuthenticationMethod={"Iam": {"ActorPolicy": allow_account(ADMIN_ROOT)}},
        )
        sso.put_application_assignment_configuration(ApplicationArn=app, AssignmentRequired=True)
        assert sso.get_application_assignment_configuration(ApplicationArn=app)["AssignmentRequired"] is True
    sso.put_application_access_scope(ApplicationArn=client_app, Scope="openid")
    sso.put_application_access_scope(
        ApplicationArn=client_app, Scope="records:read", AuthorizedTargets=[target_app]
    )

    def new_user(user_name: str, email: str) -> str:
        return str(
            ids.create_user(
                IdentityStoreId=store_id,
                UserName=user_name,
                DisplayName=user_name.title(),
                Name={"GivenName": user_name.title(), "FamilyName": "Walkthrough"},
                Emails=[{"Value": email, "Type": "work", "Primary": True}],
            )["UserId"]
        )

    member_id = new_user("walker", MEMBER_EMAIL)
    outsider_id = new_user("outsider", OUTSIDER_EMAIL)
    group_id = ids.create_group(IdentityStoreId=store_id, DisplayName="walkers")["GroupId"]
    ids.create_group_membership(IdentityStoreId=store_id, GroupId=group_id, MemberId={"UserId": member_id})
    for app in (client_app, target_app):
        sso.create_application_assignment(ApplicationArn=app, PrincipalId=group_id, PrincipalType="GROUP")
    return Setup(
        live, sso, ids, oidc, instance_arn, store_id, tti_arn, client_app, target_app,
        member_id, outsider_id, group_id,
    )  # fmt: skip


def jwt_bearer(s: Setup, email: str = MEMBER_EMAIL) -> dict[str, Any]:
    return dict(
        s.oidc.create_token_with_iam(
            clientId=s.client_app, grantType=JWT_BEARER, assertion=s.server.assertion(email)
        )
    )


def test_setup_is_what_the_admin_api_reports(setup: Setup) -> None:
    s = setup
    apps = {a["ApplicationArn"] for a in s.sso.list_applications(InstanceArn=s.instance_arn)["Applications"]}
    assert apps == {s.client_app, s.target_app}
    grants = s.sso.list_application_grants(ApplicationArn=s.client_app)["Grants"]
    assert {g["GrantType"] for g in grants} == {JWT_BEARER, "refresh_token", TOKEN_EXCHANGE}
    scope = s.sso.get_application_access_scope(ApplicationArn=s.client_app, Scope="records:read")
    assert scope == {
        "Scope": "records:read",
        "AuthorizedTargets": [s.target_app],
        "ResponseMetadata": scope["ResponseMetadata"],
    }
    assert (
        s.ids.list_group_memberships_for_member(IdentityStoreId=s.store_id, MemberId={"UserId": s.member_id})[
            "GroupMemberships"
        ][0]["GroupId"]
        == s.group_id
    )
    assignment = s.sso.describe_application_assignment(
        ApplicationArn=s.client_app, PrincipalId=s.group_id, PrincipalType="GROUP"
    )
    assert assignment["PrincipalId"] == s.group_id


def test_jwt_bearer_refresh_and_token_exchange(setup: Setup) -> None:
    s = setup
    first = jwt_bearer(s)
    assert first["accessToken"].startswith("aoa")
    assert first["refreshToken"].startswith("aor")
    assert set(first["scope"]) >= {"openid", "records:read"}
    claims = decode_unverified(first["idToken"])
    assert claims["sub"] == s.member_id
    assert claims["aud"] == s.client_app
    assert claims["aws:application_arn"] == s.client_app

    second = dict(
        s.oidc.create_token_with_iam(
            clientId=s.client_app, grantType="refresh_token", refreshToken=first["refreshToken"]
        )
    )
    assert second["accessToken"] != first["accessToken"]
    assert second["refreshToken"] != first["refreshToken"]
    assert decode_unverified(second["idToken"])["sub"] == s.member_id

    exchanged = dict(
        s.oidc.create_token_with_iam(
            clientId=s.target_app,
            grantType=TOKEN_EXCHANGE,
            subjectToken=second["accessToken"],
            subjectTokenType=ACCESS_TYPE,
            requestedTokenType=REFRESH_TYPE,
        )
    )
    assert exchanged["issuedTokenType"] == REFRESH_TYPE
    assert exchanged["accessToken"].startswith("aoa")
    target_claims = decode_unverified(exchanged["idToken"])
    assert target_claims["sub"] == s.member_id
    assert target_claims["aud"] == s.target_app
    assert target_claims["act"] == {"sub": s.client_app, "act": {"sub": s.tti_arn}}
    # the scopes the subject carries that the target can grant (it has no access scopes of its own)
    assert exchanged["scope"] == ["sts:identity_context", "openid", "aws"]
    rotated = s.oidc.create_token_with_iam(
        clientId=s.target_app, grantType="refresh_token", refreshToken=exchanged["refreshToken"]
    )
    assert decode_unverified(rotated["idToken"])["aud"] == s.target_app


def test_exchange_needs_the_authorized_target(setup: Setup) -> None:
    """It is the AuthorizedTargets put through the admin API that lets the target accept the client's token."""
    s = setup
    s.sso.put_application_access_scope(ApplicationArn=s.client_app, Scope="records:read")
    try:
        subject = jwt_bearer(s)["accessToken"]
        code, message, status = error_code(
            s.oidc.create_token_with_iam,
            clientId=s.target_app,
            grantType=TOKEN_EXCHANGE,
            subjectToken=subject,
            subjectTokenType=ACCESS_TYPE,
        )
        assert (code, status) == ("InvalidRequestException", 400)
        assert "AuthorizedTargets" in message
    finally:
        s.sso.put_application_access_scope(
            ApplicationArn=s.client_app, Scope="records:read", AuthorizedTargets=[s.target_app]
        )
    subject = jwt_bearer(s)["accessToken"]
    out = s.oidc.create_token_with_iam(
        clientId=s.target_app, grantType=TOKEN_EXCHANGE, subjectToken=subject, subjectTokenType=ACCESS_TYPE
    )
    assert out["issuedTokenType"] == ACCESS_TYPE


def test_act_claim_names_the_new_issuer(setup: Setup) -> None:
    claims = decode_unverified(jwt_bearer(setup)["idToken"])
    assert claims["act"]["sub"] == setup.tti_arn


def test_user_outside_the_group_is_denied(setup: Setup) -> None:
    s = setup
    code, message, status = error_code(
        s.oidc.create_token_with_iam,
        clientId=s.client_app,
        grantType=JWT_BEARER,
        assertion=s.server.assertion(OUTSIDER_EMAIL),
    )
    assert (code, status) == ("AccessDeniedException", 400)
    assert "assign" in message.lower()
    # assigning the user directly admits them; removing the assignment denies them again
    s.sso.create_application_assignment(
        ApplicationArn=s.client_app, PrincipalId=s.outsider_id, PrincipalType="USER"
    )
    assert decode_unverified(jwt_bearer(s, OUTSIDER_EMAIL)["idToken"])["sub"] == s.outsider_id
    s.sso.delete_application_assignment(
        ApplicationArn=s.client_app, PrincipalId=s.outsider_id, PrincipalType="USER"
    )
    code, _, _ = error_code(jwt_bearer, s, OUTSIDER_EMAIL)
    assert code == "AccessDeniedException"


def test_unknown_email_is_invalid_grant(setup: Setup) -> None:
    code, _, status = error_code(jwt_bearer, setup, "nobody@example.org")
    assert (code, status) == ("InvalidGrantException", 400)


def test_deleted_user_loses_refresh_token(setup: Setup) -> None:
    """Runs last in this module (it deletes a user of the setup): a dedicated user and membership."""
    s = setup
    user_id = s.ids.create_user(
        IdentityStoreId=s.store_id,
        UserName="leaver",
        DisplayName="Leaver",
        Name={"GivenName": "Lea", "FamilyName": "Ver"},
        Emails=[{"Value": "leaver@example.org"}],
    )["UserId"]
    s.ids.create_group_membership(
        IdentityStoreId=s.store_id, GroupId=s.group_id, MemberId={"UserId": user_id}
    )
    tokens = jwt_bearer(s, "leaver@example.org")
    assert decode_unverified(tokens["idToken"])["sub"] == user_id
    s.ids.delete_user(IdentityStoreId=s.store_id, UserId=user_id)
    code, _, status = error_code(
        s.oidc.create_token_with_iam,
        clientId=s.client_app,
        grantType="refresh_token",
        refreshToken=tokens["refreshToken"],
    )
    assert (code, status) == ("InvalidGrantException", 400)
    # the membership went with the user; the member of the group is unaffected
    memberships = s.ids.list_group_memberships(IdentityStoreId=s.store_id, GroupId=s.group_id)[
        "GroupMemberships"
    ]
    assert [m["MemberId"]["UserId"] for m in memberships] == [s.member_id]
    assert decode_unverified(jwt_bearer(s)["idToken"])["sub"] == s.member_id
