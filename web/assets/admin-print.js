// Print: the queue and history of print jobs (live from the `prints` event, filtered and older pages
// from the API), retry and cancel, the receipt as a picture, printing a message, and the moderation log.
import { $, arr, button, el, money, num, setText, showIf, str, toMs, when } from './admin-util.js';

const PAGE = 50;
const STATE_TEXT = { queued: 'pending', printing: 'printing', failed: 'failed', cancelled: 'cancelled', printed: 'printed' };
const SOURCE_TEXT = { discord: 'Discord', tip: 'tip', web: 'web', admin: 'dashboard' };
const REFETCH_MS = 2000;

/** setupPrint wires the print section to app. */
export function setupPrint(app) {
  const ui = {
    summary: $('[data-testid="print-summary"]'),
    table: $('[data-testid="prints-table"]'),
    body: $('[data-testid="prints-table"] tbody'),
    empty: $('[data-testid="prints-empty"]'),
    filter: $('[data-testid="print-filter"]'),
    older: $('[data-testid="prints-older"]'),
    form: $('[data-testid="print-form"]'),
    author: $('[data-testid="print-author"]'),
    text: $('[data-testid="print-text"]'),
    error: $('[data-testid="print-error"]'),
    dialog: $('[data-testid="receipt-dialog"]'),
    caption: $('[data-testid="receipt-caption"]'),
    img: $('[data-testid="receipt-img"]'),
    imgError: $('[data-testid="receipt-error"]'),
    refusals: $('[data-testid="refusals"] tbody'),
    refusalsTable: $('[data-testid="refusals"]'),
    refusalsEmpty: $('[data-testid="refusals-empty"]'),
    refusalsRefresh: $('[data-testid="refusals-refresh"]'),
  };

  let live = []; // the latest jobs, from the socket
  let fetched = []; // the filtered list, or older pages of the unfiltered one
  let more = false;
  let refetchTimer = 0;
  let loading = 0; // generation of the newest request, so a slow answer can't overwrite a newer one

  const isJob = (j) => j && typeof j === 'object' && (typeof j.id === 'string' || typeof j.id === 'number');

  function shown() {
    if (ui.filter.value) return fetched;
    const ids = new Set(live.map((j) => String(j.id)));
    return [...live, ...fetched.filter((j) => !ids.has(String(j.id)))];
  }

  function render() {
    const jobs = shown();
    const rows = jobs.map((j) => {
      const id = String(j.id);
      const state = STATE_TEXT[j.state] ? j.state : 'queued';
      const created = toMs(j.createdAt);
      const amount = num(j.amount);
      const from = [SOURCE_TEXT[j.source] || str(j.source), str(j.author)].filter(Boolean).join(': ');
      const actions = [button('Receipt', { class: 'btn btn-tiny btn-quiet', testid: 'print-preview', 'aria-label': `Show the receipt of job ${id}`, on: { click: () => preview(j) } })];
      if (state === 'failed' || state === 'cancelled') {
        const b = button('Retry', { class: 'btn btn-tiny', testid: 'print-retry', on: { click: () => jobAction(j, 'retry', b) } });
        actions.push(b);
      }
      if (state === 'queued') {
        const b = button('Cancel', { class: 'btn btn-tiny btn-quiet', testid: 'print-cancel', on: { click: () => jobAction(j, 'cancel', b) } });
        actions.push(b);
      }
      return el('tr', { testid: 'print-row', dataset: { id, state } }, [
        el('td', { class: 'nowrap', text: when(created) }),
        el('td', {}, [
          el('span', { text: from }),
          amount ? el('span', { class: 'muted small', text: ` ${money(amount, str(j.currency))}` }) : null,
        ]),
        el('td', { class: 'message-cell', text: str(j.text) }),
        el('td', {}, [
          el('span', { class: `badge badge-${state}`, testid: 'print-state', text: STATE_TEXT[state] }),
          str(j.reason) ? el('p', { class: 'muted small', text: str(j.reason) }) : null,
        ]),
        el('td', {}, [el('div', { class: 'btn-row' }, actions)]),
      ]);
    });
    ui.body.replaceChildren(...rows);
    showIf(jobs.length === 0, ui.empty);
    ui.table.hidden = jobs.length === 0;
    ui.older.hidden = !more;
  }

  async function fetchJobs({ append = false } = {}) {
    const gen = ++loading;
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (ui.filter.value) q.set('state', ui.filter.value);
    if (append) {
      const list = shown();
      const last = list[list.length - 1];
      const before = last && toMs(last.createdAt);
      if (before) q.set('before', new Date(before).toISOString());
    }
    const res = await app.act(() => app.api.get(`/admin/api/prints?${q}`), { button: append ? ui.older : undefined });
    if (!res || gen !== loading) return;
    const jobs = arr(res.jobs).filter(isJob);
    fetched = append ? [...fetched, ...jobs] : jobs;
    more = jobs.length >= PAGE;
    render();
  }

  ui.filter.addEventListener('change', () => {
    fetched = [];
    more = false;
    if (ui.filter.value) fetchJobs();
    else {
      more = live.length >= PAGE;
      render();
    }
  });
  ui.older.addEventListener('click', () => fetchJobs({ append: true }));

  function refetchSoon() {
    if (refetchTimer) return;
    refetchTimer = setTimeout(() => {
      refetchTimer = 0;
      if (app.account && ui.filter.value) fetchJobs();
    }, REFETCH_MS);
  }

  app.on('prints', (msg) => {
    live = arr(msg && msg.jobs).filter(isJob);
    if (ui.filter.value) refetchSoon();
    else {
      if (fetched.length === 0) more = live.length >= PAGE;
      render();
    }
  });

  async function jobAction(job, action, btn) {
    const res = await app.act(() => app.api.post(`/admin/api/prints/${encodeURIComponent(job.id)}/${action}`), {
      button: btn,
      ok: action === 'retry' ? 'The job is queued again.' : 'The job is cancelled.',
    });
    if (res && ui.filter.value) refetchSoon();
  }

  // ---- the receipt picture ----

  function preview(job) {
    const id = String(job.id);
    ui.imgError.hidden = true;
    ui.img.hidden = false;
    setText(ui.caption, `${str(job.author) || 'Someone'} · ${when(toMs(job.createdAt))} · ${STATE_TEXT[job.state] || str(job.state)}`);
    ui.img.alt = `Receipt of ${str(job.author) || 'a message'}: ${str(job.text)}`.slice(0, 300);
    ui.img.dataset.job = id;
    ui.img.src = `/admin/api/prints/${encodeURIComponent(id)}/receipt.png`;
    if (!ui.dialog.open) ui.dialog.showModal();
  }
  ui.img.addEventListener('error', () => {
    if (!ui.dialog.open) return;
    ui.img.hidden = true;
    ui.imgError.hidden = false;
  });
  ui.dialog.addEventListener('close', () => {
    ui.img.removeAttribute('src');
  });

  // ---- printing a message ----

  ui.form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = ui.text.value.trim();
    if (!text) {
      app.showError({ message: 'Write a message first.' }, ui.error);
      return;
    }
    const res = await app.act(() => app.api.post('/admin/api/prints', { author: ui.author.value.trim(), text }), {
      button: $('[type="submit"]', ui.form),
      errorEl: ui.error,
      ok: 'Sent to the printer.',
    });
    if (res) ui.text.value = '';
  });

  // ---- the moderation log ----

  async function loadRefusals() {
    const res = await app.act(() => app.api.get('/admin/api/refusals'), { button: ui.refusalsRefresh });
    if (!res) return;
    const list = arr(res.refusals).filter((r) => r && typeof r === 'object');
    ui.refusals.replaceChildren(...list.map((r) => el('tr', { testid: 'refusal', dataset: { code: str(r.code) } }, [
      el('td', { class: 'nowrap', text: when(toMs(r.at)) }),
      el('td', { text: [SOURCE_TEXT[r.source] || str(r.source), str(r.author)].filter(Boolean).join(': ') }),
      el('td', {}, [el('span', { class: 'badge badge-code', text: str(r.code) }), str(r.reason) ? el('span', { class: 'small', text: ` ${str(r.reason)}` }) : null]),
      el('td', { class: 'message-cell', text: str(r.text) }),
    ])));
    showIf(list.length === 0, ui.refusalsEmpty);
    ui.refusalsTable.hidden = list.length === 0;
  }
  ui.refusalsRefresh.addEventListener('click', loadRefusals);

  let refusalTimer = 0;
  app.on('activity', (msg) => {
    // A refused message shows in the feed: bring the log up to date, at most every few seconds.
    if (!arr(msg && msg.items).some((a) => a && (a.kind === 'print' || (a.kind === 'refused' && !a.zone)))) return;
    if (refusalTimer) return;
    refusalTimer = setTimeout(() => {
      refusalTimer = 0;
      if (app.account) loadRefusals();
    }, 3000);
  });

  app.on('state', (st) => {
    const q = st && st.queue;
    if (!q || typeof q !== 'object') return;
    const c = q.counts || {};
    setText(ui.summary, `${num(q.depth, 0)} in the queue · ${num(c.printing, 0)} printing · ${num(c.failed, 0)} failed`);
  });

  app.on('login', () => {
    loadRefusals();
  });

  app.on('logout', () => {
    live = [];
    fetched = [];
    more = false;
    clearTimeout(refetchTimer);
    refetchTimer = 0;
    ui.filter.value = '';
    render();
    ui.refusals.replaceChildren();
    setText(ui.summary, '');
  });

  render();
}
