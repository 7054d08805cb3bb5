"""The one error table: every domain error reaches boto3 as its modelled exception class."""

from __future__ import annotations

from typing import Any

import boto3
import orjson
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError

from ssoidc import errors as e
from ssoidc.aws.errors import ADMIN_ERRORS, FRONTEND_ERRORS, OIDC_ERRORS, UNMODELLED, render_rest_json_error
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


SERVICES = ("sso-oidc", "sso", "sso-admin", "identitystore", "sts")


def all_subclasses(cls: type) -> set[type]:
    out: set[type] = set()
    sub: type  # typeshed types type.__subclasses__() of a plain ``type`` as list[type[Never]]
    for sub in cls.__subclasses__():
        out |= {sub} | all_subclasses(sub)
    return out


def test_every_oauth_error_has_a_row_and_the_code_is_modelled() -> None:
    model = service_model("sso-oidc")
    errors_of_op = {
        s.name
        for op in ("CreateTokenWithIAM", "CreateToken", "RegisterClient", "StartDeviceAuthorization")
        for s in model.operation_model(op).error_shapes
    }
    assert all_subclasses(e.OAuthError) == set(OIDC_ERRORS)
    for code in OIDC_ERRORS.values():
        assert code in errors_of_op
    assert all_subclasses(e.AuthError) == set(FRONTEND_ERRORS)


def test_every_admin_and_operation_error_has_a_row_and_admin_codes_are_modelled() -> None:
    assert all_subclasses(e.AdminError) | {e.InvalidInput, e.Throttled} == set(ADMIN_ERRORS)
    assert all_subclasses(e.OperationError) == set(UNMODELLED)
    for service in ("sso-admin", "identitystore"):
        modelled = {s.name for s in service_model(service).error_shapes}
        assert set(ADMIN_ERRORS.values()) <= modelled, service
    for code, _status in UNMODELLED.values():  # unmodelled on purpose: no model may name them
        assert all(code not in {s.name for s in service_model(svc).error_shapes} for svc in SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_an_unmodelled_error_is_rendered_in_every_protocol_and_decoded_by_name(service: str) -> None:
    """NotImplementedException in each service's own shape, as botocore's parser for that protocol reads it."""
    from botocore.parsers import create_parser

    from ssoidc.aws.protocols import PROTOCOLS

    model = service_model(service)
    protocol = PROTOCOLS[model.protocol]
    op = model.operation_names[0]
    err = protocol.render_error(e.NotImplementedOperation(f"{op} is not implemented"), service, op, "req-3")
    parsed = create_parser(model.protocol).parse(
        {
            "status_code": err.status,
            "headers": {k.decode(): v.decode() for k, v in err.headers},
            "body": err.body,
        },
        model.operation_model(op).output_shape,
    )
    assert (err.status, parsed["Error"]["Code"]) == (400, "NotImplementedException")
    assert parsed["Error"]["Message"] == f"{op} is not implemented"


@pytest.mark.parametrize("cls", OIDC_CLASSES)
def test_each_error_reaches_boto3_as_its_modelled_class(cls: type[e.OAuthError]) -> None:
    rendered = render_rest_json_error(cls("something specific went wrong"), "sso-oidc", "req-1")
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
    assert render_rest_json_error(e.InvalidClient("x"), "sso-oidc", "r").status == 401
    assert render_rest_json_error(e.InvalidGrant("x"), "sso-oidc", "r").status == 400


def test_unexpected_exception_is_internal_server_error_without_detail() -> None:
    rendered = render_rest_json_error(RuntimeError("secret detail /etc/passwd"), "sso-oidc", "req-9")
    assert rendered.status == 500
    assert b"secret detail" not in rendered.body
    assert b"req-9" in rendered.body
    assert rendered.code == "InternalServerException"


@pytest.mark.parametrize("cls", FRONTEND_CLASSES)
def test_front_end_errors_reach_boto3_with_their_code(cls: type[e.AuthError]) -> None:
    rendered = render_rest_json_error(cls("nope"), "sso-oidc", "req-2")
    err = call_with_response(rendered.status, rendered.headers, rendered.body)
    assert err.response["Error"]["Code"] == FRONTEND_ERRORS[cls][0]
    assert err.response["Error"]["Message"] == "nope"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize(
    ("service", "code", "message"),
    [
        ("sso-oidc", "InvalidRequestException", "Invalid request: scope[0] expected a string"),
        ("sso", "InvalidRequestException", "Invalid request: scope[0] expected a string"),
        (
            "sso-admin",
            "ValidationException",
            "1 validation error detected: Value at 'scope[0]' expected a string",
        ),
        (
            "identitystore",
            "ValidationException",
            "1 validation error detected: Value at 'scope[0]' expected a string",
        ),
        ("sts", "ValidationError", "1 validation error detected: Value at 'scope[0]' expected a string"),
    ],
)
def test_an_input_error_is_worded_and_shaped_by_each_protocol_and_decoded_by_botocore(
    service: str, code: str, message: str
) -> None:
    """One domain error for input that breaks the model; each service answers it as AWS's does, and botocore's own
    parser for the protocol reads the code and the message (sso-oidc's from ``error_description``)."""
    from botocore.parsers import create_parser

    from ssoidc.aws.protocols import PROTOCOLS

    model = service_model(service)
    op = model.operation_names[0]
    err = PROTOCOLS[model.protocol].render_error(
        e.InvalidInput("expected a string", "scope[0]"), service, op, "r"
    )
    parsed = create_parser(model.protocol).parse(
        {
            "status_code": err.status,
            "headers": {k.decode(): v.decode() for k, v in err.headers},
            "body": err.body,
        },
        model.operation_model(op).output_shape,
    )
    assert (err.status, parsed["Error"]["Code"]) == (400, code)
    body_message = orjson.loads(err.body).get("error_description") if service == "sso-oidc" else None
    assert (body_message or parsed["Error"]["Message"]) == message
