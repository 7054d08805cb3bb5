"""Start URLs: what StartDeviceAuthorization's ``startUrl`` and RegisterClient's ``issuerUrl`` may be (AWS SSO
OIDC ``StartDeviceAuthorization``, ``RegisterClient``; IAM Identity Center user guide, "AWS access portal URL").

Each instance has the AWS default access-portal URL form, ``https://<identity store id>.awsapps.com/start``, as its
default start URL: the AWS CLI (2.35.13 and later) takes an AWS-owned start URL as an identifier without fetching
it, so scripts configure this URL and point ``AWS_ENDPOINT_URL_SSO_OIDC`` at ssoidc. ``<public url>/start`` (this
server's own page) is accepted too. Anything else is refused (InvalidRequestException: AWS's answer for a foreign
start URL is undocumented; refusing is the safe choice, a token is never issued for someone else's portal).
Comparison: the scheme and host case-insensitively, the path exactly, one trailing ``/`` (and a ``#/`` fragment,
which the portal's own links carry) ignored.
"""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_LENGTH = 1024


def default_start_url(identity_store_id: str) -> str:
    """The instance's default start URL: ``https://<identity store id>.awsapps.com/start``."""
    return f"https://{identity_store_id}.awsapps.com/start"


def _canonical(url: str) -> str | None:
    if (
        not isinstance(url, str)
        or not url
        or len(url) > MAX_LENGTH
        or not url.isascii()
        or not url.isprintable()
    ):
        return None
    if url.endswith("#/"):
        url = url[:-2]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.query or parts.fragment or "@" in parts.netloc or not parts.hostname:
        return None
    path = parts.path[:-1] if parts.path.endswith("/") else parts.path
    netloc = parts.hostname.lower() + (f":{port}" if port is not None else "")
    return f"{parts.scheme.lower()}://{netloc}{path}"


def is_start_url(url: str, *, identity_store_id: str, base_url: str) -> bool:
    """True if ``url`` is this instance's default start URL or ``<base_url>/start`` (see the module doc)."""
    got = _canonical(url)
    if got is None:
        return False
    accepted = {_canonical(default_start_url(identity_store_id)), _canonical(base_url.rstrip("/") + "/start")}
    return got in accepted
