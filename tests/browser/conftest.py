"""Real-browser fixtures: Debian's Chromium driven by Playwright's sync API, confined to loopback.

One browser per module, a fresh context (clean cookies) per tab. Every context aborts any request to a host
other than 127.0.0.1 and records it; a tab that tried to leave loopback, or whose page threw, fails its test at
teardown. While it runs, the sync API marks an event loop as running in the test's thread, so in-process
``asyncio.run`` (as ``start_server`` and ``LiveServer.mint_code`` do) fails: here it must go through ``off_loop``,
and the browser is module-scoped so that it is gone before other modules' tests run in the same process.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Cookie,
    Page,
    Request,
    Response,
    Route,
    ViewportSize,
    sync_playwright,
)

from tests.support import ROOT, LiveServer

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


@pytest.fixture(scope="module")
def browser(server: LiveServer) -> Iterator[Browser]:
    # ``server`` first: starting it runs asyncio.run in this thread, which fails once Playwright runs.
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run make system-deps", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def passwords(server: LiveServer) -> dict[str, str]:
    for user, password in PASSWORDS.items():
        set_password(server, user, password)
    return PASSWORDS


@pytest.fixture()
def open_tab(browser: Browser) -> Iterator[Callable[..., Tab]]:
    tabs: list[Tab] = []

    def open_(server: LiveServer, *, viewport: ViewportSize = DESKTOP) -> Tab:
        context = browser.new_context(viewport=viewport, service_workers="block")
        context.set_default_timeout(10_000)
        context.set_default_navigation_timeout(15_000)
        tab = Tab(server, context, context.new_page())

        def guard(route: Route) -> None:
            if urlsplit(route.request.url).hostname == LOOPBACK:
                route.continue_()
            else:
                tab.external.append(route.request.url)
                route.abort("blockedbyclient")

        def on_request(request: Request) -> None:
            tab.requests.append(request.url)
            if urlsplit(request.url).hostname != LOOPBACK and request.url not in tab.external:
                tab.external.append(request.url)  # e.g. a redirect target, which is not routed

        def on_console(msg: ConsoleMessage) -> None:
            if "Content Security Policy" in msg.text:
                tab.csp_violations.append(msg.text)

        context.route("**/*", guard)
        context.on("request", on_request)
        tab.page.on("console", on_console)
        tab.page.on("pageerror", lambda exc: tab.page_errors.append(str(exc)))
        tabs.append(tab)
        return tab

    yield open_
    for t in tabs:
        t.context.close()
    for t in tabs:
        assert not t.external, f"the browser tried to leave loopback: {t.external}"
        assert not t.page_errors, f"script errors on the page: {t.page_errors}"


@pytest.fixture()
def tab(open_tab: Callable[..., Tab], server: LiveServer, passwords: dict[str, str]) -> Tab:
    return open_tab(server)
