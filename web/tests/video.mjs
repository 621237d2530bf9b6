// Browser check of live video, publish to play, in Debian's Chromium (headless, playwright-core):
//
// 1. Glass to glass. Page 1 publishes over WHIP a canvas that shows the time it was drawn as a barcode
//    (32 bits of milliseconds as 8x4 black or white blocks of 40 px, a checksum row and a marker column),
//    redrawn every animation frame and captured at 30 fps. Page 2 is the real viewer page (/), which plays
//    it over WHEP. For each frame it shows (requestVideoFrameCallback), page 2 reads the barcode back and
//    takes delay = the time the frame is shown - the time it was drawn: one browser, one clock. It also
//    reads the time from the player's WHEP POST to its first frame, and checks frames keep coming.
// 2. The publisher page. Page 1 stops; publish.html goes live with Chromium's fake camera; a new viewer
//    gets its frames, and so does page 2, which stayed open across the change of publisher.
//
// Delays are measurements: the check asserts only what can't flake (frames grow, delays are positive
// and below 2 s) and prints the figures.
//
//   HUB_URL=http://127.0.0.1:8080 API_TOKEN=… [STREAM=live] [SCREENSHOT=out.png] [TIMEOUT_MS=80000] \
//   [CHROMIUM=/usr/bin/chromium] node tests/video.mjs
//
// Prints one JSON line to stdout ({ok, codec, samples, g2g:{median, p95, min, max}, firstFrameMs, …})
// and exits 0 on success; prints "video.mjs: <why>" to stderr (and a JSON line with ok:false) otherwise.
import { launch, mediaArgs, watch, fail as failWith, percentiles } from './chromium.mjs';

const env = process.env;
const timeoutMs = Number(env.TIMEOUT_MS) || 80000;
const stream = env.STREAM || 'live';
const fail = (msg, extra = {}) => failWith('video.mjs', msg, extra);
if (!env.HUB_URL) fail('HUB_URL is not set (e.g. HUB_URL=http://127.0.0.1:8080)');
if (!env.API_TOKEN) fail('API_TOKEN is not set: the hub prints its demo API token on stdout');
const origin = new URL(env.HUB_URL).origin;

const MAX_DELAY_MS = 2000;
const MIN_SAMPLES = 100;
const SAMPLE_MS = 5000;

// The viewer page expects these HTTP errors and handles them: a stream not live yet (404 on the WHEP
// POST) and a session the hub ended first, when the publisher changed (404 on its DELETE).
const viewerBenign = (path, status) => path.startsWith('/whep/') && status === 404;

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

// ---- in page 1: the barcode clock, published over WHIP ----

async function publishBarcode({ stream, token }) {
  const W = 640;
  const H = 360;
  const B = 40; // block size
  const X0 = 40; // top left of the marker column
  const Y0 = 40;
  const canvas = document.createElement('canvas');
  canvas.width = W;
  canvas.height = H;
  document.body.append(canvas);
  const ctx = canvas.getContext('2d');

  // Column 0: markers, white/black/white/black/white. Columns 1-8, rows 0-3: the time's 32 bits, most
  // significant first; row 4: the XOR of its four bytes. White is 1.
  const draw = () => {
    const t = performance.timeOrigin + performance.now();
    const code = Math.floor(t) % 2 ** 32;
    const bytes = [code >>> 24, (code >>> 16) & 255, (code >>> 8) & 255, code & 255];
    const check = bytes[0] ^ bytes[1] ^ bytes[2] ^ bytes[3];
    ctx.fillStyle = '#3a3f4f';
    ctx.fillRect(0, 0, W, H);
    for (let row = 0; row < 5; row++) {
      ctx.fillStyle = row % 2 === 0 ? '#fff' : '#000';
      ctx.fillRect(X0, Y0 + row * B, B, B);
      const byte = row < 4 ? bytes[row] : check;
      for (let col = 0; col < 8; col++) {
        ctx.fillStyle = (byte >> (7 - col)) & 1 ? '#fff' : '#000';
        ctx.fillRect(X0 + (col + 1) * B, Y0 + row * B, B, B);
      }
    }
    // Something that moves, for the eye and for the encoder.
    ctx.fillStyle = '#ff4f8b';
    ctx.fillRect(((t / 4) % (W + 80)) - 80, 280, 80, 40);
    ctx.fillStyle = '#fff';
    ctx.font = 'bold 28px sans-serif';
    ctx.fillText(new Date(t).toISOString().slice(11, 23), 420, 60);
    window.barcodeFrame = requestAnimationFrame(draw);
  };
  draw();

  const media = canvas.captureStream(30);
  const track = media.getVideoTracks()[0];
  track.contentHint = 'motion';
  const pc = new RTCPeerConnection();
  const tr = pc.addTransceiver(track, { direction: 'sendonly', streams: [media], sendEncodings: [{ maxBitrate: 2_500_000, maxFramerate: 30 }] });
  // As publish.html does: H.264 first, then VP8.
  const caps = RTCRtpSender.getCapabilities('video');
  const rank = (c) => {
    const type = c.mimeType.toLowerCase();
    const fmtp = c.sdpFmtpLine || '';
    if (type === 'video/h264' && fmtp.includes('packetization-mode=1')) return fmtp.includes('profile-level-id=42e0') ? 0 : 1;
    if (type === 'video/vp8') return 2;
    if (['video/rtx', 'video/red', 'video/ulpfec', 'video/flexfec-03'].includes(type)) return 4;
    return 3;
  };
  tr.setCodecPreferences([...caps.codecs].sort((a, b) => rank(a) - rank(b)));
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const res = await fetch(`/whip/${stream}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
    body: pc.localDescription.sdp,
  });
  if (res.status !== 201) throw new Error(`WHIP POST: HTTP ${res.status} ${await res.text()}`);
  const resource = new URL(res.headers.get('Location'), location.href).href;
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  // The test pattern of degradation: keep the blocks sharp, drop frames instead.
  const params = tr.sender.getParameters();
  params.degradationPreference = 'maintain-resolution';
  await tr.sender.setParameters(params).catch(() => {});
  window.barcode = { pc, resource, token };

  // Wait until frames go out, and say in which codec.
  for (let i = 0; i < 100; i++) {
    const stats = await pc.getStats();
    let sent = null;
    stats.forEach((r) => {
      if (r.type === 'outbound-rtp' && r.kind === 'video') sent = r;
    });
    if (sent && sent.framesEncoded > 0 && sent.codecId) return stats.get(sent.codecId).mimeType;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the canvas publisher sent no frame within 10 s');
}

async function stopBarcode() {
  const { pc, resource, token } = window.barcode;
  cancelAnimationFrame(window.barcodeFrame);
  const res = await fetch(resource, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });
  pc.close();
  return res.status;
}

// ---- in page 2: read the barcode of every frame shown ----

function measure({ minSamples, sampleMs }) {
  const video = document.querySelector('[data-testid="video"]');
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const samples = [];
  let rejected = 0;
  const start = performance.now();
  return new Promise((resolve) => {
    const onFrame = (now, meta) => {
      const w = meta.width;
      const h = meta.height;
      if (canvas.width !== w || canvas.height !== h) {
        canvas.width = w;
        canvas.height = h;
      }
      ctx.drawImage(video, 0, 0, w, h);
      const sx = w / 640;
      const sy = h / 360;
      const img = ctx.getImageData(0, 0, w, h).data;
      // bit reads the mean luma of the middle 16x16 px (source scale) of a block.
      const bit = (col, row) => {
        const cx = (40 + col * 40 + 20) * sx;
        const cy = (40 + row * 40 + 20) * sy;
        let sum = 0;
        let n = 0;
        for (let y = Math.round(cy - 8 * sy); y < cy + 8 * sy; y++) {
          for (let x = Math.round(cx - 8 * sx); x < cx + 8 * sx; x++) {
            const i = (y * w + x) * 4;
            sum += 0.299 * img[i] + 0.587 * img[i + 1] + 0.114 * img[i + 2];
            n++;
          }
        }
        return sum / n > 128 ? 1 : 0;
      };
      let valid = [1, 0, 1, 0, 1].every((want, row) => bit(0, row) === want);
      const bytes = [0, 0, 0, 0, 0];
      for (let row = 0; valid && row < 5; row++) {
        for (let col = 0; col < 8; col++) bytes[row] = (bytes[row] << 1) | bit(col + 1, row);
      }
      valid = valid && (bytes[0] ^ bytes[1] ^ bytes[2] ^ bytes[3]) === bytes[4];
      if (valid) {
        const code = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
        const shown = Math.floor(performance.timeOrigin + meta.expectedDisplayTime) % 2 ** 32;
        let delay = (shown - code + 2 ** 32) % 2 ** 32;
        if (delay > 2 ** 31) delay -= 2 ** 32; // shown "before" it was drawn: a broken clock, reported as is
        samples.push(delay);
      } else {
        rejected++;
      }
      const elapsed = performance.now() - start;
      if ((samples.length >= minSamples && elapsed >= sampleMs) || elapsed > 3 * sampleMs) resolve({ samples, rejected, ms: Math.round(elapsed) });
      else video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  });
}

const frames = (page) => page.evaluate(() => window.stagelinkPlayer.framesDecoded());

async function framesGrow(page, name) {
  const a = await frames(page);
  await page.waitForTimeout(2000);
  const b = await frames(page);
  if (!(b > a)) {
    const mode = await page.evaluate(() => window.stagelinkPlayer.mode);
    throw new Error(`${name}: frames decoded went from ${a} to ${b} in 2 s, want growth (the player is ${mode})`);
  }
  return [a, b];
}

async function openViewer(context, name) {
  const page = await context.newPage();
  watch(page, name, problems, viewerBenign);
  await page.goto(origin + '/', { waitUntil: 'load' });
  await page.waitForFunction(() => window.stagelinkPlayer && window.stagelinkPlayer.mode === 'webrtc', null, { timeout: 20000 });
  // The player goes live on the first decoded frame; Chromium shows it a moment later. A viewer that
  // joins a browser publisher in its first second sometimes sees it ~3 s later: decoded at once, shown
  // late, with a bare RTCPeerConnection too, so not the player's doing; firstFrameMs reports it.
  await page.waitForFunction(() => window.stagelinkPlayer.timing().firstFrameAt > 0, null, { timeout: 10000 });
  return page;
}

try {
  browser = await launch(env, mediaArgs);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(20000);
  // Page 1 lives at the hub's origin without the hub serving it: a blank page for the barcode.
  await context.route(`${origin}/barcode.html`, (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>barcode</title><link rel="icon" href="data:,"><body style="margin:0">' }),
  );

  step = 'publishing the barcode canvas over WHIP';
  const pub = await context.newPage();
  watch(pub, 'barcode publisher', problems);
  await pub.goto(`${origin}/barcode.html`);
  out.codec = (await pub.evaluate(publishBarcode, { stream, token: env.API_TOKEN })).replace(/^video\//i, '');

  step = 'opening the viewer page and waiting for it to play over WebRTC';
  const viewer = await openViewer(context, 'viewer');
  const timing = await viewer.evaluate(() => window.stagelinkPlayer.timing());
  if (!(timing.postAt > 0 && timing.firstFrameAt > timing.postAt)) throw new Error(`the player's timing is ${JSON.stringify(timing)}`);
  out.firstFrameMs = Math.round(timing.firstFrameAt - timing.postAt);
  out.firstDecodedMs = Math.round(timing.decodedAt - timing.postAt);

  step = 'reading the barcode of the frames the viewer shows';
  const m = await viewer.evaluate(measure, { minSamples: MIN_SAMPLES, sampleMs: SAMPLE_MS });
  out.samples = m.samples.length;
  out.rejected = m.rejected;
  out.sampleMs = m.ms;
  if (m.samples.length === 0) throw new Error(`no frame had a readable barcode (${m.rejected} unreadable)`);
  out.g2g = percentiles(m.samples);
  // The two pages' clocks (performance.timeOrigin + now, each coarsened by the browser) can differ by a
  // millisecond or so: only a frame shown clearly before it was drawn means a broken clock.
  if (!(out.g2g.min > -5)) throw new Error(`a frame was shown ${-out.g2g.min} ms before it was drawn: the clocks disagree`);
  if (!(out.g2g.p95 < MAX_DELAY_MS)) throw new Error(`glass-to-glass p95 is ${out.g2g.p95} ms, want below ${MAX_DELAY_MS}`);
  out.viewerDelayMs = Math.round(await viewer.evaluate(() => window.stagelinkPlayer.delayMs()));

  step = 'checking that the viewer keeps decoding';
  out.frames = await framesGrow(viewer, 'viewer');

  if (env.SCREENSHOT) {
    step = `writing the screenshot ${env.SCREENSHOT}`;
    await viewer.screenshot({ path: env.SCREENSHOT });
    out.screenshot = env.SCREENSHOT;
  }

  step = 'stopping the barcode publisher';
  // From here on, note the first viewer's states as the publisher changes.
  await viewer.evaluate(() => {
    const el = document.querySelector('[data-testid="video-state"]');
    const t0 = performance.now();
    window.modes = [];
    new MutationObserver(() => window.modes.push(`${Math.round(performance.now() - t0)}:${el.dataset.state}`)).observe(el, { attributes: true, attributeFilter: ['data-state'] });
  });
  const status = await pub.evaluate(stopBarcode);
  if (status !== 200) throw new Error(`WHIP DELETE: HTTP ${status}, want 200`);
  await pub.close();
  const before = await frames(viewer);

  step = 'going live from publish.html with the fake camera';
  const studio = await context.newPage();
  watch(studio, 'publish.html', problems);
  await studio.goto(`${origin}/publish.html`);
  await studio.locator('[data-testid="token"]').fill(env.API_TOKEN);
  await studio.locator('[data-testid="stream"]').fill(stream);
  await studio.locator('[data-testid="start"]').click();
  await studio.waitForFunction(() => window.stagelinkPublisher.state === 'live' || !document.querySelector('[data-testid="publish-error"]').hidden);
  const error = await studio.locator('[data-testid="publish-error"]').textContent();
  if ((await studio.evaluate(() => window.stagelinkPublisher.state)) !== 'live') throw new Error(`publish.html says: ${error}`);
  await studio.waitForFunction(() => window.stagelinkPublisher.codec !== '');
  out.publisherCodec = await studio.evaluate(() => window.stagelinkPublisher.codec);

  step = 'opening a second viewer on the camera of publish.html';
  const viewer2 = await openViewer(context, 'viewer 2');
  const timing2 = await viewer2.evaluate(() => window.stagelinkPlayer.timing());
  out.firstFrameMs2 = Math.round(timing2.firstFrameAt - timing2.postAt);
  out.frames2 = await framesGrow(viewer2, 'viewer 2');

  step = 'waiting for the first viewer to play the new publisher';
  // It either keeps its session (same codec, short gap) or reconnects after a stall.
  await viewer.waitForFunction((n) => window.stagelinkPlayer.mode === 'webrtc' && window.stagelinkPlayer.framesDecoded() > n, before, { timeout: 25000 });
  out.framesResumed = await framesGrow(viewer, 'the first viewer');
  out.modes = await viewer.evaluate(() => window.modes.join(' '));

  step = 'stopping publish.html';
  await studio.locator('[data-testid="stop"]').click();
  await studio.waitForFunction(() => window.stagelinkPublisher.state === 'idle');
  await studio.waitForTimeout(300); // the DELETE's answer, for the console

  if (problems.length) throw new Error(problems.join(' | '));
  await done();
} catch (e) {
  await done(e && e.message ? e.message.split('\n')[0] : String(e));
}
