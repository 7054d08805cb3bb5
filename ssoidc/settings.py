"""Runtime settings for ``ssoidc serve`` and the CLI.

Every option lives here with its default and meaning (node-oidc-provider's ``defaults.js`` idea). Values come
from the CLI flags, then ``SSOIDC_*`` environment variables, then these defaults. Settings are frozen once built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from ssoidc.errors import ConfigError

DEFAULT_SCOPES: tuple[str, ...] = ("openid", "aws", "sts:identity_context")


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}: expected 1/0/true/false, got {raw!r}")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None


@dataclass(frozen=True, slots=True)
class Settings:
    """Effective configuration of one ssoidc node."""

    data_dir: Path = Path(".data")
    """Where the SQLite store, the master key and the bootstrap credential file live."""
    database_url: str = ""
    """``postgresql://user:password@host:port/db?search_path=schema``: store everything in PostgreSQL, shared by
    every node given the same URL (and the same ``SSOIDC_MASTER_KEY``). Query parameters ``pool_min_size``
    (2), ``pool_max_size`` (10) and ``command_timeout`` (seconds, 10) tune the per-process pool;
    ``pooler=transaction`` is for a transaction-pooling proxy; any other is a server setting. Empty: SQLite in
    ``data_dir``."""
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    public_url: str = ""
    """Base URL clients use to reach this server; the idToken issuer is ``<public_url>/<instance id>``.
    Empty means ``http://<host>:<port>``."""
    account_id: str = "123456789012"
    region: str = "us-east-1"
    demo: bool = False
    """Serve demo data and the built-in demo token issuer (dev only)."""
    allow_insecure_issuers: bool = False
    """Allow http:// and loopback/private trusted-token-issuer URLs (SSRF guard off). Demo and tests only."""
    config_file: Path | None = None
    access_token_ttl: int = 3600
    """``expiresIn`` of access tokens, seconds (AWS: 3600)."""
    session_ttl: int = 8 * 3600
    """Lifetime of the session a grant starts; refresh tokens die with it (AWS default: 8 hours)."""
    refresh_grace_seconds: float = 5.0
    """A retired refresh token presented again within this many seconds is refused without revoking its family
    (a client's own network retry); later reuse revokes the whole family."""
    refresh_token_format: str = "sealed"  # noqa: S105 - a format name, not a secret
    """Refresh tokens minted: ``sealed`` (they carry what the next refresh needs; one store round trip per refresh)
    or ``mac`` (random + MAC, the format of earlier versions, which older nodes can redeem: for a rolling upgrade).
    Both formats are always accepted."""
    code_ttl: int = 300
    """Lifetime of authorization codes, seconds."""
    web_session_ttl: int = 8 * 3600
    """Lifetime of the browser sign-in session (the cookie that lets a second /authorize skip the password)."""
    lockout_threshold: int = 5
    """Failed sign-ins for one user name, within ``lockout_window`` seconds, that lock it."""
    lockout_window: int = 900
    lockout_seconds: int = 300
    """How long a locked user name stays locked."""
    assertion_leeway: int = 60
    """Clock leeway for exp/nbf/iat of JWT-bearer assertions, seconds."""
    id_token_alg: str = "ES256"  # noqa: S105 - an algorithm name
    """Signing algorithm of idTokens: ES256 (default) or RS256."""
    sqlite_synchronous: str = "NORMAL"
    """SQLite ``synchronous`` pragma in WAL mode: NORMAL (durable across process crashes) or FULL (fsync per commit,
    also durable across power loss)."""
    jwks_ttl: int = 3600
    jwks_min_refetch_interval: int = 60
    sigv4_max_skew: int = 300
    default_scopes: tuple[str, ...] = field(default=DEFAULT_SCOPES)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "ssoidc.db"

    def validate(self) -> Settings:
        if not (len(self.account_id) == 12 and self.account_id.isdigit()):
            raise ConfigError(f"SSOIDC_ACCOUNT_ID: expected 12 digits, got {self.account_id!r}")
        if self.id_token_alg not in {"ES256", "RS256"}:
            raise ConfigError(f"SSOIDC_ID_TOKEN_ALG: expected ES256 or RS256, got {self.id_token_alg!r}")
        if self.sqlite_synchronous not in {"NORMAL", "FULL"}:
            raise ConfigError(
                f"SSOIDC_SQLITE_SYNCHRONOUS: expected NORMAL or FULL, got {self.sqlite_synchronous!r}"
            )
        if self.refresh_token_format not in {"sealed", "mac"}:
            raise ConfigError(
                f"SSOIDC_REFRESH_TOKEN_FORMAT: expected sealed or mac, got {self.refresh_token_format!r}"
            )
        if self.database_url and not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("SSOIDC_DATABASE_URL: expected a postgresql:// URL (or nothing, for SQLite)")
        if self.workers < 1:
            raise ConfigError("--workers: must be at least 1")
        for name in (
            "access_token_ttl",
            "session_ttl",
            "assertion_leeway",
            "sigv4_max_skew",
            "refresh_grace_seconds",
            "code_ttl",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must not be negative")
        return self

    def with_overrides(self, **changes: object) -> Settings:
        clean = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **clean).validate()  # type: ignore[arg-type]


def settings_from_env(**overrides: object) -> Settings:
    """Build settings from ``SSOIDC_*`` environment variables, then apply explicit overrides (CLI flags)."""
    env = os.environ
    cfg = env.get("SSOIDC_CONFIG")
    base = Settings(
        data_dir=Path(env.get("SSOIDC_DATA_DIR", ".data")),
        database_url=env.get("SSOIDC_DATABASE_URL", ""),
        host=env.get("SSOIDC_HOST", "127.0.0.1"),
        port=_env_int("SSOIDC_PORT", 8000),
        workers=_env_int("SSOIDC_WORKERS", 1),
        public_url=env.get("SSOIDC_PUBLIC_URL", ""),
        account_id=env.get("SSOIDC_ACCOUNT_ID", "123456789012"),
        region=env.get("SSOIDC_REGION", "us-east-1"),
        demo=_env_bool("SSOIDC_DEMO", False),
        allow_insecure_issuers=_env_bool("SSOIDC_ALLOW_INSECURE_ISSUERS", False),
        config_file=Path(cfg) if cfg else None,
        access_token_ttl=_env_int("SSOIDC_ACCESS_TOKEN_TTL", 3600),
        session_ttl=_env_int("SSOIDC_SESSION_TTL", 8 * 3600),
        assertion_leeway=_env_int("SSOIDC_ASSERTION_LEEWAY", 60),
        refresh_grace_seconds=float(_env_int("SSOIDC_REFRESH_GRACE_SECONDS", 5)),
        refresh_token_format=env.get("SSOIDC_REFRESH_TOKEN_FORMAT", "sealed").strip().lower(),
        code_ttl=_env_int("SSOIDC_CODE_TTL", 300),
        web_session_ttl=_env_int("SSOIDC_WEB_SESSION_TTL", 8 * 3600),
        lockout_threshold=_env_int("SSOIDC_LOCKOUT_THRESHOLD", 5),
        lockout_window=_env_int("SSOIDC_LOCKOUT_WINDOW", 900),
        lockout_seconds=_env_int("SSOIDC_LOCKOUT_SECONDS", 300),
        id_token_alg=env.get("SSOIDC_ID_TOKEN_ALG", "ES256"),
        sqlite_synchronous=env.get("SSOIDC_SQLITE_SYNCHRONOUS", "NORMAL").upper(),
        jwks_ttl=_env_int("SSOIDC_JWKS_TTL", 3600),
        jwks_min_refetch_interval=_env_int("SSOIDC_JWKS_MIN_REFETCH_INTERVAL", 60),
        sigv4_max_skew=_env_int("SSOIDC_SIGV4_MAX_SKEW", 300),
    )
    return base.with_overrides(**overrides)


def export_env(settings: Settings) -> dict[str, str]:
    """The environment that reproduces ``settings`` in a worker process (uvicorn --workers spawns fresh ones)."""
    out = {
        "SSOIDC_DATA_DIR": str(settings.data_dir),
        "SSOIDC_DATABASE_URL": settings.database_url,
        "SSOIDC_HOST": settings.host,
        "SSOIDC_PORT": str(settings.port),
        "SSOIDC_WORKERS": str(settings.workers),
        "SSOIDC_PUBLIC_URL": settings.public_url,
        "SSOIDC_ACCOUNT_ID": settings.account_id,
        "SSOIDC_REGION": settings.region,
        "SSOIDC_DEMO": "1" if settings.demo else "0",
        "SSOIDC_ALLOW_INSECURE_ISSUERS": "1" if settings.allow_insecure_issuers else "0",
        "SSOIDC_ACCESS_TOKEN_TTL": str(settings.access_token_ttl),
        "SSOIDC_SESSION_TTL": str(settings.session_ttl),
        "SSOIDC_ASSERTION_LEEWAY": str(settings.assertion_leeway),
        "SSOIDC_REFRESH_GRACE_SECONDS": str(int(settings.refresh_grace_seconds)),
        "SSOIDC_REFRESH_TOKEN_FORMAT": settings.refresh_token_format,
        "SSOIDC_CODE_TTL": str(settings.code_ttl),
        "SSOIDC_WEB_SESSION_TTL": str(settings.web_session_ttl),
        "SSOIDC_LOCKOUT_THRESHOLD": str(settings.lockout_threshold),
        "SSOIDC_LOCKOUT_WINDOW": str(settings.lockout_window),
        "SSOIDC_LOCKOUT_SECONDS": str(settings.lockout_seconds),
        "SSOIDC_ID_TOKEN_ALG": settings.id_token_alg,
        "SSOIDC_SQLITE_SYNCHRONOUS": settings.sqlite_synchronous,
        "SSOIDC_JWKS_TTL": str(settings.jwks_ttl),
        "SSOIDC_JWKS_MIN_REFETCH_INTERVAL": str(settings.jwks_min_refetch_interval),
        "SSOIDC_SIGV4_MAX_SKEW": str(settings.sigv4_max_skew),
    }
    if settings.config_file is not None:
        out["SSOIDC_CONFIG"] = str(settings.config_file)
    return out
