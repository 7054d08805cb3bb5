"""``ssoidc export`` round trip: for random valid configurations, export -> parse -> resolve gives back exactly the
same ``Configuration`` (dataclass equality), and exporting that result gives the same text."""

from __future__ import annotations

import string
from dataclasses import replace
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssoidc.admin.rules import check
from ssoidc.config.apply import load_file, parse_file, resolve
from ssoidc.config.export import export_configuration
from ssoidc.errors import ConfigError
from ssoidc.model import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_JWT_BEARER,
    GRANT_REFRESH_TOKEN,
    GRANT_TOKEN_EXCHANGE,
    AccessControlAttribute,
    AccessScope,
    Account,
    AccountAssignment,
    Application,
    Assignment,
    AuthorizationCodeGrantConfig,
    AuthorizedTokenIssuer,
    Configuration,
    CustomerManagedPolicyReference,
    Email,
    ExternalId,
    GrantConfig,
    Group,
    Instance,
    JwtBearerGrantConfig,
    PermissionsBoundary,
    PermissionSet,
    RefreshTokenGrantConfig,
    Region,
    TokenExchangeGrantConfig,
    TrustedTokenIssuer,
    User,
)
from tests.unit.test_config import EXAMPLE, T0

ACCOUNT = "123456789012"
HEX = "0123456789abcdef"
ALNUM = string.ascii_letters + string.digits

# identitystore free text: letters, marks, symbols, numbers, punctuation and the allowed blanks.
profile_text = st.text(
    alphabet=st.one_of(
        st.characters(categories=("L", "M", "S", "N", "P")), st.sampled_from(" \t\n\r\u00a0\u3000")
    ),
    min_size=1,
    max_size=20,
)
# sso-admin TagKey/TagValue: letters, separators (including U+2028/U+2029), numbers and _.:/=+-@
tag_text = st.text(
    alphabet=st.one_of(st.characters(categories=("L", "Z", "N")), st.sampled_from("_.:/=+-@")), max_size=12
)
any_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30)
timestamps = st.one_of(
    st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False),
    st.integers(0, 4_000_000_000).map(float),
    st.integers(0, 4_000_000_000_000_000).map(lambda us: us / 1_000_000),
)
# rules.check: no tag key starts with aws: (compared case-insensitively)
tags = st.dictionaries(
    tag_text.filter(lambda k: k and not k.lower().startswith("aws:")), tag_text, max_size=4
)


def hexes(n: int) -> st.SearchStrategy[str]:
    return st.text(HEX, min_size=n, max_size=n)


directory_ids = st.builds(lambda h, u: f"{h}-{u}", hexes(10), st.uuids().map(str))
name_token = st.text(string.ascii_letters + string.digits + "_+=,.@-", min_size=1, max_size=12)


@st.composite
def profiles(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    name = draw(
        st.dictionaries(
            st.sampled_from(["Formatted", "MiddleName", "HonorificPrefix", "HonorificSuffix"]),
            profile_text,
            max_size=4,
        )
    )
    if name:
        out["Name"] = name
    for key in ("NickName", "ProfileUrl", "UserType", "Title", "PreferredLanguage", "Locale", "Timezone"):
        if draw(st.booleans()):
            out[key] = draw(profile_text)
    for key in ("Website", "Birthdate"):
        if draw(st.integers(0, 3)) == 0:
            out[key] = draw(profile_text)

    def record(members: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
        fields: dict[str, st.SearchStrategy[Any]] = {m: profile_text for m in members}
        fields["Primary"] = st.booleans()
        return st.fixed_dictionaries({}, optional=fields)

    if draw(st.booleans()):
        out["Addresses"] = [
            draw(
                record(("StreetAddress", "Locality", "Region", "PostalCode", "Country", "Formatted", "Type"))
            )
        ]
    if draw(st.booleans()):
        out["PhoneNumbers"] = [draw(record(("Value", "Type")))]
    if draw(st.integers(0, 3)) == 0:
        out["Roles"] = [draw(record(("Value", "Type")))]
    if draw(st.integers(0, 3)) == 0:
        photo = st.fixed_dictionaries(
            {"Value": profile_text},
            optional={"Type": profile_text, "Display": profile_text, "Primary": st.booleans()},
        )
        out["Photos"] = draw(st.lists(photo, min_size=1, max_size=3))
    if draw(st.integers(0, 3)) == 0:
        out["Extensions"] = {
            "aws:identitystore:enterprise": draw(
                st.fixed_dictionaries(
                    {},  # attribute values are strings of 1 to 1024 characters (rules.check)
                    optional={
                        "employeeNumber": st.text(min_size=1, max_size=8),
                        "costCenter": st.integers().map(str),
                        "manager": st.builds(lambda v: {"value": v}, st.text(min_size=1, max_size=8)),
                    },
                )
            )
        }
    return out


def actor_policies(targets: list[str]) -> st.SearchStrategy[dict[str, Any] | None]:
    statement = st.fixed_dictionaries(
        {
            "Effect": st.sampled_from(["Allow", "Deny"]),
            "Principal": st.one_of(
                st.just("*"),
                st.just({"AWS": ACCOUNT}),
                st.just({"AWS": [f"arn:aws:iam::{ACCOUNT}:role/App", f"arn:aws:iam::{ACCOUNT}:user/u"]}),
            ),
            "Action": st.sampled_from(["sso-oauth:CreateTokenWithIAM", ["sso-oauth:*"]]),
            "Resource": st.sampled_from(["*", *targets[:1]]),
        },
        optional={
            "Condition": st.just({"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}),
        },
    )
    doc = st.fixed_dictionaries(
        {"Statement": st.one_of(statement, st.lists(statement, min_size=1, max_size=2))},
        optional={"Version": st.sampled_from(["2012-10-17", "2008-10-17"])},
    )
    return st.one_of(st.none(), doc)


@st.composite
def configurations(draw: st.DrawFn, *, interleave: bool = False) -> Configuration:
    inst_id = "ssoins-" + draw(hexes(16))
    instance = Instance(
        instance_arn=f"arn:aws:sso:::instance/{inst_id}",
        identity_store_id="d-" + draw(hexes(10)),
        owner_account_id=ACCOUNT,
        name=draw(st.text(string.ascii_letters + "_+=,.@-", min_size=1, max_size=20)),
        created_at=draw(timestamps),
        tags=draw(tags),
        regions=tuple(
            Region(n, draw(timestamps))
            for n in draw(
                st.lists(st.sampled_from(["eu-west-1", "ap-south-2", "us-gov-west-1"]), unique=True)
            )
        ),
        access_control_attributes=draw(
            st.none()
            | st.lists(
                st.builds(
                    AccessControlAttribute,
                    st.sampled_from(["Department", "cost:center", "Team A"]),
                    st.sampled_from(["${path:enterprise.department}", "${path:name.givenName}", ""]),
                ),
                unique_by=lambda a: a.key,
                max_size=3,
            ).map(tuple)
        ),
        identity_store_api_allow_ips=tuple(
            draw(st.lists(st.sampled_from(["10.0.0.0/8", "::1/128"]), unique=True))
        ),
        identity_store_scim_allow_ips=tuple(draw(st.lists(st.sampled_from(["192.0.2.1"]), unique=True))),
    )
    tti_names = draw(st.lists(name_token, unique=True, max_size=3))
    tti_ids = draw(
        st.lists(st.uuids().map(str), unique=True, min_size=len(tti_names), max_size=len(tti_names))
    )
    tti_urls = draw(  # IssuerUrl is unique in the instance (rules.check)
        st.lists(
            st.sampled_from(
                ["https://idp.example.com", "http://127.0.0.1:9/realms/x", "https://idp.example.com/realms/b"]
            ),
            unique=True,
            min_size=len(tti_names),
            max_size=len(tti_names),
        )
    )
    issuers = [
        TrustedTokenIssuer(
            arn=f"arn:aws:sso::{ACCOUNT}:trustedTokenIssuer/{inst_id}/tti-{tid}",
            name=n,
            issuer_url=url,
            claim_attribute_path=draw(st.sampled_from(["email", "sub", "custom.claim_x"])),
            identity_store_attribute_path=draw(
                st.sampled_from(["userName", "emails.value", "externalIds.id", "externalIds.corp:idp"])
            ),
            allowed_algorithms=tuple(
                draw(st.lists(st.sampled_from(["RS256", "ES256", "PS512"]), min_size=1, max_size=3))
            ),
            tags=draw(tags),
            accept_unverified_email=draw(st.booleans()),
        )
        for n, tid, url in zip(tti_names, tti_ids, tti_urls, strict=True)
    ]

    user_names = draw(st.lists(name_token, unique_by=str.lower, max_size=4))
    user_ids = draw(st.lists(directory_ids, unique=True, min_size=len(user_names), max_size=len(user_names)))
    users = []
    for un, uid in zip(user_names, user_ids, strict=True):
        emails = draw(
            st.lists(
                st.builds(
                    Email,
                    st.one_of(st.emails(), st.just("")),
                    st.sampled_from(["work", "home", ""]),
                    st.booleans(),
                ),
                max_size=1,
            )
        )
        users.append(
            User(
                user_id=uid,
                user_name=un,
                display_name=draw(st.one_of(st.just(""), any_text)),
                given_name=draw(st.one_of(st.just(""), any_text)),
                family_name=draw(st.one_of(st.just(""), any_text)),
                emails=tuple(emails),
                external_ids=tuple(draw(st.lists(st.builds(ExternalId, name_token, name_token), max_size=2))),
                profile=draw(profiles()),
            )
        )
    group_names = draw(  # Administrator and AWSAdministrators are reserved (rules.check)
        st.lists(
            any_text.filter(lambda n: n.lower() not in ("administrator", "awsadministrators")),
            unique=True,
            max_size=3,
        )
    )
    group_ids = draw(
        st.lists(
            directory_ids.filter(lambda i: i not in user_ids),
            unique=True,
            min_size=len(group_names),
            max_size=len(group_names),
        )
    )
    groups = [
        Group(
            group_id=gid,
            display_name=gn,
            description=draw(st.one_of(st.just(""), any_text)),
            member_user_ids=tuple(draw(st.lists(st.sampled_from(user_ids), unique=True)) if user_ids else ()),
            external_ids=tuple(draw(st.lists(st.builds(ExternalId, name_token, name_token), max_size=2))),
        )
        for gn, gid in zip(group_names, group_ids, strict=True)
    ]

    app_names = draw(st.lists(any_text.filter(lambda s: len(s) <= 100), unique=True, max_size=4))
    app_arns = [
        f"arn:aws:sso::{ACCOUNT}:application/{inst_id}/apl-{s}"
        for s in draw(
            st.lists(
                st.text(ALNUM, min_size=16, max_size=16),
                unique=True,
                min_size=len(app_names),
                max_size=len(app_names),
            )
        )
    ]
    principals: list[tuple[str, str]] = [("USER", u) for u in user_ids] + [("GROUP", g) for g in group_ids]
    applications = []
    assignments: list[Assignment] = []
    for name, arn in zip(app_names, app_arns, strict=True):
        grants: dict[str, GrantConfig] = {}
        for gt in draw(
            st.lists(
                st.sampled_from(
                    [GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE]
                ),
                unique=True,
            )
        ):
            if gt == GRANT_AUTHORIZATION_CODE:
                grants[gt] = AuthorizationCodeGrantConfig(
                    tuple(
                        draw(
                            st.lists(
                                st.sampled_from(
                                    ["https://a.example/cb", "http://127.0.0.1:1/x", "com.example:/oauth"]
                                ),
                                min_size=1,
                                max_size=3,
                            )
                        )
                    )
                )
            elif gt == GRANT_JWT_BEARER:
                if not issuers:
                    continue
                grants[gt] = JwtBearerGrantConfig(
                    tuple(
                        AuthorizedTokenIssuer(
                            t.arn, tuple(draw(st.lists(name_token, min_size=1, max_size=3)))
                        )
                        # each issuer listed once (rules.check, the JwtBearer row's rules)
                        for t in draw(
                            st.lists(
                                st.sampled_from(issuers), min_size=1, max_size=2, unique_by=lambda t: t.arn
                            )
                        )
                    )
                )
            elif gt == GRANT_REFRESH_TOKEN:
                grants[gt] = RefreshTokenGrantConfig()
            else:
                grants[gt] = TokenExchangeGrantConfig()
        scopes = draw(
            st.lists(st.from_regex(r"\A[a-z_0-9]{1,8}(:[A-Za-z0-9_]{1,8}){0,2}\Z"), unique=True, max_size=3)
        )
        access_scopes = tuple(
            AccessScope(
                s, tuple(draw(st.lists(st.sampled_from([*app_arns, instance.instance_arn]), max_size=3)))
            )
            for s in scopes
        )
        origin = draw(st.sampled_from(["IDENTITY_CENTER", "APPLICATION"]))
        applications.append(
            Application(
                arn=arn,
                name=name,
                instance_arn=instance.instance_arn,
                provider_arn=draw(
                    st.sampled_from(
                        [
                            "arn:aws:sso::aws:applicationProvider/custom",
                            "arn:aws:sso::aws:applicationProvider/x-1",
                        ]
                    )
                ),
                status=draw(st.sampled_from(["ENABLED", "DISABLED"])),
                description=draw(st.one_of(st.just(""), any_text)),
                grants=grants,
                actor_policy=draw(actor_policies(app_arns)),
                access_scopes=access_scopes,
                assignment_required=draw(st.booleans()),
                created_at=draw(timestamps),
                tags=draw(tags),
                portal_visibility=draw(st.sampled_from(["ENABLED", "DISABLED"])),
                sign_in_origin=origin,
                application_url=draw(
                    st.sampled_from(["", "https://app.example.com/start?x=1", "http://h:8/"])
                ),
                user_background_sessions=draw(st.booleans()),
            )
        )
        if principals:
            chosen = draw(st.lists(st.sampled_from(principals), unique=True, max_size=4))
            assignments += [Assignment(arn, t, p) for t, p in chosen]  # type: ignore[arg-type]
    if interleave:
        assignments = draw(st.permutations(assignments))
    accounts = [
        Account(a, draw(name_token), f"{a}@example.com")
        for a in draw(st.lists(st.from_regex(r"\A\d{12}\Z"), unique=True, max_size=3))
    ]
    ps_names = draw(
        st.lists(
            st.from_regex(r"\A[\w+=,.@-]{1,32}\Z", alphabet=ALNUM + "_+=,.@-"),
            unique_by=str.lower,
            max_size=3,
        )
    )
    ps_ids = draw(st.lists(hexes(16), unique=True, min_size=len(ps_names), max_size=len(ps_names)))
    permission_sets = [
        PermissionSet(
            arn=f"arn:aws:sso:::permissionSet/{inst_id}/ps-{pid}",
            name=n,
            instance_arn=instance.instance_arn,
            description=draw(st.sampled_from(["", "Readers", "two words"])),
            session_duration=draw(st.sampled_from(["PT1H", "PT12H", "PT2H30M"])),
            relay_state=draw(st.sampled_from(["", "https://console.aws.amazon.com/"])),
            inline_policy=draw(
                st.sampled_from(
                    [
                        None,
                        {
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
                        },
                    ]
                )
            ),
            managed_policy_arns=tuple(
                draw(
                    st.lists(
                        st.sampled_from(
                            [
                                "arn:aws:iam::aws:policy/ReadOnlyAccess",
                                "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
                            ]
                        ),
                        unique=True,
                    )
                )
            ),
            customer_managed_policies=tuple(
                draw(
                    st.lists(
                        st.builds(
                            CustomerManagedPolicyReference, name_token, st.sampled_from(["/", "/team/"])
                        ),
                        unique=True,
                        max_size=2,
                    )
                )
            ),
            permissions_boundary=draw(
                st.sampled_from(
                    [
                        None,
                        PermissionsBoundary("arn:aws:iam::aws:policy/PowerUserAccess"),
                        PermissionsBoundary(
                            customer_managed_policy_reference=CustomerManagedPolicyReference("B", "/")
                        ),
                    ]
                )
            ),
            created_at=draw(timestamps),
            tags=draw(tags),
        )
        for n, pid in zip(ps_names, ps_ids, strict=True)
    ]
    account_assignments: list[AccountAssignment] = []
    if principals and permission_sets:
        chosen_aa = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["111111111111", "222222222222", *(a.account_id for a in accounts)]),
                    st.sampled_from([p.arn for p in permission_sets]),
                    st.sampled_from(principals),
                ),
                unique=True,
                max_size=5,
            )
        )
        account_assignments = [AccountAssignment(acct, arn, t, p) for acct, arn, (t, p) in chosen_aa]  # type: ignore[arg-type]
    if interleave:
        account_assignments = draw(st.permutations(account_assignments))
    config = Configuration(
        instance=instance,
        trusted_token_issuers=tuple(issuers),
        applications=tuple(applications),
        users=tuple(users),
        groups=tuple(groups),
        assignments=tuple(assignments),
        accounts=tuple(accounts),
        permission_sets=tuple(permission_sets),
        account_assignments=tuple(account_assignments),
    )
    check(config)  # the admin API's invariants: a valid configuration
    return config


FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(configurations())
def test_export_resolves_back_to_exactly_the_configuration(config: Configuration) -> None:
    text = export_configuration(config)
    back = resolve(parse_file(text), None, ACCOUNT, now=1.0)
    assert back == config
    assert export_configuration(back) == text


@FAST
@given(configurations(interleave=True))
def test_applying_the_export_to_its_own_store_is_a_no_op(config: Configuration) -> None:
    """Whatever order the admin API stored assignments in, re-applying the export changes nothing."""
    text = export_configuration(config)
    assert resolve(parse_file(text), config, ACCOUNT, now=1.0) == config
    # into a fresh store the assignments come out grouped by application: same set, same text
    fresh = resolve(parse_file(text), None, ACCOUNT, now=1.0)
    assert set(fresh.assignments) == set(config.assignments)
    assert set(fresh.account_assignments) == set(config.account_assignments)
    assert export_configuration(fresh) == text


@FAST
@given(configurations(), st.sampled_from(["deleted", "other"]))
def test_pinned_export_ignores_whatever_the_store_holds(config: Configuration, which: str) -> None:
    if which == "deleted":
        current = Configuration(instance=replace(config.instance, status="DELETED", tags={}))
    else:
        current = resolve(load_file(EXAMPLE), None, ACCOUNT, now=T0)
    assert resolve(parse_file(export_configuration(config)), current, ACCOUNT, now=2.0) == config


def test_export_is_readable_yaml_with_defaults_omitted() -> None:
    config = resolve(load_file(EXAMPLE), None, ACCOUNT, now=1_700_000_000.0)
    doc = yaml.safe_load(export_configuration(config))
    portal = doc["Applications"][0]
    assert portal["ApplicationArn"] == config.applications[0].arn
    assert portal["CreatedDate"].isoformat() == "2023-11-14T22:13:20+00:00"
    assert "Status" not in portal and "PortalOptions" not in portal and "Tags" not in portal
    issuer = portal["Grants"][GRANT_JWT_BEARER]["JwtBearer"]["AuthorizedTokenIssuers"][0]
    assert issuer["TrustedTokenIssuerArn"] == config.trusted_token_issuers[0].arn  # references as ARNs
    assert portal["Grants"][GRANT_REFRESH_TOKEN] == {"RefreshToken": {}}
    users = {u.user_name: u.user_id for u in config.users}
    assert {"PrincipalType": "USER", "PrincipalId": users["jdoe"]} in portal["Assignments"]
    assert doc["Groups"][0]["Members"] == [users["rroe"]]
    assert doc["Users"][1] == {
        "UserName": "rroe",
        "UserId": users["rroe"],
        "Emails": [{"Value": "richard.roe@example.com"}],
    }


def test_inexact_timestamps_are_written_as_epoch_seconds() -> None:
    config = resolve(load_file(EXAMPLE), None, ACCOUNT, now=1_700_000_000.1234567)
    doc = yaml.safe_load(export_configuration(config))
    assert doc["Instance"]["CreatedDate"] == 1_700_000_000.1234567
    assert resolve(parse_file(export_configuration(config)), None, ACCOUNT, now=T0) == config


def test_deleted_instance_is_skipped() -> None:
    config = resolve(load_file(EXAMPLE), None, ACCOUNT, now=T0)
    deleted = Configuration(instance=replace(config.instance, status="DELETED", tags={}))
    text = export_configuration(deleted)
    assert "was deleted" in text
    assert yaml.safe_load(text) == {}
    fresh = resolve(parse_file(text), deleted, ACCOUNT, now=5.0)
    assert fresh.instance.status == "ACTIVE"
    assert fresh.instance.instance_arn != config.instance.instance_arn  # a new instance, as CreateInstance
    assert fresh.instance.identity_store_id != config.instance.identity_store_id
    assert fresh.instance.created_at == 5.0


def test_profile_attribute_the_file_cannot_express_fails_the_export() -> None:
    config = resolve(load_file(EXAMPLE), None, ACCOUNT, now=T0)
    bad_user = replace(config.users[0], profile={"Name": {"Nick": "x"}, "Shoe": 42})
    with pytest.raises(ConfigError) as info:
        export_configuration(replace(config, users=(bad_user, *config.users[1:])))
    assert "Name.Nick" in info.value.message and "Shoe" in info.value.message
