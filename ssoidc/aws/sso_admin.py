"""sso-admin (JSON 1.1, ``SWBExternalService.<Op>``, SigV4 ``sso``): wire shapes <-> ``ssoidc.admin``.

Each handler receives the validated input (PascalCase, as modelled) and returns the modelled output. Reads use
the node's current configuration snapshot; writes go through ``ConfigEditor.run`` (compare-and-swap, optional
``ClientToken`` idempotency). Operations served (``SsoAdminApi.handlers``):

* instances: ListInstances, DescribeInstance, CreateInstance, UpdateInstance, DeleteInstance;
* applications: CreateApplication, DescribeApplication, ListApplications, UpdateApplication, DeleteApplication;
  ListApplicationProviders, DescribeApplicationProvider (the one custom OAuth provider);
* grants: PutApplicationGrant, GetApplicationGrant, ListApplicationGrants, DeleteApplicationGrant;
* authentication methods: PutApplicationAuthenticationMethod, GetApplicationAuthenticationMethod,
  ListApplicationAuthenticationMethods, DeleteApplicationAuthenticationMethod (IAM; the ActorPolicy is a JSON
  document type, so it travels as an embedded JSON object, never as a string, both ways);
* access scopes: PutApplicationAccessScope, GetApplicationAccessScope, ListApplicationAccessScopes,
  DeleteApplicationAccessScope;
* trusted token issuers: CreateTrustedTokenIssuer, DescribeTrustedTokenIssuer, UpdateTrustedTokenIssuer,
  DeleteTrustedTokenIssuer, ListTrustedTokenIssuers;
* assignments: CreateApplicationAssignment, DescribeApplicationAssignment, DeleteApplicationAssignment,
  ListApplicationAssignments, ListApplicationAssignmentsForPrincipal, PutApplicationAssignmentConfiguration,
  GetApplicationAssignmentConfiguration;
* tags: TagResource, UntagResource, ListTagsForResource (the instance, applications, trusted token issuers).

An operation whose model has no ResourceNotFoundException (ListApplications, ListTrustedTokenIssuers,
CreateTrustedTokenIssuer...) reports an unknown instance as ValidationException naming ``InstanceArn``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ssoidc.admin import applications as apps
from ssoidc.admin import instance as inst
from ssoidc.admin import issuers as tti
from ssoidc.admin.editor import ClientToken, ConfigEditor, Edit, empty_answer
from ssoidc.admin.paging import page
from ssoidc.aws.json11 import AdminCall, Handler
from ssoidc.errors import ResourceNotFound, ValidationFailed
from ssoidc.iam.policy import PolicyError
from ssoidc.model import (
    AccessScope,
    Application,
    Assignment,
    Configuration,
    GrantConfig,
    Instance,
    TrustedTokenIssuer,
)
from ssoidc.oauth.grants.base import GrantRegistry, MemberReader
from ssoidc.oauth.grants.registry import GRANTS

SERVICE = "sso-admin"
TARGET_PREFIX = "SWBExternalService"
SIGNING_NAME = "sso"

ACTOR_POLICY_PATH = "AuthenticationMethod.Iam.ActorPolicy"
CUSTOM_PROVIDER_OUT: dict[str, Any] = {
    "ApplicationProviderArn": apps.CUSTOM_PROVIDER,
    "FederationProtocol": "OAUTH",
    "DisplayData": {
        "DisplayName": "Custom OAuth 2.0 application",
        "Description": "An application that gets tokens from ssoidc with CreateTokenWithIAM",
    },
}


def tags_in(tags: list[dict[str, str]] | None) -> dict[str, str]:
    """A ``Tags`` list as a mapping; a key given twice is refused naming it (the limits: ``rules.check``)."""
    out: dict[str, str] = {}
    for i, t in enumerate(tags or []):
        if t["Key"] in out:
            raise ValidationFailed(f"Tag key {t['Key']!r} is given more than once", f"Tags[{i}].Key")
        out[t["Key"]] = t.get("Value", "")
    return out


def instance_out(i: Instance) -> dict[str, Any]:
    return {
        "InstanceArn": i.instance_arn,
        "IdentityStoreId": i.identity_store_id,
        "OwnerAccountId": i.owner_account_id,
        "Name": i.name,
        "CreatedDate": i.created_at,
        "Status": i.status,
    }


def application_out(a: Application, config: Configuration, region: str) -> dict[str, Any]:
    sign_in: dict[str, Any] = {"Origin": a.sign_in_origin}
    if a.application_url:
        sign_in["ApplicationUrl"] = a.application_url
    out: dict[str, Any] = {
        "ApplicationArn": a.arn,
        "ApplicationProviderArn": a.provider_arn,
        "Name": a.name,
        "ApplicationAccount": config.instance.owner_account_id,
        "InstanceArn": a.instance_arn,
        "IdentityStoreArn": config.instance.identity_store_arn,
        "Status": a.status,
        "PortalOptions": {"SignInOptions": sign_in, "Visibility": a.portal_visibility},
        "CreatedDate": a.created_at,
        "CreatedFrom": region,
    }
    if a.description:
        out["Description"] = a.description
    return out


def grant_in(grant_type: str, grant: Mapping[str, Any], registry: GrantRegistry = GRANTS) -> GrantConfig:
    """The ``Grant`` union -> domain grant. Its one member must be the one ``grant_type`` takes."""
    kind = registry.get(grant_type)
    if kind is None:
        raise ValidationFailed(f"Grant type {grant_type} is not supported", "GrantType")
    if kind.member not in grant:
        raise ValidationFailed(
            f"Grant type {grant_type} takes a Grant with the {kind.member} member, not {', '.join(grant)}",
            "Grant",
        )
    config: GrantConfig = kind.from_wire(grant[kind.member], MemberReader(f"Grant.{kind.member}"))
    return config


def grant_out(grant: GrantConfig, registry: GrantRegistry = GRANTS) -> dict[str, Any]:
    """Domain grant -> the ``Grant`` union (GetApplicationGrant, ListApplicationGrants)."""
    return registry.union_of(grant)


def scope_out(s: AccessScope) -> dict[str, Any]:
    out: dict[str, Any] = {"Scope": s.scope}
    if s.authorized_targets:
        out["AuthorizedTargets"] = list(s.authorized_targets)
    return out


def assignment_out(a: Assignment) -> dict[str, Any]:
    return {
        "ApplicationArn": a.application_arn,
        "PrincipalId": a.principal_id,
        "PrincipalType": a.principal_type,
    }


def issuer_out(t: TrustedTokenIssuer) -> dict[str, Any]:
    return {
        "TrustedTokenIssuerArn": t.arn,
        "Name": t.name,
        "TrustedTokenIssuerType": "OIDC_JWT",
        "TrustedTokenIssuerConfiguration": {
            "OidcJwtConfiguration": {
                "IssuerUrl": t.issuer_url,
                "ClaimAttributePath": t.claim_attribute_path,
                "IdentityStoreAttributePath": t.identity_store_attribute_path,
                "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
            }
        },
    }


def _listed(key: str, chunk: list[Any], nxt: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {key: chunk}
    if nxt:
        out["NextToken"] = nxt
    return out


class SsoAdminApi:
    """The sso-admin handlers, bound to one node's editor."""

    def __init__(self, editor: ConfigEditor, *, account_id: str, region: str) -> None:
        self.editor = editor
        self.account_id = account_id
        self.region = region

    async def _config(self) -> Configuration:
        return (await self.editor.current()).config

    async def _write(
        self,
        call: AdminCall,
        inp: dict[str, Any],
        change: Callable[[Configuration], Edit[dict[str, Any]]],
    ) -> dict[str, Any]:
        token = inp.get("ClientToken")
        ct = None
        if token:
            request = {k: v for k, v in inp.items() if k != "ClientToken"}
            ct = ClientToken(f"{call.service}:{call.operation}:{call.principal_arn}", token, request)
        return await self.editor.run(change, now=call.now, client_token=ct)

    async def _edit(
        self, call: AdminCall, inp: dict[str, Any], edit: Callable[[Configuration], Edit[Any]]
    ) -> dict[str, Any]:
        """A write whose answer is the empty output shape."""
        return await self._write(call, inp, empty_answer(edit))

    # -- instances ----------------------------------------------------------------------------------------------
    async def list_instances(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        config = await self._config()
        items = [config.instance] if config.instance.status == "ACTIVE" else []
        chunk, nxt = page(items, lambda i: i.instance_arn, inp.get("NextToken"), inp.get("MaxResults"))
        return _listed("Instances", [instance_out(i) for i in chunk], nxt)

    async def describe_instance(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        i = inst.active_instance(await self._config(), inp["InstanceArn"])
        return instance_out(i)

    async def create_instance(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        tags = tags_in(inp.get("Tags"))

        def change(c: Configuration) -> Edit[dict[str, Any]]:
            e = inst.create_instance(
                c,
                name=inp.get("Name", "ssoidc"),
                tags=tags,
                account_id=self.account_id,
                now=call.now,
            )
            return Edit(e.config, {"InstanceArn": e.result.instance_arn}, e.revoke)

        return await self._write(call, inp, change)

    async def update_instance(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        return await self._edit(
            call, inp, lambda c: inst.update_instance(c, inp["InstanceArn"], name=inp.get("Name"))
        )

    async def delete_instance(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        return await self._edit(call, inp, lambda c: inst.delete_instance(c, inp["InstanceArn"]))

    # -- applications -------------------------------------------------------------------------------------------
    async def create_application(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        portal = inp.get("PortalOptions", {})
        sign_in = portal.get("SignInOptions", {})
        tags = tags_in(inp.get("Tags"))

        def change(c: Configuration) -> Edit[dict[str, Any]]:
            e = apps.create_application(
                c,
                instance_arn=inp["InstanceArn"],
                provider_arn=inp["ApplicationProviderArn"],
                name=inp["Name"],
                description=inp.get("Description", ""),
                status=inp.get("Status", "ENABLED"),
                tags=tags,
                portal_visibility=portal.get("Visibility", "ENABLED"),
                sign_in_origin=sign_in.get("Origin", "IDENTITY_CENTER"),
                application_url=sign_in.get("ApplicationUrl", ""),
                now=call.now,
            )
            out = {
                "ApplicationArn": e.result.arn,
                "InstanceArn": c.instance.instance_arn,
                "IdentityStoreArn": c.instance.identity_store_arn,
            }
            return Edit(e.config, out, e.revoke)

        return await self._write(call, inp, change)

    async def describe_application(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        config = await self._config()
        return application_out(apps.get_application(config, inp["ApplicationArn"]), config, self.region)

    async def list_applications(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        config = await self._config()
        inst.active_instance(config, inp["InstanceArn"])
        filt = inp.get("Filter", {})
        account = filt.get("ApplicationAccount")
        items = [
            a
            for a in config.applications
            if (not filt.get("ApplicationProvider") or a.provider_arn == filt["ApplicationProvider"])
            and (not account or account == config.instance.owner_account_id)
        ]
        chunk, nxt = page(items, lambda a: a.arn, inp.get("NextToken"), inp.get("MaxResults"), default=50)
        return _listed("Applications", [application_out(a, config, self.region) for a in chunk], nxt)

    async def update_application(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        sign_in = inp.get("PortalOptions", {}).get("SignInOptions")
        return await self._edit(
            call,
            inp,
            lambda c: apps.update_application(
                c,
                inp["ApplicationArn"],
                name=inp.get("Name"),
                description=inp.get("Description"),
                status=inp.get("Status"),
                sign_in_origin=sign_in["Origin"] if sign_in else None,
                application_url=sign_in.get("ApplicationUrl", "") if sign_in else None,
            ),
        )

    async def delete_application(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        return await self._edit(call, inp, lambda c: apps.delete_application(c, inp["ApplicationArn"]))

    # -- application providers ------------------------------------------------------------------------------------
    async def list_application_providers(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        chunk, nxt = page(
            [CUSTOM_PROVIDER_OUT],
            lambda p: str(p["ApplicationProviderArn"]),
            inp.get("NextToken"),
            inp.get("MaxResults"),
        )
        return _listed("ApplicationProviders", chunk, nxt)

    async def describe_application_provider(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        arn = inp["ApplicationProviderArn"]
        if arn != apps.CUSTOM_PROVIDER:
            raise ResourceNotFound(
                f"Application provider {arn} does not exist (ssoidc serves the custom provider)",
                "APPLICATION_PROVIDER",
                arn,
            )
        return dict(CUSTOM_PROVIDER_OUT)

    # -- grants ---------------------------------------------------------------------------------------------------
    async def put_application_grant(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        grant = grant_in(inp["GrantType"], inp["Grant"])
        return await self._edit(
            call, inp, lambda c: apps.put_grant(c, inp["ApplicationArn"], inp["GrantType"], grant)
        )

    async def get_application_grant(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        grant = apps.get_grant(await self._config(), inp["ApplicationArn"], inp["GrantType"])
        return {"Grant": grant_out(grant)}

    async def list_application_grants(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        app = apps.get_application(await self._config(), inp["ApplicationArn"])
        chunk, nxt = page(list(app.grants.items()), lambda kv: kv[0], inp.get("NextToken"), None)
        return _listed("Grants", [{"GrantType": k, "Grant": grant_out(g)} for k, g in chunk], nxt)

    async def delete_application_grant(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        return await self._edit(
            call, inp, lambda c: apps.delete_grant(c, inp["ApplicationArn"], inp["GrantType"])
        )

    # -- authentication methods (IAM ActorPolicy) -----------------------------------------------------------------
    async def put_application_authentication_method(
        self, inp: dict[str, Any], call: AdminCall
    ) -> dict[str, Any]:
        policy = inp["AuthenticationMethod"]["Iam"]["ActorPolicy"]
        try:
            return await self._edit(
                call, inp, lambda c: apps.put_actor_policy(c, inp["ApplicationArn"], policy)
            )
        except PolicyError as exc:
            path = f"{ACTOR_POLICY_PATH}.{exc.path}" if exc.path else ACTOR_POLICY_PATH
            raise ValidationFailed(
                f"1 validation error detected: Value at '{path}' {exc.message}", path
            ) from None

    async def get_application_authentication_method(
        self, inp: dict[str, Any], call: AdminCall
    ) -> dict[str, Any]:
        policy = apps.get_actor_policy(await self._config(), inp["ApplicationArn"])
        return {"AuthenticationMethod": {"Iam": {"ActorPolicy": policy}}}

    async def list_application_authentication_methods(
        self, inp: dict[str, Any], call: AdminCall
    ) -> dict[str, Any]:
        app = apps.get_application(await self._config(), inp["ApplicationArn"])
        items = [] if app.actor_policy is None else [("IAM", app.actor_policy)]
        chunk, nxt = page(items, lambda kv: kv[0], inp.get("NextToken"), None)
        methods = [
            {"AuthenticationMethodType": t, "AuthenticationMethod": {"Iam": {"ActorPolicy": p}}}
            for t, p in chunk
        ]
        return _listed("AuthenticationMethods", methods, nxt)

    async def delete_application_authentication_method(
        self, inp: dict[str, Any], call: AdminCall
    ) -> dict[str, Any]:
        return await self._edit(call, inp, lambda c: apps.delete_actor_policy(c, inp["ApplicationArn"]))

    # -- access scopes --------------------------------------------------------------------------------------------
    async def put_application_access_scope(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        targets = inp.get("AuthorizedTargets", [])
        return await self._edit(
            call, inp, lambda c: apps.put_access_scope(c, inp["ApplicationArn"], inp["Scope"], targets)
        )

    async def get_application_access_scope(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        return scope_out(apps.get_access_scope(await self._config(), inp["ApplicationArn"], inp["Scope"]))

    async def list_application_access_scopes(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        app = apps.get_application(await self._config(), inp["ApplicationArn"])
        chunk, nxt = page(
            app.access_scopes, lambda s: s.scope, inp.get("NextToken"), inp.get("MaxResults"), default=10
        )
        return _listed("Scopes", [scope_out(s) for s in chunk], nxt)

    async def delete_application_access_scope(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        return await self._edit(
            call, inp, lambda c: apps.delete_access_scope(c, inp["ApplicationArn"], inp["Scope"])
        )

    # -- trusted token issuers ------------------------------------------------------------------------------------
    async def create_trusted_token_issuer(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        oidc = inp["TrustedTokenIssuerConfiguration"]["OidcJwtConfiguration"]
        tags = tags_in(inp.get("Tags"))

        def change(c: Configuration) -> Edit[dict[str, Any]]:
            e = tti.create_issuer(
                c,
                instance_arn=inp["InstanceArn"],
                name=inp["Name"],
                issuer_url=oidc["IssuerUrl"],
                claim_attribute_path=oidc["ClaimAttributePath"],
                identity_store_attribute_path=oidc["IdentityStoreAttributePath"],
                tags=tags,
            )
            return Edit(e.config, {"TrustedTokenIssuerArn": e.result.arn}, e.revoke)

        return await self._write(call, inp, change)

    async def describe_trusted_token_issuer(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        return issuer_out(tti.get_issuer(await self._config(), inp["TrustedTokenIssuerArn"]))

    async def update_trusted_token_issuer(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        oidc = inp.get("TrustedTokenIssuerConfiguration", {}).get("OidcJwtConfiguration", {})
        return await self._edit(
            call,
            inp,
            lambda c: tti.update_issuer(
                c,
                inp["TrustedTokenIssuerArn"],
                name=inp.get("Name"),
                claim_attribute_path=oidc.get("ClaimAttributePath"),
                identity_store_attribute_path=oidc.get("IdentityStoreAttributePath"),
            ),
        )

    async def delete_trusted_token_issuer(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        return await self._edit(call, inp, lambda c: tti.delete_issuer(c, inp["TrustedTokenIssuerArn"]))

    async def list_trusted_token_issuers(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        items = tti.list_issuers(await self._config(), inp["InstanceArn"])
        chunk, nxt = page(items, lambda t: t.arn, inp.get("NextToken"), inp.get("MaxResults"))
        metadata = [
            {"TrustedTokenIssuerArn": t.arn, "Name": t.name, "TrustedTokenIssuerType": "OIDC_JWT"}
            for t in chunk
        ]
        return _listed("TrustedTokenIssuers", metadata, nxt)

    # -- assignments ----------------------------------------------------------------------------------------------
    async def create_application_assignment(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        return await self._edit(
            call,
            inp,
            lambda c: apps.create_assignment(
                c, inp["ApplicationArn"], inp["PrincipalType"], inp["PrincipalId"]
            ),
        )

    async def describe_application_assignment(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        asg = apps.get_assignment(
            await self._config(), inp["ApplicationArn"], inp["PrincipalType"], inp["PrincipalId"]
        )
        return assignment_out(asg)

    async def delete_application_assignment(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        return await self._edit(
            call,
            inp,
            lambda c: apps.delete_assignment(
                c, inp["ApplicationArn"], inp["PrincipalType"], inp["PrincipalId"]
            ),
        )

    async def list_application_assignments(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        items = apps.application_assignments(await self._config(), inp["ApplicationArn"])
        chunk, nxt = page(
            items,
            lambda a: f"{a.principal_type}/{a.principal_id}",
            inp.get("NextToken"),
            inp.get("MaxResults"),
        )
        return _listed("ApplicationAssignments", [assignment_out(a) for a in chunk], nxt)

    async def list_application_assignments_for_principal(
        self, inp: dict[str, Any], call: AdminCall
    ) -> dict[str, Any]:
        items = apps.principal_assignments(
            await self._config(),
            inp["InstanceArn"],
            inp["PrincipalType"],
            inp["PrincipalId"],
            inp.get("Filter", {}).get("ApplicationArn"),
        )
        chunk, nxt = page(items, lambda a: a.application_arn, inp.get("NextToken"), inp.get("MaxResults"))
        return _listed("ApplicationAssignments", [assignment_out(a) for a in chunk], nxt)

    async def put_application_assignment_configuration(
        self, inp: dict[str, Any], call: AdminCall
    ) -> dict[str, Any]:
        return await self._edit(
            call,
            inp,
            lambda c: apps.set_assignment_required(c, inp["ApplicationArn"], inp["AssignmentRequired"]),
        )

    async def get_application_assignment_configuration(
        self, inp: dict[str, Any], call: AdminCall
    ) -> dict[str, Any]:
        app = apps.get_application(await self._config(), inp["ApplicationArn"])
        return {"AssignmentRequired": app.assignment_required}

    # -- tags -----------------------------------------------------------------------------------------------------
    async def tag_resource(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        tags = tags_in(inp["Tags"])
        return await self._edit(
            call, inp, lambda c: apps.tag_resource(c, inp["ResourceArn"], tags, inp.get("InstanceArn"))
        )

    async def untag_resource(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        return await self._edit(
            call,
            inp,
            lambda c: apps.untag_resource(c, inp["ResourceArn"], inp["TagKeys"], inp.get("InstanceArn")),
        )

    async def list_tags_for_resource(self, inp: dict[str, Any], call: AdminCall) -> dict[str, Any]:
        tags = apps.resource_tags(await self._config(), inp["ResourceArn"], inp.get("InstanceArn"))
        chunk, nxt = page(list(tags.items()), lambda kv: kv[0], inp.get("NextToken"), None)
        return _listed("Tags", [{"Key": k, "Value": v} for k, v in chunk], nxt)

    def handlers(self) -> dict[str, Handler]:
        table: dict[str, Callable[[dict[str, Any], AdminCall], Awaitable[dict[str, Any]]]] = {
            "ListInstances": self.list_instances,
            "DescribeInstance": self.describe_instance,
            "CreateInstance": self.create_instance,
            "UpdateInstance": self.update_instance,
            "DeleteInstance": self.delete_instance,
            "CreateApplication": self.create_application,
            "DescribeApplication": self.describe_application,
            "ListApplications": self.list_applications,
            "UpdateApplication": self.update_application,
            "DeleteApplication": self.delete_application,
            "ListApplicationProviders": self.list_application_providers,
            "DescribeApplicationProvider": self.describe_application_provider,
            "PutApplicationGrant": self.put_application_grant,
            "GetApplicationGrant": self.get_application_grant,
            "ListApplicationGrants": self.list_application_grants,
            "DeleteApplicationGrant": self.delete_application_grant,
            "PutApplicationAuthenticationMethod": self.put_application_authentication_method,
            "GetApplicationAuthenticationMethod": self.get_application_authentication_method,
            "ListApplicationAuthenticationMethods": self.list_application_authentication_methods,
            "DeleteApplicationAuthenticationMethod": self.delete_application_authentication_method,
            "PutApplicationAccessScope": self.put_application_access_scope,
            "GetApplicationAccessScope": self.get_application_access_scope,
            "ListApplicationAccessScopes": self.list_application_access_scopes,
            "DeleteApplicationAccessScope": self.delete_application_access_scope,
            "CreateTrustedTokenIssuer": self.create_trusted_token_issuer,
            "DescribeTrustedTokenIssuer": self.describe_trusted_token_issuer,
            "UpdateTrustedTokenIssuer": self.update_trusted_token_issuer,
            "DeleteTrustedTokenIssuer": self.delete_trusted_token_issuer,
            "ListTrustedTokenIssuers": self.list_trusted_token_issuers,
            "CreateApplicationAssignment": self.create_application_assignment,
            "DescribeApplicationAssignment": self.describe_application_assignment,
            "DeleteApplicationAssignment": self.delete_application_assignment,
            "ListApplicationAssignments": self.list_application_assignments,
            "ListApplicationAssignmentsForPrincipal": self.list_application_assignments_for_principal,
            "PutApplicationAssignmentConfiguration": self.put_application_assignment_configuration,
            "GetApplicationAssignmentConfiguration": self.get_application_assignment_configuration,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }
        return table
