"""``ssoidc.testing.server()``: a real ssoidc in the test's process, on a free loopback port, with a throw-away store.

The server is the production one (``ssoidc.web.app.create_app`` under uvicorn with ssoidc's HTTP protocol, the SQLite
store, SigV4, the same handlers), started in test mode (``Settings.testing``): its clock can be moved forward and
faults can be queued (``ssoidc.aws.faults``), and it serves the demo token issuer as the test's local trusted token
issuer. It runs on its own thread and event loop, so synchronous tests (boto3, subprocesses) talk to it over HTTP
exactly as they would to AWS. See docs/testing.md.
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import hashlib
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import orjson
import yaml

from ssoidc.aws.faults import Fault, FaultPlan
from ssoidc.bootstrap import BOOTSTRAP_FILE, DEMO_ISSUER_PURPOSE
from ssoidc.clock import AdjustableClock
from ssoidc.compose import Services
from ssoidc.config.apply import apply_to_store, parse_file
from ssoidc.demo import DEMO_AUDIENCE, demo_issuer_url
from ssoidc.oauth.keys import Signer
from ssoidc.settings import Settings

T = TypeVar("T")

#: The services whose endpoint variables the environment sets (botocore's service-specific endpoint names).
SERVICES = ("sso-oidc", "sso", "sso-admin", "identitystore", "sts")
#: What the environment removes: anything that could lead a client to real AWS or the developer's own profile.
CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_CA_BUNDLE",
)
DEFAULT_CONFIG: dict[str, Any] = {"Instance": {"Name": "ssoidc-test"}}
START_TIMEOUT_SECONDS = 30.0


def endpoint_variable(service: str) -> str:
    """``AWS_ENDPOINT_URL_<SERVICE>`` as botocore names it (``sso-oidc`` -> ``AWS_ENDPOINT_URL_SSO_OIDC``)."""
    return "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_").replace(" ", "_")


class TestClock:
    """The server's clock, seen from the test: ``advance(seconds)`` moves the server's time forward at once."""

    __test__ = False  # not a pytest test class

    def __init__(self, clock: AdjustableClock, on_advance: Callable[[float], None] | None = None) -> None:
        self._clock = clock
        self._on_advance = on_advance

    def now(self) -> float:
        """The server's current time (epoch seconds)."""
        return self._clock.now()

    def advance(self, seconds: float) -> float:
        """Move the server's time forward by ``seconds``: everything it times expires as if they had passed. The
        SSO token cache files the server's ``login`` wrote age by the same amount (their ``expiresAt`` and
        ``registrationExpiresAt`` move back), as if the test's own time had passed too, so an SDK reading them
        sees the token expire and refreshes it through the server."""
        now = self._clock.advance(seconds)
        if self._on_advance is not None:
            self._on_advance(seconds)
        return now

    @property
    def offset(self) -> float:
        """How far the server's time is ahead of the wall clock."""
        return self._clock.offset


class Faults:
    """Queue faults for the next calls of an operation (``ssoidc.aws.faults``)."""

    def __init__(self, plan: FaultPlan) -> None:
        self._plan = plan

    def fail(
        self, operation: str, error: str, *, count: int = 1, message: str = "", service: str = ""
    ) -> Fault:
        """The next ``count`` calls of ``operation`` answer ``error`` (a code the operation models, or the
        service's throttling / internal error)."""
        return self._plan.add(Fault(operation, service, error=error, message=message, count=count))

    def delay(self, operation: str, seconds: float, *, count: int = 1, service: str = "") -> Fault:
        """The next ``count`` calls of ``operation`` are answered ``seconds`` late (and served normally)."""
        return self._plan.add(Fault(operation, service, latency_seconds=seconds, count=count))

    def drop(self, operation: str, *, count: int = 1, service: str = "") -> Fault:
        """The next ``count`` calls of ``operation`` get no answer: the connection is closed."""
        return self._plan.add(Fault(operation, service, drop=True, count=count))

    def clear(self) -> None:
        self._plan.clear()

    def pending(self) -> list[tuple[Fault, int]]:
        return self._plan.pending()


class TestIssuer:
    """The local trusted token issuer (the demo issuer of a test-mode server): mints RS256 assertions for users."""

    __test__ = False

    def __init__(self, server: TestServer) -> None:
        self._server = server
        self.url = demo_issuer_url(server.settings)
        self.audience = DEMO_AUDIENCE

    def assertion(
        self, email: str, *, audience: str | None = None, lifetime: int = 300, **claims: Any
    ) -> str:
        """A signed assertion (``sub`` and ``email`` = ``email``, ``email_verified``, a fresh ``jti``), valid from
        the server's current time for ``lifetime`` seconds; ``claims`` add or override claims."""
        import secrets

        t = int(self._server.clock.now())
        doc: dict[str, Any] = {
            "iss": self.url,
            "sub": email,
            "aud": audience or self.audience,
            "email": email,
            "email_verified": True,
            "iat": t,
            "nbf": t,
            "exp": t + lifetime,
            "jti": secrets.token_urlsafe(16),
        }
        doc.update(claims)
        return Signer(self._server._issuer_key()).sign(doc)

    def trusted_token_issuer(
        self, name: str = "test-issuer", attribute: str = "emails.value"
    ) -> dict[str, Any]:
        """This issuer as a ``TrustedTokenIssuers`` entry of a configuration (``test_issuer_config``)."""
        entry: dict[str, Any] = _substitute(test_issuer_config(name, attribute), {"issuer_url": self.url})
        return entry


def test_issuer_config(name: str = "test-issuer", attribute: str = "emails.value") -> dict[str, Any]:
    """The test server's local issuer as a ``TrustedTokenIssuers`` entry of a configuration (the ``ssoidc apply``
    shape): its ``email`` claim mapped to ``attribute``, the URL left as ``{issuer_url}`` (filled in at start)."""
    return {
        "Name": name,
        "TrustedTokenIssuerType": "OIDC_JWT",
        "TrustedTokenIssuerConfiguration": {
            "OidcJwtConfiguration": {
                "IssuerUrl": "{issuer_url}",
                "ClaimAttributePath": "email",
                "IdentityStoreAttributePath": attribute,
                "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
            }
        },
    }


test_issuer_config.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


class TestServer:
    """A running test-mode ssoidc (see the module docstring). Made by ``server()`` and the ``ssoidc_server``
    fixture; its attributes are the interface tests use."""

    __test__ = False

    def __init__(self, settings: Settings, home: Path) -> None:
        self.settings = settings
        self.endpoint_url = settings.base_url
        self.region = settings.region
        self.account_id = settings.account_id
        self.home = home
        """The isolated HOME of the environment (``~/.aws/config``, the SSO token cache)."""
        self.access_key_id = ""
        self.secret_access_key = ""
        self._services: Services | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._uvicorn: Any = None
        self._failure: BaseException | None = None
        self._sessions: set[str] = set()
        self.clock: TestClock
        self.faults: Faults
        self.issuer = TestIssuer(self)

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def _start(self, sock: socket.socket) -> None:
        import uvicorn

        from ssoidc.web.app import create_app
        from ssoidc.web.http_limits import PROTOCOL

        def started(services: Services) -> None:
            self._services = services
            self._loop = asyncio.get_running_loop()

        app = create_app(self.settings, on_start=started)
        config = uvicorn.Config(app, http=PROTOCOL, lifespan="on", log_level="warning", access_log=False)
        self._uvicorn = uvicorn.Server(config)

        def run() -> None:
            try:
                asyncio.run(self._uvicorn.serve(sockets=[sock]))
            except BaseException as exc:  # reported to the starting thread
                self._failure = exc
            finally:
                self._ready.set()

        self._thread = threading.Thread(target=run, name=f"ssoidc-test-{self.settings.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not (self._uvicorn.started and self._services is not None):
            if self._failure is not None or not self._thread.is_alive():
                raise RuntimeError(f"the ssoidc test server did not start: {self._failure!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("the ssoidc test server did not start within 30 s")
            time.sleep(0.005)
        services = self._services
        assert isinstance(services.clock, AdjustableClock) and services.faults is not None
        self.clock = TestClock(services.clock, self._age_token_caches)
        self.faults = Faults(services.faults)
        creds = configparser.ConfigParser()
        creds.read(self.settings.data_dir / BOOTSTRAP_FILE)
        self.access_key_id = creds["ssoidc"]["aws_access_key_id"]
        self.secret_access_key = creds["ssoidc"]["aws_secret_access_key"]

    def stop(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(15)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the server's event loop (where its store lives) and wait for its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    @property
    def services(self) -> Services:
        """The node's services (store, snapshot, ...): for tests that look beneath the wire."""
        assert self._services is not None
        return self._services

    # -- clients and environment ----------------------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        """The variables that point every AWS client at this server with credentials it accepts."""
        env = {endpoint_variable(s): self.endpoint_url for s in SERVICES}
        env |= {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_CONFIG_FILE": str(self.home / ".aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / ".aws" / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "HOME": str(self.home),
        }
        return env

    def client(self, service_name: str, **kwargs: Any) -> Any:
        """A boto3 client of ``service_name`` pointed at this server, signed with the admin credential."""
        import boto3

        kwargs.setdefault("endpoint_url", self.endpoint_url)
        kwargs.setdefault("region_name", self.region)
        kwargs.setdefault("aws_access_key_id", self.access_key_id)
        kwargs.setdefault("aws_secret_access_key", self.secret_access_key)
        return boto3.session.Session().client(service_name, **kwargs)

    # -- configuration --------------------------------------------------------------------------------------------
    def apply(self, config: Mapping[str, Any]) -> None:
        """Make ``config`` (the ``ssoidc apply`` file shape, as a dict) the whole configuration, all or nothing."""
        places = {"endpoint_url": self.endpoint_url, "issuer_url": self.issuer.url}
        spec = parse_file(yaml.safe_dump(_substitute(config, places)), "ssoidc.testing")
        services = self.services
        self.run(
            apply_to_store(
                services.store, spec, self.account_id, self.clock.now(), base_url=self.endpoint_url
            )
        )

    def application_arn(self, name: str) -> str:
        """The ARN (the ``clientId`` of CreateTokenWithIAM) of the application named ``name``."""
        config, _v = self.run(self.services.store.load_catalogue())
        for app in config.applications if config else ():
            if app.name == name:
                return app.arn
        raise KeyError(f"no application named {name!r}")

    def _issuer_key(self) -> Any:
        keys = [k for k in self.run(self.services.store.signing_keys(DEMO_ISSUER_PURPOSE)) if k.active]
        return keys[0]

    # -- SSO login (the public-client device flow, approved without a browser) ------------------------------------
    def login(
        self,
        user_name: str,
        *,
        session_name: str = "ssoidc",
        profile: str | None = None,
        account_id: str | None = None,
        role_name: str | None = None,
        scopes: tuple[str, ...] = ("sso:account:access",),
        flow: Literal["device", "pkce"] = "device",
    ) -> str:
        """Log ``user_name`` in as ``aws sso login`` does, then write the ``sso-session`` and the profile into
        ``~/.aws/config`` and the token cache file into ``~/.aws/sso/cache`` of the isolated HOME. Answers the
        profile name (``profile``, default ``session_name``).

        ``flow="device"`` (``--use-device-code``): RegisterClient, StartDeviceAuthorization, the user's approval,
        CreateToken with the device code. ``flow="pkce"`` (the AWS CLI's default since 2.22): RegisterClient with a
        loopback redirect URI, the ``/authorize`` request with an S256 challenge approved as the user, CreateToken
        with the code and the verifier. The approval is always made through the store as the named user (the path
        of ``ssoidc device approve`` / ``ssoidc authorize approve``), never by a caller-chosen principal on the wire.
        """
        from ssoidc.oauth.start_url import default_start_url

        snapshot = self.run(self.services.snapshot.refresh())
        start_url = default_start_url(snapshot.instance.identity_store_id)
        oidc = self.client("sso-oidc")
        if flow == "device":
            reg, token = self._device_login(oidc, user_name, session_name, scopes, start_url)
        elif flow == "pkce":
            reg, token = self._pkce_login(oidc, user_name, session_name, scopes, start_url)
        else:
            raise ValueError(f"flow must be 'device' or 'pkce', not {flow!r}")
        name = profile or session_name
        self._sessions.add(session_name)
        self._write_sso_config(session_name, name, start_url, scopes, account_id, role_name)
        self.write_token_cache(
            session_name,
            {
                "startUrl": start_url,
                "region": self.region,
                "accessToken": token["accessToken"],
                # in the test's (wall clock) time, as the SDK would have written them at this moment
                "expiresAt": _iso(time.time() + token["expiresIn"]),
                "clientId": reg["clientId"],
                "clientSecret": reg["clientSecret"],
                "registrationExpiresAt": _iso(reg["clientSecretExpiresAt"] - self.clock.offset),
                **({"refreshToken": token["refreshToken"]} if token.get("refreshToken") else {}),
            },
        )
        return name

    def _user_id(self, user_name: str) -> str:
        users = self.run(self.services.store.find_users("username", user_name, limit=2))
        users = [u for u in users if u.user_name == user_name]
        if len(users) != 1:
            raise KeyError(f"no user with UserName {user_name!r}")
        return users[0].user_id

    def _device_login(
        self, oidc: Any, user_name: str, session_name: str, scopes: tuple[str, ...], start_url: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        from ssoidc.oauth.device import DeviceAuthorizations

        services = self.services
        reg = oidc.register_client(
            clientName=f"ssoidc-testing-{session_name}", clientType="public", scopes=list(scopes)
        )
        dev = oidc.start_device_authorization(
            clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=start_url
        )
        user_id = self._user_id(user_name)
        now = self.clock.now()
        devices = DeviceAuthorizations(services.store, services.master_key, base_url=self.endpoint_url)
        decided = self.run(
            devices.decide(
                dev["userCode"],
                approve=True,
                user_id=user_id,
                auth_time=now,
                now=now,
                via="ssoidc.testing login (test harness, store access)",
            )
        )
        if decided is None:
            raise RuntimeError("the device authorization was not pending")
        token = oidc.create_token(
            clientId=reg["clientId"],
            clientSecret=reg["clientSecret"],
            grantType="urn:ietf:params:oauth:grant-type:device_code",
            deviceCode=dev["deviceCode"],
        )
        return reg, token

    def _pkce_login(
        self, oidc: Any, user_name: str, session_name: str, scopes: tuple[str, ...], start_url: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        import secrets
        from urllib.parse import parse_qs, urlencode, urlsplit

        from ssoidc.oauth.approve import approve_authorization
        from ssoidc.oauth.pkce import s256

        services = self.services
        registered = (
            "http://127.0.0.1/oauth/callback"  # loopback: any port may be used (RFC 8252 section 7.3)
        )
        callback = "http://127.0.0.1:51234/oauth/callback"
        reg = oidc.register_client(
            clientName=f"ssoidc-testing-{session_name}",
            clientType="public",
            scopes=list(scopes),
            grantTypes=["authorization_code", "refresh_token"],
            redirectUris=[registered],
            issuerUrl=start_url,
        )
        verifier = secrets.token_urlsafe(48)
        state = secrets.token_urlsafe(16)
        query = {
            "response_type": "code",
            "client_id": reg["clientId"],
            "redirect_uri": callback,
            "state": state,
            "code_challenge_method": "S256",
            "code_challenge": s256(verifier),
            "scopes": " ".join(scopes),
        }
        self._user_id(user_name)  # a clear KeyError for an unknown user
        location = self.run(
            approve_authorization(
                store=services.store,
                master_key=services.master_key,
                directory=services.snapshot.current,
                code_issuer=services.code_issuer,
                base_url=self.endpoint_url,
                default_scopes=self.settings.default_scopes,
                url=f"{self.endpoint_url}/authorize?{urlencode(query)}",
                user_name=user_name,
                now=self.clock.now(),
                via="ssoidc.testing login (test harness, store access)",
            )
        )
        answer = parse_qs(urlsplit(location).query)
        if answer.get("state") != [state] or "code" not in answer:
            raise RuntimeError(f"the authorization request was refused: {answer.get('error_description')}")
        token = oidc.create_token(
            clientId=reg["clientId"],
            clientSecret=reg["clientSecret"],
            grantType="authorization_code",
            code=answer["code"][0],
            redirectUri=callback,
            codeVerifier=verifier,
        )
        return reg, token

    def _age_token_caches(self, seconds: float) -> None:
        for session_name in sorted(self._sessions):
            path = self.token_cache_path(session_name)
            if not path.exists():
                continue
            doc = self.read_token_cache(session_name)
            for key in ("expiresAt", "registrationExpiresAt"):
                if isinstance(doc.get(key), str):
                    doc[key] = _iso(_epoch(doc[key]) - seconds)
            self.write_token_cache(session_name, doc)

    def token_cache_path(self, session_name: str) -> Path:
        """botocore's SSO token cache file of an ``sso-session`` (the SHA-1 of its name)."""
        digest = hashlib.sha1(session_name.encode(), usedforsecurity=False).hexdigest()
        return self.home / ".aws" / "sso" / "cache" / f"{digest}.json"

    def read_token_cache(self, session_name: str) -> dict[str, Any]:
        doc: dict[str, Any] = orjson.loads(self.token_cache_path(session_name).read_bytes())
        return doc

    def write_token_cache(self, session_name: str, doc: Mapping[str, Any]) -> None:
        path = self.token_cache_path(session_name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(dict(doc)))

    def _write_sso_config(
        self,
        session_name: str,
        profile: str,
        start_url: str,
        scopes: tuple[str, ...],
        account_id: str | None,
        role_name: str | None,
    ) -> None:
        path = self.home / ".aws" / "config"
        config = configparser.ConfigParser()
        config.read(path)
        config[f"sso-session {session_name}"] = {
            "sso_start_url": start_url,
            "sso_region": self.region,
            "sso_registration_scopes": ",".join(scopes),
        }
        section = {"sso_session": session_name, "region": self.region}
        if account_id:
            section["sso_account_id"] = account_id
        if role_name:
            section["sso_role_name"] = role_name
        config["default" if profile == "default" else f"profile {profile}"] = section
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with path.open("w") as f:
            config.write(f)


def _substitute(value: Any, places: Mapping[str, str]) -> Any:
    """``value`` with ``{endpoint_url}`` and ``{issuer_url}`` in its strings replaced (a configuration written
    before the server's port is known)."""
    if isinstance(value, str):
        for name, text in places.items():
            value = value.replace("{" + name + "}", text)
        return value
    if isinstance(value, Mapping):
        return {k: _substitute(v, places) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_substitute(v, places) for v in value]
    return value


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@contextlib.contextmanager
def patched_environment(env: Mapping[str, str]) -> Iterator[None]:
    """Set ``env`` (and clear ``CLEARED``) for the block; afterwards the environment is exactly as it was. boto3's
    default session is reset on both sides, so ``boto3.client(...)`` reads the environment of the moment."""
    saved = {k: os.environ.get(k) for k in (*env, *CLEARED)}
    _reset_boto3()
    cache_dirs = _sso_cache_dirs()
    try:
        for k in CLEARED:
            os.environ.pop(k, None)
        os.environ.update(env)
        if "HOME" in env:  # botocore fixed its SSO token cache directory from HOME when it was imported
            for cls, _old in cache_dirs:
                cls._SSO_TOKEN_CACHE_DIR = str(Path(env["HOME"]) / ".aws" / "sso" / "cache")
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for cls, old in cache_dirs:
            cls._SSO_TOKEN_CACHE_DIR = old
        _reset_boto3()


def _sso_cache_dirs() -> list[tuple[Any, str]]:
    """botocore's classes that read the SSO token cache, with the directory each computed at import."""
    import botocore.credentials
    import botocore.tokens

    found: list[tuple[Any, str]] = []
    for cls in (botocore.tokens.SSOTokenProvider, botocore.credentials.SSOProvider):
        old = getattr(cls, "_SSO_TOKEN_CACHE_DIR", None)
        if isinstance(old, str):
            found.append((cls, old))
    return found


def _reset_boto3() -> None:
    import sys

    boto3: Any = sys.modules.get("boto3")
    if boto3 is not None:
        boto3.DEFAULT_SESSION = None


@contextlib.contextmanager
def server(
    *,
    config: Mapping[str, Any] | None = None,
    environment: bool = True,
    account_id: str = "123456789012",
    region: str = "us-east-1",
    **settings: Any,
) -> Iterator[TestServer]:
    """Start a test-mode ssoidc on a free loopback port with a throw-away SQLite store; yield the ``TestServer``.

    ``config``: the initial configuration (the ``ssoidc apply`` file shape as a dict; default: one instance);
    ``environment``: while the block runs, point every AWS client at the server (``TestServer.environment``) and
    restore the environment afterwards; ``settings``: any other ``ssoidc.settings.Settings`` field.
    """
    root = Path(tempfile.mkdtemp(prefix="ssoidc-test-"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        places = {"endpoint_url": base, "issuer_url": f"{base}/demo-issuer"}
        config_file = root / "config.yaml"
        config_file.write_text(
            yaml.safe_dump(_substitute(config if config is not None else DEFAULT_CONFIG, places))
        )
        home = root / "home"
        (home / ".aws").mkdir(parents=True, mode=0o700)
        (home / ".aws" / "config").touch(mode=0o600)
        (home / ".aws" / "credentials").touch(mode=0o600)
        built = Settings(
            host="127.0.0.1",
            port=port,
            data_dir=root / "data",
            testing=True,
            allow_insecure_issuers=True,
            account_id=account_id,
            region=region,
            config_file=config_file,
            **settings,
        ).validate()
        srv = TestServer(built, home)
        srv._start(sock)
        try:
            if environment:
                with patched_environment(srv.environment()):
                    yield srv
            else:
                yield srv
        finally:
            srv.stop()
    finally:
        sock.close()
        shutil.rmtree(root, ignore_errors=True)
