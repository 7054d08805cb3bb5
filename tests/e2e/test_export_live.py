"""``ssoidc export`` against a live server changed through boto3 (sso-admin and identitystore): the export applies
into a fresh data directory and exports again to identical text, and applying it back to its own store changes
nothing (the configuration version stays put)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers.clients import make_admin_client
from tests.helpers.config import ACCOUNT, ROOT, allow_account
from tests.helpers.servers import LiveServer, private_server

CUSTOM = "arn:aws:sso::aws:applicationProvider/custom"


own_server = private_server("export", scope="function")


def ssoidc(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ssoidc", *args],
        env=server.env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def version(data_dir: Path, server: LiveServer) -> int:
    from ssoidc.storage.sqlite import SqliteStore

    async def go() -> int:
        st = SqliteStore(data_dir / "ssoidc.db", master_key=server.master_key)
        try:
            return await st.config_version()
        finally:
            await st.close()

    return asyncio.run(go())


def change_through_the_admin_api(server: LiveServer) -> None:
    sa = make_admin_client(server, "sso-admin")
    ids = make_admin_client(server, "identitystore")
    inst = sa.list_instances()["Instances"][0]
    store_id = inst["IdentityStoreId"]
    sa.tag_resource(
        InstanceArn=server.instance_arn,
        ResourceArn=server.instance_arn,
        Tags=[{"Key": "env", "Value": "test"}],
    )
    tti = sa.create_trusted_token_issuer(
        InstanceArn=server.instance_arn,
        Name="corp-idp",
        TrustedTokenIssuerType="OIDC_JWT",
        TrustedTokenIssuerConfiguration={
            "OidcJwtConfiguration": {
                "IssuerUrl": "https://idp.example.com/realms/corp",
                "ClaimAttributePath": "email",
                "IdentityStoreAttributePath": "emails.value",
                "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
            }
        },
        Tags=[{"Key": "owner", "Value": "it"}],
    )["TrustedTokenIssuerArn"]
    app = sa.create_application(
        InstanceArn=server.instance_arn,
        ApplicationProviderArn=CUSTOM,
        Name="exported-app",
        Description="made with boto3",
        PortalOptions={
            "SignInOptions": {"Origin": "APPLICATION", "ApplicationUrl": "https://portal.example.com/start"},
            "Visibility": "DISABLED",
        },
        Tags=[{"Key": "team", "Value": "data"}],
    )["ApplicationArn"]
    sa.put_application_grant(
        ApplicationArn=app,
        GrantType="urn:ietf:params:oauth:grant-type:jwt-bearer",
        Grant={
            "JwtBearer": {
                "AuthorizedTokenIssuers": [{"TrustedTokenIssuerArn": tti, "AuthorizedAudiences": ["x"]}]
            }
        },
    )
    sa.put_application_grant(ApplicationArn=app, GrantType="refresh_token", Grant={"RefreshToken": {}})
    sa.put_application_access_scope(
        ApplicationArn=app, Scope="reports:read", AuthorizedTargets=[server.apps["main"], server.instance_arn]
    )
    sa.put_application_authentication_method(
        ApplicationArn=app,
        AuthenticationMethodType="IAM",
        AuthenticationMethod={"Iam": {"ActorPolicy": allow_account(ACCOUNT)}},
    )
    user = ids.create_user(
        IdentityStoreId=store_id,
        UserName="mmajor",
        DisplayName="Mary Major",
        Name={"GivenName": "Mary", "FamilyName": "Major", "MiddleName": "Q", "HonorificPrefix": "Dr"},
        Emails=[{"Value": "mary@example.com", "Type": "work", "Primary": True}],
        NickName="Mo",
        Title="Engineer",
        Addresses=[{"StreetAddress": "1 Main St", "Locality": "Leeds", "Country": "GB", "Primary": True}],
        PhoneNumbers=[{"Value": "+44 113 000 0000", "Type": "work"}],
    )["UserId"]
    group = ids.create_group(IdentityStoreId=store_id, DisplayName="exporters", Description="export test")[
        "GroupId"
    ]
    ids.create_group_membership(IdentityStoreId=store_id, GroupId=group, MemberId={"UserId": user})
    # interleaved across applications: stored order differs from the file's grouping by application
    sa.create_application_assignment(ApplicationArn=app, PrincipalId=user, PrincipalType="USER")
    sa.create_application_assignment(
        ApplicationArn=server.apps["main"], PrincipalId=group, PrincipalType="GROUP"
    )
    sa.create_application_assignment(ApplicationArn=app, PrincipalId=group, PrincipalType="GROUP")
    # the instance's settings of the newer models: a region, ABAC attributes, the session configuration, the
    # identity store's network exemption lists
    sa.add_region(InstanceArn=server.instance_arn, RegionName="eu-west-1")
    sa.create_instance_access_control_attribute_configuration(
        InstanceArn=server.instance_arn,
        InstanceAccessControlAttributeConfiguration={
            "AccessControlAttributes": [
                {"Key": "CostCenter", "Value": {"Source": ["${path:enterprise.costCenter}"]}},
                {"Key": "Team", "Value": {"Source": ["${path:name.familyName}"]}},
            ]
        },
    )
    sa.put_application_session_configuration(
        ApplicationArn=app, UserBackgroundSessionApplicationStatus="ENABLED"
    )
    ids.update_identity_store(
        IdentityStoreId=store_id,
        NetworkConfiguration={"VpceAccessRequired": False, "ApiAllowSourceIps": ["10.0.0.0/8"]},
    )


def test_export_round_trips_through_apply(own_server: LiveServer, tmp_path: Path) -> None:
    server = own_server
    change_through_the_admin_api(server)

    exported = tmp_path / "exported.yaml"
    out = ssoidc(server, "export", "--data-dir", str(server.data_dir), "--output", str(exported))
    assert out.returncode == 0, out.stderr
    text = exported.read_text()
    doc = yaml.safe_load(text)
    app = next(a for a in doc["Applications"] if a["Name"] == "exported-app")
    assert app["PortalOptions"] == {
        "SignInOptions": {"Origin": "APPLICATION", "ApplicationUrl": "https://portal.example.com/start"},
        "Visibility": "DISABLED",
    }
    assert app["Tags"] == [{"Key": "team", "Value": "data"}]
    assert doc["Instance"]["Tags"] == [{"Key": "env", "Value": "test"}]
    assert [r["RegionName"] for r in doc["Instance"]["Regions"]] == ["eu-west-1"]
    assert doc["Instance"]["InstanceAccessControlAttributeConfiguration"] == {
        "AccessControlAttributes": [
            {"Key": "CostCenter", "Value": {"Source": ["${path:enterprise.costCenter}"]}},
            {"Key": "Team", "Value": {"Source": ["${path:name.familyName}"]}},
        ]
    }
    assert doc["Instance"]["IdentityStoreNetworkConfiguration"] == {"ApiAllowSourceIps": ["10.0.0.0/8"]}
    assert app["UserBackgroundSessionApplicationStatus"] == "ENABLED"
    user = next(u for u in doc["Users"] if u["UserName"] == "mmajor")
    assert user["Name"] == {
        "GivenName": "Mary",
        "FamilyName": "Major",
        "MiddleName": "Q",
        "HonorificPrefix": "Dr",
    }
    assert user["NickName"] == "Mo"
    assert user["Addresses"] == [
        {"StreetAddress": "1 Main St", "Locality": "Leeds", "Country": "GB", "Primary": True}
    ]

    # stdout is the same document
    out = ssoidc(server, "export", "--data-dir", str(server.data_dir))
    assert out.returncode == 0, out.stderr
    assert out.stdout == text

    # into a fresh data directory, then export again: identical text
    fresh = tmp_path / "b"
    out = ssoidc(server, "apply", str(exported), "--data-dir", str(fresh))
    assert out.returncode == 0, out.stderr
    out = ssoidc(server, "export", "--data-dir", str(fresh))
    assert out.returncode == 0, out.stderr
    assert out.stdout == text

    # back onto the store it came from: nothing changes, not even the version
    before = version(server.data_dir, server)
    out = ssoidc(server, "apply", str(exported), "--data-dir", str(server.data_dir))
    assert out.returncode == 0, out.stderr
    assert version(server.data_dir, server) == before

    # and the server still serves what the admin API made
    sa = make_admin_client(server, "sso-admin")
    described = sa.describe_application(ApplicationArn=app["ApplicationArn"])
    assert described["PortalOptions"]["Visibility"] == "DISABLED"
    session = sa.get_application_session_configuration(ApplicationArn=app["ApplicationArn"])
    assert session["UserBackgroundSessionApplicationStatus"] == "ENABLED"
    regions = sa.list_regions(InstanceArn=server.instance_arn)["Regions"]
    # ListRegions pages by region name
    assert [(r["RegionName"], r["IsPrimaryRegion"]) for r in regions] == [
        ("eu-west-1", False),
        ("us-east-1", True),
    ]


def test_export_of_nothing_and_of_a_deleted_instance(own_server: LiveServer, tmp_path: Path) -> None:
    out = ssoidc(own_server, "export", "--data-dir", str(tmp_path / "empty"))
    assert out.returncode == 2
    assert "no configuration to export" in out.stderr

    make_admin_client(own_server, "sso-admin").delete_instance(InstanceArn=own_server.instance_arn)
    out = ssoidc(own_server, "export", "--data-dir", str(own_server.data_dir))
    assert out.returncode == 0, out.stderr
    assert f"the instance {own_server.instance_arn} was deleted" in out.stderr
    assert yaml.safe_load(out.stdout) == {}
    assert "was deleted (sso-admin DeleteInstance)" in out.stdout
