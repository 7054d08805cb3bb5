"""sso-admin (JSON 1.1, ``SWBExternalService.<Op>``, SigV4 ``sso``): wire shapes <-> ``ssoidc.admin``.

Each handler receives the validated input and returns the output, typed as the operation's input and output
shapes (``ssoidc.aws.shapes.sso_admin``, generated from the botocore ``sso-admin`` model); the entities are
converted by ``ssoidc.aws.mapping``. Reads use
the node's current configuration snapshot; writes go through ``ConfigEditor.run`` (compare-and-swap, optional
``ClientToken`` idempotency). Operations served (the methods of ``SsoAdminApi``, dispatched by ``ssoidc.aws.skeleton``):

* instances: ListInstances, DescribeInstance, CreateInstance, UpdateInstance, DeleteInstance; the instance's
  regions: AddRegion, DescribeRegion, ListRegions, RemoveRegion (the primary region is ``Settings.region``, the
  others are recorded and listed only); its attribute-based access control:
  Create/Describe/Update/DeleteInstanceAccessControlAttributeConfiguration (status ENABLED at once);
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
* session configuration: PutApplicationSessionConfiguration, GetApplicationSessionConfiguration (user background
  sessions: recorded, DISABLED by default);
* tags: TagResource, UntagResource, ListTagsForResource (the instance, applications, trusted token issuers, and
  permission sets);
* permission sets, provisioning and account assignments: the ``SsoAdminAccounts`` mixin
  (``ssoidc.aws.sso_admin_accounts``).

An operation whose model has no ResourceNotFoundException (ListApplications, ListTrustedTokenIssuers,
CreateTrustedTokenIssuer...) reports an unknown instance as ValidationException naming ``InstanceArn``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypedDict, TypeVar, cast

from ssoidc.admin import applications as apps
from ssoidc.admin import instance as inst
from ssoidc.admin import issuers as tti
from ssoidc.admin.editor import ClientToken, ConfigEditor, Edit, empty_answer
from ssoidc.admin.paging import PageTokens, fetch_page, next_page, page
from ssoidc.admin.permission_sets import AccessStore, is_permission_set_arn
from ssoidc.aws import mapping as m
from ssoidc.aws.shapes import sso_admin as sa
from ssoidc.aws.skeleton import Call
from ssoidc.aws.sso_admin_accounts import SsoAdminAccounts
from ssoidc.errors import ResourceNotFound, ValidationFailed
from ssoidc.iam.policy import PolicyError
from ssoidc.model import (
    Assignment,
    Configuration,
    GrantConfig,
    PrincipalType,
)
from ssoidc.oauth.grants.base import MemberReader
from ssoidc.oauth.grants.registry import GRANTS

SERVICE = "sso-admin"

ACTOR_POLICY_PATH = "AuthenticationMethod.Iam.ActorPolicy"
CUSTOM_PROVIDER_OUT: sa.ApplicationProvider = {
    "ApplicationProviderArn": apps.CUSTOM_PROVIDER,
    "FederationProtocol": "OAUTH",
    "DisplayData": {
        "DisplayName": "Custom OAuth 2.0 application",
        "Description": "An application that gets tokens from ssoidc with CreateTokenWithIAM",
    },
}


def _assignment_key(a: Assignment) -> tuple[str, PrincipalType, str]:
    return a.application_arn, a.principal_type, a.principal_id


class NoOutput(TypedDict):
    """The answer of an operation that has no output shape (PutApplicationGrant...): ``{}``."""


R = TypeVar("R", bound=Mapping[str, Any])


def grant_in(grant_type: str, grant: Mapping[str, Any]) -> GrantConfig:
    """The ``Grant`` union -> domain grant. Its one member must be the one ``grant_type`` takes."""
    kind = GRANTS.get(grant_type)
    assert kind is not None  # the model's GrantType enum is GRANTS.uris (tests/unit/oauth/test_service.py)
    if kind.member not in grant:
        raise ValidationFailed(
            f"Grant type {grant_type} takes a Grant with the {kind.member} member, not {', '.join(grant)}",
            "Grant",
        )
    config: GrantConfig = kind.from_wire(grant[kind.member], MemberReader(f"Grant.{kind.member}"))
    return config


class SsoAdminApi(SsoAdminAccounts):
    """The sso-admin handlers, bound to one node's editor."""

    def __init__(
        self,
        editor: ConfigEditor,
        store: AccessStore,
        *,
        pages: PageTokens,
        account_id: str,
        region: str,
        base_url: str = "",
    ) -> None:
        """``base_url``: this server's public base URL, whose idToken issuers are never trusted token issuers."""
        self.editor = editor
        self._store = store
        self._pages = pages
        self.account_id = account_id
        self.region = region
        self.base_url = base_url

    async def _config(self) -> Configuration:
        return (await self.editor.current()).config

    async def _write(
        self, call: Call, inp: Mapping[str, Any], change: Callable[[Configuration], Edit[R]]
    ) -> R:
        token = inp.get("ClientToken")
        ct = None
        if token:
            request = {k: v for k, v in inp.items() if k != "ClientToken"}
            ct = ClientToken(f"{call.service}:{call.operation}:{call.principal_arn}", token, request)
        return await self.editor.run(change, now=call.now, client_token=ct)

    async def _edit(
        self, call: Call, inp: Mapping[str, Any], edit: Callable[[Configuration], Edit[Any]]
    ) -> None:
        """A write whose answer is the empty output shape (the caller answers ``{}``)."""
        await self._write(call, inp, empty_answer(edit))

    # -- instances ----------------------------------------------------------------------------------------------
    async def list_instances(self, inp: sa.ListInstancesRequest, call: Call) -> sa.ListInstancesResponse:
        config = await self._config()
        items = [config.instance] if config.instance.status == "ACTIVE" else []
        chunk, nxt = page(
            items, lambda i: i.instance_arn, self._pages.cursor(call.operation, inp), inp.get("MaxResults")
        )
        # RegionScope CURRENT_REGION or ALL_REGIONS: the same one instance (ssoidc serves one region)
        return {
            "Instances": [m.instance_metadata_to_shape(i, inst.regions(i, self.region)) for i in chunk],
            **next_page(nxt),
        }

    async def describe_instance(
        self, inp: sa.DescribeInstanceRequest, call: Call
    ) -> sa.DescribeInstanceResponse:
        i = inst.active_instance(await self._config(), inp["InstanceArn"])
        return m.instance_to_shape(i, inst.regions(i, self.region))

    async def create_instance(self, inp: sa.CreateInstanceRequest, call: Call) -> sa.CreateInstanceResponse:
        tags = m.tags_from_shape(inp.get("Tags"))

        def change(c: Configuration) -> Edit[sa.CreateInstanceResponse]:
            e = inst.create_instance(
                c,
                name=inp.get("Name", "ssoidc"),
                tags=tags,
                account_id=self.account_id,
                now=call.now,
            )
            return Edit(e.config, {"InstanceArn": e.result.instance_arn}, e.revoke)

        return await self._write(call, inp, change)

    async def update_instance(self, inp: sa.UpdateInstanceRequest, call: Call) -> sa.UpdateInstanceResponse:
        network = inp.get("NetworkConfiguration")
        inst.check_update(
            permission_sets_enabled=inp.get("PermissionSetsEnabled"),
            vpce_access_required=None if network is None else network["VpceAccessRequired"],
            encryption="EncryptionConfiguration" in inp,
        )
        await self._edit(
            call, inp, lambda c: inst.update_instance(c, inp["InstanceArn"], name=inp.get("Name"))
        )
        return {}

    # -- the instance's regions -------------------------------------------------------------------------------
    async def add_region(self, inp: sa.AddRegionRequest, call: Call) -> sa.AddRegionResponse:
        await self._edit(
            call,
            inp,
            lambda c: inst.add_region(
                c, inp["InstanceArn"], inp["RegionName"], primary=self.region, now=call.now
            ),
        )
        return {"Status": "ACTIVE"}  # nothing to replicate: the region is recorded at once

    async def describe_region(self, inp: sa.DescribeRegionRequest, call: Call) -> sa.DescribeRegionResponse:
        r, primary = inst.get_region(
            await self._config(), inp["InstanceArn"], inp["RegionName"], primary=self.region
        )
        return {**m.region_to_shape(r, primary)}

    async def list_regions(self, inp: sa.ListRegionsRequest, call: Call) -> sa.ListRegionsResponse:
        i = inst.active_instance(await self._config(), inp["InstanceArn"])
        chunk, nxt = page(
            inst.regions(i, self.region),
            lambda rp: rp[0].name,
            self._pages.cursor(call.operation, inp),
            inp.get("MaxResults"),
        )
        return {"Regions": [m.region_to_shape(r, p) for r, p in chunk], **next_page(nxt)}

    async def remove_region(self, inp: sa.RemoveRegionRequest, call: Call) -> sa.RemoveRegionResponse:
        await self._edit(
            call,
            inp,
            lambda c: inst.remove_region(c, inp["InstanceArn"], inp["RegionName"], primary=self.region),
        )
        return {"Status": "REMOVING"}  # AWS's answer; the record is already gone (DescribeRegion: not found)

    # -- the instance's attribute-based access control --------------------------------------------------------
    async def create_instance_access_control_attribute_configuration(
        self, inp: sa.CreateInstanceAccessControlAttributeConfigurationRequest, call: Call
    ) -> sa.CreateInstanceAccessControlAttributeConfigurationResponse:
        attributes = m.access_control_attributes_from_shape(
            inp["InstanceAccessControlAttributeConfiguration"]
        )
        await self._edit(
            call,
            inp,
            lambda c: inst.put_access_control_attributes(c, inp["InstanceArn"], attributes, create=True),
        )
        return {}

    async def describe_instance_access_control_attribute_configuration(
        self, inp: sa.DescribeInstanceAccessControlAttributeConfigurationRequest, call: Call
    ) -> sa.DescribeInstanceAccessControlAttributeConfigurationResponse:
        attributes = inst.access_control_attributes(await self._config(), inp["InstanceArn"])
        return {
            "Status": "ENABLED",
            "InstanceAccessControlAttributeConfiguration": m.access_control_attributes_to_shape(attributes),
        }

    async def update_instance_access_control_attribute_configuration(
        self, inp: sa.UpdateInstanceAccessControlAttributeConfigurationRequest, call: Call
    ) -> sa.UpdateInstanceAccessControlAttributeConfigurationResponse:
        attributes = m.access_control_attributes_from_shape(
            inp["InstanceAccessControlAttributeConfiguration"]
        )
        await self._edit(
            call,
            inp,
            lambda c: inst.put_access_control_attributes(c, inp["InstanceArn"], attributes, create=False),
        )
        return {}

    async def delete_instance_access_control_attribute_configuration(
        self, inp: sa.DeleteInstanceAccessControlAttributeConfigurationRequest, call: Call
    ) -> sa.DeleteInstanceAccessControlAttributeConfigurationResponse:
        await self._edit(call, inp, lambda c: inst.delete_access_control_attributes(c, inp["InstanceArn"]))
        return {}

    async def delete_instance(self, inp: sa.DeleteInstanceRequest, call: Call) -> sa.DeleteInstanceResponse:
        await self._edit(call, inp, lambda c: inst.delete_instance(c, inp["InstanceArn"]))
        return {}

    # -- applications -------------------------------------------------------------------------------------------
    async def create_application(
        self, inp: sa.CreateApplicationRequest, call: Call
    ) -> sa.CreateApplicationResponse:
        a = m.application_from_shape(inp)

        def change(c: Configuration) -> Edit[sa.CreateApplicationResponse]:
            e = apps.create_application(
                c,
                instance_arn=a.instance_arn,
                provider_arn=a.provider_arn,
                name=a.name,
                description=a.description,
                status=a.status,
                tags=a.tags,
                portal_visibility=a.portal_visibility,
                sign_in_origin=a.sign_in_origin,
                application_url=a.application_url,
                now=call.now,
            )
            out: sa.CreateApplicationResponse = {
                "ApplicationArn": e.result.arn,
                "InstanceArn": c.instance.instance_arn,
                "IdentityStoreArn": c.instance.identity_store_arn,
            }
            return Edit(e.config, out, e.revoke)

        return await self._write(call, inp, change)

    async def describe_application(
        self, inp: sa.DescribeApplicationRequest, call: Call
    ) -> sa.DescribeApplicationResponse:
        config = await self._config()
        return m.application_to_shape(
            apps.get_application(config, inp["ApplicationArn"]), config, self.region
        )

    async def list_applications(
        self, inp: sa.ListApplicationsRequest, call: Call
    ) -> sa.ListApplicationsResponse:
        config = await self._config()
        inst.active_instance(config, inp["InstanceArn"])
        filt = inp.get("Filter", {})
        account = filt.get("ApplicationAccount")
        provider = filt.get("ApplicationProvider")
        items = [
            a
            for a in config.applications
            if (not provider or a.provider_arn == provider)
            and (not account or account == config.instance.owner_account_id)
        ]
        chunk, nxt = page(
            items, lambda a: a.arn, self._pages.cursor(call.operation, inp), inp.get("MaxResults"), default=50
        )
        return {
            "Applications": [m.application_to_shape(a, config, self.region) for a in chunk],
            **next_page(nxt),
        }

    async def update_application(
        self, inp: sa.UpdateApplicationRequest, call: Call
    ) -> sa.UpdateApplicationResponse:
        sign_in = inp.get("PortalOptions", {}).get("SignInOptions")
        await self._edit(
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
        return {}

    async def delete_application(
        self, inp: sa.DeleteApplicationRequest, call: Call
    ) -> sa.DeleteApplicationResponse:
        await self._edit(call, inp, lambda c: apps.delete_application(c, inp["ApplicationArn"]))
        return {}

    # -- application providers ------------------------------------------------------------------------------------
    async def list_application_providers(
        self, inp: sa.ListApplicationProvidersRequest, call: Call
    ) -> sa.ListApplicationProvidersResponse:
        chunk, nxt = page(
            [CUSTOM_PROVIDER_OUT],
            lambda p: p["ApplicationProviderArn"],
            self._pages.cursor(call.operation, inp),
            inp.get("MaxResults"),
        )
        return {"ApplicationProviders": chunk, **next_page(nxt)}

    async def describe_application_provider(
        self, inp: sa.DescribeApplicationProviderRequest, call: Call
    ) -> sa.DescribeApplicationProviderResponse:
        arn = inp["ApplicationProviderArn"]
        if arn != apps.CUSTOM_PROVIDER:
            raise ResourceNotFound(
                f"Application provider {arn} does not exist (ssoidc serves the custom provider)",
                "APPLICATION_PROVIDER",
                arn,
            )
        return {**CUSTOM_PROVIDER_OUT}

    # -- grants (the Grant union is mapped by grant_in / GRANTS.union_of) -------------------------------------------
    async def put_application_grant(self, inp: sa.PutApplicationGrantRequest, call: Call) -> NoOutput:
        grant = grant_in(inp["GrantType"], inp["Grant"])
        await self._edit(
            call, inp, lambda c: apps.put_grant(c, inp["ApplicationArn"], inp["GrantType"], grant)
        )
        return {}

    async def get_application_grant(
        self, inp: sa.GetApplicationGrantRequest, call: Call
    ) -> sa.GetApplicationGrantResponse:
        grant = apps.get_grant(await self._config(), inp["ApplicationArn"], inp["GrantType"])
        return {"Grant": cast(sa.Grant, GRANTS.union_of(grant))}

    async def list_application_grants(
        self, inp: sa.ListApplicationGrantsRequest, call: Call
    ) -> sa.ListApplicationGrantsResponse:
        app = apps.get_application(await self._config(), inp["ApplicationArn"])
        chunk, nxt = page(
            list(app.grants.items()), lambda kv: kv[0], self._pages.cursor(call.operation, inp), None
        )
        items: list[sa.GrantItem] = [
            {"GrantType": cast(sa.GrantType, k), "Grant": cast(sa.Grant, GRANTS.union_of(g))}
            for k, g in chunk
        ]
        return {"Grants": items, **next_page(nxt)}

    async def delete_application_grant(self, inp: sa.DeleteApplicationGrantRequest, call: Call) -> NoOutput:
        await self._edit(call, inp, lambda c: apps.delete_grant(c, inp["ApplicationArn"], inp["GrantType"]))
        return {}

    # -- authentication methods (IAM ActorPolicy) -----------------------------------------------------------------
    async def put_application_authentication_method(
        self, inp: sa.PutApplicationAuthenticationMethodRequest, call: Call
    ) -> NoOutput:
        policy = m.authentication_method_from_shape(inp["AuthenticationMethod"])
        try:
            await self._edit(call, inp, lambda c: apps.put_actor_policy(c, inp["ApplicationArn"], policy))
        except PolicyError as exc:
            path = f"{ACTOR_POLICY_PATH}.{exc.path}" if exc.path else ACTOR_POLICY_PATH
            raise ValidationFailed.at(path, exc.message) from None
        return {}

    async def get_application_authentication_method(
        self, inp: sa.GetApplicationAuthenticationMethodRequest, call: Call
    ) -> sa.GetApplicationAuthenticationMethodResponse:
        policy = apps.get_actor_policy(await self._config(), inp["ApplicationArn"])
        return {"AuthenticationMethod": m.authentication_method_to_shape(policy)}

    async def list_application_authentication_methods(
        self, inp: sa.ListApplicationAuthenticationMethodsRequest, call: Call
    ) -> sa.ListApplicationAuthenticationMethodsResponse:
        app = apps.get_application(await self._config(), inp["ApplicationArn"])
        items = [] if app.actor_policy is None else [app.actor_policy]
        chunk, nxt = page(items, lambda _: "IAM", self._pages.cursor(call.operation, inp), None)
        methods: list[sa.AuthenticationMethodItem] = [
            {"AuthenticationMethodType": "IAM", "AuthenticationMethod": m.authentication_method_to_shape(p)}
            for p in chunk
        ]
        return {"AuthenticationMethods": methods, **next_page(nxt)}

    async def delete_application_authentication_method(
        self, inp: sa.DeleteApplicationAuthenticationMethodRequest, call: Call
    ) -> NoOutput:
        await self._edit(call, inp, lambda c: apps.delete_actor_policy(c, inp["ApplicationArn"]))
        return {}

    # -- access scopes --------------------------------------------------------------------------------------------
    async def put_application_access_scope(
        self, inp: sa.PutApplicationAccessScopeRequest, call: Call
    ) -> NoOutput:
        s = m.access_scope_from_shape(inp)
        await self._edit(
            call,
            inp,
            lambda c: apps.put_access_scope(c, inp["ApplicationArn"], s.scope, s.authorized_targets),
        )
        return {}

    async def get_application_access_scope(
        self, inp: sa.GetApplicationAccessScopeRequest, call: Call
    ) -> sa.GetApplicationAccessScopeResponse:
        scope = apps.get_access_scope(await self._config(), inp["ApplicationArn"], inp["Scope"])
        return {**m.access_scope_to_shape(scope)}

    async def list_application_access_scopes(
        self, inp: sa.ListApplicationAccessScopesRequest, call: Call
    ) -> sa.ListApplicationAccessScopesResponse:
        app = apps.get_application(await self._config(), inp["ApplicationArn"])
        chunk, nxt = page(
            app.access_scopes,
            lambda s: s.scope,
            self._pages.cursor(call.operation, inp),
            inp.get("MaxResults"),
            default=10,
        )
        return {"Scopes": [m.access_scope_to_shape(s) for s in chunk], **next_page(nxt)}

    async def delete_application_access_scope(
        self, inp: sa.DeleteApplicationAccessScopeRequest, call: Call
    ) -> NoOutput:
        await self._edit(
            call, inp, lambda c: apps.delete_access_scope(c, inp["ApplicationArn"], inp["Scope"])
        )
        return {}

    # -- trusted token issuers ------------------------------------------------------------------------------------
    async def create_trusted_token_issuer(
        self, inp: sa.CreateTrustedTokenIssuerRequest, call: Call
    ) -> sa.CreateTrustedTokenIssuerResponse:
        t = m.trusted_token_issuer_from_shape(inp["Name"], inp["TrustedTokenIssuerConfiguration"])
        tags = m.tags_from_shape(inp.get("Tags"))

        def change(c: Configuration) -> Edit[sa.CreateTrustedTokenIssuerResponse]:
            e = tti.create_issuer(
                c,
                instance_arn=inp["InstanceArn"],
                name=t.name,
                issuer_url=t.issuer_url,
                claim_attribute_path=t.claim_attribute_path,
                identity_store_attribute_path=t.identity_store_attribute_path,
                tags=tags,
                base_url=self.base_url,
            )
            return Edit(e.config, {"TrustedTokenIssuerArn": e.result.arn}, e.revoke)

        return await self._write(call, inp, change)

    async def describe_trusted_token_issuer(
        self, inp: sa.DescribeTrustedTokenIssuerRequest, call: Call
    ) -> sa.DescribeTrustedTokenIssuerResponse:
        return m.trusted_token_issuer_to_shape(
            tti.get_issuer(await self._config(), inp["TrustedTokenIssuerArn"])
        )

    async def update_trusted_token_issuer(
        self, inp: sa.UpdateTrustedTokenIssuerRequest, call: Call
    ) -> sa.UpdateTrustedTokenIssuerResponse:
        oidc = inp.get("TrustedTokenIssuerConfiguration", {}).get("OidcJwtConfiguration", {})
        await self._edit(
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
        return {}

    async def delete_trusted_token_issuer(
        self, inp: sa.DeleteTrustedTokenIssuerRequest, call: Call
    ) -> sa.DeleteTrustedTokenIssuerResponse:
        await self._edit(call, inp, lambda c: tti.delete_issuer(c, inp["TrustedTokenIssuerArn"]))
        return {}

    async def list_trusted_token_issuers(
        self, inp: sa.ListTrustedTokenIssuersRequest, call: Call
    ) -> sa.ListTrustedTokenIssuersResponse:
        items = tti.list_issuers(await self._config(), inp["InstanceArn"])
        chunk, nxt = page(
            items, lambda t: t.arn, self._pages.cursor(call.operation, inp), inp.get("MaxResults")
        )
        return {"TrustedTokenIssuers": [m.trusted_token_issuer_metadata(t) for t in chunk], **next_page(nxt)}

    # -- assignments ----------------------------------------------------------------------------------------------
    async def create_application_assignment(
        self, inp: sa.CreateApplicationAssignmentRequest, call: Call
    ) -> sa.CreateApplicationAssignmentResponse:
        a = m.assignment_from_shape(inp)
        await apps.create_assignment(self._store, await self._config(), *_assignment_key(a))
        return {}

    async def describe_application_assignment(
        self, inp: sa.DescribeApplicationAssignmentRequest, call: Call
    ) -> sa.DescribeApplicationAssignmentResponse:
        asg = await apps.get_assignment(
            self._store, await self._config(), inp["ApplicationArn"], inp["PrincipalType"], inp["PrincipalId"]
        )
        return {**m.assignment_to_shape(asg)}

    async def delete_application_assignment(
        self, inp: sa.DeleteApplicationAssignmentRequest, call: Call
    ) -> sa.DeleteApplicationAssignmentResponse:
        a = m.assignment_from_shape(inp)
        await apps.delete_assignment(self._store, await self._config(), *_assignment_key(a))
        return {}

    async def list_application_assignments(
        self, inp: sa.ListApplicationAssignmentsRequest, call: Call
    ) -> sa.ListApplicationAssignmentsResponse:
        arn = inp["ApplicationArn"]
        apps.get_application(await self._config(), arn)

        async def fetch(after: str, limit: int) -> list[Assignment]:
            return await self._store.list_assignments(application_arn=arn, after=after, limit=limit)

        chunk, nxt = await fetch_page(
            fetch,
            lambda a: f"{a.principal_type}/{a.principal_id}",
            self._pages.cursor(call.operation, inp),
            inp.get("MaxResults"),
        )
        return {"ApplicationAssignments": [m.assignment_to_shape(a) for a in chunk], **next_page(nxt)}

    async def list_application_assignments_for_principal(
        self, inp: sa.ListApplicationAssignmentsForPrincipalRequest, call: Call
    ) -> sa.ListApplicationAssignmentsForPrincipalResponse:
        inst.active_instance(await self._config(), inp["InstanceArn"])
        principal_type, principal_id = inp["PrincipalType"], inp["PrincipalId"]
        await apps.check_principal(self._store, principal_type, principal_id)
        only_app = inp.get("Filter", {}).get("ApplicationArn")

        async def fetch(after: str, limit: int) -> list[Assignment]:
            if only_app is not None:  # the principal's assignment to one application, if any
                asg = Assignment(only_app, principal_type, principal_id)
                return [asg] if only_app > after and await self._store.has_assignment(asg) else []
            return await self._store.list_assignments(
                principal=(principal_type, principal_id), after=after, limit=limit
            )

        chunk, nxt = await fetch_page(
            fetch, lambda a: a.application_arn, self._pages.cursor(call.operation, inp), inp.get("MaxResults")
        )
        return {
            "ApplicationAssignments": [m.principal_assignment_to_shape(a) for a in chunk],
            **next_page(nxt),
        }

    async def put_application_assignment_configuration(
        self, inp: sa.PutApplicationAssignmentConfigurationRequest, call: Call
    ) -> sa.PutApplicationAssignmentConfigurationResponse:
        await self._edit(
            call,
            inp,
            lambda c: apps.set_assignment_required(c, inp["ApplicationArn"], inp["AssignmentRequired"]),
        )
        return {}

    async def get_application_assignment_configuration(
        self, inp: sa.GetApplicationAssignmentConfigurationRequest, call: Call
    ) -> sa.GetApplicationAssignmentConfigurationResponse:
        app = apps.get_application(await self._config(), inp["ApplicationArn"])
        return {"AssignmentRequired": app.assignment_required}

    # -- session configuration --------------------------------------------------------------------------------
    async def put_application_session_configuration(
        self, inp: sa.PutApplicationSessionConfigurationRequest, call: Call
    ) -> sa.PutApplicationSessionConfigurationResponse:
        status = inp.get("UserBackgroundSessionApplicationStatus")
        if status is None:  # nothing to change (the member is optional); the application must exist
            apps.get_application(await self._config(), inp["ApplicationArn"])
            return {}
        await self._edit(
            call,
            inp,
            lambda c: apps.set_background_sessions(c, inp["ApplicationArn"], status == "ENABLED"),
        )
        return {}

    async def get_application_session_configuration(
        self, inp: sa.GetApplicationSessionConfigurationRequest, call: Call
    ) -> sa.GetApplicationSessionConfigurationResponse:
        app = apps.get_application(await self._config(), inp["ApplicationArn"])
        return {
            "UserBackgroundSessionApplicationStatus": "ENABLED"
            if app.user_background_sessions
            else "DISABLED"
        }

    # -- tags -----------------------------------------------------------------------------------------------------
    async def tag_resource(self, inp: sa.TagResourceRequest, call: Call) -> sa.TagResourceResponse:
        tags = m.tags_from_shape(inp["Tags"])
        if is_permission_set_arn(inp["ResourceArn"]):
            await self._tag_permission_set(inp.get("InstanceArn"), inp["ResourceArn"], tags)
            return {}
        await self._edit(
            call, inp, lambda c: apps.tag_resource(c, inp["ResourceArn"], tags, inp.get("InstanceArn"))
        )
        return {}

    async def untag_resource(self, inp: sa.UntagResourceRequest, call: Call) -> sa.UntagResourceResponse:
        if is_permission_set_arn(inp["ResourceArn"]):
            await self._untag_permission_set(inp.get("InstanceArn"), inp["ResourceArn"], inp["TagKeys"])
            return {}
        await self._edit(
            call,
            inp,
            lambda c: apps.untag_resource(c, inp["ResourceArn"], inp["TagKeys"], inp.get("InstanceArn")),
        )
        return {}

    async def list_tags_for_resource(
        self, inp: sa.ListTagsForResourceRequest, call: Call
    ) -> sa.ListTagsForResourceResponse:
        if is_permission_set_arn(inp["ResourceArn"]):
            tags = await self._permission_set_tags(inp.get("InstanceArn"), inp["ResourceArn"])
        else:
            tags = apps.resource_tags(await self._config(), inp["ResourceArn"], inp.get("InstanceArn"))
        chunk, nxt = page(
            m.tags_to_shape(tags), lambda t: t["Key"], self._pages.cursor(call.operation, inp), None
        )
        return {"Tags": chunk, **next_page(nxt)}
