"""Endpoint rule sets that send an old AWS CLI v2's ``sso-oidc`` and ``sso`` clients to ssoidc (``AWS_DATA_PATH``).

AWS CLI v2 before 2.13 (Debian 12's 2.9.19 among them) reads neither ``AWS_ENDPOINT_URL_SSO_OIDC`` /
``AWS_ENDPOINT_URL_SSO`` nor a ``services`` section of its config (its bundled botocore has no endpoint
configuration), and ``aws sso login`` creates its ``sso-oidc`` client with no ``--endpoint-url``. Its endpoints
come from each service's rule set, ``<service>/<api version>/endpoint-rule-set-1.json`` (the Smithy endpoint
rules language), which botocore's loader looks up in the ``AWS_DATA_PATH`` directories before its own. So a
directory holding, for ``sso-oidc`` and ``sso``, the rule set of the pinned botocore model with its rules replaced
by two (an explicit ``--endpoint-url`` first, else ``endpoint_url``) points every such client at ssoidc, and
nothing else changes: the service models themselves still come from the CLI, except ``MODELS``.

``MODELS``: service models the old CLI's own are too old for, written whole from the pinned botocore
(``<service>/<api version>/service-2.json``, found before the CLI's bundled one): STS, whose 2.9.19 model has no
``ProvidedContexts``, so ``aws sts assume-role --provided-contexts ...`` (trusted identity propagation) works.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from botocore.loaders import Loader

SERVICES = ("sso-oidc", "sso")
"""The clients ``aws sso login``, token refresh and SSO credentials use."""
MODELS = ("sts",)
"""Services whose whole model is written (AssumeRole's ``ProvidedContexts``; docs/sts.md)."""


def rule_set(service: str, endpoint_url: str) -> tuple[str, dict[str, Any]]:
    """The API version of ``service`` and its endpoint rule set resolving to ``endpoint_url`` (an explicit
    ``SDK::Endpoint``, such as ``--endpoint-url``, still wins)."""
    loader = Loader()
    version = loader.determine_latest_version(service, "service-2")
    original = loader.load_service_model(service, "endpoint-rule-set-1", version)
    rules: list[dict[str, Any]] = [
        {
            "conditions": [{"fn": "isSet", "argv": [{"ref": "Endpoint"}]}],
            "endpoint": {"url": {"ref": "Endpoint"}, "properties": {}, "headers": {}},
            "type": "endpoint",
        },
        {
            "conditions": [],
            "endpoint": {"url": endpoint_url, "properties": {}, "headers": {}},
            "type": "endpoint",
        },
    ]
    return version, {"version": original["version"], "parameters": original["parameters"], "rules": rules}


def write_data_path(root: Path, endpoint_url: str) -> Path:
    """Write the rule sets of :data:`SERVICES` for ``endpoint_url`` and the models of :data:`MODELS` under ``root``
    (an ``AWS_DATA_PATH`` directory); files already holding the same text are left alone. Returns ``root``."""
    files: list[tuple[Path, dict[str, Any]]] = []
    for service in SERVICES:
        version, doc = rule_set(service, endpoint_url.rstrip("/"))
        files.append((root / service / version / "endpoint-rule-set-1.json", doc))
    loader = Loader()
    for service in MODELS:
        version = loader.determine_latest_version(service, "service-2")
        files.append(
            (
                root / service / version / "service-2.json",
                loader.load_service_model(service, "service-2", version),
            )
        )
    for path, doc in files:
        text = json.dumps(doc, indent=1) + "\n"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            _private_dirs(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
    return root


def _private_dirs(leaf: Path) -> None:
    """Create ``leaf`` and its missing ancestors with mode 0700: the directory may be the data dir's ``aws-data``,
    which ssoidc keeps private (``ssoidc.datadir``), so nothing is created readable by others (and then tightened,
    with a warning, at the next start)."""
    missing: list[Path] = []
    d = leaf
    while not d.exists():
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
