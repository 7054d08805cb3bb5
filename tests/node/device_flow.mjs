// The RFC 8628 device flow through the AWS SDK for JavaScript v3 against ssoidc, as a CLI or IDE plugin runs it
// (driven by tests/e2e/test_sso_login.py):
//
//   SSOIDC_ENDPOINT=https://localhost:8443 SSOIDC_START_URL=https://d-....awsapps.com/start AWS_REGION=us-east-1 \
//   NODE_EXTRA_CA_CERTS=ca.pem node device_flow.mjs
//
// RegisterClient (public, scopes sso:account:access) -> StartDeviceAuthorization -> prints one JSON line
// {"event": "authorize", userCode, verificationUri, verificationUriComplete, interval} -> polls CreateToken
// (device_code grant) every `interval` seconds, 5 s more after a SlowDownException, while the answer is
// AuthorizationPendingException (printing {"event": "pending"} after the first one); then prints {"event": "tokens", pending, slowDowns, accessToken, ...} and exits 0,
// or {"event": "error", name, message} and exits 3. All three operations are unsigned: no credentials are given
// or looked up.
import {
  CreateTokenCommand,
  RegisterClientCommand,
  SSOOIDCClient,
  StartDeviceAuthorizationCommand,
} from "@aws-sdk/client-sso-oidc";

const endpoint = process.env.SSOIDC_ENDPOINT;
const startUrl = process.env.SSOIDC_START_URL;
if (!endpoint || !startUrl) {
  process.stderr.write("device_flow.mjs: SSOIDC_ENDPOINT and SSOIDC_START_URL must be set (refusing to talk to AWS)\n");
  process.exit(2);
}
const say = (doc) => process.stdout.write(`${JSON.stringify(doc)}\n`);
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));
const client = new SSOOIDCClient({ region: process.env.AWS_REGION || "us-east-1", endpoint, maxAttempts: 1 });

try {
  const reg = await client.send(
    new RegisterClientCommand({ clientName: "js-sdk-device-test", clientType: "public", scopes: ["sso:account:access"] }),
  );
  const dev = await client.send(
    new StartDeviceAuthorizationCommand({ clientId: reg.clientId, clientSecret: reg.clientSecret, startUrl }),
  );
  say({
    event: "authorize",
    userCode: dev.userCode,
    verificationUri: dev.verificationUri,
    verificationUriComplete: dev.verificationUriComplete,
    interval: dev.interval,
    expiresIn: dev.expiresIn,
  });
  let interval = dev.interval ?? 5;
  let pending = 0;
  let slowDowns = 0;
  for (;;) {
    try {
      const { $metadata, ...tokens } = await client.send(
        new CreateTokenCommand({
          clientId: reg.clientId,
          clientSecret: reg.clientSecret,
          grantType: "urn:ietf:params:oauth:grant-type:device_code",
          deviceCode: dev.deviceCode,
        }),
      );
      say({ event: "tokens", pending, slowDowns, clientId: reg.clientId, clientSecret: reg.clientSecret, ...tokens });
      break;
    } catch (err) {
      if (err.name === "AuthorizationPendingException") {
        pending += 1;
        if (pending === 1) say({ event: "pending" }); // the first poll was refused: the user has not decided yet
      }
      else if (err.name === "SlowDownException") {
        slowDowns += 1;
        interval += 5;
      } else throw err;
    }
    await sleep(interval);
  }
} catch (err) {
  say({ event: "error", name: err.name, message: err.message });
  process.exitCode = 3;
} finally {
  client.destroy();
}
