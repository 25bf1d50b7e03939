// sfmc-sdk 2.x (sfmc-devtools' client), unmodified, over the SOAP API: soap.retrieve and soap.create
// through the proxy mode, to SFMC's own {subdomain}.soap.marketingcloudapis.com name.
import SDK from 'sfmc-sdk';

const env = process.env;
const sdk = new SDK(
  {
    client_id: env.SFMC_CLIENT_ID,
    client_secret: env.SFMC_CLIENT_SECRET,
    auth_url: `https://${env.SFMC_SUBDOMAIN}.auth.marketingcloudapis.com/`,
    account_id: Number(env.SFMC_ACCOUNT_ID),
  },
  { requestAttempts: 1 },
);
const upsert = { SaveOptions: { SaveOption: { PropertyName: '*', SaveAction: 'UpdateAdd' } } };
const row = (key, email) => ({
  CustomerKey: 'identify',
  Properties: { Property: [{ Name: 'Contact Key', Value: key }, { Name: 'Email', Value: email }] },
});
const failure = (err) => ({ message: err.message, code: err.code, status: err.json?.Results?.[0]?.StatusCode });

const out = {};
const auth = await sdk.auth.getAccessToken();
out.soap_instance_url = auth.soap_instance_url;
out.units = await sdk.soap.retrieve('BusinessUnit', ['ID', 'Name']);
out.de = await sdk.soap.retrieve('DataExtension', ['CustomerKey', 'Name'], {
  filter: { leftOperand: 'CustomerKey', operator: 'equals', rightOperand: 'identify' },
});
out.created = await sdk.soap.create('DataExtensionObject', row('soap-1', 's1@example.com'), { options: upsert });
out.again = await sdk.soap.create('DataExtensionObject', row('soap-1', 's1b@example.com'), { options: upsert });
try {
  await sdk.soap.create('DataExtensionObject', row('soap-2', 'not an email'), { options: upsert });
  out.bad = 'accepted';
} catch (err) {
  out.bad = failure(err);
}
out.rows = await sdk.soap.retrieve('DataExtensionObject[Identify]', ['Contact Key', 'Email'], {
  filter: { leftOperand: 'Contact Key', operator: 'equals', rightOperand: 'soap-1' },
});
try {
  await sdk.soap.retrieve('Subscriber', ['EmailAddress']);
  out.unknown = 'accepted';
} catch (err) {
  out.unknown = failure(err);
}
console.log(JSON.stringify(out));
