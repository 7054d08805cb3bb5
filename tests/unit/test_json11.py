"""The JSON 1.1 services: admin authorization (root always; others by identity policy, never a stale one) and
error rendering (every validation error names its member; not-found follows what the operation models)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from ssoidc.aws.admin_auth import AdminAuthorizer
from ssoidc.aws.errors import render_json11_error
from ssoidc.credentials.authority import IdentityPolicies
from ssoidc.errors import AdminAccessDenied, ResourceNotFound, ValidationFailed

ACCOUNT = "123456789012"
USER = f"arn:aws:iam::{ACCOUNT}:user/ops"


def allow(action: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}


class SyncAuthorizer:
    """The authorizer, awaited for each call (it reads session credentials and permission sets from the store)."""

    def __init__(self, state: dict[str, Any]) -> None:
        identity = IdentityPolicies(
            identity_policy_of=lambda akid: state["policies"].get(akid),
            config_version=lambda: state["version"],
        )
        self._auth = AdminAuthorizer(identity_of=identity.of, account_id=ACCOUNT)

    def __call__(self, principal: str, akid: str, action: str, now: float) -> None:
        asyncio.run(self._auth(principal, akid, action, now))


def make_api(state: dict[str, Any]) -> SyncAuthorizer:
    return SyncAuthorizer(state)


def test_root_may_do_anything_and_others_need_a_policy() -> None:
    api = make_api({"version": 1, "policies": {"AKIAOPS": allow("identitystore:List*")}})
    api(f"arn:aws:iam::{ACCOUNT}:root", "AKIAROOT", "sso:DeleteInstance", 0.0)
    api(USER, "AKIAOPS", "identitystore:ListUsers", 0.0)
    with pytest.raises(AdminAccessDenied, match="identitystore:CreateUser"):
        api(USER, "AKIAOPS", "identitystore:CreateUser", 0.0)
    with pytest.raises(AdminAccessDenied):
        api(USER, "AKIANOPOLICY", "identitystore:ListUsers", 0.0)


def test_a_changed_policy_of_the_same_key_applies_from_the_next_version() -> None:
    state: dict[str, Any] = {"version": 1, "policies": {"AKIAOPS": allow("identitystore:*")}}
    api = make_api(state)
    api(USER, "AKIAOPS", "identitystore:CreateUser", 0.0)
    # the credential is re-created with the same key id and a narrower policy: the version moves with it
    state["policies"] = {"AKIAOPS": allow("identitystore:List*")}
    state["version"] = 2
    with pytest.raises(AdminAccessDenied):
        api(USER, "AKIAOPS", "identitystore:CreateUser", 0.0)


def test_an_unparsable_stored_policy_denies() -> None:
    api = make_api({"version": 1, "policies": {"AKIAOPS": {"Statement": "nonsense"}}})
    with pytest.raises(AdminAccessDenied):
        api(USER, "AKIAOPS", "identitystore:ListUsers", 0.0)


def rendered(
    exc: Exception, service: str = "sso-admin", operation: str | None = None
) -> tuple[int, dict[str, Any]]:
    err = render_json11_error(exc, service, "req-1", operation)
    return err.status, orjson.loads(err.body)


def test_every_validation_error_names_its_member() -> None:
    status, body = rendered(ValidationFailed("A redirect URI must be an absolute URI", "RedirectUris[0]"))
    assert (status, body["__type"]) == (400, "ValidationException")
    assert "RedirectUris[0]" in body["Message"]
    _, body = rendered(ValidationFailed("Value at 'Name' must have length at most 100", "Name"))
    assert body["Message"] == "Value at 'Name' must have length at most 100"  # already named: left as is


def test_not_found_follows_what_the_operation_models() -> None:
    missing = ResourceNotFound("Application arn:x does not exist", "APPLICATION", "arn:x")
    assert rendered(missing, operation="DescribeApplication")[1]["__type"] == "ResourceNotFoundException"
    # ListApplications models no ResourceNotFoundException: the modelled ValidationException instead
    status, body = rendered(missing, operation="ListApplications")
    assert (status, body["__type"]) == (400, "ValidationException")
    assert "ApplicationArn" in body["Message"]
    status, body = rendered(
        ResourceNotFound("User u does not exist", "USER", "u"), "identitystore", "DescribeUser"
    )
    assert body["__type"] == "ResourceNotFoundException"
    assert (body["ResourceType"], body["ResourceId"], body["RequestId"]) == ("USER", "u", "req-1")
