"""The one error table: every domain error reaches boto3 as its modelled exception class."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError

from ssoidc import errors as e
from ssoidc.aws.errors import FRONTEND_ERRORS, OIDC_ERRORS, render_oidc_error
from ssoidc.aws.models import service_model


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def call_with_response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> ClientError:
    client = boto3.client(
        "sso-oidc",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="AKIAEXAMPLE000000000",
        aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1}),
    )

    def send(request: Any, **_: Any) -> AWSResponse:
        hdrs = {k.decode(): v.decode() for k, v in headers}
        return AWSResponse(request.url, status, hdrs, _Raw(body))

    client.meta.events.register("before-send.sso-oidc.CreateTokenWithIAM", send)
    with pytest.raises(ClientError) as info:
        client.create_token_with_iam(clientId="x", grantType="refresh_token")
    return info.value


def by_name(cls: type[e.SsoidcError]) -> str:
    return cls.__name__


# sorted outside parametrize: its argument type would make mypy infer the classes as ``object``
OIDC_CLASSES = sorted(OIDC_ERRORS, key=by_name)
FRONTEND_CLASSES = sorted(FRONTEND_ERRORS, key=by_name)


def all_subclasses(cls: type) -> set[type]:
    out: set[type] = set()
    sub: type  # typeshed types type.__subclasses__() of a plain ``type`` as list[type[Never]]
    for sub in cls.__subclasses__():
        out |= {sub} | all_subclasses(sub)
    return out


def test_every_oauth_error_has_a_row_and_the_code_is_modelled() -> None:
    model = service_model("sso-oidc")
    errors_of_op = {s.name for s in model.operation_model("CreateTokenWithIAM").error_shapes}
    assert all_subclasses(e.OAuthError) == set(OIDC_ERRORS)
    for code in OIDC_ERRORS.values():
        assert code in errors_of_op
    assert all_subclasses(e.AuthError) == set(FRONTEND_ERRORS)


@pytest.mark.parametrize("cls", OIDC_CLASSES)
def test_each_error_reaches_boto3_as_its_modelled_class(cls: type[e.OAuthError]) -> None:
    rendered = render_oidc_error(cls("something specific went wrong"), "req-1")
    err = call_with_response(rendered.status, rendered.headers, rendered.body)
    code = OIDC_ERRORS[cls]
    assert type(err).__name__ == code  # the modelled class, never a generic ClientError
    assert err.response["Error"]["Code"] == code
    assert err.response["error"] == cls.error
    assert err.response["error_description"] == "something specific went wrong"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == rendered.status
    shape = service_model("sso-oidc").shape_for(code)
    assert rendered.status == shape.metadata["error"]["httpStatusCode"]


def test_invalid_client_is_401_and_others_400() -> None:
    assert render_oidc_error(e.InvalidClient("x"), "r").status == 401
    assert render_oidc_error(e.InvalidGrant("x"), "r").status == 400


def test_unexpected_exception_is_internal_server_error_without_detail() -> None:
    rendered = render_oidc_error(RuntimeError("secret detail /etc/passwd"), "req-9")
    assert rendered.status == 500
    assert b"secret detail" not in rendered.body
    assert b"req-9" in rendered.body
    assert rendered.code == "InternalServerException"


@pytest.mark.parametrize("cls", FRONTEND_CLASSES)
def test_front_end_errors_reach_boto3_with_their_code(cls: type[e.AuthError]) -> None:
    rendered = render_oidc_error(cls("nope"), "req-2")
    err = call_with_response(rendered.status, rendered.headers, rendered.body)
    assert err.response["Error"]["Code"] == FRONTEND_ERRORS[cls][0]
    assert err.response["Error"]["Message"] == "nope"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_validation_failed_at_words_the_error_as_the_aws_validator_and_names_the_member() -> None:
    from ssoidc.errors import ValidationFailed

    exc = ValidationFailed.at("Tags[0].Key", "must have length at least 1 (characters)")
    assert (
        exc.message
        == "1 validation error detected: Value at 'Tags[0].Key' must have length at least 1 (characters)"
    )
    assert exc.field == "Tags[0].Key"
