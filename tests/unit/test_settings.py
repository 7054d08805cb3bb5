"""The settings declaration (``ssoidc.settings``): each option is declared once, and the environment reader, the
worker-process environment, the ``serve`` flags and ``docs/settings.md`` all follow from it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import typer.main

from ssoidc.cli import app
from ssoidc.errors import ConfigError
from ssoidc.settings import DOC_PATH, OPTIONS, Settings, export_env, render_doc, settings_from_env

NON_DEFAULT = Settings(
    host="192.0.2.1",
    port=9443,
    data_dir=Path("/var/lib/ssoidc"),
    database_url="postgresql://ssoidc@db:5432/ssoidc?search_path=ssoidc",
    workers=4,
    directory_cache_size=500,
    session_credentials_max_ttl=3600,
    session_credentials_cache_size=50,
    config_file=Path("/etc/ssoidc.yaml"),
    demo=True,
    testing=True,
    public_url="https://sso.example.com",
    tls_certfile=Path("/etc/ssoidc/tls/cert.pem"),
    tls_keyfile=Path("/etc/ssoidc/tls/key.pem"),
    allow_insecure_issuers=True,
    account_id="210987654321",
    region="eu-west-1",
    access_token_ttl=900,
    session_ttl=3600,
    refresh_grace_seconds=1.5,
    refresh_token_format="mac",
    code_ttl=60,
    web_session_ttl=600,
    lockout_threshold=3,
    lockout_window=120,
    lockout_seconds=30,
    assertion_leeway=5,
    assertion_max_lifetime=3600,
    assertion_max_age=1800,
    id_token_alg="RS256",
    sqlite_synchronous="FULL",
    jwks_ttl=600,
    jwks_min_refetch_interval=10,
    sigv4_max_skew=60,
    allowed_hosts="sso.example.com,sso.internal:9443",
    http_head_timeout=2.5,
    http_body_timeout=3.0,
    http_keep_alive_timeout=2,
    http_max_header_bytes=8192,
    http_max_headers=50,
    http_max_connections=64,
    forwarded_allow_ips="10.0.0.1,10.0.0.2",
    rate_limit_address=50.5,
    rate_limit_address_burst=100,
    rate_limit_principal=20,
    rate_limit_principal_burst=40,
    rate_limit_application=0,
    rate_limit_application_burst=2,
    rate_limit_max_keys=1000,
    max_refresh_families=0,
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The process environment without any variable of a declared option."""
    for option in OPTIONS.values():
        monkeypatch.delenv(option.env, raising=False)
    return monkeypatch


def test_the_checked_in_table_is_the_generated_one() -> None:
    current = DOC_PATH.read_text(encoding="utf-8")
    assert render_doc(current) == current, "docs/settings.md is stale: run `make settings-doc`"


def test_the_table_lists_every_variable_with_its_default() -> None:
    text = DOC_PATH.read_text(encoding="utf-8")
    for option in OPTIONS.values():
        assert f"| `{option.env}` |" in text
    assert "| `--host` | `SSOIDC_HOST` | 127.0.0.1 | bind address |" in text
    assert "| `SSOIDC_REFRESH_GRACE_SECONDS` | 5 |" in text


def test_every_field_but_default_scopes_is_declared_with_a_variable() -> None:
    names = [f.name for f in dataclasses.fields(Settings)]
    assert list(OPTIONS) == [n for n in names if n != "default_scopes"]
    assert len({o.env for o in OPTIONS.values()}) == len(OPTIONS)
    assert all(o.env.startswith("SSOIDC_") and o.doc for o in OPTIONS.values())


def test_export_then_read_back_is_the_same_settings(clean_env: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    same = [n for n in OPTIONS if getattr(NON_DEFAULT, n) == getattr(defaults, n)]
    assert same == [], "NON_DEFAULT must differ from the defaults in every option"
    for name, value in export_env(NON_DEFAULT.validate()).items():
        clean_env.setenv(name, value)
    assert settings_from_env() == NON_DEFAULT


def test_defaults_round_trip_and_leave_out_an_unset_config_file(clean_env: pytest.MonkeyPatch) -> None:
    assert settings_from_env() == Settings()
    env = export_env(Settings())
    assert "SSOIDC_CONFIG" not in env
    assert env["SSOIDC_REFRESH_GRACE_SECONDS"] == "5"  # what earlier versions wrote: older workers read it
    assert env["SSOIDC_DEMO"] == "0"
    for name, value in env.items():
        clean_env.setenv(name, value)
    assert settings_from_env() == Settings()


def test_refresh_grace_is_a_number_of_seconds_not_an_integer(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SSOIDC_REFRESH_GRACE_SECONDS", "0.25")
    assert settings_from_env().refresh_grace_seconds == 0.25
    assert export_env(Settings(refresh_grace_seconds=0.25))["SSOIDC_REFRESH_GRACE_SECONDS"] == "0.25"
    for bad in ("nan", "inf", "soon"):
        clean_env.setenv("SSOIDC_REFRESH_GRACE_SECONDS", bad)
        with pytest.raises(ConfigError, match="SSOIDC_REFRESH_GRACE_SECONDS"):
            settings_from_env()
    clean_env.setenv("SSOIDC_REFRESH_GRACE_SECONDS", "-1")
    with pytest.raises(ConfigError, match="SSOIDC_REFRESH_GRACE_SECONDS: must not be negative"):
        settings_from_env()


def test_reading_variables(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SSOIDC_PORT", "")  # an empty number is unset
    clean_env.setenv("SSOIDC_DEMO", "yes")
    clean_env.setenv("SSOIDC_CONFIG", "")
    clean_env.setenv("SSOIDC_REFRESH_TOKEN_FORMAT", " MAC ")
    clean_env.setenv("SSOIDC_SQLITE_SYNCHRONOUS", "full")
    s = settings_from_env()
    assert (s.port, s.demo, s.config_file, s.refresh_token_format, s.sqlite_synchronous) == (
        8000,
        True,
        None,
        "mac",
        "FULL",
    )
    clean_env.setenv("SSOIDC_PORT", "eighty")
    with pytest.raises(ConfigError, match="SSOIDC_PORT: expected an integer, got 'eighty'"):
        settings_from_env()
    clean_env.delenv("SSOIDC_PORT")
    clean_env.setenv("SSOIDC_DEMO", "maybe")
    with pytest.raises(ConfigError, match="SSOIDC_DEMO: expected 1/0/true/false"):
        settings_from_env()


def test_overrides_win_over_variables_and_are_validated(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SSOIDC_PORT", "9000")
    assert settings_from_env(port=9001, host=None).port == 9001
    with pytest.raises(ConfigError, match="SSOIDC_WORKERS \\(--workers\\): must be at least 1"):
        settings_from_env(workers=0)
    with pytest.raises(ConfigError, match="SSOIDC_ID_TOKEN_ALG: expected ES256 or RS256, got 'HS256'"):
        settings_from_env(id_token_alg="HS256")
    with pytest.raises(ConfigError, match="SSOIDC_ACCOUNT_ID: expected 12 digits"):
        settings_from_env(account_id="12345")


def test_serve_flags_are_the_declared_ones() -> None:
    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    flags = {opt: p for p in serve.params for opt in p.opts}
    declared = {o.flag: (name, o) for name, o in OPTIONS.items() if o.flag}
    assert set(flags) - set(declared) == {"--access-log"}, "a serve flag that is not a declared option"
    for flag, (name, option) in declared.items():
        assert flag in flags, f"{name}: {flag} is declared but serve has no such flag"
        assert option.env in (flags[flag].help or "")
    assert flags["--port"].help == "Port (SSOIDC_PORT; default 8000)"
    assert flags["--database-url"].help.endswith("(SSOIDC_DATABASE_URL; default SQLite in the data dir)")


def test_version_is_the_pyproject_one() -> None:
    import tomllib

    import ssoidc

    pyproject = tomllib.loads((DOC_PATH.parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    declared = pyproject["project"]["version"]
    assert ssoidc.__version__ == declared
    assert declared == ssoidc._PYPROJECT_VERSION  # the fallback for an uninstalled checkout is kept in step
