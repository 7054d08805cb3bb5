"""The AWS skeleton in process, driven by botocore's own serializers, signer and parsers (the code boto3 runs).

* routing comes from the model: ``POST /token?aws_iam=t`` is CreateTokenWithIAM, plain ``POST /token`` CreateToken;
* the model marks the unsigned operations (``auth: smithy.api#noAuth``), the rest need SigV4;
* adding an operation is one handler method (CONTRIBUTING.md, "Adding an AWS operation"), followed here for
  STS ``GetCallerIdentity`` over the AWS Query protocol: no edit to the web layer, the router or the codecs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.serialize import create_serializer

from ssoidc.aws.models import operation
from ssoidc.aws.protocols import Query, RestJson
from ssoidc.aws.sigv4 import Credential
from ssoidc.aws.skeleton import AwsService, Call, Skeleton, is_unsigned
from ssoidc.aws.wire import WireRequest
from tests.helpers.sigv4_calls import aws_call

AKID, SECRET = "AKIAEXAMPLEEXAMPLE00", "s" * 40
PRINCIPAL = "arn:aws:iam::123456789012:user/tester"


class ExampleSts:
    """The recipe's one step: a method named ``xform_name("GetCallerIdentity")``."""

    async def get_caller_identity(self, inp: Mapping[str, Any], call: Call) -> dict[str, Any]:
        return {"UserId": call.access_key_id, "Account": PRINCIPAL.split(":")[4], "Arn": call.principal_arn}


class RecordingOidc:
    """Records which operation each request reached."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any], Call]] = []

    async def create_token_with_iam(self, inp: Mapping[str, Any], call: Call) -> dict[str, Any]:
        self.seen.append(("CreateTokenWithIAM", dict(inp), call))
        return {"accessToken": "a", "tokenType": "Bearer", "expiresIn": 1}

    async def register_client(self, inp: Mapping[str, Any], call: Call) -> dict[str, Any]:
        self.seen.append(("RegisterClient", dict(inp), call))
        return {"clientId": "c", "clientIdIssuedAt": 1, "clientSecretExpiresAt": 2}


async def nothing() -> None:
    """No configuration to refresh in these tests."""


def skeleton(services: list[AwsService]) -> Skeleton:
    creds = {AKID: Credential(AKID, SECRET, PRINCIPAL)}
    return Skeleton(
        services,
        lookup_credential=creds.get,
        region="us-east-1",
        max_skew_seconds=300,
        now=time.time,  # botocore signs with the wall clock
        refresh=nothing,
    )


def call(sk: Skeleton, service: str, op: str, params: dict[str, Any], *, sign: bool = True) -> dict[str, Any]:
    """Serialize, sign and parse with botocore, as a boto3 client would; the skeleton answers in between."""
    return asyncio.run(aws_call(sk, service, op, params, creds=(AKID, SECRET, None) if sign else None))


def test_unsigned_operations_come_from_the_model() -> None:
    assert is_unsigned(operation("sso-oidc", "CreateToken"))
    assert is_unsigned(operation("sso-oidc", "RegisterClient"))
    assert is_unsigned(operation("sso", "GetRoleCredentials"))
    assert not is_unsigned(operation("sso-oidc", "CreateTokenWithIAM"))
    assert not is_unsigned(operation("sts", "GetCallerIdentity"))


def test_the_literal_query_parameter_picks_create_token_with_iam() -> None:
    api = RecordingOidc()
    sk = skeleton([AwsService("sso-oidc", api, constraints=False)])
    out = call(sk, "sso-oidc", "CreateTokenWithIAM", {"clientId": "app", "grantType": "refresh_token"})
    assert out["accessToken"] == "a"
    name, inp, seen = api.seen[-1]
    assert (name, inp) == ("CreateTokenWithIAM", {"clientId": "app", "grantType": "refresh_token"})
    assert (seen.principal_arn, seen.access_key_id) == (PRINCIPAL, AKID)
    # plain POST /token is CreateToken, which has no handler here: refused by name, never CreateTokenWithIAM
    out = call(
        sk, "sso-oidc", "CreateToken", {"clientId": "c", "clientSecret": "s", "grantType": "x"}, sign=False
    )
    assert (out["_status"], out["Error"]["Code"]) == (400, "NotImplementedException")
    assert len(api.seen) == 1


def test_an_unsigned_operation_reaches_its_handler_without_a_signature() -> None:
    api = RecordingOidc()
    sk = skeleton([AwsService("sso-oidc", api, constraints=False)])
    out = call(sk, "sso-oidc", "RegisterClient", {"clientName": "cli", "clientType": "public"}, sign=False)
    assert out["clientId"] == "c"
    name, inp, seen = api.seen[-1]
    assert (name, inp, seen.principal_arn) == (
        "RegisterClient",
        {"clientName": "cli", "clientType": "public"},
        "",
    )


def test_a_signed_operation_without_a_signature_is_refused_before_its_handler() -> None:
    api = RecordingOidc()
    sk = skeleton([AwsService("sso-oidc", api, constraints=False)])
    out = call(sk, "sso-oidc", "CreateTokenWithIAM", {"clientId": "app", "grantType": "x"}, sign=False)
    assert (out["_status"], out["Error"]["Code"]) == (403, "MissingAuthenticationTokenException")
    assert api.seen == []


def test_recipe_add_an_operation_sts_get_caller_identity_over_aws_query() -> None:
    sk = skeleton([AwsService("sts", ExampleSts())])
    out = call(sk, "sts", "GetCallerIdentity", {})
    assert (out["UserId"], out["Account"], out["Arn"]) == (AKID, "123456789012", PRINCIPAL)
    assert out["ResponseMetadata"]["RequestId"]
    # the other STS operations of the model answer by name in the Query error shape
    out = call(sk, "sts", "GetSessionToken", {})
    assert (out["_status"], out["Error"]["Code"]) == (400, "NotImplementedException")
    # and STS's own front-end codes for a bad signature
    out = call(sk, "sts", "GetCallerIdentity", {}, sign=False)
    assert (out["_status"], out["Error"]["Code"]) == (403, "MissingAuthenticationToken")


def test_query_decode_reads_nested_lists_and_structures_by_the_model() -> None:
    opm = operation("sts", "AssumeRole")
    params = {
        "RoleArn": "arn:aws:iam::123456789012:role/r",
        "RoleSessionName": "session",
        "DurationSeconds": 900,
        "ProvidedContexts": [
            {
                "ProviderArn": "arn:aws:iam::aws:contextProvider/IdentityCenter",
                "ContextAssertion": "opaque-context",
            }
        ],
        "Tags": [{"Key": "k", "Value": "v"}],
    }
    req = create_serializer("query").serialize_to_request(params, opm)
    body = req["body"]
    raw = body if isinstance(body, bytes) else urlencode(body).encode()
    decoded = Query().decode(opm, WireRequest("POST", b"/", b"", [], raw))
    assert decoded == params


@pytest.mark.parametrize(
    ("query", "operation"),
    [
        (b"aws_iam=t", "CreateTokenWithIAM"),
        (b"x=1&aws_iam=t", "CreateTokenWithIAM"),
        (b"aws_iam=%74", "CreateTokenWithIAM"),  # percent-decoded, as AWS's front end reads it
        (b"", "CreateToken"),
        (b"aws_iam=T", "CreateToken"),
        (b"aws_iam", "CreateToken"),
        (b"aws_iam=t&aws_iam=t", "CreateToken"),  # the literal parameter exactly once
        (b"aws_iam=t%26x%3D1", "CreateToken"),  # an escaped look-alike is one parameter with another value
        (b"x=1%26aws_iam%3Dt", "CreateToken"),
        (b"aws_iam%3Dt", "CreateToken"),
    ],
)
def test_a_route_takes_its_literal_query_parameter_as_parsed_never_as_escaped_text(
    query: bytes, operation: str
) -> None:
    api = RecordingOidc()
    sk = skeleton([AwsService("sso-oidc", api, constraints=False)])
    found = sk.find("POST", "/token", query)
    assert found is not None and found.op is not None
    assert found.op.name == operation


def raw_dispatch(
    sk: Skeleton, body: bytes, headers: list[tuple[bytes, bytes]], oversized: bool = False
) -> Any:
    found = sk.find("POST", "/", b"")
    assert found is not None
    return asyncio.run(sk.dispatch(WireRequest("POST", b"/", b"", headers, body, oversized=oversized), found))


FORM = [(b"content-type", b"application/x-www-form-urlencoded; charset=utf-8")]


def test_a_query_only_skeleton_answers_every_post_in_its_own_shape() -> None:
    """No JSON 1.1 service: a JSON request, a target header or a form without Action is refused in STS's shape."""
    sk = skeleton([AwsService("sts", ExampleSts())])
    for headers, body in [
        (
            [
                (b"content-type", b"application/x-amz-json-1.1"),
                (b"x-amz-target", b"AWSIdentityStore.ListUsers"),
            ],
            b"{}",
        ),
        ([(b"content-type", b"application/json")], b"{}"),
        (FORM, b"Version=2011-06-15"),
        (FORM, b"Action=NoSuchAction&Version=2011-06-15"),
    ]:
        resp = raw_dispatch(sk, body, headers)
        assert resp.status == 400, (headers, resp.body)
        assert b"<Code>UnknownOperationException</Code>" in resp.body


def test_an_oversized_form_body_is_refused_as_too_large_not_as_an_unknown_operation() -> None:
    sk = skeleton([AwsService("sts", ExampleSts())])
    resp = raw_dispatch(sk, b"", [*FORM, (b"content-length", b"999999")], oversized=True)
    assert resp.status == 400
    assert b"<Code>ValidationError</Code>" in resp.body and b"too large" in resp.body


@pytest.mark.parametrize(
    "body",
    [
        b"Action=GetCallerIdentity&x=%ff",
        b"Action=GetCallerIdentity&x=\xff",
        b"Action=GetCallerIdentity&x=%C3",
    ],
)
def test_a_form_that_is_not_utf8_after_percent_decoding_is_refused(body: bytes) -> None:
    """Never replaced by U+FFFD (what ``parse_qsl`` does by default): the caller is told."""
    from ssoidc.aws.models import ShapeError

    with pytest.raises(ShapeError, match="not valid UTF-8"):
        Query().decode(operation("sts", "GetCallerIdentity"), WireRequest("POST", b"/", b"", FORM, body))


@pytest.mark.parametrize("raw", ["1_000", " 12 ", "١٢", "12.0", ""])
def test_an_integer_in_a_query_string_is_ascii_digits_only(raw: str) -> None:
    from ssoidc.aws.models import ShapeError

    opm = operation("sso", "ListAccounts")
    req = WireRequest("GET", b"/assignment/accounts", f"max_result={raw}".encode(), [], b"")
    with pytest.raises(ShapeError, match="expected an integer"):
        RestJson().decode(opm, req)
    ok = WireRequest("GET", b"/assignment/accounts", b"max_result=-12&next_token=%E2%9C%93", [], b"")
    assert RestJson().decode(opm, ok) == {"maxResults": -12, "nextToken": "\u2713"}
