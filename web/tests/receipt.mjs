// Browser check of the demo printer: Debian's Chromium, headless, opens the viewer page of a hub in demo
// mode, sends a print job through the HTTP API, and waits until the page shows the printed receipt as a
// picture that loaded.
//
// With TIPS_SECRET (the hub's -tips-secret) it also posts a signed generic tip and waits for the page's
// tip banner.
//
//   HUB_URL=http://127.0.0.1:8080 API_TOKEN=… [TIPS_SECRET=…] [TEXT=hello] [SCREENSHOT=out.png] \
//   [TIMEOUT_MS=20000] [CHROMIUM=/usr/bin/chromium] node tests/receipt.mjs
//
// Prints one JSON line to stdout ({ok, id, seq, width, height, ms}) and exits 0 on success; prints
// "receipt.mjs: <why>" to stderr (and a JSON line with ok:false to stdout) and exits 1 otherwise.
import { createHmac } from 'node:crypto';
import { launch, fail as failWith } from './chromium.mjs';

const env = process.env;
const timeoutMs = Number(env.TIMEOUT_MS) || 20000;
const fail = (msg, extra = {}) => failWith('receipt.mjs', msg, extra);
if (!env.HUB_URL) fail('HUB_URL is not set (e.g. HUB_URL=http://127.0.0.1:8080)');
if (!env.API_TOKEN) fail('API_TOKEN is not set: the hub prints its demo API token on stdout');

let browser;
let step = 'launching chromium';
const pageErrors = [];
const guard = setTimeout(() => done(`timed out after ${timeoutMs} ms`), timeoutMs);

async function done(err, out) {
  clearTimeout(guard);
  if (browser) await browser.close().catch(() => {});
  if (err) fail(`${err} (while ${step})`, { pageErrors });
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

try {
  browser = await launch(env);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(timeoutMs);
  page.on('pageerror', (e) => pageErrors.push(String(e && e.message ? e.message : e)));

  step = `opening ${env.HUB_URL}`;
  await page.goto(env.HUB_URL, { waitUntil: 'load' });
  step = 'waiting for the printer panel';
  await page.locator('[data-testid="paper"]:not([hidden])').waitFor();
  const before = await page.locator('[data-testid="receipt"]').count();

  step = 'sending a print job through the API';
  const t0 = Date.now();
  const resp = await fetch(new URL('/api/v1/print', env.HUB_URL), {
    method: 'POST',
    headers: { Authorization: `Bearer ${env.API_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ author: 'browser check', text: env.TEXT || 'Zażółć gęślą jaźń' }),
  });
  const job = await resp.json();
  if (resp.status !== 202 || !job.ok) throw new Error(`POST /api/v1/print: HTTP ${resp.status} ${JSON.stringify(job)}`);

  step = `waiting for receipt ${before + 1} to appear and load`;
  const img = page.locator(`[data-testid="receipt"]:nth-child(1) img`);
  await page.waitForFunction((n) => {
    const figs = document.querySelectorAll('[data-testid="receipt"]');
    const img = figs.length > n && figs[0].querySelector('img');
    return img && img.complete && img.naturalWidth > 0;
  }, before);
  const size = await img.evaluate((i) => ({ width: i.naturalWidth, height: i.naturalHeight }));
  const seq = Number(await page.locator('[data-testid="receipt"]').first().getAttribute('data-seq'));
  const ms = Date.now() - t0;

  let tip = null;
  if (env.TIPS_SECRET) {
    step = 'sending a signed generic tip';
    const body = JSON.stringify({ id: `browser-${Date.now()}`, name: 'Tipper', message: 'Dzięki za stream!', amount: 1250, currency: 'PLN' });
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = createHmac('sha256', env.TIPS_SECRET).update(`${ts}.${body}`).digest('hex');
    const tr = await fetch(new URL('/webhooks/tips/generic', env.HUB_URL), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Stagelink-Timestamp': ts, 'X-Stagelink-Signature': `sha256=${sig}` },
      body,
    });
    if (tr.status !== 200) throw new Error(`POST /webhooks/tips/generic: HTTP ${tr.status} ${await tr.text()}`);
    step = 'waiting for the tip banner';
    const banner = page.locator('[data-testid="tip"]').first();
    await banner.waitFor();
    tip = (await banner.textContent()).replace(/\s+/g, ' ').trim();
    if (!tip.includes('12,50 zł') || !tip.includes('Dzięki za stream!')) throw new Error(`tip banner says "${tip}"`);
  }

  if (env.SCREENSHOT) {
    step = `writing the screenshot ${env.SCREENSHOT}`;
    await page.waitForTimeout(700); // let the receipt's print-in animation end
    await page.locator('[data-testid="paper"]').screenshot({ path: env.SCREENSHOT });
  }
  if (pageErrors.length) throw new Error(`the page threw: ${pageErrors.join(' | ')}`);
  await done(null, { ok: true, id: job.id, seq, ...size, ms, tip });
} catch (e) {
  await done(e && e.message ? e.message.split('\n')[0] : String(e));
}
