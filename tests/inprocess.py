"""Helpers for tests that drive a ``Node`` in process (no HTTP): the account-wide ActorPolicy, code sessions, and a
node on the in-memory store."""

from __future__ import annotations

from typing import Any

from ssoidc.node import Node
from ssoidc.storage.memory import MemoryData, MemoryStore

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


async def issue_code(node: Node, application_arn: str, user_id: str, redirect_uri: str, now: float) -> str:
    """An authorization code for ``user_id`` as the sign-in flow would issue it (no PKCE, default scopes)."""
    directory = await node.refresh()
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


async def use_memory_store(node: Node, data: MemoryData | None = None) -> MemoryStore:
    """Put ``node`` (built, not started) on a ``MemoryStore`` (on ``data``, else a new one) instead of the store its
    settings name, which is closed. A test-only seam until the composition root takes a store: the in-memory store
    is never a setting."""
    await node.store.close()
    store = MemoryStore(data, master_key=node.master_key)
    node.store = store
    return store
