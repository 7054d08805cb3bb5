"""The configuration file's instance settings of the newer models (``Instance.Regions``,
``InstanceAccessControlAttributeConfiguration``, ``IdentityStoreNetworkConfiguration``) and an application's
``UserBackgroundSessionApplicationStatus``: applied, their values checked against the model's patterns, and a
region keeps its ``AddedDate`` across applies."""

from __future__ import annotations

import pytest

from ssoidc.config.apply import parse_file, resolve
from ssoidc.errors import ConfigError
from ssoidc.model import AccessControlAttribute, Region

ACCOUNT = "123456789012"
FILE = """
Instance:
  Name: settings
  Regions:
    - RegionName: eu-west-1
    - {RegionName: ap-south-2, AddedDate: 1700000000}
  InstanceAccessControlAttributeConfiguration:
    AccessControlAttributes:
      - {Key: Department, Value: {Source: ["${path:enterprise.department}"]}}
  IdentityStoreNetworkConfiguration:
    ApiAllowSourceIps: [10.0.0.0/8]
Applications:
  - Name: app
    UserBackgroundSessionApplicationStatus: ENABLED
"""


def test_the_settings_are_applied() -> None:
    config = resolve(parse_file(FILE), None, ACCOUNT, now=5.0)
    inst = config.instance
    assert inst.regions == (Region("eu-west-1", 5.0), Region("ap-south-2", 1700000000.0))
    assert inst.access_control_attributes == (
        AccessControlAttribute("Department", "${path:enterprise.department}"),
    )
    assert inst.identity_store_api_allow_ips == ("10.0.0.0/8",) and inst.identity_store_scim_allow_ips == ()
    assert config.applications[0].user_background_sessions is True
    # applied again later: a recorded region keeps the date it was added
    again = resolve(parse_file(FILE), config, ACCOUNT, now=99.0)
    assert again.instance.regions == inst.regions
    # and a file without them has none (the file is the whole configuration)
    bare = resolve(parse_file("Instance: {Name: settings}\n"), config, ACCOUNT, now=99.0)
    assert (bare.instance.regions, bare.instance.access_control_attributes) == ((), None)


@pytest.mark.parametrize(
    ("fragment", "path"),
    [
        ("Regions: [{RegionName: EU}]", "Instance.Regions[0].RegionName"),
        ("Regions: [{RegionName: eu-west-1}, {RegionName: eu-west-1}]", "Instance.Regions[1].RegionName"),
        ("IdentityStoreNetworkConfiguration: {ApiAllowSourceIps: [10.0.0.0/99]}", "ApiAllowSourceIps[0]"),
        ("IdentityStoreNetworkConfiguration: {VpceAccessRequired: true}", "VpceAccessRequired"),
        (
            "InstanceAccessControlAttributeConfiguration: {AccessControlAttributes: [{Key: 'a<b', Value: {Source: [x]}}]}",
            "AccessControlAttributes[0].Key",
        ),
        (
            "InstanceAccessControlAttributeConfiguration: {AccessControlAttributes: "
            "[{Key: k, Value: {Source: [x]}}, {Key: k, Value: {Source: [y]}}]}",
            "AccessControlAttributes[1].Key",
        ),
    ],
)
def test_a_bad_setting_is_refused_naming_it(fragment: str, path: str) -> None:
    with pytest.raises(ConfigError) as exc:
        resolve(parse_file(f"Instance:\n  {fragment}\n"), None, ACCOUNT, now=1.0)
    assert path in str(exc.value)
