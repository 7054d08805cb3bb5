"""Public-client registrations and their secrets (AWS SSO OIDC ``RegisterClient``; RFC 7591 sections 2 and 3.2).

* A registration is stored (client id, name, type, scopes, grant types, redirect URIs, issuer URL, entitled
  application, created/expiry) and lives ``REGISTRATION_TTL`` (90 days, as AWS: ``clientSecretExpiresAt``); the
  purge job deletes it when it expires. Registering is one insert: the AWS CLI re-registers often.
* The client secret is never stored. It is AES-256-GCM-SIV (``ssoidc.crypto.Sealer``, purpose ``client-secret``)
  over ``{client id, issued at, expires at}`` with the client id as associated data: opaque, unforgeable without
  the master key, bound to its registration and expiry. ``authenticate`` opens it and compares it with the stored
  registration; an expired registration is InvalidClientException.
* Validation (InvalidClientMetadataException, InvalidRedirectUriException, InvalidScopeException,
  UnsupportedGrantTypeException, InvalidRequestException): ``clientType`` must be ``public``; ``grantTypes`` a
  subset of the three public grants; ``redirectUris`` what a native public client may use
  (``ssoidc.oauth.redirect_uri.NATIVE``: https, loopback http matched on any port, private-use schemes); the
  ``authorization_code`` grant needs at least one; ``issuerUrl`` a start URL of this instance
  (``ssoidc.oauth.start_url``); ``entitledApplicationArn`` an application of this instance.
* Which grants a registration may use (``allowed_grants``): those it named; if it named none (what ``aws sso
  login`` with an ``sso-session`` sends), the device-code and authorization-code grants, and the refresh-token
  grant when it registered scopes. Refresh tokens are issued exactly when the refresh-token grant is allowed.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import orjson

from ssoidc.base64url import b64u, b64u_decode
from ssoidc.crypto import Sealer
from ssoidc.errors import (
    InvalidClient,
    InvalidClientMetadata,
    InvalidRedirectUri,
    InvalidRequest,
    InvalidScope,
    UnsupportedGrantType,
)
from ssoidc.model import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN,
    AccessScope,
    Application,
    AuthorizationCodeGrantConfig,
    ConfigSnapshot,
    RefreshTokenGrantConfig,
)
from ssoidc.oauth.redirect_uri import NATIVE, RedirectUriError, validate_redirect_uri
from ssoidc.oauth.request import public_client_owner
from ssoidc.oauth.start_url import is_start_url
from ssoidc.storage.base import AlreadyExists, ClientRecord, PublicClientStore

GRANT_DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
PUBLIC_GRANT_TYPES = (GRANT_AUTHORIZATION_CODE, GRANT_DEVICE_CODE, GRANT_REFRESH_TOKEN)
"""The ``grantTypes`` a public client may register (the RegisterClient documentation's three)."""
REGISTRATION_TTL = 90 * 86400
DEFAULT_PUBLIC_SCOPES = ("sso:account:access",)
"""The scopes of a token for a registration made without scopes."""
MAX_NAME = 256
MAX_SCOPES = 25
MAX_REDIRECT_URIS = 10
MAX_SECRET = 4096
_SCOPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*(?::[A-Za-z0-9_.\-*]+)*")
INVALID_CLIENT = "Invalid client provided"


@dataclass(frozen=True, slots=True)
class RegisterRequest:
    """A RegisterClient request after wire validation (snake_case)."""

    client_name: str
    client_type: str
    scopes: tuple[str, ...] | None = None
    redirect_uris: tuple[str, ...] | None = None
    grant_types: tuple[str, ...] | None = None
    issuer_url: str | None = None
    entitled_application_arn: str | None = None


@dataclass(frozen=True, slots=True)
class Registered:
    client: ClientRecord
    client_secret: str


def allowed_grants(client: ClientRecord) -> frozenset[str]:
    """The grant types this registration may use at CreateToken (see the module doc)."""
    if client.grant_types is not None:
        return frozenset(client.grant_types)
    out = {GRANT_DEVICE_CODE, GRANT_AUTHORIZATION_CODE}
    if client.scopes:
        out.add(GRANT_REFRESH_TOKEN)
    return frozenset(out)


def token_scopes(client: ClientRecord) -> tuple[str, ...]:
    return client.scopes or DEFAULT_PUBLIC_SCOPES


def client_application(client: ClientRecord, directory: ConfigSnapshot) -> Application:
    """The registration as the token machinery's owner of its tokens: the shared grant handlers (authorization
    code, refresh token with rotation and reuse detection) and ``TokenIssuer`` work on an ``Application``. Its ARN
    is ``client:<client id>`` (``public_client_owner``), never an application's; no assignment gate (AWS: a
    public client's token covers all of the user's entitlements); its access scopes are the registration's token
    scopes (what a refresh may keep); the refresh-token grant exactly when ``allowed_grants`` has it."""
    grants: dict[str, AuthorizationCodeGrantConfig | RefreshTokenGrantConfig] = {
        GRANT_AUTHORIZATION_CODE: AuthorizationCodeGrantConfig(client.redirect_uris)
    }
    if GRANT_REFRESH_TOKEN in allowed_grants(client):
        grants[GRANT_REFRESH_TOKEN] = RefreshTokenGrantConfig()
    return Application(
        arn=public_client_owner(client.client_id),
        name=client.client_name,
        instance_arn=directory.instance.instance_arn,
        grants=grants,
        access_scopes=tuple(AccessScope(s) for s in token_scopes(client)),
        assignment_required=False,
        created_at=client.created_at,
    )


class ClientRegistry:
    """RegisterClient and client authentication (clientId + clientSecret) for the public-client operations."""

    def __init__(self, store: PublicClientStore, master_key: bytes, *, base_url: str) -> None:
        self._store = store
        self._secrets = Sealer(master_key, "client-secret")
        self._base_url = base_url

    # -- RegisterClient ---------------------------------------------------------------------------------------
    def _validate(self, req: RegisterRequest, directory: ConfigSnapshot) -> ClientRecord:
        if req.client_type != "public":
            raise InvalidClientMetadata("clientType must be public: the service supports only public clients")
        name = req.client_name
        if not name or len(name) > MAX_NAME or not name.isprintable():
            raise InvalidClientMetadata(f"clientName must be 1 to {MAX_NAME} printable characters")
        scopes = tuple(dict.fromkeys(req.scopes or ()))
        if len(scopes) > MAX_SCOPES:
            raise InvalidScope(f"At most {MAX_SCOPES} scopes may be registered")
        for s in scopes:
            if len(s) > 256 or _SCOPE.fullmatch(s) is None:
                raise InvalidScope(f"Scope '{s[:100]}' is not a valid scope")
        grant_types: tuple[str, ...] | None = None
        if req.grant_types:
            grant_types = tuple(dict.fromkeys(req.grant_types))
            for g in grant_types:
                if g not in PUBLIC_GRANT_TYPES:
                    raise UnsupportedGrantType(
                        f"Unsupported grant type '{g[:100]}'; a public client may register "
                        + ", ".join(PUBLIC_GRANT_TYPES)
                    )
        uris = tuple(dict.fromkeys(req.redirect_uris or ()))
        if len(uris) > MAX_REDIRECT_URIS:
            raise InvalidRedirectUri(f"At most {MAX_REDIRECT_URIS} redirect URIs may be registered")
        for i, uri in enumerate(uris):
            try:
                validate_redirect_uri(uri, NATIVE)
            except RedirectUriError as exc:
                raise InvalidRedirectUri(f"redirectUris[{i}]: {exc}") from None
        if grant_types is not None and GRANT_AUTHORIZATION_CODE in grant_types and not uris:
            raise InvalidRedirectUri("redirectUris is required for the authorization_code grant")
        inst = directory.instance
        if req.issuer_url is not None and not is_start_url(
            req.issuer_url, identity_store_id=inst.identity_store_id, base_url=self._base_url
        ):
            raise InvalidRequest(
                "issuerUrl is not a start URL of this IAM Identity Center instance; use "
                f"https://{inst.identity_store_id}.awsapps.com/start"
            )
        arn = req.entitled_application_arn
        if arn is not None:
            app = directory.applications.get(arn)
            if app is None or app.instance_arn != inst.instance_arn:
                raise InvalidRequest("entitledApplicationArn does not name an application of this instance")
        return ClientRecord(
            client_id="",
            client_name=name,
            client_type="public",
            scopes=scopes,
            grant_types=grant_types,
            redirect_uris=uris,
            issuer_url=req.issuer_url,
            entitled_application_arn=arn,
            created_at=0.0,
            expires_at=0.0,
        )

    async def register(self, req: RegisterRequest, directory: ConfigSnapshot, now: float) -> Registered:
        """RegisterClient: validate, store the registration, answer it with its sealed secret."""
        if directory.instance.status != "ACTIVE":
            raise InvalidRequest("The IAM Identity Center instance is not active")
        draft = self._validate(req, directory)
        issued = float(int(now))
        for _ in range(3):
            client = ClientRecord(
                **{
                    **{f: getattr(draft, f) for f in ClientRecord.__dataclass_fields__},
                    "client_id": secrets.token_urlsafe(24),
                    "created_at": issued,
                    "expires_at": issued + REGISTRATION_TTL,
                }
            )
            try:
                await self._store.create_client(client)
            except AlreadyExists:
                continue
            return Registered(client, self._seal(client))
        raise RuntimeError("could not draw an unused client id")  # 192 random bits: never

    def _seal(self, client: ClientRecord) -> str:
        doc = orjson.dumps({"v": 1, "c": client.client_id, "i": client.created_at, "x": client.expires_at})
        return b64u(self._secrets.seal(doc, client.client_id.encode()))

    # -- authentication ---------------------------------------------------------------------------------------
    async def authenticate(self, client_id: str, client_secret: str, now: float) -> ClientRecord:
        """The registration ``client_id`` names if ``client_secret`` is its secret and it has not expired; else
        InvalidClient (the same words whichever check failed, and no store read for a forged secret)."""
        if (
            not client_id
            or len(client_id) > 128
            or not client_secret
            or len(client_secret) > MAX_SECRET
            or not client_secret.isascii()
        ):
            raise InvalidClient(INVALID_CLIENT)
        try:
            doc = orjson.loads(self._secrets.open(b64u_decode(client_secret), client_id.encode()))
        except (ValueError, TypeError, orjson.JSONDecodeError):
            raise InvalidClient(INVALID_CLIENT) from None
        if not isinstance(doc, dict) or doc.get("c") != client_id:
            raise InvalidClient(INVALID_CLIENT)
        client = await self._store.get_client(client_id)
        if client is None or doc.get("x") != client.expires_at or doc.get("i") != client.created_at:
            raise InvalidClient(INVALID_CLIENT)
        if client.expires_at <= now:
            raise InvalidClient(
                "The client registration has expired; register the client again (RegisterClient)"
            )
        return client

    async def find(self, client_id: str, now: float) -> ClientRecord | None:
        """The live registration ``client_id`` names (``/authorize``, the device page), without its secret."""
        if not client_id or len(client_id) > 128:
            return None
        client = await self._store.get_client(client_id)
        return client if client is not None and client.expires_at > now else None
