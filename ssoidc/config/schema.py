"""The declarative configuration file (``ssoidc apply FILE``, ``serve --config FILE``).

Names mirror the sso-admin and identitystore shapes (``TrustedTokenIssuerConfiguration.OidcJwtConfiguration``,
``Grant.JwtBearer.AuthorizedTokenIssuers``, ``AuthenticationMethod.Iam.ActorPolicy``, ``Emails[].Value``...).
Unknown keys are errors, so a typo never passes silently; every error names the field path.
Every field of the domain model can be declared (``Tags``, ``CreatedDate``, ``PortalOptions``, the identity-store
user profile attributes of ``CreateUser``, group ``ExternalIds``), so ``ssoidc export`` writes a file that
reproduces the live configuration exactly. See docs/configuration.md for a complete example.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidatorFunctionWrapHandler,
    create_model,
    model_validator,
)

from ssoidc.admin.rules import MAX_TAGS
from ssoidc.aws.models import service_model
from ssoidc.oauth.grants.registry import GRANTS

_STRICT = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
INSTANCE_ARN = r"^arn:aws:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$"
APPLICATION_ARN = r"^arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso::\d{12}:application/(sso)?ins-[a-zA-Z0-9-.]{16}/apl-[a-zA-Z0-9]{16}$"
TTI_ARN = r"^arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso::\d{12}:trustedTokenIssuer/(sso)?ins-[a-zA-Z0-9-.]{16}/tti-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$"
SCOPE = r"^[A-Za-z0-9_]{1,50}(:[A-Za-z0-9_]{1,50}){0,2}$"
ID_UUID = r"^([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$"
TAG_TEXT = r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$"
"""sso-admin ``TagKey`` / ``TagValue`` pattern."""
APPLICATION_URL = r"^http(s)?://[-a-zA-Z0-9+&@#/%?=~_|!:,.;]*[-a-zA-Z0-9+&@#/%?=~_|]$"
PROFILE_TEXT = r"^[\p{L}\p{M}\p{S}\p{N}\p{P}\t\n\r \u00a0\u3000]+$"
"""identitystore ``SensitiveStringType`` pattern (every free-text profile attribute)."""

Timestamp = datetime | float
"""``CreatedDate``: epoch seconds (as on the wire) or an ISO 8601 date-time (naive means UTC)."""


class TagSpec(BaseModel):
    """sso-admin ``Tag``."""

    model_config = _STRICT
    Key: str = Field(min_length=1, max_length=128, pattern=TAG_TEXT)
    Value: str = Field(default="", max_length=256, pattern=TAG_TEXT)


def _tags() -> Any:
    """A Tag list: at most ``MAX_TAGS`` (50), the limit the admin API keeps (``ssoidc.admin.rules``)."""
    return Field(default_factory=list, max_length=MAX_TAGS)


def _model_pattern(service: str, shape: str) -> str:
    """The whole-value pattern of a string shape of the pinned model (AWS's validators match whole values)."""
    return f"^(?:{service_model(service).shape_for(shape).metadata['pattern']})$"


REGION_NAME = _model_pattern("sso-admin", "RegionName")
ACCESS_CONTROL_TEXT = _model_pattern("sso-admin", "AccessControlAttributeKey")
ACCESS_CONTROL_SOURCE = _model_pattern("sso-admin", "AccessControlAttributeValueSource")
IP_CIDR = _model_pattern("identitystore", "IpCidrType")


class RegionSpec(BaseModel):
    """sso-admin ``RegionMetadata`` of an additional region (AddRegion): recorded and listed only."""

    model_config = _STRICT
    RegionName: str = Field(max_length=32, pattern=REGION_NAME)
    AddedDate: Timestamp | None = None


class AccessControlAttributeValueSpec(BaseModel):
    model_config = _STRICT
    Source: list[Annotated[str, Field(max_length=256, pattern=ACCESS_CONTROL_SOURCE)]] = Field(
        min_length=1, max_length=1
    )


class AccessControlAttributeSpec(BaseModel):
    """sso-admin ``AccessControlAttribute``."""

    model_config = _STRICT
    Key: str = Field(min_length=1, max_length=128, pattern=ACCESS_CONTROL_TEXT)
    Value: AccessControlAttributeValueSpec


class InstanceAccessControlAttributeConfigurationSpec(BaseModel):
    model_config = _STRICT
    AccessControlAttributes: list[AccessControlAttributeSpec] = Field(max_length=50)


class IdentityStoreNetworkConfigurationSpec(BaseModel):
    """identitystore UpdateIdentityStore ``NetworkConfiguration``: ssoidc has no VPC endpoints, so
    ``VpceAccessRequired`` is false and there is no ``ApiRestrictSourceVpcs``; the exemption lists are kept."""

    model_config = _STRICT
    VpceAccessRequired: Literal[False] = False
    ApiAllowSourceIps: list[Annotated[str, Field(min_length=2, max_length=43, pattern=IP_CIDR)]] = Field(
        default_factory=list, max_length=50
    )
    ScimAllowSourceIps: list[Annotated[str, Field(min_length=2, max_length=43, pattern=IP_CIDR)]] = Field(
        default_factory=list, max_length=50
    )


class InstanceSpec(BaseModel):
    model_config = _STRICT
    Name: str = Field(default="ssoidc", min_length=1, max_length=255)
    InstanceArn: str | None = Field(default=None, pattern=INSTANCE_ARN)
    IdentityStoreId: str | None = Field(default=None, pattern=r"^d-[0-9a-f]{10}$")
    CreatedDate: Timestamp | None = None
    Tags: list[TagSpec] = _tags()
    Regions: list[RegionSpec] = Field(default_factory=list, max_length=16)
    """The additional regions (AddRegion); the primary one is the server's region, not listed."""
    InstanceAccessControlAttributeConfiguration: InstanceAccessControlAttributeConfigurationSpec | None = None
    IdentityStoreNetworkConfiguration: IdentityStoreNetworkConfigurationSpec | None = None


class OidcJwtConfiguration(BaseModel):
    model_config = _STRICT
    IssuerUrl: str = Field(pattern=r"^https?://.+$", max_length=512)
    ClaimAttributePath: str = Field(pattern=r"^\w+(?:(\.|_)\w+){0,2}$", max_length=255)
    IdentityStoreAttributePath: str = Field(pattern=r"^[A-Za-z]+(?:\.[A-Za-z:]+){0,2}$", max_length=255)
    JwksRetrievalOption: Literal["OPEN_ID_DISCOVERY"] = "OPEN_ID_DISCOVERY"


class TrustedTokenIssuerConfiguration(BaseModel):
    model_config = _STRICT
    OidcJwtConfiguration: OidcJwtConfiguration


Algorithm = Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]


def _default_algorithms() -> list[Algorithm]:
    return ["RS256"]


class TrustedTokenIssuerSpec(BaseModel):
    model_config = _STRICT
    Name: str = Field(pattern=r"^[\w+=,.@-]+$", max_length=255)
    TrustedTokenIssuerArn: str | None = Field(default=None, pattern=TTI_ARN)
    TrustedTokenIssuerType: Literal["OIDC_JWT"] = "OIDC_JWT"
    TrustedTokenIssuerConfiguration: TrustedTokenIssuerConfiguration
    AllowedAlgorithms: list[Algorithm] = Field(default_factory=_default_algorithms, min_length=1)
    """ssoidc extension: the signature algorithms accepted from this issuer (AWS documents RS256 only)."""
    AcceptUnverifiedEmail: bool = False
    """ssoidc extension: accept assertions mapped to a user by e-mail whose ``email_verified`` claim is not
    ``true`` (false or missing). Off by default (the "nOAuth" account takeover); see docs/configuration.md."""
    Tags: list[TagSpec] = _tags()


_UNION_MEMBERS: dict[str, Any] = {k.member: (k.file_spec | None, None) for k in GRANTS}
_GRANT_UNION: type[BaseModel] = create_model("GrantSpec", __config__=_STRICT, **_UNION_MEMBERS)
"""The ``Grant`` union's members: one optional member per row of ``GRANTS``, each with its row's schema."""


class GrantSpec(BaseModel):
    """The sso-admin ``Grant`` union: the members set (``ssoidc apply`` checks it is exactly the one the grant
    type takes). The members are those of the grant registry's rows, each validated by the row's ``file_spec``."""

    model_config = _STRICT
    members: dict[str, BaseModel]

    @model_validator(mode="wrap")
    @classmethod
    def _read(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> GrantSpec:
        if isinstance(data, GrantSpec):
            return data
        union = _GRANT_UNION.model_validate(data)
        members = {k: v for k in _GRANT_UNION.model_fields if (v := getattr(union, k)) is not None}
        return cls.model_construct(members=members)


if TYPE_CHECKING:
    GrantTypeName = str
else:
    GrantTypeName = Literal[GRANTS.uris]
"""A ``Grants`` key: a grant type of ``GRANTS``."""


class IamAuthenticationMethod(BaseModel):
    model_config = _STRICT
    ActorPolicy: dict[str, Any]


class AuthenticationMethodSpec(BaseModel):
    model_config = _STRICT
    Iam: IamAuthenticationMethod


class AccessScopeSpec(BaseModel):
    model_config = _STRICT
    Scope: str = Field(pattern=SCOPE)
    AuthorizedTargets: list[str] = Field(default_factory=list, max_length=10)
    """Application ARNs or Names in this file, or the instance ARN."""


class AssignmentSpec(BaseModel):
    model_config = _STRICT
    PrincipalType: Literal["USER", "GROUP"]
    PrincipalId: str = Field(min_length=1)
    """A user id or UserName (USER), a group id or DisplayName (GROUP)."""


class SignInOptionsSpec(BaseModel):
    model_config = _STRICT
    Origin: Literal["IDENTITY_CENTER", "APPLICATION"] = "IDENTITY_CENTER"
    ApplicationUrl: str | None = Field(default=None, min_length=1, max_length=512, pattern=APPLICATION_URL)


class PortalOptionsSpec(BaseModel):
    """sso-admin ``PortalOptions``."""

    model_config = _STRICT
    SignInOptions: SignInOptionsSpec = Field(default_factory=SignInOptionsSpec)
    Visibility: Literal["ENABLED", "DISABLED"] = "ENABLED"


class ApplicationSpec(BaseModel):
    model_config = _STRICT
    Name: str = Field(min_length=1, max_length=100)
    ApplicationArn: str | None = Field(default=None, pattern=APPLICATION_ARN)
    ApplicationProviderArn: str = Field(
        default="arn:aws:sso::aws:applicationProvider/custom",
        pattern=r"^arn:[\w+=/,.@-]+:sso::aws:applicationProvider/[a-zA-Z0-9-/]+$",
    )
    Description: str = Field(default="", max_length=128)
    Status: Literal["ENABLED", "DISABLED"] = "ENABLED"
    AssignmentRequired: bool = True
    Grants: dict[GrantTypeName, GrantSpec] = Field(default_factory=dict)
    AuthenticationMethods: dict[Literal["IAM"], AuthenticationMethodSpec] = Field(default_factory=dict)
    AccessScopes: list[AccessScopeSpec] = Field(default_factory=list, max_length=25)
    Assignments: list[AssignmentSpec] = Field(default_factory=list)
    CreatedDate: Timestamp | None = None
    PortalOptions: PortalOptionsSpec = Field(default_factory=PortalOptionsSpec)
    UserBackgroundSessionApplicationStatus: Literal["ENABLED", "DISABLED"] = "DISABLED"
    """sso-admin PutApplicationSessionConfiguration (recorded; ssoidc starts no background sessions)."""
    Tags: list[TagSpec] = _tags()


def _text() -> Any:
    return Field(default=None, min_length=1, max_length=1024, pattern=PROFILE_TEXT)


class NameSpec(BaseModel):
    """identitystore ``Name``. GivenName and FamilyName are modelled; the other members are profile attributes."""

    model_config = _STRICT
    GivenName: str = ""
    FamilyName: str = ""
    Formatted: str | None = _text()
    MiddleName: str | None = _text()
    HonorificPrefix: str | None = _text()
    HonorificSuffix: str | None = _text()


NAME_PROFILE_MEMBERS = ("Formatted", "MiddleName", "HonorificPrefix", "HonorificSuffix")


class EmailSpec(BaseModel):
    model_config = _STRICT
    Value: str = Field(default="", min_length=1, max_length=1024)
    """Optional, as in identitystore's ``Email`` (absent means no value); an empty string is an error."""
    Type: str = "work"
    Primary: bool = True


class ExternalIdSpec(BaseModel):
    model_config = _STRICT
    Issuer: str = Field(min_length=1, max_length=256)
    Id: str = Field(min_length=1, max_length=256)


class AddressSpec(BaseModel):
    """identitystore ``Address`` (kept verbatim: unset members stay unset)."""

    model_config = _STRICT
    StreetAddress: str | None = _text()
    Locality: str | None = _text()
    Region: str | None = _text()
    PostalCode: str | None = _text()
    Country: str | None = _text()
    Formatted: str | None = _text()
    Type: str | None = _text()
    Primary: bool | None = None


class PhoneNumberSpec(BaseModel):
    """identitystore ``PhoneNumber``; also the shape of ``Role``."""

    model_config = _STRICT
    Value: str | None = _text()
    Type: str | None = _text()
    Primary: bool | None = None


class PhotoSpec(BaseModel):
    model_config = _STRICT
    Value: str = Field(min_length=1, max_length=1024, pattern=PROFILE_TEXT)
    Type: str | None = _text()
    Display: str | None = _text()
    Primary: bool | None = None


class UserSpec(BaseModel):
    model_config = _STRICT
    UserName: str = Field(min_length=1, max_length=128)
    UserId: str | None = Field(default=None, pattern=ID_UUID)
    DisplayName: str = ""
    Name: NameSpec = Field(default_factory=NameSpec)
    Emails: list[EmailSpec] = Field(default_factory=list, max_length=1)
    ExternalIds: list[ExternalIdSpec] = Field(default_factory=list, max_length=10)
    # The further identitystore CreateUser attributes, kept verbatim in ``User.profile``:
    NickName: str | None = _text()
    ProfileUrl: str | None = _text()
    UserType: str | None = _text()
    Title: str | None = _text()
    PreferredLanguage: str | None = _text()
    Locale: str | None = _text()
    Timezone: str | None = _text()
    Website: str | None = _text()
    Birthdate: str | None = _text()
    Addresses: list[AddressSpec] | None = Field(default=None, min_length=1, max_length=1)
    PhoneNumbers: list[PhoneNumberSpec] | None = Field(default=None, min_length=1, max_length=1)
    Photos: list[PhotoSpec] | None = Field(default=None, min_length=1, max_length=3)
    Roles: list[PhoneNumberSpec] | None = Field(default=None, min_length=1, max_length=1)
    Extensions: dict[Annotated[str, Field(pattern=r"^aws:identitystore:[a-z]{1,20}$")], Any] | None = Field(
        default=None, min_length=1, max_length=10
    )


PROFILE_MEMBERS = (
    "NickName",
    "ProfileUrl",
    "UserType",
    "Title",
    "PreferredLanguage",
    "Locale",
    "Timezone",
    "Website",
    "Birthdate",
    "Addresses",
    "PhoneNumbers",
    "Photos",
    "Roles",
    "Extensions",
)
"""``UserSpec`` members stored in ``User.profile`` under the same name (plus ``Name`` for ``NAME_PROFILE_MEMBERS``)."""


class GroupSpec(BaseModel):
    model_config = _STRICT
    DisplayName: str = Field(min_length=1, max_length=1024)
    GroupId: str | None = Field(default=None, pattern=ID_UUID)
    Description: str = ""
    Members: list[str] = Field(default_factory=list)
    """User ids or UserNames."""
    ExternalIds: list[ExternalIdSpec] = Field(default_factory=list, max_length=10)


PERMISSION_SET_ARN = (
    r"^arn:aws(-[a-z]{1,5}){0,3}:sso:::permissionSet/(sso)?ins-[a-zA-Z0-9-.]{16}/ps-[a-zA-Z0-9-./]{16}$"
)
MANAGED_POLICY_ARN = (
    r"^arn:aws(-[a-z]{1,5}){0,3}:iam::aws:policy((/[A-Za-z0-9\.,\+@=_-]+)*)/([A-Za-z0-9\.,\+=@_-]+)$"
)
POLICY_NAME = r"^[\w+=,.@-]+$"
POLICY_PATH = r"^((/[A-Za-z0-9\.,\+@=_-]+)*)/$"


class AccountSpec(BaseModel):
    """An AWS account as the access portal names it (sso ``AccountInfo``): ssoidc emulates no accounts, any
    12-digit id may be assigned; an account not declared here is shown with its id as name (docs/permission-sets.md)."""

    model_config = _STRICT
    AccountId: str = Field(pattern=r"^\d{12}$")
    Name: str = Field(min_length=1, max_length=50)
    Email: str = Field(min_length=1, max_length=254)


class CustomerManagedPolicyReferenceSpec(BaseModel):
    """sso-admin ``CustomerManagedPolicyReference``."""

    model_config = _STRICT
    Name: str = Field(min_length=1, max_length=128, pattern=POLICY_NAME)
    Path: str = Field(default="/", min_length=1, max_length=512, pattern=POLICY_PATH)


class PermissionsBoundarySpec(BaseModel):
    """sso-admin ``PermissionsBoundary``: exactly one of the two members (``ssoidc apply`` checks it)."""

    model_config = _STRICT
    ManagedPolicyArn: str | None = Field(
        default=None, min_length=20, max_length=2048, pattern=MANAGED_POLICY_ARN
    )
    CustomerManagedPolicyReference: CustomerManagedPolicyReferenceSpec | None = None


class PermissionSetSpec(BaseModel):
    """sso-admin ``PermissionSet`` with what the Put/Attach operations give it."""

    model_config = _STRICT
    Name: str = Field(min_length=1, max_length=32, pattern=r"^[\w+=,.@-]+$")
    PermissionSetArn: str | None = Field(default=None, pattern=PERMISSION_SET_ARN)
    Description: str = Field(default="", max_length=700)
    SessionDuration: str = Field(default="PT1H", min_length=1, max_length=100)
    RelayState: str = Field(default="", max_length=240)
    CreatedDate: Timestamp | None = None
    InlinePolicy: dict[str, Any] | str | None = None
    """An IAM policy document: a mapping, or the JSON text PutInlinePolicyToPermissionSet takes."""
    ManagedPolicyArns: list[
        Annotated[str, Field(min_length=20, max_length=2048, pattern=MANAGED_POLICY_ARN)]
    ] = Field(default_factory=list, max_length=20)
    """AWS managed policy ARNs (AttachManagedPolicyToPermissionSet)."""
    CustomerManagedPolicyReferences: list[CustomerManagedPolicyReferenceSpec] = Field(
        default_factory=list, max_length=20
    )
    PermissionsBoundary: PermissionsBoundarySpec | None = None
    Tags: list[TagSpec] = _tags()


class AccountAssignmentSpec(BaseModel):
    """sso-admin CreateAccountAssignment's members."""

    model_config = _STRICT
    TargetId: str = Field(pattern=r"^\d{12}$")
    TargetType: Literal["AWS_ACCOUNT"] = "AWS_ACCOUNT"
    PermissionSetArn: str = Field(min_length=1)
    """A permission set ARN or Name in this file."""
    PrincipalType: Literal["USER", "GROUP"]
    PrincipalId: str = Field(min_length=1)
    """A user id or UserName (USER), a group id or DisplayName (GROUP)."""


ROLE_NAME = r"^[\w+=,.@-]+$"
"""IAM ``roleNameType``."""
ROLE_PATH = r"^(/|/[\u0021-\u007E]+/)$"
"""IAM ``pathType``: ``/`` or ``/segments/``."""


class RolePolicySpec(BaseModel):
    """An inline permission policy of a role (IAM ``PutRolePolicy``: ``PolicyName``, ``PolicyDocument``)."""

    model_config = _STRICT
    PolicyName: str = Field(min_length=1, max_length=128, pattern=POLICY_NAME)
    PolicyDocument: str | dict[str, Any]
    """A JSON policy document: a JSON string as IAM takes it (a repeated member name is refused), or a mapping."""


class RoleSpec(BaseModel):
    """An IAM role as IAM ``CreateRole`` takes it (docs/sts.md). ssoidc has no IAM API: roles come from the file."""

    model_config = _STRICT
    RoleName: str = Field(min_length=1, max_length=64, pattern=ROLE_NAME)
    Path: str = Field(default="/", min_length=1, max_length=512, pattern=ROLE_PATH)
    AssumeRolePolicyDocument: str | dict[str, Any]
    """The trust policy: a JSON string as IAM takes it (a repeated member name is refused), or a mapping."""
    MaxSessionDuration: int = Field(default=3600, ge=3600, le=43200)
    Description: str = Field(default="", max_length=1000)
    Policies: list[RolePolicySpec] = Field(default_factory=list, max_length=10)
    CreatedDate: Timestamp | None = None


class ConfigFile(BaseModel):
    model_config = _STRICT
    Instance: InstanceSpec = Field(default_factory=InstanceSpec)
    TrustedTokenIssuers: list[TrustedTokenIssuerSpec] = Field(default_factory=list, max_length=10)
    Applications: list[ApplicationSpec] = Field(default_factory=list)
    Users: list[UserSpec] = Field(default_factory=list)
    Groups: list[GroupSpec] = Field(default_factory=list)
    Accounts: list[AccountSpec] = Field(default_factory=list)
    PermissionSets: list[PermissionSetSpec] = Field(
        default_factory=list, max_length=2000
    )  # CreatePermissionSet's quota
    AccountAssignments: list[AccountAssignmentSpec] = Field(default_factory=list)
    Roles: list[RoleSpec] = Field(default_factory=list, max_length=100)
