"""ssoidc.testing without pytest: the context manager in a plain script (run by `make test`)."""

import boto3

import ssoidc.testing

CONFIG = {
    "Instance": {"Name": "script"},
    "Users": [
        {"UserName": "bob", "DisplayName": "Bob", "Emails": [{"Value": "bob@example.com", "Primary": True}]}
    ],
}


def main() -> None:
    with ssoidc.testing.server(config=CONFIG) as idc:
        instance = boto3.client("sso-admin").list_instances()["Instances"][0]
        store_id = instance["IdentityStoreId"]
        users = boto3.client("identitystore").list_users(IdentityStoreId=store_id)["Users"]
        assert [u["UserName"] for u in users] == ["bob"]
        idc.clock.advance(3600)
        print(
            f"ok: {idc.endpoint_url} served {instance['InstanceArn']}; the clock is {idc.clock.offset:.0f} s ahead"
        )


if __name__ == "__main__":
    main()
