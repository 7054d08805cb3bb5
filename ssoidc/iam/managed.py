"""The AWS managed policies ssoidc knows, by ARN: what a permission set's ``ManagedPolicies`` and an AWS-managed
permissions boundary mean when ssoidc authorizes a request signed with that permission set's role credentials.

* ``AdministratorAccess``: AWS's document (Allow ``*`` on ``*``).
* ``ReadOnlyAccess`` and ``ViewOnlyAccess``: ssoidc's **approximation** for the services ssoidc serves (AWS's
  documents list hundreds of services' read actions): Allow ``sso:Describe*``, ``sso:List*``, ``sso:Get*``,
  ``identitystore:Describe*``, ``identitystore:List*``, ``identitystore:Get*``.

Any other AWS managed policy grants nothing in ssoidc (documented in docs/portal.md); so do customer managed
policy references, which name policies that would live in each account's IAM, which ssoidc does not emulate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_READ = [
    "sso:Describe*",
    "sso:List*",
    "sso:Get*",
    "identitystore:Describe*",
    "identitystore:List*",
    "identitystore:Get*",
]

AWS_MANAGED_POLICIES: Mapping[str, Mapping[str, Any]] = {
    "arn:aws:iam::aws:policy/AdministratorAccess": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    },
    "arn:aws:iam::aws:policy/ReadOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "SsoidcReadOnly", "Effect": "Allow", "Action": _READ, "Resource": "*"}],
    },
    "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "SsoidcViewOnly", "Effect": "Allow", "Action": _READ, "Resource": "*"}],
    },
}
"""AWS managed policy ARN -> the identity policy document ssoidc evaluates for it."""
