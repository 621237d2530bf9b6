// Unit tests of the dashboard's pure helpers (no browser needed): formatting, reading the hub's values,
// the page editor's checks and the charts' axis. Run: node --test tests/admin-util.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ago, bitrate, duration, httpURL, money, seconds, toMs } from '../assets/admin-util.js';
import { LIMITS, validatePage } from '../assets/admin-page.js';
import { niceMax } from '../assets/admin-charts.js';
import { retryText } from '../assets/admin-api.js';

const cases = (name, fn, table) => {
  for (const [input, want] of table) {
    test(`${name}(${JSON.stringify(input)})`, () => assert.deepEqual(fn(...(Array.isArray(input) ? input : [input])), want));
  }
};

cases('httpURL', httpURL, [
  ['https://example.com/a?b=1', 'https://example.com/a?b=1'],
  ['http://example.com', 'http://example.com/'],
  ['javascript:alert(1)', ''],
  ['JAVASCRIPT:alert(1)', ''],
  [' javascript:alert(1)', ''],
  ['data:text/html,<script>alert(1)</script>', ''],
  ['//example.com', ''],
  ['/relative', ''],
  ['ftp://example.com', ''],
  ['', ''],
  [42, ''],
]);

cases('duration', duration, [
  [0, '0 s'],
  [59.9, '59 s'],
  [61, '1 min 1 s'],
  [3600, '1 h'],
  [3 * 86400 + 4 * 3600 + 5 * 60, '3 d 4 h'],
  [-1, ''],
  [NaN, ''],
]);

cases('seconds', seconds, [
  [90, 90],
  ['90', 90],
  ['72h3m1.5s', 72 * 3600 + 3 * 60 + 1.5],
  ['250ms', 0.25],
  ['5 days', NaN],
  ['', NaN],
  [null, NaN],
]);

cases('toMs', toMs, [
  ['2026-01-02T03:04:05Z', Date.UTC(2026, 0, 2, 3, 4, 5)],
  [1700000000000, 1700000000000],
  ['not a time', 0],
  ['', 0],
  [null, 0],
  [-5, 0],
]);

cases('ago', ago, [
  [[0, 10000], 'never'],
  [[9000, 10000], 'just now'],
  [[10000 - 12000, 10000], '12 s ago'],
  [[10000 - 125000, 10000], '2 min ago'],
  [[10000 - 7300000, 10000], '2 h ago'],
]);

cases('bitrate', bitrate, [
  [2100000, '2.1 Mb/s'],
  [640000, '640 kb/s'],
  [500, '500 b/s'],
  [NaN, '–'],
]);

cases('niceMax', niceMax, [
  [0, 1],
  [-3, 1],
  [1, 1],
  [1.2, 2],
  [12, 20],
  [21, 25],
  [240, 250],
  [251, 500],
  [999, 1000],
]);

cases('retryText', retryText, [
  [4200, 'in 5 s'],
  [0, 'in 1 s'],
  [125000, 'in 3 min'],
]);

const page = (over = {}) => ({ title: 'Show', description: '', announcement: '', links: [], sections: [], ...over });
const fields = (p) => validatePage(p).map((e) => e.field);

test('validatePage accepts a good page', () => {
  assert.deepEqual(fields(page({
    links: [{ label: 'Discord', url: 'https://discord.gg/x' }],
    sections: [{ heading: 'Rules', body: 'Be kind.\nNo spam.' }],
  })), []);
});

test('validatePage names each wrong field', () => {
  const tooMany = (n, make) => Array.from({ length: n }, make);
  const table = [
    [page({ title: '  ' }), ['title']],
    [page({ title: 'x'.repeat(LIMITS.title + 1) }), ['title']],
    [page({ title: '💡'.repeat(LIMITS.title) }), []], // characters, not UTF-16 units
    [page({ description: 'x'.repeat(LIMITS.description + 1) }), ['description']],
    [page({ announcement: 'x'.repeat(LIMITS.announcement + 1) }), ['announcement']],
    [page({ links: [{ label: 'x', url: 'javascript:alert(1)' }] }), ['links.0.url']],
    [page({ links: [{ label: '', url: 'https://a.example' }] }), ['links.0.label']],
    [page({ links: tooMany(LIMITS.links + 1, () => ({ label: 'a', url: 'https://a.example' })) }), ['links']],
    [page({ sections: [{ heading: '', body: 'x' }] }), ['sections.0.heading']],
    [page({ sections: [{ heading: 'h', body: 'x'.repeat(LIMITS.body + 1) }] }), ['sections.0.body']],
    [page({ sections: tooMany(LIMITS.sections + 1, () => ({ heading: 'h', body: '' })) }), ['sections']],
  ];
  for (const [p, want] of table) assert.deepEqual(fields(p), want, JSON.stringify(p).slice(0, 80));
});

test('money formats minor units', () => {
  const got = money(1250, 'PLN');
  assert.match(got, /12[.,]50/);
  assert.equal(money(1250, 'not a currency'), '12.50 not a currency');
  assert.equal(money(NaN, 'PLN'), '');
});
