// stagelink dashboard (/admin): the streamer's and moderators' page. It logs in against /admin/api/*,
// listens to the /admin Socket.IO namespace for live state, and hands each section's work to a module:
// overview, zones and presets, viewers, print, charts, the page editor, tokens and accounts.
// Plain browser JavaScript modules, no build step; /vendor/socket.io.min.js defines window.io.
//
// Everything the hub sends that people wrote (display names, messages, zone names, page content) goes on
// the page with textContent or createElement, never as HTML.
import { createApi } from './admin-api.js';
import { $, $$, el, str } from './admin-util.js';
import { setupOverview } from './admin-overview.js';
import { setupZones } from './admin-zones.js';
import { setupViewers } from './admin-viewers.js';
import { setupPrint } from './admin-print.js';
import { setupCharts } from './admin-charts.js';
import { setupPageEditor } from './admin-page.js';
import { setupManage } from './admin-manage.js';

const TOAST_MS = 6000;
const TOAST_ERROR_MS = 12000;
const TOASTS_SHOWN = 4;
const SOCKET_EVENTS = ['state', 'activity', 'series', 'prints', 'page'];

const ui = {
  body: document.body,
  skip: $('.skip'),
  conn: $('[data-testid="connection"]'),
  connText: $('.conn-text'),
  toasts: $('[data-testid="toasts"]'),
  auth: $('[data-testid="auth"]'),
  authNote: $('[data-testid="auth-note"]'),
  dash: $('[data-testid="dashboard"]'),
  login: $('[data-testid="login-form"]'),
  loginName: $('[data-testid="login-name"]'),
  loginPassword: $('[data-testid="login-password"]'),
  loginError: $('[data-testid="login-error"]'),
  setup: $('[data-testid="setup-form"]'),
  setupName: $('[data-testid="setup-name"]'),
  setupPassword: $('[data-testid="setup-password"]'),
  setupRepeat: $('[data-testid="setup-repeat"]'),
  setupError: $('[data-testid="setup-error"]'),
  setupHint: $('[data-testid="setup-hint"]'),
  account: $('[data-testid="account-menu"]'),
  accountName: $('[data-testid="account-name"]'),
  accountRole: $('[data-testid="account-role"]'),
  topViewers: $('[data-testid="top-viewers"]'),
  topViewerCount: $('[data-testid="top-viewer-count"]'),
  password: $('[data-testid="password-dialog"]'),
  passwordForm: $('[data-testid="password-form"]'),
  passwordError: $('[data-testid="password-error"]'),
  confirm: $('[data-testid="confirm-dialog"]'),
  confirmText: $('[data-testid="confirm-text"]'),
  confirmYes: $('[data-testid="confirm-yes"]'),
  confirmReasonField: $('[data-testid="confirm-reason-field"]'),
  confirmReason: $('[data-testid="confirm-reason"]'),
};

// ---- a tiny event bus between the socket, the session and the sections ----

const listeners = new Map();

/** app is what the section modules get: the API client, the session, messages and the event bus. */
const app = {
  api: null,
  account: null,
  connected: false,
  isAdmin: () => !!app.account && app.account.role === 'admin',
  on(event, fn) {
    if (!listeners.has(event)) listeners.set(event, []);
    listeners.get(event).push(fn);
  },
  emit(event, data) {
    for (const fn of listeners.get(event) || []) {
      try {
        fn(data);
      } catch (err) {
        console.error(`dashboard: handling ${event}:`, err);
      }
    }
  },
  notify,
  showError,
  act,
  confirm: askConfirm,
};

// ---- messages ----

/** notify shows a short message in the corner: kind "ok", "info" or "error". */
function notify(text, kind = 'info') {
  const close = el('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', text: '×' });
  const toast = el('div', { class: 'toast', testid: 'toast', dataset: { kind }, role: kind === 'error' ? 'alert' : 'status' }, [
    el('p', { text }),
    close,
  ]);
  close.addEventListener('click', () => toast.remove());
  ui.toasts.append(toast);
  while (ui.toasts.children.length > TOASTS_SHOWN) ui.toasts.firstElementChild.remove();
  setTimeout(() => toast.remove(), kind === 'error' ? TOAST_ERROR_MS : TOAST_MS);
}

/**
 * showError tells the user why a request failed: next to the form (errorEl) when there is one, else in a
 * toast. An expired session says nothing here: the login form takes over.
 */
function showError(err, errorEl) {
  if (err && err.sessionEnded) return;
  const text = (err && err.message) || 'Something went wrong.';
  if (errorEl) {
    errorEl.textContent = text;
    errorEl.hidden = false;
  } else {
    notify(text, 'error');
  }
}

/**
 * act runs one request for a button or form: it disables the button meanwhile, clears and shows errors,
 * and toasts ok on success. It resolves with fn's result, or undefined when it failed.
 */
async function act(fn, { button, errorEl, ok } = {}) {
  if (errorEl) errorEl.hidden = true;
  const wasDisabled = button ? button.disabled : false;
  if (button) button.disabled = true;
  try {
    const res = await fn();
    if (ok) notify(ok, 'ok');
    return res;
  } catch (err) {
    showError(err, errorEl);
    return undefined;
  } finally {
    if (button) button.disabled = wasDisabled;
  }
}

// ---- dialogs ----

for (const b of $$('dialog [data-close]')) b.addEventListener('click', () => b.closest('dialog').close(''));

let confirmResolve = null;
ui.confirm.addEventListener('close', () => {
  const resolve = confirmResolve;
  confirmResolve = null;
  if (resolve) resolve({ ok: ui.confirm.returnValue === 'yes', reason: ui.confirmReason.value.trim() });
});

/** askConfirm asks a yes/no question in a dialog; with reason it also asks why. */
function askConfirm({ text, yes = 'Yes', reason = false }) {
  if (confirmResolve) confirmResolve({ ok: false, reason: '' });
  ui.confirmText.textContent = text;
  ui.confirmYes.textContent = yes;
  ui.confirmReasonField.hidden = !reason;
  ui.confirmReason.value = '';
  ui.confirm.returnValue = '';
  if (!ui.confirm.open) ui.confirm.showModal();
  return new Promise((resolve) => {
    confirmResolve = resolve;
  });
}

// ---- connection state ----

function setConn(state, text) {
  ui.conn.dataset.state = state;
  ui.connText.textContent = text;
  ui.body.dataset.conn = state;
  const was = app.connected;
  app.connected = state === 'connected';
  if (was !== app.connected) app.emit('connection', app.connected);
}

let socket = null;
let retryTimer = 0;

function connectSocket() {
  closeSocket();
  // forceNew: after a new login the handshake must carry the new session cookie.
  const s = window.io('/admin', { transports: ['websocket'], forceNew: true });
  socket = s;
  setConn('connecting', 'Connecting…');
  s.on('connect', () => {
    if (s === socket) setConn('connected', 'Live');
  });
  s.on('disconnect', (reason) => {
    if (s !== socket) return;
    if (s.active) setConn('reconnecting', 'Reconnecting…');
    else if (reason === 'io server disconnect') {
      // The hub closed it: a logout elsewhere, a deleted account or a new password.
      setConn('offline', 'Not connected');
      checkSession(false);
    } else if (reason !== 'io client disconnect') setConn('offline', 'Disconnected — click to retry');
  });
  s.on('connect_error', (err) => {
    if (s !== socket) return;
    if (s.active) {
      setConn('reconnecting', navigator.onLine ? 'Reconnecting…' : 'Offline — no network');
      return;
    }
    // The hub refused the connection: find out whether the session is still good.
    setConn('offline', 'Not connected');
    checkSession(err && err.message === 'unauthorized');
  });
  for (const ev of SOCKET_EVENTS) s.on(ev, (data) => app.emit(ev, data));
}

function closeSocket() {
  clearTimeout(retryTimer);
  if (!socket) return;
  const s = socket;
  socket = null;
  s.removeAllListeners();
  s.disconnect();
  setConn('offline', 'Not connected');
}

// checkSession runs when the hub refused the socket: back to the login form if the session is gone,
// else try the socket again in a while.
async function checkSession(refused) {
  let me;
  try {
    me = await app.api.me();
  } catch {
    retryTimer = setTimeout(() => socket && socket.connect(), 5000);
    return;
  }
  if (me && me.ok) {
    app.api.setSession(me.csrf, true);
    retryTimer = setTimeout(() => socket && socket.connect(), refused ? 3000 : 1000);
  } else {
    showAuth(me, 'Your session has ended. Please log in again.');
  }
}

ui.conn.addEventListener('click', () => {
  if (socket && !socket.connected && !socket.active) socket.connect();
});
window.addEventListener('online', () => {
  if (socket && !socket.connected && !socket.active) socket.connect();
});
window.addEventListener('offline', () => {
  if (socket) setConn('offline', 'Offline — no network');
});

// ---- session ----

// The first admin's setup link is /admin/setup#<token>. Keep the token in memory and take it off the
// address bar, where a screen share would show it.
let setupToken = '';
if (location.pathname.replace(/\/+$/, '') === '/admin/setup' && location.hash.length > 1) {
  setupToken = decodeURIComponent(location.hash.slice(1));
  history.replaceState(null, '', location.pathname);
}

function setView(view) {
  ui.body.dataset.view = view;
  ui.auth.hidden = view !== 'auth';
  ui.dash.hidden = view !== 'dash';
  ui.account.hidden = view !== 'dash';
  ui.topViewers.hidden = view !== 'dash';
  ui.skip.href = view === 'dash' ? '#overview' : '#main';
}

/** showAuth shows the login form (or the setup form or hint), with an optional note on top. */
function showAuth(me, note) {
  const wasIn = !!app.account;
  closeSocket();
  app.account = null;
  app.api.setSession(str(me && me.loginCsrf), false);
  if (wasIn) app.emit('logout');
  for (const d of $$('dialog[open]')) d.close('');
  const setup = !!(me && me.setup);
  ui.authNote.textContent = note || '';
  ui.authNote.hidden = !note;
  ui.setup.hidden = !(setup && setupToken);
  ui.setupHint.hidden = !(setup && !setupToken);
  ui.login.hidden = setup;
  if (!setup && setupToken) {
    ui.authNote.textContent = `${note ? `${note} ` : ''}An account exists already, so the setup link is used up: log in instead.`;
    ui.authNote.hidden = false;
  }
  ui.loginPassword.value = '';
  setView('auth');
  (setup ? (setupToken ? ui.setupName : null) : ui.loginName)?.focus();
}

function enter(account, csrf) {
  app.account = {
    id: account && account.id,
    name: str(account && account.name),
    role: account && account.role === 'admin' ? 'admin' : 'moderator',
  };
  app.api.setSession(csrf, true);
  ui.accountName.textContent = app.account.name;
  ui.accountRole.textContent = app.account.role;
  ui.body.dataset.role = app.account.role;
  for (const n of $$('[data-admin-only]')) n.hidden = !app.isAdmin();
  ui.loginError.hidden = true;
  ui.setupError.hidden = true;
  setView('dash');
  connectSocket();
  app.emit('login', app.account);
}

async function boot() {
  let me;
  try {
    me = await app.api.me();
  } catch (err) {
    setView('auth');
    ui.authNote.textContent = `${err.message} The page tries again in a few seconds.`;
    ui.authNote.hidden = false;
    setTimeout(boot, 5000);
    return;
  }
  if (me && me.ok) enter(me.account, me.csrf);
  else showAuth(me);
}

ui.login.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const body = { name: ui.loginName.value.trim(), password: ui.loginPassword.value };
  const res = await act(() => app.api.login('/admin/api/login', body), {
    button: $('[type="submit"]', ui.login),
    errorEl: ui.loginError,
  });
  if (!res) {
    ui.loginPassword.select();
    return;
  }
  ui.loginPassword.value = '';
  ui.authNote.hidden = true;
  enter(res.account, res.csrf);
});

ui.setup.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  ui.setupError.hidden = true;
  const password = ui.setupPassword.value;
  if (password.length < 10 || password.length > 200) {
    showError({ message: 'The password needs 10 to 200 characters.' }, ui.setupError);
    return;
  }
  if (password !== ui.setupRepeat.value) {
    showError({ message: 'The two passwords differ.' }, ui.setupError);
    return;
  }
  const body = { token: setupToken, name: ui.setupName.value.trim(), password };
  let gone = false;
  const res = await act(
    () => app.api.login('/admin/api/setup', body).catch((err) => {
      gone = err.status === 410;
      throw err;
    }),
    { button: $('[type="submit"]', ui.setup), errorEl: ui.setupError },
  );
  if (gone) {
    setupToken = '';
    showAuth(await app.api.me().catch(() => null), 'This setup link was used already.');
    return;
  }
  if (!res) return;
  setupToken = '';
  ui.setupPassword.value = '';
  ui.setupRepeat.value = '';
  history.replaceState(null, '', '/admin');
  enter(res.account, res.csrf);
});

$('[data-testid="setup-recheck"]').addEventListener('click', boot);

$('[data-testid="logout"]').addEventListener('click', async () => {
  ui.account.open = false;
  await act(() => app.api.post('/admin/api/logout'));
  showAuth(await app.api.me().catch(() => null), 'You are logged out.');
});

$('[data-testid="open-password"]').addEventListener('click', () => {
  ui.account.open = false;
  ui.passwordForm.reset();
  ui.passwordError.hidden = true;
  ui.password.showModal();
});

ui.passwordForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  ui.passwordError.hidden = true;
  const current = $('[data-testid="pw-current"]').value;
  const next = $('[data-testid="pw-new"]').value;
  if (next.length < 10 || next.length > 200) {
    showError({ message: 'The new password needs 10 to 200 characters.' }, ui.passwordError);
    return;
  }
  if (next !== $('[data-testid="pw-repeat"]').value) {
    showError({ message: 'The two new passwords differ.' }, ui.passwordError);
    return;
  }
  const res = await act(() => app.api.post('/admin/api/password', { current, new: next }), {
    button: $('[type="submit"]', ui.passwordForm),
    errorEl: ui.passwordError,
    ok: 'Your password is changed.',
  });
  if (res) {
    // A new password starts a new session, and the hub closes the old one's sockets.
    app.api.setSession(res.csrf, true);
    connectSocket();
    ui.passwordForm.reset();
    ui.password.close('');
  }
});

// ---- the viewer count, shown in the top bar too ----

app.on('state', (st) => {
  const n = Number(st && st.viewers);
  if (Number.isFinite(n) && n >= 0) ui.topViewerCount.textContent = String(n);
});

// A clock for "12 s ago" texts.
setInterval(() => {
  if (app.account) app.emit('tick', Date.now());
}, 1000);

app.api = createApi({
  onUnauthorized: async () => showAuth(await app.api.me().catch(() => null), 'Your session has ended. Please log in again.'),
});

setupOverview(app);
setupZones(app);
setupViewers(app);
setupPrint(app);
setupCharts(app);
setupPageEditor(app);
setupManage(app);
boot();
