"""The ``ssoidc`` command line: serve, apply, credentials, demo. Thin: it calls the node, config and storage only."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from ssoidc.clock import SystemClock
from ssoidc.datadir import create_private
from ssoidc.errors import ConfigError
from ssoidc.settings import OPTIONS, Settings, export_env, flag_help, settings_from_env
from ssoidc.storage.base import StorageError, Store

T = TypeVar("T")

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="ssoidc: AWS IAM Identity Center OIDC, self-hosted."
)
credentials_app = typer.Typer(no_args_is_help=True, help="Manage the SigV4 credential registry.")
demo_app = typer.Typer(no_args_is_help=True, help="Demo helpers (dev only).")
users_app = typer.Typer(no_args_is_help=True, help="Identity-store users: sign-in passwords.")
app.add_typer(credentials_app, name="credentials")
app.add_typer(demo_app, name="demo")
app.add_typer(users_app, name="users")
device_app = typer.Typer(
    no_args_is_help=True,
    help="Approve or deny a pending device authorization (aws sso login --use-device-code) as a named user,"
    " without a browser (CI).",
)
app.add_typer(device_app, name="device")
authorize_app = typer.Typer(
    no_args_is_help=True,
    help="Approve or deny an /authorize request (aws sso login's browser step) as a named user, without a"
    " browser (CI).",
)
app.add_typer(authorize_app, name="authorize")


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"ssoidc {version('ssoidc')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version of ssoidc and exit"
        ),
    ] = False,
) -> None:
    """ssoidc: AWS IAM Identity Center OIDC, self-hosted."""


def _flag(name: str) -> Any:
    """The ``typer.Option`` of the setting ``name``: flag, help and default all come from ``ssoidc.settings``."""
    return typer.Option(OPTIONS[name].flag, help=flag_help(name))


DataDir = Annotated[Path | None, _flag("data_dir")]
DatabaseUrl = Annotated[str | None, _flag("database_url")]


def _settings(**overrides: Any) -> Settings:
    try:
        return settings_from_env(**overrides)
    except ConfigError as exc:
        typer.secho(f"error: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from None


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(2)


@contextlib.asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[Store]:
    """The store ``settings`` name, open for the length of a block and closed after it."""
    from ssoidc.compose import open_store

    store, _ = open_store(settings)
    try:
        yield store
    finally:
        await store.close()


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run a command's store work (``async with _store(settings)``): a ``ConfigError`` (a bad master key or
    configuration file) or a ``StorageError`` (a database that cannot be opened or read) is the command's
    ``error:`` line and exit status 2, never a traceback."""
    try:
        return asyncio.run(work)
    except ConfigError as exc:
        _fail(exc.message)
    except StorageError as exc:
        _fail(str(exc))


@app.command()
def serve(
    host: Annotated[str | None, _flag("host")] = None,
    port: Annotated[int | None, _flag("port")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    workers: Annotated[int | None, _flag("workers")] = None,
    config: Annotated[Path | None, _flag("config_file")] = None,
    demo: Annotated[bool, _flag("demo")] = False,
    testing: Annotated[bool, _flag("testing")] = False,
    public_url: Annotated[str | None, _flag("public_url")] = None,
    allow_insecure_issuers: Annotated[bool, _flag("allow_insecure_issuers")] = False,
    tls_certfile: Annotated[Path | None, _flag("tls_certfile")] = None,
    tls_keyfile: Annotated[Path | None, _flag("tls_keyfile")] = None,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request line")] = False,
) -> None:
    """Serve the sso-oidc API over HTTP, or HTTPS with --tls-certfile/--tls-keyfile."""
    import uvicorn

    from ssoidc.web.http_limits import PROTOCOL as HTTP_PROTOCOL

    settings = _settings(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        workers=workers,
        config_file=config,
        public_url=public_url,
        demo=demo or None,
        testing=testing or None,
        allow_insecure_issuers=allow_insecure_issuers or None,  # demo and test mode imply it (Settings)
        tls_certfile=tls_certfile,
        tls_keyfile=tls_keyfile,
    )
    _check_tls(settings)  # a missing or mismatched file is one error line, not a traceback per worker
    if settings.testing and settings.workers != 1:
        _fail("--testing serves one worker: the test clock and the fault plan live in its process")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ssoidc.bootstrap import bootstrap

    async def prepare() -> None:
        async with _store(settings) as store:
            await bootstrap(store, settings, SystemClock())

    _run(prepare())
    _check_port(settings.host, settings.port)  # before the banner: a busy port is one line, not a traceback
    _banner(settings)
    os.environ.update(export_env(settings))
    os.environ["SSOIDC_BOOTSTRAPPED"] = "1"  # workers skip the first-start work done above
    uvicorn.run(
        "ssoidc.web.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=access_log,
        log_level="info",
        loop=_event_loop(settings),
        http=HTTP_PROTOCOL,
        ssl_certfile=settings.tls_certfile,
        ssl_keyfile=settings.tls_keyfile,
        timeout_keep_alive=settings.http_keep_alive_timeout,
        timeout_graceful_shutdown=10,
        server_header=False,
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
    )


def _event_loop(settings: Settings) -> str:
    """uvloop; over TLS, the uvloop whose handshakes have the head deadline (``ssoidc.web.tls_loop``)."""
    if sys.platform == "win32":
        return "asyncio"
    if settings.tls:
        from ssoidc.web.tls_loop import LOOP

        return LOOP
    return "uvloop"


def _check_tls(settings: Settings) -> None:
    """Fail with one ``error:`` line unless the TLS certificate chain and key load as uvicorn loads them
    (``ssl.SSLContext.load_cert_chain``: readable PEM files, the key matching the first certificate)."""
    if settings.tls_certfile is None or settings.tls_keyfile is None:
        return
    import ssl

    for path in (settings.tls_certfile, settings.tls_keyfile):
        if not path.is_file():
            _fail(f"TLS: {path} is not a readable file")
    import stat

    mode = stat.S_IMODE(settings.tls_keyfile.stat().st_mode)
    if mode & 0o077:
        typer.secho(
            f"warning: the TLS key {settings.tls_keyfile} is readable by other users (mode {mode:04o});"
            f" chmod 600 it",
            fg="yellow",
            err=True,
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(settings.tls_certfile, settings.tls_keyfile)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        _fail(
            f"TLS: cannot use the certificate {settings.tls_certfile} with the key {settings.tls_keyfile}"
            f" ({reason}): both must be PEM files, the key unencrypted and matching the first certificate"
        )


def _check_port(host: str, port: int) -> None:
    """Fail with one ``error:`` line unless ``host:port`` can be listened on now, bound as uvicorn binds it
    (``SO_REUSEADDR``, IPv6 for a host with a colon). The socket is closed again at once; uvicorn binds its own."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            _fail(
                f"cannot listen on {shown}: the address is already in use (is another ssoidc running?); "
                "stop that server or choose another port with --port (make run PORT=8001)"
            )
        reason = exc.strerror or str(exc)
        _fail(f"cannot listen on {shown}: {reason}; choose another --host or --port")


def _client_python() -> str:
    """The interpreter to show in the banner's boto3 example: this venv's ``python3`` when ssoidc runs from a
    venv (``make run``: it has boto3), else plain ``python3`` (a stock Debian has no ``python``)."""
    if sys.prefix != sys.base_prefix:
        venv_python3 = Path(sys.executable).parent / "python3"
        if venv_python3.exists():
            return str(venv_python3)
    return "python3"


SSO_SESSION = "ssoidc"
SSO_PROFILE = "ssoidc-sso"


def sso_config(start_url: str, region: str, account_id: str = "", role_name: str = "") -> str:
    """The ``~/.aws/config`` sections ``aws sso login --profile ssoidc-sso`` needs (the ``sso-session`` form:
    refreshable tokens; the registration asks for ``sso:account:access``, what the CLI asks by default); with
    ``account_id`` and ``role_name`` the profile also gets role credentials through the portal."""
    role = f"sso_account_id = {account_id}\nsso_role_name = {role_name}\n" if account_id and role_name else ""
    return (
        f"[sso-session {SSO_SESSION}]\n"
        f"sso_start_url = {start_url}\n"
        f"sso_region = {region}\n"
        "sso_registration_scopes = sso:account:access\n"
        "\n"
        f"[profile {SSO_PROFILE}]\n"
        f"sso_session = {SSO_SESSION}\n"
        f"{role}"
        f"region = {region}\n"
    )


def _demo_role(settings: Settings) -> tuple[str, str]:
    """The demo profile's ``(sso_account_id, sso_role_name)`` (demo mode only; else empty)."""
    if not settings.demo:
        return "", ""
    from ssoidc.demo import DEMO_PERMISSION_SET

    return settings.account_id, DEMO_PERMISSION_SET


def _aws_cli_config(
    data_dir: Path, region: str, start_url: str | None = None, role: tuple[str, str] = ("", "")
) -> Path:
    """An AWS CLI config file for the banner's commands: profile ``ssoidc`` with the server's region and
    ``cli_follow_urlparam = false`` (AWS CLI v1 otherwise fetches an ``http://`` parameter value, such as a
    ``--redirect-uri``, and sends the page it got), and with ``start_url`` the ``aws sso login`` sections
    (:func:`sso_config`)."""
    path = data_dir / "aws-cli-config"
    text = f"[profile ssoidc]\nregion = {region}\ncli_follow_urlparam = false\n"
    if start_url is not None:
        text += "\n" + sso_config(start_url, region, *role)
    with contextlib.suppress(OSError):
        if not path.exists() or path.read_text() != text:
            create_private(path)
            path.write_text(text)
    return path


def _load_config_summary(settings: Settings) -> tuple[Any, str | None]:
    async def go() -> tuple[Any, str | None]:
        async with _store(settings) as store:
            config, _v = await store.load_configuration()
            return config, await store.get_meta("bootstrap_access_key_id")

    return _run(go())


def _self_command() -> list[str]:
    """How to run this ssoidc again from a shell: the installed script if there is one, else python -m."""
    script = Path(sys.executable).parent / "ssoidc"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "ssoidc"]


def _ca_bundle(settings: Settings) -> Path | None:
    """The ``ca.pem`` beside the served certificate (what ``ssoidc dev-cert`` writes), if there is one."""
    if settings.tls_certfile is None:
        return None
    ca = settings.tls_certfile.resolve().parent / "ca.pem"
    return ca if ca.is_file() else None


def _sso_login_lines(settings: Settings, start_url: str, data_path: Path | None) -> list[str]:
    """The banner's ``aws sso login`` part: the profile, the endpoint overrides and the commands of both flows,
    with the AWS CLI versions each needs (docs/sso-login.md)."""
    url = settings.base_url
    ca = _ca_bundle(settings)
    ca_env = f" AWS_CA_BUNDLE={ca}" if ca is not None else ""
    out = [
        "",
        "Sign in with the AWS CLI v2 (aws sso login; docs/sso-login.md): this ~/.aws/config (or AWS_CONFIG_FILE)",
        *(
            f"  {line}" if line else ""
            for line in sso_config(start_url, settings.region, *_demo_role(settings)).splitlines()
        ),
        "",
        f"  export AWS_ENDPOINT_URL_SSO_OIDC={url} AWS_ENDPOINT_URL_SSO={url}{ca_env}   # AWS CLI 2.13 or later",
    ]
    if data_path is not None:
        out.append(
            f"  export AWS_DATA_PATH={data_path}   # instead, for AWS CLI 2.9-2.12 (Debian 12's 2.9.19)"
        )
    else:
        out.append(
            f"  # AWS CLI 2.9-2.12 (Debian 12's 2.9.19) ignores AWS_ENDPOINT_URL_*: {' '.join(_self_command())}"
            f" cli-endpoints --endpoint-url {url} --dir DIR, then export AWS_DATA_PATH=DIR"
        )
    out += [
        f"  aws sso login --profile {SSO_PROFILE}                    # browser (PKCE): AWS CLI 2.22 or later;"
        " --no-browser prints the URL",
        f"  aws sso login --profile {SSO_PROFILE} --use-device-code  # device code: 2.22 or later (before 2.22: the"
        " only flow, without the flag)",
    ]
    if settings.demo:
        out.append(
            f"  aws sts get-caller-identity --profile {SSO_PROFILE}       # then: the {_demo_role(settings)[1]} role's"
            " credentials, through the portal (docs/portal.md)"
        )
    if url.startswith("https://"):
        out.append(f"  # sso_start_url = {url}/start works too: one redirect to {start_url}")
    else:
        out.append(
            f"  # {url}/start redirects to {start_url}, but AWS CLI 2.35.13+ takes only an https start URL:"
            " serve TLS (ssoidc dev-cert) to use it"
        )
    if settings.tls and ca is None:
        out.append("  # clients must trust the certificate's issuer: AWS_CA_BUNDLE=<its CA certificate>")
    return out


def _banner(settings: Settings) -> None:
    from ssoidc.oauth.start_url import default_start_url

    config, akid = _load_config_summary(settings)
    url = settings.base_url
    out = [f"ssoidc serving on {url} (data dir {settings.data_dir.resolve()}, region {settings.region})"]
    if settings.tls:
        ca = _ca_bundle(settings)
        out.append(
            f"TLS: certificate {settings.tls_certfile}"
            + (f"; clients trust it with AWS_CA_BUNDLE={ca}" if ca is not None else "")
        )
    active = config is not None and config.instance.status == "ACTIVE"
    start_url = default_start_url(config.instance.identity_store_id) if active else None
    if start_url is not None:
        out.append(f"Start URL: {start_url} (or {url}/start, which redirects there)")
    hosts = settings.signed_hosts
    out.append(
        "SigV4 requests must be signed for: "
        + (", ".join(hosts) if hosts is not None else "any host (SSOIDC_ALLOWED_HOSTS=*)")
    )
    db_env = ""  # the CLI commands below need the database URL too (never printed if it holds a password)
    if settings.database_url:
        import shlex
        import urllib.parse

        from ssoidc.storage.postgres import PostgresUrl

        out.append(f"Database: PostgreSQL at {PostgresUrl.parse(settings.database_url).display}")
        if urllib.parse.urlsplit(settings.database_url).password:
            db_env = ' SSOIDC_DATABASE_URL="<the --database-url of this server>"'
        else:
            db_env = f" SSOIDC_DATABASE_URL={shlex.quote(settings.database_url)}"
    cred_file = settings.data_dir.resolve() / "bootstrap-credentials"
    if os.environ.get("SSOIDC_BOOTSTRAP_ACCESS_KEY_ID"):
        out.append(f"Bootstrap admin credential: {akid} (from SSOIDC_BOOTSTRAP_* variables)")
    elif cred_file.exists():
        out.append(f"Bootstrap admin credential: {akid}, profile 'ssoidc' in {cred_file}")
    apps = {a.name: a.arn for a in config.applications} if config is not None else {}
    if settings.demo and "demo-app" in apps:
        from ssoidc.demo import demo_redirect_uri

        cmd = _self_command()
        exe = " ".join(cmd)
        exe_list = "','".join(cmd)
        dd = settings.data_dir.resolve()
        cli_config = _aws_cli_config(dd, settings.region, start_url, _demo_role(settings))
        py = _client_python()
        aws_v1 = Path(sys.executable).parent / "aws"
        v1_hint = f" (such as {aws_v1})" if aws_v1.exists() else ""
        out += [
            "",
            "Demo mode (dev only). Try it from another shell:",
            "",
            f"  export AWS_SHARED_CREDENTIALS_FILE={cred_file} AWS_CONFIG_FILE={cli_config} AWS_PROFILE=ssoidc AWS_REGION={settings.region} AWS_DEFAULT_REGION={settings.region}{db_env}",
            "  # AWS CLI: v2 newer than Debian's 2.9 (2.9.19 has no create-token-with-iam), or v1"
            f"{v1_hint} with cli_follow_urlparam = false, which {cli_config.name} sets",
            f"  aws sso-oidc create-token-with-iam --endpoint-url {url} \\",
            f"    --client-id {apps.get('demo-app')} \\",
            "    --grant-type urn:ietf:params:oauth:grant-type:jwt-bearer \\",
            f'    --assertion "$({exe} demo token alice --data-dir {dd})"',
            "",
            "  # or with boto3 (this python3 must be able to import boto3: `make run` installs it in the venv,"
            " else pip install boto3):",
            f"  {py} -c \"import boto3,subprocess; t=subprocess.check_output(['{exe_list}','demo','token','alice',"
            f"'--data-dir','{dd}'],text=True).strip(); print(boto3.client('sso-oidc',endpoint_url='{url}')"
            f".create_token_with_iam(clientId='{apps.get('demo-app')}',grantType='urn:ietf:params:oauth:grant-type:jwt-bearer',"
            "assertion=t)['accessToken'][:12]+'...')\"",
            "",
            "  # or sign in in a browser (alice / alice-demo-password), then redeem the code as the page shows:",
            f"  {url}/authorize?response_type=code&client_id={apps.get('demo-web')}"
            f"&redirect_uri={demo_redirect_uri(settings)}&state=demo",
            "",
            "  # configure it as you would IAM Identity Center (sso-admin, identitystore; docs/admin-api.md):",
            f"  aws sso-admin list-instances --endpoint-url {url}",
            "",
            f"  Applications: {json.dumps(apps)}",
            "  Users: alice (alice@example.com, password alice-demo-password),"
            " bob (bob@example.com, bob-demo-password)",
        ]
    elif apps:
        out += ["", f"Applications: {json.dumps(apps)}"]
    if start_url is not None:
        data_path = None
        if settings.demo:
            from ssoidc.aws.cli_endpoints import write_data_path

            with contextlib.suppress(OSError):
                data_path = write_data_path(settings.data_dir.resolve() / "aws-data", url)
        out += _sso_login_lines(settings, start_url, data_path)
        if settings.demo:
            out.append(
                f"  # the demo's AWS_CONFIG_FILE ({settings.data_dir.resolve() / 'aws-cli-config'}) holds these"
                " sections; sign in as alice / alice-demo-password"
            )
    if settings.demo and settings.config_file is not None:
        out += ["Demo token issuer: " + f"{url}/demo-issuer (serving --config; the demo data is not loaded)"]
    typer.echo("\n".join(out), err=False)


@app.command()
def apply(
    file: Annotated[Path, typer.Argument(help="YAML configuration file")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Validate a configuration file and make it the live configuration (all or nothing)."""
    from ssoidc.config.apply import apply_to_store, load_file

    settings = _settings(data_dir=data_dir, database_url=database_url)

    async def go() -> Any:
        spec = load_file(file)
        async with _store(settings) as store:
            return await apply_to_store(
                store, spec, settings.account_id, SystemClock().now(), base_url=settings.base_url
            )

    config = _run(go())
    typer.echo(f"applied: instance {config.instance.instance_arn}")
    for a in config.applications:
        typer.echo(f"  application {a.name}: {a.arn}")
    for t in config.trusted_token_issuers:
        typer.echo(f"  trusted token issuer {t.name}: {t.arn}")
    typer.echo(
        f"  {len(config.users)} users, {len(config.groups)} groups, {len(config.assignments)} assignments"
    )


@app.command()
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the YAML here (default: standard output)")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Write the live configuration as a file that `ssoidc apply` turns back into exactly it."""
    from ssoidc.config.apply import parse_file, resolve
    from ssoidc.config.export import export_configuration

    settings = _settings(data_dir=data_dir, database_url=database_url)

    async def go() -> Any:
        async with _store(settings) as store:
            config, _v = await store.load_configuration()
            return config

    config = _run(go())
    if config is None:
        _fail("there is no configuration to export (nothing was applied or created yet)")
    try:
        text = export_configuration(config)
        if config.instance.status == "ACTIVE":  # never write a file that would not reproduce the store
            back = resolve(
                parse_file(text, "export"), config, config.instance.owner_account_id, now=SystemClock().now()
            )
            if back != config:
                _fail("the configuration cannot be exported exactly (please report this as a bug)")
        else:
            typer.secho(f"warning: the instance {config.instance.instance_arn} was deleted", err=True)
    except ConfigError as exc:
        _fail(exc.message)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        typer.echo(f"exported instance {config.instance.instance_arn} to {output}", err=True)


@credentials_app.command("create")
def credentials_create(
    principal_arn: Annotated[
        str, typer.Option(help="IAM principal: user, role, root or assumed-role session ARN")
    ],
    access_key_id: Annotated[str | None, typer.Option(help="Use this key id (default: generated)")] = None,
    secret_access_key: Annotated[
        str | None, typer.Option(help="Use this secret (default: generated)")
    ] = None,
    session_token: Annotated[
        str | None, typer.Option(help="Require this x-amz-security-token (session credentials)")
    ] = None,
    policy_file: Annotated[
        Path | None, typer.Option(help="Identity policy (JSON) attached to the credential")
    ] = None,
    description: Annotated[str, typer.Option(help="Free text")] = "",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Register a SigV4 credential. The secret is printed once and stored encrypted."""
    import re

    from ssoidc import strict_json
    from ssoidc.iam.policy import Policy, PolicyError
    from ssoidc.ids import new_access_key_id, new_secret_access_key
    from ssoidc.storage.base import AlreadyExists, StoredCredential

    settings = _settings(data_dir=data_dir, database_url=database_url)
    if not re.fullmatch(
        r"arn:aws:(iam::\d{12}:(root|user/[\w+=,.@/-]+|role/[\w+=,.@/-]+)|sts::\d{12}:assumed-role/[\w+=,.@-]+/[\w+=,.@-]+)",
        principal_arn,
    ):
        _fail("--principal-arn must be an IAM user, role or root ARN, or an STS assumed-role session ARN")
    policy = None
    if policy_file is not None:
        try:
            policy = strict_json.loads(policy_file.read_bytes())  # a repeated member name is refused
            Policy.parse(policy, kind="identity")
        except (OSError, ValueError) as exc:
            _fail(f"{policy_file}: {exc}")
        except PolicyError as exc:
            _fail(f"{policy_file}: {exc}")
    akid = access_key_id or new_access_key_id()
    secret = secret_access_key or new_secret_access_key()
    if not re.fullmatch(r"[A-Z0-9]{16,128}", akid):
        _fail("--access-key-id must be 16-128 upper-case letters and digits")
    st_hash = hashlib.sha256(session_token.encode()).digest() if session_token else None

    async def go() -> None:
        async with _store(settings) as store:
            await store.create_credential(
                StoredCredential(akid, secret, principal_arn, st_hash, policy, description)
            )

    try:
        _run(go())
    except AlreadyExists:
        _fail(f"access key id {akid} already exists")
    typer.echo(
        json.dumps({"AccessKeyId": akid, "SecretAccessKey": secret, "PrincipalArn": principal_arn}, indent=2)
    )


@credentials_app.command("list")
def credentials_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List registered credentials (never their secrets)."""
    settings = _settings(data_dir=data_dir, database_url=database_url)

    async def go() -> list[Any]:
        async with _store(settings) as store:
            return await store.load_credentials()

    for c in _run(go()):
        kind = "session" if c.session_token_sha256 else "long-term"
        typer.echo(
            f"{c.access_key_id}\t{c.principal_arn}\t{kind}\t{'policy' if c.policy else '-'}\t{c.description}"
        )


@credentials_app.command("delete")
def credentials_delete(
    access_key_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Delete a credential; requests signed with it fail at once on every worker."""
    settings = _settings(data_dir=data_dir, database_url=database_url)

    async def go() -> bool:
        async with _store(settings) as store:
            return await store.delete_credential(access_key_id)

    if not _run(go()):
        _fail(f"no credential {access_key_id}")
    typer.echo(f"deleted {access_key_id}")


@users_app.command("set-password")
def users_set_password(
    user_name: Annotated[str, typer.Argument(help="The user's UserName")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set a user's sign-in password (stored as an argon2id hash)."""
    import getpass

    from ssoidc.model import ConfigSnapshot
    from ssoidc.oauth.signin import NoSuchUser, SignInService, SignInSettings

    settings = _settings(data_dir=data_dir, database_url=database_url)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("New password: ")
        if getpass.getpass("Repeat: ") != password:
            _fail("the passwords differ")
    if len(password) < 8:
        _fail("a password needs at least 8 characters")

    async def go() -> str:
        async with _store(settings) as store:
            config, version = await store.load_configuration()
            if config is None:
                raise NoSuchUser(user_name)
            svc = SignInService(store, SignInSettings())
            return await svc.set_password(
                ConfigSnapshot(config, version), user_name, password, SystemClock().now()
            )

    try:
        user_id = _run(go())
    except NoSuchUser:
        _fail(f"no user with UserName {user_name!r}")
    typer.echo(f"password set for {user_name} ({user_id})")


@device_app.command("approve")
def device_approve(
    user_code: Annotated[str, typer.Argument(help="The user code the client shows (XXXX-XXXX)")],
    user: Annotated[str, typer.Option("--user", help="The UserName of the identity-store user who approves")],
    deny: Annotated[bool, typer.Option("--deny", help="Deny the authorization instead")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Approve (or --deny) a pending device authorization as USER (RFC 8628), with the store's access: the
    operator's act, logged with the device code's hash prefix and the user, never the codes."""
    from ssoidc.compose import open_store
    from ssoidc.oauth.device import DeviceAuthorizations

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = _settings(data_dir=data_dir, database_url=database_url)

    async def go() -> str:
        store, master = open_store(settings)
        try:
            found = await store.find_users("username", user, limit=2)
            if len(found) != 1:
                _fail(f"no user with UserName {user!r}")
            devices = DeviceAuthorizations(store, master, base_url=settings.base_url)
            now = SystemClock().now()
            decided = await devices.decide(
                user_code,
                approve=not deny,
                user_id=found[0].user_id,
                auth_time=now,
                now=now,
                via="ssoidc device approve (operator, store access)",
            )
            if decided is None:
                _fail("no pending device authorization has this user code (expired, decided or mistyped)")
            return decided.client_id
        finally:
            await store.close()

    client_id = _run(go())
    typer.echo(f"{'denied' if deny else 'approved'} for {user} (client {client_id})")


@authorize_app.command("approve")
def authorize_approve(
    url: Annotated[str, typer.Argument(help="The /authorize URL the client opens (or prints, --no-browser)")],
    user: Annotated[str, typer.Option("--user", help="The UserName of the identity-store user who approves")],
    deny: Annotated[bool, typer.Option("--deny", help="Deny the request instead")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Validate an authorization request as /authorize does, approve (or --deny) it as USER and print the redirect
    URL (redirect_uri?code=...&state=...): the caller delivers it to the client (an HTTP GET to its loopback
    listener). The operator's act, with the store's access; logged without the code."""
    from ssoidc.compose import open_store
    from ssoidc.oauth.approve import ApprovalRefused, approve_authorization
    from ssoidc.oauth.authorize import CodeIssuer
    from ssoidc.snapshot import SnapshotCache

    settings = _settings(data_dir=data_dir, database_url=database_url)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def go() -> str:
        store, master = open_store(settings)
        try:
            snapshot = SnapshotCache(
                store, account_id=settings.account_id, directory_cache_size=settings.directory_cache_size
            )
            issuer = CodeIssuer(
                store=store,
                code_ttl=settings.code_ttl,
                session_ttl=settings.session_ttl,
                default_scopes=settings.default_scopes,
            )
            try:
                return await approve_authorization(
                    store=store,
                    master_key=master,
                    directory=await snapshot.refresh(),
                    code_issuer=issuer,
                    base_url=settings.base_url,
                    default_scopes=settings.default_scopes,
                    url=url,
                    user_name=user,
                    now=SystemClock().now(),
                    deny=deny,
                )
            except ApprovalRefused as exc:
                _fail(str(exc))
        finally:
            await store.close()

    typer.echo(_run(go()))


DEMO_DATA_DIR = Path(".data/demo")
"""The data dir ``make run`` serves (the Makefile's ``DATA``): ``ssoidc demo token``'s default."""


def _demo_data_dir() -> Path:
    """``.data/demo`` (``make run``), or the plain default ``.data`` when only that one holds a store (a server
    started as ``ssoidc serve --demo`` without ``--data-dir``)."""
    plain = Path(".data")
    if not (DEMO_DATA_DIR / "ssoidc.db").exists() and (plain / "ssoidc.db").exists():
        return plain
    return DEMO_DATA_DIR


@demo_app.command("token")
def demo_token(
    user: Annotated[str, typer.Argument(help="Demo user (alice, bob) or an email address")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    lifetime: Annotated[int, typer.Option(help="Seconds until the assertion expires")] = 300,
    audience: Annotated[str | None, typer.Option(help="Override aud")] = None,
) -> None:
    """Print a fresh assertion from the built-in demo token issuer (requires a data dir served with --demo;
    without --data-dir, SSOIDC_DATA_DIR or a database URL: the one `make run` serves, .data/demo)."""
    from ssoidc.bootstrap import DEMO_ISSUER_PURPOSE
    from ssoidc.demo import demo_claims
    from ssoidc.oauth.keys import Signer

    settings = _settings(data_dir=data_dir, database_url=database_url)
    if data_dir is None and not settings.database_url and OPTIONS["data_dir"].env not in os.environ:
        settings = _settings(data_dir=_demo_data_dir(), database_url=database_url)
        if not settings.db_path.exists():  # never create an empty store just to say it has no demo issuer
            _fail(
                f"no ssoidc data in {DEMO_DATA_DIR} (the data dir `make run` serves) or {Path('.data')}: start"
                " the server with `make run`, or pass the --data-dir of a server started with --demo"
            )

    async def go() -> str:
        async with _store(settings) as store:
            keys = [k for k in await store.signing_keys(DEMO_ISSUER_PURPOSE) if k.active]
            config, _v = await store.load_configuration()
        tti = next(
            (t for t in (config.trusted_token_issuers if config else ()) if t.name == "demo-issuer"), None
        )
        if not keys or tti is None:
            _fail(f"no demo issuer in {settings.data_dir}; start the server once with --demo (make run)")
        claims = demo_claims(settings, user, lifetime=lifetime)
        claims["iss"] = tti.issuer_url
        if audience:
            claims["aud"] = audience
        return Signer(keys[0]).sign(claims)

    typer.echo(_run(go()))


@app.command("dev-cert")
def dev_cert(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to write ca.pem, cert.pem and key.pem (default: <data dir>/tls)"),
    ] = None,
    data_dir: DataDir = None,
    days: Annotated[int, typer.Option(help="Validity of the server certificate, days (at most 397)")] = 365,
    force: Annotated[
        bool, typer.Option("--force", help="Make new files even if the existing ones are good")
    ] = False,
) -> None:
    """Make a development CA and a certificate for localhost, 127.0.0.1 and ::1 (for --tls-certfile/--tls-keyfile),
    and print how to serve with it and how clients trust it. Existing files valid for 30 more days are kept."""
    import datetime

    from ssoidc.devcert import MAX_DAYS, DevCert, make_dev_cert, usable

    if not 1 <= days <= MAX_DAYS:
        _fail(f"--days must be between 1 and {MAX_DAYS}")
    target = (directory if directory is not None else _settings(data_dir=data_dir).data_dir / "tls").resolve()
    now = datetime.datetime.now(datetime.UTC)
    files = DevCert(target)
    if not force and usable(files, now):
        what = f"Using the development certificate in {target} (valid for localhost, 127.0.0.1 and ::1)"
    else:
        try:
            files = make_dev_cert(target, now=now, days=days)
        except OSError as exc:
            _fail(f"cannot write the certificate files to {target}: {exc.strerror or exc}")
        what = (
            f"Made a development CA and a certificate for localhost, 127.0.0.1 and ::1 in {target}"
            f" (valid {days} days; the CA may sign nothing else: its key was not kept)"
        )
    exe = " ".join(_self_command())
    typer.echo(
        "\n".join(
            [
                what,
                "",
                "Serve with it:",
                f"  {exe} serve --tls-certfile {files.cert} --tls-keyfile {files.key} --public-url https://localhost:8443 --port 8443",
                "",
                "Clients trust it with:",
                f"  export AWS_CA_BUNDLE={files.ca}        # AWS CLI, boto3 and botocore (or aws --ca-bundle {files.ca})",
                f"  export NODE_EXTRA_CA_CERTS={files.ca}  # the AWS SDK for JavaScript (Node.js)",
            ]
        )
    )


@app.command("cli-endpoints")
def cli_endpoints(
    endpoint_url: Annotated[
        str, typer.Option("--endpoint-url", help="This server's URL, as clients reach it")
    ],
    directory: Annotated[
        Path, typer.Option("--dir", help="Directory to write (then export AWS_DATA_PATH=DIR)")
    ],
) -> None:
    """Write an AWS_DATA_PATH directory that points the sso-oidc and sso clients of AWS CLI v2 before 2.13 (which
    reads no AWS_ENDPOINT_URL_* variable) at this server, for aws sso login and token refresh, and gives it the
    newer STS model (aws sts assume-role --provided-contexts)."""
    from urllib.parse import urlsplit

    from ssoidc.aws.cli_endpoints import write_data_path

    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        _fail("--endpoint-url must be an http(s) URL such as https://localhost:8443")
    try:
        root = write_data_path(directory.resolve(), endpoint_url)
    except OSError as exc:
        _fail(f"cannot write {directory}: {exc.strerror or exc}")
    typer.echo(f"export AWS_DATA_PATH={root}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
