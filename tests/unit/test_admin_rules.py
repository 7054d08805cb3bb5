"""Invariants every stored configuration keeps (``ssoidc.admin.rules``), whichever front door changed it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssoidc.admin.rules import ENTERPRISE, MAX_TAGS, check
from ssoidc.aws.identitystore import apply_user_operations, user_out
from ssoidc.aws.mapping import user_to_shape
from ssoidc.aws.shapes.identitystore import AttributeOperation
from ssoidc.config.apply import apply_to_store, parse_file
from ssoidc.errors import ConfigError, Conflict, ServiceQuotaExceeded, ValidationFailed
from ssoidc.model import (
    GRANT_AUTHORIZATION_CODE,
    Application,
    AuthorizationCodeGrantConfig,
    Configuration,
    Group,
    Instance,
    TrustedTokenIssuer,
    User,
)
from ssoidc.storage.memory import MemoryStore

INSTANCE = Instance("arn:aws:sso:::instance/ssoins-1111222233334444", "d-1234567890", "123456789012", "i")


def with_redirect(uri: str) -> Configuration:
    app = Application(
        arn="arn:aws:sso::123456789012:application/ssoins-1111222233334444/apl-aaaaaaaaaaaaaaaa",
        name="web",
        instance_arn=INSTANCE.instance_arn,
        grants={GRANT_AUTHORIZATION_CODE: AuthorizationCodeGrantConfig((uri,))},
    )
    return Configuration(instance=INSTANCE, applications=(app,))


@pytest.mark.parametrize(
    "uri", ["https://app.example.com/cb", "http://127.0.0.1:8000/demo/callback", "com.example.app:/oauth"]
)
def test_good_redirect_uris_pass(uri: str) -> None:
    check(with_redirect(uri))


@pytest.mark.parametrize(
    "uri",
    [
        "/relative/cb",
        "https://app.example.com/cb#frag",
        "http://[::1]:99999/cb",  # found by the admin fuzz test: a port out of range was accepted
        "https://app.example.com:port/cb",
        "https:///no-host",
    ],
)
def test_bad_redirect_uris_are_refused_naming_the_member(uri: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        check(with_redirect(uri))
    assert info.value.field == "Grant.AuthorizationCode.RedirectUris[0]"


# -- rules both front doors share: the admin API and `ssoidc apply` (apply_to_store runs rules.check) -----------

TTI_ARN = (
    "arn:aws:sso::123456789012:trustedTokenIssuer/ssoins-1111222233334444/tti-{}-0000-4000-8000-000000000000"
)
APP_ARN = "arn:aws:sso::123456789012:application/ssoins-1111222233334444/apl-aaaaaaaaaaaaaaaa"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ssoidc.yaml"


def issuer(n: int, url: str, tags: dict[str, str] | None = None) -> TrustedTokenIssuer:
    return TrustedTokenIssuer(
        TTI_ARN.format(f"{n:08d}"), f"idp{n}", url, "email", "emails.value", tags=tags or {}
    )


def with_user(user_name: str = "jdoe", **profile: Any) -> Configuration:
    user = User("1234567890-00000000-0000-4000-8000-000000000001", user_name, profile=profile)
    return Configuration(instance=INSTANCE, users=(user,))


def many(n: int) -> dict[str, str]:
    return {f"k{i}": "v" for i in range(n)}


@pytest.mark.parametrize("name", ["Administrator", "administrator", "AWSAdministrators", "awsADMINISTRATORS"])
def test_reserved_user_and_group_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        check(with_user(name))
    assert (info.value.field, info.value.message) == (
        "UserName",
        "UserName is a reserved name (Administrator, AWSAdministrators)",
    )
    with pytest.raises(ValidationFailed) as info:
        check(Configuration(instance=INSTANCE, groups=(Group("1234567890-g", name),)))
    assert info.value.field == "DisplayName"
    check(with_user(name + "s"))  # only the exact names are reserved


@pytest.mark.parametrize(
    ("extensions", "field"),
    [
        ({ENTERPRISE: "oops"}, f"Extensions.{ENTERPRISE}"),  # made a later UpdateUser fail with a 500
        ({ENTERPRISE: ["a"]}, f"Extensions.{ENTERPRISE}"),
        ({"aws:identitystore:other": {}}, "Extensions.aws:identitystore:other"),
        ({ENTERPRISE: {"shoeSize": "42"}}, f"Extensions.{ENTERPRISE}.shoeSize"),
        ({ENTERPRISE: {1: "x"}}, f"Extensions.{ENTERPRISE}.1"),  # a YAML key that is not a string
        ({ENTERPRISE: {"costCenter": 5}}, f"Extensions.{ENTERPRISE}.costCenter"),
        ({ENTERPRISE: {"costCenter": ""}}, f"Extensions.{ENTERPRISE}.costCenter"),
        ({ENTERPRISE: {"department": "x" * 1025}}, f"Extensions.{ENTERPRISE}.department"),
        ({ENTERPRISE: {"manager": {"value": "boss", "x": "y"}}}, f"Extensions.{ENTERPRISE}.manager"),
        ({ENTERPRISE: {"manager": {"value": 7}}}, f"Extensions.{ENTERPRISE}.manager"),
        ("oops", "Extensions"),
        (None, "Extensions"),
    ],
)
def test_bad_enterprise_extensions_are_refused_naming_the_member(extensions: Any, field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        check(with_user(Extensions=extensions))
    assert info.value.field == field


def test_good_enterprise_extension_passes() -> None:
    ext = {
        "employeeNumber": "42",
        "costCenter": "R&D",
        "manager": {"value": "boss"},
        "department": "x" * 1024,
    }
    check(with_user(Extensions={ENTERPRISE: ext}))
    check(with_user(Extensions={ENTERPRISE: {}}))


@pytest.mark.parametrize("where", ["instance", "application", "issuer"])
def test_at_most_50_tags_on_every_resource(where: str) -> None:
    def config(tags: dict[str, str]) -> Configuration:
        if where == "instance":
            return Configuration(instance=replace(INSTANCE, tags=tags))
        if where == "application":
            return Configuration(
                instance=INSTANCE, applications=(Application(APP_ARN, "a", INSTANCE.instance_arn, tags=tags),)
            )
        return Configuration(instance=INSTANCE, trusted_token_issuers=(issuer(1, "https://i.example", tags),))

    check(config(many(MAX_TAGS)))
    with pytest.raises(ServiceQuotaExceeded) as quota:
        check(config(many(MAX_TAGS + 1)))
    assert quota.value.message == "A resource can have at most 50 tags"
    for key in ("aws:owner", "AWS:Owner"):
        with pytest.raises(ValidationFailed) as info:
            check(config({"ok": "", key: "v"}))
        assert (info.value.field, info.value.message) == ("Tags", "Tag keys starting with aws: are reserved")
    check(config({"team:aws": "v", "awsx": "v"}))


def test_issuer_urls_are_unique() -> None:
    first = issuer(1, "https://idp.example.com")
    check(
        Configuration(
            instance=INSTANCE, trusted_token_issuers=(first, issuer(2, "https://idp.example.com/b"))
        )
    )
    dup = Configuration(
        instance=INSTANCE, trusted_token_issuers=(first, issuer(2, "https://idp.example.com"))
    )
    with pytest.raises(Conflict) as info:
        check(dup)
    assert info.value.message == f"A trusted token issuer with this IssuerUrl already exists ({first.arn})"


# -- the file front door refuses what the API refuses ----------------------------------------------------------


def apply_doc(doc: dict[str, Any]) -> Configuration:
    """Apply ``doc`` as ``ssoidc apply`` would, to an empty store; the configuration it stored."""

    async def go() -> Configuration:
        store = MemoryStore(master_key=bytes(32))
        await apply_to_store(store, parse_file(yaml.safe_dump(doc)), "123456789012", 1.0)
        config, _ = await store.load_configuration()
        assert config is not None
        return config

    return asyncio.run(go())


def example() -> dict[str, Any]:
    doc = yaml.safe_load(EXAMPLE.read_text())
    assert isinstance(doc, dict)
    return doc


def issuer_doc(name: str, url: str) -> dict[str, Any]:
    conf = {"IssuerUrl": url, "ClaimAttributePath": "email", "IdentityStoreAttributePath": "emails.value"}
    return {"Name": name, "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": conf}}


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d["Users"][1].update(Extensions={ENTERPRISE: "oops"}), f"Extensions.{ENTERPRISE}"),
        (
            lambda d: d["Users"][1].update(Extensions={ENTERPRISE: {"shoeSize": "9"}}),
            "'shoeSize' is not an attribute",
        ),
        (lambda d: d["Users"][1].update(Extensions={"aws:identitystore:other": {}}), "is not supported"),
        (lambda d: d["Users"].append({"UserName": "Administrator"}), "UserName is a reserved name"),
        (
            lambda d: d["Groups"].append({"DisplayName": "AWSAdministrators"}),
            "DisplayName is a reserved name",
        ),
        (lambda d: d["Instance"].update(Tags=[{"Key": "aws:env", "Value": "x"}]), "aws: are reserved"),
        (
            lambda d: d["TrustedTokenIssuers"].append(
                issuer_doc(
                    "second",
                    d["TrustedTokenIssuers"][0]["TrustedTokenIssuerConfiguration"]["OidcJwtConfiguration"][
                        "IssuerUrl"
                    ],
                )
            ),
            "IssuerUrl already exists",
        ),
    ],
)
def test_apply_refuses_what_the_api_refuses(mutate: Any, needle: str) -> None:
    apply_doc(example())  # the example itself applies
    doc = example()
    mutate(doc)
    with pytest.raises(ConfigError) as info:
        apply_doc(doc)
    assert needle in info.value.message


def test_a_file_holds_at_most_50_tags_per_resource() -> None:
    doc = example()
    doc["Applications"][0]["Tags"] = [{"Key": f"k{i}"} for i in range(MAX_TAGS)]
    assert len(apply_doc(doc).applications[0].tags) == MAX_TAGS
    doc["Applications"][0]["Tags"].append({"Key": "one-too-many"})
    with pytest.raises(ConfigError) as info:
        parse_file(yaml.safe_dump(doc))
    assert "Applications[0].Tags" in info.value.message


# -- stored data that breaks the extension rule never turns an identitystore call into a 500 -------------------


@pytest.mark.parametrize("stored", ["oops", ["a"], 5])
def test_update_user_replaces_a_stored_extension_that_is_not_an_object(stored: Any) -> None:
    user = with_user(Extensions={ENTERPRISE: stored}).users[0]
    ops: list[AttributeOperation] = [{"AttributePath": f"{ENTERPRISE}.department", "AttributeValue": "Eng"}]
    updated = apply_user_operations(user, ops)
    assert updated.profile["Extensions"] == {ENTERPRISE: {"department": "Eng"}}
    check(replace(with_user(), users=(updated,)))


@pytest.mark.parametrize("stored", ["oops", ["a"], 5])
def test_a_stored_extensions_member_that_is_not_an_object_is_not_returned(stored: Any) -> None:
    user = with_user(Extensions=stored).users[0]
    assert "Extensions" not in user_to_shape(user, INSTANCE.identity_store_id)
    assert "Extensions" not in user_out(user, INSTANCE.identity_store_id, [ENTERPRISE])
    updated = apply_user_operations(
        user, [{"AttributePath": f"{ENTERPRISE}.costCenter", "AttributeValue": "C"}]
    )
    assert updated.profile["Extensions"] == {ENTERPRISE: {"costCenter": "C"}}
