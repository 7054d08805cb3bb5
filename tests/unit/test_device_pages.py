"""The device verification pages in process (``/device``, ``/device/signin``, ``/device/decide``; RFC 8628 section
3.3) on the memory store, over ASGI: the decision is always the signed-in session's user, forms need their CSRF
token, wrong codes answer one generic page and pause entry per browser and per address, and nothing is decided by
a refused request.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from ssoidc.clock import FrozenClock
from ssoidc.compose import Services
from ssoidc.config.apply import apply_to_store, parse_file
from ssoidc.model import ConfigSnapshot
from ssoidc.oauth.clients import RegisterRequest
from ssoidc.oauth.start_url import default_start_url
from ssoidc.settings import Settings
from ssoidc.storage.base import DEVICE_APPROVED, DEVICE_PENDING
from ssoidc.storage.memory import MemoryData
from ssoidc.web.app import build_app
from tests.helpers.inprocess import memory_services

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0
PASSWORD = "alice-pass-123"
CONFIG = {
    "Instance": {"Name": "pages"},
    "Users": [
        {"UserName": "alice", "Emails": [{"Value": "alice@example.com"}]},
        {"UserName": "bob", "Emails": [{"Value": "bob@example.com"}]},
    ],
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Pages:
    node: Services
    data: MemoryData
    users: dict[str, str]
    user_code: str

    def browser(self, address: str = "192.0.2.10") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=build_app(self.node), client=(address, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")

    def status(self) -> tuple[str, str | None]:
        d = next(iter(self.data.devices.values()))
        return d.status, d.user_id


@pytest.fixture
async def pages(tmp_path: Path) -> AsyncIterator[Pages]:
    clock = FrozenClock(NOW)
    data = MemoryData()
    node = await memory_services(Settings(data_dir=tmp_path / "node"), clock, data)
    try:
        config = await apply_to_store(node.store, parse_file(yaml.safe_dump(CONFIG)), "123456789012", NOW)
        directory = await node.snapshot.refresh()
        await node.signin.set_password(ConfigSnapshot(config, directory.version), "alice", PASSWORD, NOW)
        reg = await node.public.register_client(RegisterRequest("phish-me", "public"))
        started = await node.public.start_device_authorization(
            reg.client.client_id, reg.client_secret, default_start_url(config.instance.identity_store_id)
        )
        users = {u.user_name: u.user_id for u in config.users}
        yield Pages(node, data, users, started.user_code)
    finally:
        await node.close()


async def csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/device")
    assert page.status_code == 200
    m = CSRF.search(page.text)
    assert m is not None
    return m.group(1)


async def test_the_decision_is_the_signed_in_users_and_needs_the_csrf_token(pages: Pages) -> None:
    async with pages.browser() as b:
        token = await csrf(b)
        confirm = await b.get(f"/device?user_code={pages.user_code}")
        assert confirm.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in confirm.headers["content-security-policy"]
        assert pages.user_code in confirm.text  # prefilled, nothing looked up yet
        # no session: deciding shows the sign-in form, whatever principal the form names
        resp = await b.post(
            "/device/decide",
            data={"csrf_token": token, "user_code": pages.user_code, "decision": "allow", "user": "bob"},
        )
        assert resp.status_code == 200 and 'action="/device/signin"' in resp.text
        assert pages.status() == (DEVICE_PENDING, None)
        # a forged or missing CSRF token changes nothing
        for form in ({"user_code": pages.user_code}, {"csrf_token": "x" * 43, "user_code": pages.user_code}):
            assert (await b.post("/device", data=form)).status_code == 400
        wrong = await b.post(
            "/device/signin",
            data={
                "csrf_token": token,
                "user_code": pages.user_code,
                "username": "alice",
                "password": "nope-nope",
            },
        )
        assert wrong.status_code == 401 and pages.status() == (DEVICE_PENDING, None)
        signed_in = await b.post(
            "/device/signin",
            data={
                "csrf_token": token,
                "user_code": pages.user_code,
                "username": "alice",
                "password": PASSWORD,
            },
        )
        assert signed_in.status_code == 200
        assert "phish-me" in signed_in.text and pages.user_code in signed_in.text  # the client and the code
        assert 'action="/device/decide"' in signed_in.text
        assert pages.status() == (DEVICE_PENDING, None)  # signing in decides nothing
        done = await b.post(
            "/device/decide",
            data={"csrf_token": token, "user_code": pages.user_code, "decision": "allow", "user": "bob"},
        )
        assert done.status_code == 200 and "Device authorized" in done.text
        assert pages.status() == (DEVICE_APPROVED, pages.users["alice"])  # never bob
        again = await b.post(
            "/device/decide", data={"csrf_token": token, "user_code": pages.user_code, "decision": "allow"}
        )
        assert again.status_code == 400  # decided once


async def test_wrong_codes_pause_entry_per_browser_and_per_address(pages: Pages) -> None:
    threshold = pages.node.settings.lockout_threshold
    async with pages.browser() as b:
        token = await csrf(b)
        codes = [
            (await b.post("/device", data={"csrf_token": token, "user_code": "BCDF-GHJK"}))
            for _ in range(threshold)
        ]
        assert [r.status_code for r in codes[:-1]] == [400] * (threshold - 1)
        assert all("valid or has expired" in r.text for r in codes[:-1])
        assert codes[-1].status_code == 429
        right = await b.post("/device", data={"csrf_token": token, "user_code": pages.user_code})
        assert right.status_code == 429  # even the right code, while paused
    # fresh browsers (new CSRF cookies) from one address: paused after four times as many
    statuses = []
    for _ in range(4 * threshold):
        async with pages.browser() as b:
            token = await csrf(b)
            statuses.append(
                (await b.post("/device", data={"csrf_token": token, "user_code": "BCDF-GHJK"})).status_code
            )
    assert statuses[-1] == 429 and 400 in statuses
    async with pages.browser("198.51.100.7") as b:  # another address is not affected
        token = await csrf(b)
        ok = await b.post("/device", data={"csrf_token": token, "user_code": pages.user_code})
        assert ok.status_code == 200 and 'action="/device/signin"' in ok.text
    assert pages.status() == (DEVICE_PENDING, None)
