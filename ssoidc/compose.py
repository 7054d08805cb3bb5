"""The composition root: builds one node's finished services from ``Settings`` (fosite's ``compose.Compose``).

``build_services`` opens the store (PostgreSQL if ``database_url`` is set, else SQLite in ``data_dir``), runs the
first-start work (``ssoidc.bootstrap``) unless a parent process already did, loads the idToken signing key, wires
every service by plain factories and takes the first configuration snapshot. What it returns is frozen and has
no optional members: nothing is half-built, and nobody asserts that a service exists.

The AWS services are assembled in ``build_skeleton``: each is one ``AwsService`` row (model name,
handler object, authorization); adding an operation is one handler method, adding a service one row here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ssoidc.admin.editor import ConfigEditor
from ssoidc.admin.paging import PageTokens
from ssoidc.aws import identitystore, oidc, sso, sso_admin, sts
from ssoidc.aws.admin_auth import AdminAuthorizer
from ssoidc.aws.faults import FaultPlan
from ssoidc.aws.sigv4 import Credential
from ssoidc.aws.skeleton import NO_STORE, AwsService, Skeleton
from ssoidc.bootstrap import ID_TOKEN_PURPOSE, bootstrap, demo_issuer_jwks
from ssoidc.clock import AdjustableClock, Clock, SystemClock
from ssoidc.credentials.authority import IdentityPolicies
from ssoidc.credentials.portal import Portal
from ssoidc.credentials.session import SessionCredentials
from ssoidc.crypto import load_or_create_master_key
from ssoidc.datadir import secure_data_dir
from ssoidc.iam.assume_role import RoleAssumer
from ssoidc.maintenance import Purger, Readiness
from ssoidc.model import Configuration
from ssoidc.oauth.authorize import CodeIssuer
from ssoidc.oauth.clients import ClientRegistry
from ssoidc.oauth.device import DeviceAuthorizations
from ssoidc.oauth.grants.base import GrantDeps
from ssoidc.oauth.grants.public import PublicGrantDeps
from ssoidc.oauth.grants.registry import GRANTS, PUBLIC_GRANTS
from ssoidc.oauth.introspection import TokenIntrospection
from ssoidc.oauth.issuer import TokenIssuer
from ssoidc.oauth.jwks import JwksCache, JwksSettings
from ssoidc.oauth.keys import Signer, load_signer
from ssoidc.oauth.public import PublicClients
from ssoidc.oauth.request import Caller, TokenRequest, TokenResult
from ssoidc.oauth.service import TokenService
from ssoidc.oauth.signin import SignInService, SignInSettings
from ssoidc.oauth.tokens import TokenMinter
from ssoidc.ratelimit import Limits, Rate, RequestLimits
from ssoidc.settings import Settings
from ssoidc.snapshot import SnapshotCache, issuer_changes
from ssoidc.storage.base import Store
from ssoidc.storage.sqlite import SqliteStore


def open_store(settings: Settings) -> tuple[Store, bytes]:
    """The store ``settings`` name: PostgreSQL if ``database_url`` is set (connects on first use), else SQLite.
    The data directory is made private first (``ssoidc.datadir``)."""
    secure_data_dir(settings.data_dir)
    master = load_or_create_master_key(settings.data_dir)
    if settings.database_url:
        from ssoidc.storage.postgres import PostgresStore

        return PostgresStore(settings.database_url, master_key=master), master
    return SqliteStore(settings.db_path, master_key=master, synchronous=settings.sqlite_synchronous), master


@dataclass(frozen=True, slots=True)
class Services:
    """Everything one node serves with, finished."""

    settings: Settings
    clock: Clock
    store: Store
    master_key: bytes
    minter: TokenMinter
    jwks: JwksCache
    """Trusted token issuers' keys (fetched, cached)."""
    snapshot: SnapshotCache
    signer: Signer
    jwks_document: Mapping[str, Any]
    """Our idToken keys, served at ``/<instance id>/.well-known/jwks.json``."""
    demo_jwks: Mapping[str, Any]
    token_service: TokenService
    create_token: oidc.TokenCall
    """CreateTokenWithIAM on the snapshot the current request refreshed (the skeleton refreshes first)."""
    signin: SignInService
    code_issuer: CodeIssuer
    public: PublicClients
    """RegisterClient, StartDeviceAuthorization, CreateToken, and the device page's decisions."""
    sessions: SessionCredentials
    """Session credentials: minted by GetRoleCredentials (and AssumeRole), found for SigV4 by access key id."""
    aws: Skeleton
    introspection: TokenIntrospection
    """RFC 7662 introspection and RFC 7009 revocation (``POST /introspect``, ``/revoke``)."""
    identity: IdentityPolicies
    """What each SigV4 credential may do (its identity-side policies): the one resolver every check uses."""
    readiness: Readiness
    purger: Purger
    faults: FaultPlan | None = None
    """The fault plan of a node started for testing (``Settings.testing``); None on every other node."""

    def start_background(self) -> None:
        """The store's own background work and the purge loop (needs a running event loop)."""
        self.store.start_background()
        self.purger.start()

    async def close(self) -> None:
        await self.purger.stop()
        await self.jwks.aclose()
        await self.store.close()


async def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: tuple[Store, bytes] | None = None,
    run_bootstrap: bool = True,
) -> Services:
    """Build a node's services. ``run_bootstrap=False`` in workers whose parent already did the first-start work;
    ``store`` is ``(store, master key)`` to build on a store the caller opened (tests)."""
    clock = clock or (AdjustableClock() if settings.testing else SystemClock())
    db, master_key = store if store is not None else open_store(settings)
    try:
        return await _build(settings, clock, db, master_key, run_bootstrap)
    except BaseException:
        await db.close()
        raise


async def _build(
    settings: Settings,
    clock: Clock,
    store: Store,
    master_key: bytes,
    run_bootstrap: bool,
) -> Services:
    if run_bootstrap:
        await bootstrap(store, settings, clock)
    demo_jwks = (
        await demo_issuer_jwks(store) if settings.demo or settings.testing else {"keys": []}
    )  # the key: made by bootstrap
    signer, keys = await load_signer(store, ID_TOKEN_PURPOSE, settings.id_token_alg, clock)
    sealed = settings.refresh_token_format == "sealed"  # noqa: S105 - a format name, not a secret
    minter = TokenMinter(master_key, sealed_refresh=sealed)
    jwks = JwksCache(
        JwksSettings(
            allow_insecure=settings.insecure_issuers_allowed,
            ttl_seconds=float(settings.jwks_ttl),
            min_refetch_interval_seconds=float(settings.jwks_min_refetch_interval),
        ),
        clock=clock,
    )

    def forget_keys(old: Configuration, new: Configuration) -> None:
        for url in issuer_changes(old, new):  # an issuer updated or deleted, through any node
            jwks.forget(url)

    snapshot = SnapshotCache(
        store,
        account_id=settings.account_id,
        directory_cache_size=settings.directory_cache_size,
        on_catalogue=forget_keys,
    )
    issuer = TokenIssuer(
        minter=minter,
        signer=signer,
        store=store,
        base_url=settings.base_url,
        access_ttl=settings.access_token_ttl,
        family_cap=settings.max_refresh_families,
    )
    limits = request_limits(settings)
    grant_deps = grant_deps_of(settings, issuer=issuer, minter=minter, store=store, jwks=jwks)
    token_service = TokenService(GRANTS.serve(grant_deps), limits=limits)
    public = PublicClients(
        registry=ClientRegistry(store, master_key, base_url=settings.base_url),
        devices=DeviceAuthorizations(store, master_key, base_url=settings.base_url),
        grants=PUBLIC_GRANTS,
        deps=PublicGrantDeps(grants=grant_deps, store=store),
        current=lambda: snapshot.current,
        now=clock.now,
    )
    signin = SignInService(
        store,
        SignInSettings(
            session_ttl=settings.web_session_ttl,
            lockout_threshold=settings.lockout_threshold,
            lockout_window=settings.lockout_window,
            lockout_seconds=settings.lockout_seconds,
        ),
    )
    code_issuer = CodeIssuer(
        store=store,
        code_ttl=settings.code_ttl,
        session_ttl=settings.session_ttl,
        default_scopes=settings.default_scopes,
    )

    async def create_token(req: TokenRequest, caller: Caller) -> TokenResult:
        return await token_service.create_token_with_iam(req, caller, snapshot.current, clock.now())

    sessions = SessionCredentials(
        store,
        now=clock.now,
        cache_size=settings.session_credentials_cache_size,
        max_ttl=settings.session_credentials_max_ttl,
    )
    faults = FaultPlan() if settings.testing else None
    identity = identity_policies(store, snapshot, sessions)
    aws = build_skeleton(
        settings,
        store,
        snapshot,
        clock,
        create_token,
        master_key,
        limits,
        public,
        sessions,
        minter,
        faults,
        identity,
    )
    introspection = TokenIntrospection(
        store=store,
        minter=minter,
        authorize=token_service.authorize_caller,
        issuer_url=issuer.issuer_url,
        limits=limits,
    )
    await snapshot.refresh()
    return Services(
        settings=settings,
        clock=clock,
        store=store,
        master_key=master_key,
        minter=minter,
        jwks=jwks,
        snapshot=snapshot,
        signer=signer,
        jwks_document={"keys": keys},
        demo_jwks=demo_jwks,
        token_service=token_service,
        create_token=create_token,
        signin=signin,
        code_issuer=code_issuer,
        public=public,
        sessions=sessions,
        aws=aws,
        introspection=introspection,
        identity=identity,
        readiness=Readiness(store),
        purger=Purger(store, clock),
        faults=faults,
    )


def identity_policies(
    store: Store, snapshot: SnapshotCache, sessions: SessionCredentials
) -> IdentityPolicies:
    """The node's one resolver of what a SigV4 credential may do (``ssoidc.credentials.authority``)."""
    return IdentityPolicies(
        identity_policy_of=snapshot.identity_policy_of,
        config_version=lambda: snapshot.version,
        is_long_term=lambda akid: snapshot.credential(akid) is not None,
        sessions=sessions,
        permission_sets=store,
        roles=lambda: snapshot.current.roles,
    )


def build_skeleton(
    settings: Settings,
    store: Store,
    snapshot: SnapshotCache,
    clock: Clock,
    create_token: oidc.TokenCall,
    master_key: bytes,
    limits: RequestLimits | None,
    public: PublicClients | None,
    sessions: SessionCredentials,
    minter: TokenMinter,
    faults: FaultPlan | None,
    identity: IdentityPolicies,
) -> Skeleton:
    """Every AWS service this node answers, one row each; operations without a handler answer
    NotImplementedException by name."""
    editor = ConfigEditor(store, snapshot.refresh, account_id=settings.account_id)
    authorize = AdminAuthorizer(account_id=settings.account_id, identity_of=identity.of)
    pages = PageTokens(master_key)
    services = [
        AwsService(
            oidc.SERVICE,
            oidc.SsoOidcApi(
                create_token=create_token,
                identity_of=identity.of,
                public=public,
                base_url=settings.base_url,
            ),
            constraints=False,
            response_headers=NO_STORE,
        ),
        AwsService(
            sso.SERVICE,
            sso.SsoPortalApi(
                Portal(
                    store=store,
                    minter=minter,  # access tokens' MAC: the master key alone
                    sessions=sessions,
                    catalogue=lambda: snapshot.current.config,
                    now=clock.now,
                ),
                pages=pages,
            ),
            response_headers=NO_STORE,  # role credentials: no cache may keep them
        ),
        AwsService(
            sso_admin.SERVICE,
            sso_admin.SsoAdminApi(
                editor,
                store,
                pages=pages,
                account_id=settings.account_id,
                region=settings.region,
                base_url=settings.base_url,
            ),
            authorize=authorize,
        ),
        AwsService(
            identitystore.SERVICE,
            identitystore.IdentityStoreApi(snapshot.refresh, store, pages=pages, editor=editor),
            authorize=authorize,
        ),
        AwsService(
            sts.SERVICE,
            sts.StsApi(
                assumer=RoleAssumer(minter.open_identity_context),
                sessions=sessions,
                current=lambda: snapshot.current,
                identity_of=identity.of,
            ),
        ),
    ]

    async def lookup_session(access_key_id: str) -> Credential | None:
        record = await sessions.find(access_key_id)
        if record is None:
            return None
        return Credential(
            record.access_key_id,
            record.secret_access_key,
            record.principal_arn,
            record.session_token_sha256,
            record.expires_at,
        )

    return Skeleton(
        services,
        lookup_credential=snapshot.credential,
        region=settings.region,
        max_skew_seconds=settings.sigv4_max_skew,
        now=clock.now,
        refresh=snapshot.refresh,
        allowed_hosts=settings.signed_hosts,
        limits=limits or request_limits(settings),
        faults=faults,
        signing_now=clock.wall if isinstance(clock, AdjustableClock) else clock.now,
        lookup_session=lookup_session,
    )


def request_limits(settings: Settings) -> RequestLimits:
    """This worker's request rate limits (``SSOIDC_RATE_LIMIT_*``; one set per process, docs/deployment.md)."""
    return RequestLimits(
        Limits(
            address=Rate(settings.rate_limit_address, settings.rate_limit_address_burst),
            principal=Rate(settings.rate_limit_principal, settings.rate_limit_principal_burst),
            application=Rate(settings.rate_limit_application, settings.rate_limit_application_burst),
            max_keys=settings.rate_limit_max_keys,
        )
    )


def grant_deps_of(
    settings: Settings,
    *,
    issuer: TokenIssuer,
    minter: TokenMinter,
    store: Store,
    jwks: JwksCache,
) -> GrantDeps:
    """What every grant handler factory is given."""
    return GrantDeps(
        issuer=issuer,
        minter=minter,
        store=store,
        keys=jwks,
        default_scopes=settings.default_scopes,
        session_ttl=settings.session_ttl,
        assertion_leeway=float(settings.assertion_leeway),
        assertion_max_lifetime=float(settings.assertion_max_lifetime),
        assertion_max_age=float(settings.assertion_max_age),
        refresh_grace_seconds=settings.refresh_grace_seconds,
    )
