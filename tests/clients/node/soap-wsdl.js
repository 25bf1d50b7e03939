// node-soap (npm "soap"), unmodified: builds its client from the emulator's /etframework.wsdl alone and
// calls Create (UpdateAdd) and Retrieve with it, authenticated by a <fueloauth> header.
'use strict';
const soap = require('soap');

const env = process.env;

async function main() {
  const answer = await fetch(`${env.EMULATOR_URL}/v2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'client_credentials',
      client_id: env.SFMC_CLIENT_ID,
      client_secret: env.SFMC_CLIENT_SECRET,
    }),
  });
  const token = (await answer.json()).access_token;
  const client = await soap.createClientAsync(`${env.EMULATOR_URL}/etframework.wsdl`);
  client.addSoapHeader({ fueloauth: token }, '', 'et', 'http://exacttarget.com');
  const out = { operations: Object.keys(client.describe().PartnerAPI.Soap).sort() };
  [out.created] = await client.CreateAsync({
    Options: { SaveOptions: { SaveOption: [{ PropertyName: '*', SaveAction: 'UpdateAdd' }] } },
    Objects: [
      {
        attributes: { 'xsi:type': 'DataExtensionObject' },
        CustomerKey: 'identify',
        Properties: {
          Property: [
            { Name: 'Contact Key', Value: 'wsdl-1' },
            { Name: 'Email', Value: 'w1@example.com' },
          ],
        },
      },
    ],
  });
  [out.retrieved] = await client.RetrieveAsync({
    RetrieveRequest: {
      ObjectType: 'DataExtensionObject[Identify]',
      Properties: ['Contact Key', 'Email'],
      Filter: {
        attributes: { 'xsi:type': 'SimpleFilterPart' },
        Property: 'Contact Key',
        SimpleOperator: 'equals',
        Value: ['wsdl-1'],
      },
    },
  });
  console.log(JSON.stringify(out));
}

main().catch((err) => {
  console.error(err && err.body ? err.body : err && err.stack ? err.stack : err);
  process.exit(1);
});
