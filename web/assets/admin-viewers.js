// Viewers: how many watch, the live activity feed (who set what, refusals with their code, prints) and
// blocking viewers by display name or IP address.
import { $, arr, button, clock, el, num, setText, showIf, str, toMs, ago } from './admin-util.js';

const FEED_MAX = 200;
const KIND_TEXT = { light: 'light', refused: 'refused', print: 'print', admin: 'dashboard' };

/** setupViewers wires the viewers section to app. */
export function setupViewers(app) {
  const ui = {
    count: $('[data-testid="viewers-count"]'),
    feed: $('[data-testid="activity"]'),
    feedEmpty: $('[data-testid="activity-empty"]'),
    filter: $('[data-testid="activity-filter"]'),
    blocks: $('[data-testid="blocks"]'),
    blocksEmpty: $('[data-testid="blocks-empty"]'),
    form: $('[data-testid="block-form"]'),
    kind: $('[data-testid="block-kind"]'),
    value: $('[data-testid="block-value"]'),
    reason: $('[data-testid="block-reason"]'),
    error: $('[data-testid="block-error"]'),
  };
  let blocks = [];

  // ---- the activity feed, newest on top ----

  function feedItem(a) {
    const kind = KIND_TEXT[a.kind] ? a.kind : 'admin';
    const at = toMs(a.at) || Date.now();
    const who = str(a.who);
    const ip = str(a.ip);
    const code = str(a.code);
    const actions = [];
    if (who && kind !== 'admin') {
      actions.push(button('Block name', {
        class: 'btn btn-tiny btn-quiet', testid: 'activity-block-name', 'aria-label': `Block the name ${who}`,
        on: { click: () => block('name', who) },
      }));
    }
    if (ip) {
      actions.push(button('Block IP', {
        class: 'btn btn-tiny btn-quiet', testid: 'activity-block-ip', 'aria-label': `Block the IP address ${ip}`,
        on: { click: () => block('ip', ip) },
      }));
    }
    const li = el('li', { class: 'feed-item', testid: 'activity-item', dataset: { kind, code, zone: str(a.zone), who } }, [
      el('time', { class: 'feed-time', datetime: new Date(at).toISOString(), text: clock(at) }),
      el('span', { class: `badge badge-${kind}`, text: KIND_TEXT[kind] }),
      el('span', { class: 'feed-body' }, [
        el('strong', { class: 'feed-who', text: who || (kind === 'admin' ? '' : 'anonymous') }),
        ip ? el('span', { class: 'muted small', text: ` ${ip}` }) : null,
        str(a.zone) ? el('span', { class: 'feed-zone', text: ` · ${str(a.zone)}` }) : null,
        str(a.text) ? el('span', { class: 'feed-text', text: ` ${str(a.text)}` }) : null,
        code ? el('span', { class: 'badge badge-code', testid: 'activity-code', text: code }) : null,
      ]),
      actions.length ? el('span', { class: 'btn-row feed-actions' }, actions) : null,
    ]);
    li.hidden = !!ui.filter.value && ui.filter.value !== kind;
    return li;
  }

  app.on('activity', (msg) => {
    const items = arr(msg && msg.items).filter((a) => a && typeof a === 'object');
    if (items.length === 0) return;
    // The batch is oldest first: prepend each so the newest ends on top.
    const frag = document.createDocumentFragment();
    for (const a of items.slice(-FEED_MAX)) frag.prepend(feedItem(a));
    ui.feed.prepend(frag);
    while (ui.feed.children.length > FEED_MAX) ui.feed.lastElementChild.remove();
    showIf(false, ui.feedEmpty);
  });

  // On every (re)connect the hub sends its recent activity again: start the list over.
  app.on('connection', (up) => {
    if (!up) return;
    ui.feed.replaceChildren();
    showIf(true, ui.feedEmpty);
  });

  ui.filter.addEventListener('change', () => {
    const want = ui.filter.value;
    for (const li of ui.feed.children) li.hidden = !!want && li.dataset.kind !== want;
  });

  // ---- blocks ----

  function renderBlocks() {
    const items = blocks.map((b) => {
      const kind = b.kind === 'ip' ? 'ip' : 'name';
      const value = str(b.value);
      const at = toMs(b.at);
      const unblock = button('Unblock', {
        class: 'btn btn-small btn-quiet', testid: 'unblock', 'aria-label': `Unblock ${value}`,
        on: { click: () => unblockOne(kind, value, unblock) },
      });
      const meta = [str(b.reason), str(b.by) ? `by ${str(b.by)}` : '', at ? ago(at) : ''].filter(Boolean).join(' · ');
      return el('li', { class: 'list-item', testid: 'block', dataset: { kind, value } }, [
        el('div', { class: 'grow' }, [
          el('span', { class: 'badge', text: kind === 'ip' ? 'IP' : 'name' }),
          el('strong', { class: 'block-value', text: ` ${value}` }),
          meta ? el('p', { class: 'muted small', text: meta }) : null,
        ]),
        unblock,
      ]);
    });
    ui.blocks.replaceChildren(...items);
    showIf(blocks.length === 0, ui.blocksEmpty);
  }

  function setBlocks(list) {
    blocks = arr(list).filter((b) => b && typeof b === 'object' && typeof b.value === 'string');
    renderBlocks();
  }

  async function refreshBlocks() {
    const res = await app.act(() => app.api.get('/admin/api/blocks'));
    if (res) setBlocks(res.blocks);
  }

  async function sendBlock(kind, value, reason, opts) {
    const res = await app.act(() => app.api.post('/admin/api/blocks', { kind, value, reason }), { ...opts, ok: `${kind === 'ip' ? 'IP address' : 'Name'} ${value} blocked.` });
    if (res) refreshBlocks();
    return res;
  }

  async function block(kind, value) {
    const { ok, reason } = await app.confirm({
      text: kind === 'ip' ? `Block the IP address ${value}? Everyone behind it loses control of the lights.` : `Block the name “${value}”?`,
      yes: 'Block',
      reason: true,
    });
    if (ok) await sendBlock(kind, value, reason);
  }

  async function unblockOne(kind, value, btn) {
    const q = new URLSearchParams({ kind, value });
    const res = await app.act(() => app.api.del(`/admin/api/blocks?${q}`), { button: btn, ok: `${value} unblocked.` });
    if (res) refreshBlocks();
  }

  ui.form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const value = ui.value.value.trim();
    if (!value) return;
    const res = await sendBlock(ui.kind.value === 'ip' ? 'ip' : 'name', value, ui.reason.value.trim(), {
      button: $('[type="submit"]', ui.form),
      errorEl: ui.error,
    });
    if (res) ui.form.reset();
  });

  app.on('state', (st) => {
    if (!st || typeof st !== 'object') return;
    const n = num(st.viewers);
    if (n !== null) setText(ui.count, n);
    if (Array.isArray(st.blocks)) setBlocks(st.blocks);
  });

  app.on('logout', () => {
    ui.feed.replaceChildren();
    showIf(true, ui.feedEmpty);
    setBlocks([]);
    setText(ui.count, '–');
  });
}
