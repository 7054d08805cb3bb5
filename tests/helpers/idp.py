"""A small OpenID identity provider on loopback for the tests: OpenID discovery and a JWKS served over HTTP from a
thread, its signing key replaceable under the same ``kid`` (``rotate``), and RS256 assertions signed with it.

A live ssoidc server trusts it when started with ``--demo`` (which allows http/loopback issuers), after a trusted
token issuer with ``url`` is created (``register``)."""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.helpers.config import ACCOUNT, allow_account

CUSTOM_PROVIDER = "arn:aws:sso::aws:applicationProvider/custom"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class LocalIssuer:
    url: str = ""
    kid: str = "k1"
    key: rsa.RSAPrivateKey = field(default_factory=_new_key)
    fetches: int = 0
    """JWKS requests served (how often some node fetched the keys)."""

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def rotate(self) -> None:
        """A new signing key under the same ``kid`` (what a careless identity provider does)."""
        self.key = _new_key()

    def assertion(
        self, email: str = "alice@example.com", audience: str = "local-aud", **overrides: Any
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "sub": email,
            "aud": audience,
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(16),
        }
        claims.update(overrides)
        return jwt.encode(
            {k: v for k, v in claims.items() if v is not None},
            self.key,
            algorithm="RS256",
            headers={"kid": self.kid},
        )


@contextmanager
def local_issuer() -> Iterator[LocalIssuer]:
    issuer = LocalIssuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"}
            elif self.path == "/jwks":
                issuer.fetches += 1
                body = issuer.jwks()
            else:
                self.send_error(404)
                return
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@dataclass
class IssuerApp:
    """A trusted token issuer for a ``LocalIssuer`` and an application whose JWT-bearer grant trusts it (with the
    refresh-token grant, access scope ``local:read``, assignment not required), made through sso-admin."""

    issuer_arn: str
    app_arn: str


def register(sso: Any, instance_arn: str, issuer: LocalIssuer, audience: str = "local-aud") -> IssuerApp:
    """Create the trusted token issuer and the application through sso-admin (boto3 client ``sso``)."""
    name = f"local-{uuid.uuid4().hex[:8]}"
    tti = sso.create_trusted_token_issuer(
        InstanceArn=instance_arn,
        Name=name,
        TrustedTokenIssuerType="OIDC_JWT",
        TrustedTokenIssuerConfiguration={
            "OidcJwtConfiguration": {
                "IssuerUrl": issuer.url,
                "ClaimAttributePath": "email",
                "IdentityStoreAttributePath": "emails.value",
                "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
            }
        },
    )["TrustedTokenIssuerArn"]
    app = sso.create_application(InstanceArn=instance_arn, ApplicationProviderArn=CUSTOM_PROVIDER, Name=name)[
        "ApplicationArn"
    ]
    sso.put_application_grant(
        ApplicationArn=app,
        GrantType=JWT_BEARER,
        Grant={
            "JwtBearer": {
                "AuthorizedTokenIssuers": [{"TrustedTokenIssuerArn": tti, "AuthorizedAudiences": [audience]}]
            }
        },
    )
    sso.put_application_grant(ApplicationArn=app, GrantType="refresh_token", Grant={"RefreshToken": {}})
    sso.put_application_authentication_method(
        ApplicationArn=app,
        AuthenticationMethodType="IAM",
        AuthenticationMethod={"Iam": {"ActorPolicy": allow_account(ACCOUNT)}},
    )
    sso.put_application_assignment_configuration(ApplicationArn=app, AssignmentRequired=False)
    sso.put_application_access_scope(ApplicationArn=app, Scope="local:read")
    return IssuerApp(str(tti), str(app))


def unregister(sso: Any, made: IssuerApp) -> None:
    """Delete what ``register`` made (the application first: its grant names the issuer)."""
    with suppress(sso.exceptions.ResourceNotFoundException):
        sso.delete_application(ApplicationArn=made.app_arn)
    with suppress(sso.exceptions.ResourceNotFoundException):
        sso.delete_trusted_token_issuer(TrustedTokenIssuerArn=made.issuer_arn)
