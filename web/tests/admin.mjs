// Browser end-to-end check of the dashboard (/admin) against a hub in demo mode: Debian's Chromium,
// headless, driven by playwright-core, with a second browser context as a viewer.
//   1. a wrong password shows an error; the right one opens the dashboard and its live feed;
//   2. the streamer pauses the lights; the viewer's click is refused with "paused", and the dashboard's
//      activity feed lists that refusal; the streamer resumes and the viewer's next click goes through;
//   3. a title with markup in it is published from the editor: the open viewer page shows it as text,
//      live (document.title too), runs none of it, and a fresh viewer gets it in hello;
//   4. the streamer prints a message and its receipt picture loads in the preview;
//   5. the four charts are SVGs; a full-page screenshot of the dashboard is written;
//   6. the admin adds a moderator, who sees no admin-only controls and gets 403 for PUT /admin/api/page.
//
//   HUB_URL=http://127.0.0.1:8080 ADMIN_NAME=streamer ADMIN_PASSWORD=… [SCREENSHOT=dashboard.png] \
//   [TIMEOUT_MS=150000] [STEP_TIMEOUT_MS=30000] [CHROMIUM=/usr/bin/chromium] node tests/admin.mjs
//
// Prints one JSON line to stdout and exits 0 on success; prints "admin.mjs: <why>" to stderr (and a
// JSON line with ok:false to stdout) and exits 1 otherwise.
import { launch, watch, fail as failWith } from './chromium.mjs';

const env = process.env;
const timeoutMs = Number(env.TIMEOUT_MS) || 150000;
const stepMs = Number(env.STEP_TIMEOUT_MS) || 30000;
const fail = (msg, extra = {}) => failWith('admin.mjs', msg, extra);
if (!env.HUB_URL) fail('HUB_URL is not set (e.g. HUB_URL=http://127.0.0.1:8080)');
if (!env.ADMIN_NAME || !env.ADMIN_PASSWORD) fail('ADMIN_NAME and ADMIN_PASSWORD are not set: create the admin with `hub admin create` first');

const origin = new URL(env.HUB_URL).origin;
const started = Date.now();
const problems = [];
const foreign = [];
const timings = {};
let browser;
let step = 'launching chromium';
let stepAt = Date.now();

const guard = setTimeout(() => done(`timed out after ${timeoutMs} ms`), timeoutMs);

async function done(err, out) {
  clearTimeout(guard);
  if (browser) await browser.close().catch(() => {});
  if (err) fail(`${err} (while ${step})`, { problems, foreign, timings });
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

function begin(name) {
  timings[step] = Date.now() - stepAt;
  step = name;
  stepAt = Date.now();
}

// HTTP errors the pages are expected to get, and handle: the login check while logged out, the wrong
// password, and the moderator's forbidden PUT.
const benign = (path, status) =>
  (status === 401 && (path === '/admin/api/me' || path === '/admin/api/login')) || (status === 403 && path === '/admin/api/page');

async function newPage(name, { viewport = { width: 1400, height: 1000 }, viewerName } = {}) {
  const context = await browser.newContext({ viewport });
  if (viewerName) await context.addInitScript((n) => localStorage.setItem('stagelink.name', n), viewerName);
  const page = await context.newPage();
  page.setDefaultTimeout(stepMs);
  watch(page, name, problems, benign);
  page.on('request', (r) => {
    const u = r.url();
    if (!/^(data|blob):/.test(u) && new URL(u).origin !== origin) foreign.push(`${name}: ${u}`);
  });
  return page;
}

const tid = (id) => `[data-testid="${id}"]`;

async function logIn(page, name, password) {
  await page.goto(new URL('/admin', env.HUB_URL).href, { waitUntil: 'load' });
  await page.locator(`${tid('login-form')}:not([hidden])`).waitFor();
  await page.fill(tid('login-name'), name);
  await page.fill(tid('login-password'), password);
  await page.click(tid('login-submit'));
  await page.locator(`${tid('dashboard')}:not([hidden])`).waitFor();
  await page.locator(`${tid('connection')}[data-state="connected"]`).waitFor();
}

// viewerResult clicks a swatch on the zone's card and resolves with the card's final result.
async function viewerResult(viewer, zone, color) {
  const card = viewer.locator(`${tid('zone-card')}[data-zone="${zone}"]`);
  await card.locator(`${tid('swatch')}[data-color="${color}"]`).click();
  const terminal = ['applied', 'rate_limited', 'zone_offline', 'paused', 'bad_request', 'unknown_zone', 'internal', 'timeout', 'disconnected'];
  await card.locator(terminal.map((r) => `${tid('zone-result')}[data-result="${r}"]`).join(', ')).waitFor();
  return card.locator(tid('zone-result')).getAttribute('data-result');
}

try {
  browser = await launch(env);
  const dash = await newPage('dashboard');

  begin('opening /admin and trying a wrong password');
  await dash.goto(new URL('/admin', env.HUB_URL).href, { waitUntil: 'load' });
  await dash.locator(`${tid('login-form')}:not([hidden])`).waitFor();
  await dash.fill(tid('login-name'), env.ADMIN_NAME);
  await dash.fill(tid('login-password'), `${env.ADMIN_PASSWORD}-wrong`);
  await dash.click(tid('login-submit'));
  await dash.locator(`${tid('login-error')}:not([hidden])`).waitFor();
  const wrongLogin = (await dash.textContent(tid('login-error'))).trim();
  if (!wrongLogin) throw new Error('the login error is empty');
  if (await dash.locator(tid('dashboard')).isVisible()) throw new Error('the dashboard shows after a wrong password');

  begin('logging in with the right password');
  await dash.fill(tid('login-password'), env.ADMIN_PASSWORD);
  await dash.click(tid('login-submit'));
  await dash.locator(`${tid('dashboard')}:not([hidden])`).waitFor();
  await dash.locator(`${tid('connection')}[data-state="connected"]`).waitFor();
  const who = (await dash.textContent(tid('account-name'))).trim();
  if (who !== env.ADMIN_NAME) throw new Error(`the account menu says ${JSON.stringify(who)}, want ${env.ADMIN_NAME}`);

  begin('waiting for the demo zones in the zones table');
  await dash.locator(`${tid('zone-row')}[data-online="true"]`).first().waitFor();

  begin('opening the viewer page');
  const viewer = await newPage('viewer', { viewport: { width: 1000, height: 900 }, viewerName: 'e2e-viewer' });
  await viewer.goto(env.HUB_URL, { waitUntil: 'load' });
  await viewer.locator(`${tid('connection')}[data-state="connected"]`).waitFor();
  const card = viewer.locator(`${tid('zone-card')}[data-online="true"]:not([data-kind="relay"])`).first();
  await card.waitFor();
  const zone = await card.getAttribute('data-zone');

  begin('pausing the lights');
  await dash.click(`${tid('pause-lights')}[data-paused="false"]`);
  await dash.locator(`${tid('pause-lights')}[data-paused="true"]`).waitFor();

  begin(`clicking a colour on zone ${zone} while paused`);
  const paused = await viewerResult(viewer, zone, '#ff1a1a');
  if (paused !== 'paused') throw new Error(`the viewer's click while paused ended "${paused}", want "paused"`);

  begin('waiting for the refusal in the activity feed');
  const refusal = dash.locator(`${tid('activity-item')}[data-kind="refused"][data-code="paused"][data-who="e2e-viewer"]`).first();
  await refusal.waitFor();
  const refusalText = (await refusal.textContent()).replace(/\s+/g, ' ').trim();

  begin('resuming the lights');
  await dash.click(`${tid('pause-lights')}[data-paused="true"]`);
  await dash.locator(`${tid('pause-lights')}[data-paused="false"]`).waitFor();
  begin(`clicking a colour on zone ${zone} after resuming`);
  const resumed = await viewerResult(viewer, zone, '#1a4dff');
  if (resumed !== 'applied') throw new Error(`the viewer's click after resuming ended "${resumed}", want "applied"`);

  begin('publishing a title with markup from the page editor');
  const title = `E2E show ${Date.now()} <script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">`;
  await dash.fill(tid('page-title-input'), title);
  await dash.fill(tid('page-announcement-input'), 'Raffle at nine');
  await dash.click(tid('page-add-link'));
  await dash.fill(`${tid('page-link')}:last-child ${tid('page-link-label')}`, 'Discord');
  await dash.fill(`${tid('page-link')}:last-child ${tid('page-link-url')}`, 'https://discord.example/invite');
  await dash.click(tid('page-add-section'));
  await dash.fill(`${tid('page-section')}:last-child ${tid('page-section-heading')}`, 'Rules');
  await dash.fill(`${tid('page-section')}:last-child ${tid('page-section-body')}`, 'Be kind.\nNo spam.');
  await dash.click(tid('page-save'));
  await dash.locator(`${tid('page-form')}[data-dirty="false"]`).waitFor();
  const pageError = dash.locator(`${tid('page-error')}:not([hidden])`);
  if (await pageError.count()) throw new Error(`the editor says: ${(await pageError.textContent()).trim()}`);

  begin('waiting for the viewer page to show the new title live');
  await viewer.waitForFunction((t) => document.title === t, title, { timeout: stepMs });
  const shown = await viewer.locator(tid('page-title')).evaluate((h) => ({ text: h.textContent, children: h.childElementCount, visible: !h.hidden }));
  if (shown.text !== title || shown.children !== 0 || !shown.visible) throw new Error(`the viewer's title heading is ${JSON.stringify(shown)}, want the title as plain text`);
  if (await viewer.evaluate(() => window.__pwned !== undefined)) throw new Error('markup in the title ran on the viewer page');
  const content = await viewer.evaluate(() => {
    const a = document.querySelector('[data-testid="page-links"] a');
    const sec = document.querySelector('[data-testid="page-section"]');
    return {
      announcement: document.querySelector('[data-testid="page-announcement"]').textContent,
      link: a && { href: a.getAttribute('href'), rel: a.rel, target: a.target, text: a.textContent },
      section: sec && sec.querySelector('h2').textContent,
    };
  });
  const wantContent = {
    announcement: 'Raffle at nine',
    link: { href: 'https://discord.example/invite', rel: 'noopener noreferrer', target: '_blank', text: 'Discord' },
    section: 'Rules',
  };
  if (JSON.stringify(content) !== JSON.stringify(wantContent)) throw new Error(`the viewer page shows ${JSON.stringify(content)}, want ${JSON.stringify(wantContent)}`);

  begin('reloading the viewer page: the title comes in hello');
  await viewer.reload({ waitUntil: 'load' });
  await viewer.waitForFunction((t) => document.title === t, title, { timeout: stepMs });
  if (await viewer.evaluate(() => window.__pwned !== undefined)) throw new Error('markup in the title ran on the reloaded viewer page');

  begin('printing a message from the dashboard');
  const message = `Hello from the e2e test ${Date.now()}`;
  await dash.fill(tid('print-text'), message);
  await dash.click(tid('print-submit'));
  const row = dash.locator(tid('print-row'), { hasText: message }).first();
  await row.waitFor();

  begin('opening the receipt preview');
  await row.locator(tid('print-preview')).click();
  await dash.locator(`${tid('receipt-dialog')}[open]`).waitFor();
  await dash.waitForFunction(() => {
    const img = document.querySelector('[data-testid="receipt-img"]');
    return img && img.complete && img.naturalWidth > 0;
  }, null, { timeout: stepMs });
  const receipt = await dash.locator(tid('receipt-img')).evaluate((i) => ({ width: i.naturalWidth, height: i.naturalHeight }));
  await dash.keyboard.press('Escape');
  await dash.locator(`${tid('receipt-dialog')}[open]`).waitFor({ state: 'detached' });

  begin('checking the charts');
  const charts = [];
  for (const c of ['chart-viewers', 'chart-commands', 'chart-latency', 'chart-queue']) {
    const svg = dash.locator(`${tid(c)} svg.chart-svg`);
    await svg.waitFor();
    charts.push({ chart: c, points: Number(await svg.getAttribute('data-points')) });
  }

  begin('taking a screenshot of the dashboard');
  if (env.SCREENSHOT) {
    // The messages in the corner would float over the middle of a full-page picture.
    await dash.evaluate(() => document.querySelectorAll('[data-testid="toast"]').forEach((t) => t.remove()));
    await dash.evaluate(() => window.scrollTo(0, 0));
    await dash.screenshot({ path: env.SCREENSHOT, fullPage: true });
  }

  begin('adding a moderator');
  const modName = `e2e-mod-${Date.now() % 100000}`;
  const modPassword = `${env.ADMIN_PASSWORD}-moderator`;
  await dash.fill(tid('account-new-name'), modName);
  await dash.fill(tid('account-new-password'), modPassword);
  await dash.selectOption(tid('account-new-role'), 'moderator');
  await dash.click(`${tid('account-form')} [type="submit"]`);
  await dash.locator(`${tid('account')}[data-name="${modName}"]`).waitFor();

  begin('logging in as the moderator');
  const mod = await newPage('moderator');
  await logIn(mod, modName, modPassword);
  const role = (await mod.textContent(tid('account-role'))).trim();
  if (role !== 'moderator') throw new Error(`the moderator's account menu says role ${JSON.stringify(role)}`);
  await mod.locator(`${tid('zone-row')}`).first().waitFor();

  begin("checking the moderator sees no admin-only controls");
  const visible = {};
  for (const sel of ['#page', '#admin', tid('nav-admin'), tid('page-form'), tid('token-form'), tid('account-form'), tid('preset-form'), tid('zone-edit'), tid('zone-toggle-hidden'), tid('preset-delete')]) {
    visible[sel] = await mod.locator(sel).evaluateAll((els) => els.filter((e) => e.checkVisibility()).length);
  }
  const shownToMod = Object.entries(visible).filter(([, n]) => n > 0).map(([s]) => s);
  if (shownToMod.length) throw new Error(`the moderator sees admin-only controls: ${shownToMod.join(', ')}`);
  if (!(await mod.locator(tid('pause-lights')).isVisible())) throw new Error('the moderator does not see the pause switch');

  begin('PUT /admin/api/page as the moderator');
  const put = await mod.evaluate(async () => {
    const me = await (await fetch('/admin/api/me')).json();
    const r = await fetch('/admin/api/page', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf },
      body: JSON.stringify({ title: 'moderator was here', description: '', announcement: '', links: [], sections: [] }),
    });
    let body = null;
    try {
      body = await r.json();
    } catch {
      body = null;
    }
    return { status: r.status, code: body && body.error && body.error.code };
  });
  if (put.status !== 403) throw new Error(`the moderator's PUT /admin/api/page answered ${put.status}, want 403`);
  const stillTitle = await viewer.title();
  if (stillTitle !== title) throw new Error(`after the moderator's PUT the viewer's title is ${JSON.stringify(stillTitle)}`);

  begin('finishing');
  if (problems.length) throw new Error(`the pages reported errors: ${problems.join(' | ')}`);
  if (foreign.length) throw new Error(`the pages loaded from other origins: ${foreign.join(' ')}`);
  await done(null, {
    ok: true, zone, wrongLogin, refusal: refusalText, title, receipt, charts, moderatorPut: put,
    screenshot: env.SCREENSHOT || null, timings, totalMs: Date.now() - started,
  });
} catch (e) {
  await done(e && e.message ? e.message.split('\n')[0] : String(e));
}
