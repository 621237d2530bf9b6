// stagelink browser publisher (publish.html): sends this browser's camera and microphone to the hub over
// WHIP (RFC 9725): an SDP offer with every ICE candidate POSTed to /whip/{stream} with the API token as a
// Bearer token; the 201 answer carries the hub's candidates and the session's URL, which a DELETE ends.
// H.264 is preferred (the hub also serves it over HLS), VP8 where the browser has no H.264 encoder.
//
// The API token is kept in sessionStorage: it lasts for this tab and is never written to disk.
// Tests read window.stagelinkPublisher: {state, codec, framesSent}.
'use strict';

(() => {
  const TOKEN_KEY = 'stagelink.apiToken';
  const STREAM_NAME = /^[a-z0-9-]{1,32}$/;
  const MAX_BITRATE = 2_500_000;
  const GATHER_MS = 2000;
  const STATS_MS = 1000;

  const $ = (sel) => document.querySelector(sel);
  const ui = {
    form: $('[data-testid="publish-form"]'),
    stream: $('[data-testid="stream"]'),
    token: $('[data-testid="token"]'),
    camera: $('[data-testid="camera"]'),
    mic: $('[data-testid="mic"]'),
    start: $('[data-testid="start"]'),
    stop: $('[data-testid="stop"]'),
    error: $('[data-testid="publish-error"]'),
    preview: $('[data-testid="preview"]'),
    state: $('[data-testid="publish-state"]'),
    stateText: $('[data-testid="publish-state"] .video-state-text'),
    stats: $('[data-testid="publish-stats"]'),
  };

  let media = null; // the camera and microphone
  let pub = null; // {pc, resource, token, video, audio} while publishing
  let run = 0; // bumped on every start and stop: older async work sees it and stops
  let state = 'idle'; // idle | connecting | live
  let statsTimer = 0;
  let codec = '';
  let framesSent = 0;
  let last = { bytes: 0, at: 0 };

  Object.defineProperty(window, 'stagelinkPublisher', {
    value: Object.freeze({
      get state() {
        return state;
      },
      get codec() {
        return codec;
      },
      get framesSent() {
        return framesSent;
      },
    }),
  });

  // ---- what the streamer sees ----

  const STATE_TEXT = { idle: 'Not live', connecting: 'Connecting…', live: 'Live' };
  const STATE_DOT = { idle: 'idle', connecting: 'connecting', live: 'webrtc' };

  function setState(s) {
    state = s;
    ui.state.dataset.state = STATE_DOT[s];
    ui.stateText.textContent = STATE_TEXT[s];
    ui.start.disabled = s !== 'idle';
    ui.stop.disabled = s === 'idle';
    ui.stream.disabled = s !== 'idle';
    ui.token.disabled = s !== 'idle';
    if (s === 'idle') {
      ui.stats.hidden = true;
      codec = '';
    }
  }

  function showError(msg) {
    ui.error.textContent = msg;
    ui.error.hidden = !msg;
  }

  try {
    ui.token.value = sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    // storage off: the streamer types the token each time
  }
  ui.token.addEventListener('input', () => {
    try {
      if (ui.token.value) sessionStorage.setItem(TOKEN_KEY, ui.token.value);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // as above
    }
  });

  // ---- camera and microphone ----

  function mediaError(e) {
    switch (e && e.name) {
      case 'NotAllowedError':
        return 'The browser blocked the camera. Allow it for this site, then try again.';
      case 'NotFoundError':
        return 'No camera found.';
      case 'NotReadableError':
        return 'The camera is busy: another app may be using it.';
      case 'OverconstrainedError':
        return 'This camera can’t be used. Pick another one.';
      case 'InsecureContext':
        return e.message;
      default:
        return `The camera could not start: ${(e && e.message) || e}`;
    }
  }

  // openMedia (re)starts the camera and microphone picked in the lists and, while live, sends them in
  // place of the old ones. Calls run one after the other, so the last pick wins.
  let opening = Promise.resolve();
  function openMedia() {
    const p = opening.then(openMediaNow);
    opening = p.catch(() => {});
    return p;
  }

  async function openMediaNow() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      const e = new Error('Going live from a browser needs HTTPS (or localhost).');
      e.name = 'InsecureContext';
      throw e;
    }
    const cam = ui.camera.value;
    const mic = ui.mic.value;
    const next = await navigator.mediaDevices.getUserMedia({
      video: {
        ...(cam ? { deviceId: { exact: cam } } : {}),
        width: { ideal: 1280 },
        height: { ideal: 720 },
        frameRate: { ideal: 30 },
      },
      audio: mic === 'none' ? false : { ...(mic ? { deviceId: { exact: mic } } : {}), echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    const video = next.getVideoTracks()[0];
    if (video && 'contentHint' in video) video.contentHint = 'motion'; // a stage moves: keep the frame rate
    if (pub) {
      await pub.video.sender.replaceTrack(video || null);
      await pub.audio.sender.replaceTrack(next.getAudioTracks()[0] || null);
    }
    if (media) for (const t of media.getTracks()) t.stop();
    media = next;
    ui.preview.srcObject = media;
    ui.preview.play().catch(() => {}); // muted preview: only a source change interrupts it
    await listDevices();
  }

  // listDevices fills the pickers, keeping the devices in use selected. Labels show once the camera is
  // allowed.
  async function listDevices() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const using = (kind) => {
      const t = media && (kind === 'videoinput' ? media.getVideoTracks()[0] : media.getAudioTracks()[0]);
      return t ? t.getSettings().deviceId || '' : '';
    };
    const fill = (select, kind, none) => {
      const want = using(kind) || select.value;
      const options = [];
      let n = 0;
      for (const d of devices) {
        if (d.kind !== kind || !d.deviceId) continue;
        n++;
        const o = document.createElement('option');
        o.value = d.deviceId;
        o.textContent = d.label || `${kind === 'videoinput' ? 'Camera' : 'Microphone'} ${n}`;
        options.push(o);
      }
      if (none) {
        const o = document.createElement('option');
        o.value = 'none';
        o.textContent = none;
        options.push(o);
      }
      if (options.length === 0) {
        const o = document.createElement('option');
        o.value = '';
        o.textContent = 'Default';
        options.push(o);
      }
      select.replaceChildren(...options);
      if (options.some((o) => o.value === want)) select.value = want;
    };
    fill(ui.camera, 'videoinput', '');
    fill(ui.mic, 'audioinput', 'No microphone');
    if (media && media.getAudioTracks().length === 0) ui.mic.value = 'none';
  }

  for (const select of [ui.camera, ui.mic]) {
    select.addEventListener('change', () => {
      openMedia().then(() => showError(''), (e) => showError(mediaError(e)));
    });
  }
  if (navigator.mediaDevices) {
    navigator.mediaDevices.addEventListener('devicechange', () => listDevices().catch(() => {}));
  }

  // ---- WHIP ----

  // iceServers asks the hub for its STUN and TURN servers (RFC 9725 §4.6: Link headers of an OPTIONS).
  async function iceServers(url) {
    try {
      const res = await fetch(url, { method: 'OPTIONS', cache: 'no-store' });
      return parseLinks(res.headers.get('Link') || '');
    } catch {
      return [];
    }
  }

  function parseLinks(header) {
    const out = [];
    for (const link of header.split(/,(?=\s*<)/)) {
      const m = link.match(/<([^>]+)>(.*)/);
      if (!m) continue;
      const params = {};
      for (const p of m[2].split(';')) {
        const kv = p.trim().match(/^([\w-]+)\s*=\s*"?([^"]*)"?$/);
        if (kv) params[kv[1].toLowerCase()] = kv[2];
      }
      if (params.rel !== 'ice-server') continue;
      out.push(params.username ? { urls: m[1], username: params.username, credential: params.credential || '' } : { urls: m[1] });
    }
    return out;
  }

  // preferH264 puts H.264 (packetization-mode 1, constrained baseline first) ahead of VP8 and the rest:
  // the hub takes the publisher's order.
  function preferH264(transceiver) {
    if (!transceiver.setCodecPreferences || !RTCRtpSender.getCapabilities) return;
    const caps = RTCRtpSender.getCapabilities('video');
    if (!caps) return;
    const rank = (c) => {
      const type = c.mimeType.toLowerCase();
      const fmtp = c.sdpFmtpLine || '';
      if (type === 'video/h264' && fmtp.includes('packetization-mode=1')) return fmtp.includes('profile-level-id=42e0') ? 0 : 1;
      if (type === 'video/vp8') return 2;
      if (['video/rtx', 'video/red', 'video/ulpfec', 'video/flexfec-03'].includes(type)) return 4;
      return 3;
    };
    try {
      transceiver.setCodecPreferences([...caps.codecs].sort((a, b) => rank(a) - rank(b)));
    } catch {
      // the browser's default order then
    }
  }

  async function refusal(res, stream) {
    let message = '';
    try {
      const body = await res.json();
      message = (body && body.error && body.error.message) || '';
    } catch {
      // not JSON
    }
    switch (res.status) {
      case 401:
        return 'The API token is wrong.';
      case 409:
        return `Someone else is live on “${stream}” right now.`;
      default:
        return `The hub said no (HTTP ${res.status})${message ? `: ${message}` : '.'}`;
    }
  }

  async function start() {
    showError('');
    const stream = ui.stream.value.trim();
    const token = ui.token.value.trim();
    if (!STREAM_NAME.test(stream)) {
      showError('A stream name is 1 to 32 lower-case letters, digits and dashes.');
      ui.stream.focus();
      return;
    }
    if (!token) {
      showError('Enter the API token: the hub prints it when it starts.');
      ui.token.focus();
      return;
    }
    const my = ++run;
    setState('connecting');
    try {
      await opening; // the camera may still be starting
      if (!media || !media.getVideoTracks().some((t) => t.readyState === 'live')) await openMedia();
    } catch (e) {
      if (my === run) fail(mediaError(e));
      return;
    }
    if (my !== run) return;
    try {
      const url = new URL(`/whip/${stream}`, location.href).href;
      const pc = new RTCPeerConnection({ iceServers: await iceServers(url) });
      const video = pc.addTransceiver(media.getVideoTracks()[0], {
        direction: 'sendonly',
        streams: [media],
        sendEncodings: [{ maxBitrate: MAX_BITRATE, maxFramerate: 30 }],
      });
      preferH264(video);
      // Always an audio m-line, so a microphone picked later can join without a new session.
      const audio = pc.addTransceiver(media.getAudioTracks()[0] || 'audio', { direction: 'sendonly', streams: [media] });
      pub = { pc, resource: '', token, video, audio };
      if (my !== run) return;
      pc.addEventListener('connectionstatechange', () => {
        if (pub && pub.pc === pc) onConnection(pc.connectionState);
      });
      await pc.setLocalDescription(await pc.createOffer());
      await window.stagelinkRTC.gathered(pc, GATHER_MS);
      if (my !== run) return;
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
        body: pc.localDescription.sdp,
        cache: 'no-store',
      });
      if (my !== run) {
        if (res.ok && res.headers.get('Location')) remove(new URL(res.headers.get('Location'), url).href, token);
        return;
      }
      if (res.status !== 201) {
        const msg = await refusal(res, stream);
        if (my === run) fail(msg);
        return;
      }
      pub.resource = new URL(res.headers.get('Location') || url, url).href;
      const sdp = await res.text();
      if (my !== run) return;
      await pc.setRemoteDescription({ type: 'answer', sdp });
      // A stage moves: lower the resolution before the frame rate when the network or CPU is short.
      const params = video.sender.getParameters();
      params.degradationPreference = 'maintain-framerate';
      await video.sender.setParameters(params).catch(() => {});
    } catch (e) {
      if (my === run) fail(`Could not go live: ${(e && e.message) || e}`);
    }
  }

  function onConnection(s) {
    if (s === 'connected') {
      setState('live');
      showError('');
      if (!statsTimer) statsTimer = setInterval(showStats, STATS_MS);
    } else if (s === 'disconnected') {
      showError('The connection is unstable…');
    } else if (s === 'failed') {
      fail('The connection to the hub dropped. Press Go live to start again.');
    }
  }

  // remove DELETEs the session's resource; keepalive: the DELETE still goes out when the page is going away.
  function remove(resource, token) {
    return fetch(resource, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` }, keepalive: true }).catch(() => {});
  }

  // stop ends the session; the preview keeps running. The PeerConnection closes once the hub has the
  // DELETE: closed first, the hub would end the session on its own and answer the DELETE 404.
  function stop(unloading = false) {
    run++;
    clearInterval(statsTimer);
    statsTimer = 0;
    if (pub) {
      const { pc, resource, token } = pub;
      if (resource && !unloading) remove(resource, token).finally(() => pc.close());
      else {
        if (resource) remove(resource, token);
        pc.close();
      }
      pub = null;
    }
    last = { bytes: 0, at: 0 };
    setState('idle');
  }

  function fail(msg) {
    stop();
    showError(msg);
  }

  async function showStats() {
    if (!pub) return;
    const pc = pub.pc;
    const stats = await pc.getStats().catch(() => null);
    if (!stats || !pub || pub.pc !== pc) return;
    let out = null;
    stats.forEach((r) => {
      if (r.type === 'outbound-rtp' && r.kind === 'video') out = r;
    });
    if (!out) return;
    const c = out.codecId && stats.get(out.codecId);
    codec = c ? c.mimeType.replace(/^video\//i, '') : '';
    framesSent = Number(out.framesSent) || 0;
    const now = performance.now();
    const bytes = Number(out.bytesSent) || 0;
    const kbps = last.at ? ((bytes - last.bytes) * 8) / (now - last.at) : 0;
    last = { bytes, at: now };
    const parts = [codec, out.frameWidth ? `${out.frameWidth}×${out.frameHeight}` : '', out.framesPerSecond ? `${Math.round(out.framesPerSecond)} fps` : '', kbps ? `${(kbps / 1000).toFixed(1)} Mbit/s` : ''];
    if (out.qualityLimitationReason && out.qualityLimitationReason !== 'none') parts.push(`limited by ${out.qualityLimitationReason}`);
    ui.stats.textContent = parts.filter(Boolean).join(' · ');
    ui.stats.hidden = !ui.stats.textContent;
  }

  ui.form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (state === 'idle') start();
  });
  ui.stop.addEventListener('click', () => {
    stop();
    showError('');
  });
  window.addEventListener('beforeunload', (ev) => {
    if (state !== 'idle') ev.preventDefault(); // "Leave the page?": leaving ends the stream
  });
  window.addEventListener('pagehide', () => {
    if (pub) stop(true);
  });

  setState('idle');
  openMedia().catch((e) => {
    showError(mediaError(e));
    if (navigator.mediaDevices) listDevices().catch(() => {});
  });
})();
