"""The declarative configuration file: validated whole, errors name the field, identifiers are kept."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from ssoidc.config.apply import apply_to_store, load_file, parse_file, resolve
from ssoidc.errors import ConfigError
from ssoidc.model import GRANT_JWT_BEARER, ExternalId, JwtBearerGrantConfig
from ssoidc.storage.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ssoidc.yaml"
T0 = 1_700_000_000.0  # the apply time of tests that do not look at creation dates


def test_documented_example_applies() -> None:
    config = resolve(load_file(EXAMPLE), None, "123456789012", now=T0)
    apps = {a.name: a for a in config.applications}
    portal = apps["analytics-portal"]
    grant = portal.grants[GRANT_JWT_BEARER]
    assert isinstance(grant, JwtBearerGrantConfig)
    assert grant.authorized_token_issuers[0].trusted_token_issuer_arn == config.trusted_token_issuers[0].arn
    assert portal.access_scopes[1].authorized_targets == (apps["reports-api"].arn,)
    assert {a.principal_type for a in config.assignments} == {"USER", "GROUP"}
    assert portal.arn.startswith(f"arn:aws:sso::123456789012:application/{config.instance.instance_id}/apl-")


def test_reapplying_keeps_identifiers() -> None:
    spec = load_file(EXAMPLE)
    first = resolve(spec, None, "123456789012", now=T0)
    second = resolve(spec, first, "123456789012", now=T0)
    assert first == second


def test_unknown_key_is_rejected_with_its_path() -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["Applications"][0]["Grantz"] = {}
    with pytest.raises(ConfigError) as info:
        parse_file(yaml.safe_dump(doc))
    assert "Applications[0].Grantz" in info.value.message


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (
            lambda d: d["Applications"][0]["AccessScopes"].append({"Scope": "bad scope!"}),
            "AccessScopes[2].Scope",
        ),
        (
            lambda d: d["TrustedTokenIssuers"][0]["TrustedTokenIssuerConfiguration"][
                "OidcJwtConfiguration"
            ].update(IssuerUrl="ftp://x"),
            "IssuerUrl",
        ),
        (lambda d: d["Applications"][0].update(Status="MAYBE"), "Applications[0].Status"),
        (lambda d: d["Users"][0].update(UserId="not-an-id"), "Users[0].UserId"),
    ],
)
def test_schema_errors_name_the_field(mutate: object, needle: str) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(ConfigError) as info:
        parse_file(yaml.safe_dump(doc))
    assert needle in info.value.message


def test_all_reference_errors_are_reported_together() -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    grant = doc["Applications"][0]["Grants"][GRANT_JWT_BEARER]["JwtBearer"]
    grant["AuthorizedTokenIssuers"][0]["TrustedTokenIssuerArn"] = "missing-idp"
    doc["Applications"][0]["Assignments"].append({"PrincipalType": "USER", "PrincipalId": "ghost"})
    doc["Groups"][0]["Members"].append("nobody")
    doc["Applications"][0]["AuthenticationMethods"]["IAM"]["Iam"]["ActorPolicy"]["Statement"][0]["Effect"] = (
        "Maybe"
    )
    with pytest.raises(ConfigError) as info:
        resolve(parse_file(yaml.safe_dump(doc)), None, "123456789012", now=T0)
    msg = info.value.message
    assert "TrustedTokenIssuerArn: no trusted token issuer 'missing-idp'" in msg
    assert "Assignments[2].PrincipalId: no user 'ghost'" in msg
    assert "Groups[0].Members[1]: no user 'nobody'" in msg
    assert "ActorPolicy" in msg


def test_grant_union_must_match_its_key() -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["Applications"][1]["Grants"]["urn:ietf:params:oauth:grant-type:token-exchange"] = {"RefreshToken": {}}
    with pytest.raises(ConfigError) as info:
        resolve(parse_file(yaml.safe_dump(doc)), None, "123456789012", now=T0)
    assert "must set exactly the TokenExchange member" in info.value.message


@pytest.mark.anyio
async def test_a_trusted_token_issuer_listed_twice_is_refused_by_apply() -> None:
    """The file front door keeps the JwtBearer grant's rules as PutApplicationGrant does
    (tests/e2e/test_sso_admin_boto3.py): the same issuer twice is refused, and nothing is stored."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    issuers = doc["Applications"][0]["Grants"][GRANT_JWT_BEARER]["JwtBearer"]["AuthorizedTokenIssuers"]
    issuers.append({**issuers[0], "AuthorizedAudiences": ["other"]})
    store = MemoryStore(master_key=bytes(32))
    with pytest.raises(
        ConfigError, match=r"^invalid configuration: Trusted token issuer arn:\S+ is listed twice$"
    ):
        await apply_to_store(store, parse_file(yaml.safe_dump(doc)), "123456789012", now=T0)
    assert await store.load_configuration() == (None, 0)
    issuers.pop()
    config = await apply_to_store(store, parse_file(yaml.safe_dump(doc)), "123456789012", now=T0)
    assert (await store.load_configuration())[0] == config


def test_duplicate_names_are_rejected() -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["Users"].append(dict(doc["Users"][0]))
    with pytest.raises(ConfigError) as info:
        resolve(parse_file(yaml.safe_dump(doc)), None, "123456789012", now=T0)
    assert "Users[2]: duplicate name 'jdoe'" in info.value.message


def test_not_yaml_and_not_a_mapping() -> None:
    with pytest.raises(ConfigError):
        parse_file("a: [b")
    with pytest.raises(ConfigError):
        parse_file("- 1\n- 2\n")


# -- the fields ssoidc export needs: tags, portal options, creation dates, user profile, group external ids --

FULL_USER = {
    "UserName": "mmajor",
    "Name": {
        "GivenName": "Mary",
        "FamilyName": "Major",
        "MiddleName": "Q",
        "HonorificPrefix": "Dr",
        "Formatted": "Dr Mary Q Major",
    },
    "NickName": "Mo",
    "Title": "Engineer",
    "Locale": "en-GB",
    "Addresses": [{"StreetAddress": "1 Main St", "Country": "GB", "Primary": True}],
    "PhoneNumbers": [{"Value": "+44 20 1234 5678", "Type": "work"}],
    "Extensions": {"aws:identitystore:enterprise": {"employeeNumber": "42"}},
}


def _example() -> dict[str, object]:
    doc = yaml.safe_load(EXAMPLE.read_text())
    assert isinstance(doc, dict)
    return doc


def test_new_fields_resolve_into_the_domain() -> None:
    doc = _example()
    doc["Instance"].update(CreatedDate="2024-01-02T03:04:05Z", Tags=[{"Key": "env", "Value": "prod"}])  # type: ignore[attr-defined]
    app = doc["Applications"][0]  # type: ignore[index]
    app.update(
        CreatedDate=1_700_000_000.5,
        Tags=[{"Key": "team", "Value": "data"}, {"Key": "cost:center"}],
        PortalOptions={
            "SignInOptions": {"Origin": "APPLICATION", "ApplicationUrl": "https://portal.example.com/"},
            "Visibility": "DISABLED",
        },
    )
    doc["TrustedTokenIssuers"][0]["Tags"] = [{"Key": "owner", "Value": "it"}]  # type: ignore[index]
    doc["Users"].append(FULL_USER)  # type: ignore[attr-defined]
    doc["Groups"][0]["ExternalIds"] = [{"Issuer": "scim", "Id": "g-1"}]  # type: ignore[index]
    config = resolve(parse_file(yaml.safe_dump(doc)), None, "123456789012", now=7.0)
    assert config.instance.created_at == 1704164645.0
    assert config.instance.tags == {"env": "prod"}
    a = config.applications[0]
    assert (a.created_at, a.tags) == (1_700_000_000.5, {"team": "data", "cost:center": ""})
    assert (a.sign_in_origin, a.application_url, a.portal_visibility) == (
        "APPLICATION",
        "https://portal.example.com/",
        "DISABLED",
    )
    assert config.applications[1].created_at == 7.0  # not pinned: stamped with now
    assert (config.applications[1].portal_visibility, config.applications[1].tags) == (
        "DISABLED",
        {"team": "reporting"},
    )
    assert config.trusted_token_issuers[0].tags == {"owner": "it"}
    user = config.users[2]
    assert (user.given_name, user.family_name) == ("Mary", "Major")
    # the profile keeps every field the model has no column for, as written
    assert user.profile == {
        **{k: v for k, v in FULL_USER.items() if k not in ("UserName", "Name")},
        "Name": {"Formatted": "Dr Mary Q Major", "MiddleName": "Q", "HonorificPrefix": "Dr"},
    }
    assert config.users[0].profile == {
        "Name": {"MiddleName": "Q"},
        "Title": "Analyst",
        "PhoneNumbers": [{"Value": "+1 555 0100", "Type": "work", "Primary": True}],
    }
    assert config.users[1].profile == {}
    assert config.groups[0].external_ids == (ExternalId("scim", "g-1"),)


def test_creation_dates_are_kept_for_matched_entities_and_stamped_for_new_ones() -> None:
    spec = load_file(EXAMPLE)
    first = resolve(spec, None, "123456789012", now=100.0)
    assert first.instance.created_at == 100.0
    assert {a.created_at for a in first.applications} == {100.0}
    doc = _example()
    doc["Applications"].append({"Name": "late"})  # type: ignore[attr-defined]
    second = resolve(parse_file(yaml.safe_dump(doc)), first, "123456789012", now=200.0)
    assert second.instance.created_at == 100.0
    assert [a.created_at for a in second.applications] == [100.0, 100.0, 200.0]
    deleted = replace(first, instance=replace(first.instance, status="DELETED"))
    third = resolve(spec, deleted, "123456789012", now=300.0)
    assert third.instance.instance_arn != first.instance.instance_arn  # never resurrects a deleted instance
    assert third.instance.created_at == 300.0


def test_assignments_keep_the_stored_order() -> None:
    first = resolve(load_file(EXAMPLE), None, "123456789012", now=T0)
    reordered = replace(first, assignments=tuple(reversed(first.assignments)))
    assert resolve(load_file(EXAMPLE), reordered, "123456789012", now=T0) == reordered


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (
            lambda d: d["Applications"][0].update(Tags=[{"Key": "a"}, {"Key": "a", "Value": "b"}]),
            "Applications[0].Tags[1].Key: duplicate tag key 'a'",
        ),
        (lambda d: d["Instance"].update(Tags=[{"Key": "bad#key"}]), "Instance.Tags[0].Key"),
        (lambda d: d["Instance"].update(Tags=[{"Key": "k", "Valu": "v"}]), "Instance.Tags[0].Valu"),
        (
            lambda d: d["Applications"][0].update(PortalOptions={"SignInOptions": {"Origin": "ELSEWHERE"}}),
            "Applications[0].PortalOptions.SignInOptions.Origin",
        ),
        (
            lambda d: d["Applications"][0].update(
                PortalOptions={"SignInOptions": {"ApplicationUrl": "ftp://x"}}
            ),
            "Applications[0].PortalOptions.SignInOptions.ApplicationUrl",
        ),
        (lambda d: d["Applications"][1].update(CreatedDate="yesterday"), "Applications[1].CreatedDate"),
        (lambda d: d["Users"][0].update(NickName=""), "Users[0].NickName"),
        (lambda d: d["Users"][0]["Name"].update(MiddleName=""), "Users[0].Name.MiddleName"),
        (
            lambda d: d["Users"][0].update(Addresses=[{"Country": "A"}, {"Country": "B"}]),
            "Users[0].Addresses",
        ),
        (lambda d: d["Users"][1].update(PhoneNumbers=[{"Number": "1"}]), "Users[1].PhoneNumbers[0].Number"),
        (lambda d: d["Users"][1].update(Extensions={"enterprise": {}}), "Users[1].Extensions.enterprise"),
        (lambda d: d["Users"][1].update(Extra={"Shoe": 42}), "Users[1].Extra"),
        (
            lambda d: d["Groups"][0].update(ExternalIds=[{"Issuer": "", "Id": "x"}]),
            "Groups[0].ExternalIds[0].Issuer",
        ),
    ],
)
def test_new_field_errors_name_the_field(mutate: object, needle: str) -> None:
    doc = _example()
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(ConfigError) as info:
        resolve(parse_file(yaml.safe_dump(doc)), None, "123456789012", now=T0)
    assert needle in info.value.message


def test_user_names_are_unique_regardless_of_case() -> None:
    doc = _example()
    doc["Users"].append({"UserName": "JDoe"})  # type: ignore[attr-defined]
    with pytest.raises(ConfigError) as info:
        resolve(parse_file(yaml.safe_dump(doc)), None, "123456789012", now=T0)
    assert "Users[2]: duplicate name 'JDoe'" in info.value.message


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/ssoins-e2e0000000000000",
        "http://localhost:8000/ssoins-e2e0000000000000/",
        "http://127.0.0.1:8000/./SSOINS-E2E0000000000000",
        "http://127.0.0.1:8000/ssoins-0123456789abcdef",
    ],
)
async def test_apply_refuses_our_own_issuer_as_a_trusted_token_issuer(url: str) -> None:
    """Self-trust (the file front door, as sso-admin CreateTrustedTokenIssuer): nothing is stored."""
    from tests.helpers.config import e2e_config

    doc = e2e_config("http://127.0.0.1:8000")
    doc["TrustedTokenIssuers"][0]["TrustedTokenIssuerConfiguration"]["OidcJwtConfiguration"]["IssuerUrl"] = (
        url
    )
    store = MemoryStore(master_key=bytes(32))
    with pytest.raises(ConfigError, match=r"TrustedTokenIssuers\[0\]\..*IssuerUrl: .*own idToken issuer"):
        await apply_to_store(
            store, parse_file(yaml.safe_dump(doc)), "123456789012", now=T0, base_url="http://127.0.0.1:8000"
        )
    assert await store.load_configuration() == (None, 0)
    # the demo issuer on the same server is not ours
    config = await apply_to_store(
        store,
        parse_file(yaml.safe_dump(e2e_config("http://127.0.0.1:8000"))),
        "123456789012",
        now=T0,
        base_url="http://127.0.0.1:8000",
    )
    assert config.trusted_token_issuers[0].issuer_url == "http://127.0.0.1:8000/demo-issuer"


def test_accept_unverified_email_is_an_optional_boolean_off_by_default() -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    config = resolve(parse_file(yaml.safe_dump(doc)), None, "123456789012", now=T0)
    assert all(not t.accept_unverified_email for t in config.trusted_token_issuers)
    doc["TrustedTokenIssuers"][0]["AcceptUnverifiedEmail"] = True
    config = resolve(parse_file(yaml.safe_dump(doc)), None, "123456789012", now=T0)
    assert config.trusted_token_issuers[0].accept_unverified_email is True
    doc["TrustedTokenIssuers"][0]["AcceptUnverifiedEmail"] = "sometimes"
    with pytest.raises(ConfigError, match="AcceptUnverifiedEmail"):
        parse_file(yaml.safe_dump(doc))


def test_the_example_declares_permission_sets_accounts_and_account_assignments() -> None:
    config = resolve(load_file(EXAMPLE), None, "123456789012", now=T0)
    (ps,) = config.permission_sets
    assert ps.name == "ReadOnly" and ps.session_duration == "PT4H"
    assert ps.arn.startswith(f"arn:aws:sso:::permissionSet/{config.instance.instance_id}/ps-")
    assert ps.inline_policy is not None and ps.inline_policy["Statement"][0]["Effect"] == "Deny"
    assert ps.managed_policy_arns == ("arn:aws:iam::aws:policy/ReadOnlyAccess",)
    assert ps.permissions_boundary is not None
    groups = {g.display_name: g.group_id for g in config.groups}
    users = {u.user_name: u.user_id for u in config.users}
    assert [(a.account_id, a.principal_type, a.principal_id) for a in config.account_assignments] == [
        ("111122223333", "GROUP", groups["analysts"]),
        ("444455556666", "USER", users["jdoe"]),
    ]
    assert {a.permission_set_arn for a in config.account_assignments} == {ps.arn}
    assert [(a.account_id, a.name) for a in config.accounts] == [("111122223333", "production")]
    again = resolve(load_file(EXAMPLE), config, "123456789012", now=T0 + 5)
    assert again == config  # the ARN and the creation date are kept


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (
            lambda d: d["PermissionSets"][0].update(SessionDuration="PT13H"),
            "PermissionSets[0].SessionDuration",
        ),
        (lambda d: d["PermissionSets"][0].update(InlinePolicy="not json"), "PermissionSets[0].InlinePolicy"),
        (
            lambda d: d["PermissionSets"][0].update(InlinePolicy={"Statement": [{"Effect": "Maybe"}]}),
            "PermissionSets[0].InlinePolicy",
        ),
        (
            lambda d: d["PermissionSets"][0].update(
                PermissionsBoundary={
                    "ManagedPolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
                    "CustomerManagedPolicyReference": {"Name": "x"},
                }
            ),
            "PermissionSets[0].PermissionsBoundary",
        ),
        (lambda d: d["PermissionSets"].append({"Name": "readonly"}), "PermissionSets[1]: duplicate name"),
        (lambda d: d["AccountAssignments"][0].update(PermissionSetArn="Nope"), "no permission set 'Nope'"),
        (
            lambda d: d["AccountAssignments"][0].update(PrincipalId="ghost"),
            "AccountAssignments[0].PrincipalId",
        ),
        (lambda d: d["AccountAssignments"][0].update(TargetId="12345"), "AccountAssignments[0].TargetId"),
        (lambda d: d["Accounts"].append(dict(d["Accounts"][0])), "Accounts[1].AccountId: duplicate"),
    ],
)
def test_permission_set_errors_name_the_field(mutate: object, needle: str) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(ConfigError) as info:
        resolve(parse_file(yaml.safe_dump(doc)), None, "123456789012", now=T0)
    assert needle in info.value.message, info.value.message


@pytest.mark.anyio
async def test_apply_writes_permission_sets_all_or_nothing() -> None:
    store = MemoryStore(master_key=bytes(32))
    config = await apply_to_store(store, load_file(EXAMPLE), "123456789012", T0)
    (ps,) = config.permission_sets
    assert await store.get_permission_set(ps.arn) == ps
    assert await store.list_provisioned_accounts(ps.arn) == ["111122223333", "444455556666"]
    jdoe = next(u.user_id for u in config.users if u.user_name == "jdoe")
    assert await store.account_roles(jdoe) == [("444455556666", ps.arn)]
    version = await store.config_version()
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["AccountAssignments"].append(
        {"TargetId": "1", "PermissionSetArn": "ReadOnly", "PrincipalType": "USER", "PrincipalId": "jdoe"}
    )
    with pytest.raises(ConfigError):
        await apply_to_store(store, parse_file(yaml.safe_dump(doc)), "123456789012", T0)
    assert await store.config_version() == version
    del doc["AccountAssignments"][1:]
    doc["PermissionSets"][0]["Description"] = "changed"
    again = await apply_to_store(store, parse_file(yaml.safe_dump(doc)), "123456789012", T0 + 1)
    assert again.permission_sets[0].arn == ps.arn and again.permission_sets[0].description == "changed"
    assert await store.account_roles(jdoe) == []
    assert await store.list_provisioned_accounts(ps.arn) == ["111122223333"]
    unchanged = await store.config_version()
    await apply_to_store(store, parse_file(yaml.safe_dump(doc)), "123456789012", T0 + 2)
    assert await store.config_version() == unchanged  # an unchanged file writes nothing


@pytest.mark.parametrize("arn", ["AdministratorAccess", "", "arn:aws:iam::123456789012:policy/Mine"])
def test_a_managed_policy_arn_the_api_would_refuse_is_refused_in_the_file(arn: str) -> None:
    """The file front door checks ManagedPolicyArns as the sso-admin model does (an AWS managed policy ARN); a bare
    name once stored made ListManagedPoliciesInPermissionSet fail."""
    text = yaml.safe_dump(
        {"Instance": {"Name": "x"}, "PermissionSets": [{"Name": "P", "ManagedPolicyArns": [arn]}]}
    )
    with pytest.raises(ConfigError, match="ManagedPolicyArns"):
        parse_file(text)
    ok = yaml.safe_dump(
        {
            "Instance": {"Name": "x"},
            "PermissionSets": [
                {"Name": "P", "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}
            ],
        }
    )
    assert parse_file(ok).PermissionSets[0].ManagedPolicyArns == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
