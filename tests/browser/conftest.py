"""Real-browser fixtures: Debian's Chromium driven by Playwright's sync API, confined to loopback.

One browser per module, a fresh context (clean cookies) per tab. Every context aborts any request to a host
other than 127.0.0.1 and records it; a tab that tried to leave loopback, or whose page threw, fails its test at
teardown. While it runs, the sync API marks an event loop as running in the test's thread, so in-process
``asyncio.run`` (as ``start_server`` and ``LiveServer.mint_code`` do) fails: here it must go through ``off_loop``,
and the browser is module-scoped so that it is gone before other modules' tests run in the same process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Request,
    Route,
    ViewportSize,
    sync_playwright,
)

from tests.helpers.browser import CHROMIUM, DESKTOP, LAUNCH_ARGS, LOOPBACK, PASSWORDS, Tab, set_password
from tests.helpers.servers import LiveServer


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
