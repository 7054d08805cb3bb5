"""Which redirect URIs a client may register and be redirected to (RFC 6749 section 3.1.2, RFC 9700 sections 2.1
and 4.1, RFC 8252 sections 7.1, 7.3 and 8.3, OIDC Core 3.1.2.1).

One function decides for both front doors (sso-admin PutApplicationGrant and the configuration file, through the
grant registry's mapper and ``ssoidc.admin.rules``), for ``/authorize`` before any redirect, and for code
issuance; ``RedirectPolicy`` says what a kind of client may use (issue 14's public native clients reuse it).

A redirect URI is accepted only if it is

* at most ``MAX_LENGTH`` (2,048) characters of printable ASCII: no space, no control character, no character
  RFC 3986 does not allow in a URI, no malformed ``%`` escape; nothing is stripped or normalised;
* absolute, with one of these schemes (compared case-insensitively):

  - ``https`` with a DNS name or an IP literal as host and, if any, a numeric port;
  - ``http`` only with a loopback host: ``127.0.0.1``, ``[::1]`` or ``localhost`` (RFC 8252 section 7.3 and
    8.3: the name ``localhost`` is NOT RECOMMENDED for native apps but is what web development servers use, so
    it is accepted, and matched exactly);
  - a private-use scheme in reverse-domain form, with at least one ``.`` (``com.example.app:/callback``,
    RFC 8252 section 7.1), when the policy allows one;

  so ``javascript:``, ``data:``, ``vbscript:``, ``file:``, ``blob:`` and every other scheme are refused in any
  case;
* without a fragment (RFC 6749 section 3.1.2), without userinfo (``user@``), without ``*`` anywhere (no
  wildcards: RFC 9700 section 2.1 requires exact matching).

``/authorize`` compares the request's ``redirect_uri`` with the registered ones by exact string (RFC 9700 section
2.1). A policy with ``loopback_any_port`` (native clients, RFC 8252 section 7.3) also accepts a registered
``http://127.0.0.1`` or ``http://[::1]`` URI with any port; sso-admin applications do not use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

MAX_LENGTH = 2048
"""The longest redirect URI accepted (the models leave ``URI`` unbounded; 2,048 is the common browser limit)."""

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
"""Hosts an ``http`` redirect URI may name (``urlsplit`` gives ``[::1]`` as ``::1``)."""
_LOOPBACK_IPS = frozenset({"127.0.0.1", "::1"})

# RFC 3986 section 2: unreserved, reserved and "%" (checked again below for well-formed escapes). "*" is a
# sub-delim but never allowed here, so it is left out.
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()+,;=%]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+")


class RedirectUriError(ValueError):
    """A redirect URI breaks a rule; the message says which, without repeating the URI."""


@dataclass(frozen=True, slots=True)
class RedirectPolicy:
    """What a kind of client may register: private-use schemes, and loopback URIs matched on any port."""

    private_use_schemes: bool = True
    loopback_any_port: bool = False


APPLICATION = RedirectPolicy()
"""sso-admin applications (the authorization-code grant's ``RedirectUris``): https, loopback http and private-use
schemes; matched exactly."""

NATIVE = RedirectPolicy(private_use_schemes=True, loopback_any_port=True)
"""Public native clients (RFC 8252): as ``APPLICATION``, and loopback IP URIs match on any port (section 7.3)."""


def _host_ok(parts: SplitResult) -> bool:
    host = parts.hostname or ""
    netloc = parts.netloc
    if netloc.startswith("["):
        return _IPV6.fullmatch(host) is not None and ":" in host
    labels = host.rstrip(".").split(".") if host else []
    return bool(labels) and all(_DNS_LABEL.fullmatch(label) for label in labels)


def validate_redirect_uri(uri: str, policy: RedirectPolicy = APPLICATION) -> str:
    """``uri`` if it may be registered (and redirected to) under ``policy``; else ``RedirectUriError``.

    Nothing is stripped or normalised: what is returned is ``uri`` itself, the string exact matching uses.
    """
    if not isinstance(uri, str) or not uri:
        raise RedirectUriError("A redirect URI must be a non-empty string")
    if len(uri) > MAX_LENGTH:
        raise RedirectUriError(f"A redirect URI must be at most {MAX_LENGTH} characters long")
    if not uri.isascii() or not uri.isprintable() or " " in uri:
        raise RedirectUriError(
            "A redirect URI must not contain spaces, control characters or non-ASCII characters"
            " (percent-encode them; nothing is stripped)"
        )
    if "*" in uri:
        raise RedirectUriError("A redirect URI must not contain a wildcard (*): it is matched exactly")
    if "#" in uri:
        raise RedirectUriError("A redirect URI must not contain a fragment (RFC 6749 section 3.1.2)")
    if _URI_CHARS.fullmatch(uri) is None or _BAD_ESCAPE.search(uri):
        raise RedirectUriError("A redirect URI must contain only characters RFC 3986 allows in a URI")
    scheme, colon, _ = uri.partition(":")
    if not colon or _SCHEME.fullmatch(scheme) is None:
        raise RedirectUriError("A redirect URI must be an absolute URI (scheme:...)")
    try:
        parts = urlsplit(uri)
        port = parts.port  # raises ValueError for a port out of range or not a number
    except ValueError:
        raise RedirectUriError("A redirect URI must be an absolute URI with a valid host and port") from None
    if "@" in parts.netloc:
        raise RedirectUriError("A redirect URI must not contain userinfo (user@host)")
    lowered = scheme.lower()
    if lowered in ("https", "http"):
        if not uri[len(scheme) :].startswith("://") or not _host_ok(parts):
            raise RedirectUriError(f"A redirect URI must name a valid host ({lowered}://host/...)")
        if parts.netloc.endswith(":") or (port is not None and port == 0):
            raise RedirectUriError("A redirect URI must have a valid port, if any")
        if lowered == "http" and (parts.hostname or "").lower() not in LOOPBACK_HOSTS:
            raise RedirectUriError(
                "A redirect URI must use https; http is allowed only for the loopback hosts 127.0.0.1, [::1] and"
                " localhost (RFC 8252 section 7.3)"
            )
        return uri
    if policy.private_use_schemes and "." in scheme:
        if parts.netloc and not _host_ok(parts):
            raise RedirectUriError(
                "A redirect URI must have a valid host, if any, after a private-use scheme"
            )
        return uri
    raise RedirectUriError(
        "A redirect URI must use https, http on a loopback host, or a private-use scheme in reverse-domain form"
        " such as com.example.app:/callback (RFC 8252 section 7.1); scheme "
        f"{lowered[:32]!r} is not allowed"
    )


def is_valid(uri: str, policy: RedirectPolicy = APPLICATION) -> bool:
    """True if ``validate_redirect_uri`` accepts ``uri``."""
    try:
        validate_redirect_uri(uri, policy)
    except RedirectUriError:
        return False
    return True


_LOOPBACK_PORT = re.compile(r"(http://(?:127\.0\.0\.1|\[::1\]))(?::[0-9]{1,5})?([/?].*)?", re.DOTALL)


def _without_loopback_port(uri: str) -> str | None:
    """``uri`` without its port if it is an ``http`` loopback IP URI (exactly as written, lower-case scheme)."""
    m = _LOOPBACK_PORT.fullmatch(uri)
    return None if m is None else m.group(1) + (m.group(2) or "")


def registered_match(
    requested: str, registered: Iterable[str], policy: RedirectPolicy = APPLICATION
) -> str | None:
    """The redirect URI to use if ``requested`` matches a registered one, else None.

    RFC 9700 section 2.1: exact string comparison; with ``policy.loopback_any_port``, a registered ``http``
    loopback IP URI also matches ``requested`` when only the port differs (RFC 8252 section 7.3). A match is
    returned only if both still pass ``validate_redirect_uri``, so a URI stored before these rules existed is
    never redirected to.
    """
    candidates = list(registered)
    if not is_valid(requested, policy):
        return None
    if requested in candidates:
        return requested
    bare = _without_loopback_port(requested) if policy.loopback_any_port else None
    if bare is None:
        return None
    for uri in candidates:
        if _without_loopback_port(uri) == bare and is_valid(uri, policy):
            return requested
    return None


def form_action_source(uri: str) -> str:
    """The CSP source expression that allows exactly ``uri``'s origin (CSP3 ``host-source`` / ``scheme-source``),
    for ``form-action`` on the consent page. ``uri`` must have passed ``validate_redirect_uri``."""
    parts = urlsplit(uri)
    if parts.scheme.lower() in ("http", "https"):
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port is not None else ""
        return f"{parts.scheme.lower()}://{host}{port}"
    return f"{parts.scheme.lower()}:"
