"""ssoidc as a test tool: a real ssoidc for a test suite (docs/testing.md).

``server(**options)`` is a context manager yielding a ``TestServer``: ``.endpoint_url``, ``.client(service_name)``
(boto3, signed with credentials it accepts), ``.clock.advance(seconds)``, ``.faults``, ``.issuer`` (a local trusted
token issuer), ``.apply(config)``, ``.login(user)`` (an SSO profile with a real token cache). While the block runs,
plain ``boto3.client("sso-oidc" | "sso" | "sso-admin" | "identitystore" | "sts")`` reaches it; afterwards the
environment is as it was. The pytest plugin (``ssoidc.testing.plugin``, registered through the ``pytest11`` entry
point) gives the same object as the ``ssoidc_server`` fixture.
"""

from ssoidc.testing.remote import RemoteControls
from ssoidc.testing.server import (
    Faults,
    TestClock,
    TestIssuer,
    TestServer,
    patched_environment,
    server,
    test_issuer_config,
)

__all__ = [
    "Faults",
    "RemoteControls",
    "TestClock",
    "TestIssuer",
    "TestServer",
    "patched_environment",
    "server",
    "test_issuer_config",
]
