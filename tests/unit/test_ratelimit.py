"""Request rate limits (``ssoidc.ratelimit``): the GCRA limiter on a frozen clock, its bounded memory, the error
shapes of every protocol, and a node in process (memory store, raw HTTP through ASGI) whose client-address limit
counts unsigned and badly signed requests and refuses with the modelled error and ``Retry-After``."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest

from ssoidc.aws import errors as aws_errors
from ssoidc.clock import FrozenClock
from ssoidc.compose import Services
from ssoidc.errors import InvalidGrant, Throttled
from ssoidc.ratelimit import Limiter, Limits, Rate, RequestLimits
from ssoidc.settings import Settings
from ssoidc.storage.base import StoredCredential
from ssoidc.web.app import build_app
from tests.helpers.clients import sign_request
from tests.helpers.config import ADMIN_KEY, ADMIN_SECRET
from tests.helpers.inprocess import memory_services


def refused(limiter: Limiter, key: str, now: float) -> float:
    with pytest.raises(Throttled) as info:
        limiter.admit(key, now)
    return info.value.retry_after


# -- the limiter ---------------------------------------------------------------------------------------------
def test_a_burst_then_the_rate() -> None:
    lim = Limiter("principal", Rate(per_second=2, burst=4))
    for _ in range(4):
        lim.admit("p", 100.0)  # the burst, at one instant
    wait = refused(lim, "p", 100.0)
    assert wait == pytest.approx(0.5)  # one more fits after 1/rate
    refused(lim, "p", 100.4)  # a refusal counts nothing, and 0.4 s is not enough
    lim.admit("p", 100.5)
    refused(lim, "p", 100.5)
    for i in range(10):  # at the rate, forever
        lim.admit("p", 101.0 + i * 0.5)
    lim.admit("other", 100.0)  # keys are independent


def test_an_idle_key_refills_to_the_burst_and_no_further() -> None:
    lim = Limiter("client address", Rate(per_second=1, burst=3))
    for _ in range(3):
        lim.admit("a", 0.0)
    refused(lim, "a", 0.0)
    for _ in range(3):
        lim.admit("a", 1000.0)  # a long pause gives the burst back, not 1000 requests
    assert refused(lim, "a", 1000.0) == pytest.approx(1.0)


def test_the_retry_hint_is_whole_seconds_and_at_least_one() -> None:
    lim = Limiter("application", Rate(per_second=0.01, burst=1))
    lim.admit("x", 0.0)
    with pytest.raises(Throttled) as info:
        lim.admit("x", 10.0)
    assert info.value.retry_after == pytest.approx(90.0)
    assert info.value.retry_after_seconds == 90
    assert "application" in info.value.message
    assert Throttled("x", retry_after=0.01).retry_after_seconds == 1


def test_memory_is_bounded_under_a_flood_of_distinct_keys() -> None:
    lim = Limiter("client address", Rate(per_second=1, burst=1), max_keys=100)
    for i in range(10_000):
        lim.admit(f"10.0.{i // 256}.{i % 256}", 5.0)  # each is throttled (its bucket is empty)
        assert len(lim) <= 100
    lim.admit("idle", 0.0)
    for i in range(1000):  # keys whose bucket is full again are the first forgotten
        lim.admit(f"k{i}", 10.0 + i)
        assert len(lim) <= 100


def test_the_most_throttled_keys_survive_a_sweep() -> None:
    lim = Limiter("principal", Rate(per_second=1, burst=10), max_keys=10)
    for _ in range(10):
        lim.admit("heavy", 0.0)
    for i in range(9):
        lim.admit(f"light{i}", 0.0)
    lim.admit("new", 0.0)  # the table is full: the lightest half is forgotten, "heavy" is kept
    refused(lim, "heavy", 0.0)


def test_zero_means_no_limit() -> None:
    limits = RequestLimits(Limits(Rate(0, 1), Rate(0, 1), Rate(0, 1)))
    for _ in range(100_000):
        limits.admit_address("1.2.3.4", 0.0)
        limits.admit_principal("arn:aws:iam::123456789012:root", 0.0)
        limits.admit_application("arn:app", 0.0)
    with pytest.raises(ValueError):
        Limiter("x", Rate(0, 1))


def test_the_default_settings_do_not_limit_one_busy_principal_at_benchmark_rates() -> None:
    """``make bench`` drives one principal, one address and one application at a few thousand requests per second
    per node; the defaults must not refuse any of them (nor half as many again)."""
    s = Settings()
    limits = RequestLimits(
        Limits(
            Rate(s.rate_limit_address, s.rate_limit_address_burst),
            Rate(s.rate_limit_principal, s.rate_limit_principal_burst),
            Rate(s.rate_limit_application, s.rate_limit_application_burst),
        )
    )
    for i in range(60 * 4500):  # a minute at 4,500 requests/s
        now = i / 4500
        limits.admit_address("127.0.0.1", now)
        limits.admit_principal("arn:aws:iam::123456789012:root", now)
        limits.admit_application("arn:app", now)


# -- the error shapes ----------------------------------------------------------------------------------------
def header(rendered: aws_errors.RenderedError, name: bytes) -> bytes | None:
    return next((v for k, v in rendered.headers if k == name), None)


def test_every_protocol_renders_the_modelled_throttling_error_with_retry_after() -> None:
    exc = Throttled("Rate exceeded for this principal; retry after 3 s", retry_after=2.2)
    oidc = aws_errors.render_rest_json_error(exc, "sso-oidc", "rid")
    assert (oidc.status, oidc.code) == (400, "SlowDownException")  # the model's status
    assert orjson.loads(oidc.body) == {"error": "slow_down", "error_description": exc.message}
    assert header(oidc, b"retry-after") == b"3"
    portal = aws_errors.render_rest_json_error(exc, "sso", "rid")
    assert (portal.status, portal.code) == (429, "TooManyRequestsException")
    assert header(portal, b"retry-after") == b"3"
    admin = aws_errors.render_json11_error(exc, "sso-admin", "rid", "ListInstances")
    assert (admin.status, admin.code) == (400, "ThrottlingException")
    assert orjson.loads(admin.body) == {"__type": "ThrottlingException", "Message": exc.message}
    assert header(admin, b"retry-after") == b"3"
    ids = aws_errors.render_json11_error(exc, "identitystore", "rid", "ListUsers")
    assert orjson.loads(ids.body) == {
        "__type": "ThrottlingException",
        "Message": exc.message,
        "RetryAfterSeconds": 3,
        "RequestId": "rid",
    }
    sts = aws_errors.render_query_error(exc, "sts", "rid")
    assert (sts.status, sts.code) == (400, "Throttling")
    assert b"<Code>Throttling</Code>" in sts.body and b"<Type>Sender</Type>" in sts.body
    assert header(sts, b"retry-after") == b"3"


def test_other_errors_carry_no_retry_after() -> None:
    rendered = aws_errors.render_rest_json_error(InvalidGrant("no"), "sso-oidc", "rid")
    assert header(rendered, b"retry-after") is None


# -- a node in process: the client-address limit -------------------------------------------------------------
BODY = orjson.dumps({"clientId": "arn:nothing", "grantType": "refresh_token", "refreshToken": "aor-x"})
BURST = 3
START = 1_800_000_000.0


@pytest.fixture()
async def node(tmp_path: Path) -> AsyncIterator[tuple[Services, httpx.AsyncClient]]:
    settings = Settings(
        data_dir=tmp_path,
        allowed_hosts="ssoidc.test",  # the host the requests below are signed for
        rate_limit_address=0.001,
        rate_limit_address_burst=BURST,
    )
    services = await memory_services(settings, FrozenClock(START))
    await services.store.create_credential(
        StoredCredential(ADMIN_KEY, ADMIN_SECRET, "arn:aws:iam::123456789012:root")
    )
    transport = httpx.ASGITransport(app=build_app(services), client=("192.0.2.7", 4242))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://ssoidc.test") as client:
            yield services, client
    finally:
        await services.close()


def signed(url: str, body: bytes, secret: str = ADMIN_SECRET, at: float = START) -> dict[str, str]:
    """Headers of ``body`` SigV4-signed (sso-oauth) at ``at`` (the node's frozen clock)."""
    return sign_request(url, body, key=ADMIN_KEY, secret=secret, when=datetime.fromtimestamp(at, UTC))


@pytest.mark.anyio
async def test_unsigned_and_badly_signed_requests_count_against_the_address(
    node: tuple[Services, httpx.AsyncClient],
) -> None:
    services, client = node
    url = "http://ssoidc.test/token?aws_iam=t"
    tokens_before = len(services.store.data.tokens)  # type: ignore[attr-defined]
    unsigned = await client.post(url, content=BODY, headers={"content-type": "application/json"})
    assert unsigned.status_code == 403  # MissingAuthenticationToken, counted
    forged = await client.post(url, content=BODY, headers=signed(url, BODY, secret="wrong" * 8))
    assert forged.status_code == 403  # InvalidSignature, counted
    good = await client.post(url, content=BODY, headers=signed(url, BODY))
    assert good.status_code == 401  # InvalidClient: served (the third of the burst)
    refused = await client.post(url, content=BODY, headers=signed(url, BODY))
    assert refused.status_code == 400
    assert refused.headers["x-amzn-errortype"].startswith("SlowDownException:")
    assert refused.json()["error"] == "slow_down"
    assert "client address" in refused.json()["error_description"]
    assert int(refused.headers["retry-after"]) == math.ceil(1 / 0.001)
    admin = await client.post(
        "http://ssoidc.test/",
        content=b"{}",
        headers={
            "x-amz-target": "SWBExternalService.ListInstances",
            "content-type": "application/x-amz-json-1.1",
        },
    )
    assert admin.status_code == 400
    assert admin.json()["__type"] == "ThrottlingException"
    assert admin.headers["retry-after"] == "1000"
    sts = await client.post(
        "http://ssoidc.test/",
        content=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert sts.status_code == 400 and b"<Code>Throttling</Code>" in sts.content
    assert len(services.store.data.tokens) == tokens_before  # type: ignore[attr-defined]
    services.clock.advance(1 / 0.001)  # type: ignore[attr-defined]
    again = await client.post(url, content=BODY, headers=signed(url, BODY, at=START + 1000))
    assert again.status_code == 401  # one request's worth refilled: served again
