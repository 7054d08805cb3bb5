"""ssoidc: AWS IAM Identity Center OIDC (the sso-oidc service and its sso-admin / identitystore configuration),
self-hosted, on the AWS wire protocols."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

_PYPROJECT_VERSION = "0.1.0"  # [project] version in pyproject.toml, for a source tree that is not installed

try:
    __version__: str = version("ssoidc")
except PackageNotFoundError:  # pragma: no cover - only when run from an uninstalled checkout
    __version__ = _PYPROJECT_VERSION
