"""Redirect URIs (issue 13 item 5) through both front doors and at redirect time, on SQLite and PostgreSQL.

* sso-admin PutApplicationGrant (boto3) refuses every URI ``ssoidc.oauth.redirect_uri`` refuses, with the modelled
  ValidationException naming ``Grant.AuthorizationCode.RedirectUris[i]``, and stores nothing;
* ``ssoidc apply`` (the YAML file, the real CLI) refuses them with the file path and changes nothing;
* a bad URI already stored (written behind the rules' back, as a store from before the rules could hold) is never
  redirected to: ``/authorize`` shows an error page and no code can be issued for it.
"""

from __future__ import annotations

import functools
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from botocore.exceptions import ClientError

from ssoidc.errors import InvalidRequest
from ssoidc.model import GRANT_AUTHORIZATION_CODE, AuthorizationCodeGrantConfig, Configuration
from ssoidc.oauth.pkce import s256
from ssoidc.storage.base import CatalogueWrite, Store
from tests.helpers.clients import make_admin_client
from tests.helpers.config import REDIRECT_URI, ROOT
from tests.helpers.servers import LiveServer, both_stores

CUSTOM = "arn:aws:sso::aws:applicationProvider/custom"

BAD_URIS = {
    "javascript": "javascript:alert(document.domain)//",
    "javascript-mixed-case": "JaVaScRiPt:alert(1)",
    "javascript-leading-space": " javascript:alert(1)",
    "javascript-leading-tab": "\tjavascript:alert(1)",
    "data": "data:text/html,<script>alert(1)</script>",
    "vbscript": "VBScript:msgbox(1)",
    "file": "file:///etc/passwd",
    "blob": "blob:https://app.example.com/0b5c",
    "wildcard-host": "https://*.example.com/cb",
    "wildcard-path": "https://app.example.com/*",
    "userinfo": "https://app.example.com@evil.example.com/cb",
    "fragment": "https://app.example.com/cb#x",
    "http-not-loopback": "http://app.example.com/cb",
    "http-any-address": "http://0.0.0.0:8000/cb",
    "loopback-lookalike": "http://127.0.0.1.evil.example.com/cb",
    "trailing-space": "https://app.example.com/cb ",
    "newline": "https://app.example.com/cb\r\nX: y",
    "too-long": "https://app.example.com/cb?" + "a" * 3000,
    "no-dot-private-scheme": "myapp:/cb",
    "not-a-uri": "not a uri",
}
GOOD_URIS = [
    "https://app.example.com/cb?tenant=1",
    "http://127.0.0.1/cb",
    "http://[::1]:8400/cb",
    "http://localhost:3000/callback",
    "com.example.app:/oauth2redirect",
]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest) -> LiveServer:
    return both_stores(request)


@pytest.fixture()
def sso(server: LiveServer) -> Any:
    return make_admin_client(server, "sso-admin")


@pytest.fixture()
def app_arn(server: LiveServer, sso: Any) -> Iterator[str]:
    """A fresh enabled application (no grant yet), deleted afterwards."""
    arn = str(
        sso.create_application(
            InstanceArn=server.instance_arn,
            ApplicationProviderArn=CUSTOM,
            Name=f"redirect-{secrets.token_hex(4)}",
        )["ApplicationArn"]
    )
    sso.put_application_assignment_configuration(ApplicationArn=arn, AssignmentRequired=False)
    yield arn
    sso.delete_application(ApplicationArn=arn)


def refused(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return dict(info.value.response["Error"])


def code_grant(*uris: str) -> dict[str, Any]:
    return {"AuthorizationCode": {"RedirectUris": list(uris)}}


def test_admin_api_refuses_bad_redirect_uris_and_stores_nothing(
    server: LiveServer, sso: Any, app_arn: str
) -> None:
    put = functools.partial(sso.put_application_grant, ApplicationArn=app_arn, GrantType="authorization_code")
    for case, uri in BAD_URIS.items():
        err = refused(lambda uri=uri: put(Grant=code_grant(uri)))  # type: ignore[misc]
        assert err["Code"] == "ValidationException", case
        assert "Grant.AuthorizationCode.RedirectUris[0]" in err["Message"], (case, err["Message"])
        assert uri not in err["Message"]  # the message says what is wrong, never echoes the value
        missing = refused(
            lambda: sso.get_application_grant(ApplicationArn=app_arn, GrantType="authorization_code")
        )
        assert missing["Code"] == "ResourceNotFoundException", case
    # a good URI stored, then a bad one next to it: refused by index, the stored grant unchanged
    put(Grant=code_grant(REDIRECT_URI))
    err = refused(lambda: put(Grant=code_grant(REDIRECT_URI, BAD_URIS["javascript"])))
    assert "Grant.AuthorizationCode.RedirectUris[1]" in err["Message"]
    got = sso.get_application_grant(ApplicationArn=app_arn, GrantType="authorization_code")["Grant"]
    assert got == code_grant(REDIRECT_URI)
    assert sso.list_application_grants(ApplicationArn=app_arn)["Grants"] == [
        {"GrantType": "authorization_code", "Grant": code_grant(REDIRECT_URI)}
    ]


def test_admin_api_accepts_https_loopback_and_private_use_uris_verbatim(sso: Any, app_arn: str) -> None:
    sso.put_application_grant(
        ApplicationArn=app_arn, GrantType="authorization_code", Grant=code_grant(*GOOD_URIS)
    )
    got = sso.get_application_grant(ApplicationArn=app_arn, GrantType="authorization_code")["Grant"]
    assert got == code_grant(*GOOD_URIS)


def cli(server: LiveServer, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    db = ["--database-url", server.database_url] if server.database_url else []
    return subprocess.run(
        [sys.executable, "-m", "ssoidc", *args, "--data-dir", str(server.data_dir), *db],
        input=stdin,
        env=server.env,
        cwd=ROOT,
        text=True,
        capture_output=True,
        check=False,
    )


def test_apply_refuses_bad_redirect_uris_with_the_file_path_and_changes_nothing(
    server: LiveServer, tmp_path: Any
) -> None:
    exported = cli(server, "export")
    assert exported.returncode == 0, exported.stderr
    doc = yaml.safe_load(exported.stdout)
    index = next(i for i, a in enumerate(doc["Applications"]) if a["Name"] == "web")
    uris = doc["Applications"][index]["Grants"]["authorization_code"]["AuthorizationCode"]["RedirectUris"]
    before = server.configuration()
    for case in ("javascript-leading-space", "wildcard-host", "http-not-loopback", "too-long"):
        bad = [*uris, BAD_URIS[case]]
        doc["Applications"][index]["Grants"]["authorization_code"]["AuthorizationCode"]["RedirectUris"] = bad
        path = tmp_path / f"{case}.yaml"
        path.write_text(yaml.safe_dump(doc))
        r = cli(server, "apply", str(path))
        assert r.returncode != 0, case
        where = f"Applications[{index}].Grants.authorization_code.AuthorizationCode.RedirectUris[{len(uris)}]"
        assert f"invalid configuration:\n  {where}: A redirect URI must" in r.stderr + r.stdout, r.stderr
        assert server.configuration() == before


def _with_redirect_uris(arn: str, uris: tuple[str, ...]) -> Callable[[Configuration | None], CatalogueWrite]:
    def change(stored: Configuration | None) -> CatalogueWrite:
        assert stored is not None
        apps = tuple(
            replace(a, grants={**a.grants, GRANT_AUTHORIZATION_CODE: AuthorizationCodeGrantConfig(uris)})
            if a.arn == arn
            else a
            for a in stored.applications
        )
        return CatalogueWrite(replace(stored, applications=apps))

    return change


def test_a_bad_uri_stored_before_the_rules_is_never_redirected_to(
    server: LiveServer, sso: Any, app_arn: str
) -> None:
    sso.put_application_grant(
        ApplicationArn=app_arn, GrantType="authorization_code", Grant=code_grant(REDIRECT_URI)
    )
    stored_bad = ["javascript:alert(1)//", "http://app.example.com/cb", "https://app.example.com/cb#frag"]

    async def tamper(st: Store) -> int:  # what a store from before the rules may hold
        return await st.edit_catalogue(_with_redirect_uris(app_arn, (REDIRECT_URI, *stored_bad)))

    server.with_store(tamper)
    grant = sso.get_application_grant(ApplicationArn=app_arn, GrantType="authorization_code")["Grant"]
    assert grant == code_grant(REDIRECT_URI, *stored_bad)  # the server sees it
    base = {
        "response_type": "code",
        "client_id": app_arn,
        "state": "st",
        "code_challenge": s256("v" * 50),
        "code_challenge_method": "S256",
    }
    for uri in stored_bad:
        for extra in ({}, {"response_type": "token"}):  # the sign-in page, and an error that would redirect
            r = httpx.get(
                f"{server.url}/authorize?" + urlencode({**base, "redirect_uri": uri, **extra}),
                follow_redirects=False,
            )
            assert r.status_code == 400, uri
            assert "location" not in r.headers
            assert "is registered for the application" in r.text and "not a valid redirect URI" in r.text
        before = server.count("auth_codes")
        with pytest.raises(InvalidRequest, match="not a registered, valid redirect URI"):
            server.mint_code(app=app_arn, redirect_uri=uri)
        assert server.count("auth_codes") == before
    ok = httpx.get(f"{server.url}/authorize?" + urlencode({**base, "redirect_uri": REDIRECT_URI}))
    assert ok.status_code == 200 and 'id="signin-form"' in ok.text
    # until it is fixed, catalogue changes say which application holds it (and change nothing) ...
    name = sso.describe_application(ApplicationArn=app_arn)["Name"]
    before = sso.list_applications(InstanceArn=server.instance_arn)["Applications"]
    err = refused(
        lambda: sso.create_application(
            InstanceArn=server.instance_arn,
            ApplicationProviderArn=CUSTOM,
            Name=f"other-{secrets.token_hex(4)}",
        )
    )
    assert err["Code"] == "ValidationException"
    assert f"The application {name!r} has a stored redirect URI" in err["Message"], err["Message"]
    assert sso.list_applications(InstanceArn=server.instance_arn)["Applications"] == before
    # ... and replacing the grant through the front door fixes it
    sso.put_application_grant(
        ApplicationArn=app_arn, GrantType="authorization_code", Grant=code_grant(REDIRECT_URI)
    )
    other = sso.create_application(
        InstanceArn=server.instance_arn, ApplicationProviderArn=CUSTOM, Name=f"other-{secrets.token_hex(4)}"
    )["ApplicationArn"]
    sso.delete_application(ApplicationArn=other)
