"""sso-admin through boto3 against a live server: applications and their grants, authentication methods, access
scopes, assignments and assignment configuration; trusted token issuers; tags; application providers.

Every test uses names unique to it (the session server is shared) and deletes what it creates. Rejected calls are
checked to change nothing.
"""

from __future__ import annotations

import contextlib
import functools
import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.clients import make_admin_client
from tests.helpers.config import ACCOUNT, AUDIENCE, JWT_BEARER, TOKEN_EXCHANGE, allow_account
from tests.helpers.servers import LiveServer, private_server

CUSTOM = "arn:aws:sso::aws:applicationProvider/custom"
MISSING_APP = f"arn:aws:sso::{ACCOUNT}:application/ssoins-e2e0000000000000/apl-0000000000000000"
MISSING_TTI = f"arn:aws:sso::{ACCOUNT}:trustedTokenIssuer/ssoins-e2e0000000000000/tti-00000000-0000-4000-8000-000000000000"
MISSING_PRINCIPAL = "0000000000-00000000-0000-4000-8000-000000000000"
OTHER_INSTANCE = "arn:aws:sso:::instance/ssoins-0000000000000000"


own_server = private_server("sso-admin-own", scope="function")


def error(call: Callable[[], Any]) -> dict[str, Any]:
    """The modelled error a call fails with (never a 5xx)."""
    with pytest.raises(ClientError) as info:
        call()
    resp = info.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] < 500, resp
    return dict(resp["Error"])


def uniq(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture()
def sso(server: LiveServer) -> Any:
    return make_admin_client(server, "sso-admin")


@pytest.fixture()
def raw_sso(server: LiveServer) -> Any:
    """An sso-admin client with botocore's client-side validation off (to send invalid values)."""
    return make_admin_client(server, "sso-admin", config={"parameter_validation": False})


def tracked(
    sso: Any, create: Callable[..., str], delete: Callable[[str], Any]
) -> Iterator[Callable[..., str]]:
    """Body of a fixture: yields ``create``, recording what it makes; afterwards deletes what is still there."""
    made: list[str] = []

    def make(**kw: Any) -> str:
        arn = create(**kw)
        made.append(arn)
        return arn

    yield make
    for arn in made:
        with contextlib.suppress(sso.exceptions.ResourceNotFoundException):
            delete(arn)


@pytest.fixture()
def new_app(server: LiveServer, sso: Any) -> Iterator[Callable[..., str]]:
    """Creates applications with unique names; deletes them afterwards."""

    def create(**kw: Any) -> str:
        return str(
            sso.create_application(
                InstanceArn=server.instance_arn, ApplicationProviderArn=CUSTOM, Name=uniq("sa-app"), **kw
            )["ApplicationArn"]
        )

    yield from tracked(sso, create, lambda arn: sso.delete_application(ApplicationArn=arn))


@pytest.fixture()
def new_issuer(server: LiveServer, sso: Any) -> Iterator[Callable[..., str]]:
    """Creates trusted token issuers with unique names and URLs; deletes them afterwards (request it before
    ``new_app`` so the applications whose grants name the issuers go first)."""

    def create(**kw: Any) -> str:
        kw.setdefault("Name", uniq("sa-tti"))
        return str(
            sso.create_trusted_token_issuer(
                InstanceArn=server.instance_arn,
                TrustedTokenIssuerType="OIDC_JWT",
                TrustedTokenIssuerConfiguration={
                    "OidcJwtConfiguration": {
                        "IssuerUrl": f"https://{uniq('issuer')}.example.com",
                        "ClaimAttributePath": "email",
                        "IdentityStoreAttributePath": "emails.value",
                        "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
                    }
                },
                **kw,
            )["TrustedTokenIssuerArn"]
        )

    yield from tracked(sso, create, lambda arn: sso.delete_trusted_token_issuer(TrustedTokenIssuerArn=arn))


def demo_issuer(server: LiveServer, sso: Any) -> str:
    for t in sso.list_trusted_token_issuers(InstanceArn=server.instance_arn)["TrustedTokenIssuers"]:
        if t["Name"] == "demo":
            return str(t["TrustedTokenIssuerArn"])
    raise AssertionError("the e2e configuration has a trusted token issuer named demo")


def app_names(server: LiveServer, sso: Any) -> set[str]:
    pages = sso.get_paginator("list_applications").paginate(InstanceArn=server.instance_arn)
    return {a["Name"] for p in pages for a in p["Applications"]}


# -- application providers and applications -----------------------------------------------------------------------


def test_application_providers(sso: Any) -> None:
    pages = list(sso.get_paginator("list_application_providers").paginate(PaginationConfig={"PageSize": 1}))
    providers = [p for page in pages for p in page["ApplicationProviders"]]
    assert [p["ApplicationProviderArn"] for p in providers] == [CUSTOM]
    assert providers[0]["FederationProtocol"] == "OAUTH"
    described = sso.describe_application_provider(ApplicationProviderArn=CUSTOM)
    assert described["ApplicationProviderArn"] == CUSTOM
    assert described["FederationProtocol"] == "OAUTH"
    assert described["DisplayData"]["DisplayName"]
    err = error(
        lambda: sso.describe_application_provider(
            ApplicationProviderArn="arn:aws:sso::aws:applicationProvider/catalog/x"
        )
    )
    assert err["Code"] == "ResourceNotFoundException"


def test_application_describe_update_portal_options(server: LiveServer, sso: Any) -> None:
    name = uniq("sa-portal")
    err = error(
        lambda: sso.create_application(
            InstanceArn=server.instance_arn,
            ApplicationProviderArn=CUSTOM,
            Name=name,
            PortalOptions={"SignInOptions": {"Origin": "APPLICATION"}},
        )
    )
    assert err["Code"] == "ValidationException" and "ApplicationUrl" in err["Message"]
    assert name not in app_names(server, sso)

    created = sso.create_application(
        InstanceArn=server.instance_arn, ApplicationProviderArn=CUSTOM, Name=name, Description="portal test"
    )
    arn = created["ApplicationArn"]
    try:
        assert created["InstanceArn"] == server.instance_arn
        described = sso.describe_application(ApplicationArn=arn)
        assert created["IdentityStoreArn"] == described["IdentityStoreArn"]
        assert described["IdentityStoreArn"].startswith(f"arn:aws:identitystore::{ACCOUNT}:identitystore/d-")
        assert described["PortalOptions"] == {
            "SignInOptions": {"Origin": "IDENTITY_CENTER"},
            "Visibility": "ENABLED",
        }
        assert described["Description"] == "portal test"
        assert described["ApplicationAccount"] == ACCOUNT and described["CreatedFrom"] == "us-east-1"

        sso.update_application(
            ApplicationArn=arn,
            Status="DISABLED",
            PortalOptions={
                "SignInOptions": {"Origin": "APPLICATION", "ApplicationUrl": "https://app.example.com/"}
            },
        )
        described = sso.describe_application(ApplicationArn=arn)
        assert described["Status"] == "DISABLED"
        assert described["PortalOptions"]["SignInOptions"] == {
            "Origin": "APPLICATION",
            "ApplicationUrl": "https://app.example.com/",
        }
        # origin APPLICATION without its URL is rejected and changes nothing
        err = error(
            lambda: sso.update_application(
                ApplicationArn=arn,
                Name=uniq("renamed"),
                PortalOptions={"SignInOptions": {"Origin": "APPLICATION"}},
            )
        )
        assert err["Code"] == "ValidationException"
        assert sso.describe_application(ApplicationArn=arn)["Name"] == name
        # sign-in options are replaced as a whole: back to IDENTITY_CENTER drops the URL
        sso.update_application(
            ApplicationArn=arn, PortalOptions={"SignInOptions": {"Origin": "IDENTITY_CENTER"}}
        )
        assert sso.describe_application(ApplicationArn=arn)["PortalOptions"]["SignInOptions"] == {
            "Origin": "IDENTITY_CENTER"
        }
        assert (
            error(lambda: sso.describe_application(ApplicationArn=MISSING_APP))["Code"]
            == "ResourceNotFoundException"
        )
    finally:
        sso.delete_application(ApplicationArn=arn)
    assert error(lambda: sso.describe_application(ApplicationArn=arn))["Code"] == "ResourceNotFoundException"


def test_list_applications_paginates_and_filters(
    server: LiveServer, sso: Any, new_app: Callable[..., str]
) -> None:
    mine = {new_app() for _ in range(3)}
    pages = list(
        sso.get_paginator("list_applications").paginate(
            InstanceArn=server.instance_arn, PaginationConfig={"PageSize": 2}
        )
    )
    assert all(len(p["Applications"]) <= 2 for p in pages) and len(pages) >= 2
    listed = [a["ApplicationArn"] for p in pages for a in p["Applications"]]
    assert len(listed) == len(set(listed)) and mine <= set(listed)
    other = sso.list_applications(
        InstanceArn=server.instance_arn, Filter={"ApplicationAccount": "210987654321"}
    )
    assert other["Applications"] == []
    custom = sso.list_applications(
        InstanceArn=server.instance_arn, Filter={"ApplicationProvider": CUSTOM}, MaxResults=100
    )
    assert mine <= {a["ApplicationArn"] for a in custom["Applications"]}
    # ListApplications models no ResourceNotFoundException: an unknown instance is a ValidationException
    err = error(lambda: sso.list_applications(InstanceArn=OTHER_INSTANCE))
    assert err["Code"] == "ValidationException"


def test_create_application_client_token(server: LiveServer, sso: Any) -> None:
    name, token = uniq("sa-token"), secrets.token_hex(16)
    req = {
        "InstanceArn": server.instance_arn,
        "ApplicationProviderArn": CUSTOM,
        "Name": name,
        "ClientToken": token,
    }
    first = sso.create_application(**req)
    try:
        again = sso.create_application(**req)
        assert again["ApplicationArn"] == first["ApplicationArn"]
        assert sorted(app_names(server, sso)).count(name) == 1
        err = error(lambda: sso.create_application(**{**req, "Name": uniq("sa-other")}))
        assert err["Code"] == "ConflictException"
        # a duplicate name without a token is a conflict too
        err = error(lambda: sso.create_application(**{**req, "ClientToken": secrets.token_hex(16)}))
        assert err["Code"] == "ConflictException"
    finally:
        sso.delete_application(ApplicationArn=first["ApplicationArn"])


# -- grants -------------------------------------------------------------------------------------------------------


def test_grants_round_trip(
    server: LiveServer, sso: Any, new_issuer: Callable[..., str], new_app: Callable[..., str]
) -> None:
    issuer = new_issuer()
    arn = new_app()
    assert sso.list_application_grants(ApplicationArn=arn)["Grants"] == []
    grants = {
        "authorization_code": {
            "AuthorizationCode": {"RedirectUris": ["https://app.example.com/cb", "http://127.0.0.1/cb"]}
        },
        "refresh_token": {"RefreshToken": {}},
        JWT_BEARER: {
            "JwtBearer": {
                "AuthorizedTokenIssuers": [
                    {"TrustedTokenIssuerArn": issuer, "AuthorizedAudiences": ["a", "b"]}
                ]
            }
        },
        TOKEN_EXCHANGE: {"TokenExchange": {}},
    }
    for gt, grant in grants.items():
        sso.put_application_grant(ApplicationArn=arn, GrantType=gt, Grant=grant)
    for gt, grant in grants.items():
        assert sso.get_application_grant(ApplicationArn=arn, GrantType=gt)["Grant"] == grant
    pages = list(sso.get_paginator("list_application_grants").paginate(ApplicationArn=arn))
    assert {g["GrantType"]: g["Grant"] for p in pages for g in p["Grants"]} == grants

    # Put replaces
    replaced = {"AuthorizationCode": {"RedirectUris": ["https://other.example.com/cb"]}}
    sso.put_application_grant(ApplicationArn=arn, GrantType="authorization_code", Grant=replaced)
    assert sso.get_application_grant(ApplicationArn=arn, GrantType="authorization_code")["Grant"] == replaced

    sso.delete_application_grant(ApplicationArn=arn, GrantType="refresh_token")
    err = error(lambda: sso.get_application_grant(ApplicationArn=arn, GrantType="refresh_token"))
    assert err["Code"] == "ResourceNotFoundException"
    err = error(lambda: sso.delete_application_grant(ApplicationArn=arn, GrantType="refresh_token"))
    assert err["Code"] == "ResourceNotFoundException"
    assert len(sso.list_application_grants(ApplicationArn=arn)["Grants"]) == 3

    for call in (
        lambda: sso.list_application_grants(ApplicationArn=MISSING_APP),
        lambda: sso.get_application_grant(ApplicationArn=MISSING_APP, GrantType="refresh_token"),
        lambda: sso.put_application_grant(
            ApplicationArn=MISSING_APP, GrantType="refresh_token", Grant={"RefreshToken": {}}
        ),
    ):
        assert error(call)["Code"] == "ResourceNotFoundException"


def test_grant_validation_changes_nothing(sso: Any, raw_sso: Any, new_app: Callable[..., str]) -> None:
    arn = new_app()
    sso.put_application_grant(ApplicationArn=arn, GrantType="refresh_token", Grant={"RefreshToken": {}})
    before = sso.list_application_grants(ApplicationArn=arn)["Grants"]
    bad: list[tuple[str, dict[str, Any]]] = [
        ("refresh_token", {"TokenExchange": {}}),  # the union member does not match the grant type
        (JWT_BEARER, {"RefreshToken": {}}),
        ("authorization_code", {"AuthorizationCode": {"RedirectUris": ["https://x.example.com/cb#frag"]}}),
        ("authorization_code", {"AuthorizationCode": {"RedirectUris": ["not a uri"]}}),
        ("authorization_code", {"AuthorizationCode": {}}),
        (
            JWT_BEARER,
            {
                "JwtBearer": {
                    "AuthorizedTokenIssuers": [
                        {"TrustedTokenIssuerArn": MISSING_TTI, "AuthorizedAudiences": ["a"]}
                    ]
                }
            },
        ),
        (JWT_BEARER, {"JwtBearer": {"AuthorizedTokenIssuers": [{"TrustedTokenIssuerArn": MISSING_TTI}]}}),
    ]
    for gt, grant in bad:
        err = error(
            functools.partial(sso.put_application_grant, ApplicationArn=arn, GrantType=gt, Grant=grant)
        )
        assert err["Code"] == "ValidationException", (gt, grant, err)
    err = error(
        lambda: sso.put_application_grant(
            ApplicationArn=arn, GrantType="refresh_token", Grant={"TokenExchange": {}}
        )
    )
    assert "Grant" in err["Message"] and "RefreshToken" in err["Message"]
    # two union members at once (botocore refuses client side, so send it unvalidated)
    err = error(
        lambda: raw_sso.put_application_grant(
            ApplicationArn=arn, GrantType="refresh_token", Grant={"RefreshToken": {}, "TokenExchange": {}}
        )
    )
    assert err["Code"] == "ValidationException"
    assert sso.list_application_grants(ApplicationArn=arn)["Grants"] == before


def test_a_trusted_token_issuer_listed_twice_is_refused(
    sso: Any, new_issuer: Callable[..., str], new_app: Callable[..., str]
) -> None:
    """The JwtBearer grant's rules (its registry row) name the member that breaks them: an issuer that does not
    exist, or one listed twice (``ssoidc apply`` refuses the same file: tests/unit/test_config.py)."""
    issuer, arn = new_issuer(), new_app()
    once = {"TrustedTokenIssuerArn": issuer, "AuthorizedAudiences": ["a"]}
    missing = {"TrustedTokenIssuerArn": MISSING_TTI, "AuthorizedAudiences": ["a"]}
    path = "Grant.JwtBearer.AuthorizedTokenIssuers[1].TrustedTokenIssuerArn"
    for second, message in (
        (once, f"Trusted token issuer {issuer} is listed twice (at '{path}')"),
        (missing, f"Trusted token issuer {MISSING_TTI} does not exist in the instance (at '{path}')"),
    ):
        put = functools.partial(
            sso.put_application_grant,
            ApplicationArn=arn,
            GrantType=JWT_BEARER,
            Grant={"JwtBearer": {"AuthorizedTokenIssuers": [once, second]}},
        )
        err = error(put)
        assert (err["Code"], err["Message"]) == ("ValidationException", message)
    assert sso.list_application_grants(ApplicationArn=arn)["Grants"] == []


# -- authentication methods -------------------------------------------------------------------------------------


def test_authentication_method_round_trip_as_json_document(sso: Any, new_app: Callable[..., str]) -> None:
    arn = new_app()
    assert sso.list_application_authentication_methods(ApplicationArn=arn)["AuthenticationMethods"] == []
    err = error(
        lambda: sso.get_application_authentication_method(ApplicationArn=arn, AuthenticationMethodType="IAM")
    )
    assert err["Code"] == "ResourceNotFoundException"

    sent: list[bytes] = []
    sso.meta.events.register(
        "before-send.sso-admin.PutApplicationAuthenticationMethod",
        lambda request, **_: sent.append(request.body),
    )
    policy = allow_account()
    sso.put_application_authentication_method(
        ApplicationArn=arn,
        AuthenticationMethodType="IAM",
        AuthenticationMethod={"Iam": {"ActorPolicy": policy}},
    )
    # a document type travels as an embedded JSON object, not as a string
    assert json.loads(sent[-1])["AuthenticationMethod"]["Iam"]["ActorPolicy"] == policy
    got = sso.get_application_authentication_method(ApplicationArn=arn, AuthenticationMethodType="IAM")
    assert got["AuthenticationMethod"] == {"Iam": {"ActorPolicy": policy}}
    listed = sso.list_application_authentication_methods(ApplicationArn=arn)["AuthenticationMethods"]
    assert listed == [
        {"AuthenticationMethodType": "IAM", "AuthenticationMethod": {"Iam": {"ActorPolicy": policy}}}
    ]

    sso.delete_application_authentication_method(ApplicationArn=arn, AuthenticationMethodType="IAM")
    assert sso.list_application_authentication_methods(ApplicationArn=arn)["AuthenticationMethods"] == []
    err = error(
        lambda: sso.delete_application_authentication_method(
            ApplicationArn=arn, AuthenticationMethodType="IAM"
        )
    )
    assert err["Code"] == "ResourceNotFoundException"


def test_bad_actor_policy_is_rejected_and_changes_nothing(sso: Any, new_app: Callable[..., str]) -> None:
    arn = new_app()
    good = allow_account()
    sso.put_application_authentication_method(
        ApplicationArn=arn,
        AuthenticationMethodType="IAM",
        AuthenticationMethod={"Iam": {"ActorPolicy": good}},
    )
    bad_effect = {"Version": "2012-10-17", "Statement": [{**good["Statement"][0], "Effect": "Maybe"}]}
    no_principal = {
        "Version": "2012-10-17",
        "Statement": [{k: v for k, v in good["Statement"][0].items() if k != "Principal"}],
    }
    for policy, path in (
        (bad_effect, "AuthenticationMethod.Iam.ActorPolicy.Statement[0].Effect"),
        (no_principal, "AuthenticationMethod.Iam.ActorPolicy.Statement[0]"),
        ({"Version": "2012-10-17"}, "AuthenticationMethod.Iam.ActorPolicy.Statement"),
        ("not an object", "AuthenticationMethod.Iam.ActorPolicy"),
    ):
        err = error(
            functools.partial(
                sso.put_application_authentication_method,
                ApplicationArn=arn,
                AuthenticationMethodType="IAM",
                AuthenticationMethod={"Iam": {"ActorPolicy": policy}},
            )
        )
        assert err["Code"] == "ValidationException" and path in err["Message"], err
    got = sso.get_application_authentication_method(ApplicationArn=arn, AuthenticationMethodType="IAM")
    assert got["AuthenticationMethod"]["Iam"]["ActorPolicy"] == good
    err = error(
        lambda: sso.put_application_authentication_method(
            ApplicationArn=MISSING_APP,
            AuthenticationMethodType="IAM",
            AuthenticationMethod={"Iam": {"ActorPolicy": good}},
        )
    )
    assert err["Code"] == "ResourceNotFoundException"


def test_application_configured_through_the_api_issues_tokens(
    server: LiveServer, sso: Any, oidc: Any, new_app: Callable[..., str]
) -> None:
    """Grant + ActorPolicy + assignment configuration set with sso-admin are what CreateTokenWithIAM enforces."""
    arn = new_app()
    grant = {
        "JwtBearer": {
            "AuthorizedTokenIssuers": [
                {"TrustedTokenIssuerArn": demo_issuer(server, sso), "AuthorizedAudiences": [AUDIENCE]}
            ]
        }
    }
    sso.put_application_grant(ApplicationArn=arn, GrantType=JWT_BEARER, Grant=grant)
    sso.put_application_authentication_method(
        ApplicationArn=arn,
        AuthenticationMethodType="IAM",
        AuthenticationMethod={"Iam": {"ActorPolicy": allow_account()}},
    )

    def token() -> Any:
        return oidc.create_token_with_iam(
            clientId=arn, grantType=JWT_BEARER, assertion=server.assertion("carol@example.com")
        )

    # assignment required (the default) and carol is not assigned
    assert sso.get_application_assignment_configuration(ApplicationArn=arn)["AssignmentRequired"] is True
    assert error(token)["Code"] == "AccessDeniedException"
    sso.create_application_assignment(
        ApplicationArn=arn, PrincipalType="USER", PrincipalId=server.users["carol"]
    )
    assert token()["accessToken"]
    sso.delete_application_assignment(
        ApplicationArn=arn, PrincipalType="USER", PrincipalId=server.users["carol"]
    )
    assert error(token)["Code"] == "AccessDeniedException"
    sso.put_application_assignment_configuration(ApplicationArn=arn, AssignmentRequired=False)
    assert sso.get_application_assignment_configuration(ApplicationArn=arn)["AssignmentRequired"] is False
    assert token()["accessToken"]
    # without the ActorPolicy nobody may call CreateTokenWithIAM for the application
    sso.delete_application_authentication_method(ApplicationArn=arn, AuthenticationMethodType="IAM")
    assert error(token)["Code"] == "AccessDeniedException"


# -- access scopes ------------------------------------------------------------------------------------------------


def test_access_scopes(server: LiveServer, sso: Any, raw_sso: Any, new_app: Callable[..., str]) -> None:
    arn, target = new_app(), new_app()
    sso.put_application_access_scope(
        ApplicationArn=arn, Scope="data:read", AuthorizedTargets=[target, server.instance_arn]
    )
    got = sso.get_application_access_scope(ApplicationArn=arn, Scope="data:read")
    assert got["Scope"] == "data:read" and got["AuthorizedTargets"] == [target, server.instance_arn]
    for s in ("a", "b", "c", "d"):
        sso.put_application_access_scope(ApplicationArn=arn, Scope=f"x:{s}")
    assert "AuthorizedTargets" not in sso.get_application_access_scope(ApplicationArn=arn, Scope="x:a")
    # Put replaces the targets
    sso.put_application_access_scope(ApplicationArn=arn, Scope="data:read", AuthorizedTargets=[target])
    assert sso.get_application_access_scope(ApplicationArn=arn, Scope="data:read")["AuthorizedTargets"] == [
        target
    ]

    pages = list(
        sso.get_paginator("list_application_access_scopes").paginate(
            ApplicationArn=arn, PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["Scopes"]) for p in pages] == [2, 2, 1]
    assert [s["Scope"] for p in pages for s in p["Scopes"]] == ["data:read", "x:a", "x:b", "x:c", "x:d"]

    before = sso.list_application_access_scopes(ApplicationArn=arn, MaxResults=10)["Scopes"]
    err = error(
        lambda: sso.put_application_access_scope(
            ApplicationArn=arn, Scope="data:read", AuthorizedTargets=[MISSING_APP]
        )
    )
    assert err["Code"] == "ValidationException" and MISSING_APP in err["Message"]
    err = error(lambda: raw_sso.put_application_access_scope(ApplicationArn=arn, Scope="bad scope!"))
    assert err["Code"] == "ValidationException"
    assert sso.list_application_access_scopes(ApplicationArn=arn, MaxResults=10)["Scopes"] == before

    sso.delete_application_access_scope(ApplicationArn=arn, Scope="x:a")
    assert (
        error(lambda: sso.get_application_access_scope(ApplicationArn=arn, Scope="x:a"))["Code"]
        == "ResourceNotFoundException"
    )
    assert (
        error(lambda: sso.delete_application_access_scope(ApplicationArn=arn, Scope="x:a"))["Code"]
        == "ResourceNotFoundException"
    )
    assert (
        error(lambda: sso.list_application_access_scopes(ApplicationArn=MISSING_APP))["Code"]
        == "ResourceNotFoundException"
    )

    # deleting the target application removes it from the scope's targets
    sso.delete_application(ApplicationArn=target)
    assert "AuthorizedTargets" not in sso.get_application_access_scope(ApplicationArn=arn, Scope="data:read")


def test_access_scope_quota(sso: Any, new_app: Callable[..., str]) -> None:
    arn = new_app()
    for i in range(25):
        sso.put_application_access_scope(ApplicationArn=arn, Scope=f"q:s{i}")
    err = error(lambda: sso.put_application_access_scope(ApplicationArn=arn, Scope="q:one_too_many"))
    assert err["Code"] == "ServiceQuotaExceededException"
    sso.put_application_access_scope(
        ApplicationArn=arn, Scope="q:s0", AuthorizedTargets=[arn]
    )  # replacing is fine
    pages = sso.get_paginator("list_application_access_scopes").paginate(ApplicationArn=arn)
    scopes = [s["Scope"] for p in pages for s in p["Scopes"]]
    assert len(scopes) == 25 and "q:one_too_many" not in scopes


# -- trusted token issuers ----------------------------------------------------------------------------------------


def test_trusted_token_issuer_lifecycle(
    server: LiveServer, sso: Any, new_issuer: Callable[..., str], new_app: Callable[..., str]
) -> None:
    name = uniq("sa-tti")
    arn = new_issuer(Name=name, Tags=[{"Key": "team", "Value": "id"}])
    assert arn.startswith(
        f"arn:aws:sso::{ACCOUNT}:trustedTokenIssuer/{server.instance_arn.rsplit('/', 1)[1]}/tti-"
    )
    d = sso.describe_trusted_token_issuer(TrustedTokenIssuerArn=arn)
    url = d["TrustedTokenIssuerConfiguration"]["OidcJwtConfiguration"]["IssuerUrl"]
    assert d["Name"] == name and d["TrustedTokenIssuerType"] == "OIDC_JWT"
    assert d["TrustedTokenIssuerConfiguration"]["OidcJwtConfiguration"] == {
        "IssuerUrl": url,
        "ClaimAttributePath": "email",
        "IdentityStoreAttributePath": "emails.value",
        "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
    }
    assert sso.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "id"}]

    renamed = uniq("sa-tti-renamed")
    sso.update_trusted_token_issuer(
        TrustedTokenIssuerArn=arn,
        Name=renamed,
        TrustedTokenIssuerConfiguration={
            "OidcJwtConfiguration": {"ClaimAttributePath": "sub", "IdentityStoreAttributePath": "userName"}
        },
    )
    oidc_conf = sso.describe_trusted_token_issuer(TrustedTokenIssuerArn=arn)[
        "TrustedTokenIssuerConfiguration"
    ]["OidcJwtConfiguration"]
    assert oidc_conf["IssuerUrl"] == url  # the update shape has no IssuerUrl: it never changes
    assert (oidc_conf["ClaimAttributePath"], oidc_conf["IdentityStoreAttributePath"]) == ("sub", "userName")
    assert sso.describe_trusted_token_issuer(TrustedTokenIssuerArn=arn)["Name"] == renamed

    other = new_issuer()
    # duplicates: a name or an issuer URL already used
    err = error(lambda: sso.update_trusted_token_issuer(TrustedTokenIssuerArn=other, Name=renamed))
    assert err["Code"] == "ConflictException"
    conf = {
        "OidcJwtConfiguration": {
            "IssuerUrl": url,
            "ClaimAttributePath": "email",
            "IdentityStoreAttributePath": "emails.value",
            "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
        }
    }
    err = error(
        lambda: sso.create_trusted_token_issuer(
            InstanceArn=server.instance_arn,
            Name=uniq("sa-dup-url"),
            TrustedTokenIssuerType="OIDC_JWT",
            TrustedTokenIssuerConfiguration=conf,
        )
    )
    assert err["Code"] == "ConflictException"
    conf2 = {
        "OidcJwtConfiguration": {
            **conf["OidcJwtConfiguration"],
            "IssuerUrl": f"https://{uniq('fresh')}.example.com",
        }
    }
    err = error(
        lambda: sso.create_trusted_token_issuer(
            InstanceArn=server.instance_arn,
            Name=renamed,
            TrustedTokenIssuerType="OIDC_JWT",
            TrustedTokenIssuerConfiguration=conf2,
        )
    )
    assert err["Code"] == "ConflictException"
    err = error(
        lambda: sso.create_trusted_token_issuer(
            InstanceArn=OTHER_INSTANCE,
            Name=uniq("sa-x"),
            TrustedTokenIssuerType="OIDC_JWT",
            TrustedTokenIssuerConfiguration=conf2,
        )
    )
    assert (
        err["Code"] == "ValidationException"
    )  # CreateTrustedTokenIssuer models no ResourceNotFoundException

    pages = list(
        sso.get_paginator("list_trusted_token_issuers").paginate(
            InstanceArn=server.instance_arn, PaginationConfig={"PageSize": 1}
        )
    )
    listed = {t["TrustedTokenIssuerArn"]: t for p in pages for t in p["TrustedTokenIssuers"]}
    assert all(len(p["TrustedTokenIssuers"]) <= 1 for p in pages)
    assert listed[arn] == {
        "TrustedTokenIssuerArn": arn,
        "Name": renamed,
        "TrustedTokenIssuerType": "OIDC_JWT",
    }
    assert other in listed and len(listed) == sum(len(p["TrustedTokenIssuers"]) for p in pages)

    # an issuer named by a JwtBearer grant cannot be deleted until the grant stops naming it
    app = new_app()
    grant = {
        "JwtBearer": {
            "AuthorizedTokenIssuers": [{"TrustedTokenIssuerArn": arn, "AuthorizedAudiences": ["x"]}]
        }
    }
    sso.put_application_grant(ApplicationArn=app, GrantType=JWT_BEARER, Grant=grant)
    err = error(lambda: sso.delete_trusted_token_issuer(TrustedTokenIssuerArn=arn))
    assert err["Code"] == "ConflictException" and app in err["Message"]
    assert sso.describe_trusted_token_issuer(TrustedTokenIssuerArn=arn)["Name"] == renamed
    sso.delete_application_grant(ApplicationArn=app, GrantType=JWT_BEARER)
    sso.delete_trusted_token_issuer(TrustedTokenIssuerArn=arn)
    for call in (
        lambda: sso.describe_trusted_token_issuer(TrustedTokenIssuerArn=arn),
        lambda: sso.delete_trusted_token_issuer(TrustedTokenIssuerArn=arn),
        lambda: sso.update_trusted_token_issuer(TrustedTokenIssuerArn=arn, Name=uniq("x")),
    ):
        assert error(call)["Code"] == "ResourceNotFoundException"


def test_trusted_token_issuer_client_token(server: LiveServer, sso: Any) -> None:
    token = secrets.token_hex(16)
    req = {
        "InstanceArn": server.instance_arn,
        "Name": uniq("sa-tti-token"),
        "TrustedTokenIssuerType": "OIDC_JWT",
        "TrustedTokenIssuerConfiguration": {
            "OidcJwtConfiguration": {
                "IssuerUrl": f"https://{uniq('token')}.example.com",
                "ClaimAttributePath": "email",
                "IdentityStoreAttributePath": "emails.value",
                "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
            }
        },
        "ClientToken": token,
    }
    first = sso.create_trusted_token_issuer(**req)["TrustedTokenIssuerArn"]
    try:
        assert sso.create_trusted_token_issuer(**req)["TrustedTokenIssuerArn"] == first
        names = [
            t["Name"]
            for t in sso.list_trusted_token_issuers(InstanceArn=server.instance_arn)["TrustedTokenIssuers"]
        ]
        assert names.count(req["Name"]) == 1
        err = error(lambda: sso.create_trusted_token_issuer(**{**req, "Name": uniq("sa-tti-other")}))
        assert err["Code"] == "ConflictException"
    finally:
        sso.delete_trusted_token_issuer(TrustedTokenIssuerArn=first)


def test_trusted_token_issuer_quota(own_server: LiveServer) -> None:
    """At most 10 per instance (an isolated server: the shared one's issuers are other tests' business)."""
    sso = make_admin_client(own_server, "sso-admin")
    have = len(sso.list_trusted_token_issuers(InstanceArn=own_server.instance_arn)["TrustedTokenIssuers"])

    def create(i: int) -> Any:
        return sso.create_trusted_token_issuer(
            InstanceArn=own_server.instance_arn,
            Name=f"quota-{i}",
            TrustedTokenIssuerType="OIDC_JWT",
            TrustedTokenIssuerConfiguration={
                "OidcJwtConfiguration": {
                    "IssuerUrl": f"https://quota-{i}.example.com",
                    "ClaimAttributePath": "email",
                    "IdentityStoreAttributePath": "emails.value",
                    "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
                }
            },
        )

    for i in range(10 - have):
        create(i)
    assert error(lambda: create(99))["Code"] == "ServiceQuotaExceededException"
    listed = sso.list_trusted_token_issuers(InstanceArn=own_server.instance_arn)["TrustedTokenIssuers"]
    assert len(listed) == 10 and "quota-99" not in {t["Name"] for t in listed}


# -- assignments --------------------------------------------------------------------------------------------------


def test_application_assignments(server: LiveServer, sso: Any, new_app: Callable[..., str]) -> None:
    app, app2 = new_app(), new_app()
    carol, dup1, team = server.users["carol"], server.users["dup1"], group_id(server)
    for pt, pid in (("USER", carol), ("USER", dup1), ("GROUP", team)):
        sso.create_application_assignment(ApplicationArn=app, PrincipalType=pt, PrincipalId=pid)
    sso.create_application_assignment(
        ApplicationArn=app, PrincipalType="USER", PrincipalId=carol
    )  # again: no-op
    sso.create_application_assignment(ApplicationArn=app2, PrincipalType="USER", PrincipalId=carol)

    d = sso.describe_application_assignment(ApplicationArn=app, PrincipalType="GROUP", PrincipalId=team)
    assert (d["ApplicationArn"], d["PrincipalType"], d["PrincipalId"]) == (app, "GROUP", team)
    pages = list(
        sso.get_paginator("list_application_assignments").paginate(
            ApplicationArn=app, PaginationConfig={"PageSize": 1}
        )
    )
    assert [len(p["ApplicationAssignments"]) for p in pages] == [1, 1, 1]
    assert sorted(
        (a["PrincipalType"], a["PrincipalId"]) for p in pages for a in p["ApplicationAssignments"]
    ) == sorted([("USER", carol), ("USER", dup1), ("GROUP", team)])

    def for_carol(**kw: Any) -> list[str]:
        pages = sso.get_paginator("list_application_assignments_for_principal").paginate(
            InstanceArn=server.instance_arn,
            PrincipalType="USER",
            PrincipalId=carol,
            PaginationConfig={"PageSize": 1},
            **kw,
        )
        return sorted(a["ApplicationArn"] for p in pages for a in p["ApplicationAssignments"])

    assert {app, app2} <= set(for_carol())
    assert for_carol(Filter={"ApplicationArn": app2}) == [app2]

    sso.delete_application_assignment(ApplicationArn=app, PrincipalType="USER", PrincipalId=carol)
    assert app not in for_carol()
    for call in (
        lambda: sso.describe_application_assignment(
            ApplicationArn=app, PrincipalType="USER", PrincipalId=carol
        ),
        lambda: sso.delete_application_assignment(
            ApplicationArn=app, PrincipalType="USER", PrincipalId=carol
        ),
        lambda: sso.create_application_assignment(
            ApplicationArn=app, PrincipalType="USER", PrincipalId=MISSING_PRINCIPAL
        ),
        lambda: sso.create_application_assignment(
            ApplicationArn=app, PrincipalType="GROUP", PrincipalId=carol
        ),  # a user id as a group
        lambda: sso.create_application_assignment(
            ApplicationArn=MISSING_APP, PrincipalType="USER", PrincipalId=carol
        ),
        lambda: sso.list_application_assignments(ApplicationArn=MISSING_APP),
        lambda: sso.list_application_assignments_for_principal(
            InstanceArn=server.instance_arn, PrincipalType="USER", PrincipalId=MISSING_PRINCIPAL
        ),
        lambda: sso.list_application_assignments_for_principal(
            InstanceArn=OTHER_INSTANCE, PrincipalType="USER", PrincipalId=carol
        ),
    ):
        assert error(call)["Code"] == "ResourceNotFoundException"
    remaining = sso.list_application_assignments(ApplicationArn=app)["ApplicationAssignments"]
    assert sorted(a["PrincipalId"] for a in remaining) == sorted([dup1, team])
    # deleting the application deletes its assignments
    sso.delete_application(ApplicationArn=app2)
    assert app2 not in for_carol()


def group_id(server: LiveServer) -> str:
    return next(g.group_id for g in server.configuration().groups if g.display_name == "team")


def test_assignment_configuration(sso: Any, raw_sso: Any, new_app: Callable[..., str]) -> None:
    arn = new_app()
    assert sso.get_application_assignment_configuration(ApplicationArn=arn)["AssignmentRequired"] is True
    sso.put_application_assignment_configuration(ApplicationArn=arn, AssignmentRequired=False)
    assert sso.get_application_assignment_configuration(ApplicationArn=arn)["AssignmentRequired"] is False
    err = error(
        lambda: raw_sso.put_application_assignment_configuration(ApplicationArn=arn, AssignmentRequired="yes")
    )
    assert err["Code"] == "ValidationException"
    assert sso.get_application_assignment_configuration(ApplicationArn=arn)["AssignmentRequired"] is False
    err = error(lambda: sso.get_application_assignment_configuration(ApplicationArn=MISSING_APP))
    assert err["Code"] == "ResourceNotFoundException"


# -- tags ---------------------------------------------------------------------------------------------------------


def test_tags_round_trip(
    server: LiveServer, sso: Any, new_issuer: Callable[..., str], new_app: Callable[..., str]
) -> None:
    issuer = new_issuer()
    app = new_app(Tags=[{"Key": "created", "Value": "with-app"}])
    assert sso.list_tags_for_resource(ResourceArn=app)["Tags"] == [{"Key": "created", "Value": "with-app"}]
    key = uniq("sa-tag")
    for arn in (app, issuer, server.instance_arn):
        sso.tag_resource(
            ResourceArn=arn, Tags=[{"Key": key, "Value": "v1"}, {"Key": f"{key}-b", "Value": ""}]
        )
        sso.tag_resource(ResourceArn=arn, Tags=[{"Key": key, "Value": "v2"}])  # overwrites
        pages = sso.get_paginator("list_tags_for_resource").paginate(ResourceArn=arn)
        tags = {t["Key"]: t["Value"] for p in pages for t in p["Tags"]}
        assert tags[key] == "v2" and tags[f"{key}-b"] == ""
        sso.untag_resource(ResourceArn=arn, TagKeys=[key, f"{key}-b", "never-set"])
        tags = {t["Key"]: t["Value"] for t in sso.list_tags_for_resource(ResourceArn=arn)["Tags"]}
        assert key not in tags and f"{key}-b" not in tags
    # the InstanceArn member, where given, must be the instance
    sso.tag_resource(InstanceArn=server.instance_arn, ResourceArn=app, Tags=[{"Key": "k", "Value": "v"}])
    assert (
        error(lambda: sso.list_tags_for_resource(InstanceArn=OTHER_INSTANCE, ResourceArn=app))["Code"]
        == "ResourceNotFoundException"
    )
    assert (
        error(lambda: sso.tag_resource(ResourceArn=MISSING_APP, Tags=[{"Key": "k", "Value": "v"}]))["Code"]
        == "ResourceNotFoundException"
    )
    assert (
        error(lambda: sso.list_tags_for_resource(ResourceArn=MISSING_TTI))["Code"]
        == "ResourceNotFoundException"
    )


def test_tag_limits_change_nothing(sso: Any, new_app: Callable[..., str]) -> None:
    app = new_app()
    sso.tag_resource(ResourceArn=app, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(45)])
    before = sso.list_tags_for_resource(ResourceArn=app)["Tags"]
    assert len(before) == 45
    err = error(
        lambda: sso.tag_resource(ResourceArn=app, Tags=[{"Key": f"n{i}", "Value": "v"} for i in range(6)])
    )
    assert err["Code"] == "ServiceQuotaExceededException"
    err = error(lambda: sso.tag_resource(ResourceArn=app, Tags=[{"Key": "aws:reserved", "Value": "v"}]))
    assert err["Code"] == "ValidationException"
    err = error(
        lambda: sso.tag_resource(
            ResourceArn=app, Tags=[{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}]
        )
    )
    assert err["Code"] == "ValidationException"
    assert sso.list_tags_for_resource(ResourceArn=app)["Tags"] == before
    sso.tag_resource(
        ResourceArn=app, Tags=[{"Key": f"n{i}", "Value": "v"} for i in range(5)]
    )  # exactly 50 is fine
    assert len(sso.list_tags_for_resource(ResourceArn=app)["Tags"]) == 50
    name = uniq("sa-many-tags")
    err = error(
        lambda: sso.create_trusted_token_issuer(
            InstanceArn=sso_instance(sso),
            Name=name,
            TrustedTokenIssuerType="OIDC_JWT",
            TrustedTokenIssuerConfiguration={
                "OidcJwtConfiguration": {
                    "IssuerUrl": f"https://{name}.example.com",
                    "ClaimAttributePath": "email",
                    "IdentityStoreAttributePath": "emails.value",
                    "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
                }
            },
            Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)],
        )
    )
    assert err["Code"] == "ServiceQuotaExceededException"
    assert name not in {
        t["Name"]
        for t in sso.list_trusted_token_issuers(InstanceArn=sso_instance(sso))["TrustedTokenIssuers"]
    }


def sso_instance(sso: Any) -> str:
    return str(sso.list_instances()["Instances"][0]["InstanceArn"])


def test_unknown_arns_are_not_found(sso: Any) -> None:
    for call in (
        lambda: sso.get_application_authentication_method(
            ApplicationArn=MISSING_APP, AuthenticationMethodType="IAM"
        ),
        lambda: sso.get_application_access_scope(ApplicationArn=MISSING_APP, Scope="a"),
        lambda: sso.put_application_access_scope(ApplicationArn=MISSING_APP, Scope="a"),
        lambda: sso.describe_trusted_token_issuer(TrustedTokenIssuerArn=MISSING_TTI),
        lambda: sso.put_application_assignment_configuration(
            ApplicationArn=MISSING_APP, AssignmentRequired=True
        ),
        lambda: sso.update_application(ApplicationArn=MISSING_APP, Name="x"),
        lambda: sso.delete_application(ApplicationArn=MISSING_APP),
    ):
        assert error(call)["Code"] == "ResourceNotFoundException"
