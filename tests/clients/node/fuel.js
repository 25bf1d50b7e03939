// fuel-rest + fuel-auth, unmodified: they reach SFMC's host names only through HTTPS_PROXY and
// NODE_EXTRA_CA_CERTS. After an invalid_token 401, fuel-rest rebuilds the URL from rest_instance_url
// by splitting on ".com/", which only works when the emulator is reached by SFMC's own names.
'use strict';
const FuelAuth = require('fuel-auth');
const FuelRest = require('fuel-rest');

const env = process.env;
const authUrl = `https://${env.SFMC_SUBDOMAIN}.auth.marketingcloudapis.com/v2/token`;
const authOptions = { authVersion: 2, accountId: env.SFMC_ACCOUNT_ID };

async function main() {
  const out = {};
  const auth = new FuelAuth({ clientId: env.SFMC_CLIENT_ID, clientSecret: env.SFMC_CLIENT_SECRET, authUrl, authOptions });
  const token = await auth.getAccessToken();
  out.auth = { rest_instance_url: token.rest_instance_url, soap_instance_url: token.soap_instance_url };

  const client = new FuelRest({ auth });
  const first = await client.post({
    uri: '/hub/v1/dataevents/key:identify/rowset',
    json: [{ keys: { 'Contact Key': 'fuel-1' }, values: { Email: 'f1@example.com' } }],
  });
  out.first = first.res.statusCode;

  // the emulator's control plane (by address, so NO_PROXY keeps it direct): expire the token in use
  const fault = await fetch(`${env.EMULATOR_URL}/_emulator/faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ kind: 'expire_tokens', tenant: env.SFMC_TENANT }),
  });
  out.fault = fault.status;

  const second = await client.post({
    uri: '/hub/v1/dataevents/key:identify/rowset',
    json: [{ keys: { 'Contact Key': 'fuel-2' }, values: { Email: 'f2@example.com' } }],
  });
  out.second = second.res.statusCode;
  out.second_url = second.res.request.uri.href;
  console.log(JSON.stringify(out));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
