// sfmc-fuelsdk-node 2.4.0 (fuel-soap inside), unmodified: DataExtensionRow post, get, patch and delete over
// SOAP, reaching SFMC's own host names through HTTPS_PROXY and NODE_EXTRA_CA_CERTS.
'use strict';
const ET_Client = require('sfmc-fuelsdk-node');

const env = process.env;
const call = (fn) => new Promise((resolve) => fn((err, res) => resolve({ err, res })));
const summary = ({ err, res }) => {
  if (err) return { error: err.message || String(err), results: err.results };
  return { status: res.res.statusCode, overall: res.body.OverallStatus, results: res.body.Results };
};

async function main() {
  const client = new ET_Client(env.SFMC_CLIENT_ID, env.SFMC_CLIENT_SECRET, undefined, {
    origin: `https://${env.SFMC_SUBDOMAIN}.rest.marketingcloudapis.com`,
    authOrigin: `https://${env.SFMC_SUBDOMAIN}.auth.marketingcloudapis.com`,
    authOptions: { authVersion: 2, accountId: env.SFMC_ACCOUNT_ID },
  });
  const row = (props) => client.dataExtensionRow({ Name: 'Identify', CustomerKey: 'identify', props });
  const out = {};
  out.post = summary(await call((cb) => row({ 'Contact Key': 'node-1', Email: 'n1@example.com' }).post(cb)));
  out.get = summary(
    await call((cb) =>
      client
        .dataExtensionRow({
          Name: 'Identify',
          props: ['Contact Key', 'Email'],
          filter: { leftOperand: 'Contact Key', operator: 'equals', rightOperand: 'node-1' },
        })
        .get(cb),
    ),
  );
  out.patch = summary(await call((cb) => row({ 'Contact Key': 'node-1', Email: 'n1b@example.com' }).patch(cb)));
  out.bad = summary(await call((cb) => row({ 'Contact Key': 'node-2', Email: 'not an email' }).post(cb)));
  out.delete = summary(await call((cb) => row({ 'Contact Key': 'node-1' }).delete(cb)));
  console.log(JSON.stringify(out));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
