// Protocol check of namespace "/" with the official socket.io-client, as a viewer's browser
// speaks it (ARCHITECTURE.md, "Socket.IO contract"):
//   1. viewer A connects and gets hello; a zone is picked (ZONE, or the first online one);
//   2. viewer B connects and listens for lights;
//   3. A sends light:set {zone, color} (relay zones: {zone, on}) and gets {ok:true, version};
//   4. B sees a lights update for the zone with that version and confirmed:true;
//   5. A sends malformed light:set payloads and gets ok:false with bad_request / unknown_zone.
//
//   HUB_URL=http://127.0.0.1:8080 [ZONE=desk] [COLOR=#ff3366] [TIMEOUT_MS=10000] [NAME=viewer-test] \
//   [TRANSPORTS=websocket|polling] [WITH_CREDENTIALS=1] node tests/viewer.mjs
//
// Prints one JSON line to stdout and exits 0 on success; prints "viewer.mjs: <why>" to
// stderr (and a JSON line with ok:false to stdout) and exits 1 otherwise. TIMEOUT_MS bounds
// each wait (default 10 s).
import { io } from 'socket.io-client';

const env = process.env;
const hubURL = env.HUB_URL;
const timeoutMs = Number(env.TIMEOUT_MS) || 10000;
const color = (env.COLOR || randomColor()).toLowerCase();
const started = Date.now();
const sockets = [];

function randomColor() {
  return '#' + Array.from({ length: 3 }, () => Math.floor(40 + Math.random() * 215).toString(16).padStart(2, '0')).join('');
}

function fail(msg) {
  for (const s of sockets) s.close();
  process.stdout.write(JSON.stringify({ ok: false, error: msg }) + '\n');
  process.stderr.write(`viewer.mjs: ${msg}\n`);
  process.exit(1);
}

if (!hubURL) fail('HUB_URL is not set (e.g. HUB_URL=http://127.0.0.1:8080)');
if (!/^#[0-9a-f]{6}$/.test(color)) fail(`COLOR ${JSON.stringify(color)} is not #rrggbb`);

// connect opens a viewer socket on "/" and resolves with it and its hello.
function connect(name) {
  const opts = { auth: name ? { name } : {}, reconnection: false, timeout: timeoutMs, forceNew: true };
  if (env.TRANSPORTS) opts.transports = env.TRANSPORTS.split(',');
  // Keep cookies, as a browser does: behind nginx the sticky-session cookie keeps polling and the
  // WebSocket upgrade on one hub.
  if (env.WITH_CREDENTIALS) opts.withCredentials = true;
  const socket = io(new URL('/', hubURL).href, opts);
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no hello from ${hubURL} within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      reject(new Error(`connecting to ${hubURL}: ${err.message}`));
    });
    socket.once('hello', (hello) => {
      clearTimeout(timer);
      resolve({ socket, hello });
    });
  });
}

async function set(socket, payload) {
  try {
    return await socket.timeout(timeoutMs).emitWithAck('light:set', payload);
  } catch {
    throw new Error(`no ack for light:set ${JSON.stringify(payload)} within ${timeoutMs} ms`);
  }
}

// setRetrying is set, retried once after retryAfterMs when the hub says rate_limited.
async function setRetrying(socket, payload) {
  let res = await set(socket, payload);
  if (res && res.ok === false && res.error && res.error.code === 'rate_limited') {
    await new Promise((r) => setTimeout(r, Math.min(5000, Number(res.error.retryAfterMs) || 1000)));
    res = await set(socket, payload);
  }
  return res;
}

try {
  // 1. viewer A and its hello.
  const a = await connect(env.NAME || 'viewer-test');
  const hello = a.hello || {};
  const zones = Array.isArray(hello.zones) ? hello.zones : null;
  if (!zones) throw new Error(`hello has no zones array: ${JSON.stringify(hello).slice(0, 300)}`);
  if (!hello.limits || typeof hello.limits.perSecond !== 'number' || typeof hello.limits.burst !== 'number') {
    throw new Error(`hello.limits is not {perSecond, burst}: ${JSON.stringify(hello.limits)}`);
  }
  if (!hello.stream || typeof hello.stream.whep !== 'string' || typeof hello.stream.hls !== 'string') {
    throw new Error(`hello.stream is not {whep, hls}: ${JSON.stringify(hello.stream)}`);
  }
  const list = zones.map((z) => `${z.id}(${z.kind}, ${z.online ? 'online' : 'offline'})`).join(', ') || 'none';
  const zone = env.ZONE ? zones.find((z) => z.id === env.ZONE) : zones.find((z) => z.online);
  if (!zone) throw new Error(env.ZONE ? `zone ${env.ZONE} is not in hello; zones: ${list}` : `no online zone in hello; zones: ${list}`);
  for (const f of ['id', 'name', 'kind', 'online', 'effects', 'state', 'version']) {
    if (!(f in zone)) throw new Error(`zone ${zone.id} in hello lacks "${f}": ${JSON.stringify(zone)}`);
  }

  // 2. viewer B listens for the confirmation.
  const b = await connect('viewer-test-b');
  const seen = [];
  let onLights = () => {};
  b.socket.on('lights', (msg) => {
    for (const u of (msg && msg.zones) || []) {
      if (u && u.id === zone.id) {
        seen.push({ version: u.version, confirmed: u.confirmed });
        onLights(u);
      }
    }
  });

  // 3. A changes the zone.
  const payload = zone.kind === 'relay' ? { zone: zone.id, on: !(zone.state && zone.state.on) } : { zone: zone.id, color };
  const t0 = Date.now();
  const ack = await setRetrying(a.socket, payload);
  const ackMs = Date.now() - t0;
  if (!ack || ack.ok !== true || typeof ack.version !== 'number') {
    throw new Error(`light:set ${JSON.stringify(payload)} was answered ${JSON.stringify(ack)}, want {ok:true, version}`);
  }
  if (ack.version <= zone.version) {
    throw new Error(`acked version ${ack.version} is not newer than hello's ${zone.version}`);
  }

  // 4. B sees it confirmed.
  const confirmed = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(
      `no lights update for zone ${zone.id} with version ${ack.version} and confirmed:true within ${timeoutMs} ms` +
      ` (seen: ${JSON.stringify(seen)})`)), timeoutMs);
    onLights = (u) => {
      if (typeof u.version !== 'number' || u.version < ack.version || u.confirmed !== true) return;
      clearTimeout(timer);
      resolve(u);
    };
  });
  const confirmMs = Date.now() - t0;
  if (confirmed.version === ack.version) {
    const s = confirmed.state || {};
    if (payload.color && String(s.color).toLowerCase() !== color) {
      throw new Error(`confirmed state of ${zone.id} v${ack.version} has color ${s.color}, want ${color}`);
    }
    if ('on' in payload && s.on !== payload.on) {
      throw new Error(`confirmed state of ${zone.id} v${ack.version} has on=${s.on}, want ${payload.on}`);
    }
  }

  // 5. Malformed payloads are refused with the contract's codes.
  const cases = [
    { name: 'not an object (string)', payload: 'red', code: 'bad_request' },
    { name: 'not an object (number)', payload: 42, code: 'bad_request' },
    { name: 'not an object (array)', payload: [zone.id, color], code: 'bad_request' },
    { name: 'not an object (null)', payload: null, code: 'bad_request' },
    { name: 'unknown field', payload: { zone: zone.id, colour: color }, code: 'bad_request' },
    { name: 'brightness 300', payload: { zone: zone.id, brightness: 300 }, code: 'bad_request' },
    { name: 'colour not #rrggbb', payload: { zone: zone.id, color: 'red' }, code: 'bad_request' },
    { name: 'unknown zone', payload: { zone: 'no-such-zone-0', color }, code: 'unknown_zone' },
  ];
  const malformed = [];
  for (const c of cases) {
    const res = await setRetrying(a.socket, c.payload);
    const code = res && res.ok === false && res.error ? res.error.code : undefined;
    if (code !== c.code) {
      throw new Error(`light:set with ${c.name} (${JSON.stringify(c.payload)}) was answered ${JSON.stringify(res)}, want ok:false code ${c.code}`);
    }
    if (typeof res.error.message !== 'string') {
      throw new Error(`light:set with ${c.name}: error has no message: ${JSON.stringify(res)}`);
    }
    malformed.push({ case: c.name, code });
  }

  for (const s of sockets) s.close();
  process.stdout.write(JSON.stringify({
    ok: true, zone: zone.id, kind: zone.kind, ...payload, version: ack.version,
    confirmedVersion: confirmed.version, ackMs, confirmMs, malformed: malformed.length,
    totalMs: Date.now() - started,
  }) + '\n');
  process.exit(0);
} catch (e) {
  fail(e && e.message ? e.message : String(e));
}
