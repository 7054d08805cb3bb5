"""``RemoteControls``: the test-mode controls of an ssoidc in another process (``ssoidc serve --testing``).

The same clock and fault operations as an in-process ``TestServer``, over ``/_ssoidc/testing/*`` (ssoidc.web.testing),
each request signed with SigV4 (signing name ``ssoidc``) by the account root's credential (the bootstrap admin).
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class RemoteError(RuntimeError):
    """The server refused a control call (test mode off, not the root, a malformed fault)."""


class RemoteControls:
    """``clock`` and ``faults`` of a server started with ``--testing`` at ``endpoint_url``."""

    def __init__(
        self, endpoint_url: str, access_key_id: str, secret_access_key: str, *, region: str = "us-east-1"
    ) -> None:
        self._url = endpoint_url.rstrip("/") + "/_ssoidc/testing"
        self._credentials = Credentials(access_key_id, secret_access_key)
        self._region = region
        self.clock = _RemoteClock(self)
        self.faults = _RemoteFaults(self)

    def call(self, method: str, path: str, doc: dict[str, Any] | None = None) -> dict[str, Any]:
        body = orjson.dumps(doc) if doc is not None else b""
        url = f"{self._url}/{path}"
        headers = {"content-type": "application/json"} if doc is not None else {}
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(self._credentials, "ssoidc", self._region).add_auth(request)
        response = httpx.request(method, url, content=body, headers=dict(request.headers.items()), timeout=30)
        json_answer = response.headers.get("content-type", "").startswith("application/json")
        if response.status_code != 200:
            message = response.json().get("message", response.text) if json_answer else response.text[:200]
            hint = f" (signed for region {self._region})" if response.status_code == 401 else ""
            raise RemoteError(f"{response.status_code}: {message}{hint}")
        answer: dict[str, Any] = response.json()
        return answer


class _RemoteClock:
    def __init__(self, controls: RemoteControls) -> None:
        self._controls = controls

    def now(self) -> float:
        return float(self._controls.call("GET", "clock")["now"])

    def advance(self, seconds: float) -> float:
        return float(self._controls.call("POST", "clock", {"advanceSeconds": seconds})["now"])


class _RemoteFaults:
    def __init__(self, controls: RemoteControls) -> None:
        self._controls = controls

    def _add(self, doc: dict[str, Any]) -> dict[str, Any]:
        fault: dict[str, Any] = self._controls.call("POST", "faults", doc)["fault"]
        return fault

    def fail(
        self, operation: str, error: str, *, count: int = 1, message: str = "", service: str = ""
    ) -> dict[str, Any]:
        doc: dict[str, Any] = {"operation": operation, "error": error, "count": count}
        if message:
            doc["message"] = message
        if service:
            doc["service"] = service
        return self._add(doc)

    def delay(self, operation: str, seconds: float, *, count: int = 1, service: str = "") -> dict[str, Any]:
        doc: dict[str, Any] = {"operation": operation, "latencySeconds": seconds, "count": count}
        if service:
            doc["service"] = service
        return self._add(doc)

    def drop(self, operation: str, *, count: int = 1, service: str = "") -> dict[str, Any]:
        doc: dict[str, Any] = {"operation": operation, "drop": True, "count": count}
        if service:
            doc["service"] = service
        return self._add(doc)

    def clear(self) -> None:
        self._controls.call("DELETE", "faults")

    def pending(self) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = self._controls.call("GET", "faults")["faults"]
        return faults
