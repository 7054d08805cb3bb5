"""The sealed refresh-token format (``ssoidc/oauth/tokens.py``): round trip, binding, tampering, fallbacks."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssoidc.base64url import b64u, b64u_decode
from ssoidc.errors import ConfigError
from ssoidc.oauth.tokens import MAC_TOKEN_BODY_CHARS, REFRESH_MAX_CHARS, RefreshClaims, TokenMinter
from ssoidc.settings import Settings, export_env, settings_from_env

APP = "arn:aws:sso::123456789012:application/ssoins-1234567890abcdef/apl-1234567890abcdef"
OTHER_APP = "arn:aws:sso::123456789012:application/ssoins-1234567890abcdef/apl-0000000000000000"
MINTER = TokenMinter(bytes(range(32)))
CLAIMS = RefreshClaims(
    user_id="90676a1e-0011-7044-a7a1-3f5e9c5d1a2b",
    scopes=("openid", "aws", "sts:identity_context"),
    family_id="Zq3rX1x9v0KcYl0xT1x2aQ",
    issued_at=1_795_000_000.25,
    expires_at=1_795_028_800.25,
    session_expires_at=1_795_028_800.25,
    auth_time=1_794_999_000.5,
    act={"sub": "arn:aws:sso::123456789012:trustedTokenIssuer/ssoins-1234567890abcdef/tti-1"},
)


def test_round_trip_gives_back_the_claims_and_the_stored_hash() -> None:
    token, token_hash = MINTER.mint_refresh(APP, CLAIMS)
    assert token_hash == hashlib.sha256(token.encode()).digest()
    assert MINTER.open_refresh(token, APP) == (token_hash, CLAIMS)
    no_act = RefreshClaims(**{**{f: getattr(CLAIMS, f) for f in CLAIMS.__slots__}, "act": None})
    token2, hash2 = MINTER.mint_refresh(APP, no_act)
    assert MINTER.open_refresh(token2, APP) == (hash2, no_act)


def test_shape_is_aws_like_and_the_header_is_the_issue_time() -> None:
    token, _ = MINTER.mint_refresh(APP, CLAIMS)
    body, _, tag = token.rpartition(":")
    assert token.startswith("aorAAAAAG")
    assert len(b64u_decode(tag)) == 16
    issued, fmt = struct.unpack(">QB", b64u_decode(body[3:])[:9])
    assert (issued, fmt) == (int(CLAIMS.issued_at), 1)
    assert len(token) < 600


def test_every_token_is_unique_even_for_the_same_claims() -> None:
    tokens = {MINTER.mint_refresh(APP, CLAIMS)[0] for _ in range(200)}
    assert len(tokens) == 200


def test_bound_to_application_and_master_key() -> None:
    token, _ = MINTER.mint_refresh(APP, CLAIMS)
    assert MINTER.open_refresh(token, OTHER_APP) is None
    assert TokenMinter(bytes(32)).open_refresh(token, APP) is None


def test_any_single_character_change_is_refused() -> None:
    token, _ = MINTER.mint_refresh(APP, CLAIMS)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_:"
    for i in range(len(token)):
        for replacement in {alphabet[(alphabet.index(token[i]) + 1) % len(alphabet)], "="}:
            changed = token[:i] + replacement + token[i + 1 :]
            assert MINTER.open_refresh(changed, APP) is None, (i, replacement)
    assert MINTER.open_refresh(token[:-1], APP) is None
    assert MINTER.open_refresh(token + "A", APP) is None


def test_header_is_authenticated() -> None:
    token, _ = MINTER.mint_refresh(APP, CLAIMS)
    body, _, tag = token.rpartition(":")
    raw = bytearray(b64u_decode(body[3:]))
    raw[7] ^= 1  # another issue time, same ciphertext
    assert MINTER.open_refresh(f"aor{b64u(bytes(raw))}:{tag}", APP) is None


def test_mac_format_tokens_open_without_claims() -> None:
    legacy, legacy_hash = MINTER.mint("refresh")
    assert len(legacy.rpartition(":")[0]) == MAC_TOKEN_BODY_CHARS
    assert MINTER.open_refresh(legacy, APP) == (legacy_hash, None)
    forged = legacy[:-2] + ("AA" if not legacy.endswith("AA") else "BB")
    assert MINTER.open_refresh(forged, APP) is None
    access, _ = MINTER.mint("access")
    assert MINTER.open_refresh(access, APP) is None


def test_too_long_to_seal_falls_back_to_the_mac_format() -> None:
    act: dict[str, object] = {"sub": APP}
    for _ in range(40):  # a deep token-exchange chain
        act = {"sub": APP, "act": act}
    deep = RefreshClaims(**{**{f: getattr(CLAIMS, f) for f in CLAIMS.__slots__}, "act": act})
    token, token_hash = MINTER.mint_refresh(APP, deep)
    assert len(token) <= REFRESH_MAX_CHARS
    assert MINTER.open_refresh(token, APP) == (token_hash, None)


def test_a_valid_seal_of_something_else_is_refused() -> None:
    header = struct.pack(">QB", 1_795_000_000, 1)
    for doc in (b"[1, 2]", b"{}", b'{"u": 1}', b"not json"):
        sealed = MINTER._refresh.encrypt(doc, [b"aor", header, APP.encode()])
        token = f"aor{b64u(header + sealed[16:])}:{b64u(sealed[:16])}"
        assert MINTER.open_refresh(token, APP) is None, doc


@given(st.text(max_size=700))
def test_arbitrary_text_is_refused_without_raising(text: str) -> None:
    assert MINTER.open_refresh("aor" + text, APP) is None
    assert MINTER.open_refresh(text, APP) is None


def test_mac_minter_mints_the_earlier_format_which_a_sealed_minter_accepts() -> None:
    mac_minter = TokenMinter(bytes(range(32)), sealed_refresh=False)
    token, token_hash = mac_minter.mint_refresh(APP, CLAIMS)
    assert len(token.rpartition(":")[0]) == MAC_TOKEN_BODY_CHARS
    assert mac_minter.check(token, "refresh") == token_hash
    assert MINTER.open_refresh(token, APP) == (token_hash, None)


def test_refresh_token_format_setting() -> None:
    assert settings_from_env().refresh_token_format == "sealed"
    assert Settings(refresh_token_format="mac").validate().refresh_token_format == "mac"
    with pytest.raises(ConfigError, match="SSOIDC_REFRESH_TOKEN_FORMAT"):
        Settings(refresh_token_format="jwt").validate()
    assert export_env(Settings(refresh_token_format="mac"))["SSOIDC_REFRESH_TOKEN_FORMAT"] == "mac"
