// Each panel of the dashboard: asks the API for its numbers with the user's key and draws them as they
// come. Counts are shown exactly as the API answers them; every table row and bar carries the API's own
// window start or ad id in data- attributes, and each panel records the query it made in data-query.

import { drawBars } from './chart.js';
import { count, duration, iso, money, share, time } from './format.js';

const $ = id => document.getElementById(id);
const minuteMs = 60_000;

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function remember(panel, api, path, params) {
  $(panel).dataset.query = api.url(path, params);
}

/** The last hour, minute by minute, for the chosen advertiser: the chart, the tiles and the verdicts. */
export async function refreshOverview(state) {
  if (!state.advertiser) {
    $('overview-scope').textContent = 'no advertiser has counted clicks yet';
    $('overview-chart').replaceChildren();
    $('overview-empty').hidden = false;
    renderTotals(null, state);
    return;
  }
  const now = Date.now();
  const firstMinute = Math.floor(now / minuteMs) * minuteMs - 59 * minuteMs;
  const params = { advertiser_id: state.advertiser, granularity: 'minute', start: iso(firstMinute), end: iso(now), tz: state.timeZone, detail: 'true' };
  const answer = await state.api.get('/v1/aggregates', params);
  remember('overview', state.api, '/v1/aggregates', params);
  state.currency = answer.currency;
  $('overview-scope').textContent = `advertiser ${state.advertiser}`;
  const byStart = new Map(answer.windows.map(w => [Date.parse(w.start), w]));
  const points = [];
  for (let minute = firstMinute; minute < firstMinute + 60 * minuteMs; minute += minuteMs) {
    const clicks = byStart.get(minute)?.clicks ?? 0;
    const label = time(minute, state.timeZone);
    // Axis labels on the zone's round ten minutes only; every bar keeps its own tooltip.
    const round = label.endsWith('0') && (minute - firstMinute) < 59 * minuteMs;
    points.push({ start: iso(minute).replace('.000Z', 'Z'), value: clicks, label: round ? label : '', tip: `${label} · ${count(clicks)} clicks` });
  }
  drawBars($('overview-chart'), points, { labelEvery: 1, description: `Valid clicks per minute over the last hour for advertiser ${state.advertiser}` });
  $('overview-empty').hidden = answer.windows.length > 0;
  renderTotals(answer, state);
}

function renderTotals(answer, state) {
  const total = { received: 0, clicks: 0, spend: 0, invalid: 0, duplicates: 0, tooLate: 0, reasons: { bad_token: 0, bot: 0, rate: 0, unsigned: 0 } };
  for (const w of answer?.windows ?? []) {
    total.received += w.received;
    total.clicks += w.clicks;
    total.spend += w.spend_micros;
    total.invalid += w.invalid_clicks;
    total.duplicates += w.duplicate_clicks;
    total.tooLate += w.too_late;
    for (const reason of Object.keys(total.reasons)) {
      total.reasons[reason] += w.invalid_by_reason?.[reason] ?? 0;
    }
  }
  $('kpi-clicks').textContent = count(total.clicks);
  $('kpi-spend').textContent = money(total.spend, state.currency);
  $('kpi-invalid').textContent = count(total.invalid);
  $('kpi-duplicates').textContent = count(total.duplicates);

  const parts = [
    ['valid', 'Valid', total.clicks, 'v-valid'],
    ['invalid', 'Invalid', total.invalid, 'v-invalid'],
    ['invalid:bad_token', 'bad token', total.reasons.bad_token, 'v-invalid-reason', true],
    ['invalid:bot', 'bot', total.reasons.bot, 'v-invalid-reason', true],
    ['invalid:rate', 'rate limit', total.reasons.rate, 'v-invalid-reason', true],
    ['invalid:unsigned', 'unsigned', total.reasons.unsigned, 'v-invalid-reason', true],
    ['duplicate', 'Duplicates', total.duplicates, 'v-duplicate'],
    ['too_late', 'Too late', total.tooLate, 'v-late'],
  ];
  const rows = parts.map(([verdict, label, value, swatch, sub]) => {
    const tr = document.createElement('tr');
    tr.dataset.verdict = verdict;
    if (sub) tr.className = 'sub';
    const name = cell(label);
    const mark = document.createElement('span');
    mark.className = `swatch ${swatch}`;
    name.prepend(mark);
    tr.append(name, cell(count(value), 'num value'), cell(share(value, total.received), 'num'));
    return tr;
  });
  const sum = document.createElement('tr');
  sum.dataset.verdict = 'received';
  sum.append(cell('Received'), cell(count(total.received), 'num value'), cell(total.received ? '100%' : '–', 'num'));
  $('verdict-rows').replaceChildren(...rows, sum);
  const segments = parts.filter(p => !p[4] && p[2] > 0).map(([verdict, label, value, swatch]) => {
    const span = document.createElement('span');
    span.className = swatch;
    span.style.width = `${(100 * value) / total.received}%`;
    span.title = `${label}: ${count(value)}`;
    return span;
  });
  $('verdict-bar').replaceChildren(...segments);
}

/** The ads with most valid clicks over the same 60 minutes as the chart (the open minute included). */
export async function refreshTopAds(state, onPick) {
  const to = Math.floor(Date.now() / minuteMs) * minuteMs + minuteMs;
  const params = { count: 10, window: 60, to: iso(to) };
  const answer = await state.api.get('/v1/ads/popular_ads', params);
  remember('top-ads', state.api, '/v1/ads/popular_ads', params);
  $('top-ads-scope').textContent = state.me.role === 'admin' ? 'last 60 minutes · all advertisers' : 'last 60 minutes';
  const currency = state.me.role === 'admin' ? null : state.currency;
  const rows = answer.ads.map((ad, index) => {
    const tr = document.createElement('tr');
    tr.dataset.ad = ad.ad_id;
    const name = cell('');
    const link = document.createElement('button');
    link.type = 'button';
    link.className = 'ad-link';
    link.textContent = ad.ad_id;
    link.title = `Show ${ad.ad_id} below`;
    link.addEventListener('click', () => onPick(ad.ad_id));
    name.append(link);
    const spend = cell(money(ad.spend_micros, currency), 'num spend');
    spend.dataset.spendMicros = ad.spend_micros;
    tr.append(cell(String(index + 1)), name, cell(count(ad.count), 'num clicks'), spend);
    return tr;
  });
  $('top-ads-rows').replaceChildren(...rows);
  $('top-ads-empty').hidden = rows.length > 0;
  $('known-ads').replaceChildren(...answer.ads.map(ad => Object.assign(document.createElement('option'), { value: ad.ad_id })));
}

/** One ad's or campaign's windows at the chosen granularity, range and time zone, with its realtime clicks. */
export async function refreshDetail(state) {
  const detail = state.detail;
  if (!detail) return;
  const params = { [detail.kind]: detail.id, granularity: detail.granularity, start: detail.from, end: detail.to, tz: state.timeZone };
  let answer;
  let realtime;
  try {
    [answer, realtime] = await Promise.all([
      state.api.get('/v1/aggregates', params),
      state.api.get('/v1/aggregates/realtime', { [detail.kind]: detail.id, window: '5m' }),
    ]);
  } catch (error) {
    if (error.status === 400 || error.status === 404) {
      showDetailError(error.message);
      return;
    }
    throw error;
  }
  remember('detail', state.api, '/v1/aggregates', params);
  $('detail-error').hidden = true;
  $('detail-result').hidden = false;
  const what = detail.kind === 'ad_id' ? 'ad' : 'campaign';
  $('detail-scope').textContent = `${what} ${detail.id} · by ${detail.granularity} · ${answer.tz}`;
  $('detail-realtime').textContent = `Last 5 minutes of processing: ${count(realtime.clicks)} clicks, ${money(realtime.spend_micros, answer.currency)} spend.`;
  const style = { minute: 'time', hour: 'hour', day: 'day' }[detail.granularity];
  const points = answer.windows.map(w => {
    const label = time(w.start, state.timeZone, style);
    return { start: w.start, value: w.clicks, label, tip: `${label} · ${count(w.clicks)} clicks` };
  });
  drawBars($('detail-chart'), points, { labelEvery: Math.max(1, Math.ceil(points.length / 10)), description: `Valid clicks of ${what} ${detail.id} by ${detail.granularity}` });
  const rows = answer.windows.map(w => {
    const tr = document.createElement('tr');
    tr.dataset.start = w.start;
    const status = document.createElement('span');
    status.className = `status status-${w.status}`;
    status.textContent = w.status;
    const statusCell = cell('');
    statusCell.append(status);
    tr.append(
      cell(time(w.start, state.timeZone, style === 'time' ? 'hour' : style), 'start'),
      cell(count(w.clicks), 'num clicks'),
      cell(money(w.spend_micros, answer.currency), 'num'),
      cell(count(w.invalid_clicks), 'num'),
      cell(count(w.duplicate_clicks), 'num'),
      cell(count(w.unique_users), 'num'),
      statusCell);
    return tr;
  });
  $('detail-rows').replaceChildren(...rows.reverse());
  $('detail-empty').hidden = rows.length > 0;
}

function showDetailError(message) {
  $('detail-error').textContent = message;
  $('detail-error').hidden = false;
  $('detail-result').hidden = true;
  $('detail-rows').replaceChildren();
  $('detail-chart').replaceChildren();
  $('detail-realtime').textContent = '';
  $('detail-scope').textContent = '';
}

/** Admin only: the pipeline from /v1/status; the ingest rate is the change in ingested between two refreshes. */
export async function refreshPipeline(state) {
  const status = await state.api.get('/v1/status');
  const now = Date.now();
  const previous = state.lastStatus;
  state.lastStatus = { ingested: status.ingested, at: now };
  if (previous && now > previous.at) {
    const rate = Math.max(0, (status.ingested - previous.ingested) / ((now - previous.at) / 1000));
    $('ops-rate').textContent = `${count(Math.round(rate))} /s`;
  } else {
    $('ops-rate').textContent = 'measuring…';
  }
  $('ops-lag').textContent = `${count(status.lag)} clicks`;
  $('ops-ingested').textContent = count(status.ingested);
  $('ops-watermark').textContent = status.watermark ? time(status.watermark, state.timeZone, 'seconds') : 'none yet';
  const rows = status.partitions.map(p => {
    const tr = document.createElement('tr');
    tr.dataset.partition = p.id;
    tr.append(
      cell(String(p.id)),
      cell(count(p.ingested), 'num'),
      cell(count(p.processed), 'num'),
      cell(count(p.lag ?? p.ingested - p.processed), 'num lag'),
      cell(p.watermark ? time(p.watermark, state.timeZone, 'full') : 'none yet'),
      cell(p.watermark ? duration((now - Date.parse(p.watermark)) / 1000) : '–', 'num'));
    return tr;
  });
  $('partition-rows').replaceChildren(...rows);
}
