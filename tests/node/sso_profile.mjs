// The JS SDK's own SSO credential provider on an sso-session profile (driven by tests/e2e/test_portal_cli_js.py):
//
//   HOME=<a home with ~/.aws/config and ~/.aws/sso/cache/<sha1 of the session>.json> \
//   SSOIDC_ENDPOINT=http://127.0.0.1:8000 SSOIDC_PROFILE=operator AWS_REGION=us-east-1 node sso_profile.mjs
//
// @aws-sdk/credential-provider-sso fromSSO({profile}) reads the profile and the cached token, calls the portal's
// GetRoleCredentials (its SSO client pointed at ssoidc through clientConfig.endpoint), then @aws-sdk/client-sts
// GetCallerIdentity signs with what it got. Prints one JSON line {accessKeyId, expiration, identity} and exits 0,
// or {"event": "error", name, message} and exits 3.
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromSSO } from "@aws-sdk/credential-provider-sso";

const endpoint = process.env.SSOIDC_ENDPOINT;
const profile = process.env.SSOIDC_PROFILE;
if (!endpoint || !profile) {
  process.stderr.write("sso_profile.mjs: SSOIDC_ENDPOINT and SSOIDC_PROFILE must be set (refusing to talk to AWS)\n");
  process.exit(2);
}
const region = process.env.AWS_REGION || "us-east-1";
const say = (doc) => process.stdout.write(`${JSON.stringify(doc)}\n`);

try {
  const provider = fromSSO({ profile, clientConfig: { endpoint, region, maxAttempts: 1 } });
  const credentials = await provider();
  const sts = new STSClient({ region, endpoint, maxAttempts: 1, credentials });
  const { $metadata, ...identity } = await sts.send(new GetCallerIdentityCommand({}));
  say({ accessKeyId: credentials.accessKeyId, expiration: credentials.expiration?.getTime(), identity });
} catch (err) {
  say({ event: "error", name: err.name, message: err.message });
  process.exit(3);
}
