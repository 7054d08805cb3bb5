"""Turn a declarative configuration file into the domain ``Configuration`` (``ssoidc apply``).

The file is validated whole before anything is written: schema errors and cross-reference errors are all
collected, each naming its field path, and an invalid file changes nothing. Identifiers that the file does not
pin (instance ARN, application ARNs, user and group ids...) are generated once and then kept: entities are
matched to the stored configuration by name, so re-applying the same file is a no-op and tokens stay valid.
The file is declarative: what it does not list is removed. ``ssoidc.config.export`` writes the inverse: a file
that resolves back to exactly the configuration it was written from.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson
import yaml
from pydantic import ValidationError

from ssoidc.admin.issuers import check_not_own
from ssoidc.admin.permission_sets import (
    MAX_MANAGED_POLICIES,
    check_boundary,
    check_session_duration,
    parse_inline_policy,
)
from ssoidc.admin.rules import check as check_rules
from ssoidc.aws.mapping import (
    access_scope_from_shape,
    application_from_shape,
    authentication_method_from_shape,
    group_from_shape,
    trusted_token_issuer_from_shape,
    user_from_shape,
)
from ssoidc.aws.shapes import sso_admin as sa
from ssoidc.config.schema import (
    ConfigFile,
    RoleSpec,
    TagSpec,
)
from ssoidc.errors import AdminError, ConfigError, ValidationFailed
from ssoidc.iam.policy import Policy, PolicyError
from ssoidc.iam.roles import policy_document
from ssoidc.ids import (
    new_application_arn,
    new_directory_id,
    new_identity_store_id,
    new_instance_arn,
    new_issuer_arn,
    new_permission_set_arn,
    role_arn,
    unique_id,
)
from ssoidc.model import (
    AccessControlAttribute,
    Account,
    AccountAssignment,
    Application,
    Assignment,
    Configuration,
    CustomerManagedPolicyReference,
    GrantConfig,
    Group,
    Instance,
    PermissionsBoundary,
    PermissionSet,
    Region,
    Role,
    TrustedTokenIssuer,
    User,
)
from ssoidc.oauth.grants.base import MemberReader
from ssoidc.oauth.grants.registry import GRANTS
from ssoidc.storage.base import ConfigStore, VersionConflict


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""PyYAML's safe loader, in C (libyaml) when the wheel has it: ten times faster on a directory-sized file."""


def parse_file(text: str, source: str = "config") -> ConfigFile:
    """Parse and validate a configuration file."""
    try:
        raw = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (libyaml when present)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    try:
        return ConfigFile.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_loc(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(problems)) from None


def load_file(path: Path) -> ConfigFile:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_file(text, str(path))


def epoch(value: datetime | float) -> float:
    """A ``CreatedDate`` as epoch seconds (a naive date-time is UTC)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


def _tags(tags: list[TagSpec], where: str, problems: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, t in enumerate(tags):
        if t.Key in out:
            problems.append(f"{where}.Tags[{i}].Key: duplicate tag key {t.Key!r}")
        out[t.Key] = t.Value
    return out


def _instance_settings(
    spec: ConfigFile, current: Instance | None, now: float, problems: list[str]
) -> dict[str, Any]:
    """The instance's regions, access control attributes and identity-store network lists of the file (a region
    already recorded keeps its AddedDate unless the file pins one)."""
    added = {r.name: r.added_at for r in (current.regions if current else ())}
    regions: list[Region] = []
    for i, r in enumerate(spec.Instance.Regions):
        if any(x.name == r.RegionName for x in regions):
            problems.append(f"Instance.Regions[{i}].RegionName: duplicate region {r.RegionName!r}")
            continue
        at = epoch(r.AddedDate) if r.AddedDate is not None else added.get(r.RegionName, now)
        regions.append(Region(r.RegionName, at))
    abac = spec.Instance.InstanceAccessControlAttributeConfiguration
    attributes = None
    if abac is not None:
        attributes = tuple(
            AccessControlAttribute(a.Key, a.Value.Source[0]) for a in abac.AccessControlAttributes
        )
        keys = [a.key for a in attributes]
        for i, k in enumerate(keys):
            if k in keys[:i]:
                problems.append(
                    f"Instance.InstanceAccessControlAttributeConfiguration.AccessControlAttributes[{i}].Key:"
                    f" duplicate key {k!r}"
                )
    network = spec.Instance.IdentityStoreNetworkConfiguration
    return {
        "regions": tuple(regions),
        "access_control_attributes": attributes,
        "identity_store_api_allow_ips": tuple(network.ApiAllowSourceIps) if network else (),
        "identity_store_scim_allow_ips": tuple(network.ScimAllowSourceIps) if network else (),
    }


def resolve(
    spec: ConfigFile,
    current: Configuration | None,
    account_id: str,
    *,
    now: float,
) -> Configuration:
    """Build the domain configuration, keeping identifiers of entities that already exist (matched by name).

    ``now`` (the caller's clock) stamps the creation date of a new instance or application; matched
    ones keep theirs unless the file pins ``CreatedDate``. A DELETED instance is never matched: applying a file
    to it creates a new instance with new identifiers (as sso-admin CreateInstance would), unless the file pins
    them. Assignments keep the order they have in ``current`` (new ones follow in file order), so applying an
    exported file to the store it came from changes nothing.
    """
    problems: list[str] = []
    cur_inst = current.instance if current and current.instance.status == "ACTIVE" else None
    instance_arn = spec.Instance.InstanceArn or (cur_inst.instance_arn if cur_inst else new_instance_arn())
    same_instance = cur_inst is not None and cur_inst.instance_arn == instance_arn
    created = spec.Instance.CreatedDate
    instance = Instance(
        instance_arn=instance_arn,
        identity_store_id=spec.Instance.IdentityStoreId
        or (cur_inst.identity_store_id if cur_inst else new_identity_store_id()),
        owner_account_id=account_id,
        name=spec.Instance.Name,
        status="ACTIVE",
        created_at=epoch(created)
        if created is not None
        else (cur_inst.created_at if cur_inst is not None and same_instance else now),
        tags=_tags(spec.Instance.Tags, "Instance", problems),
    )
    instance = replace(
        instance, **_instance_settings(spec, cur_inst if same_instance else None, now, problems)
    )
    inst_id = instance.instance_id

    def unique(names: list[str], where: str, *, fold: bool = False) -> None:
        seen: set[str] = set()
        for i, n in enumerate(names):
            key = n.lower() if fold else n
            if key in seen:
                problems.append(f"{where}[{i}]: duplicate name {n!r}")
            seen.add(key)

    unique([t.Name for t in spec.TrustedTokenIssuers], "TrustedTokenIssuers")
    unique([a.Name for a in spec.Applications], "Applications")
    unique([u.UserName for u in spec.Users], "Users", fold=True)  # as the identity store compares them
    unique([g.DisplayName for g in spec.Groups], "Groups")

    old_tti = {t.name: t for t in (current.trusted_token_issuers if current else ())}
    issuers: list[TrustedTokenIssuer] = []
    for ti, t in enumerate(spec.TrustedTokenIssuers):
        prev = old_tti.get(t.Name)
        arn = (
            t.TrustedTokenIssuerArn
            or (prev.arn if prev and prev.arn.split("/")[1] == inst_id else None)
            or new_issuer_arn(account_id, inst_id)
        )
        configuration = cast(
            sa.TrustedTokenIssuerConfiguration, t.TrustedTokenIssuerConfiguration.model_dump()
        )
        issuer = trusted_token_issuer_from_shape(t.Name, configuration, arn=arn)  # the wire's mapping
        issuers.append(
            replace(
                issuer,
                allowed_algorithms=tuple(t.AllowedAlgorithms),
                accept_unverified_email=t.AcceptUnverifiedEmail,
                revision=prev.revision if prev is not None and prev.arn == arn else 0,
                tags=_tags(t.Tags, f"TrustedTokenIssuers[{ti}]", problems),
            )
        )
    tti_ref = {t.name: t.arn for t in issuers} | {t.arn: t.arn for t in issuers}

    old_users = {u.user_name: u for u in (current.users if current else ())}
    users: list[User] = []
    for u in spec.Users:
        prev_u = old_users.get(u.UserName)
        user = user_from_shape(u.model_dump(exclude_none=True, exclude={"UserId"}))  # the wire's mapping
        users.append(replace(user, user_id=u.UserId or (prev_u.user_id if prev_u else new_directory_id())))
    user_ref = {u.user_name: u.user_id for u in users} | {u.user_id: u.user_id for u in users}

    old_groups = {g.display_name: g for g in (current.groups if current else ())}
    groups: list[Group] = []
    for gi, g in enumerate(spec.Groups):
        members: list[str] = []
        for mi, m in enumerate(g.Members):
            if m not in user_ref:
                problems.append(f"Groups[{gi}].Members[{mi}]: no user {m!r} in this file")
            else:
                members.append(user_ref[m])
        prev_g = old_groups.get(g.DisplayName)
        group = group_from_shape(g.model_dump(exclude_none=True, exclude={"GroupId", "Members"}), members)
        groups.append(
            replace(group, group_id=g.GroupId or (prev_g.group_id if prev_g else new_directory_id()))
        )
    group_ref = {g.display_name: g.group_id for g in groups} | {g.group_id: g.group_id for g in groups}

    old_apps = {a.name: a for a in (current.applications if current else ())}
    app_arns: dict[str, str] = {}
    for a in spec.Applications:
        prev_a = old_apps.get(a.Name)
        app_arns[a.Name] = (
            a.ApplicationArn
            or (prev_a.arn if prev_a and prev_a.instance_arn == instance.instance_arn else None)
            or new_application_arn(account_id, inst_id)
        )
    app_ref = dict(app_arns) | {v: v for v in app_arns.values()}
    old_by_arn = {a.arn: a for a in (current.applications if current else ()) if same_instance}

    applications: list[Application] = []
    assignments: list[Assignment] = []
    for ai, a in enumerate(spec.Applications):
        where = f"Applications[{ai}]"
        arn = app_arns[a.Name]
        grants: dict[str, GrantConfig] = {}
        for gt, gspec in a.Grants.items():
            kind = GRANTS.get(gt)
            assert kind is not None  # the schema admits registered grant types only
            if list(gspec.members) != [kind.member]:
                problems.append(f"{where}.Grants.{gt}: must set exactly the {kind.member} member")
                continue
            reader = MemberReader(
                f"{where}.Grants.{gt}.{kind.member}",
                distinct=False,
                problems=problems,
                resolve_issuer=tti_ref.get,
            )
            grants[gt] = kind.from_wire(gspec.members[kind.member].model_dump(), reader)
        actor_policy = None
        if "IAM" in a.AuthenticationMethods:
            method = cast(sa.AuthenticationMethod, a.AuthenticationMethods["IAM"].model_dump())
            actor_policy = authentication_method_from_shape(method)
            try:
                Policy.parse(actor_policy, kind="resource")
            except PolicyError as exc:
                sub = f".{exc.path}" if exc.path else ""
                problems.append(f"{where}.AuthenticationMethods.IAM.Iam.ActorPolicy{sub}: {exc.message}")
        scopes = []
        seen_scopes: set[str] = set()
        for si, s in enumerate(a.AccessScopes):
            if s.Scope in seen_scopes:
                problems.append(f"{where}.AccessScopes[{si}].Scope: duplicate scope {s.Scope!r}")
            seen_scopes.add(s.Scope)
            targets = []
            for ti, target in enumerate(s.AuthorizedTargets):
                if target == instance.instance_arn:
                    targets.append(target)
                elif target in app_ref:
                    targets.append(app_ref[target])
                else:
                    problems.append(
                        f"{where}.AccessScopes[{si}].AuthorizedTargets[{ti}]: {target!r} is neither an application in"
                        " this file nor the instance ARN"
                    )
            scopes.append(access_scope_from_shape({"Scope": s.Scope, "AuthorizedTargets": targets}))
        for xi, asg in enumerate(a.Assignments):
            ref_map = user_ref if asg.PrincipalType == "USER" else group_ref
            pid = ref_map.get(asg.PrincipalId)
            if pid is None:
                problems.append(
                    f"{where}.Assignments[{xi}].PrincipalId: no {asg.PrincipalType.lower()} {asg.PrincipalId!r}"
                    " in this file"
                )
                continue
            assignments.append(Assignment(arn, asg.PrincipalType, pid))
        prev_app = old_by_arn.get(arn)
        described = a.model_dump(
            include={"Name", "ApplicationProviderArn", "Status", "Description", "PortalOptions"},
            exclude_none=True,
        )
        app = application_from_shape(  # the wire's mapping of what CreateApplication describes
            cast(sa.CreateApplicationRequest, {**described, "InstanceArn": instance.instance_arn}),
            arn=arn,
            created_at=epoch(a.CreatedDate)
            if a.CreatedDate is not None
            else (prev_app.created_at if prev_app is not None else now),
        )
        applications.append(
            replace(
                app,
                grants=grants,
                actor_policy=actor_policy,
                access_scopes=tuple(scopes),
                assignment_required=a.AssignmentRequired,
                user_background_sessions=a.UserBackgroundSessionApplicationStatus == "ENABLED",
                tags=_tags(a.Tags, where, problems),
            )
        )
    accounts = _accounts(spec, problems)
    permission_sets = _permission_sets(spec, current, instance, now, problems)
    account_assignments = _account_assignments(spec, current, permission_sets, user_ref, group_ref, problems)
    unique([r.RoleName for r in spec.Roles], "Roles", fold=True)  # IAM role names are case-insensitive
    old_roles = {r.role_name.lower(): r for r in (current.roles if current else ())}
    roles = [
        _role(r, f"Roles[{ri}]", old_roles.get(r.RoleName.lower()), account_id, now, problems)
        for ri, r in enumerate(spec.Roles)
    ]
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    declared = dict.fromkeys(assignments)
    kept = [x for x in (current.assignments if current else ()) if x in declared]
    return Configuration(
        instance=instance,
        trusted_token_issuers=tuple(issuers),
        applications=tuple(applications),
        users=tuple(users),
        groups=tuple(groups),
        assignments=tuple(dict.fromkeys([*kept, *declared])),
        accounts=accounts,
        permission_sets=permission_sets,
        account_assignments=account_assignments,
        roles=tuple(roles),
    )


def _role(
    r: RoleSpec, where: str, prev: Role | None, account_id: str, now: float, problems: list[str]
) -> Role:
    """A role of the file (IAM CreateRole + PutRolePolicy); its creation date is kept from ``prev``. Its id is
    derived from the account and name (``ssoidc.ids.unique_id``: the path left out, so GetCallerIdentity's
    ``UserId`` of a session is ``AssumedRoleId`` whoever computes it)."""
    trust: dict[str, Any] = {}
    try:
        trust = policy_document(r.AssumeRolePolicyDocument, "trust")
    except PolicyError as exc:
        sub = f".{exc.path}" if exc.path else ""
        problems.append(f"{where}.AssumeRolePolicyDocument{sub}: {exc.message}")
    policies: dict[str, dict[str, Any]] = {}
    for pi, p in enumerate(r.Policies):
        at = f"{where}.Policies[{pi}]"
        if p.PolicyName in policies:
            problems.append(f"{at}.PolicyName: duplicate policy name {p.PolicyName!r}")
            continue
        try:
            policies[p.PolicyName] = policy_document(p.PolicyDocument, "identity")
        except PolicyError as exc:
            sub = f".{exc.path}" if exc.path else ""
            problems.append(f"{at}.PolicyDocument{sub}: {exc.message}")
    return Role(
        arn=role_arn(account_id, r.Path, r.RoleName),
        role_name=r.RoleName,
        role_id=unique_id("AROA", role_arn(account_id, "/", r.RoleName)),
        trust_policy=trust,
        path=r.Path,
        max_session_duration=r.MaxSessionDuration,
        description=r.Description,
        policies=policies,
        created_at=epoch(r.CreatedDate)
        if r.CreatedDate is not None
        else (prev.created_at if prev is not None else now),
    )


def _accounts(spec: ConfigFile, problems: list[str]) -> tuple[Account, ...]:
    seen: set[str] = set()
    for i, a in enumerate(spec.Accounts):
        if a.AccountId in seen:
            problems.append(f"Accounts[{i}].AccountId: duplicate account {a.AccountId!r}")
        seen.add(a.AccountId)
    return tuple(Account(a.AccountId, a.Name, a.Email) for a in spec.Accounts)


def _permission_sets(
    spec: ConfigFile, current: Configuration | None, instance: Instance, now: float, problems: list[str]
) -> tuple[PermissionSet, ...]:
    """The permission sets of the file, matched to the stored ones by name (case-insensitively, as their names
    are unique), with the admin API's checks."""
    old = {p.name.lower(): p for p in (current.permission_sets if current else ())}
    seen: set[str] = set()
    out: list[PermissionSet] = []
    for i, p in enumerate(spec.PermissionSets):
        where = f"PermissionSets[{i}]"
        if p.Name.lower() in seen:
            problems.append(f"{where}: duplicate name {p.Name!r}")
        seen.add(p.Name.lower())
        prev = old.get(p.Name.lower())
        if prev is not None and prev.instance_arn != instance.instance_arn:
            prev = None
        arn = p.PermissionSetArn or (prev.arn if prev else new_permission_set_arn(instance.instance_id))
        if f"/{instance.instance_id}/" not in arn:
            problems.append(
                f"{where}.PermissionSetArn: not a permission set of instance {instance.instance_arn}"
            )
        try:
            check_session_duration(p.SessionDuration)
        except ValidationFailed as exc:
            problems.append(f"{where}.SessionDuration: {exc.message}")
        policy: dict[str, Any] | None = None
        if p.InlinePolicy is not None:
            try:
                text = (
                    p.InlinePolicy
                    if isinstance(p.InlinePolicy, str)
                    else orjson.dumps(p.InlinePolicy).decode()
                )
                policy = parse_inline_policy(text)
            except TypeError:  # a YAML value JSON has no form for
                problems.append(f"{where}.InlinePolicy: not a JSON policy document")
            except ValidationFailed as exc:
                problems.append(f"{where}.{exc.field}: {exc.message}")
        managed = tuple(dict.fromkeys(p.ManagedPolicyArns))
        if len(managed) != len(p.ManagedPolicyArns):
            problems.append(f"{where}.ManagedPolicyArns: a policy is listed twice")
        refs = tuple(
            CustomerManagedPolicyReference(r.Name, r.Path) for r in p.CustomerManagedPolicyReferences
        )
        if len(set(refs)) != len(refs):
            problems.append(f"{where}.CustomerManagedPolicyReferences: a policy is listed twice")
        if len(managed) + len(refs) > MAX_MANAGED_POLICIES:
            problems.append(
                f"{where}: at most {MAX_MANAGED_POLICIES} managed and customer managed policies together"
            )
        boundary = None
        if p.PermissionsBoundary is not None:
            b = p.PermissionsBoundary
            cref = b.CustomerManagedPolicyReference
            boundary = PermissionsBoundary(
                b.ManagedPolicyArn or "",
                None if cref is None else CustomerManagedPolicyReference(cref.Name, cref.Path),
            )
            try:
                check_boundary(boundary)
            except ValidationFailed as exc:
                problems.append(f"{where}.PermissionsBoundary: {exc.message}")
        out.append(
            PermissionSet(
                arn=arn,
                name=p.Name,
                instance_arn=instance.instance_arn,
                description=p.Description,
                session_duration=p.SessionDuration,
                relay_state=p.RelayState,
                inline_policy=policy,
                managed_policy_arns=managed,
                customer_managed_policies=refs,
                permissions_boundary=boundary,
                created_at=epoch(p.CreatedDate)
                if p.CreatedDate is not None
                else (prev.created_at if prev is not None and prev.arn == arn else now),
                tags=_tags(p.Tags, where, problems),
            )
        )
    arns = [p.arn for p in out]
    if len(set(arns)) != len(arns):
        problems.append("PermissionSets: two permission sets have one PermissionSetArn")
    return tuple(out)


def _account_assignments(
    spec: ConfigFile,
    current: Configuration | None,
    permission_sets: tuple[PermissionSet, ...],
    user_ref: dict[str, str],
    group_ref: dict[str, str],
    problems: list[str],
) -> tuple[AccountAssignment, ...]:
    """The file's account assignments (references by name or id), in the stored order, new ones after."""
    ps_ref = {p.name: p.arn for p in permission_sets} | {p.arn: p.arn for p in permission_sets}
    declared: list[AccountAssignment] = []
    for i, a in enumerate(spec.AccountAssignments):
        where = f"AccountAssignments[{i}]"
        arn = ps_ref.get(a.PermissionSetArn)
        if arn is None:
            problems.append(
                f"{where}.PermissionSetArn: no permission set {a.PermissionSetArn!r} in this file"
            )
        pid = (user_ref if a.PrincipalType == "USER" else group_ref).get(a.PrincipalId)
        if pid is None:
            problems.append(
                f"{where}.PrincipalId: no {a.PrincipalType.lower()} {a.PrincipalId!r} in this file"
            )
        if arn is not None and pid is not None:
            declared.append(AccountAssignment(a.TargetId, arn, a.PrincipalType, pid))
    wanted = dict.fromkeys(declared)
    kept = [x for x in (current.account_assignments if current else ()) if x in wanted]
    return tuple(dict.fromkeys([*kept, *wanted]))


async def apply_to_store(
    store: ConfigStore, spec: ConfigFile, account_id: str, now: float, *, base_url: str = ""
) -> Configuration:
    """Make ``spec`` the live configuration: the file front door of ``ssoidc apply`` and ``serve --config``.

    ``base_url`` is the server's public base URL: a trusted token issuer naming one of its own idToken issuers
    (``<base url>/<instance id>``, any spelling) is refused, as sso-admin CreateTrustedTokenIssuer refuses it.

    Same invariants (``ssoidc.admin.rules``) and cascades as the admin API, in one compare-and-swap write: users
    and applications the file no longer lists are deleted and their tokens revoked, exactly as identitystore
    DeleteUser / sso-admin DeleteApplication would. Applying an unchanged file writes nothing.
    """
    for _ in range(25):
        current, version = await store.load_configuration()
        config = resolve(spec, current, account_id, now=now)
        for i, t in enumerate(config.trusted_token_issuers):
            where = f"TrustedTokenIssuers[{i}].TrustedTokenIssuerConfiguration.OidcJwtConfiguration.IssuerUrl"
            try:
                check_not_own(t.issuer_url, base_url, config, where)
            except ValidationFailed as exc:
                raise ConfigError(f"invalid configuration: {exc.field}: {exc.message}") from None
        if config == current:
            return config
        try:
            check_rules(config)
        except AdminError as exc:
            raise ConfigError(f"invalid configuration: {exc.message}") from None
        revoke: list[str] = []
        if current is not None:
            users = {u.user_id for u in config.users}
            apps = {a.arn for a in config.applications}
            revoke += [f"user:{u.user_id}" for u in current.users if u.user_id not in users]
            revoke += [f"application:{a.arn}" for a in current.applications if a.arn not in apps]
        try:
            await store.replace_configuration(
                config, expected_version=version, revoke_subjects=revoke, now=now
            )
        except VersionConflict:
            continue
        return config
    raise ConfigError("the configuration is being changed concurrently; try again")
