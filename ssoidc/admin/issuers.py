"""Trusted token issuers of the instance (sso-admin CreateTrustedTokenIssuer, DescribeTrustedTokenIssuer,
UpdateTrustedTokenIssuer, DeleteTrustedTokenIssuer, ListTrustedTokenIssuers). Pure functions ``Configuration -> Edit``.

* An issuer's URL is fixed at creation (the update shape has no IssuerUrl) and unique in the instance: two issuers
  with one URL would make the assertion's ``iss`` ambiguous, so a second one is a ``Conflict`` (``rules.check``).
* Deleting an issuer that a JWT-bearer grant still names is a ``Conflict`` naming the applications: the grant
  must be changed first (silently dropping the issuer could leave a grant with no issuer at all).
* ssoidc's own idToken issuer (``<base url>/<instance id>``, in any spelling: ``oauth.issuer.is_own_issuer``) is
  never a trusted token issuer: that would make ssoidc's idTokens assertions for itself (self-trust). Refused with
  ``ValidationFailed`` naming ``IssuerUrl`` (a ValidationException, as every modelled rule of CreateTrustedTokenIssuer).
* At most ``rules.MAX_ISSUERS`` (10) per instance (``ServiceQuotaExceeded``), names unique (``Conflict``): both
  are ``rules.check``'s, as are the tag limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ssoidc import ids
from ssoidc.admin.editor import Edit
from ssoidc.admin.instance import active_instance
from ssoidc.errors import Conflict, ResourceNotFound, ValidationFailed
from ssoidc.model import Configuration, JwtBearerGrantConfig, TrustedTokenIssuer
from ssoidc.oauth.issuer import is_own_issuer

ISSUER_URL_MEMBER = "TrustedTokenIssuerConfiguration.OidcJwtConfiguration.IssuerUrl"


def check_not_own(
    issuer_url: str, base_url: str, config: Configuration, member: str = ISSUER_URL_MEMBER
) -> None:
    """Refuse ssoidc's own idToken issuer, or an alias of it, as a trusted token issuer (self-trust)."""
    if is_own_issuer(issuer_url, base_url, (config.instance.instance_id,)):
        raise ValidationFailed(
            f"IssuerUrl names this server's own idToken issuer ({base_url}/<instance id>); ssoidc cannot trust"
            " the tokens it issues itself as assertions",
            member,
        )


def new_issuer_arn(config: Configuration) -> str:
    return ids.new_issuer_arn(config.instance.owner_account_id, config.instance.instance_id)


def get_issuer(config: Configuration, arn: str) -> TrustedTokenIssuer:
    for t in config.trusted_token_issuers:
        if t.arn == arn:
            return t
    raise ResourceNotFound(f"Trusted token issuer {arn} does not exist", "TRUSTED_TOKEN_ISSUER", arn)


def list_issuers(config: Configuration, instance_arn: str) -> tuple[TrustedTokenIssuer, ...]:
    active_instance(config, instance_arn)
    return config.trusted_token_issuers


def _put(config: Configuration, issuer: TrustedTokenIssuer) -> Configuration:
    items = [issuer if t.arn == issuer.arn else t for t in config.trusted_token_issuers]
    if not any(t.arn == issuer.arn for t in config.trusted_token_issuers):
        items.append(issuer)
    return replace(config, trusted_token_issuers=tuple(items))


def create_issuer(
    config: Configuration,
    *,
    instance_arn: str,
    name: str,
    issuer_url: str,
    claim_attribute_path: str,
    identity_store_attribute_path: str,
    tags: Mapping[str, str],
    base_url: str,
) -> Edit[TrustedTokenIssuer]:
    """A new issuer (the quota and the uniqueness of its name and URL: ``rules.check``); never one of ssoidc's own
    issuers at ``base_url`` (``check_not_own``)."""
    active_instance(config, instance_arn)
    check_not_own(issuer_url, base_url, config)
    issuer = TrustedTokenIssuer(
        arn=new_issuer_arn(config),
        name=name,
        issuer_url=issuer_url,
        claim_attribute_path=claim_attribute_path,
        identity_store_attribute_path=identity_store_attribute_path,
        tags=dict(tags),
    )
    return Edit(_put(config, issuer), issuer)


def update_issuer(
    config: Configuration,
    arn: str,
    *,
    name: str | None = None,
    claim_attribute_path: str | None = None,
    identity_store_attribute_path: str | None = None,
) -> Edit[TrustedTokenIssuer]:
    """Change the name or the claim mapping; the issuer URL never changes (it identifies the issuer). The revision
    moves on every update, so every node fetches the issuer's keys anew (a key replaced under the same ``kid``)."""
    issuer = get_issuer(config, arn)
    new = replace(
        issuer,
        revision=issuer.revision + 1,
        name=issuer.name if name is None else name,
        claim_attribute_path=issuer.claim_attribute_path
        if claim_attribute_path is None
        else claim_attribute_path,
        identity_store_attribute_path=(
            issuer.identity_store_attribute_path
            if identity_store_attribute_path is None
            else identity_store_attribute_path
        ),
    )
    return Edit(_put(config, new), new)


def referencing_applications(config: Configuration, arn: str) -> list[str]:
    """ARNs of the applications whose JWT-bearer grant names issuer ``arn``."""
    out = []
    for a in config.applications:
        for g in a.grants.values():
            if isinstance(g, JwtBearerGrantConfig) and any(
                i.trusted_token_issuer_arn == arn for i in g.authorized_token_issuers
            ):
                out.append(a.arn)
                break
    return out


def delete_issuer(config: Configuration, arn: str) -> Edit[None]:
    get_issuer(config, arn)
    users = referencing_applications(config, arn)
    if users:
        raise Conflict(
            f"Trusted token issuer {arn} is used by the JwtBearer grant of application(s) {', '.join(users)};"
            " remove it from those grants first"
        )
    return Edit(
        replace(config, trusted_token_issuers=tuple(t for t in config.trusted_token_issuers if t.arn != arn)),
        None,
    )
