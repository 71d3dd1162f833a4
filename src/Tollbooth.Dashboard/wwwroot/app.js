// The dashboard: sign-in with an API key (kept in this tab's sessionStorage only, or taken once from
// /#key=<key>, which never reaches the server and is removed from the address bar), then every few seconds
// each panel asks the API again with that key.

import { createApi } from './api.js';
import { time } from './format.js';
import { refreshDetail, refreshOverview, refreshPipeline, refreshTopAds } from './panels.js';

const keyItem = 'tollbooth.key';
const zoneItem = 'tollbooth.tz';
const refreshMs = 5000;
const commonZones = ['UTC', 'America/New_York', 'America/Chicago', 'America/Los_Angeles', 'America/Sao_Paulo', 'Europe/London', 'Europe/Paris', 'Europe/Berlin', 'Asia/Kolkata', 'Asia/Singapore', 'Asia/Tokyo', 'Australia/Sydney'];

const $ = id => document.getElementById(id);
let state = null;
let timer = 0;
let refreshes = 0;
let running = false;
let again = false;

// The fragment never reaches the server; it is read once and removed from the address bar (and history).
// Besides key=, a link may name ad= or campaign= (and by=minute|hour|day) to open that one's chart.
function takeFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (location.hash.length > 1) {
    history.replaceState(null, '', location.pathname + location.search);
  }
  return fragment;
}

function showSignIn(message = '') {
  clearTimeout(timer);
  state = null;
  document.body.dataset.state = 'signed-out';
  $('session').hidden = true;
  $('dashboard').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
  $('key').value = '';
  $('key').focus();
}

async function signIn(key) {
  const api = createApi(key);
  let me;
  try {
    me = await api.get('/v1/me');
  } catch (error) {
    sessionStorage.removeItem(keyItem);
    showSignIn(error.status === 401 ? 'This key is unknown or revoked: check it and try again.' : error.message);
    return;
  }
  if (me.role === 'publisher') {
    sessionStorage.removeItem(keyItem);
    showSignIn('A publisher key can only send clicks: sign in with an advertiser or admin key.');
    return;
  }
  sessionStorage.setItem(keyItem, key);
  state = { api, me, advertiser: me.advertiser_id, timeZone: 'UTC', currency: null, detail: null, lastStatus: null };
  let zone = sessionStorage.getItem(zoneItem);
  if (!zone && me.advertiser_id) {
    try {
      zone = (await api.get(`/v1/advertisers/${encodeURIComponent(me.advertiser_id)}`)).time_zone;
    } catch {
      zone = null;
    }
  }
  state.timeZone = zone || 'UTC';
  fillZones(state.timeZone);
  $('who').textContent = me.role === 'admin' ? 'Admin' : `Advertiser ${me.advertiser_id}`;
  $('advertiser-field').hidden = me.role !== 'admin';
  $('pipeline').hidden = me.role !== 'admin';
  $('sign-in').hidden = true;
  $('session').hidden = false;
  $('dashboard').hidden = false;
  document.body.dataset.state = 'signed-in';
  document.body.dataset.role = me.role;
  if ($('detail-id').value.trim()) readDetailForm();
  await refresh();
}

function fillZones(selected) {
  let all = [];
  try {
    all = Intl.supportedValuesOf('timeZone');
  } catch {
    all = [];
  }
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const names = [...new Set([...commonZones, selected, own, ...all].filter(Boolean))];
  $('tz').replaceChildren(...names.map(name => Object.assign(document.createElement('option'), { value: name, textContent: name })));
  $('tz').value = selected;
}

/** The advertiser with most valid clicks over the last 60 minutes among the top ads (what the top-ads panel shows), or null. */
async function busiestAdvertiser(ids) {
  const to = Math.floor(Date.now() / 60_000) * 60_000 + 60_000;
  const { ads } = await state.api.get('/v1/ads/popular_ads', { count: 1000, window: 60, to: new Date(to).toISOString() });
  const clicks = new Map();
  for (const ad of ads) {
    if (ids.includes(ad.advertiser_id)) clicks.set(ad.advertiser_id, (clicks.get(ad.advertiser_id) ?? 0) + ad.count);
  }
  let busiest = null;
  for (const [id, count] of clicks) {
    if (busiest === null || count > clicks.get(busiest) || (count === clicks.get(busiest) && id < busiest)) busiest = id;
  }
  return busiest;
}

async function refreshAdvertisers() {
  if (state.me.role !== 'admin') return;
  const { advertisers } = await state.api.get('/v1/advertisers');
  const ids = advertisers.map(a => a.advertiser_id);
  const select = $('advertiser');
  if (select.dataset.ids !== ids.join('\n')) {
    select.dataset.ids = ids.join('\n');
    select.replaceChildren(...ids.map(id => Object.assign(document.createElement('option'), { value: id, textContent: id })));
  }
  if (!ids.includes(state.advertiser)) {
    state.advertiser = (await busiestAdvertiser(ids)) ?? ids[0] ?? null;
  }
  select.value = state.advertiser ?? '';
}

// One refresh at a time: a change asked for while one runs (a new time zone, say) starts another right
// after it, so an older answer never paints over a newer one.
async function refresh() {
  clearTimeout(timer);
  if (!state) return;
  if (running) {
    again = true;
    return;
  }
  running = true;
  again = false;
  const current = state;
  try {
    await refreshAdvertisers();
    const pick = adId => showDetail({ kind: 'ad_id', id: adId });
    // The overview first: it learns the currency the other panels show spend in.
    await refreshOverview(current);
    const panels = [refreshTopAds(current, pick), refreshDetail(current)];
    if (current.me.role === 'admin') panels.push(refreshPipeline(current));
    await Promise.all(panels);
    $('refresh-error').hidden = true;
    $('updated').textContent = `Updated ${time(Date.now(), current.timeZone, 'seconds')}`;
    refreshes += 1;
    $('dashboard').dataset.refreshes = String(refreshes);
  } catch (error) {
    if (error.status === 401) {
      sessionStorage.removeItem(keyItem);
      showSignIn('This key is no longer valid: sign in again.');
      return;
    }
    $('refresh-error').textContent = error.message;
    $('refresh-error').hidden = false;
  } finally {
    running = false;
  }
  if (state === current) {
    timer = setTimeout(refresh, again ? 0 : refreshMs);
  }
}

function showDetail(change) {
  if (change.kind) $('detail-kind').value = change.kind;
  if (change.id) $('detail-id').value = change.id;
  readDetailForm();
  refresh();
}

function readDetailForm() {
  const id = $('detail-id').value.trim();
  state.detail = id ? {
    kind: $('detail-kind').value,
    id,
    granularity: $('detail-granularity').value,
    from: $('detail-from').value,
    to: $('detail-to').value,
  } : null;
}

function wire() {
  $('sign-in-form').addEventListener('submit', event => {
    event.preventDefault();
    const key = $('key').value.trim();
    if (key) signIn(key);
  });
  $('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem(keyItem);
    showSignIn();
  });
  $('tz').addEventListener('change', () => {
    state.timeZone = $('tz').value;
    sessionStorage.setItem(zoneItem, state.timeZone);
    refresh();
  });
  $('advertiser').addEventListener('change', () => {
    state.advertiser = $('advertiser').value;
    refresh();
  });
  $('detail-form').addEventListener('submit', event => {
    event.preventDefault();
    showDetail({});
  });
  $('detail-granularity').addEventListener('change', () => {
    if (state.detail) showDetail({});
  });
}

wire();
const fragment = takeFragment();
const subject = fragment.get('ad') ?? fragment.get('campaign');
if (subject) {
  $('detail-kind').value = fragment.has('ad') ? 'ad_id' : 'campaign_id';
  $('detail-id').value = subject;
  if (['minute', 'hour', 'day'].includes(fragment.get('by'))) $('detail-granularity').value = fragment.get('by');
}
const key = fragment.get('key') || sessionStorage.getItem(keyItem);
if (key) {
  signIn(key);
} else {
  showSignIn();
}
