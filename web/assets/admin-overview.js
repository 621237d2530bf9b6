// Overview: viewers now, the two pause switches, stream health, the printer and the print queue, from
// the /admin namespace's `state` event.
import { $, arr, bitrate, el, num, setText, str, toMs, ago, duration } from './admin-util.js';

/** setupOverview wires the overview section to app. */
export function setupOverview(app) {
  const ui = {
    age: $('[data-testid="state-age"]'),
    viewers: $('[data-testid="ov-viewers"]'),
    lightsState: $('[data-testid="lights-state"]'),
    pauseLights: $('[data-testid="pause-lights"]'),
    printState: $('[data-testid="print-state"]'),
    pausePrint: $('[data-testid="pause-print"]'),
    depth: $('[data-testid="queue-depth"]'),
    counts: $('[data-testid="queue-counts"]'),
    printer: $('[data-testid="printer"]'),
    streams: $('[data-testid="streams"]'),
  };
  let paused = { lights: null, print: null };
  let stateAt = 0;
  let printer = null;
  let streams = [];

  function renderPause() {
    const lights = paused.lights;
    ui.pauseLights.dataset.paused = lights === null ? '' : String(lights);
    ui.pauseLights.textContent = lights ? 'Resume lights' : 'Pause lights';
    ui.pauseLights.setAttribute('aria-pressed', String(!!lights));
    ui.pauseLights.disabled = lights === null || !app.connected;
    ui.pauseLights.classList.toggle('btn-quiet', !lights);
    setText(ui.lightsState, lights === null ? '–' : lights ? 'Paused: viewers can’t change the lights' : 'Live: viewers may change the lights');
    ui.lightsState.dataset.paused = String(!!lights);

    const print = paused.print;
    const configured = print !== null && print !== undefined;
    ui.pausePrint.dataset.paused = configured ? String(print) : '';
    ui.pausePrint.textContent = print ? 'Resume printing' : 'Pause printing';
    ui.pausePrint.setAttribute('aria-pressed', String(!!print));
    ui.pausePrint.disabled = !configured || !app.connected;
    ui.pausePrint.classList.toggle('btn-quiet', !print);
    setText(ui.printState, !configured ? 'Not set up (no Discord bot or tips)' : print ? 'Paused: community messages wait' : 'Live: community messages print');
    ui.printState.dataset.paused = String(!!print);
  }

  async function togglePause(which, button) {
    const current = paused[which];
    if (current === null || current === undefined) return;
    const res = await app.act(() => app.api.post('/admin/api/pause', { [which]: !current }), {
      button,
      ok: which === 'lights' ? (!current ? 'Viewers’ lights paused.' : 'Viewers’ lights live again.') : !current ? 'Community printing paused.' : 'Community printing live again.',
    });
    if (res && res.paused) {
      paused = { lights: typeof res.paused.lights === 'boolean' ? res.paused.lights : paused.lights, print: typeof res.paused.print === 'boolean' ? res.paused.print : paused.print };
      renderPause();
    }
  }
  ui.pauseLights.addEventListener('click', () => togglePause('lights', ui.pauseLights));
  ui.pausePrint.addEventListener('click', () => togglePause('print', ui.pausePrint));

  function renderPrinter() {
    const p = printer;
    if (!p) {
      ui.printer.replaceChildren(el('p', { class: 'muted', text: 'No printer has reported yet.' }));
      ui.printer.dataset.state = 'none';
      return;
    }
    // The hub sends printer.PrinterState: known, online, ready, paperLow, paperOut, coverOpen, error (a
    // flag) and a summary in words; an error text is read too.
    const errorText = typeof p.error === 'string' ? p.error : '';
    const hasError = p.error === true || !!errorText;
    let state = 'ok';
    let headline = 'Ready';
    if (p.known === false) [state, headline] = ['stale', 'No report yet'];
    else if (p.stale) [state, headline] = ['stale', 'No news from the printer'];
    else if (!p.online) [state, headline] = ['bad', 'Offline'];
    else if (p.paperOut) [state, headline] = ['bad', 'Out of paper'];
    else if (p.coverOpen) [state, headline] = ['bad', 'Cover open'];
    else if (hasError) [state, headline] = ['bad', 'Printer error'];
    else if (p.paperLow) [state, headline] = ['warn', 'Paper low'];
    else if (p.ready === false) [state, headline] = ['warn', 'Not ready'];
    ui.printer.dataset.state = state;
    const facts = [];
    const summary = str(p.summary);
    if (summary && summary !== 'ready' && summary !== 'unknown') facts.push(summary);
    else if (p.paperLow && headline !== 'Paper low') facts.push('paper low');
    if (errorText) facts.push(errorText);
    const lines = [el('p', { class: `status status-${state}`, testid: 'printer-status', text: headline })];
    if (facts.length) lines.push(el('p', { class: 'tile-sub', text: facts.join(' · ') }));
    lines.push(el('p', { class: 'tile-sub', testid: 'printer-seen', text: seenText(p, Date.now()) }));
    ui.printer.replaceChildren(...lines);
  }

  function seenText(p, now) {
    const at = toMs(p.at);
    const agent = str(p.agent);
    return `${agent ? `${agent}, ` : ''}${at ? `reported ${ago(at, now)}` : 'no report'}`;
  }

  function renderStreams() {
    if (streams.length === 0) {
      ui.streams.replaceChildren(el('p', { class: 'muted', text: 'No stream is set up.' }));
      return;
    }
    const rows = streams.map((s) => {
      const live = !!s.live;
      const facts = [];
      if (live) {
        // source is {kind, remote} from the hub (the contract's plain string is read too).
        const kind = s.source && typeof s.source === 'object' ? str(s.source.kind) : str(s.source);
        facts.push({ whip: 'WHIP', rtsp: 'RTSP camera', 'test-pattern': 'test pattern' }[kind] || kind || 'unknown source');
        facts.push(bitrate(num(s.bitrate, num(s.bitrateBps, NaN))));
        if (num(s.fps) !== null) facts.push(`${Math.round(s.fps)} fps`);
        if (num(s.width) && num(s.height)) facts.push(`${s.width}×${s.height}`);
        if (str(s.codec)) facts.push(str(s.codec));
        if (num(s.dropped)) facts.push(`${s.dropped} packets dropped`);
        const since = toMs(s.since);
        if (since) facts.push(`live for ${duration((Date.now() - since) / 1000)}`);
      }
      const viewers = num(s.viewers, 0);
      return el('div', { class: 'stream', testid: 'stream', dataset: { live: String(live), name: str(s.name) } }, [
        el('p', { class: 'stream-head' }, [
          el('span', { class: 'stream-name', text: str(s.name) || 'stream' }),
          el('span', { class: `badge${live ? ' badge-live' : ''}`, text: live ? 'live' : 'not publishing' }),
          el('span', { class: 'muted', text: `${viewers} watching` }),
        ]),
        facts.length ? el('p', { class: 'tile-sub', text: facts.join(' · ') }) : null,
      ]);
    });
    ui.streams.replaceChildren(...rows);
  }

  app.on('state', (st) => {
    if (!st || typeof st !== 'object') return;
    stateAt = Date.now();
    const n = num(st.viewers);
    if (n !== null) setText(ui.viewers, n);
    if (st.paused && typeof st.paused === 'object') {
      paused = {
        lights: typeof st.paused.lights === 'boolean' ? st.paused.lights : null,
        print: typeof st.paused.print === 'boolean' ? st.paused.print : null,
      };
      renderPause();
    }
    streams = arr(st.streams).filter((s) => s && typeof s === 'object');
    renderStreams();
    printer = st.printer && typeof st.printer === 'object' ? st.printer : null;
    renderPrinter();
    const q = st.queue && typeof st.queue === 'object' ? st.queue : null;
    setText(ui.depth, q && num(q.depth) !== null ? q.depth : '–');
    const c = (q && q.counts) || {};
    setText(ui.counts, q ? `${num(c.queued, 0)} waiting · ${num(c.printing, 0)} printing · ${num(c.failed, 0)} failed` : '');
    setText(ui.age, 'Live');
  });

  app.on('tick', (now) => {
    if (!stateAt) return;
    // The hub sends state whenever it changes: while connected the picture is current.
    setText(ui.age, app.connected ? 'Live' : `Not connected: as of ${ago(stateAt, now)}`);
    if (printer) {
      const seen = $('[data-testid="printer-seen"]', ui.printer);
      if (seen) setText(seen, seenText(printer, now));
    }
  });

  app.on('connection', renderPause);

  app.on('logout', () => {
    paused = { lights: null, print: null };
    stateAt = 0;
    printer = null;
    streams = [];
    renderPause();
    setText(ui.viewers, '–');
    setText(ui.depth, '–');
    setText(ui.counts, '');
    setText(ui.age, '');
    renderPrinter();
    renderStreams();
  });
}
