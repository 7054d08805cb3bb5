"""Helpers for tests that drive a ``Node`` in process (no HTTP): the account-wide ActorPolicy and code sessions."""

from __future__ import annotations

from typing import Any

from ssoidc.compose import Services

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
