"""The ASGI lifespan of ``create_app``: each startup serves the services it built, they are closed on shutdown,
a failed startup is reported to the server, and a request outside a startup/shutdown cycle gets a clear 503.

The lifespan is driven as an ASGI server drives it (``lifespan.startup`` / ``lifespan.shutdown`` messages);
requests go through httpx's ASGI transport, which does not run the lifespan itself.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from ssoidc.settings import Settings
from ssoidc.storage.base import StorageError
from ssoidc.web.app import ASGIApp, create_app


class Lifespan:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def start(self) -> dict[str, Any]:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}

        async def serve() -> None:
            await self.app(scope, self.inbox.get, self.outbox.put)

        self.task: asyncio.Task[None] = asyncio.create_task(serve())
        await self.inbox.put({"type": "lifespan.startup"})
        return await self.outbox.get()

    async def stop(self) -> dict[str, Any]:
        await self.inbox.put({"type": "lifespan.shutdown"})
        message = await self.outbox.get()
        await self.task
        return message


async def get(app: ASGIApp, path: str, method: str = "GET") -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        return await c.request(method, path, content=b"{}" if method == "POST" else None)


def test_each_startup_serves_its_own_services_and_a_second_cycle_works(tmp_path: Path) -> None:
    async def go() -> None:
        app = create_app(Settings(data_dir=tmp_path, demo=True))
        for _ in range(2):  # the second cycle must not reach the services the first one closed
            life = Lifespan(app)
            assert (await life.start())["type"] == "lifespan.startup.complete"
            assert (await get(app, "/readyz")).json()["status"] == "ready"
            resp = await get(app, "/token?aws_iam=t", "POST")  # unsigned: refused by SigV4 after the refresh
            assert resp.status_code == 403
            assert resp.headers["x-amzn-errortype"].startswith("MissingAuthenticationTokenException")
            assert (await life.stop())["type"] == "lifespan.shutdown.complete"
            assert (await get(app, "/healthz")).status_code == 503  # stopped: nothing is served

    asyncio.run(go())


def test_a_request_outside_a_lifespan_cycle_is_a_503(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, demo=True))
    resp = asyncio.run(get(app, "/healthz"))
    assert resp.status_code == 503
    assert "not serving" in resp.json()["message"]


def test_a_failed_startup_is_reported_to_the_server(tmp_path: Path) -> None:
    (tmp_path / "ssoidc.db").write_bytes(b"this is not a database" * 100)

    async def go() -> dict[str, Any]:
        life = Lifespan(create_app(Settings(data_dir=tmp_path)))
        message = await life.start()
        with pytest.raises(StorageError):  # and the error reaches the server (uvicorn logs it and exits)
            await life.task
        return message

    message = asyncio.run(go())
    assert message["type"] == "lifespan.startup.failed"
    assert "StorageError" in message["message"]
