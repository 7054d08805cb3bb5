"""ssoidc.testing: the in-process test server, its environment, the clock, fault injection, and the test-mode
controls of an out-of-process server (``serve --testing``), through boto3, the AWS CLI and raw HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import botocore.tokens
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

import ssoidc.testing
from ssoidc.aws.faults import Fault, FaultPlan
from ssoidc.testing import RemoteControls, TestServer, test_issuer_config
from ssoidc.testing.remote import RemoteError
from tests.helpers.cli import V2_AWS
from tests.helpers.config import ACCOUNT, ADMIN_KEY, ADMIN_SECRET
from tests.helpers.servers import LiveServer, create_credential, running_server

ROOT = Path(__file__).resolve().parents[2]
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})

CONFIG: dict[str, Any] = {
    "Instance": {"Name": "toolkit"},
    "TrustedTokenIssuers": [
        test_issuer_config(),  # the server's local issuer, "{issuer_url}"
    ],
    "Applications": [
        {
            "Name": "app",
            "Grants": {
                JWT_BEARER: {
                    "JwtBearer": {
                        "AuthorizedTokenIssuers": [
                            {"TrustedTokenIssuerArn": "test-issuer", "AuthorizedAudiences": ["ssoidc-demo"]}
                        ]
                    }
                },
                "refresh_token": {"RefreshToken": {}},
            },
            "AuthenticationMethods": {
                "IAM": {
                    "Iam": {
                        "ActorPolicy": {
                            "Statement": {
                                "Effect": "Allow",
                                "Principal": {"AWS": ACCOUNT},
                                "Action": "sso-oauth:CreateTokenWithIAM",
                                "Resource": "*",
                            }
                        }
                    }
                }
            },
            "AssignmentRequired": False,
        }
    ],
    "Users": [
        {
            "UserName": "alice",
            "DisplayName": "Alice",
            "Emails": [{"Value": "alice@example.com", "Primary": True}],
        }
    ],
}


@pytest.fixture(scope="module")
def idc() -> Iterator[TestServer]:
    with ssoidc.testing.server(config=CONFIG, environment=False) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _no_faults_left(idc: TestServer) -> Iterator[None]:
    yield
    idc.faults.clear()


def token_request(idc: TestServer) -> dict[str, str]:
    return {
        "clientId": idc.application_arn("app"),
        "grantType": JWT_BEARER,
        "assertion": idc.issuer.assertion("alice@example.com"),
    }


# -- the environment -------------------------------------------------------------------------------------------------
def test_environment_points_every_client_at_the_server_and_is_restored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "developer-own-profile")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "developer-session")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "https://sts.example.invalid")
    before = dict(os.environ)
    cache_dir = botocore.tokens.SSOTokenProvider._SSO_TOKEN_CACHE_DIR
    with ssoidc.testing.server() as srv:
        assert "AWS_PROFILE" not in os.environ and "AWS_SESSION_TOKEN" not in os.environ
        assert os.environ["HOME"] == str(srv.home)
        for name in ("sso-oidc", "sso", "sso-admin", "identitystore", "sts"):
            assert boto3.client(name).meta.endpoint_url == srv.endpoint_url, name
        # plain boto3, no endpoint or credentials in the call: accepted by the server
        assert boto3.client("sso-admin").list_instances()["Instances"][0]["Status"] == "ACTIVE"
        assert botocore.tokens.SSOTokenProvider._SSO_TOKEN_CACHE_DIR.startswith(str(srv.home))
    assert dict(os.environ) == before
    assert cache_dir == botocore.tokens.SSOTokenProvider._SSO_TOKEN_CACHE_DIR


def test_environment_off_leaves_the_process_alone() -> None:
    before = dict(os.environ)
    with ssoidc.testing.server(environment=False) as srv:
        assert dict(os.environ) == before
        assert srv.client("sso-admin").list_instances()["Instances"]


# -- the clock -------------------------------------------------------------------------------------------------------
def test_clock_expires_what_the_server_times_and_signatures_still_verify(idc: TestServer) -> None:
    oidc = idc.client("sso-oidc")
    token = oidc.create_token_with_iam(**token_request(idc))
    stale_assertion = idc.issuer.assertion("alice@example.com", lifetime=300)
    idc.clock.advance(8 * 3600 + 1)  # past the session's lifetime (SSOIDC_SESSION_TTL default 8 h)
    with pytest.raises(
        ClientError
    ) as err:  # the signed request itself is accepted: SigV4 keeps the wall clock
        oidc.create_token_with_iam(
            clientId=idc.application_arn("app"), grantType="refresh_token", refreshToken=token["refreshToken"]
        )
    assert err.value.response["Error"]["Code"] == "InvalidGrantException"
    with pytest.raises(ClientError) as err:  # minted before the advance: expired by the server's time now
        oidc.create_token_with_iam(
            clientId=idc.application_arn("app"), grantType=JWT_BEARER, assertion=stale_assertion
        )
    assert err.value.response["Error"]["Code"] == "InvalidGrantException"
    fresh = oidc.create_token_with_iam(**token_request(idc))  # the issuer mints in the server's time
    assert fresh["tokenType"] == "Bearer"


def test_clock_only_moves_forward(idc: TestServer) -> None:
    offset = idc.clock.offset
    for bad in (-5, 0, float("inf"), float("nan"), 2e9):
        with pytest.raises(ValueError, match="forward"):
            idc.clock.advance(bad)
    assert idc.clock.offset == offset  # a refused move changed nothing


# -- fault injection -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("service", "operation", "call", "code", "status"),
    [
        ("sso-oidc", "CreateTokenWithIAM", "create_token_with_iam", "SlowDownException", 400),
        ("sso-oidc", "CreateTokenWithIAM", "create_token_with_iam", "InvalidGrantException", 400),
        ("sso-oidc", "CreateTokenWithIAM", "create_token_with_iam", "InternalServerException", 500),
        ("sso-admin", "ListInstances", "list_instances", "ThrottlingException", 400),
        ("identitystore", "ListUsers", "list_users", "InternalServerException", 500),
        ("sts", "GetCallerIdentity", "get_caller_identity", "InternalFailure", 500),
    ],
)
def test_injected_errors_are_the_modelled_answers(
    idc: TestServer, service: str, operation: str, call: str, code: str, status: int
) -> None:
    idc.faults.fail(operation, code, message="injected for the test")
    client = idc.client(service, config=NO_RETRY)
    kwargs: dict[str, Any] = token_request(idc) if call == "create_token_with_iam" else {}
    if call == "list_users":
        kwargs = {
            "IdentityStoreId": idc.client("sso-admin").list_instances()["Instances"][0]["IdentityStoreId"]
        }
    with pytest.raises(ClientError) as err:
        getattr(client, call)(**kwargs)
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert "injected for the test" in str(err.value)
    assert idc.faults.pending() == []
    if call != "get_caller_identity":  # served normally once the fault is spent
        getattr(client, call)(**(token_request(idc) if call == "create_token_with_iam" else kwargs))


def test_injected_errors_carry_the_code_the_model_puts_on_the_wire(idc: TestServer) -> None:
    """STS's shape MalformedPolicyDocumentException is sent as code MalformedPolicyDocument: the SDK's modelled
    exception class must catch it, named either way. The portal's throttling answer is its modelled 429."""
    sts = idc.client("sts", config=NO_RETRY)
    role = f"arn:aws:iam::{ACCOUNT}:role/none"
    for name in ("MalformedPolicyDocumentException", "MalformedPolicyDocument"):
        idc.faults.fail("AssumeRole", name)
        with pytest.raises(sts.exceptions.MalformedPolicyDocumentException) as err:
            sts.assume_role(RoleArn=role, RoleSessionName="session")
        assert err.value.response["Error"]["Code"] == "MalformedPolicyDocument"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    sso = idc.client("sso", config=NO_RETRY)
    idc.faults.fail("GetRoleCredentials", "TooManyRequestsException")
    with pytest.raises(sso.exceptions.TooManyRequestsException) as err:
        sso.get_role_credentials(accessToken="x", accountId=ACCOUNT, roleName="r")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_fault_counts_down_and_sdk_retries_get_through(idc: TestServer) -> None:
    idc.faults.fail("ListInstances", "ThrottlingException", count=2)
    assert [n for _f, n in idc.faults.pending()] == [2]
    admin = idc.client("sso-admin", config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
    assert admin.list_instances()["Instances"]
    assert idc.faults.pending() == []


def test_latency_then_served(idc: TestServer) -> None:
    idc.faults.delay("ListInstances", 0.4)
    started = time.monotonic()
    assert idc.client("sso-admin").list_instances()["Instances"]
    assert time.monotonic() - started >= 0.4  # the answer waited for the fault (no upper bound is asserted)


def test_dropped_connection(idc: TestServer) -> None:
    idc.faults.drop("ListInstances")
    with pytest.raises(ConnectionClosedError):
        idc.client("sso-admin", config=NO_RETRY).list_instances()
    idc.faults.drop("ListInstances")
    body = b"{}"
    with pytest.raises(httpx.RemoteProtocolError):  # no status line at all
        httpx.post(
            idc.endpoint_url,
            content=body,
            headers={"x-amz-target": "SWBExternalService.ListInstances"},
            timeout=10,
        )
    assert idc.client("sso-admin").list_instances()["Instances"]  # the next call is served


def test_fault_plan_refuses_what_aws_never_answers() -> None:
    plan = FaultPlan()
    with pytest.raises(ValueError, match="not an operation"):
        plan.add(Fault("NoSuchOperation", error="InternalServerException"))
    with pytest.raises(ValueError, match="never answers"):
        plan.add(Fault("CreateTokenWithIAM", error="ResourceNotFoundException"))
    with pytest.raises(ValueError, match="not an operation of service 'sts'"):
        plan.add(Fault("ListInstances", service="sts", error="Throttling"))
    with pytest.raises(ValueError, match="count"):
        plan.add(Fault("ListInstances", error="ThrottlingException", count=0))
    with pytest.raises(ValueError, match="latency"):
        plan.add(Fault("ListInstances", latency_seconds=61))
    with pytest.raises(ValueError, match="not both"):
        plan.add(Fault("ListInstances", error="ThrottlingException", drop=True))
    with pytest.raises(ValueError, match="needs"):
        plan.add(Fault("ListInstances"))
    assert plan.pending() == []
    queued = plan.add(Fault("ListInstances", error="ThrottlingException", count=2))
    assert queued.service == "sso-admin"
    assert plan.take("sso-admin", "ListInstances") == queued
    assert plan.take("sso-admin", "DescribeInstance") is None
    assert plan.take("sso-admin", "ListInstances") == queued
    assert plan.take("sso-admin", "ListInstances") is None


# -- out of process: serve --testing and its controls -----------------------------------------------------------------
@pytest.fixture(scope="module")
def testing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("testing"), extra_env={"SSOIDC_TESTING": "1"}) as s:
        yield s


def test_remote_clock_and_faults_through_the_aws_cli(testing_server: LiveServer) -> None:
    remote = RemoteControls(testing_server.url, ADMIN_KEY, ADMIN_SECRET)
    before = remote.clock.now()
    assert remote.clock.advance(3600) >= before + 3600
    fault = remote.faults.fail("ListInstances", "ThrottlingException", message="busy, says the test")
    assert fault["service"] == "sso-admin"
    assert remote.faults.pending()[0]["remaining"] == 1
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ADMIN_KEY,
        "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
    }
    cmd = [str(V2_AWS), "sso-admin", "list-instances", "--endpoint-url", testing_server.url]
    failed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert failed.returncode != 0
    assert "ThrottlingException" in failed.stderr and "busy, says the test" in failed.stderr
    served = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert served.returncode == 0, served.stderr
    remote.faults.drop("ListInstances", count=3)
    remote.faults.clear()
    assert remote.faults.pending() == []
    with pytest.raises(RemoteError, match="never answers"):
        remote.faults.fail("ListInstances", "InvalidGrantException")


def test_remote_controls_require_the_root(testing_server: LiveServer) -> None:
    unsigned = httpx.post(
        f"{testing_server.url}/_ssoidc/testing/clock", json={"advanceSeconds": 10}, timeout=10
    )
    assert unsigned.status_code == 401
    akid, secret = create_credential(testing_server, f"arn:aws:iam::{ACCOUNT}:user/tester")
    with pytest.raises(RemoteError, match="403"):
        RemoteControls(testing_server.url, akid, secret).clock.advance(10)
    with pytest.raises(RemoteError, match="401"):
        RemoteControls(testing_server.url, ADMIN_KEY, "wrong-secret").clock.advance(10)


def test_controls_do_not_exist_outside_test_mode(sqlite_server: LiveServer) -> None:
    remote = RemoteControls(sqlite_server.url, ADMIN_KEY, ADMIN_SECRET)
    with pytest.raises(RemoteError, match="test mode is off"):
        remote.clock.advance(3600)
    with pytest.raises(RemoteError, match="test mode is off"):
        remote.faults.fail("ListInstances", "ThrottlingException")
    plain = httpx.get(f"{sqlite_server.url}/_ssoidc/testing/anything", timeout=10)
    assert plain.status_code == 404 and "test mode is off" in plain.text


def test_serve_testing_refuses_several_workers(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ssoidc", "serve", "--testing", "--workers", "2", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert out.returncode != 0
    assert "one worker" in out.stderr and "Traceback" not in out.stderr


def test_plain_script_example_runs() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "plain_script.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok: http://127.0.0.1:")


@pytest.mark.parametrize("flow", ["device", "pkce"])
def test_login_writes_a_token_cache_the_sdk_uses(idc: TestServer, flow: str) -> None:
    session = f"login-{flow}"
    with ssoidc.testing.patched_environment(idc.environment()):
        profile = idc.login("alice", session_name=session, flow=flow)  # type: ignore[arg-type]
        cached = idc.read_token_cache(session)
        assert oct(idc.token_cache_path(session).stat().st_mode & 0o777) == "0o600"
        token = botocore.tokens.SSOTokenProvider(botocore.session.Session(profile=profile)).load_token()
        assert token.get_frozen_token().token == cached["accessToken"]
        assert cached["refreshToken"] and cached["clientSecret"]
    with pytest.raises(KeyError, match="nobody"):
        idc.login("nobody", session_name="x", flow=flow)  # type: ignore[arg-type]


def test_the_demo_profile_gets_the_demo_role_through_the_portal() -> None:
    """What `make run` prints (the ssoidc-sso profile with the demo account and role) ends in credentials that work:
    the demo data assigns DemoReadOnly to the demo users (ssoidc's ReadOnlyAccess approximation)."""
    from ssoidc.demo import DEMO_PERMISSION_SET, demo_config_dict
    from ssoidc.settings import Settings

    with ssoidc.testing.server(config=demo_config_dict(Settings())) as srv:
        profile = srv.login("alice", account_id=srv.account_id, role_name=DEMO_PERMISSION_SET)
        session = boto3.Session(profile_name=profile)
        who = session.client("sts").get_caller_identity()
        assert f":assumed-role/AWSReservedSSO_{DEMO_PERMISSION_SET}_" in who["Arn"] and who["Arn"].endswith(
            "/alice"
        )
        admin = session.client("sso-admin")
        arn = admin.list_instances()["Instances"][0]["InstanceArn"]
        assert {a["Name"] for a in admin.list_applications(InstanceArn=arn)["Applications"]} >= {"demo-app"}
        with pytest.raises(ClientError) as err:  # read-only
            admin.create_permission_set(InstanceArn=arn, Name="Escalate")
        assert err.value.response["Error"]["Code"] == "AccessDeniedException"
        assert (
            len(srv.client("sso-admin").list_permission_sets(InstanceArn=arn)["PermissionSets"]) == 1
        )  # no Escalate
