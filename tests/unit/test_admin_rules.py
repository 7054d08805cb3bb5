"""Invariants every stored configuration keeps (``ssoidc.admin.rules``), whichever front door changed it."""

from __future__ import annotations

import pytest

from ssoidc.admin.rules import check
from ssoidc.errors import ValidationFailed
from ssoidc.model import (
    GRANT_AUTHORIZATION_CODE,
    Application,
    AuthorizationCodeGrant,
    Configuration,
    Instance,
)

INSTANCE = Instance("arn:aws:sso:::instance/ssoins-1111222233334444", "d-1234567890", "123456789012", "i")


def with_redirect(uri: str) -> Configuration:
    app = Application(
        arn="arn:aws:sso::123456789012:application/ssoins-1111222233334444/apl-aaaaaaaaaaaaaaaa",
        name="web",
        instance_arn=INSTANCE.instance_arn,
        grants={GRANT_AUTHORIZATION_CODE: AuthorizationCodeGrant((uri,))},
    )
    return Configuration(instance=INSTANCE, applications=(app,))


@pytest.mark.parametrize(
    "uri", ["https://app.example.com/cb", "http://127.0.0.1:8000/demo/callback", "com.example.app:/oauth"]
)
def test_good_redirect_uris_pass(uri: str) -> None:
    check(with_redirect(uri))


@pytest.mark.parametrize(
    "uri",
    [
        "/relative/cb",
        "https://app.example.com/cb#frag",
        "http://[::1]:99999/cb",  # found by the admin fuzz test: a port out of range was accepted
        "https://app.example.com:port/cb",
        "https:///no-host",
    ],
)
def test_bad_redirect_uris_are_refused_naming_the_member(uri: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        check(with_redirect(uri))
    assert info.value.field == "Grant.AuthorizationCode.RedirectUris[0]"
