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

import hashlib
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


def new_permission_set_arn(instance_id: str) -> str:
    """``arn:aws:sso:::permissionSet/<instance id>/ps-<16 hex>`` (sso-admin ``PermissionSetArn``)."""
    return f"arn:aws:sso:::permissionSet/{instance_id}/ps-{secrets.token_hex(8)}"


def new_request_id() -> str:
    """The id of an asynchronous sso-admin request (a UUID: the ``UUId`` pattern)."""
    return str(uuid.uuid4())


def role_arn(account_id: str, path: str, role_name: str) -> str:
    """``arn:aws:iam::<account>:role<path><name>`` (the path starts and ends with ``/``)."""
    return f"arn:aws:iam::{account_id}:role{path}{role_name}"


IDENTITYSTORE_RESOURCE_ARN = "arn:aws:identitystore:::"
"""The prefix of a user, group or membership ARN (then ``user/<id>``, ``group/<id>``, ``membership/<id>``)."""


def identitystore_arn(kind: str, resource_id: str) -> str:
    """The ARN of the identity-store ``kind`` (``user``, ``group``, ``membership``) ``resource_id``."""
    return f"{IDENTITYSTORE_RESOURCE_ARN}{kind}/{resource_id}"


def _access_key_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_B32) for _ in range(16))


def new_access_key_id() -> str:
    """An IAM-style long-term access key id: ``AKIA`` + 16 base32 characters."""
    return _access_key_id("AKIA")


def new_session_access_key_id() -> str:
    """A temporary (session) access key id, as STS and the portal's GetRoleCredentials give: ``ASIA`` + 16 base32
    characters."""
    return _access_key_id("ASIA")


def is_session_access_key_id(access_key_id: str) -> bool:
    """The shape ``new_session_access_key_id`` gives (what the SigV4 lookup asks the session store about)."""
    return len(access_key_id) == 20 and access_key_id.startswith("ASIA") and access_key_id.isalnum()


def new_session_token() -> str:
    """An opaque session token (``X-Amz-Security-Token``): 64 random bytes, base64url, stored only as SHA-256."""
    return secrets.token_urlsafe(64)


_B32 = string.ascii_uppercase + "234567"


def _stable_chars(seed: str, n: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_B32[b % 32] for b in digest[:n])


def unique_id(prefix: str, arn: str) -> str:
    """A stable IAM-style unique id for an ARN: ``prefix`` (``AROA`` for a role, ``AIDA`` for a user) + 17
    characters derived from the ARN (IAM draws them at random once; ssoidc derives them, so every node and every
    restart agrees without storing them)."""
    return prefix + _stable_chars(f"{prefix}:{arn}", 17)


def permission_set_role_name(permission_set_name: str, permission_set_arn: str) -> str:
    """``AWSReservedSSO_<PermissionSetName>_<suffix>``: the role IAM Identity Center provisions for a permission
    set in each account; the suffix is 16 hex characters derived from the permission set ARN, so it stays the
    same while the permission set exists (as AWS's does) and differs between permission sets of one name."""
    suffix = hashlib.sha256(f"ssoidc:permission-set-role:{permission_set_arn}".encode()).hexdigest()[:16]
    return f"AWSReservedSSO_{permission_set_name}_{suffix}"


PERMISSION_SET_ROLE_PATH = "/aws-reserved/sso.amazonaws.com/"
"""The IAM path of the permission-set roles, as AWS provisions them."""


def permission_set_role_arn(account_id: str, role_name: str) -> str:
    """The IAM role of a permission set in an account: ``arn:aws:iam::<account>:role/aws-reserved/
    sso.amazonaws.com/<role name>``."""
    return role_arn(account_id, PERMISSION_SET_ROLE_PATH, role_name)


def account_of(arn: str) -> str:
    """The account id field of an ARN (``arn:aws:iam::<account>:...``, ``arn:aws:sts::<account>:...``); "" if
    ``arn`` is not an ARN or names no account."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""


def assumed_role_arn(account_id: str, role_name: str, session_name: str) -> str:
    """An STS session of a role: ``arn:aws:sts::<account>:assumed-role/<role name>/<session name>`` (no path)."""
    return f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{session_name}"


def new_secret_access_key() -> str:
    """A 40-character secret access key (the alphabet IAM uses)."""
    return "".join(secrets.choice(string.ascii_letters + string.digits + "+/") for _ in range(40))


_MEMBERSHIP_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:ssoidc:identitystore:group-membership")


def membership_id(group_id: str, user_id: str) -> str:
    """The deterministic id of the membership of ``user_id`` in ``group_id`` (a UUID: the ResourceId pattern), so
    it survives ``ssoidc export`` / ``ssoidc apply`` round trips without being chosen again."""
    return str(uuid.uuid5(_MEMBERSHIP_NAMESPACE, f"{group_id}/{user_id}"))
