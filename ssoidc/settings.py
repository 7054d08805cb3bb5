"""Runtime settings for ``ssoidc serve`` and the CLI.

Every option is declared once, below, as a field of :class:`Settings` with its default and an :class:`Option`
(its ``SSOIDC_*`` variable, how the variable is parsed and written back, its ``serve`` flag if it has one, and
its documentation). Everything else is derived from that one declaration: :func:`settings_from_env`, the
:func:`export_env` that passes settings to uvicorn's worker processes, the help and defaults of the
``ssoidc serve`` flags, and the table in ``docs/settings.md`` (``python -m ssoidc.settings --markdown``, or
``make settings-doc``). Values come from the CLI flags, then ``SSOIDC_*`` environment variables, then these
defaults. Settings are frozen once built.
"""

from __future__ import annotations

import ipaddress
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final, Generic, TypeVar
from urllib.parse import urlsplit

from ssoidc.errors import ConfigError

T = TypeVar("T")

DEFAULT_SCOPES: tuple[str, ...] = ("openid", "aws", "sts:identity_context")


# --------------------------------------------------------------------------- codecs: variable text <-> value


@dataclass(frozen=True, slots=True)
class Codec(Generic[T]):
    """How one kind of value is read from, and written to, an environment variable.

    ``blank_is_unset``: an empty variable means the default (numbers, booleans, optional paths); a plain string
    keeps the empty value. ``write`` returning None leaves the variable out of :func:`export_env`.
    """

    parse: Callable[[str, str], T]
    write: Callable[[T], str | None]
    show: Callable[[T], str]
    blank_is_unset: bool


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None


def _parse_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name}: expected a finite number, got {raw!r}")
    return value


def _write_float(value: float) -> str:
    value = float(value)  # an int is a float to the type checker (``Settings(rate_limit_principal=20)``)
    return str(int(value)) if value.is_integer() else repr(value)


def _parse_bool(name: str, raw: str) -> bool:
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}: expected 1/0/true/false, got {raw!r}")


def _write_optional_path(value: Path | None) -> str | None:
    return None if value is None else str(value)


STR: Final[Codec[str]] = Codec(lambda _n, raw: raw, str, str, blank_is_unset=False)
LOWER: Final[Codec[str]] = Codec(lambda _n, raw: raw.strip().lower(), str, str, blank_is_unset=False)
UPPER: Final[Codec[str]] = Codec(lambda _n, raw: raw.upper(), str, str, blank_is_unset=False)
INT: Final[Codec[int]] = Codec(_parse_int, str, str, blank_is_unset=True)
FLOAT: Final[Codec[float]] = Codec(_parse_float, _write_float, _write_float, blank_is_unset=True)
BOOL: Final[Codec[bool]] = Codec(
    _parse_bool, lambda v: "1" if v else "0", lambda v: "on" if v else "off", blank_is_unset=True
)
PATH: Final[Codec[Path]] = Codec(lambda _n, raw: Path(raw), str, str, blank_is_unset=False)
OPTIONAL_PATH: Final[Codec[Path | None]] = Codec(
    lambda _n, raw: Path(raw),
    _write_optional_path,
    lambda v: "—" if v is None else str(v),
    blank_is_unset=True,
)


# --------------------------------------------------------------------------- the declaration of one option


@dataclass(frozen=True, slots=True)
class Option:
    """What is known about one setting besides its type and default (kept in the dataclass field's metadata)."""

    env: str
    codec: Codec[Any]
    doc: str
    """The meaning, in Markdown: the last column of the table in ``docs/settings.md``."""
    flag: str | None = None
    """The ``ssoidc serve`` flag that overrides the variable, if any."""
    flag_help: str = ""
    """The flag's ``--help`` text (the variable and the default are appended)."""
    shown_default: str | None = None
    """The default as the documentation shows it, when the value itself does not say it (``""`` -> "—")."""
    choices: tuple[str, ...] = ()
    minimum: float | None = None

    @property
    def label(self) -> str:
        return f"{self.env} ({self.flag})" if self.flag else self.env


def setting(
    default: T,
    *,
    env: str,
    codec: Codec[Any],
    doc: str,
    flag: str | None = None,
    flag_help: str = "",
    shown_default: str | None = None,
    choices: tuple[str, ...] = (),
    minimum: float | None = None,
) -> T:
    """A :class:`Settings` field: ``default`` plus its :class:`Option` (see the module docstring)."""
    option = Option(env, codec, doc, flag, flag_help, shown_default, choices, minimum)
    return field(default=default, metadata={"option": option})


@dataclass(frozen=True, slots=True)
class Settings:
    """Effective configuration of one ssoidc node."""

    host: str = setting(
        "127.0.0.1", env="SSOIDC_HOST", codec=STR, doc="bind address", flag="--host", flag_help="Bind address"
    )
    port: int = setting(8000, env="SSOIDC_PORT", codec=INT, doc="port", flag="--port", flag_help="Port")
    data_dir: Path = setting(  # noqa: RUF009 - setting() returns a dataclasses.field
        Path(".data"),
        env="SSOIDC_DATA_DIR",
        codec=PATH,
        doc="SQLite file, master key, bootstrap credential file; kept private (directory 0700, files 0600, tightened at start)",
        flag="--data-dir",
        flag_help="Data directory",
    )
    database_url: str = setting(
        "",
        env="SSOIDC_DATABASE_URL",
        codec=STR,
        doc="`postgresql://user@host:5432/db` to store in PostgreSQL (several nodes may share it, with the same"
        " `SSOIDC_MASTER_KEY`; [deployment.md](deployment.md)). URL parameters `pool_min_size` (2),"
        " `pool_max_size` (10) and `command_timeout` (10 s) tune the per-process pool, and `pooler=transaction`"
        " is for a transaction-pooling proxy such as PgBouncer"
        " ([deployment.md](deployment.md#behind-a-connection-pooler)); any other parameter is a server setting,"
        " e.g. `search_path=ssoidc` selects the schema (created if missing)",
        flag="--database-url",
        flag_help="postgresql://... to store everything in PostgreSQL",
        shown_default="SQLite in the data dir",
    )
    workers: int = setting(
        1,
        env="SSOIDC_WORKERS",
        codec=INT,
        doc="worker processes",
        flag="--workers",
        flag_help="Worker processes",
        minimum=1,
    )
    config_file: Path | None = setting(  # noqa: RUF009 - setting() returns a dataclasses.field
        None,
        env="SSOIDC_CONFIG",
        codec=OPTIONAL_PATH,
        doc="declarative configuration file applied at start ([configuration.md](configuration.md))",
        flag="--config",
        flag_help="Declarative configuration file to apply at start",
    )
    demo: bool = setting(
        False,
        env="SSOIDC_DEMO",
        codec=BOOL,
        doc="demo data and the built-in demo token issuer (dev only; `--demo` implies `--allow-insecure-issuers`)",
        flag="--demo",
        flag_help="Serve demo data and the demo token issuer (dev only)",
    )
    testing: bool = setting(
        False,
        env="SSOIDC_TESTING",
        codec=BOOL,
        doc="test mode ([testing.md](testing.md)): a clock tests can move forward, fault injection, the demo token"
        " issuer, through `/_ssoidc/testing/*` (admin-signed); never in production",
        flag="--testing",
        flag_help="Serve for tests: a movable clock, fault injection, the demo token issuer (never in production)",
    )
    public_url: str = setting(
        "",
        env="SSOIDC_PUBLIC_URL",
        codec=STR,
        doc="base URL clients use to reach this server; the idToken issuer is `<public url>/<instance id>`",
        flag="--public-url",
        flag_help="Base URL clients use",
        shown_default="http://HOST:PORT (https with TLS)",
    )
    tls_certfile: Path | None = setting(  # noqa: RUF009 - setting() returns a dataclasses.field
        None,
        env="SSOIDC_TLS_CERTFILE",
        codec=OPTIONAL_PATH,
        doc="PEM certificate chain to serve HTTPS with (the server's certificate first); with"
        " `SSOIDC_TLS_KEYFILE`. The default public URL is then `https://HOST:PORT`. `ssoidc dev-cert` makes one"
        " for localhost ([deployment.md](deployment.md#tls))",
        flag="--tls-certfile",
        flag_help="PEM certificate chain: serve HTTPS (with --tls-keyfile)",
    )
    tls_keyfile: Path | None = setting(  # noqa: RUF009 - setting() returns a dataclasses.field
        None,
        env="SSOIDC_TLS_KEYFILE",
        codec=OPTIONAL_PATH,
        doc="PEM private key of `SSOIDC_TLS_CERTFILE` (unencrypted; keep it private, mode 0600)",
        flag="--tls-keyfile",
        flag_help="PEM private key of --tls-certfile",
    )
    allow_insecure_issuers: bool = setting(
        False,
        env="SSOIDC_ALLOW_INSECURE_ISSUERS",
        codec=BOOL,
        doc="allow http and loopback/private trusted-token-issuer URLs (SSRF guard off; demo and tests only)",
        flag="--allow-insecure-issuers",
        flag_help="Allow http/loopback trusted token issuers (SSRF guard off)",
    )
    account_id: str = setting(
        "123456789012",
        env="SSOIDC_ACCOUNT_ID",
        codec=STR,
        doc="account of the instance and of generated ARNs (12 digits)",
    )
    region: str = setting(
        "us-east-1", env="SSOIDC_REGION", codec=STR, doc="region SigV4 credential scopes must name"
    )
    access_token_ttl: int = setting(
        3600,
        env="SSOIDC_ACCESS_TOKEN_TTL",
        codec=INT,
        doc="`expiresIn` of access tokens, seconds (AWS: 3600)",
        minimum=0,
    )
    session_ttl: int = setting(
        8 * 3600,
        env="SSOIDC_SESSION_TTL",
        codec=INT,
        doc="lifetime of the session a grant starts, seconds; refresh tokens expire with it (AWS default: 8 hours)",
        minimum=0,
    )
    refresh_grace_seconds: float = setting(
        5.0,
        env="SSOIDC_REFRESH_GRACE_SECONDS",
        codec=FLOAT,
        doc="a retired refresh token presented again within this many seconds is refused without revoking its"
        " family (a client's own network retry); later reuse revokes the whole family",
        minimum=0,
    )
    refresh_token_format: str = setting(
        "sealed",
        env="SSOIDC_REFRESH_TOKEN_FORMAT",
        codec=LOWER,
        doc="refresh tokens minted: `sealed` (they carry what the next refresh needs: one store round trip per"
        " refresh, [behaviour.md](behaviour.md)) or `mac` (random + MAC, the earlier format, which older nodes"
        " redeem: use it during a rolling upgrade from a version without sealed tokens). Both are always"
        " accepted.",
        choices=("sealed", "mac"),
    )
    code_ttl: int = setting(
        300, env="SSOIDC_CODE_TTL", codec=INT, doc="authorization code lifetime, seconds", minimum=0
    )
    web_session_ttl: int = setting(
        8 * 3600,
        env="SSOIDC_WEB_SESSION_TTL",
        codec=INT,
        doc="lifetime of the browser sign-in session (the cookie that lets a second /authorize skip the"
        " password), seconds",
    )
    lockout_threshold: int = setting(
        5,
        env="SSOIDC_LOCKOUT_THRESHOLD",
        codec=INT,
        doc="failed sign-ins for one user name, within `SSOIDC_LOCKOUT_WINDOW`, that lock it",
    )
    lockout_window: int = setting(
        900,
        env="SSOIDC_LOCKOUT_WINDOW",
        codec=INT,
        doc="window in which failed sign-ins are counted, seconds",
    )
    lockout_seconds: int = setting(
        300, env="SSOIDC_LOCKOUT_SECONDS", codec=INT, doc="how long a locked user name stays locked, seconds"
    )
    assertion_leeway: int = setting(
        60,
        env="SSOIDC_ASSERTION_LEEWAY",
        codec=INT,
        doc="clock leeway for `exp`/`nbf`/`iat` of JWT-bearer assertions, seconds",
        minimum=0,
    )
    assertion_max_lifetime: int = setting(
        86400,
        env="SSOIDC_ASSERTION_MAX_LIFETIME",
        codec=INT,
        doc="longest lifetime of a JWT-bearer assertion, seconds: `exp - iat` (or `exp` - now when it has no"
        " `iat`) above it is refused (RFC 7523 section 3; identity providers' idTokens live 1 hour)",
        minimum=0,
    )
    assertion_max_age: int = setting(
        86400,
        env="SSOIDC_ASSERTION_MAX_AGE",
        codec=INT,
        doc="oldest `iat` of a JWT-bearer assertion accepted, seconds before now (plus the leeway; RFC 7523"
        " section 3); binding only when lower than `SSOIDC_ASSERTION_MAX_LIFETIME`",
        minimum=0,
    )
    id_token_alg: str = setting(
        "ES256",
        env="SSOIDC_ID_TOKEN_ALG",
        codec=STR,
        doc="signing algorithm of idTokens: ES256 or RS256",
        choices=("ES256", "RS256"),
    )
    sqlite_synchronous: str = setting(
        "NORMAL",
        env="SSOIDC_SQLITE_SYNCHRONOUS",
        codec=UPPER,
        doc="SQLite `synchronous` pragma in WAL mode: NORMAL (durable across process crashes) or FULL (fsync"
        " every commit, also durable across power loss)",
        choices=("NORMAL", "FULL"),
    )
    session_credentials_max_ttl: int = setting(
        43200,
        env="SSOIDC_SESSION_CREDENTIALS_MAX_TTL",
        codec=INT,
        doc="the longest session credentials live (the portal's GetRoleCredentials, STS), seconds: a longer"
        " permission-set session duration is cut to it (AWS: 12 hours at most)",
        minimum=1,
    )
    session_credentials_cache_size: int = setting(
        10_000,
        env="SSOIDC_SESSION_CREDENTIALS_CACHE_SIZE",
        codec=INT,
        doc="session credentials each worker keeps in memory by access key id (read from the store on a miss);"
        " 0 turns caching off",
        minimum=0,
    )
    directory_cache_size: int = setting(
        10_000,
        env="SSOIDC_DIRECTORY_CACHE_SIZE",
        codec=INT,
        doc="entries in each of a worker's directory caches (users by id, lookups by attribute, assignment"
        " answers), invalidated per entity through the change feed; 0 turns caching off",
        minimum=0,
    )
    jwks_ttl: int = setting(
        3600, env="SSOIDC_JWKS_TTL", codec=INT, doc="trusted-issuer JWKS cache lifetime, seconds"
    )
    jwks_min_refetch_interval: int = setting(
        60,
        env="SSOIDC_JWKS_MIN_REFETCH_INTERVAL",
        codec=INT,
        doc="at most one refetch per issuer per interval on an unknown `kid`, seconds",
    )
    sigv4_max_skew: int = setting(
        300, env="SSOIDC_SIGV4_MAX_SKEW", codec=INT, doc="SigV4 clock-skew window, seconds", minimum=0
    )
    allowed_hosts: str = setting(
        "",
        env="SSOIDC_ALLOWED_HOSTS",
        codec=STR,
        doc="comma-separated `host[:port]` values a SigV4 signature may name in its signed `Host` header (a"
        " request signed for another deployment is refused as `InvalidSignatureException`); `*` turns the check"
        " off. Default: the host of `SSOIDC_PUBLIC_URL` (with and without its default port), plus `localhost`,"
        " `127.0.0.1` and `[::1]` (with the listening port, and without a port) when there is no public URL or"
        " the node listens on a loopback address ([deployment.md](deployment.md#the-host-a-request-is-signed-for))",
        shown_default="derived",
    )
    http_head_timeout: float = setting(
        10.0,
        env="SSOIDC_HTTP_HEAD_TIMEOUT",
        codec=FLOAT,
        doc="seconds a client has to send a complete request line and headers, from its connection or its first"
        " byte (a connection that sends nothing is closed after this long too; 408 if nothing was answered yet)",
        minimum=0.01,
    )
    http_body_timeout: float = setting(
        10.0,
        env="SSOIDC_HTTP_BODY_TIMEOUT",
        codec=FLOAT,
        doc="seconds a client has to send a request body, from the end of its headers (408, connection closed)",
        minimum=0.01,
    )
    http_keep_alive_timeout: int = setting(
        5,
        env="SSOIDC_HTTP_KEEP_ALIVE_TIMEOUT",
        codec=INT,
        doc="seconds an idle keep-alive connection stays open after an answer",
        minimum=1,
    )
    http_max_header_bytes: int = setting(
        16384,
        env="SSOIDC_HTTP_MAX_HEADER_BYTES",
        codec=INT,
        doc="largest request head (request line and every header), bytes; larger is answered 431 and closed",
        minimum=1024,
    )
    http_max_headers: int = setting(
        100,
        env="SSOIDC_HTTP_MAX_HEADERS",
        codec=INT,
        doc="most header fields one request may carry (AWS SDKs send about 10); more is answered 431 and closed",
        minimum=16,
    )
    http_max_connections: int = setting(
        512,
        env="SSOIDC_HTTP_MAX_CONNECTIONS",
        codec=INT,
        doc="open connections per worker process, idle keep-alive ones included; a connection beyond it is"
        " answered 503 and closed at once",
        minimum=1,
    )
    forwarded_allow_ips: str = setting(
        "",
        env="SSOIDC_FORWARDED_ALLOW_IPS",
        codec=STR,
        doc="comma-separated addresses of reverse proxies whose `X-Forwarded-For` names the client (uvicorn's"
        " `forwarded_allow_ips`; `*` trusts any peer); empty: the client address is always the TCP peer, which"
        " the per-address rate limit and `aws:SourceIp` use",
    )
    rate_limit_address: float = setting(
        10_000.0,
        env="SSOIDC_RATE_LIMIT_ADDRESS",
        codec=FLOAT,
        doc="AWS requests per second one client address may make (signed or not; failed authentication counts),"
        " per worker process ([deployment.md](deployment.md#rate-limits)); over it: SlowDownException,"
        " ThrottlingException or Throttling with `Retry-After`; 0 = no limit. The address is the TCP peer"
        " (`SSOIDC_FORWARDED_ALLOW_IPS`)",
        minimum=0,
    )
    rate_limit_address_burst: float = setting(
        20_000.0,
        env="SSOIDC_RATE_LIMIT_ADDRESS_BURST",
        codec=FLOAT,
        doc="requests one client address may make at once above its rate (the token bucket's size)",
        minimum=1,
    )
    rate_limit_principal: float = setting(
        5_000.0,
        env="SSOIDC_RATE_LIMIT_PRINCIPAL",
        codec=FLOAT,
        doc="signed AWS requests per second one principal ARN may make, per worker process; 0 = no limit",
        minimum=0,
    )
    rate_limit_principal_burst: float = setting(
        10_000.0,
        env="SSOIDC_RATE_LIMIT_PRINCIPAL_BURST",
        codec=FLOAT,
        doc="requests one principal may make at once above its rate",
        minimum=1,
    )
    rate_limit_application: float = setting(
        10_000.0,
        env="SSOIDC_RATE_LIMIT_APPLICATION",
        codec=FLOAT,
        doc="CreateTokenWithIAM requests per second for one application (counted once the caller is allowed),"
        " per worker process; 0 = no limit",
        minimum=0,
    )
    rate_limit_application_burst: float = setting(
        20_000.0,
        env="SSOIDC_RATE_LIMIT_APPLICATION_BURST",
        codec=FLOAT,
        doc="token requests one application may take at once above its rate",
        minimum=1,
    )
    rate_limit_max_keys: int = setting(
        50_000,
        env="SSOIDC_RATE_LIMIT_MAX_KEYS",
        codec=INT,
        doc="addresses (principals, applications) each worker tracks per limit; past it the idle ones, then the"
        " least limited, are forgotten (memory stays bounded)",
        minimum=2,
    )
    max_refresh_families: int = setting(
        100,
        env="SSOIDC_MAX_REFRESH_FAMILIES",
        codec=INT,
        doc="live refresh-token families (sessions started by a JWT-bearer assertion or an authorization code)"
        " one user may hold per application, across all nodes; a new one past the cap revokes the oldest"
        " ([deployment.md](deployment.md#refresh-token-families)); 0 = no cap",
        minimum=0,
    )
    default_scopes: tuple[str, ...] = field(default=DEFAULT_SCOPES)
    """Scopes every application may be granted besides its own access scopes (not configurable)."""

    @property
    def tls(self) -> bool:
        """True if the node serves HTTPS (``SSOIDC_TLS_CERTFILE`` and ``_KEYFILE``)."""
        return self.tls_certfile is not None

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return (self.public_url or f"{scheme}://{host}:{self.port}").rstrip("/")

    @property
    def insecure_issuers_allowed(self) -> bool:
        """Loopback and http:// trusted token issuers: ``SSOIDC_ALLOW_INSECURE_ISSUERS``, implied by demo and test
        mode however they were turned on (flag or ``SSOIDC_DEMO`` / ``SSOIDC_TESTING``)."""
        return bool(self.allow_insecure_issuers or self.testing or self.demo)

    @property
    def signed_hosts(self) -> tuple[str, ...] | None:
        """The ``Host`` values a SigV4 signature may name (``SSOIDC_ALLOWED_HOSTS``, else derived: see its
        help), lower-cased, the public URL's first; None if the check is off (``*``)."""
        listed = [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]
        if listed == ["*"]:
            return None
        if listed:
            return tuple(listed)
        hosts: list[str] = []
        if self.public_url:
            url = urlsplit(self.public_url)
            name = (url.hostname or "").lower()
            name = f"[{name}]" if ":" in name else name
            default = {"http": 80, "https": 443}.get(url.scheme.lower())
            port = url.port if url.port is not None else default
            hosts.append(f"{name}:{port}" if port is not None and port != default else name)
            if port is not None and port == default:
                hosts.append(f"{name}:{port}")
        if not self.public_url or _is_loopback(self.host):
            if _is_loopback(self.host):  # the bind address first: the one the error message names
                bound = self.host.strip("[]").lower()
                hosts.append(f"[{bound}]:{self.port}" if ":" in bound else f"{bound}:{self.port}")
            for name in ("localhost", "127.0.0.1", "[::1]"):
                hosts.extend((f"{name}:{self.port}", name))
        return tuple(dict.fromkeys(hosts))

    @property
    def db_path(self) -> Path:
        return self.data_dir / "ssoidc.db"

    def validate(self) -> Settings:
        account = OPTIONS["account_id"]
        if not (len(self.account_id) == 12 and self.account_id.isdigit()):
            raise ConfigError(f"{account.env}: expected 12 digits, got {self.account_id!r}")
        if self.database_url and not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(
                f"{OPTIONS['database_url'].env}: expected a postgresql:// URL (or nothing, for SQLite)"
            )
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            given, missing = (
                ("tls_certfile", "tls_keyfile")
                if self.tls_keyfile is None
                else ("tls_keyfile", "tls_certfile")
            )
            raise ConfigError(f"{OPTIONS[given].label} needs {OPTIONS[missing].label} too")
        for name, option in OPTIONS.items():
            value = getattr(self, name)
            if option.choices and value not in option.choices:
                raise ConfigError(f"{option.env}: expected {' or '.join(option.choices)}, got {value!r}")
            if option.minimum is not None and not value >= option.minimum:
                if option.minimum == 0:
                    raise ConfigError(f"{option.label}: must not be negative")
                raise ConfigError(f"{option.label}: must be at least {option.minimum:g}")
        return self

    def with_overrides(self, **changes: object) -> Settings:
        clean = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **clean).validate()  # type: ignore[arg-type]


def _is_loopback(host: str) -> bool:
    """A bind address only this machine can reach (``127.0.0.0/8``, ``::1``, ``localhost``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


#: Every option that has a variable, by field name, in declaration order.
OPTIONS: Final[Mapping[str, Option]] = {
    f.name: f.metadata["option"] for f in fields(Settings) if "option" in f.metadata
}
_DEFAULTS: Final = Settings()


def settings_from_env(**overrides: object) -> Settings:
    """Build settings from ``SSOIDC_*`` environment variables, then apply explicit overrides (CLI flags)."""
    values: dict[str, Any] = {}
    for name, option in OPTIONS.items():
        raw = os.environ.get(option.env)
        if raw is None or (raw == "" and option.codec.blank_is_unset):
            continue
        values[name] = option.codec.parse(option.env, raw)
    return Settings(**values).with_overrides(**overrides)


def export_env(settings: Settings) -> dict[str, str]:
    """The environment that reproduces ``settings`` in a worker process (uvicorn --workers spawns fresh ones)."""
    out: dict[str, str] = {}
    for name, option in OPTIONS.items():
        text = option.codec.write(getattr(settings, name))
        if text is not None:
            out[option.env] = text
    return out


def shown_default(name: str) -> str:
    """The default of setting ``name`` as the documentation and ``--help`` show it."""
    option = OPTIONS[name]
    if option.shown_default is not None:
        return option.shown_default
    text = option.codec.show(getattr(_DEFAULTS, name))
    return text if text else "—"


def flag_help(name: str) -> str:
    """The ``--help`` text of the ``ssoidc serve`` flag of setting ``name``: its own text, variable, default."""
    option = OPTIONS[name]
    default = shown_default(name)
    return (
        f"{option.flag_help} ({option.env})"
        if default == "—"
        else f"{option.flag_help} ({option.env}; default {default})"
    )


# --------------------------------------------------------------------------- docs/settings.md

TABLE_BEGIN: Final = "<!-- BEGIN settings table: generated by `make settings-doc` from ssoidc/settings.py -->"
TABLE_END: Final = "<!-- END settings table -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table() -> str:
    """The Markdown table of every option (flag, variable, default, meaning), in declaration order."""
    lines = ["| Flag | Variable | Default | Meaning |", "|---|---|---|---|"]
    for name, option in OPTIONS.items():
        flag = f"`{option.flag}`" if option.flag else ""
        lines.append(f"| {flag} | `{option.env}` | {_cell(shown_default(name))} | {_cell(option.doc)} |")
    return "\n".join(lines) + "\n"


def render_doc(current: str) -> str:
    """``current`` (the text of ``docs/settings.md``) with the generated table between its markers replaced."""
    head, begin, rest = current.partition(TABLE_BEGIN)
    _old, end, tail = rest.partition(TABLE_END)
    if not begin or not end:
        raise ValueError(f"docs/settings.md must contain the markers {TABLE_BEGIN!r} and {TABLE_END!r}")
    return f"{head}{TABLE_BEGIN}\n{markdown_table()}{TABLE_END}{tail}"


DOC_PATH: Final = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def main(argv: list[str]) -> int:
    """``python -m ssoidc.settings --markdown`` prints the table; ``--write [PATH]`` updates docs/settings.md."""
    if argv[:1] == ["--markdown"]:
        sys.stdout.write(markdown_table())
        return 0
    if argv[:1] == ["--write"]:
        path = Path(argv[1]) if len(argv) > 1 else DOC_PATH
        path.write_text(render_doc(path.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
    sys.stderr.write("usage: python -m ssoidc.settings --markdown | --write [docs/settings.md]\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
