"""What the portal's end-to-end tests share: permission sets and account assignments planted in a live server's
store (sso-admin's permission-set operations are another branch's), and a device-flow login through boto3
approved without a browser (``ssoidc device approve``)."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from botocore import UNSIGNED
from botocore.exceptions import ClientError

from ssoidc.model import ACCESS_CREATE_ASSIGNMENT, AccessRequest, AccountAssignment, PermissionSet
from ssoidc.oauth.start_url import default_start_url
from ssoidc.storage.base import Store
from tests.helpers.clients import make_client
from tests.helpers.config import ACCOUNT, INSTANCE_ARN, ROOT
from tests.helpers.servers import LiveServer

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
A1, A2 = ACCOUNT, "222222222222"
"""A1 is the account of ssoidc's instance (its principals may administer it, as their policies allow); A2 another."""
_IID = INSTANCE_ARN.rsplit("/", 1)[1]
OPERATOR = PermissionSet(
    f"arn:aws:sso:::permissionSet/{_IID}/ps-0000000000000001",
    "Operator",
    INSTANCE_ARN,
    session_duration="PT4H",
    inline_policy={
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["sso:ListInstances", "sso:DescribeInstance"], "Resource": "*"}
        ],
    },
)
ADMIN = PermissionSet(
    f"arn:aws:sso:::permissionSet/{_IID}/ps-0000000000000002",
    "Admin",
    INSTANCE_ARN,
    managed_policy_arns=(ADMIN_POLICY,),
)


def store_args(server: LiveServer) -> list[str]:
    args = ["--data-dir", str(server.data_dir)]
    return args + (["--database-url", server.database_url] if server.database_url else [])


def _assign(account: str, ps: PermissionSet, ptype: str, pid: str) -> tuple[AccountAssignment, AccessRequest]:
    rid = hashlib.sha256(f"{account}{ps.arn}{pid}".encode()).hexdigest()[:12]
    request = AccessRequest(
        f"00000000-0000-4000-8000-{rid}",
        ACCESS_CREATE_ASSIGNMENT,
        "SUCCEEDED",
        time.time(),
        ps.arn,
        account_id=account,
        principal_type=ptype,
        principal_id=pid,
    )
    return AccountAssignment(account, ps.arn, ptype, pid), request  # type: ignore[arg-type]


def plant_access(server: LiveServer) -> None:
    """alice: Operator on A1 (direct); the group ``team`` (bob): Admin on A1 and A2."""
    config = server.configuration()
    users = {u.user_name: u.user_id for u in config.users}
    team = next(g.group_id for g in config.groups if g.display_name == "team")

    async def go(st: Store) -> None:
        for ps in (OPERATOR, ADMIN):
            await st.create_permission_set(ps)
        for account, ps, ptype, pid in (
            (A1, OPERATOR, "USER", users["alice"]),
            (A1, ADMIN, "GROUP", team),
            (A2, ADMIN, "GROUP", team),
        ):
            await st.create_account_assignment(*_assign(account, ps, ptype, pid))

    server.with_store(go)


def start_url(server: LiveServer) -> str:
    return default_start_url(server.configuration().instance.identity_store_id)


def login(server: LiveServer, user: str = "alice", scopes: list[str] | None = None) -> dict[str, Any]:
    """RegisterClient, StartDeviceAuthorization, ``ssoidc device approve``, CreateToken: the token response, with
    the registration's ``clientId``/``clientSecret``/``registrationExpiresAt``."""
    c = make_client(server, config={"signature_version": UNSIGNED})
    reg = c.register_client(
        clientName=f"botocore-client-{user}",
        clientType="public",
        scopes=["sso:account:access"] if scopes is None else scopes,
    )
    secret = {"clientId": reg["clientId"], "clientSecret": reg["clientSecret"]}
    dev = c.start_device_authorization(**secret, startUrl=start_url(server))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ssoidc",
            "device",
            "approve",
            dev["userCode"],
            "--user",
            user,
            *store_args(server),
        ],
        env=server.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    deadline = time.monotonic() + 30
    while True:  # poll as a CLI does, at the interval
        try:
            tokens = dict(c.create_token(**secret, grantType=DEVICE, deviceCode=dev["deviceCode"]))
            break
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if (
                code not in ("AuthorizationPendingException", "SlowDownException")
                or time.monotonic() > deadline
            ):
                raise
            time.sleep(dev.get("interval", 1) + (5 if code == "SlowDownException" else 0.05))
    return tokens | secret | {"registrationExpiresAt": reg["clientSecretExpiresAt"]}


SESSION = "ssoidc-portal"
"""The ``sso-session`` of the profiles ``sso_home`` writes."""


def sso_home(server: LiveServer, tokens: dict[str, Any], home: Path) -> Path:
    """A HOME as ``aws sso login`` leaves it: ``~/.aws/config`` with the ``sso-session`` and the profile
    ``operator`` (Operator on A1), and the token cache ``~/.aws/sso/cache/<sha1 of the session name>.json``
    (what botocore's and the CLI's SSO token providers read) holding ``tokens`` (``login``'s answer)."""
    (home / ".aws" / "sso" / "cache").mkdir(parents=True)
    url = start_url(server)
    (home / ".aws" / "config").write_text(
        f"[sso-session {SESSION}]\nsso_start_url = {url}\nsso_region = us-east-1\n"
        "sso_registration_scopes = sso:account:access\n\n"
        f"[profile operator]\nsso_session = {SESSION}\nsso_account_id = {A1}\nsso_role_name = Operator\n"
        "region = us-east-1\n"
    )

    def iso(t: float) -> str:
        return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    cache = {
        "startUrl": url,
        "region": "us-east-1",
        "accessToken": tokens["accessToken"],
        "expiresAt": iso(time.time() + tokens["expiresIn"]),
        "clientId": tokens["clientId"],
        "clientSecret": tokens["clientSecret"],
        "registrationExpiresAt": iso(tokens["registrationExpiresAt"]),
        "refreshToken": tokens["refreshToken"],
    }
    name = hashlib.sha1(SESSION.encode()).hexdigest()  # noqa: S324 - the SDKs' cache key, not a MAC
    (home / ".aws" / "sso" / "cache" / f"{name}.json").write_text(json.dumps(cache))
    return home


def profile_env(home: Path) -> dict[str, str]:
    """The environment of an AWS client run with ``home`` as HOME and no AWS_* settings of the test run's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "HOME": str(home),  # SDKs read their caches under the HOME they start with: a process of its own
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
