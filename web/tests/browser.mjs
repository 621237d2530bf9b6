// Browser end-to-end check of the viewer page: Debian's Chromium, headless, driven by
// playwright-core. It opens the page, picks a colour on one zone through the page's own
// colour input and waits until the card says the light applied it.
//
//   HUB_URL=http://127.0.0.1:8080 [ZONE=desk] [COLOR=#ff3366] [SCREENSHOT=out.png] \
//   [VIEWPORT=390x844] [TIMEOUT_MS=20000] [NAME=tester] [CHROMIUM=/usr/bin/chromium] node tests/browser.mjs
//
// Prints one JSON line to stdout and exits 0 on success; prints "browser.mjs: <why>" to
// stderr (and a JSON line with ok:false to stdout) and exits 1 otherwise.
import { launch, fail as failWith } from './chromium.mjs';

const env = process.env;
const hubURL = env.HUB_URL;
const timeoutMs = Number(env.TIMEOUT_MS) || 20000;
const color = (env.COLOR || randomColor()).toLowerCase();
const [vw, vh] = (env.VIEWPORT || '1280x800').split('x').map(Number);
const started = Date.now();

function randomColor() {
  return '#' + Array.from({ length: 3 }, () => Math.floor(40 + Math.random() * 215).toString(16).padStart(2, '0')).join('');
}

const fail = (msg, extra = {}) => failWith('browser.mjs', msg, extra);

if (!hubURL) fail('HUB_URL is not set (e.g. HUB_URL=http://127.0.0.1:8080)');
if (!/^#[0-9a-f]{6}$/.test(color)) fail(`COLOR ${JSON.stringify(color)} is not #rrggbb`);
if (!(vw > 0 && vh > 0)) fail(`VIEWPORT ${JSON.stringify(env.VIEWPORT)} is not WIDTHxHEIGHT`);

const origin = new URL(hubURL).origin;
const pageErrors = [];
const consoleErrors = [];
const foreignRequests = [];
let browser;

const guard = setTimeout(() => {
  finish(`timed out after ${timeoutMs} ms`).catch(() => process.exit(1));
}, timeoutMs);

let step = 'launching chromium';
let lastResult = '';

async function finish(err, out) {
  clearTimeout(guard);
  if (err) {
    const extra = { step, lastResult, pageErrors, consoleErrors, foreignRequests };
    if (browser) await browser.close().catch(() => {});
    fail(`${err} (while ${step}${lastResult ? `; card result: ${lastResult}` : ''})`, extra);
  }
  await browser.close().catch(() => {});
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

try {
  browser = await launch(env);
  const context = await browser.newContext({
    viewport: { width: vw, height: vh },
    deviceScaleFactor: vw < 600 ? 2 : 1,
    isMobile: vw < 600,
    hasTouch: vw < 600,
  });
  if (env.NAME) {
    await context.addInitScript((name) => localStorage.setItem('stagelink.name', name), env.NAME);
  }
  const page = await context.newPage();
  page.setDefaultTimeout(timeoutMs);
  page.on('pageerror', (e) => pageErrors.push(String(e && e.message ? e.message : e)));
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('request', (r) => {
    const u = r.url();
    if (/^(data|blob):/.test(u)) return;
    if (new URL(u).origin !== origin) foreignRequests.push(u);
  });

  step = `opening ${hubURL}`;
  await page.goto(hubURL, { waitUntil: 'load' });

  step = 'waiting for the connection indicator to say connected';
  await page.locator('[data-testid="connection"][data-state="connected"]').waitFor();

  step = 'waiting for zone cards';
  await page.locator('[data-testid="zone-card"]').first().waitFor();
  let zone = env.ZONE;
  if (!zone) {
    zone = await page.locator('[data-testid="zone-card"][data-online="true"]').first().getAttribute('data-zone');
  }
  step = `waiting for the card of zone ${zone}`;
  const card = page.locator(`[data-testid="zone-card"][data-zone="${zone}"]`);
  await card.waitFor();
  const kind = await card.getAttribute('data-kind');

  step = `changing zone ${zone} (${kind})`;
  const t0 = Date.now();
  let want;
  if (kind === 'relay') {
    const on = (await card.getAttribute('data-on')) === 'true';
    want = { on: String(!on) };
    await card.locator('[data-testid="zone-power"]').click();
  } else {
    want = { color };
    await card.locator('[data-testid="zone-color"]').evaluate((input, c) => {
      input.value = c;
      input.dispatchEvent(new Event('input', { bubbles: true }));
      input.dispatchEvent(new Event('change', { bubbles: true }));
    }, color);
  }

  step = `waiting for zone ${zone} to show the result "applied"`;
  const result = card.locator('[data-testid="zone-result"]');
  const terminal = ['applied', 'rate_limited', 'zone_offline', 'paused', 'bad_request', 'unknown_zone', 'internal', 'timeout', 'disconnected'];
  const sel = terminal.map((r) => `[data-testid="zone-result"][data-result="${r}"]`).join(', ');
  await card.locator(sel).waitFor();
  const got = await result.getAttribute('data-result');
  lastResult = `${got}: ${(await result.textContent()).trim()}`;
  if (got !== 'applied') throw new Error(`zone ${zone} shows "${lastResult}", want "applied"`);
  const applyMs = Date.now() - t0;

  step = `checking that the card of zone ${zone} shows the new state`;
  const [attr, value] = want.color ? ['data-color', want.color] : ['data-on', want.on];
  await page.locator(`[data-testid="zone-card"][data-zone="${zone}"][${attr}="${value}"]`).waitFor();
  const version = Number(await card.getAttribute('data-version'));
  const confirmed = (await card.getAttribute('data-confirmed')) === 'true';

  if (env.SCREENSHOT) {
    step = `writing the screenshot ${env.SCREENSHOT}`;
    await page.waitForTimeout(300); // let the venue panel catch up
    await page.screenshot({ path: env.SCREENSHOT, fullPage: true });
  }
  if (pageErrors.length) throw new Error(`the page threw: ${pageErrors.join(' | ')}`);
  if (foreignRequests.length) throw new Error(`the page loaded from other origins: ${foreignRequests.join(' ')}`);

  await finish(null, {
    ok: true, zone, kind, ...want, result: got, version, confirmed, applyMs,
    totalMs: Date.now() - started, viewport: `${vw}x${vh}`, screenshot: env.SCREENSHOT || null, consoleErrors,
  });
} catch (e) {
  await finish(e && e.message ? e.message.split('\n')[0] : String(e));
}
