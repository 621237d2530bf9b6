// A viewer that stays: it connects with the official socket.io-client as a browser does (cookies kept,
// polling then WebSocket, reconnecting by itself), follows every zone's state from hello and lights, and
// waits for the versions it is told on standard input.
//
//   HUB_URL=https://127.0.0.1:8443 [TIMEOUT_MS=60000] node tests/watch.mjs
//
// It prints {"ready":true} once connected. A line on standard input names versions, {"desk":12,"lamp":3}:
// once every zone named has reached at least its version, confirmed, it prints
// {"ok":true, "connects":N, "transports":[...]} and exits 0 (N counts the connections it made, so N-1
// reconnects). If that does not happen within TIMEOUT_MS of the line, it prints {"ok":false,...} and exits 1.
import { io } from 'socket.io-client';
import { createInterface } from 'node:readline';

const env = process.env;
const timeoutMs = Number(env.TIMEOUT_MS) || 60000;
const seen = new Map(); // zone id → {version, confirmed}
const want = new Map(); // zone id → version
const transports = new Set();
let connects = 0;
let timer;

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function done() {
  for (const [zone, version] of want) {
    const s = seen.get(zone);
    if (!s || s.version < version || (s.version === version && !s.confirmed)) return;
  }
  if (want.size === 0) return;
  out({ ok: true, connects, transports: [...transports] });
  process.exit(0);
}

function take(zones) {
  for (const z of zones || []) {
    const s = seen.get(z.id);
    if (!s || z.version > s.version || (z.version === s.version && z.confirmed)) {
      seen.set(z.id, { version: z.version, confirmed: !!z.confirmed });
    }
  }
  done();
}

const socket = io(new URL('/', env.HUB_URL).href, {
  withCredentials: true, // keeps nginx's sticky-session cookie, as a browser does
  reconnectionDelay: 200,
  reconnectionDelayMax: 2000,
  auth: { name: 'watch' },
});
socket.on('connect', () => {
  connects++;
  transports.add(socket.io.engine.transport.name);
  socket.io.engine.once('upgrade', (t) => transports.add(t.name));
  if (connects === 1) out({ ready: true });
});
socket.on('hello', (h) => take(h.zones));
socket.on('lights', (l) => take(l.zones));

createInterface({ input: process.stdin }).on('line', (line) => {
  let w;
  try {
    w = JSON.parse(line);
  } catch {
    out({ ok: false, error: `bad line ${JSON.stringify(line)}` });
    process.exit(1);
  }
  for (const [zone, version] of Object.entries(w)) want.set(zone, version);
  clearTimeout(timer);
  timer = setTimeout(() => {
    out({ ok: false, error: 'timed out', want: Object.fromEntries(want), seen: Object.fromEntries(seen), connects });
    process.exit(1);
  }, timeoutMs);
  done();
});
