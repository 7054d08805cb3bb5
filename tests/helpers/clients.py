"""Talking to a live server: boto3 clients, concurrent identical requests, SigV4-signed raw requests and
unverified token decoding."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any
from unittest import mock

import boto3
import httpx
import jwt
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.helpers.config import ADMIN_KEY, ADMIN_SECRET
from tests.helpers.servers import LiveServer


def make_admin_client(server: LiveServer, service: str, **kw: Any) -> Any:
    """A boto3 client of ``service`` (sso-admin, identitystore, sso-oidc) for ``server``: the bootstrap admin
    credential and us-east-1 unless given, one attempt per call; ``config`` holds extra botocore Config options."""
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=kw.pop("region_name", "us-east-1"),
        aws_access_key_id=kw.pop("aws_access_key_id", ADMIN_KEY),
        aws_secret_access_key=kw.pop("aws_secret_access_key", ADMIN_SECRET),
        config=Config(retries={"total_max_attempts": 1}, **kw.pop("config", {})),
        **kw,
    )


def make_client(server: LiveServer, **kw: Any) -> Any:
    """An sso-oidc client (``make_admin_client``'s defaults)."""
    return make_admin_client(server, "sso-oidc", **kw)


def race(server: LiveServer, n: int = 50, **params: Any) -> list[str]:
    """Send the same CreateTokenWithIAM request from ``n`` clients at once; return "ok" or the error code of each."""
    clients = [make_client(server) for _ in range(n)]

    def call(c: Any) -> str:
        try:
            c.create_token_with_iam(**params)
            return "ok"
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(call, clients))


def decode_unverified(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def sign_request(
    url: str,
    body: bytes,
    *,
    key: str = ADMIN_KEY,
    secret: str = ADMIN_SECRET,
    region: str = "us-east-1",
    service: str = "sso-oauth",
    when: Any = None,
    session_token: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """Sign a POST with botocore's own SigV4 signer (optionally at another time) and return its headers."""
    req = AWSRequest(
        method="POST", url=url, data=body, headers={"Content-Type": "application/json", **(headers or {})}
    )
    auth = SigV4Auth(Credentials(key, secret, session_token), service, region)
    if when is None:
        auth.add_auth(req)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            auth.add_auth(req)
    return dict(req.headers.items())


def post_token(server: LiveServer, body: bytes, *, query: str = "aws_iam=t", **sign: Any) -> httpx.Response:
    url = f"{server.url}/token" + (f"?{query}" if query else "")
    headers = sign_request(url, body, **sign)
    return httpx.post(url, content=body, headers=headers, timeout=10)
