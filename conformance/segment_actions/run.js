'use strict'
// Runs Segment's published Salesforce Marketing Cloud destination (npm @segment/action-destinations),
// unchanged, over the events of one conformance case.
//
// Input:  SFMC_SETTINGS_FILE, a JSON document {settings: {subdomain, account_id, client_id, client_secret},
//         subscriptions: [{name, partnerAction, subscribe, mapping, batch, select_data_extension}]},
//         and the Segment events as NDJSON on stdin.
// Output: {delivered, rejected: {reason: count}, filtered, subscriptions} as the last line of stdout
//         (and in SFMC_RESULT_FILE when set).
//
// Segment's code builds https://{subdomain}.auth|rest.marketingcloudapis.com itself, so every request
// leaves through the forward proxy named by HTTPS_PROXY (the emulator's proxy mode); the proxy's CA is
// trusted through NODE_EXTRA_CA_CERTS. Without a proxy the runner refuses to start: it never reaches
// the real SFMC.
//
// Events go through the same entry points Segment's delivery service calls (Destination.onEvent for
// one event, Destination.onBatch for a batch), one subscription at a time, so the destination's own
// subscription filter, mapping kit, schema validation, perform/performBatch and OAuth refresh on 401
// all run as they do in production.

const fs = require('fs')
const https = require('https')

function fail(message, code = 2) {
  process.stderr.write(`segment-actions runner: ${message}\n`)
  process.exit(code)
}

function installProxy() {
  const proxy = process.env.HTTPS_PROXY || process.env.https_proxy
  if (!proxy) {
    fail(
      'HTTPS_PROXY is not set: point it at the emulator proxy (sfmc-emulator serve --proxy-port N) ' +
        'and NODE_EXTRA_CA_CERTS at its CA; the runner never talks to the real SFMC'
    )
  }
  const { HttpsProxyAgent } = require('https-proxy-agent')
  // node-fetch (under @segment/actions-core) passes no agent, so Node's global agents carry every request.
  https.globalAgent = new HttpsProxyAgent(proxy, { keepAlive: true })
  return proxy
}

function readStdin() {
  return fs
    .readFileSync(0, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line))
}

function reason(status, message) {
  const text = String(message || '').replace(/\s+/g, ' ').slice(0, 160)
  return `${status || 'error'} ${text}`.trim()
}

function count(map, key, n = 1) {
  map[key] = (map[key] || 0) + n
}

const NOT_SUBSCRIBED = 'Payload is either invalid or does not match the subscription'

async function resolveDataExtension(destination, actionSlug, settings, wanted) {
  // What the Segment app does when a user picks a Data Extension in the mapping editor: list the DEs
  // through the hook's dynamic field, then run the onMappingSave hook ("select") and keep its outputs.
  const action = destination.actions[actionSlug]
  const hook = action.definition.hooks.onMappingSave
  const listing = await action.executeDynamicField(
    'dataExtensionId',
    { settings, dynamicFieldContext: { query: wanted.key } },
    hook.inputFields.dataExtensionId.dynamic
  )
  const choices = listing.choices || []
  const named = choices.filter((c) => String(c.label).toLowerCase() === wanted.key.toLowerCase())
  const choice = named.length === 1 ? named[0] : choices.length === 1 ? choices[0] : undefined
  if (!choice) {
    throw new Error(
      `data extension '${wanted.key}' not found (or not one) by the destination's own lookup: ` +
        JSON.stringify(listing.error || listing.choices)
    )
  }
  const inputs = { operation: 'select', dataExtensionId: choice.value }
  const saved = await action.executeHook('onMappingSave', { settings, hookInputs: inputs })
  if (saved.error) throw new Error(`onMappingSave hook: ${JSON.stringify(saved.error)}`)
  return { inputs, outputs: saved.savedData }
}

function batchSize(destination, subscription) {
  const size = subscription.mapping.batch_size
  if (typeof size === 'number' && size > 0) return size
  const field = destination.actions[subscription.partnerAction].definition.fields.batch_size
  return (field && field.default) || 10
}

async function main() {
  const run = JSON.parse(fs.readFileSync(process.env.SFMC_SETTINGS_FILE, 'utf8'))
  const events = readStdin()
  const proxy = installProxy()
  const { Destination } = require('@segment/actions-core')
  const definition = require('@segment/action-destinations/dist/destinations/salesforce-marketing-cloud').default
  const destination = new Destination(definition)

  const oauth = {} // Segment's platform keeps the token between events; a 401 refreshes it
  const settings = { ...run.settings, oauth }
  const options = {
    onTokenRefresh: async (tokens) => {
      oauth.access_token = tokens.accessToken
    }
  }
  const result = { delivered: 0, rejected: {}, filtered: 0, subscriptions: [], proxy }

  const subscriptions = []
  for (const sub of run.subscriptions) {
    const mapping = { ...sub.mapping }
    if (sub.select_data_extension) {
      try {
        mapping.onMappingSave = await resolveDataExtension(
          destination,
          sub.partnerAction,
          settings,
          sub.select_data_extension
        )
      } catch (err) {
        count(result.rejected, reason('setup', `${sub.name}: ${err.message}`), events.length)
        continue
      }
    }
    subscriptions.push({ ...sub, mapping })
    result.subscriptions.push(sub.name)
  }

  for (const sub of subscriptions.filter((s) => s.batch)) {
    const size = batchSize(destination, sub)
    for (let start = 0; start < events.length; start += size) {
      const chunk = events.slice(start, start + size)
      try {
        const out = await destination.onBatch(chunk, { ...settings, subscription: sub }, options)
        for (const entry of out) {
          if (!entry.multistatus) continue
          for (const item of entry.multistatus) {
            if (!item) continue
            if (item.status >= 200 && item.status < 300) result.delivered += 1
            else if (item.errormessage === NOT_SUBSCRIBED) result.filtered += 1
            else count(result.rejected, reason(item.status, item.errormessage))
          }
        }
      } catch (err) {
        count(result.rejected, reason(err.status || err.response?.status, err.message), chunk.length)
      }
    }
  }

  const single = subscriptions.filter((s) => !s.batch)
  for (const event of events) {
    for (const sub of single) {
      try {
        const out = await destination.onEvent(event, { ...settings, subscription: sub }, options)
        if (out.some((r) => r.output === 'not subscribed')) result.filtered += 1
        else result.delivered += 1
      } catch (err) {
        count(result.rejected, reason(err.status || err.response?.status, err.message))
      }
    }
  }

  const line = JSON.stringify(result)
  if (process.env.SFMC_RESULT_FILE) fs.writeFileSync(process.env.SFMC_RESULT_FILE, line)
  process.stdout.write(line + '\n')
}

main().catch((err) => fail(err.stack || String(err), 1))
