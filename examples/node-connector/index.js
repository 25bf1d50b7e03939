#!/usr/bin/env node
// A small Segment-to-SFMC connector in plain Node 20 (no npm dependencies), written to the conformance
// harness's external-command contract:
//   settings: JSON file named by SFMC_SETTINGS_FILE (client_id, client_secret, subdomain, account_id,
//             identify_de_key, do_not_create_contacts, conversion_events, api_events, auth_base_url,
//             rest_base_url); SFMC_* environment variables override the credentials and URLs
//   events:   NDJSON on stdin, one Segment event per line
//   result:   {delivered, rejected, dropped, pending} written to SFMC_RESULT_FILE; exit 0 when done
// It covers identify and track into Data Extension rowsets (Title Case, Contact Key rules, context
// attributes, primary keys and UUID keys), contacts, API events, and retries on 429 (Retry-After),
// 5xx, dropped connections and SFMC's transient 10006. It does not batch through the async API
// and does not sync Personas: run the suite against it to see exactly which rules that leaves out.
'use strict';

const fs = require('node:fs');

const CONTEXT_ATTRIBUTES = {
  'app.name': 'App Name', 'app.version': 'App Version', 'app.build': 'App Build',
  'campaign.name': 'UTM Campaign', 'campaign.source': 'UTM Source', 'campaign.medium': 'UTM Medium',
  'campaign.term': 'UTM Term', 'campaign.content': 'UTM Content', locale: 'Locale', userAgent: 'User Agent',
  ip: 'IP Address', 'device.adTrackingEnabled': 'Ad Tracking Enabled',
  'device.manufacturer': 'Device Manufacturer', 'device.model': 'Device-model', 'device.name': 'Device Name',
  'device.type': 'Device Type', 'network.bluetooth': 'Bluetooth Enabled', 'network.carrier': 'Network Carrier',
  'network.cellular': 'Cellular Enabled', 'network.wifi': 'Wifi Enabled', 'screen.density': 'Screen Density',
  'screen.height': 'Screen Height', 'screen.width': 'Screen Width',
};
const MAX_ATTEMPTS = 7;
const MIN_INTERVAL_MS = 55; // about 18 requests per second, under SFMC's 20 (RL-1)
const GROUP_SIZE = 50; // SFMC's best practice for a sync rowset

// -- formatting (FMT-1..FMT-3, ID-2, ID-3, CTX-1) ---------------------------------------------------

function titleCase(key) {
  const words = [];
  for (const chunk of String(key).split(/[_\-\s]+/)) {
    let start = 0;
    for (let i = 1; i < chunk.length; i++) {
      if (/[a-z]/.test(chunk[i - 1]) && /[A-Z]/.test(chunk[i])) {
        words.push(chunk.slice(start, i));
        start = i;
      }
    }
    if (chunk.slice(start)) words.push(chunk.slice(start));
  }
  return words.map((w) => w[0].toUpperCase() + w.slice(1)).join(' ');
}

const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const US_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;
const TEXT_DATE = /^(?:[A-Za-z]{3},?\s+)?\d{1,2}\s+[A-Za-z]{3,9}\s+\d{4}(\s+\d{1,2}:\d{2}(:\d{2})?\s*(GMT|UTC|Z|[+-]\d{4})?)?$/;

function isoDate(value) {
  if (typeof value !== 'string' || ISO.test(value)) return value;
  const us = US_DATE.exec(value);
  if (us) return `${us[3]}-${us[1].padStart(2, '0')}-${us[2].padStart(2, '0')}`;
  if (TEXT_DATE.test(value.trim())) {
    const parsed = new Date(value);
    if (!Number.isNaN(parsed.getTime())) return parsed.toISOString();
  }
  return value;
}

function isNested(value) {
  return value !== null && typeof value === 'object';
}

function flatten(payload) {
  const row = {};
  for (const [key, value] of Object.entries(payload || {})) {
    if (isNested(value)) continue; // FMT-2: nested objects are not sent
    const column = titleCase(key);
    if (column) row[column] = isoDate(value);
  }
  return row;
}

function contextAttributes(context) {
  const out = {};
  for (const [path, column] of Object.entries(CONTEXT_ATTRIBUTES)) {
    let value = context || {};
    for (const part of path.split('.')) value = isNested(value) ? value[part] : undefined;
    if (value !== undefined && value !== null && !isNested(value)) out[column] = value;
  }
  return out;
}

function contactKey(event) {
  const clean = (v) => (typeof v === 'string' || typeof v === 'number') && String(v).replace(/:/g, '').trim()
    ? String(v).replace(/:/g, '') : null;
  const byId = clean(event.userId);
  if (byId) return byId;
  const emails = event.type === 'identify'
    ? [(event.traits || {}).email, ((event.context || {}).traits || {}).email]
    : [((event.context || {}).traits || {}).email, (event.properties || {}).email];
  for (const email of emails) {
    if (typeof email === 'string' && clean(email)) return clean(email);
  }
  return null;
}

function eventRow(event, payloadName, key) {
  const row = flatten(event[payloadName]);
  for (const column of Object.keys(row)) if (column.toLowerCase() === 'contact key') delete row[column];
  const out = key === null ? { ...row } : { 'Contact Key': key, ...row };
  const taken = new Set(Object.keys(out).map((c) => c.toLowerCase()));
  for (const [column, value] of Object.entries(contextAttributes(event.context))) {
    if (!taken.has(column.toLowerCase())) out[column] = value;
  }
  return out;
}

// -- planning ----------------------------------------------------------------------------------------

function plan(event, settings) {
  const ops = [];
  const key = contactKey(event);
  if (event.type === 'identify') {
    if (key === null) return { ops, dropped: 'no_identifier' }; // ID-1
    if (!settings.do_not_create_contacts) ops.push({ kind: 'contact', key }); // ID-5
    if (settings.identify_de_key) { // ID-4, ID-6
      const values = eventRow(event, 'traits', null);
      ops.push({ kind: 'row', de: settings.identify_de_key, keys: { 'Contact Key': key }, values });
    }
    return ops.length ? { ops } : { ops, dropped: 'identify_not_configured' };
  }
  if (event.type !== 'track') return { ops, dropped: 'unsupported_type' };
  const conversion = (settings.conversion_events || []).find((c) => c.event === event.event);
  const definitionKey = (settings.api_events || {})[event.event];
  if (!conversion && !definitionKey) return { ops, dropped: 'not_a_conversion_event' }; // TR-1
  const row = eventRow(event, 'properties', key);
  if (conversion) {
    if (conversion.uuid_primary_key) { // TR-5
      const values = Object.fromEntries(Object.entries(row).filter(([c]) => c.toLowerCase() !== 'uuid'));
      ops.push({ kind: 'row', de: conversion.de_key, keys: { Uuid: String(event.messageId) }, values });
    } else { // TR-3: primary key columns, in any order, matched case-insensitively
      const names = (Array.isArray(conversion.primary_keys) ? conversion.primary_keys
        : String(conversion.primary_keys || '').split(',')).map((n) => n.trim()).filter(Boolean);
      const byFolded = Object.fromEntries(Object.keys(row).map((c) => [c.toLowerCase(), c]));
      const keys = {};
      for (const name of names) {
        const column = byFolded[name.toLowerCase()];
        if (column === undefined || row[column] === null || row[column] === '') return { ops, dropped: 'missing_primary_key' };
        keys[name] = row[column];
      }
      const folded = new Set(names.map((n) => n.toLowerCase()));
      const values = Object.fromEntries(Object.entries(row).filter(([c]) => !folded.has(c.toLowerCase())));
      ops.push({ kind: 'row', de: conversion.de_key, keys, values });
    }
  }
  if (definitionKey && key !== null) ops.push({ kind: 'apiEvent', definitionKey, key, data: row }); // API-1
  return { ops };
}

// -- the SFMC client: token, pacing, retries -----------------------------------------------------------

class Sfmc {
  constructor(settings) {
    this.settings = settings;
    this.token = null;
    this.restBase = settings.rest_base_url || null;
    this.lastCall = 0;
  }

  async authenticate() {
    const s = this.settings;
    const base = (s.auth_base_url || `https://${s.subdomain}.auth.marketingcloudapis.com`).replace(/\/$/, '');
    let url;
    let body;
    if (s.subdomain) { // AUTH-2: OAuth2 v2 on the tenant's host
      url = `${base}/v2/token`;
      body = { grant_type: 'client_credentials', client_id: s.client_id, client_secret: s.client_secret };
      if (s.account_id) body.account_id = String(s.account_id); // AUTH-3
    } else {
      url = `${base}/v1/requestToken`;
      body = { clientId: s.client_id, clientSecret: s.client_secret };
    }
    const response = await this.fetchWithRetries(url, { method: 'POST', body: JSON.stringify(body) }, false);
    if (response.status !== 200) throw new Error(`authentication failed: ${response.status} ${await response.text()}`);
    const data = await response.json();
    this.token = data.access_token || data.accessToken;
    if (!this.restBase) this.restBase = (data.rest_instance_url || base).replace(/\/$/, '');
  }

  async pace() {
    const wait = this.lastCall + MIN_INTERVAL_MS - Date.now();
    if (wait > 0) await sleep(wait);
    this.lastCall = Date.now();
  }

  async fetchWithRetries(url, init, authed) {
    let renewed = false;
    for (let attempt = 1; ; attempt++) {
      await this.pace();
      const headers = { 'Content-Type': 'application/json' };
      if (authed) headers.Authorization = `Bearer ${this.token}`;
      let response;
      try {
        response = await fetch(url, { ...init, headers });
      } catch (error) { // dropped connection: retry
        if (attempt >= MAX_ATTEMPTS) throw error;
        await sleep(backoff(attempt));
        continue;
      }
      if (authed && response.status === 401 && !renewed) { // expired or revoked token: renew once
        renewed = true;
        await this.authenticate();
        continue;
      }
      if (await retryable(response) && attempt < MAX_ATTEMPTS) {
        const hint = Number(response.headers.get('Retry-After'));
        await sleep(Number.isFinite(hint) && hint > 0 ? hint * 1000 : backoff(attempt)); // RL-1: honour Retry-After
        continue;
      }
      return response;
    }
  }

  async call(method, path, body) {
    if (!this.token) await this.authenticate();
    return this.fetchWithRetries(`${this.restBase}${path}`, { method, body: JSON.stringify(body) }, true);
  }
}

async function retryable(response) {
  if (response.status === 429 || response.status >= 500) return true;
  if (response.status !== 400) return false;
  try {
    const body = await response.clone().json();
    return body.errorcode === 10006 && !(body.additionalErrors || []).length; // SFMC's transient save failure
  } catch {
    return false;
  }
}

function backoff(attempt) {
  return Math.min(4000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// -- delivery ------------------------------------------------------------------------------------------

async function deliver(settings, events) {
  const sfmc = new Sfmc(settings);
  const result = { delivered: 0, rejected: {}, dropped: {}, pending: 0 };
  const failed = new Map(); // event index -> reason
  const planned = events.map((event) => plan(event, settings));
  const rowsByDe = new Map();
  planned.forEach((p, index) => {
    if (p.dropped) result.dropped[p.dropped] = (result.dropped[p.dropped] || 0) + 1;
    for (const op of p.ops) {
      if (op.kind !== 'row') continue;
      if (!rowsByDe.has(op.de)) rowsByDe.set(op.de, []);
      rowsByDe.get(op.de).push({ index, op });
    }
  });
  const reject = (index, reason) => { if (!failed.has(index)) failed.set(index, reason); };

  async function rowset(de, items) {
    // SFMC refuses a row whose values name no existing field: a keys-only row repeats its keys there
    const body = items.map(({ op }) => ({
      keys: op.keys,
      values: Object.keys(op.values).length ? op.values : { ...op.keys },
    }));
    const response = await sfmc.call('POST', `/hub/v1/dataevents/key:${encodeURIComponent(de)}/rowset`, body);
    if (response.ok) return;
    let body400 = {};
    try { body400 = await response.json(); } catch { /* not JSON: treated as a refusal below */ }
    if (items.length > 1 && response.status === 400 && body400.errorcode === 10006) {
      for (const item of items) await rowset(de, [item]); // find the bad row; the others land
      return;
    }
    for (const { index } of items) reject(index, `rows_refused_${response.status}`);
  }

  for (const [de, items] of rowsByDe) {
    for (let start = 0; start < items.length; start += GROUP_SIZE) await rowset(de, items.slice(start, start + GROUP_SIZE));
  }
  const contacts = new Set();
  for (const [index, p] of planned.entries()) {
    for (const op of p.ops) {
      if (op.kind === 'contact' && !contacts.has(op.key)) {
        contacts.add(op.key);
        const response = await sfmc.call('POST', '/contacts/v1/contacts', { contactKey: op.key, attributeSets: [] });
        if (!response.ok) reject(index, `contact_refused_${response.status}`);
      } else if (op.kind === 'apiEvent') {
        const response = await sfmc.call('POST', '/interaction/v1/events',
          { ContactKey: op.key, EventDefinitionKey: op.definitionKey, Data: op.data });
        if (!response.ok) reject(index, `api_event_refused_${response.status}`);
      }
    }
  }
  planned.forEach((p, index) => {
    if (failed.has(index)) {
      const reason = failed.get(index);
      result.rejected[reason] = (result.rejected[reason] || 0) + 1;
    } else if (!p.dropped) {
      result.delivered += 1;
    }
  });
  return result;
}

function loadSettings() {
  const file = process.env.SFMC_SETTINGS_FILE;
  const settings = file ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  const env = {
    client_id: 'SFMC_CLIENT_ID', client_secret: 'SFMC_CLIENT_SECRET', account_id: 'SFMC_ACCOUNT_ID',
    auth_base_url: 'SFMC_AUTH_BASE_URL', rest_base_url: 'SFMC_REST_BASE_URL',
  };
  for (const [name, variable] of Object.entries(env)) {
    if (settings[name] === undefined && process.env[variable]) settings[name] = process.env[variable];
  }
  if (settings.subdomain === undefined && process.env.SFMC_SUBDOMAIN) settings.subdomain = process.env.SFMC_SUBDOMAIN;
  return settings;
}

async function main() {
  const input = fs.readFileSync(0, 'utf8');
  const events = input.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line));
  const result = await deliver(loadSettings(), events);
  const text = JSON.stringify(result);
  if (process.env.SFMC_RESULT_FILE) fs.writeFileSync(process.env.SFMC_RESULT_FILE, text);
  process.stdout.write(`${text}\n`);
}

main().catch((error) => {
  process.stderr.write(`sfmc node connector: ${error.stack || error}\n`);
  process.exit(2);
});
