// Browser check of the viewer page's HLS fallback, in Debian's Chromium (headless, playwright-core). The
// hub plays its test pattern (H.264). Every WHEP POST of the page is answered 503 too_many_viewers, as a
// full video server does; the page must switch to HLS by itself and keep decoding frames. Then WHEP is let
// through again, and the page must go back to WebRTC by itself (it retries every 30 s).
//
// HLS in Chromium goes through hls.js and Media Source Extensions: the check first asks whether this
// Chromium plays H.264 through MSE. If it can't, it checks only the switch to HLS and the playlist, and
// says so in its JSON line ("limitation").
//
// It also reads the LL-HLS playlist in node: #EXTM3U, the media playlist with #EXT-X-PART-INF and
// #EXT-X-PART, its init segment (ftyp) and a part (moof).
//
//   HUB_URL=http://127.0.0.1:8080 [STREAM=live] [SCREENSHOT=out.png] [SWITCH_BACK=0] [TIMEOUT_MS=80000] \
//   [CHROMIUM=/usr/bin/chromium] node tests/hls.mjs
//
// Prints one JSON line to stdout and exits 0 on success; prints "hls.mjs: <why>" to stderr (and a JSON
// line with ok:false) otherwise.
import { launch, mediaArgs, watch, fail as failWith } from './chromium.mjs';

const env = process.env;
const timeoutMs = Number(env.TIMEOUT_MS) || 80000;
const stream = env.STREAM || 'live';
const fail = (msg, extra = {}) => failWith('hls.mjs', msg, extra);
if (!env.HUB_URL) fail('HUB_URL is not set (e.g. HUB_URL=http://127.0.0.1:8080)');
const origin = new URL(env.HUB_URL).origin;

// The 503s are ours; a 404 on a WHEP DELETE is a session the hub ended first.
const benign = (path, status) => path.startsWith('/whep/') && (status === 503 || status === 404);

let browser;
let step = 'launching chromium';
const problems = [];
const out = { ok: true };
const guard = setTimeout(() => done(`timed out after ${timeoutMs} ms`), timeoutMs);

async function done(err) {
  clearTimeout(guard);
  if (browser) await browser.close().catch(() => {});
  if (err) fail(`${err} (while ${step})`, { problems, ...out, ok: false });
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

async function get(path) {
  const res = await fetch(new URL(path, origin));
  if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return res;
}

// checkPlaylist reads the multivariant playlist, its first media playlist, the init segment and a part.
async function checkPlaylist() {
  const base = `/hls/${stream}/`;
  let text = await (await get(`${base}index.m3u8`)).text();
  if (!text.startsWith('#EXTM3U')) throw new Error(`index.m3u8 does not start with #EXTM3U: ${text.slice(0, 40)}`);
  const lines = text.split('\n').map((l) => l.trim());
  const variant = lines.find((l, i) => i > 0 && lines[i - 1].startsWith('#EXT-X-STREAM-INF') && l && !l.startsWith('#'));
  let media = `${base}index.m3u8`;
  if (variant) {
    media = new URL(variant, new URL(`${base}index.m3u8`, origin)).pathname;
    text = await (await get(media)).text();
  }
  for (const tag of ['#EXTM3U', '#EXT-X-PART-INF', '#EXT-X-PART:', '#EXT-X-MAP']) {
    if (!text.includes(tag)) throw new Error(`the media playlist ${media} has no ${tag}`);
  }
  const uri = (re) => {
    const m = text.match(re);
    return m && new URL(m[1], new URL(media, origin)).pathname;
  };
  const box = async (path) => Buffer.from(await (await get(path)).arrayBuffer());
  const init = await box(uri(/#EXT-X-MAP:URI="([^"]+)"/));
  if (init.subarray(4, 8).toString('latin1') !== 'ftyp') throw new Error('the init segment does not start with an ftyp box');
  const part = await box(uri(/#EXT-X-PART:[^\n]*URI="([^"]+)"/));
  if (!part.includes('moof')) throw new Error('the part has no moof box');
  return { parts: (text.match(/#EXT-X-PART:/g) || []).length, partTarget: Number((text.match(/PART-TARGET=([\d.]+)/) || [])[1]) };
}

try {
  step = 'reading the LL-HLS playlist in node';
  out.playlist = await checkPlaylist();

  browser = await launch(env, mediaArgs);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(20000);
  const page = await context.newPage();
  watch(page, 'viewer', problems, benign);
  let refused = 0;
  const refuse = (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    refused++;
    return route.fulfill({
      status: 503,
      headers: { 'Retry-After': '10' },
      contentType: 'application/json',
      body: JSON.stringify({ ok: false, error: { code: 'too_many_viewers', message: 'the video server is full' } }),
    });
  };
  await page.route('**/whep/**', refuse);

  step = 'opening the viewer page with WHEP refused';
  await page.goto(origin + '/', { waitUntil: 'load' });
  out.mseH264 = await page.evaluate(() => MediaSource.isTypeSupported('video/mp4; codecs="avc1.42e01e"'));
  out.nativeHLS = await page.evaluate(() => document.createElement('video').canPlayType('application/vnd.apple.mpegurl'));

  step = 'waiting for the player to switch to HLS';
  const t0 = Date.now();
  await page.waitForFunction(() => window.stagelinkPlayer && window.stagelinkPlayer.mode === 'hls', null, { timeout: 25000 });
  out.switchToHlsMs = Date.now() - t0;
  if (refused === 0) throw new Error('the page played HLS without trying WHEP first');
  out.hlsJs = await page.evaluate(() => typeof window.Hls === 'function');

  if (out.mseH264) {
    step = 'checking that frames keep coming over HLS';
    const a = await page.evaluate(() => window.stagelinkPlayer.framesDecoded());
    await page.waitForTimeout(2000);
    const b = await page.evaluate(() => window.stagelinkPlayer.framesDecoded());
    if (!(b > a)) throw new Error(`frames decoded went from ${a} to ${b} in 2 s over HLS, want growth`);
    out.frames = [a, b];
    out.hlsLatencyMs = Math.round(await page.evaluate(() => window.stagelinkPlayer.delayMs()));
  } else {
    out.limitation = 'this Chromium cannot play H.264 through MSE: checked the switch to HLS and the playlist, not frames';
  }

  if (env.SCREENSHOT) {
    step = `writing the screenshot ${env.SCREENSHOT}`;
    await page.screenshot({ path: env.SCREENSHOT });
    out.screenshot = env.SCREENSHOT;
  }

  if (env.SWITCH_BACK !== '0') {
    step = 'letting WHEP through and waiting for the player to go back to WebRTC';
    await page.unroute('**/whep/**', refuse);
    const t1 = Date.now();
    await page.waitForFunction(() => window.stagelinkPlayer.mode === 'webrtc', null, { timeout: 40000 });
    out.switchBackMs = Date.now() - t1;
    const a = await page.evaluate(() => window.stagelinkPlayer.framesDecoded());
    await page.waitForTimeout(2000);
    const b = await page.evaluate(() => window.stagelinkPlayer.framesDecoded());
    if (!(b > a)) throw new Error(`frames decoded went from ${a} to ${b} in 2 s after going back to WebRTC`);
    out.framesBack = [a, b];
  }
  out.refused = refused;

  if (problems.length) throw new Error(problems.join(' | '));
  await done();
} catch (e) {
  await done(e && e.message ? e.message.split('\n')[0] : String(e));
}
