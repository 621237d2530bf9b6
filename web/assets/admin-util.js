// Small helpers the dashboard's modules share: building elements, reading untrusted values and
// formatting times, durations and rates. Nothing here touches innerHTML: text goes in as text nodes.

/** $ returns the first element matching sel under root. */
export const $ = (sel, root = document) => root.querySelector(sel);

/** $$ returns every element matching sel under root, as an array. */
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** str returns s when it is a string, else ''. */
export const str = (s) => (typeof s === 'string' ? s : '');

/** num returns n as a finite number, or fallback. */
export const num = (n, fallback = null) => (typeof n === 'number' && Number.isFinite(n) ? n : fallback);

/** arr returns a when it is an array, else []. */
export const arr = (a) => (Array.isArray(a) ? a : []);

/**
 * el creates an element. opts: class, text, testid, dataset, on (event → handler), and any other key as a
 * property (booleans, numbers, functions) or an attribute (strings). children are nodes or strings;
 * strings become text nodes, never markup.
 */
export function el(tag, opts = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(opts)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = String(v);
    else if (k === 'testid') e.dataset.testid = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else if (typeof v === 'string') e.setAttribute(k, v);
    else if (v === true) e.setAttribute(k, '');
    else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

/** button creates a <button type="button">. */
export function button(text, opts = {}) {
  return el('button', { type: 'button', class: 'btn btn-small', text, ...opts });
}

/** toMs reads a time the hub sent: RFC 3339 text or Unix milliseconds. 0 means none. */
export function toMs(v) {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
  if (typeof v === 'string' && v) {
    const t = Date.parse(v);
    if (Number.isFinite(t) && t > 0) return t;
  }
  return 0;
}

/** ago says how long ago ms was: "just now", "12 s ago", "3 min ago". */
export function ago(ms, now = Date.now()) {
  if (!ms) return 'never';
  const s = Math.floor(Math.max(0, now - ms) / 1000);
  if (s < 3) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

const pad2 = (n) => String(n).padStart(2, '0');

/** clock formats ms as local HH:MM:SS (or HH:MM with seconds false). */
export function clock(ms, seconds = true) {
  if (!ms) return '';
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}${seconds ? `:${pad2(d.getSeconds())}` : ''}`;
}

/** when formats ms as a local date and time, today's as a clock only. */
export function when(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return clock(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${clock(ms, false)}`;
}

/** duration says how long s seconds is, in its two largest units: "3 d 4 h", "5 min 10 s". */
export function duration(s) {
  if (!Number.isFinite(s) || s < 0) return '';
  s = Math.floor(s);
  const units = [['d', 86400], ['h', 3600], ['min', 60], ['s', 1]];
  const parts = [];
  for (const [name, size] of units) {
    if (s >= size || (name === 's' && parts.length === 0)) {
      parts.push(`${Math.floor(s / size)} ${name}`);
      s %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/** seconds reads an uptime: a number of seconds, or a Go duration text such as "72h3m1.5s". */
export function seconds(v) {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v !== 'string' || !v) return NaN;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const size = { h: 3600, m: 60, s: 1, ms: 0.001 };
  let total = 0;
  let rest = v;
  while (rest) {
    const m = rest.match(/^(\d+(?:\.\d+)?)(ms|h|m|s)/);
    if (!m) return NaN;
    total += Number(m[1]) * size[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** bitrate formats bits per second: "2.1 Mb/s". */
export function bitrate(bps) {
  if (!Number.isFinite(bps) || bps < 0) return '–';
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(1)} Mb/s`;
  if (bps >= 1e3) return `${Math.round(bps / 1e3)} kb/s`;
  return `${Math.round(bps)} b/s`;
}

/** money formats an amount in minor units (cents, grosze) of an ISO 4217 currency: "12,50 zł". */
export function money(minor, currency) {
  if (!Number.isFinite(minor)) return '';
  try {
    const f = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    const digits = f.resolvedOptions().maximumFractionDigits;
    return f.format(minor / 10 ** digits);
  } catch {
    return `${(minor / 100).toFixed(2)}${currency ? ` ${currency}` : ''}`;
  }
}

/** httpURL returns u as an absolute http(s) URL, or '' when it is anything else (javascript:, data:…). */
export function httpURL(u) {
  if (typeof u !== 'string' || !u) return '';
  try {
    const url = new URL(u);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : '';
  } catch {
    return '';
  }
}

/** HEX matches a #rrggbb colour. */
export const HEX = /^#[0-9a-f]{6}$/i;

/** safeColor returns c when it is #rrggbb, else fallback. */
export const safeColor = (c, fallback = '#000000') => (typeof c === 'string' && HEX.test(c) ? c.toLowerCase() : fallback);

/** setText sets an element's text only when it changed, so screen readers and selections stay calm. */
export function setText(node, text) {
  text = String(text);
  if (node.textContent !== text) node.textContent = text;
}

/** showIf sets hidden on every element in nodes to !cond. */
export function showIf(cond, ...nodes) {
  for (const n of nodes) if (n) n.hidden = !cond;
}
