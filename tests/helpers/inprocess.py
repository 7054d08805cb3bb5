"""Helpers for tests that drive a node's services (``ssoidc.compose.Services``) in process (no HTTP): the account-wide ActorPolicy, code sessions, and a
node on the in-memory store."""

from __future__ import annotations

from typing import Any

from ssoidc.clock import Clock
from ssoidc.compose import Services, build_services
from ssoidc.settings import Settings
from ssoidc.storage.memory import MemoryData, MemoryStore
from tests.helpers.storage import KEY

ALLOW_ACCOUNT: dict[str, Any] = {
    "IAM": {
        "Iam": {
            "ActorPolicy": {
                "Statement": {
                    "Effect": "Allow",
                    "Principal": {"AWS": "123456789012"},
                    "Action": "sso-oauth:*",
                    "Resource": "*",
                }
            }
        }
    }
}
"""``AuthenticationMethods`` that let the account (the in-process caller's) do anything."""


async def issue_code(
    node: Services, application_arn: str, user_id: str, redirect_uri: str, now: float
) -> str:
    """An authorization code for ``user_id`` as the sign-in flow would issue it (no PKCE, default scopes)."""
    directory = await node.snapshot.refresh()
    return await node.code_issuer.issue_code(
        directory,
        application_arn=application_arn,
        user_id=user_id,
        redirect_uri=redirect_uri,
        scopes=None,
        code_challenge=None,
        code_challenge_method=None,
        now=now,
    )


async def memory_services(settings: Settings, clock: Clock, data: MemoryData | None = None) -> Services:
    """A node's services built on a ``MemoryStore`` (on ``data``, else a new one) instead of the store its settings
    name: the in-memory store is for tests only, never a setting. Every such node uses the fixed test master key
    (nothing is written to the data dir), so nodes on one ``data`` agree on it."""
    return await build_services(settings, clock=clock, store=(MemoryStore(data, master_key=KEY), KEY))
