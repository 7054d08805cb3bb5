// The access portal through the AWS SDK for JavaScript v3 (driven by tests/e2e/test_portal_cli_js.py):
//
//   SSOIDC_ENDPOINT=http://127.0.0.1:8000 SSOIDC_ACCESS_TOKEN=aoa... SSOIDC_ACCOUNT_ID=111111111111 \
//   SSOIDC_ROLE_NAME=Operator SSOIDC_OTHER_ROLE=Admin AWS_REGION=us-east-1 node portal.mjs
//
// @aws-sdk/client-sso: ListAccounts, ListAccountRoles, GetRoleCredentials (the portal's operations are unsigned:
// the bearer goes in x-amz-sso_bearer_token), then @aws-sdk/client-sts GetCallerIdentity signed with the role
// credentials, then GetRoleCredentials for SSOIDC_OTHER_ROLE (expected to be refused). Prints one JSON line
// {accounts, roles, expiration, accessKeyId, identity, refused} and exits 0, or {"event": "error", name, message}
// and exits 3.
import { GetRoleCredentialsCommand, ListAccountRolesCommand, ListAccountsCommand, SSOClient } from "@aws-sdk/client-sso";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";

const endpoint = process.env.SSOIDC_ENDPOINT;
const accessToken = process.env.SSOIDC_ACCESS_TOKEN;
if (!endpoint || !accessToken) {
  process.stderr.write("portal.mjs: SSOIDC_ENDPOINT and SSOIDC_ACCESS_TOKEN must be set (refusing to talk to AWS)\n");
  process.exit(2);
}
const region = process.env.AWS_REGION || "us-east-1";
const accountId = process.env.SSOIDC_ACCOUNT_ID;
const roleName = process.env.SSOIDC_ROLE_NAME;
const say = (doc) => process.stdout.write(`${JSON.stringify(doc)}\n`);
const sso = new SSOClient({ region, endpoint, maxAttempts: 1 });

try {
  const accounts = await sso.send(new ListAccountsCommand({ accessToken }));
  const roles = await sso.send(new ListAccountRolesCommand({ accessToken, accountId }));
  const { roleCredentials: rc } = await sso.send(new GetRoleCredentialsCommand({ accessToken, accountId, roleName }));
  const sts = new STSClient({
    region,
    endpoint,
    maxAttempts: 1,
    credentials: { accessKeyId: rc.accessKeyId, secretAccessKey: rc.secretAccessKey, sessionToken: rc.sessionToken },
  });
  const { $metadata, ...identity } = await sts.send(new GetCallerIdentityCommand({}));
  let refused = null;
  try {
    await sso.send(new GetRoleCredentialsCommand({ accessToken, accountId, roleName: process.env.SSOIDC_OTHER_ROLE }));
  } catch (err) {
    refused = { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  say({
    accounts: accounts.accountList,
    roles: roles.roleList,
    expiration: rc.expiration,
    accessKeyId: rc.accessKeyId,
    identity,
    refused,
  });
} catch (err) {
  say({ event: "error", name: err.name, message: err.message });
  process.exit(3);
}
