"""``ssoidc.base64url``: base64url without padding (RFC 4648 section 5), the one copy every module uses."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssoidc.base64url import b64u, b64u_decode

# RFC 4648 section 10 test vectors, padding removed (RFC 7515 section 2).
VECTORS = [
    (b"", ""),
    (b"f", "Zg"),
    (b"fo", "Zm8"),
    (b"foo", "Zm9v"),
    (b"foob", "Zm9vYg"),
    (b"fooba", "Zm9vYmE"),
    (b"foobar", "Zm9vYmFy"),
    (b"\xfb\xff\xbf", "-_-_"),  # the two characters that differ from base64 (RFC 4648 section 5, table 2)
]


@pytest.mark.parametrize(("data", "text"), VECTORS)
def test_rfc_4648_vectors(data: bytes, text: str) -> None:
    assert b64u(data) == text
    assert b64u_decode(text) == data
    assert b64u_decode(text + "=" * (-len(text) % 4)) == data  # padded input is accepted too


@given(st.binary(max_size=200))
def test_round_trip_and_alphabet(data: bytes) -> None:
    text = b64u(data)
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert b64u_decode(text) == data
    assert text == base64.b64encode(data).decode().rstrip("=").replace("+", "-").replace("/", "_")


@pytest.mark.parametrize("text", ["Z", "Zm9vY", "A" * 5])
def test_impossible_lengths_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        b64u_decode(text)


def test_no_other_copy_in_the_package() -> None:
    """Only ``ssoidc/base64url.py`` calls the urlsafe functions of ``base64``."""
    import pathlib

    import ssoidc

    root = pathlib.Path(ssoidc.__file__).parent
    users = sorted(
        str(p.relative_to(root)) for p in root.rglob("*.py") if "urlsafe_b64" in p.read_text(encoding="utf-8")
    )
    assert users == ["base64url.py"]
