"""``/_ssoidc/testing/*``: the test-mode controls (``Settings.testing``), for tests that drive ssoidc out of process.

  GET  /_ssoidc/testing/clock       {"now": <epoch seconds>, "offsetSeconds": <how far it was moved>}
  POST /_ssoidc/testing/clock       {"advanceSeconds": N} -> the same answer, after moving the clock forward
  GET  /_ssoidc/testing/faults      {"faults": [{..., "remaining": n}]}
  POST /_ssoidc/testing/faults      {"operation", "service"?, "error"?, "message"?, "latencySeconds"?, "drop"?,
                                    "count"?} -> {"fault": {...}} (ssoidc.aws.faults)
  DELETE /_ssoidc/testing/faults    clears every pending fault

Every call is signed with SigV4 (signing name ``ssoidc``, the node's region) by the account root, i.e. the bootstrap
admin credential; anything else is refused (401/403, JSON ``{"message"}``). On a node not started for testing every
path answers 404 saying so: the controls do not exist there.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ssoidc import strict_json
from ssoidc.aws.faults import Fault, FaultPlan
from ssoidc.aws.sigv4 import SignedRequest, SigV4Verifier
from ssoidc.clock import AdjustableClock, Clock
from ssoidc.errors import AuthError
from ssoidc.settings import Settings
from ssoidc.snapshot import SnapshotCache

PREFIX = "/_ssoidc/testing"
SIGNING_NAME = "ssoidc"
OFF = (
    "test mode is off: the test controls exist only on a server started with --testing (ssoidc.testing does)"
)


def _answer(doc: object, status: int = 200) -> Response:
    return Response(
        orjson.dumps(doc),
        status,
        media_type="application/json",
        headers={"cache-control": "no-store", "pragma": "no-cache"},
    )


class TestingControls:
    """The routes above, over one node's clock and fault plan."""

    def __init__(
        self, settings: Settings, clock: Clock, faults: FaultPlan | None, snapshot: SnapshotCache
    ) -> None:
        self._settings = settings
        self._on = settings.testing and isinstance(clock, AdjustableClock) and faults is not None
        self._clock = clock if isinstance(clock, AdjustableClock) else None
        self._faults = faults
        self._root = f"arn:aws:iam::{settings.account_id}:root"
        self._snapshot = snapshot
        self._verifier = SigV4Verifier(
            snapshot.credential,
            region=settings.region,
            service=SIGNING_NAME,
            max_skew_seconds=settings.sigv4_max_skew,
            allowed_hosts=settings.signed_hosts,
        )

    def routes(self) -> list[Route]:
        return [
            Route(f"{PREFIX}/clock", self.clock, methods=["GET", "POST"]),
            Route(f"{PREFIX}/faults", self.faults, methods=["GET", "POST", "DELETE"]),
            Route(f"{PREFIX}/{{rest:path}}", self.unknown, methods=["GET", "POST", "DELETE", "PUT"]),
        ]

    async def _admitted(self, request: Request) -> tuple[dict[str, Any], Response | None]:
        """The JSON body of a root-signed call in test mode, or the refusal to answer instead."""
        if not self._on or self._clock is None:
            return {}, _answer({"message": OFF}, 404)
        body = await request.body()
        await self._snapshot.refresh()  # the credential table, caught up as the skeleton does per request
        signed = SignedRequest(
            request.method,
            request.scope.get("raw_path") or request.url.path.encode(),
            request.scope["query_string"],
            list(request.scope["headers"]),
            body,
        )
        try:
            caller = self._verifier.verify(signed, self._clock.wall())
        except AuthError as exc:
            return {}, _answer({"message": exc.message}, 401)
        if caller.principal_arn != self._root:
            return {}, _answer(
                {"message": "only the account root (the bootstrap admin) may use the test controls"}, 403
            )
        if not body:
            return {}, None
        try:
            doc = strict_json.loads(body)
        except ValueError:
            return {}, _answer({"message": "the body must be a JSON object"}, 400)
        if not isinstance(doc, dict):
            return {}, _answer({"message": "the body must be a JSON object"}, 400)
        return doc, None

    async def clock(self, request: Request) -> Response:
        doc, refused = await self._admitted(request)
        if refused is not None:
            return refused
        assert self._clock is not None
        if request.method == "POST":
            seconds = doc.get("advanceSeconds")
            if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                return _answer({"message": "advanceSeconds must be a number of seconds > 0"}, 400)
            try:
                self._clock.advance(float(seconds))
            except (ValueError, OverflowError) as exc:
                return _answer({"message": f"advanceSeconds: {exc}"}, 400)
        return _answer({"now": self._clock.now(), "offsetSeconds": self._clock.offset})

    async def faults(self, request: Request) -> Response:
        doc, refused = await self._admitted(request)
        if refused is not None:
            return refused
        plan = self._faults
        assert plan is not None
        if request.method == "DELETE":
            plan.clear()
            return _answer({"faults": []})
        if request.method == "GET":
            return _answer({"faults": [_wire(f) | {"remaining": n} for f, n in plan.pending()]})
        try:
            fault = plan.add(fault_from_wire(doc))
        except ValueError as exc:
            return _answer({"message": str(exc)}, 400)
        return _answer({"fault": _wire(fault)})

    async def unknown(self, request: Request) -> Response:
        if not self._on:
            return _answer({"message": OFF}, 404)
        return _answer({"message": f"no test control at {request.url.path}"}, 404)


_MEMBERS = {
    "operation": ("operation", str),
    "service": ("service", str),
    "error": ("error", str),
    "message": ("message", str),
    "latencySeconds": ("latency_seconds", float),
    "drop": ("drop", bool),
    "count": ("count", int),
}


def fault_from_wire(doc: dict[str, Any]) -> Fault:
    """A ``Fault`` from its JSON form; ValueError naming a wrong or unknown member."""
    unknown = sorted(set(doc) - set(_MEMBERS))
    if unknown:
        raise ValueError(f"unknown member {unknown[0]!r}; members: {', '.join(_MEMBERS)}")
    kw: dict[str, Any] = {}
    for name, (attr, kind) in _MEMBERS.items():
        if name not in doc:
            continue
        value = doc[name]
        ok = (
            isinstance(value, int | float) and not isinstance(value, bool)
            if kind is float
            else isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        )
        if not ok:
            raise ValueError(f"{name} must be a {kind.__name__}")
        kw[attr] = float(value) if kind is float else value
    if "operation" not in kw:
        raise ValueError("operation is required")
    return Fault(**kw)


def _wire(fault: Fault) -> dict[str, Any]:
    names = {attr: name for name, (attr, _k) in _MEMBERS.items()}
    return {names[k]: v for k, v in asdict(fault).items()}
