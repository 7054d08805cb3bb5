from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.support import ADMIN_KEY, ADMIN_SECRET, LiveServer, start_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = start_server(tmp_path_factory.mktemp("server"))
    yield s
    s.stop()


def make_client(server: LiveServer, **kw: Any) -> Any:
    return boto3.client(
        "sso-oidc",
        endpoint_url=server.url,
        region_name=kw.pop("region_name", "us-east-1"),
        aws_access_key_id=kw.pop("aws_access_key_id", ADMIN_KEY),
        aws_secret_access_key=kw.pop("aws_secret_access_key", ADMIN_SECRET),
        config=Config(retries={"max_attempts": 1}, **kw.pop("config", {})),
        **kw,
    )


def race(server: LiveServer, n: int = 50, **params: Any) -> list[str]:
    """Send the same CreateTokenWithIAM request from ``n`` clients at once; return "ok" or the error code of each."""
    from concurrent.futures import ThreadPoolExecutor

    from botocore.exceptions import ClientError

    clients = [make_client(server) for _ in range(n)]

    def call(c: Any) -> str:
        try:
            c.create_token_with_iam(**params)
            return "ok"
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(call, clients))


@pytest.fixture()
def oidc(server: LiveServer) -> Any:
    return make_client(server)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
