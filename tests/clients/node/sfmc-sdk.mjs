// sfmc-sdk 2.x (sfmc-devtools' client), unmodified: it accepts only
// https://{28-character subdomain}.auth.marketingcloudapis.com/ and then follows rest_instance_url.
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

const out = {};
const auth = await sdk.auth.getAccessToken();
out.rest_instance_url = auth.rest_instance_url;
out.rowset = await sdk.rest.post('/hub/v1/dataevents/key:identify/rowset', [
  { keys: { 'Contact Key': 'sdk-1' }, values: { Email: 's1@example.com' } },
]);
out.rows = await sdk.rest.get('/data/v1/customobjectdata/key/identify/rowset');
const submitted = await sdk.rest.put('/data/v1/async/dataextensions/key:identify/rows', {
  items: [{ 'Contact Key': 'sdk-2', Email: 's2@example.com' }],
});
out.requestId = submitted.requestId;
for (let i = 0; i < 100; i++) {
  out.status = await sdk.rest.get(`/data/v1/async/${submitted.requestId}/status`);
  if (['Complete', 'Error'].includes(out.status?.status?.requestStatus)) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
out.event = await sdk.rest.post('/interaction/v1/events', {
  ContactKey: 'sdk-1',
  EventDefinitionKey: 'APIEvent-sdk',
  Data: { Plan: 'pro' },
});
out.contact = await sdk.rest.post('/contacts/v1/contacts', { contactKey: 'sdk-1', attributeSets: [] });
console.log(JSON.stringify(out));
