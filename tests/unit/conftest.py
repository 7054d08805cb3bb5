"""Fixtures of every unit test: async tests (``pytest.mark.anyio``) run on asyncio."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
