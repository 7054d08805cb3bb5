// CreateTokenWithIAM through the AWS SDK for JavaScript v3 against ssoidc (driven by tests/e2e/test_js_sdk.py).
//
//   SSOIDC_ENDPOINT=http://127.0.0.1:8000 AWS_REGION=us-east-1 \
//   AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... node create_token.mjs '{"clientId": ..., ...}'
//
// The request (the operation's input: clientId, grantType, assertion, scope, ...) is a JSON object given as
// the first argument, or on stdin when there is none. Region and credentials come from the environment and
// are passed to the client explicitly, so no other credential source (profiles, IMDS) is ever consulted.
// On success prints the output without $metadata and exits 0; on an error prints
// {name, status, error, error_description, message} and exits 3.
import { readFileSync } from "node:fs";
import { CreateTokenWithIAMCommand, SSOOIDCClient } from "@aws-sdk/client-sso-oidc";

function fail(message) {
  process.stderr.write(`create_token.mjs: ${message}\n`);
  process.exit(2);
}

const endpoint = process.env.SSOIDC_ENDPOINT;
if (!endpoint) fail("SSOIDC_ENDPOINT is not set (refusing to talk to AWS)");
const region = process.env.AWS_REGION || "us-east-1";
const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
if (!accessKeyId || !secretAccessKey) fail("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set");

let input;
try {
  input = JSON.parse(process.argv.length > 2 ? process.argv[2] : readFileSync(0, "utf8"));
} catch (err) {
  fail(`the request is not JSON: ${err.message}`);
}

const client = new SSOOIDCClient({
  region,
  endpoint,
  credentials: { accessKeyId, secretAccessKey },
  maxAttempts: 1, // an error must surface as is, not be retried away
});

try {
  const { $metadata, ...output } = await client.send(new CreateTokenWithIAMCommand(input));
  process.stdout.write(`${JSON.stringify(output)}\n`);
} catch (err) {
  const report = {
    name: err.name,
    status: err.$metadata?.httpStatusCode,
    error: err.error,
    error_description: err.error_description,
    message: err.message,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exitCode = 3;
} finally {
  client.destroy();
}
