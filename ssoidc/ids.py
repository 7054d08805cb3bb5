"""New identifiers in the formats the sso-admin and identitystore models give (the ``pattern`` traits of
``botocore/data/sso-admin/2020-07-20/service-2.json`` and ``botocore/data/identitystore/2020-06-15/service-2.json``).

One place for every generated id, used by both front doors (``ssoidc.config.apply`` and ``ssoidc.admin``):
instance ARNs ``arn:aws:sso:::instance/ssoins-<16 hex>``, identity store ids ``d-<10 hex>``, user and group ids
``<10 hex>-<uuid4>``, application ARNs ``…:application/<instance id>/apl-<16 alphanumerics>`` and trusted token
issuer ARNs ``…:trustedTokenIssuer/<instance id>/tti-<uuid4>``. All random parts come from ``secrets``.

identitystore ARNs (the model's ``ResourceArn`` and ``IdentityStoreArn`` patterns and documented examples): a user
``arn:aws:identitystore:::user/<user id>`` (no region, no account), likewise ``group/`` and ``membership/``, and
the identity store ``arn:aws:identitystore::<account>:identitystore/<identity store id>``
(``Instance.identity_store_arn``).
"""

from __future__ import annotations

import secrets
import string
import uuid

_ALNUM = string.ascii_letters + string.digits


def new_instance_arn() -> str:
    return f"arn:aws:sso:::instance/ssoins-{secrets.token_hex(8)}"


def new_identity_store_id() -> str:
    return f"d-{secrets.token_hex(5)}"


def new_directory_id() -> str:
    return f"{secrets.token_hex(5)}-{uuid.uuid4()}"


def new_application_arn(account_id: str, instance_id: str) -> str:
    suffix = "".join(secrets.choice(_ALNUM) for _ in range(16))
    return f"arn:aws:sso::{account_id}:application/{instance_id}/apl-{suffix}"


def new_issuer_arn(account_id: str, instance_id: str) -> str:
    return f"arn:aws:sso::{account_id}:trustedTokenIssuer/{instance_id}/tti-{uuid.uuid4()}"


IDENTITYSTORE_RESOURCE_ARN = "arn:aws:identitystore:::"
"""The prefix of a user, group or membership ARN (then ``user/<id>``, ``group/<id>``, ``membership/<id>``)."""


def identitystore_arn(kind: str, resource_id: str) -> str:
    """The ARN of the identity-store ``kind`` (``user``, ``group``, ``membership``) ``resource_id``."""
    return f"{IDENTITYSTORE_RESOURCE_ARN}{kind}/{resource_id}"


def new_access_key_id() -> str:
    """An IAM-style long-term access key id: ``AKIA`` + 16 base32 characters."""
    return "AKIA" + "".join(secrets.choice(string.ascii_uppercase + "234567") for _ in range(16))


def new_secret_access_key() -> str:
    """A 40-character secret access key (the alphabet IAM uses)."""
    return "".join(secrets.choice(string.ascii_letters + string.digits + "+/") for _ in range(40))


_MEMBERSHIP_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:ssoidc:identitystore:group-membership")


def membership_id(group_id: str, user_id: str) -> str:
    """The deterministic id of the membership of ``user_id`` in ``group_id`` (a UUID: the ResourceId pattern), so
    it survives ``ssoidc export`` / ``ssoidc apply`` round trips without being chosen again."""
    return str(uuid.uuid5(_MEMBERSHIP_NAMESPACE, f"{group_id}/{user_id}"))
