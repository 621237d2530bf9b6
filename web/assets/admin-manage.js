// Tokens, accounts and the audit log (admin only). A token's secret is shown once, right after it was
// made; the list never has it.
import { $, arr, button, el, setText, str, toMs, when, ago } from './admin-util.js';

const AUDIT_PAGE = 100;

/** setupManage wires the tokens, accounts and audit panels to app. */
export function setupManage(app) {
  const ui = {
    tokens: $('[data-testid="tokens"] tbody'),
    tokenForm: $('[data-testid="token-form"]'),
    tokenKind: $('[data-testid="token-kind"]'),
    tokenName: $('[data-testid="token-name"]'),
    tokenError: $('[data-testid="token-error"]'),
    secret: $('[data-testid="token-secret"]'),
    secretValue: $('[data-testid="token-secret-value"]'),
    copy: $('[data-testid="token-copy"]'),
    secretDone: $('[data-testid="token-secret-done"]'),
    accounts: $('[data-testid="accounts"] tbody'),
    accountForm: $('[data-testid="account-form"]'),
    accountName: $('[data-testid="account-new-name"]'),
    accountPassword: $('[data-testid="account-new-password"]'),
    accountRole: $('[data-testid="account-new-role"]'),
    accountError: $('[data-testid="account-error"]'),
    audit: $('[data-testid="audit"] tbody'),
    auditOlder: $('[data-testid="audit-older"]'),
    auditRefresh: $('[data-testid="audit-refresh"]'),
  };

  // ---- tokens ----

  async function loadTokens() {
    const res = await app.act(() => app.api.get('/admin/api/tokens'));
    if (!res) return;
    const list = arr(res.tokens).filter((t) => t && typeof t === 'object');
    ui.tokens.replaceChildren(...list.map((t) => {
      const revoked = toMs(t.revokedAt);
      const used = toMs(t.lastUsedAt);
      const revoke = revoked
        ? el('span', { class: 'badge', text: `revoked ${ago(revoked)}` })
        : button('Revoke', { class: 'btn btn-tiny btn-quiet', testid: 'token-revoke', 'aria-label': `Revoke the token ${str(t.name)}`, on: { click: () => revokeToken(t, revoke) } });
      return el('tr', { testid: 'token', dataset: { id: String(t.id), revoked: String(!!revoked) }, class: revoked ? 'is-revoked' : '' }, [
        el('td', { text: str(t.name) }),
        el('td', { text: t.kind === 'api' ? 'API' : 'bridge' }),
        el('td', {}, [el('code', { text: str(t.hint) ? `…${str(t.hint)}` : '' })]),
        el('td', { text: `${when(toMs(t.createdAt))}${str(t.createdBy) ? ` by ${str(t.createdBy)}` : ''}` }),
        el('td', { text: used ? ago(used) : 'never' }),
        el('td', {}, [revoke]),
      ]);
    }));
  }

  async function revokeToken(t, btn) {
    const { ok } = await app.confirm({ text: `Revoke the token “${str(t.name)}”? Whatever uses it is cut off at once.`, yes: 'Revoke' });
    if (!ok) return;
    const res = await app.act(() => app.api.del(`/admin/api/tokens/${encodeURIComponent(t.id)}`), { button: btn, ok: 'Token revoked.' });
    if (res) loadTokens();
  }

  function hideSecret() {
    ui.secretValue.value = '';
    ui.secret.hidden = true;
  }

  ui.tokenForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { kind: ui.tokenKind.value === 'api' ? 'api' : 'bridge', name: ui.tokenName.value.trim() };
    const res = await app.act(() => app.api.post('/admin/api/tokens', body), { button: $('[type="submit"]', ui.tokenForm), errorEl: ui.tokenError });
    if (!res) return;
    ui.tokenName.value = '';
    ui.secretValue.value = str(res.secret);
    ui.secret.hidden = false;
    ui.copy.textContent = 'Copy';
    ui.secretValue.focus();
    ui.secretValue.select();
    loadTokens();
  });

  ui.copy.addEventListener('click', async () => {
    const secret = ui.secretValue.value;
    let copied = false;
    try {
      await navigator.clipboard.writeText(secret);
      copied = true;
    } catch {
      // No clipboard API outside HTTPS: select the text and use the old command.
      ui.secretValue.focus();
      ui.secretValue.select();
      try {
        copied = document.execCommand('copy');
      } catch {
        copied = false;
      }
    }
    ui.copy.textContent = copied ? 'Copied ✓' : 'Copy';
    if (!copied) app.notify('Copying did not work here: the secret is selected, press Ctrl+C (⌘C).', 'info');
  });
  ui.secretDone.addEventListener('click', hideSecret);

  // ---- accounts ----

  async function loadAccounts() {
    const res = await app.act(() => app.api.get('/admin/api/accounts'));
    if (!res) return;
    const me = app.account && app.account.id;
    const list = arr(res.accounts).filter((a) => a && typeof a === 'object');
    ui.accounts.replaceChildren(...list.map((a) => {
      const self = a.id === me;
      const del = self
        ? el('span', { class: 'muted small', text: 'you' })
        : button('Delete', { class: 'btn btn-tiny btn-quiet', testid: 'account-delete', 'aria-label': `Delete the account ${str(a.name)}`, on: { click: () => deleteAccount(a, del) } });
      return el('tr', { testid: 'account', dataset: { id: String(a.id), name: str(a.name), role: str(a.role) } }, [
        el('td', { text: str(a.name) }),
        el('td', {}, [el('span', { class: 'badge', text: str(a.role) })]),
        el('td', { text: when(toMs(a.createdAt)) }),
        el('td', {}, [del]),
      ]);
    }));
  }

  async function deleteAccount(a, btn) {
    const { ok } = await app.confirm({ text: `Delete the account “${str(a.name)}”? They are logged out at once.`, yes: 'Delete' });
    if (!ok) return;
    const res = await app.act(() => app.api.del(`/admin/api/accounts/${encodeURIComponent(a.id)}`), { button: btn, ok: `${str(a.name)} deleted.` });
    if (res) loadAccounts();
  }

  ui.accountForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    ui.accountError.hidden = true;
    const password = ui.accountPassword.value;
    if (password.length < 10 || password.length > 200) {
      app.showError({ message: 'The password needs 10 to 200 characters.' }, ui.accountError);
      return;
    }
    const body = { name: ui.accountName.value.trim(), password, role: ui.accountRole.value === 'admin' ? 'admin' : 'moderator' };
    const res = await app.act(() => app.api.post('/admin/api/accounts', body), {
      button: $('[type="submit"]', ui.accountForm),
      errorEl: ui.accountError,
      ok: `${body.name} can log in now, as ${body.role}.`,
    });
    if (!res) return;
    ui.accountForm.reset();
    loadAccounts();
  });

  // ---- audit log ----

  let auditLast = null;

  async function loadAudit(older = false) {
    const q = older && auditLast !== null ? `?before=${encodeURIComponent(auditLast)}` : '';
    const res = await app.act(() => app.api.get(`/admin/api/audit${q}`), { button: older ? ui.auditOlder : ui.auditRefresh });
    if (!res) return;
    const list = arr(res.entries).filter((e) => e && typeof e === 'object');
    const rows = list.map((e) => el('tr', { testid: 'audit-entry', dataset: { action: str(e.action) } }, [
      el('td', { class: 'nowrap', text: when(toMs(e.at)) }),
      el('td', { text: str(e.actor) }),
      el('td', { text: str(e.action) }),
      el('td', { text: str(e.target) }),
      el('td', { class: 'message-cell', text: typeof e.detail === 'string' ? e.detail : e.detail ? JSON.stringify(e.detail) : '' }),
    ]));
    if (older) ui.audit.append(...rows);
    else ui.audit.replaceChildren(...rows);
    if (list.length) auditLast = list[list.length - 1].id;
    ui.auditOlder.hidden = list.length < AUDIT_PAGE;
  }
  ui.auditRefresh.addEventListener('click', () => loadAudit(false));
  ui.auditOlder.addEventListener('click', () => loadAudit(true));

  // A dashboard action shows in the feed: bring the audit log up to date, at most every few seconds.
  let auditTimer = 0;
  app.on('activity', (msg) => {
    if (!app.isAdmin() || auditTimer || !arr(msg && msg.items).some((a) => a && a.kind === 'admin')) return;
    auditTimer = setTimeout(() => {
      auditTimer = 0;
      if (app.isAdmin() && ui.audit.children.length <= AUDIT_PAGE) loadAudit(false);
    }, 3000);
  });

  app.on('login', () => {
    if (!app.isAdmin()) return;
    loadTokens();
    loadAccounts();
    loadAudit(false);
  });
  app.on('logout', () => {
    hideSecret();
    ui.tokens.replaceChildren();
    ui.accounts.replaceChildren();
    ui.audit.replaceChildren();
    auditLast = null;
    ui.auditOlder.hidden = true;
    setText(ui.copy, 'Copy');
  });
}
