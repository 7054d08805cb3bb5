"""The pytest plugin of ``ssoidc.testing`` (entry point ``pytest11``: installing ssoidc is enough).

Fixtures, each yielding a ``ssoidc.testing.TestServer`` with the AWS environment pointed at it while it lives:

* ``ssoidc_server``: a fresh server for each test (function scope);
* ``ssoidc_module_server``: one server for a test module;
* ``ssoidc_session_server``: one server for the whole run (under pytest-xdist: one per worker process).

A test module or ``conftest.py`` sets the initial configuration by overriding the ``ssoidc_config`` fixture (the
``ssoidc apply`` file shape as a dict; ``{issuer_url}`` and ``{endpoint_url}`` in its strings are filled in). The
module and session servers read ``ssoidc_module_config`` / ``ssoidc_session_config`` (default: ``ssoidc_config``'s
default, one instance). The function fixture also clears the clock's faults after each test.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from ssoidc.testing.server import DEFAULT_CONFIG, TestServer, patched_environment, server


@pytest.fixture
def ssoidc_config() -> dict[str, Any]:
    """The configuration each ``ssoidc_server`` starts with (override it in a module or conftest.py)."""
    return copy.deepcopy(DEFAULT_CONFIG)


@pytest.fixture(scope="module")
def ssoidc_module_config() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_CONFIG)


@pytest.fixture(scope="session")
def ssoidc_session_config() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_CONFIG)


@pytest.fixture
def ssoidc_server(ssoidc_config: dict[str, Any]) -> Iterator[TestServer]:
    """A real ssoidc for this test, with the AWS environment pointed at it."""
    with server(config=ssoidc_config) as srv:
        yield srv


@pytest.fixture(scope="module")
def ssoidc_module_server(ssoidc_module_config: dict[str, Any]) -> Iterator[TestServer]:
    """One ssoidc for the test module (the environment is set around each test that uses it)."""
    with server(config=ssoidc_module_config, environment=False) as srv:
        yield srv


@pytest.fixture(scope="session")
def ssoidc_session_server(ssoidc_session_config: dict[str, Any]) -> Iterator[TestServer]:
    """One ssoidc for the run, per xdist worker (the environment is set around each test that uses it)."""
    with server(config=ssoidc_session_config, environment=False) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _ssoidc_environment(request: pytest.FixtureRequest) -> Iterator[None]:
    """Around a test that uses a module or session server: that server's environment, restored afterwards."""
    names = set(request.fixturenames) & {"ssoidc_module_server", "ssoidc_session_server"}
    if not names or "ssoidc_server" in request.fixturenames:
        yield
        return
    srv: TestServer = request.getfixturevalue(sorted(names)[0])
    with patched_environment(srv.environment()):
        yield
    srv.faults.clear()
