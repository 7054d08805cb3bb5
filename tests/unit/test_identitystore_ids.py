"""identitystore ids given as ARNs (``ssoidc.aws.identitystore.resource_id``), the account of an ARN
(``ssoidc.ids.account_of``) and the revisions a write may be conditional on
(``ssoidc.admin.directory.expected_revision``)."""

from __future__ import annotations

import pytest

from ssoidc.admin.directory import MAX_REVISION, expected_revision, identity_store
from ssoidc.aws.identitystore import resource_id
from ssoidc.errors import ResourceNotFound, ValidationFailed
from ssoidc.ids import account_of, identitystore_arn
from ssoidc.model import Configuration, Instance

UID = "0123456789-01234567-89ab-cdef-0123-456789abcdef"


def test_an_id_is_itself_and_an_arn_of_the_kind_is_its_id() -> None:
    assert resource_id(UID, "user", "UserId") == UID
    assert resource_id(identitystore_arn("user", UID), "user", "UserId") == UID
    assert (
        resource_id(f"arn:aws:identitystore:::membership/{UID[11:]}", "membership", "MembershipId")
        == UID[11:]
    )


def test_an_arn_of_another_kind_names_the_member() -> None:
    with pytest.raises(ValidationFailed) as exc:
        resource_id(identitystore_arn("group", UID), "user", "MemberId.UserId")
    assert exc.value.field == "MemberId.UserId" and "group" in str(exc.value)


def test_an_arn_of_another_partition_names_nothing_here() -> None:
    with pytest.raises(ResourceNotFound) as exc:
        resource_id(f"arn:aws-cn:identitystore:::user/{UID}", "user", "UserId")
    assert exc.value.resource_type == "USER"


def test_a_store_is_named_by_its_id_or_its_arn_only() -> None:
    inst = Instance("arn:aws:sso:::instance/ssoins-0123456789abcdef", "d-0123456789", "123456789012", "i")
    config = Configuration(inst)
    assert identity_store(config, "d-0123456789") == inst
    assert identity_store(config, "arn:aws:identitystore::123456789012:identitystore/d-0123456789") == inst
    for other in ("d-9999999999", "arn:aws:identitystore::999999999999:identitystore/d-0123456789"):
        with pytest.raises(ResourceNotFound):
            identity_store(config, other)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, None),
        ("1", 1),
        ("42", 42),
        (str(MAX_REVISION), MAX_REVISION),
        ("01", -1),  # not the canonical form a store hands out: matches no row
        ("0", -1),
        (str(MAX_REVISION + 1), -1),  # beyond a 64-bit column: never bound to SQL
        ("9" * 64, -1),
        ("\u0661", -1),  # a non-ASCII digit (ARABIC-INDIC DIGIT ONE)
    ],
)
def test_expected_revision(given: str | None, expected: int | None) -> None:
    assert expected_revision(given) == expected


@pytest.mark.parametrize(
    ("arn", "account"),
    [
        ("arn:aws:iam::123456789012:root", "123456789012"),
        ("arn:aws:sts::210987654321:assumed-role/R/s", "210987654321"),
        ("arn:aws:iam::123456789012:role/a:b", "123456789012"),  # a colon in the resource is not a field
        ("arn:aws:sso:::instance/ssoins-1", ""),  # no account
        ("not-an-arn", ""),
        ("arn:aws:iam:123456789012", ""),  # too few fields
        ("urn:aws:iam::123456789012:root", ""),
    ],
)
def test_account_of(arn: str, account: str) -> None:
    assert account_of(arn) == account
