"""The AWS JSON 1.1 protocol for the configuration plane: sso-admin and identitystore.

``POST /`` with ``Content-Type: application/x-amz-json-1.1`` and ``X-Amz-Target: <prefix>.<Operation>``
(``SWBExternalService`` for sso-admin, SigV4 signing name ``sso``; ``AWSIdentityStore`` for identitystore, signing
name ``identitystore``), served on the same port as sso-oidc. Per request:

1. the target names a service and a modelled operation (else ``UnknownOperationException``);
2. SigV4 is verified with that service's signing name (front-end errors, as for sso-oidc);
3. the caller must be an administrator for ``<sso|identitystore>:<Operation>``: the account root (the bootstrap
   admin) or a credential whose identity policy allows the action (else ``AccessDeniedException``);
4. the body is validated against the operation's input shape with every modelled constraint (required members,
   types, enums, lengths, counts, ranges, patterns); a failure is ``ValidationException`` naming the member;
5. the handler (``ssoidc.aws.sso_admin`` / ``ssoidc.aws.identitystore``) maps the wire shape to the domain
   (``ssoidc.admin``) and back. Modelled operations without a handler answer ``NotImplementedException``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ssoidc.aws.errors import render_admin_error
from ssoidc.aws.models import ShapeError, service_model, validate
from ssoidc.aws.oidc import MAX_BODY as MAX_BODY  # one limit for every body (the web layer enforces it)
from ssoidc.aws.sigv4 import SignedRequest, SigV4Verifier
from ssoidc.aws.wire import WireRequest, WireResponse
from ssoidc.errors import (
    AdminAccessDenied,
    NotImplementedOperation,
    SsoidcError,
    UnknownOperation,
    ValidationFailed,
)
from ssoidc.iam.policy import PolicyCache, PolicyError, RequestContext

log = logging.getLogger("ssoidc.admin")


@dataclass(frozen=True, slots=True)
class AdminCall:
    """One authenticated, validated admin call, as handlers see it."""

    service: str
    operation: str
    principal_arn: str
    access_key_id: str
    request_id: str
    now: float


Handler = Callable[[Any, AdminCall], Awaitable[Mapping[str, Any]]]  # typed per operation (ssoidc.aws.shapes)


@dataclass(frozen=True, slots=True)
class Json11Service:
    """One JSON 1.1 service: its botocore name, target prefix, signing name, IAM action prefix and handlers."""

    name: str
    target_prefix: str
    signing_name: str
    action_prefix: str
    handlers: Mapping[str, Handler]


class Json11Api:
    def __init__(
        self,
        services: list[Json11Service],
        *,
        verifier_for: Callable[[str], SigV4Verifier],
        identity_policy_of: Callable[[str], Mapping[str, Any] | None],
        config_version: Callable[[], int],
        account_id: str,
        now: Callable[[], float],
        refresh: Callable[[], Awaitable[object]],
    ) -> None:
        """``refresh`` (the node's configuration refresh) runs first for every request, inside the error mapping,
        so a store that cannot be reached is answered as InternalServerException in the service's shape."""
        self._refresh = refresh
        self._services = {s.target_prefix: s for s in services}
        self._verifiers = {s.target_prefix: verifier_for(s.signing_name) for s in services}
        self._identity_policy_of = identity_policy_of
        self._root = f"arn:aws:iam::{account_id}:root"
        self._now = now
        self._config_version = config_version
        self._policies = PolicyCache()

    def _authorize(self, principal_arn: str, access_key_id: str, action: str, now: float) -> None:
        """The account root may do anything (as in IAM); anyone else needs an identity policy that allows it."""
        if principal_arn == self._root:
            return
        doc = self._identity_policy_of(access_key_id)
        if doc is not None:
            # the credential table and its policies change only with the configuration version
            try:
                policy = self._policies.get("cred:" + access_key_id, self._config_version(), doc, "identity")
            except PolicyError:  # validated when the credential was created; refuse rather than fail
                policy = None
            ctx = RequestContext(principal_arn=principal_arn, action=action, resource="*", current_time=now)
            if policy is not None and policy.evaluate(ctx).allowed:
                return
        raise AdminAccessDenied(f"User: {principal_arn} is not authorized to perform: {action}")

    async def handle(self, req: WireRequest) -> WireResponse:
        request_id = str(uuid.uuid4())
        target = (req.header(b"x-amz-target") or b"").decode("latin-1")
        prefix, _, op = target.partition(".")
        service = self._services.get(prefix)
        service_name = service.name if service else "sso-admin"
        try:
            await self._refresh()
            if service is None or op not in service_model(service.name).operation_names:
                raise UnknownOperation(f"Unknown operation {target or '(no X-Amz-Target header)'}")
            if req.oversized:
                raise ValidationFailed(f"Request body is too large (limit {MAX_BODY // 1024} KiB)")
            now = self._now()
            verified = self._verifiers[prefix].verify(
                SignedRequest(req.method, req.raw_path, req.query_string, req.headers, req.body), now
            )
            self._authorize(
                verified.principal_arn, verified.access_key_id, f"{service.action_prefix}:{op}", now
            )
            handler = service.handlers.get(op)
            if handler is None:
                raise NotImplementedOperation(
                    f"{op} is not implemented by ssoidc; see docs/admin-api.md for the operations it serves"
                )
            try:
                doc = orjson.loads(req.body) if req.body.strip() else {}
            except orjson.JSONDecodeError:
                raise ValidationFailed("Request body is not valid JSON") from None
            shape = service_model(service.name).operation_model(op).input_shape
            try:
                clean = validate(shape, doc, "", constraints=True) if shape is not None else {}
            except ShapeError as exc:
                raise ValidationFailed.at(exc.path, exc.message) from None
            call = AdminCall(
                service.name, op, verified.principal_arn, verified.access_key_id, request_id, now
            )
            result = await handler(clean, call)
        except SsoidcError as exc:
            err = render_admin_error(exc, service_name, request_id, op if service is not None else None)
            log.info("%s %s %s: %s", service_name, op, err.code, exc.message)
            return WireResponse(err.status, err.body, err.headers)
        except Exception:
            log.exception("%s %s %s failed", service_name, op, request_id)
            err = render_admin_error(RuntimeError(), service_name, request_id)
            return WireResponse(err.status, err.body, err.headers)
        return WireResponse(
            200,
            orjson.dumps(result),
            [(b"content-type", b"application/x-amz-json-1.1"), (b"x-amzn-requestid", request_id.encode())],
        )
