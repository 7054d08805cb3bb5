"""Unit tests of the wire hardening (issue 13): the hosts a signature may name (``Settings.signed_hosts``), the
verifier's host and Content-Type rules, and the strict JSON parse (``ssoidc.strict_json``)."""

from __future__ import annotations

import datetime as dt
import json
from unittest import mock

import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ssoidc import strict_json
from ssoidc.aws.sigv4 import Credential, SignedRequest, SigV4Verifier
from ssoidc.errors import IncompleteSignature, InvalidSignature
from ssoidc.settings import Settings

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
CRED = Credential("AKIDEXAMPLE", "secret", "arn:aws:iam::123456789012:root")


@pytest.mark.parametrize(
    ("settings", "allowed", "refused"),
    [
        (
            Settings(),
            ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST"],
            ["example.com", "127.0.0.1:9"],
        ),
        (
            Settings(public_url="https://sso.example.com", host="0.0.0.0"),
            ["sso.example.com", "sso.example.com:443"],
            ["127.0.0.1:8000", "localhost", "sso.example.com:8000", "other.example.com"],
        ),
        (
            Settings(public_url="http://lb.example:8080/base/", host="127.0.0.1", port=9001),
            ["lb.example:8080", "127.0.0.1:9001", "localhost:9001"],
            ["lb.example", "127.0.0.1:8080"],
        ),
        (
            Settings(allowed_hosts="a.example, B.example:81"),
            ["a.example", "b.example:81"],
            ["127.0.0.1:8000"],
        ),
    ],
)
def test_the_hosts_a_deployment_answers_for(
    settings: Settings, allowed: list[str], refused: list[str]
) -> None:
    hosts = settings.signed_hosts
    assert hosts is not None
    assert all(h.lower() in hosts for h in allowed), hosts
    assert not any(h in hosts for h in refused), hosts


def test_a_star_turns_the_host_check_off() -> None:
    assert Settings(allowed_hosts="*").signed_hosts is None


def signed(host: str, *, sign_content_type: bool = True, body: bytes = b"{}") -> SignedRequest:
    headers = {"X-Amz-Target": "SWBExternalService.ListInstances"}
    if sign_content_type:
        headers["Content-Type"] = "application/x-amz-json-1.1"
    req = AWSRequest(method="POST", url=f"http://{host}/", data=body, headers=headers)
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        SigV4Auth(Credentials(CRED.access_key_id, CRED.secret_access_key), "sso", "us-east-1").add_auth(req)
    wire = [(k.lower().encode(), v.encode()) for k, v in req.headers.items()]
    wire.append((b"host", host.encode()))
    if not sign_content_type:
        wire.append((b"content-type", b"application/x-amz-json-1.1"))
    return SignedRequest("POST", b"/", b"", wire, body)


def verifier(hosts: tuple[str, ...] | None) -> SigV4Verifier:
    return SigV4Verifier(lambda k: CRED if k == CRED.access_key_id else None, region="us-east-1", service="sso",
                         allowed_hosts=hosts)  # fmt: skip


def test_the_signed_host_must_be_ours() -> None:
    ours = verifier(("sso.example.com", "sso.example.com:443"))
    assert ours.verify(signed("sso.example.com"), NOW.timestamp()).principal_arn == CRED.principal_arn
    with pytest.raises(InvalidSignature, match=r"sign it for 'sso\.example\.com'"):
        ours.verify(signed("other.example.com"), NOW.timestamp())
    assert verifier(None).verify(signed("other.example.com"), NOW.timestamp())  # the check off


def test_two_host_headers_are_refused() -> None:
    req = signed("sso.example.com")
    twice = SignedRequest(
        req.method, req.raw_path, req.query_string, [*req.headers, (b"host", b"sso.example.com")], req.body
    )
    with pytest.raises((InvalidSignature, IncompleteSignature)):
        verifier(("sso.example.com",)).verify(twice, NOW.timestamp())


def test_a_content_type_must_be_signed() -> None:
    with pytest.raises(IncompleteSignature, match="'content-type' must be a 'SignedHeader'"):
        verifier(None).verify(signed("h", sign_content_type=False), NOW.timestamp())


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": 1, "a": 1}',
        b'{"a" :1,"b":2,\n"a"\t: 3}',
        b'{"x": {"y": [{"k": 1, "k": 2}]}}',
        b'[{"a": 1}, {"b": {"c": 1, "c": 1}}]',
        b'{"a": "\\":", "a": 1}',
        b'{"\\u0061": 1, "a": 2}',
    ],
)
def test_a_repeated_member_name_is_refused_at_any_depth(text: bytes) -> None:
    json.loads(text)  # valid JSON all the same
    with pytest.raises(strict_json.DuplicateMember):
        strict_json.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": 1, "b": {"a": 1}}',
        b'[{"a": 1}, {"a": 2}]',
        b'{"a": "\\":", "b": ":x"}',
        b'{"a": "\\"a\\": 1"}',
        b"[]",
        b'"s"',
    ],
)
def test_distinct_names_parse_as_orjson_parses_them(text: bytes) -> None:
    assert strict_json.loads(text) == orjson.loads(text)


def test_a_document_too_deep_to_check_is_refused() -> None:
    """orjson takes 1024 levels, the standard parser fewer: a document it cannot check is refused."""
    text = b"[" * 1010 + b'{"k": 1, "k": 2}' + b"]" * 1010
    orjson.loads(text)
    with pytest.raises(strict_json.NestedTooDeeply):
        strict_json.loads(text)


def test_an_invalid_document_is_a_decode_error() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        strict_json.loads(b'{"a": ')


@pytest.mark.parametrize("name", [b"content-type", b"x-amz-target", b"host"])
def test_a_single_valued_header_sent_twice_is_refused(name: bytes) -> None:
    """RFC 9110 section 5.3: only list-valued fields may repeat; these choose the deployment, codec and operation.
    Signed or not, a second copy is refused before the signature is even computed."""
    req = signed("sso.example.com")
    twice = SignedRequest(req.method, req.raw_path, req.query_string, [*req.headers, (name, b"x")], req.body)
    with pytest.raises(IncompleteSignature, match="must not be repeated"):
        verifier(None).verify(twice, NOW.timestamp())
