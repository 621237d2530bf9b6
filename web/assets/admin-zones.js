// Lights and bridges: every zone with its bridge and device, the streamer's direct colour control, how
// each zone shows to viewers (admin), and presets.
import { $, $$, ago, arr, button, duration, el, num, safeColor, seconds, setText, showIf, str, toMs } from './admin-util.js';

const KINDS = { pixels: 'LED strip', rgb: 'RGB lamp', relay: 'switch' };

/** setupZones wires the zones table, the zone dialog and the presets to app. */
export function setupZones(app) {
  const ui = {
    table: $('[data-testid="zones-table"]'),
    body: $('[data-testid="zones-table"] tbody'),
    empty: $('[data-testid="zones-empty"]'),
    dialog: $('[data-testid="zone-dialog"]'),
    form: $('[data-testid="zone-form"]'),
    dTitle: $('#zone-dialog-title'),
    dSub: $('[data-testid="zone-dialog-sub"]'),
    dName: $('[data-testid="zone-edit-name"]'),
    dOrder: $('[data-testid="zone-edit-order"]'),
    dHidden: $('[data-testid="zone-edit-hidden"]'),
    dDisabled: $('[data-testid="zone-edit-disabled"]'),
    dEffects: $('[data-testid="zone-edit-effects"]'),
    dAll: $('[data-testid="zone-edit-all-effects"]'),
    dList: $('[data-testid="zone-edit-effects"] .checks-list'),
    dError: $('[data-testid="zone-edit-error"]'),
    presets: $('[data-testid="presets"]'),
    presetsEmpty: $('[data-testid="presets-empty"]'),
    presetForm: $('[data-testid="preset-form"]'),
    presetZones: $('[data-testid="preset-zones"]'),
    presetName: $('[data-testid="preset-name"]'),
    presetError: $('[data-testid="preset-error"]'),
  };
  const viewersHead = ui.table.querySelector('thead th:last-child');

  /** @type {Map<string, {zone: any, row: HTMLElement, q: any, dirty: boolean}>} */
  const rows = new Map();
  let roleKey = '';

  function normZone(z) {
    const settings = z.settings && typeof z.settings === 'object' ? z.settings : {};
    const device = z.device && typeof z.device === 'object' ? z.device : null;
    const state = z.state && typeof z.state === 'object' ? z.state : {};
    return {
      id: str(z.id),
      name: str(z.name) || str(z.id),
      kind: KINDS[z.kind] ? z.kind : 'rgb',
      online: !!z.online,
      effects: arr(z.effects).filter((e) => typeof e === 'string'),
      state: { on: !!state.on, color: safeColor(state.color, '#000000'), brightness: num(state.brightness), effect: str(state.effect), by: str(state.by) },
      version: num(z.version, 0),
      confirmed: z.confirmed === true,
      announced: str(z.announced),
      announcedEffects: arr(z.announcedEffects).filter((e) => typeof e === 'string'),
      settings: {
        name: str(settings.name),
        order: num(settings.order, 0),
        hidden: !!settings.hidden,
        disabled: !!settings.disabled,
        effects: Array.isArray(settings.effects) ? settings.effects.filter((e) => typeof e === 'string') : null,
      },
      bridge: str(z.bridge),
      bridgeConnected: !!z.bridgeConnected,
      lastSeen: toMs(z.lastSeen),
      lastError: str(z.lastError),
      device,
    };
  }

  // announcedName is the zone's name as its bridge announced it.
  const announcedName = (z) => z.announced;
  // allEffects lists every effect the streamer can allow: what the bridge announced, and anything the
  // settings name that it no longer does.
  function allEffects(z) {
    const seen = new Set();
    for (const e of [...z.announcedEffects, ...z.effects, ...(z.settings.effects || [])]) if (typeof e === 'string' && e) seen.add(e);
    return [...seen];
  }

  function newRow(z) {
    const q = {};
    q.name = el('strong', { class: 'zone-title', testid: 'zone-row-name' });
    q.sub = el('span', { class: 'muted small' });
    q.flags = el('span', { class: 'flags' });
    q.online = el('span', { class: 'badge', testid: 'zone-row-online' });
    q.bridge = el('span', { class: 'small' });
    q.seen = el('span', { class: 'muted small', testid: 'zone-row-seen' });
    q.error = el('span', { class: 'error-text small', testid: 'zone-row-error' });
    q.device = el('span', { class: 'small', testid: 'zone-row-device' });
    q.swatch = el('span', { class: 'swatch-dot', 'aria-hidden': 'true' });
    q.light = el('span', { class: 'small', testid: 'zone-row-light' });
    q.version = el('span', { class: 'muted small' });
    q.setCell = el('td', { class: 'set-cell' });
    q.viewersCell = el('td', { class: 'viewers-cell' });
    const row = el('tr', { testid: 'zone-row', dataset: { zone: z.id } }, [
      el('th', { scope: 'row' }, [q.name, q.sub, q.flags]),
      el('td', {}, [q.online, q.bridge, q.seen, q.error]),
      el('td', {}, [q.device]),
      el('td', {}, [el('span', { class: 'light-now' }, [q.swatch, q.light]), q.version]),
      q.setCell,
      q.viewersCell,
    ]);
    const ctl = { zone: z, row, q, dirty: false, roleKey: '' };
    return ctl;
  }

  // buildControls (re)creates the cells whose buttons depend on the zone's kind and the user's role.
  function buildControls(ctl) {
    const { q, zone } = ctl;
    const key = `${zone.kind}|${app.isAdmin()}`;
    if (ctl.roleKey === key) return;
    ctl.roleKey = key;
    const id = zone.id;
    if (zone.kind === 'relay') {
      q.color = null;
      q.on = button('On', { testid: 'zone-set-on', on: { click: () => setZone(ctl, { on: true }, q.on) } });
      q.off = button('Off', { class: 'btn btn-small btn-quiet', testid: 'zone-set-off', on: { click: () => setZone(ctl, { on: false }, q.off) } });
      q.setCell.replaceChildren(el('div', { class: 'btn-row' }, [q.on, q.off]));
    } else {
      q.color = el('input', { type: 'color', class: 'color-small', testid: 'zone-set-color', 'aria-label': `Colour for ${zone.name}` });
      q.color.addEventListener('input', () => {
        ctl.dirty = true;
      });
      q.on = button('Set', { testid: 'zone-set-apply', on: { click: () => setZone(ctl, { on: true, color: q.color.value.toLowerCase() }, q.on) } });
      q.off = button('Off', { class: 'btn btn-small btn-quiet', testid: 'zone-set-off', on: { click: () => setZone(ctl, { on: false }, q.off) } });
      q.setCell.replaceChildren(el('div', { class: 'btn-row' }, [q.color, q.on, q.off]));
    }
    if (app.isAdmin()) {
      q.disable = button('', { class: 'btn btn-small btn-quiet', testid: 'zone-toggle-disabled', on: { click: () => toggle(ctl, 'disabled', q.disable) } });
      q.hide = button('', { class: 'btn btn-small btn-quiet', testid: 'zone-toggle-hidden', on: { click: () => toggle(ctl, 'hidden', q.hide) } });
      q.edit = button('Edit…', { class: 'btn btn-small btn-quiet', testid: 'zone-edit', on: { click: () => openDialog(id) } });
      q.viewersCell.replaceChildren(el('div', { class: 'btn-row' }, [q.disable, q.hide, q.edit]));
      q.viewersCell.hidden = false;
    } else {
      q.viewersCell.replaceChildren();
      q.viewersCell.hidden = true;
    }
  }

  function render(ctl) {
    const { q, zone: z, row } = ctl;
    buildControls(ctl);
    row.dataset.online = String(z.online);
    row.dataset.hidden = String(z.settings.hidden);
    row.dataset.disabled = String(z.settings.disabled);
    row.classList.toggle('is-offline', !z.online);
    setText(q.name, z.name);
    const bridgeName = announcedName(z);
    setText(q.sub, `${z.id} · ${KINDS[z.kind]}${bridgeName && bridgeName !== z.name ? ` · “${bridgeName}” on the bridge` : ''}`);
    const flags = [];
    if (z.settings.hidden) flags.push(el('span', { class: 'badge badge-warn', text: 'hidden' }));
    if (z.settings.disabled) flags.push(el('span', { class: 'badge badge-warn', text: 'disabled' }));
    q.flags.replaceChildren(...flags);

    setText(q.online, z.online ? 'online' : 'offline');
    q.online.dataset.online = String(z.online);
    setText(q.bridge, z.bridge ? `${z.bridge}${z.bridgeConnected ? '' : ' (bridge disconnected)'}` : 'no bridge');
    setText(q.seen, z.lastSeen ? `seen ${ago(z.lastSeen)}` : '');
    setText(q.error, z.lastError);
    q.error.hidden = !z.lastError;

    const d = z.device;
    const facts = [];
    if (d) {
      if (str(d.firmware)) facts.push(str(d.firmware));
      const signal = num(d.signal);
      const rssi = num(d.rssi);
      if (signal !== null || rssi !== null) {
        facts.push(`Wi-Fi ${signal !== null ? `${Math.round(signal)} %` : ''}${signal !== null && rssi !== null ? ', ' : ''}${rssi !== null ? `${Math.round(rssi)} dBm` : ''}`);
      }
      const up = seconds(d.uptime);
      if (Number.isFinite(up)) facts.push(`up ${duration(up)}`);
    }
    setText(q.device, facts.length ? facts.join(' · ') : '–');

    const s = z.state;
    q.swatch.style.setProperty('--swatch', s.on && z.kind !== 'relay' ? s.color : s.on ? '#ffd45a' : '#2a3042');
    const lightFacts = [s.on ? 'on' : 'off'];
    if (z.kind !== 'relay') {
      lightFacts.unshift(s.color);
      if (s.brightness !== null) lightFacts.push(`${Math.round((s.brightness / 255) * 100)} %`);
    }
    if (s.effect) lightFacts.push(s.effect);
    setText(q.light, lightFacts.join(' · '));
    q.light.title = s.by ? `Last set by ${s.by}` : '';
    setText(q.version, `v${z.version}${z.confirmed ? ' ✓ on the light' : z.version ? ' … on its way' : ''}`);
    row.dataset.color = s.color;
    row.dataset.on = String(s.on);

    if (q.color && !ctl.dirty && document.activeElement !== q.color) q.color.value = s.color;
    if (q.disable) {
      setText(q.disable, z.settings.disabled ? 'Enable' : 'Disable');
      q.disable.setAttribute('aria-label', `${z.settings.disabled ? 'Enable' : 'Disable'} ${z.name} for viewers`);
      setText(q.hide, z.settings.hidden ? 'Show' : 'Hide');
      q.hide.setAttribute('aria-label', `${z.settings.hidden ? 'Show' : 'Hide'} ${z.name} ${z.settings.hidden ? 'to' : 'from'} viewers`);
    }
  }

  async function setZone(ctl, body, btn) {
    const res = await app.act(() => app.api.post(`/admin/api/zones/${encodeURIComponent(ctl.zone.id)}/state`, body), { button: btn });
    if (res) {
      ctl.dirty = false;
      app.notify(`${ctl.zone.name}: ${body.on === false ? 'off' : body.color || 'on'} (v${num(res.version, '?')}).`, 'ok');
    }
  }

  function settingsBody(z, change) {
    const s = { ...z.settings, ...change };
    return { name: s.name, order: s.order, hidden: s.hidden, disabled: s.disabled, effects: s.effects };
  }

  async function saveSettings(id, body, opts) {
    const res = await app.act(() => app.api.put(`/admin/api/zones/${encodeURIComponent(id)}`, body), opts);
    if (res && res.zone && typeof res.zone === 'object') applyZone(res.zone);
    return res;
  }

  function toggle(ctl, field, btn) {
    return saveSettings(ctl.zone.id, settingsBody(ctl.zone, { [field]: !ctl.zone.settings[field] }), { button: btn });
  }

  function applyZone(raw) {
    if (!raw || typeof raw.id !== 'string' || !raw.id) return;
    const ctl = rows.get(raw.id);
    if (!ctl) return;
    ctl.zone = normZone(raw);
    render(ctl);
  }

  function sync(list) {
    const seen = new Set();
    let prev = null;
    for (const raw of list) {
      if (!raw || typeof raw.id !== 'string' || !raw.id || seen.has(raw.id)) continue;
      seen.add(raw.id);
      const z = normZone(raw);
      let ctl = rows.get(z.id);
      if (!ctl) {
        ctl = newRow(z);
        rows.set(z.id, ctl);
      }
      ctl.zone = z;
      render(ctl);
      const want = prev ? prev.row.nextElementSibling : ui.body.firstElementChild;
      if (want !== ctl.row) {
        if (prev) prev.row.after(ctl.row);
        else ui.body.prepend(ctl.row);
      }
      prev = ctl;
    }
    for (const [id, ctl] of rows) {
      if (seen.has(id)) continue;
      ctl.row.remove();
      rows.delete(id);
    }
    showIf(rows.size === 0, ui.empty);
    ui.table.hidden = rows.size === 0;
    syncPresetZones();
  }

  // ---- the zone dialog (admin) ----

  let dialogZone = '';
  function openDialog(id) {
    const ctl = rows.get(id);
    if (!ctl) return;
    const z = ctl.zone;
    dialogZone = id;
    setText(ui.dTitle, `Zone ${z.name}`);
    setText(ui.dSub, `${z.id} · ${KINDS[z.kind]}${z.bridge ? ` · bridge ${z.bridge}` : ''}`);
    ui.dName.value = z.settings.name;
    ui.dName.placeholder = announcedName(z) || z.name;
    ui.dOrder.value = String(z.settings.order);
    ui.dHidden.checked = z.settings.hidden;
    ui.dDisabled.checked = z.settings.disabled;
    const effects = allEffects(z);
    ui.dEffects.hidden = z.kind !== 'pixels' || effects.length === 0;
    const allowed = z.settings.effects;
    ui.dAll.checked = allowed === null;
    ui.dList.replaceChildren(
      ...effects.map((e) => el('label', { class: 'check' }, [
        el('input', { type: 'checkbox', value: e, checked: allowed === null || allowed.includes(e), disabled: allowed === null }),
        ` ${e}`,
      ])),
    );
    ui.dError.hidden = true;
    ui.dialog.showModal();
  }
  ui.dAll.addEventListener('change', () => {
    for (const c of $$('input', ui.dList)) {
      c.disabled = ui.dAll.checked;
      if (ui.dAll.checked) c.checked = true;
    }
  });
  ui.form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const ctl = rows.get(dialogZone);
    if (!ctl) {
      ui.dialog.close('');
      return;
    }
    const order = Number(ui.dOrder.value || 0);
    if (!Number.isInteger(order)) {
      app.showError({ message: 'The order is a whole number.' }, ui.dError);
      return;
    }
    const effects = ui.dEffects.hidden || ui.dAll.checked ? null : $$('input:checked', ui.dList).map((c) => c.value);
    const body = settingsBody(ctl.zone, {
      name: ui.dName.value.trim(),
      order,
      hidden: ui.dHidden.checked,
      disabled: ui.dDisabled.checked,
      effects,
    });
    const res = await saveSettings(ctl.zone.id, body, { button: $('[type="submit"]', ui.form), errorEl: ui.dError, ok: `Saved ${body.name || ctl.zone.name}.` });
    if (res) ui.dialog.close('');
  });

  // ---- presets ----

  let presets = [];

  function zoneLabel(id) {
    const ctl = rows.get(id);
    return ctl ? ctl.zone.name : id;
  }

  function renderPresets() {
    const items = presets.map((p) => {
      const summary = arr(p.commands)
        .filter((c) => c && typeof c === 'object')
        .map((c) => `${zoneLabel(str(c.zone))}: ${c.on === false ? 'off' : safeColor(c.color, '') || 'on'}${str(c.effect) ? ` ${str(c.effect)}` : ''}`)
        .join(', ');
      const created = toMs(p.createdAt);
      const apply = button('Apply', { testid: 'preset-apply', on: { click: () => applyPreset(p, apply) } });
      const del = app.isAdmin()
        ? button('Delete', { class: 'btn btn-small btn-quiet', testid: 'preset-delete', on: { click: () => deletePreset(p, del) } })
        : null;
      return el('li', { class: 'list-item', testid: 'preset', dataset: { id: String(p.id) } }, [
        el('div', { class: 'grow' }, [
          el('strong', { text: str(p.name) || `preset ${p.id}` }),
          el('p', { class: 'muted small', text: summary || 'no zones' }),
          el('p', { class: 'muted small', text: `${str(p.createdBy) ? `by ${str(p.createdBy)} ` : ''}${created ? ago(created) : ''}` }),
        ]),
        el('div', { class: 'btn-row' }, [apply, del]),
      ]);
    });
    ui.presets.replaceChildren(...items);
    showIf(presets.length === 0, ui.presetsEmpty);
  }

  async function loadPresets() {
    const res = await app.act(() => app.api.get('/admin/api/presets'));
    if (!res) return;
    presets = arr(res.presets).filter((p) => p && typeof p === 'object' && (typeof p.id === 'string' || typeof p.id === 'number'));
    renderPresets();
  }

  async function applyPreset(p, btn) {
    await app.act(() => app.api.post(`/admin/api/presets/${encodeURIComponent(p.id)}/apply`), { button: btn, ok: `Preset ${str(p.name)} applied.` });
  }

  async function deletePreset(p, btn) {
    const { ok } = await app.confirm({ text: `Delete the preset “${str(p.name)}”?`, yes: 'Delete' });
    if (!ok) return;
    const res = await app.act(() => app.api.del(`/admin/api/presets/${encodeURIComponent(p.id)}`), { button: btn, ok: 'Preset deleted.' });
    if (res) loadPresets();
  }

  function syncPresetZones() {
    const checked = new Set($$('input:checked', ui.presetZones).map((c) => c.value));
    const key = [...rows.keys()].join('\n');
    if (ui.presetZones.dataset.key === key) {
      for (const c of $$('input', ui.presetZones)) setText(c.nextElementSibling, zoneLabel(c.value));
      return;
    }
    ui.presetZones.dataset.key = key;
    const legend = $('legend', ui.presetZones);
    const boxes = [...rows.values()].map((ctl) => el('label', { class: 'check' }, [
      el('input', { type: 'checkbox', value: ctl.zone.id, checked: checked.has(ctl.zone.id), testid: 'preset-zone' }),
      el('span', { text: ctl.zone.name }),
    ]));
    ui.presetZones.replaceChildren(legend, ...boxes);
  }

  ui.presetForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    ui.presetError.hidden = true;
    const zones = $$('input:checked', ui.presetZones).map((c) => c.value);
    if (zones.length === 0) {
      app.showError({ message: 'Pick at least one zone.' }, ui.presetError);
      return;
    }
    const name = ui.presetName.value.trim();
    const res = await app.act(() => app.api.post('/admin/api/presets', { name, zones }), {
      button: $('[type="submit"]', ui.presetForm),
      errorEl: ui.presetError,
      ok: `Preset ${name} saved.`,
    });
    if (res) {
      ui.presetName.value = '';
      loadPresets();
    }
  });

  // ---- wiring ----

  app.on('state', (st) => {
    if (st && Array.isArray(st.zones)) sync(st.zones);
  });
  app.on('login', () => {
    const key = String(app.isAdmin());
    if (roleKey !== key) {
      roleKey = key;
      for (const ctl of rows.values()) render(ctl);
    }
    viewersHead.hidden = !app.isAdmin();
    loadPresets();
  });
  app.on('tick', (now) => {
    for (const ctl of rows.values()) setText(ctl.q.seen, ctl.zone.lastSeen ? `seen ${ago(ctl.zone.lastSeen, now)}` : '');
  });
  app.on('logout', () => {
    for (const ctl of rows.values()) ctl.row.remove();
    rows.clear();
    presets = [];
    renderPresets();
    syncPresetZones();
    showIf(true, ui.empty);
    ui.table.hidden = true;
  });
}
