// stagelink live video player. It plays the hub's stream over WebRTC (WHEP: an SDP offer POSTed to the
// hub, answered with every candidate, no trickle ICE; https://datatracker.ietf.org/doc/draft-ietf-wish-whep/)
// and falls back to LL-HLS when WebRTC can't get through: with hls.js (vendored, loaded only when needed)
// where the browser has Media Source Extensions, else with the browser's own HLS player (older iPhones).
// While on HLS it tries WebRTC again every 30 s. It reconnects by itself, with backoff, when the stream
// goes offline or the connection drops (the hub also drops viewers when the publisher changes codec).
//
// app.js creates it with the stage element and hands it the `stream` of each `hello`:
//   const player = window.stagelinkCreatePlayer(stageElement);
//   player.configure({whep, hls, iceServers});
// Tests read window.stagelinkPlayer: {mode, framesDecoded(), delayMs(), timing()}.
'use strict';

(() => {
  const GATHER_MS = 2000; // longest wait for ICE candidates before the offer goes out anyway
  const FIRST_FRAME_MS = 5000; // WebRTC that shows no picture this long after the answer counts as failed
  const STALL_MS = 4000; // no new frame this long on a live WebRTC session: reconnect
  const HLS_START_MS = 15000; // HLS that shows no picture this long: give up for now
  const HLS_STALL_MS = 10000; // no new HLS frame this long while the page is visible: start over
  const RETRY_WEBRTC_MS = 30000; // how often to try WebRTC again while HLS plays
  const BACKOFF_MIN_MS = 1000;
  const BACKOFF_MAX_MS = 15000;
  const TICK_MS = 1000;
  const HLS_SCRIPT = '/vendor/hls.light.min.js';
  const HLS_TYPE = 'application/vnd.apple.mpegurl';

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const str = (s) => (typeof s === 'string' ? s : '');

  // streamError is a refused WHEP POST: the HTTP status and the error code of the hub's JSON body.
  class StreamError extends Error {
    constructor(status, code, message) {
      super(message || `HTTP ${status}`);
      this.status = status;
      this.code = code;
    }
  }

  async function refusal(res) {
    let code = '';
    let message = '';
    try {
      const body = await res.json();
      code = str(body && body.error && body.error.code);
      message = str(body && body.error && body.error.message);
    } catch {
      // not JSON: a proxy's error page
    }
    return new StreamError(res.status, code, message || `HTTP ${res.status}`);
  }

  // WhepSession is one WebRTC playback session: a receive-only PeerConnection and the hub's resource
  // for it. close() ends both; it is safe to call more than once.
  class WhepSession {
    constructor(url, iceServers) {
      this.url = new URL(url, location.href).href;
      this.pc = new RTCPeerConnection({ iceServers });
      this.pc.addTransceiver('video', { direction: 'recvonly' });
      this.pc.addTransceiver('audio', { direction: 'recvonly' });
      this.abort = new AbortController();
      this.resource = '';
      this.stream = null;
      this.closed = false;
      this.failed = false; // the connection failed or the session was closed
      this.postAt = 0; // performance.now() when the offer went out
      this.decodedAt = 0; // performance.now() of the first poll that saw a decoded frame
      this.firstFrameAt = 0; // performance.now() of the first frame shown (requestVideoFrameCallback)
      this.frames = 0; // frames decoded, as of the last poll
      this.framesAt = 0; // when frames last grew
      this.packets = 0;
      this.delayMs = NaN;
      this.jitter = { delay: 0, count: 0 };
      this.onfail = null;
      this.pc.addEventListener('connectionstatechange', () => {
        if (this.pc.connectionState === 'failed') this.fail();
      });
    }

    fail() {
      if (this.failed) return;
      this.failed = true;
      if (this.onfail) this.onfail();
    }

    // open sends the offer and applies the answer. It throws a StreamError when the hub refuses.
    async open() {
      const pc = this.pc;
      await pc.setLocalDescription(await pc.createOffer());
      await window.stagelinkRTC.gathered(pc, GATHER_MS);
      if (this.closed) throw new Error('closed');
      this.postAt = performance.now();
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp' },
        body: pc.localDescription.sdp,
        cache: 'no-store',
        signal: this.abort.signal,
      });
      if (res.status !== 201) throw await refusal(res);
      const loc = res.headers.get('Location');
      if (loc) this.resource = new URL(loc, this.url).href;
      const sdp = await res.text();
      if (this.closed) throw new Error('closed');
      await pc.setRemoteDescription({ type: 'answer', sdp });
      const live = pc.getTransceivers().filter((t) => t.currentDirection === 'recvonly');
      this.stream = new MediaStream(live.map((t) => t.receiver.track));
      this.framesAt = performance.now();
    }

    // poll reads the session's statistics: frames decoded, and the delay estimate (jitter buffer over
    // the last poll plus half the round trip).
    async poll() {
      if (this.closed) return;
      const stats = await this.pc.getStats().catch(() => null); // closed meanwhile
      if (!stats) return;
      let video = null;
      let pairId = '';
      const pairs = [];
      stats.forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') video = r;
        else if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
        else if (r.type === 'candidate-pair') pairs.push(r);
      });
      if (!video) return;
      const frames = Number(video.framesDecoded) || 0;
      if (frames > this.frames) this.framesAt = performance.now();
      if (frames > 0 && !this.decodedAt) this.decodedAt = this.framesAt;
      this.frames = frames;
      this.packets = Number(video.packetsReceived) || 0;
      const delay = Number(video.jitterBufferDelay) || 0;
      const count = Number(video.jitterBufferEmittedCount) || 0;
      let jitterMs = NaN;
      if (count > this.jitter.count) jitterMs = ((delay - this.jitter.delay) / (count - this.jitter.count)) * 1000;
      else if (count > 0) jitterMs = (delay / count) * 1000;
      this.jitter = { delay, count };
      const pair = pairs.find((p) => p.id === pairId) || pairs.find((p) => p.nominated && p.state === 'succeeded');
      const rttMs = pair && Number.isFinite(pair.currentRoundTripTime) ? pair.currentRoundTripTime * 1000 : 0;
      if (Number.isFinite(jitterMs)) this.delayMs = jitterMs + rttMs / 2;
    }

    // close DELETEs the hub's resource, then closes the PeerConnection: closed first, the hub would end
    // the session on its own and answer the DELETE 404. When the page goes away (now), both at once;
    // keepalive lets the DELETE out anyway.
    close(now = false) {
      if (this.closed) return;
      this.closed = true;
      this.failed = true;
      this.abort.abort();
      if (!this.resource) {
        this.pc.close();
        return;
      }
      const deleted = fetch(this.resource, { method: 'DELETE', keepalive: true }).catch(() => {});
      if (now) this.pc.close();
      else Promise.race([deleted, sleep(1000)]).then(() => this.pc.close());
    }
  }

  // hls.js is loaded the first time HLS is needed: most viewers never need its 400 KB.
  let hlsScript = null;
  function loadHlsJs() {
    if (window.Hls) return Promise.resolve(window.Hls);
    if (!hlsScript) {
      hlsScript = new Promise((resolve, reject) => {
        const s = document.createElement('script');
        s.src = HLS_SCRIPT;
        s.onload = () => (window.Hls ? resolve(window.Hls) : reject(new Error('hls.js did not load')));
        s.onerror = () => {
          s.remove();
          hlsScript = null;
          reject(new Error('could not load hls.js'));
        };
        document.head.append(s);
      });
    }
    return hlsScript;
  }

  const hasMSE = () => {
    const MS = window.ManagedMediaSource || window.MediaSource;
    return !!(MS && MS.isTypeSupported && MS.isTypeSupported('video/mp4; codecs="avc1.42e01e"'));
  };

  function formatDelay(ms) {
    if (!Number.isFinite(ms) || ms <= 0) return '';
    if (ms < 10) return '< 10 ms';
    if (ms < 1000) return `≈ ${Math.round(ms / 10) * 10} ms`;
    return `≈ ${(ms / 1000).toFixed(1)} s`;
  }

  function createPlayer(root) {
    const video = root.querySelector('video');
    const ui = {
      state: root.querySelector('[data-testid="video-state"]'),
      stateText: root.querySelector('.video-state-text'),
      delay: root.querySelector('[data-testid="video-delay"]'),
      note: root.querySelector('[data-testid="video-note"]'),
      mute: root.querySelector('[data-testid="video-mute"]'),
      full: root.querySelector('[data-testid="video-fullscreen"]'),
      play: root.querySelector('[data-testid="video-play"]'),
    };

    let cfg = { whep: '', hls: '', iceServers: [] };
    let mode = 'off'; // off | connecting | webrtc | hls | offline
    let run = 0; // bumped whenever the player changes course: older async work sees it and stops
    let session = null; // the WhepSession on screen, or connecting
    let probe = null; // a WhepSession tried in the background while HLS plays
    let hls = null; // {destroy(), latencyMs(), frames()} while HLS plays
    let failures = 0; // in a row, for the backoff
    let retryTimer = 0;
    let probeTimer = 0;
    let tickTimer = 0;
    let framesBase = 0; // frames of the sources played before the current one
    let hlsFrames = 0;
    let hlsFramesAt = 0;
    // performance.now() of the current WebRTC session's offer POST, first decoded frame, first frame shown.
    const timing = { postAt: 0, decodedAt: 0, firstFrameAt: 0 };

    // ---- what the viewer sees ----

    const STATE_TEXT = { connecting: 'Connecting…', webrtc: 'Live', hls: 'Live · HLS', offline: 'Offline' };

    function setMode(m, note = '') {
      mode = m;
      root.dataset.mode = m;
      ui.state.dataset.state = m;
      ui.stateText.textContent = STATE_TEXT[m] || '';
      ui.state.title = m === 'webrtc' ? 'Live over WebRTC' : m === 'hls' ? 'Live over HLS (a few seconds behind)' : '';
      ui.note.textContent = note;
      ui.note.hidden = !note;
      if (m !== 'webrtc' && m !== 'hls') showDelay(NaN);
    }

    function showDelay(ms) {
      const text = formatDelay(ms);
      ui.delay.textContent = text;
      ui.delay.hidden = !text;
      ui.delay.title = text ? 'How far behind the stage the picture is' : '';
    }

    function showMuted() {
      const muted = video.muted;
      ui.mute.setAttribute('aria-label', muted ? 'Unmute' : 'Mute');
      ui.mute.title = muted ? 'Unmute' : 'Mute';
      ui.mute.dataset.muted = String(muted);
    }

    function play() {
      const p = video.play();
      if (!p) return;
      p.then(
        () => {
          ui.play.hidden = true;
        },
        (e) => {
          // NotAllowedError: the browser wants a tap first (autoplay off, power saving).
          // AbortError: the source changed meanwhile; the next play() call covers it.
          if (e && e.name === 'NotAllowedError') ui.play.hidden = false;
        },
      );
    }

    ui.mute.addEventListener('click', () => {
      video.muted = !video.muted;
      if (!video.muted && video.paused) play();
    });
    video.addEventListener('volumechange', showMuted);
    ui.play.addEventListener('click', () => {
      ui.play.hidden = true;
      play();
    });
    const canFullscreen = !!(root.requestFullscreen || video.webkitEnterFullscreen);
    ui.full.hidden = !canFullscreen;
    ui.full.addEventListener('click', () => {
      if (document.fullscreenElement) {
        document.exitFullscreen().catch(() => {});
      } else if (root.requestFullscreen) {
        root.requestFullscreen().catch(() => {});
      } else if (video.webkitEnterFullscreen) {
        video.webkitEnterFullscreen(); // iPhone: only the video element can go full screen
      }
    });
    document.addEventListener('fullscreenchange', () => {
      const on = document.fullscreenElement === root;
      ui.full.setAttribute('aria-label', on ? 'Exit full screen' : 'Full screen');
      ui.full.title = on ? 'Exit full screen' : 'Full screen';
      ui.full.dataset.on = String(on);
    });
    showMuted();

    // ---- course changes ----

    // currentFrames counts the frames the video element got from the current source.
    function currentFrames() {
      if ((session && session.stream && video.srcObject === session.stream) || hls) return video.getVideoPlaybackQuality().totalVideoFrames;
      return 0;
    }

    // stop ends whatever plays or connects and the timers; async work of the old course sees run change.
    // unloading: the page is going away.
    function stop(unloading = false) {
      run++;
      framesBase += currentFrames();
      clearTimeout(retryTimer);
      clearTimeout(probeTimer);
      clearInterval(tickTimer);
      retryTimer = probeTimer = tickTimer = 0;
      if (session) session.close(unloading);
      if (probe) probe.close(unloading);
      session = probe = null;
      if (hls) hls.destroy();
      hls = null;
      if (video.srcObject) video.srcObject = null;
      if (video.getAttribute('src')) {
        video.removeAttribute('src');
        video.load();
      }
    }

    function backoff() {
      const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(failures, 10));
      failures++;
      return Math.min(BACKOFF_MAX_MS, Math.round(base * (0.75 + Math.random() * 0.5)));
    }

    // offline shows that nothing plays and tries WebRTC again after the backoff.
    function offline(note) {
      stop();
      setMode('offline', note);
      retryTimer = setTimeout(playWebRTC, backoff());
    }

    // reconnect tries WebRTC again after the backoff, saying so.
    function reconnect() {
      stop();
      setMode('connecting');
      retryTimer = setTimeout(playWebRTC, backoff());
    }

    function startTick() {
      clearInterval(tickTimer);
      tickTimer = setInterval(tick, TICK_MS);
    }

    function attach(s) {
      video.srcObject = s.stream;
      play();
      if (video.requestVideoFrameCallback) {
        video.requestVideoFrameCallback((now) => {
          if (session === s && !s.firstFrameAt) s.firstFrameAt = now;
          if (session === s) timing.firstFrameAt = s.firstFrameAt;
        });
      }
    }

    // firstFrame waits until s has decoded a frame, for at most ms; false when it failed meanwhile.
    async function firstFrame(s, my, ms) {
      const end = performance.now() + ms;
      while (performance.now() < end && !s.failed && my === run) {
        await s.poll();
        if (s.frames > 0 || s.firstFrameAt) return true;
        await sleep(100);
      }
      return false;
    }

    async function playWebRTC() {
      stop();
      const my = run;
      if (!cfg.whep) return setMode('off');
      if (mode !== 'offline') setMode('connecting'); // while offline, the retries don't flicker
      let s;
      try {
        s = new WhepSession(cfg.whep, cfg.iceServers);
      } catch (e) {
        return playHLS(); // no WebRTC in this browser
      }
      session = s;
      try {
        await s.open();
      } catch (e) {
        if (my !== run) return;
        if (e instanceof StreamError && e.code === 'not_live') return offline('The stream is offline. It plays here when it’s back.');
        return playHLS();
      }
      if (my !== run) return;
      timing.postAt = s.postAt;
      timing.decodedAt = timing.firstFrameAt = 0;
      attach(s);
      if (!(await firstFrame(s, my, FIRST_FRAME_MS))) {
        if (my === run) playHLS();
        return;
      }
      timing.decodedAt = s.decodedAt;
      live(s);
    }

    // live makes s the session on screen, and watches it.
    function live(s) {
      failures = 0;
      s.onfail = () => {
        if (session === s) reconnect();
      };
      setMode('webrtc');
      startTick();
    }

    async function tick() {
      const my = run;
      if (mode === 'webrtc' && session) {
        const s = session;
        await s.poll();
        if (my !== run) return;
        showDelay(s.delayMs);
        if (performance.now() - s.framesAt > STALL_MS) reconnect();
      } else if (mode === 'hls' && hls) {
        showDelay(hls.latencyMs());
        const n = hls.frames();
        const now = performance.now();
        if (n > hlsFrames || document.visibilityState !== 'visible') {
          hlsFrames = n;
          hlsFramesAt = now;
        } else if (now - hlsFramesAt > HLS_STALL_MS) {
          offline('The video stopped. Reconnecting…');
        }
      }
    }

    // ---- HLS ----

    async function openHLS(url, onFatal) {
      if (hasMSE()) {
        const Hls = await loadHlsJs();
        if (Hls.isSupported()) {
          const h = new Hls({
            lowLatencyMode: true,
            enableWorker: false, // a blob: worker would need a looser Content-Security-Policy; fMP4 needs no transmuxing
            backBufferLength: 30,
          });
          h.on(Hls.Events.ERROR, (_, data) => {
            if (data && data.fatal) onFatal(`${data.type}: ${data.details}`);
          });
          h.loadSource(url);
          h.attachMedia(video);
          return {
            destroy: () => h.destroy(),
            latencyMs: () => (Number.isFinite(h.latency) ? h.latency * 1000 : NaN),
            frames: () => video.getVideoPlaybackQuality().totalVideoFrames,
          };
        }
      }
      if (video.canPlayType(HLS_TYPE)) {
        const ac = new AbortController();
        video.addEventListener('error', () => onFatal('the browser could not play the HLS stream'), { signal: ac.signal });
        video.src = url;
        return {
          destroy: () => ac.abort(),
          latencyMs: () => {
            const r = video.seekable;
            return r.length ? (r.end(r.length - 1) - video.currentTime) * 1000 : NaN;
          },
          frames: () => video.getVideoPlaybackQuality().totalVideoFrames,
        };
      }
      throw new Error('this browser plays neither WebRTC nor HLS');
    }

    async function playHLS() {
      stop();
      const my = run;
      if (!cfg.hls) return offline('The video can’t connect. Retrying…');
      if (mode !== 'offline') setMode('connecting');
      let h;
      try {
        h = await openHLS(new URL(cfg.hls, location.href).href, () => {
          // Out of hls.js's own error event: destroying it from inside its handler is asking for trouble.
          setTimeout(() => {
            if (my === run) offline('The video can’t connect. Retrying…');
          });
        });
      } catch (e) {
        if (my === run) offline('The video can’t connect. Retrying…');
        return;
      }
      if (my !== run) {
        h.destroy();
        return;
      }
      hls = h;
      play();
      const end = performance.now() + HLS_START_MS;
      while (my === run && h.frames() === 0) {
        if (performance.now() > end) return offline('The video can’t connect. Retrying…');
        await sleep(200);
      }
      if (my !== run) return;
      failures = 0;
      hlsFrames = h.frames();
      hlsFramesAt = performance.now();
      setMode('hls');
      startTick();
      probeTimer = setTimeout(probeWebRTC, RETRY_WEBRTC_MS);
    }

    // probeWebRTC tries WebRTC in the background while HLS plays, and switches over once it decodes.
    async function probeWebRTC() {
      const my = run;
      probeTimer = 0;
      let p;
      try {
        p = new WhepSession(cfg.whep, cfg.iceServers);
        probe = p;
        await p.open();
      } catch {
        if (p) p.close();
        if (my === run) probeTimer = setTimeout(probeWebRTC, RETRY_WEBRTC_MS);
        return;
      }
      const ok = my === run && (await firstFrame(p, my, FIRST_FRAME_MS));
      if (my !== run || probe !== p) {
        p.close();
        return;
      }
      probe = null;
      if (!ok) {
        p.close();
        probeTimer = setTimeout(probeWebRTC, RETRY_WEBRTC_MS);
        return;
      }
      stop();
      session = p;
      timing.postAt = p.postAt;
      timing.decodedAt = p.decodedAt;
      timing.firstFrameAt = 0;
      attach(p);
      live(p);
    }

    // ---- the page's side ----

    function configure(stream) {
      const next = {
        whep: str(stream && stream.whep),
        hls: str(stream && stream.hls),
        iceServers: (Array.isArray(stream && stream.iceServers) ? stream.iceServers : [])
          .filter((s) => s && (typeof s.urls === 'string' || Array.isArray(s.urls)))
          .map((s) => ({ urls: s.urls, ...(s.username ? { username: str(s.username) } : {}), ...(s.credential ? { credential: str(s.credential) } : {}) })),
      };
      const same = JSON.stringify(next) === JSON.stringify(cfg);
      cfg = next;
      if (same && mode !== 'offline' && mode !== 'off') return; // a reconnected socket: keep playing
      failures = 0;
      if (!cfg.whep) {
        stop();
        setMode('off');
        return;
      }
      playWebRTC();
    }

    // The hub's session ends with the page; a page restored from the back/forward cache starts over.
    window.addEventListener('pagehide', () => {
      stop(true);
      setMode('off');
    });
    window.addEventListener('pageshow', (ev) => {
      if (ev.persisted && cfg.whep) playWebRTC();
    });

    const state = Object.freeze({
      get mode() {
        return mode;
      },
      framesDecoded: () => framesBase + currentFrames(),
      delayMs: () => {
        if (mode === 'webrtc' && session) return session.delayMs;
        if (mode === 'hls' && hls) return hls.latencyMs();
        return NaN;
      },
      timing: () => ({ ...timing }),
    });
    Object.defineProperty(window, 'stagelinkPlayer', { value: state, configurable: true });
    setMode('off');
    return { configure };
  }

  window.stagelinkCreatePlayer = createPlayer;
})();
