"""Real-browser helpers: Debian's Chromium and how it is launched, the viewports and passwords the tests use, and
``Tab``, a page in its own context with everything it requested recorded (opened by ``tests/browser/conftest.py``)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from playwright.sync_api import BrowserContext, Cookie, Page, Response, ViewportSize

from tests.helpers.config import ROOT
from tests.helpers.servers import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 667}
LOOPBACK = "127.0.0.1"
PASSWORDS = {"alice": "alice-pass-123", "bob": "bob-pass-456", "carol": "carol-pass-789"}
SESSION_COOKIE = "ssoidc_session"
CSRF_COOKIE = "ssoidc_csrf"

T = TypeVar("T")


def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` in another thread: there, ``asyncio.run`` works while the sync Playwright API is active."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def set_password(server: LiveServer, user: str, password: str) -> None:
    """Set a password through the CLI, as an operator would."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ssoidc",
            "users",
            "set-password",
            user,
            "--data-dir",
            str(server.data_dir),
            "--password-stdin",
        ],
        input=f"{password}\n",
        env=server.env,
        cwd=ROOT,
        text=True,
        capture_output=True,
    )
    assert done.returncode == 0, f"ssoidc users set-password {user} failed: {done.stderr.strip()[-2000:]}"


@dataclass
class Tab:
    """A page in its own browser context, with everything it requested recorded."""

    server: LiveServer
    context: BrowserContext
    page: Page
    requests: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def goto(self, url: str) -> Response:
        resp = self.page.goto(url)
        assert resp is not None, f"no response for {url}"
        return resp

    def submit(self, selector: str) -> Response:
        """Click a submit button and return the main-frame response the navigation ended on."""
        with self.page.expect_navigation() as nav:
            self.page.click(selector)
        resp = nav.value
        assert resp is not None, f"clicking {selector} produced no response"
        return resp

    def cookie(self, name: str) -> Cookie | None:
        return next((c for c in self.context.cookies(self.server.url) if c.get("name") == name), None)

    def requested(self, predicate: Callable[[str], bool]) -> list[str]:
        return [u for u in self.requests if predicate(u)]
