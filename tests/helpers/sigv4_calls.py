"""One AWS call to an in-process node (``Services.aws``), serialized, signed and parsed by botocore as a boto3
client would (no HTTP): for tests of what a credential may do."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from ssoidc.aws.models import service_model
from ssoidc.aws.skeleton import Skeleton
from ssoidc.aws.wire import WireRequest

HOST = "127.0.0.1:8000"


async def aws_call(
    sk: Skeleton,
    service: str,
    op: str,
    params: dict[str, Any] | None = None,
    *,
    creds: tuple[str, str, str | None] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The parsed answer (``_status``: the HTTP status; errors as botocore parses them, under ``Error``).
    ``creds``: ``(access key id, secret, session token or None)`` to sign with; None sends the call unsigned."""
    model = service_model(service)
    opm = model.operation_model(op)
    req = create_serializer(model.protocol).serialize_to_request(params or {}, opm)
    prepare_request_dict(req, endpoint_url=f"http://{HOST}")
    aws_req = create_request_object(req)
    aws_req.headers["Host"] = HOST
    for k, v in (headers or {}).items():
        aws_req.headers[k] = v
    if creds is not None:
        akid, secret, token = creds
        SigV4Auth(Credentials(akid, secret, token), model.signing_name, "us-east-1").add_auth(aws_req)
    prepared = aws_req.prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    wire = WireRequest(
        prepared.method,
        (url.path or "/").encode(),
        url.query.encode(),
        [(k.lower().encode(), v.encode() if isinstance(v, str) else v) for k, v in prepared.headers.items()],
        body if isinstance(body, bytes) else body.encode(),
    )
    found = sk.find(wire.method, url.path or "/", wire.query_string)
    assert found is not None
    resp = await sk.dispatch(wire, found)
    parsed: dict[str, Any] = create_parser(model.protocol).parse(
        {
            "status_code": resp.status,
            "headers": {k.decode(): v.decode() for k, v in resp.headers},
            "body": resp.body,
        },
        opm.output_shape,
    )
    parsed["_status"] = resp.status
    parsed["_body"] = resp.body
    return parsed
