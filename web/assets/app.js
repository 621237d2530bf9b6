// stagelink viewer page: shows the zones of the stage, lets the viewer change them over
// Socket.IO (namespace "/", see ARCHITECTURE.md "Socket.IO contract") and draws the simulated
// venue in demo mode; player.js plays the live video. Plain browser JavaScript, no build step; the
// socket.io client is served from /vendor/socket.io.min.js.
//
// Everything that comes from the server or from other viewers is put on the page with
// textContent or validated attribute values, never as HTML.
'use strict';

(() => {
  const NAME_KEY = 'stagelink.name';
  const SEND_INTERVAL_MS = 150; // at most one light:set per zone this often while dragging
  const ACK_TIMEOUT_MS = 8000;
  const TICK_MS = 250;
  const PRESETS = [
    ['Red', '#ff1a1a'],
    ['Orange', '#ff6a00'],
    ['Amber', '#ffb000'],
    ['Yellow', '#ffe81a'],
    ['Green', '#1aff4a'],
    ['Cyan', '#1ae0ff'],
    ['Blue', '#1a4dff'],
    ['Purple', '#9a3dff'],
    ['Pink', '#ff2da6'],
    ['Warm white', '#ffd19a'],
    ['White', '#ffffff'],
  ];
  const RESULT_TEXT = {
    queued: 'Waiting for your turn…',
    sending: 'Sending…',
    accepted: 'Sent — waiting for the light…',
    applied: 'Your change is on the light ✓',
    rate_limited: 'Easy there — you can change it again in',
    zone_offline: 'This light is offline right now.',
    paused: 'Paused by the streamer.',
    bad_request: 'Not accepted',
    unknown_zone: 'This light is gone.',
    internal: 'Something went wrong — please try again.',
    timeout: 'No answer from the server — please try again.',
    disconnected: 'Not connected — your change was not sent.',
  };
  const HEX = /^#[0-9a-f]{6}$/i;

  const $ = (sel, root = document) => root.querySelector(sel);
  const el = (tag, cls) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    return e;
  };
  const safeColor = (c, fallback = '#000000') => (typeof c === 'string' && HEX.test(c) ? c.toLowerCase() : fallback);
  const clampByte = (n, fallback) => (Number.isFinite(n) ? Math.max(0, Math.min(255, Math.round(n))) : fallback);
  const str = (s) => (typeof s === 'string' ? s : '');

  // ---- client-side rate limit: a token bucket with the hub's limits ----

  const bucket = {
    perSecond: 0, // 0: no client-side limit
    burst: 0,
    tokens: 0,
    at: 0,
    blockedUntil: 0,
    configure(limits) {
      const per = Number(limits && limits.perSecond);
      const burst = Number(limits && limits.burst);
      this.perSecond = per > 0 ? per : 0;
      this.burst = burst >= 1 ? burst : Math.max(1, Math.ceil(this.perSecond));
      this.tokens = this.burst;
      this.at = Date.now();
    },
    refill(now) {
      if (!this.perSecond) return;
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.perSecond);
      this.at = now;
    },
    // wait returns how many ms until a request may be sent (0: now).
    wait(now) {
      let ms = Math.max(0, this.blockedUntil - now);
      if (this.perSecond) {
        this.refill(now);
        if (this.tokens < 1) ms = Math.max(ms, Math.ceil(((1 - this.tokens) / this.perSecond) * 1000));
      }
      return ms;
    },
    take(now) {
      if (!this.perSecond) return;
      this.refill(now);
      this.tokens = Math.max(0, this.tokens - 1);
    },
    block(ms) {
      this.blockedUntil = Math.max(this.blockedUntil, Date.now() + ms);
      this.tokens = 0;
      this.at = Date.now();
    },
  };

  // ---- page elements ----

  const ui = {
    conn: $('[data-testid="connection"]'),
    connText: $('.conn-text'),
    viewers: $('[data-testid="viewer-count"]'),
    zones: $('[data-testid="zones"]'),
    empty: $('[data-testid="zones-empty"]'),
    stage: $('[data-testid="stage"]'),
    venue: $('[data-testid="venue"]'),
    devices: $('[data-testid="venue-devices"]'),
    tips: $('[data-testid="tips"]'),
    paper: $('[data-testid="paper"]'),
    roll: $('[data-testid="paper-roll"]'),
    rollEmpty: $('[data-testid="paper-empty"]'),
    template: $('#zone-template'),
    nameBox: $('.name-box'),
    nameForm: $('[data-testid="name-form"]'),
    nameInput: $('[data-testid="name-input"]'),
    nameLabel: $('.name-label'),
  };

  // ---- display name ----

  function loadName() {
    try {
      return (localStorage.getItem(NAME_KEY) || '').trim().slice(0, 32);
    } catch {
      return '';
    }
  }
  function saveName(name) {
    try {
      if (name) localStorage.setItem(NAME_KEY, name);
      else localStorage.removeItem(NAME_KEY);
    } catch {
      // private mode: the name lasts for this page only
    }
  }
  let displayName = loadName();
  const authFor = (name) => (name ? { name } : {});
  function showName() {
    ui.nameLabel.textContent = displayName ? `You: ${displayName}` : 'Set your name';
    ui.nameInput.value = displayName;
  }
  showName();

  // ---- connection ----

  let connected = false;
  function setConn(state, text) {
    ui.conn.dataset.state = state;
    ui.connText.textContent = text;
    document.body.dataset.conn = state;
    const was = connected;
    connected = state === 'connected';
    if (was !== connected) for (const ctl of zones.values()) setEnabled(ctl);
  }

  // The live video (player.js): it plays what each hello names.
  const player = window.stagelinkCreatePlayer(ui.stage);
  // The streamer's page content (content.js): title, announcement, links and sections.
  const content = window.stagelinkCreateContent();

  // io is defined by /vendor/socket.io.min.js.
  const socket = window.io('/', { auth: authFor(displayName) });

  socket.on('connect', () => setConn('connected', 'Live'));
  socket.on('disconnect', (reason) => {
    if (socket.active) setConn('reconnecting', 'Reconnecting…');
    else if (reason !== 'io client disconnect') setConn('offline', 'Offline');
  });
  socket.on('connect_error', () => {
    if (!navigator.onLine) setConn('offline', 'Offline — no network');
    else if (socket.active) setConn('reconnecting', 'Reconnecting…');
    else setConn('offline', 'Offline');
  });
  window.addEventListener('offline', () => setConn('offline', 'Offline — no network'));
  window.addEventListener('online', () => {
    if (socket.connected) return;
    setConn('reconnecting', 'Reconnecting…');
    if (!socket.active) socket.connect();
  });
  ui.conn.addEventListener('click', () => {
    if (!socket.connected && !socket.active) socket.connect();
  });

  ui.nameForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = ui.nameInput.value.replace(/\s+/g, ' ').trim().slice(0, 32);
    if (name === displayName) {
      ui.nameBox.open = false;
      return;
    }
    displayName = name;
    saveName(name);
    showName();
    ui.nameBox.open = false;
    // The name travels in the handshake: reconnect so the hub sees it.
    socket.auth = authFor(name);
    socket.disconnect();
    setConn('reconnecting', 'Reconnecting…');
    socket.connect();
  });

  // ---- zones ----

  /** @type {Map<string, any>} zone id → controller of its card */
  const zones = new Map();
  let cardSeq = 0;

  function normState(s) {
    s = s || {};
    return {
      on: !!s.on,
      color: safeColor(s.color, '#ffa03c'),
      brightness: clampByte(Number(s.brightness), 128),
      effect: str(s.effect),
      speed: clampByte(Number(s.speed), 128),
      intensity: clampByte(Number(s.intensity), 128),
      updatedAt: Number(s.updatedAt) || 0,
      by: str(s.by),
    };
  }

  function normZone(z) {
    return {
      id: str(z.id),
      name: str(z.name) || str(z.id),
      kind: ['pixels', 'rgb', 'relay'].includes(z.kind) ? z.kind : 'rgb',
      online: !!z.online,
      effects: Array.isArray(z.effects) ? z.effects.filter((e) => typeof e === 'string') : [],
      state: normState(z.state),
      version: Number(z.version) || 0,
      confirmed: typeof z.confirmed === 'boolean' ? z.confirmed : null,
    };
  }

  function newCard(zone) {
    const card = ui.template.content.firstElementChild.cloneNode(true);
    const n = ++cardSeq;
    const ctl = {
      id: zone.id,
      zone,
      confirmed: zone.confirmed,
      card,
      effectsKey: null,
      overlay: {}, // field → {value, seq}: local edits not yet seen back from the hub
      pending: {}, // fields to send
      seq: 0,
      inflight: false,
      lastSentAt: 0,
      timer: 0,
      myVersion: 0, // version of our last accepted change
      mySeq: 0,
      result: { kind: '', text: '', until: 0 },
      q: {
        orb: $('.orb', card),
        name: $('[data-testid="zone-name"]', card),
        badge: $('[data-testid="zone-online"]', card),
        power: $('[data-testid="zone-power"]', card),
        powerText: $('.switch-text', card),
        powerLabel: $('[data-role="power-label"]', card),
        relay: $('[data-role="relay"]', card),
        colorBlock: $('[data-role="color"]', card),
        color: $('[data-testid="zone-color"]', card),
        swatches: $('[data-role="swatches"]', card),
        brightness: $('[data-testid="zone-brightness"]', card),
        fx: $('[data-role="fx"]', card),
        effect: $('[data-testid="zone-effect"]', card),
        speed: $('[data-testid="zone-speed"]', card),
        intensity: $('[data-testid="zone-intensity"]', card),
        result: $('[data-testid="zone-result"]', card),
        resultText: $('.result-text', card),
        resultCount: $('.result-count', card),
        changed: $('[data-testid="zone-changed"]', card),
        confirm: $('[data-testid="zone-confirm"]', card),
      },
    };
    const q = ctl.q;
    card.dataset.zone = zone.id;

    // Labels point at their controls by unique ids.
    const bind = (labelSel, input, suffix) => {
      const id = `z${n}-${suffix}`;
      input.id = id;
      $(labelSel, card).htmlFor = id;
    };
    bind('[data-role="color-label"]', q.color, 'color');
    bind('[data-role="brightness-label"]', q.brightness, 'brightness');
    bind('[data-role="effect-label"]', q.effect, 'effect');
    bind('[data-role="speed-label"]', q.speed, 'speed');
    bind('[data-role="intensity-label"]', q.intensity, 'intensity');
    q.powerLabel.id = `z${n}-power-label`;
    q.name.id = `z${n}-name`;
    card.setAttribute('aria-labelledby', q.name.id);
    q.power.setAttribute('aria-labelledby', `${q.name.id} ${q.powerLabel.id}`);
    q.swatches.setAttribute('aria-label', 'Quick colours');

    for (const [label, color] of PRESETS) {
      const b = el('button', 'swatch');
      b.type = 'button';
      b.dataset.testid = 'swatch';
      b.dataset.color = color;
      b.setAttribute('aria-label', label);
      b.title = label;
      b.style.setProperty('--swatch', color);
      b.addEventListener('click', () => edit(ctl, { color }));
      q.swatches.append(b);
    }

    q.power.addEventListener('click', () => edit(ctl, { on: !effective(ctl).on }, false));
    q.color.addEventListener('input', () => edit(ctl, { color: q.color.value.toLowerCase() }));
    q.color.addEventListener('change', () => edit(ctl, { color: q.color.value.toLowerCase() }));
    for (const input of [q.brightness, q.speed, q.intensity]) {
      const field = input.dataset.field;
      const onMove = () => {
        input.nextElementSibling.textContent = input.value;
        edit(ctl, { [field]: Number(input.value) });
      };
      input.addEventListener('input', onMove);
      input.addEventListener('change', onMove);
    }
    q.effect.addEventListener('change', () => edit(ctl, { effect: q.effect.value }));

    ctl.controls = [q.power, q.color, q.brightness, q.effect, q.speed, q.intensity, ...q.swatches.children];
    configure(ctl);
    setEnabled(ctl);
    return ctl;
  }

  // configure shows the controls the zone's kind uses.
  function configure(ctl) {
    const { card, q, zone } = ctl;
    card.dataset.kind = zone.kind;
    q.name.textContent = zone.name;
    const relay = zone.kind === 'relay';
    q.relay.hidden = !relay;
    q.colorBlock.hidden = relay;
    q.fx.hidden = zone.kind !== 'pixels';
    q.powerLabel.textContent = relay ? 'Switch' : 'Power';
    const key = JSON.stringify(zone.effects);
    if (zone.kind === 'pixels' && key !== ctl.effectsKey) {
      ctl.effectsKey = key;
      q.effect.replaceChildren();
      if (!zone.effects.some((e) => e === '' || e.toLowerCase() === 'solid')) {
        const o = el('option');
        o.value = '';
        o.textContent = 'Solid colour';
        q.effect.append(o);
      }
      for (const e of zone.effects) {
        const o = el('option');
        o.value = e;
        o.textContent = e || 'Solid colour';
        q.effect.append(o);
      }
    }
  }

  function setEnabled(ctl) {
    for (const c of ctl.controls) c.disabled = !connected;
  }

  // effective is the state the card shows: the hub's, with the viewer's own unsent or
  // unconfirmed edits on top so that controls don't jump back while dragging.
  function effective(ctl) {
    const s = { ...ctl.zone.state };
    for (const [f, o] of Object.entries(ctl.overlay)) s[f] = o.value;
    return s;
  }

  function render(ctl) {
    const { card, q, zone } = ctl;
    const s = effective(ctl);
    card.dataset.version = String(zone.version);
    card.dataset.online = String(zone.online);
    card.dataset.on = String(s.on);
    card.dataset.color = s.color;
    card.dataset.confirmed = ctl.confirmed === null ? '' : String(ctl.confirmed);
    card.classList.toggle('is-off', !s.on);
    card.classList.toggle('is-offline', !zone.online);
    card.style.setProperty('--zone-color', s.color);
    const level = zone.kind === 'relay' ? 1 : s.brightness / 255;
    card.style.setProperty('--zone-level', s.on ? (0.25 + 0.75 * level).toFixed(3) : '0');

    q.badge.textContent = zone.online ? 'online' : 'offline';
    q.badge.dataset.online = String(zone.online);

    q.power.setAttribute('aria-checked', String(s.on));
    q.powerText.textContent = s.on ? 'On' : 'Off';

    if (zone.kind !== 'relay') {
      if (q.color.value.toLowerCase() !== s.color) q.color.value = s.color;
      for (const b of q.swatches.children) b.setAttribute('aria-pressed', String(b.dataset.color === s.color));
      setSlider(q.brightness, s.brightness);
    }
    if (zone.kind === 'pixels') {
      let value = s.effect;
      if (value === '' && ![...q.effect.options].some((o) => o.value === '')) {
        const solid = [...q.effect.options].find((o) => o.value.toLowerCase() === 'solid');
        if (solid) value = solid.value;
      }
      if (![...q.effect.options].some((o) => o.value === value)) {
        // An effect the list doesn't name (yet): show it anyway.
        const o = el('option');
        o.value = value;
        o.textContent = value;
        q.effect.append(o);
      }
      if (q.effect.value !== value) q.effect.value = value;
      setSlider(q.speed, s.speed);
      setSlider(q.intensity, s.intensity);
    }

    if (ctl.confirmed === true) {
      q.confirm.textContent = 'applied ✓';
      q.confirm.title = 'The light shows this state';
    } else if (ctl.confirmed === false) {
      q.confirm.textContent = 'sending…';
      q.confirm.title = 'On its way to the light';
    } else {
      q.confirm.textContent = '';
      q.confirm.title = '';
    }
    q.confirm.dataset.confirmed = card.dataset.confirmed;
    renderChanged(ctl);
  }

  function setSlider(input, v) {
    if (Number(input.value) !== v) input.value = String(v);
    input.nextElementSibling.textContent = String(v);
  }

  function ago(ms) {
    const s = Math.floor(Math.max(0, ms) / 1000);
    if (s < 3) return 'just now';
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
  }

  function renderChanged(ctl) {
    const { updatedAt, by } = ctl.zone.state;
    let text;
    if (!updatedAt) text = 'Not changed yet';
    else if (by) text = `Last changed by ${by}, ${ago(Date.now() - updatedAt)}`;
    else text = `Last changed ${ago(Date.now() - updatedAt)}`;
    if (ctl.q.changed.textContent !== text) ctl.q.changed.textContent = text;
  }

  // ---- results of the viewer's own changes ----

  function setResult(ctl, kind, message, retryAfterMs) {
    const r = ctl.result;
    r.kind = kind;
    r.until = retryAfterMs > 0 ? Date.now() + retryAfterMs : 0;
    let text = RESULT_TEXT[kind] || RESULT_TEXT.internal;
    if (kind === 'bad_request' && message) text = `Not accepted: ${message}`;
    if (kind === 'paused' && message) text = `Paused: ${message}`;
    if (kind === 'internal' && message) text = `Something went wrong: ${message}`;
    r.text = text;
    const q = ctl.q;
    q.result.dataset.result = kind;
    q.resultText.textContent = text;
    renderCountdown(ctl);
  }

  function renderCountdown(ctl) {
    const r = ctl.result;
    let text = '';
    if (r.until) {
      const left = r.until - Date.now();
      if (left > 0) text = ` ${(Math.ceil(left / 100) / 10).toFixed(1)} s`;
      else if (r.kind === 'rate_limited') {
        r.until = 0;
        ctl.q.result.dataset.result = 'ready';
        ctl.q.resultText.textContent = 'Ready — go ahead.';
      } else r.until = 0;
    }
    if (ctl.q.resultCount.textContent !== text) ctl.q.resultCount.textContent = text;
  }

  // checkSeen runs when the zone's state changed: it drops local edits the hub has now
  // taken in and marks the viewer's last change applied once the light confirmed it.
  function checkSeen(ctl) {
    if (!ctl.myVersion || ctl.zone.version < ctl.myVersion) return;
    clearOverlay(ctl, ctl.mySeq);
    if (ctl.confirmed && ctl.result.kind === 'accepted') setResult(ctl, 'applied');
  }

  function clearOverlay(ctl, seq) {
    for (const [f, o] of Object.entries(ctl.overlay)) {
      if (o.seq && o.seq <= seq) delete ctl.overlay[f];
    }
  }

  // ---- sending ----

  function edit(ctl, fields, turnOn = true) {
    if (turnOn && !effective(ctl).on && ctl.zone.kind !== 'relay') fields = { ...fields, on: true };
    // input and change both report a final value: don't send what is already on its way.
    const fresh = Object.entries(fields).filter(([f, v]) => !(f in ctl.overlay) || ctl.overlay[f].value !== v);
    if (fresh.length === 0) return;
    for (const [f, v] of fresh) {
      ctl.pending[f] = v;
      ctl.overlay[f] = { value: v, seq: 0 };
    }
    render(ctl);
    pump(ctl);
  }

  // pump sends the zone's pending edits as one light:set: one request in flight per zone,
  // at most one every SEND_INTERVAL_MS, within the hub's rate limit.
  function pump(ctl) {
    clearTimeout(ctl.timer);
    ctl.timer = 0;
    if (ctl.inflight || Object.keys(ctl.pending).length === 0) return;
    if (!connected) {
      ctl.pending = {};
      ctl.overlay = {};
      setResult(ctl, 'disconnected');
      render(ctl);
      return;
    }
    const now = Date.now();
    const limitWait = bucket.wait(now);
    const wait = Math.max(limitWait, ctl.lastSentAt + SEND_INTERVAL_MS - now);
    if (wait > 0) {
      if (limitWait > SEND_INTERVAL_MS && ctl.result.kind !== 'rate_limited') setResult(ctl, 'queued', '', limitWait);
      ctl.timer = setTimeout(() => pump(ctl), wait);
      return;
    }
    bucket.take(now);
    const payload = { zone: ctl.id, ...ctl.pending };
    const seq = ++ctl.seq;
    for (const f of Object.keys(ctl.pending)) if (ctl.overlay[f]) ctl.overlay[f].seq = seq;
    ctl.pending = {};
    ctl.inflight = true;
    ctl.lastSentAt = now;
    setResult(ctl, 'sending');
    socket.timeout(ACK_TIMEOUT_MS).emit('light:set', payload, (err, res) => onAck(ctl, seq, err, res));
  }

  function onAck(ctl, seq, err, res) {
    ctl.inflight = false;
    if (zones.get(ctl.id) !== ctl) return; // the zone went away meanwhile
    if (err) {
      clearOverlay(ctl, seq);
      setResult(ctl, connected ? 'timeout' : 'disconnected');
    } else if (res && res.ok) {
      ctl.myVersion = Math.max(ctl.myVersion, Number(res.version) || 0);
      ctl.mySeq = seq;
      if (Object.keys(ctl.pending).length === 0) setResult(ctl, 'accepted');
      checkSeen(ctl);
    } else {
      const e = (res && res.error) || {};
      const code = typeof e.code === 'string' && RESULT_TEXT[e.code] ? e.code : 'internal';
      clearOverlay(ctl, seq);
      const retry = Number(e.retryAfterMs) || 0;
      if (code === 'rate_limited') bucket.block(retry || 1000);
      setResult(ctl, code, str(e.message), code === 'rate_limited' ? retry || 1000 : 0);
    }
    render(ctl);
    pump(ctl);
  }

  // ---- applying what the hub says ----

  // syncZones takes a full zone list (hello or zones). A hello is a fresh snapshot and wins
  // over what the page shows; a zones event only brings newer versions.
  function syncZones(list, snapshot) {
    if (!Array.isArray(list)) return;
    const seen = new Set();
    let prev = null;
    for (const raw of list) {
      if (!raw || typeof raw.id !== 'string' || !raw.id || seen.has(raw.id)) continue;
      const z = normZone(raw);
      seen.add(z.id);
      let ctl = zones.get(z.id);
      if (!ctl) {
        ctl = newCard(z);
        zones.set(z.id, ctl);
      } else {
        const cur = ctl.zone;
        const newer = snapshot || z.version > cur.version;
        ctl.zone = { ...z, state: newer ? z.state : cur.state, version: newer ? z.version : cur.version };
        if (newer) ctl.confirmed = z.confirmed;
        else if (z.version === cur.version && z.confirmed === true) ctl.confirmed = true;
        if (snapshot && ctl.myVersion > z.version) ctl.myVersion = 0; // the hub started over
        configure(ctl);
      }
      // Keep the cards in the hub's order.
      const want = prev ? prev.card.nextElementSibling : ui.zones.firstElementChild;
      if (want !== ctl.card) {
        if (prev) prev.card.after(ctl.card);
        else ui.zones.prepend(ctl.card);
      }
      prev = ctl;
      render(ctl);
      checkSeen(ctl);
    }
    for (const [id, ctl] of zones) {
      if (seen.has(id)) continue;
      clearTimeout(ctl.timer);
      ctl.card.remove();
      zones.delete(id);
    }
    ui.empty.hidden = zones.size > 0;
    if (zones.size === 0) ui.zones.append(ui.empty);
    ui.empty.textContent = 'No lights are connected right now. They will show up here.';
  }

  function applyLights(updates) {
    if (!Array.isArray(updates)) return;
    for (const u of updates) {
      const ctl = u && zones.get(u.id);
      if (!ctl) continue;
      const v = Number(u.version) || 0;
      const confirmed = !!u.confirmed;
      const cur = ctl.zone.version;
      if (v > cur || (v === cur && confirmed && ctl.confirmed !== true)) {
        ctl.zone.state = normState(u.state);
        ctl.zone.version = v;
        ctl.confirmed = confirmed;
        render(ctl);
        checkSeen(ctl);
      }
    }
  }

  socket.on('hello', (msg) => {
    msg = msg || {};
    bucket.configure(msg.limits);
    const whep = msg.stream && typeof msg.stream.whep === 'string' ? msg.stream.whep : '';
    ui.stage.hidden = !whep;
    player.configure(msg.stream);
    if ('page' in msg) content.render(msg.page);
    syncZones(msg.zones, true);
  });
  socket.on('page', (page) => content.render(page));
  socket.on('lights', (msg) => applyLights(msg && msg.zones));
  socket.on('zones', (msg) => syncZones(msg && msg.zones, false));
  socket.on('viewers', (msg) => {
    const n = Number(msg && msg.count);
    if (Number.isFinite(n) && n >= 0) {
      ui.viewers.textContent = String(n);
      ui.viewers.parentElement.title = `${n} ${n === 1 ? 'person' : 'people'} watching now`;
    }
  });
  socket.on('tip', showTip);
  socket.on('demo:printer', (msg) => renderPaper(Array.isArray(msg && msg.receipts) ? msg.receipts : []));
  socket.on('demo:devices', (msg) => {
    venueData = Array.isArray(msg && msg.devices) ? msg.devices : [];
    if (!venueFrame) venueFrame = requestAnimationFrame(renderVenue);
  });

  setInterval(() => {
    for (const ctl of zones.values()) {
      renderChanged(ctl);
      if (ctl.result.until) renderCountdown(ctl);
    }
  }, TICK_MS);

  // ---- tips, shown for a while as they arrive ----

  const TIP_SHOW_MS = 15000;
  const TIPS_SHOWN = 3;

  function showTip(msg) {
    if (!msg || typeof msg.display !== 'string' || !msg.display) return;
    const card = el('div', 'tip');
    card.dataset.testid = 'tip';
    const head = el('p', 'tip-head');
    const who = el('span');
    who.textContent = `${str(msg.author) || 'Someone'} tipped `;
    const amount = el('span', 'tip-amount');
    amount.textContent = msg.display;
    head.append(who, amount);
    const text = el('p', 'tip-text');
    text.textContent = str(msg.text);
    card.append(head, text);
    ui.tips.prepend(card);
    while (ui.tips.children.length > TIPS_SHOWN) ui.tips.lastElementChild.remove();
    setTimeout(() => {
      card.classList.add('is-leaving');
      setTimeout(() => card.remove(), 700);
    }, TIP_SHOW_MS);
  }

  // ---- the simulated printer (demo mode) ----

  /** @type {Map<number, HTMLElement>} receipt seq → its figure */
  const receipts = new Map();
  let paperSeen = false;

  function renderPaper(list) {
    ui.paper.hidden = false;
    const keep = new Set();
    let prev = null;
    for (const r of list) {
      const seq = Number(r && r.seq);
      if (!Number.isInteger(seq) || seq < 1 || keep.has(seq)) continue;
      keep.add(seq);
      let fig = receipts.get(seq);
      if (!fig) {
        fig = el('figure', 'receipt');
        fig.dataset.testid = 'receipt';
        fig.dataset.seq = String(seq);
        if (paperSeen) fig.classList.add('is-new');
        const img = el('img');
        img.src = `/demo/printer/${seq}.png`;
        img.alt = `Receipt ${seq}`;
        img.loading = 'lazy';
        const cap = el('figcaption');
        const at = new Date(str(r.at));
        cap.textContent = `#${seq}` + (Number.isNaN(at.getTime()) ? '' : ` · ${at.toLocaleTimeString()}`);
        fig.append(img, cap);
        receipts.set(seq, fig);
      }
      // Newest first, in the hub's order.
      if (prev) prev.after(fig);
      else ui.roll.prepend(fig);
      prev = fig;
    }
    for (const [seq, fig] of receipts) {
      if (keep.has(seq)) continue;
      fig.remove();
      receipts.delete(seq);
    }
    ui.rollEmpty.hidden = receipts.size > 0;
    paperSeen = true;
  }

  // ---- the simulated venue (demo mode) ----

  let venueData = null;
  let venueFrame = 0;
  /** @type {Map<string, any>} device id → its elements */
  const devices = new Map();

  const zoneName = (id) => {
    const ctl = zones.get(id);
    return ctl ? ctl.zone.name : str(id);
  };

  function renderVenue() {
    venueFrame = 0;
    if (!venueData) return;
    ui.venue.hidden = false;
    const seen = new Set();
    for (const d of venueData) {
      if (!d || typeof d.id !== 'string' || seen.has(d.id)) continue;
      seen.add(d.id);
      let dev = devices.get(d.id);
      if (!dev) {
        dev = newDevice(d.id);
        devices.set(d.id, dev);
      }
      ui.devices.append(dev.el); // keeps the hub's order
      dev.name.textContent = str(d.name) || d.id;
      dev.kind.textContent = d.kind === 'wled' ? 'WLED' : d.kind === 'espeasy' ? 'ESPEasy' : str(d.kind);
      dev.el.dataset.kind = str(d.kind);
      const pixels = Array.isArray(d.pixels) ? d.pixels : null;
      dev.canvas.hidden = !pixels;
      dev.pixels = pixels;
      if (pixels) drawStrip(dev.canvas, pixels);
      renderLamps(dev, Array.isArray(d.lamps) ? d.lamps : []);
      renderRelays(dev, Array.isArray(d.relays) ? d.relays : []);
    }
    for (const [id, dev] of devices) {
      if (seen.has(id)) continue;
      dev.el.remove();
      devices.delete(id);
    }
  }

  function newDevice(id) {
    const root = el('div', 'device');
    root.dataset.testid = 'venue-device';
    root.dataset.device = id;
    const head = el('p', 'device-head');
    const name = el('span', 'device-name');
    const kind = el('span', 'device-kind');
    head.append(name, kind);
    const canvas = el('canvas', 'strip');
    canvas.dataset.testid = 'venue-strip';
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', 'LED strip');
    const fixtures = el('div', 'fixtures');
    root.append(head, canvas, fixtures);
    return { el: root, name, kind, canvas, fixtures, lamps: new Map(), relays: new Map(), pixels: null };
  }

  function fixture(dev, map, key, make) {
    let f = map.get(key);
    if (!f) {
      f = make();
      map.set(key, f);
    }
    f.seen = true;
    dev.fixtures.append(f.el);
    return f;
  }

  function sweep(map) {
    for (const [k, f] of map) {
      if (f.seen) f.seen = false;
      else {
        f.el.remove();
        map.delete(k);
      }
    }
  }

  function renderLamps(dev, lamps) {
    for (const l of lamps) {
      if (!l) continue;
      const f = fixture(dev, dev.lamps, `lamp:${str(l.zone)}`, () => {
        const root = el('div', 'lamp');
        root.dataset.testid = 'venue-lamp';
        const glow = el('span', 'lamp-glow');
        const label = el('span', 'fixture-label');
        root.append(glow, label);
        return { el: root, label };
      });
      const color = safeColor(l.color);
      const on = !!l.on && color !== '#000000';
      f.el.dataset.zoneId = str(l.zone);
      f.el.dataset.on = String(!!l.on);
      f.el.dataset.color = color;
      f.el.style.setProperty('--lamp', color);
      f.el.classList.toggle('is-on', on);
      f.label.textContent = zoneName(l.zone);
      f.el.title = `${zoneName(l.zone)}: ${l.on ? color : 'off'}`;
    }
    sweep(dev.lamps);
  }

  function renderRelays(dev, relays) {
    for (const r of relays) {
      if (!r) continue;
      const f = fixture(dev, dev.relays, `relay:${str(r.zone)}`, () => {
        const root = el('div', 'relay');
        root.dataset.testid = 'venue-relay';
        root.append(bulbIcon());
        const label = el('span', 'fixture-label');
        root.append(label);
        return { el: root, label };
      });
      f.el.dataset.zoneId = str(r.zone);
      f.el.dataset.on = String(!!r.on);
      f.el.classList.toggle('is-on', !!r.on);
      f.label.textContent = zoneName(r.zone);
      f.el.title = `${zoneName(r.zone)}: ${r.on ? 'on' : 'off'}`;
    }
    sweep(dev.relays);
  }

  function bulbIcon() {
    const NS = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 64 64');
    svg.setAttribute('aria-hidden', 'true');
    svg.classList.add('bulb');
    const glass = document.createElementNS(NS, 'path');
    glass.setAttribute('class', 'bulb-glass');
    glass.setAttribute('d', 'M32 6a18 18 0 0 0-10 33c2 1.5 3 3.5 3 6v3h14v-3c0-2.5 1-4.5 3-6A18 18 0 0 0 32 6z');
    const base = document.createElementNS(NS, 'path');
    base.setAttribute('class', 'bulb-base');
    base.setAttribute('d', 'M25 51h14v3H25zm1 5h12l-2 3h-8z');
    svg.append(glass, base);
    return svg;
  }

  // drawStrip draws the LEDs as dots, wrapping into rows when the strip is long.
  function drawStrip(canvas, pixels) {
    const n = pixels.length;
    const width = Math.max(120, canvas.parentElement.clientWidth - 2);
    // Even rows of dots no smaller than minPitch.
    const minPitch = width < 500 ? 9 : 11;
    const rows = Math.max(1, Math.ceil((n * minPitch) / width));
    const perRow = Math.max(1, Math.ceil(n / rows));
    const pitch = Math.min(22, width / perRow);
    const height = Math.ceil(rows * pitch + 8);
    const dpr = Math.min(3, window.devicePixelRatio || 1);
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const r = pitch * 0.32;
    const xOff = (width - Math.min(n, perRow) * pitch) / 2;
    let lit = 0;
    for (let i = 0; i < n; i++) {
      const c = safeColor(pixels[i]);
      const x = xOff + (i % perRow) * pitch + pitch / 2;
      const y = 4 + Math.floor(i / perRow) * pitch + pitch / 2;
      if (c === '#000000') {
        ctx.fillStyle = '#222838';
        ctx.beginPath();
        ctx.arc(x, y, r, 0, Math.PI * 2);
        ctx.fill();
        continue;
      }
      lit++;
      ctx.globalAlpha = 0.28;
      ctx.fillStyle = c;
      ctx.beginPath();
      ctx.arc(x, y, r * 1.9, 0, Math.PI * 2);
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.beginPath();
      ctx.arc(x, y, r, 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    canvas.setAttribute('aria-label', `LED strip, ${n} LEDs, ${lit} lit`);
  }

  window.addEventListener('resize', () => {
    if (venueData && !venueFrame) venueFrame = requestAnimationFrame(renderVenue);
  });
})();
