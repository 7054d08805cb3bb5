"""Strings one edit away from a real one, for tests that must present a near miss."""

from __future__ import annotations


def altered(s: str, n: int = 1) -> str:
    """``s`` with each of its last ``n`` characters replaced by another one: never ``s`` itself (a random token or
    id may already end in whatever fixed suffix a test would append)."""
    return s[:-n] + "".join("A" if c != "A" else "B" for c in s[-n:])
