"""`ssoidc apply` against a running server: a valid file is served at once; an invalid one changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from tests.helpers.clients import make_client
from tests.helpers.config import JWT_BEARER, ROOT, e2e_config
from tests.helpers.servers import LiveServer, private_server

own_server = private_server("apply", scope="function")


def apply(server: LiveServer, doc: dict[str, Any], path: Path) -> subprocess.CompletedProcess[str]:
    path.write_text(yaml.safe_dump(doc))
    return subprocess.run(
        [sys.executable, "-m", "ssoidc", "apply", str(path), "--data-dir", str(server.data_dir)],
        env=server.env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_apply_is_served_immediately_and_invalid_files_change_nothing(
    own_server: LiveServer, tmp_path: Path
) -> None:
    server = own_server
    oidc = make_client(server)
    with pytest.raises(ClientError) as info:
        oidc.create_token_with_iam(
            clientId=server.apps["main"],
            grantType=JWT_BEARER,
            assertion=server.assertion("carol@example.com"),
        )
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"

    doc = e2e_config(server.url)
    main = next(a for a in doc["Applications"] if a["Name"] == "main")
    main["Assignments"].append({"PrincipalType": "USER", "PrincipalId": "carol"})
    version_before = server.count("config_resources")

    bad = yaml.safe_load(yaml.safe_dump(doc))
    bad["Applications"][0]["Grants"]["refresh_token"] = {"RefreshToken": {}, "TokenExchange": {}}
    bad["Users"][0]["Emails"] = [{"Value": ""}]
    out = apply(server, bad, tmp_path / "bad.yaml")
    assert out.returncode == 2
    assert "Users[0].Emails[0].Value" in out.stderr
    assert server.count("config_resources") == version_before
    with pytest.raises(ClientError):
        oidc.create_token_with_iam(
            clientId=server.apps["main"],
            grantType=JWT_BEARER,
            assertion=server.assertion("carol@example.com"),
        )

    out = apply(server, doc, tmp_path / "good.yaml")
    assert out.returncode == 0, out.stderr
    assert server.apps["main"] in out.stdout  # identifiers kept
    resp = oidc.create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion("carol@example.com")
    )
    assert resp["accessToken"].startswith("aoa")
