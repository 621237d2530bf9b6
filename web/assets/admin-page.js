// The viewer page's content editor (admin): title, description, announcement, links and sections,
// saved with PUT /admin/api/page. The hub checks every limit; the same limits are checked here first so
// most mistakes show before a round trip, and the hub's own message shows next to the form.
import { $, $$, arr, button, el, httpURL, str, toMs, when } from './admin-util.js';

/** LIMITS are the contract's limits on page content, in characters. */
export const LIMITS = { title: 120, description: 1000, announcement: 280, links: 20, label: 60, url: 500, sections: 20, heading: 120, body: 4000 };

const chars = (s) => [...s].length;

/** validatePage lists what is wrong with page p: [{field, message}], field as in "links.2.url". */
export function validatePage(p) {
  const errs = [];
  const t = chars(p.title.trim());
  if (t === 0) errs.push({ field: 'title', message: 'The title is empty.' });
  if (t > LIMITS.title) errs.push({ field: 'title', message: `The title is ${t} characters long; at most ${LIMITS.title}.` });
  if (chars(p.description) > LIMITS.description) errs.push({ field: 'description', message: `The description is longer than ${LIMITS.description} characters.` });
  if (chars(p.announcement) > LIMITS.announcement) errs.push({ field: 'announcement', message: `The announcement is longer than ${LIMITS.announcement} characters.` });
  if (p.links.length > LIMITS.links) errs.push({ field: 'links', message: `At most ${LIMITS.links} links.` });
  p.links.forEach((l, i) => {
    if (!l.label.trim()) errs.push({ field: `links.${i}.label`, message: `Link ${i + 1} has no label.` });
    if (chars(l.label) > LIMITS.label) errs.push({ field: `links.${i}.label`, message: `The label of link ${i + 1} is longer than ${LIMITS.label} characters.` });
    if (!httpURL(l.url.trim())) errs.push({ field: `links.${i}.url`, message: `Link ${i + 1} needs a full http:// or https:// address.` });
  });
  if (p.sections.length > LIMITS.sections) errs.push({ field: 'sections', message: `At most ${LIMITS.sections} sections.` });
  p.sections.forEach((s, i) => {
    const h = chars(s.heading.trim());
    if (h === 0) errs.push({ field: `sections.${i}.heading`, message: `Section ${i + 1} has no heading.` });
    if (h > LIMITS.heading) errs.push({ field: `sections.${i}.heading`, message: `The heading of section ${i + 1} is longer than ${LIMITS.heading} characters.` });
    if (chars(s.body) > LIMITS.body) errs.push({ field: `sections.${i}.body`, message: `Section ${i + 1} is longer than ${LIMITS.body} characters.` });
  });
  return errs;
}

/** setupPageEditor wires the page editor to app. */
export function setupPageEditor(app) {
  const ui = {
    form: $('[data-testid="page-form"]'),
    status: $('[data-testid="page-status"]'),
    title: $('[data-testid="page-title-input"]'),
    announcement: $('[data-testid="page-announcement-input"]'),
    description: $('[data-testid="page-description-input"]'),
    links: $('[data-testid="page-links"]'),
    sections: $('[data-testid="page-sections"]'),
    addLink: $('[data-testid="page-add-link"]'),
    addSection: $('[data-testid="page-add-section"]'),
    errors: $('[data-testid="page-error"]'),
    save: $('[data-testid="page-save"]'),
    revert: $('[data-testid="page-revert"]'),
    conflict: $('[data-testid="page-conflict"]'),
    conflictText: $('[data-testid="page-conflict"] .notice-text'),
    reload: $('[data-testid="page-reload"]'),
  };
  let server = null; // the page as the hub has it
  let incoming = null; // a newer page that arrived while the form had unsaved edits
  let dirty = false;
  let seq = 0;

  function markDirty() {
    dirty = true;
    ui.form.dataset.dirty = 'true';
  }
  function markClean() {
    dirty = false;
    ui.form.dataset.dirty = 'false';
  }
  ui.form.addEventListener('input', markDirty);

  // ---- rows of links and sections ----

  function moveButtons(li, list, what) {
    const up = button('↑', { class: 'btn btn-tiny btn-quiet', 'aria-label': `Move this ${what} up`, on: { click: () => move(li, list, -1) } });
    const down = button('↓', { class: 'btn btn-tiny btn-quiet', 'aria-label': `Move this ${what} down`, on: { click: () => move(li, list, 1) } });
    const remove = button('Remove', {
      class: 'btn btn-tiny btn-quiet', testid: `page-remove-${what}`, 'aria-label': `Remove this ${what}`,
      on: { click: () => { li.remove(); markDirty(); limits(); } },
    });
    return el('div', { class: 'btn-row repeat-actions' }, [up, down, remove]);
  }

  function move(li, list, dir) {
    if (dir < 0 && li.previousElementSibling) li.previousElementSibling.before(li);
    else if (dir > 0 && li.nextElementSibling) li.nextElementSibling.after(li);
    else return;
    markDirty();
    numberRows();
    li.querySelector('input, textarea').focus();
  }

  function field(labelText, input) {
    const id = `pe-${++seq}`;
    input.id = id;
    return el('div', { class: 'field' }, [el('label', { for: id, text: labelText }), input]);
  }

  function linkRow(l = { label: '', url: '' }) {
    const li = el('li', { class: 'repeat-item', testid: 'page-link' });
    const label = el('input', { maxlength: String(LIMITS.label), testid: 'page-link-label', 'data-part': 'label', value: str(l.label) });
    const url = el('input', { type: 'url', maxlength: String(LIMITS.url), testid: 'page-link-url', 'data-part': 'url', placeholder: 'https://', value: str(l.url), spellcheck: 'false' });
    li.append(el('div', { class: 'repeat-fields' }, [field('Label', label), field('Address', url)]), moveButtons(li, ui.links, 'link'));
    return li;
  }

  function sectionRow(s = { heading: '', body: '' }) {
    const li = el('li', { class: 'repeat-item', testid: 'page-section' });
    const heading = el('input', { maxlength: String(LIMITS.heading), testid: 'page-section-heading', 'data-part': 'heading', value: str(s.heading) });
    const body = el('textarea', { maxlength: String(LIMITS.body), rows: 4, testid: 'page-section-body', 'data-part': 'body' });
    body.value = str(s.body);
    li.append(el('div', { class: 'repeat-fields repeat-fields-stack' }, [field('Heading', heading), field('Text', body)]), moveButtons(li, ui.sections, 'section'));
    return li;
  }

  function numberRows() {
    $$(':scope > li', ui.links).forEach((li, i) => { li.dataset.index = String(i); });
    $$(':scope > li', ui.sections).forEach((li, i) => { li.dataset.index = String(i); });
  }

  function limits() {
    numberRows();
    ui.addLink.disabled = ui.links.children.length >= LIMITS.links;
    ui.addSection.disabled = ui.sections.children.length >= LIMITS.sections;
  }

  ui.addLink.addEventListener('click', () => {
    const li = linkRow();
    ui.links.append(li);
    markDirty();
    limits();
    li.querySelector('input').focus();
  });
  ui.addSection.addEventListener('click', () => {
    const li = sectionRow();
    ui.sections.append(li);
    markDirty();
    limits();
    li.querySelector('input').focus();
  });

  // ---- the form and the page ----

  function fill(p) {
    ui.title.value = str(p && p.title);
    ui.announcement.value = str(p && p.announcement);
    ui.description.value = str(p && p.description);
    ui.links.replaceChildren(...arr(p && p.links).filter((l) => l && typeof l === 'object').map(linkRow));
    ui.sections.replaceChildren(...arr(p && p.sections).filter((s) => s && typeof s === 'object').map(sectionRow));
    limits();
    clearErrors();
    markClean();
    incoming = null;
    ui.conflict.hidden = true;
    showStatus(p);
  }

  function showStatus(p) {
    const at = toMs(p && p.updatedAt);
    const by = str(p && p.updatedBy);
    ui.status.textContent = at ? `Published ${when(at)}${by ? ` by ${by}` : ''}` : 'Not edited yet';
  }

  function collect() {
    const rows = (list, parts) => $$(':scope > li', list).map((li) => {
      const o = {};
      for (const part of parts) o[part] = li.querySelector(`[data-part="${part}"]`).value;
      return o;
    });
    return {
      title: ui.title.value.trim(),
      description: ui.description.value,
      announcement: ui.announcement.value.trim(),
      links: rows(ui.links, ['label', 'url']).map((l) => ({ label: l.label.trim(), url: l.url.trim() })),
      sections: rows(ui.sections, ['heading', 'body']).map((s) => ({ heading: s.heading.trim(), body: s.body })),
    };
  }

  function clearErrors() {
    ui.errors.hidden = true;
    ui.errors.replaceChildren();
    for (const n of $$('[aria-invalid="true"]', ui.form)) n.removeAttribute('aria-invalid');
  }

  // target finds the input a field name such as "title", "links.2.url" or "sections[1].body" points at.
  function target(name) {
    const m = String(name).match(/^(title|description|announcement|links|sections)(?:[.[](\d+)\]?(?:\.(\w+))?)?$/);
    if (!m) return null;
    if (!m[2]) return { title: ui.title, description: ui.description, announcement: ui.announcement, links: ui.addLink, sections: ui.addSection }[m[1]];
    const li = (m[1] === 'links' ? ui.links : ui.sections).children[Number(m[2])];
    if (!li) return null;
    return (m[3] && li.querySelector(`[data-part="${m[3]}"]`)) || li.querySelector('input');
  }

  function showErrors(errs) {
    clearErrors();
    const items = errs.map((e) => el('li', { text: e.message }));
    ui.errors.replaceChildren(el('p', { text: errs.length === 1 ? 'The page was not saved:' : `The page was not saved (${errs.length} problems):` }), el('ul', {}, items));
    ui.errors.hidden = false;
    let first = null;
    for (const e of errs) {
      const t = e.field && target(e.field);
      if (!t) continue;
      t.setAttribute('aria-invalid', 'true');
      first = first || t;
    }
    (first || ui.errors).focus?.();
  }

  ui.form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const page = collect();
    const errs = validatePage(page);
    if (errs.length) {
      showErrors(errs);
      return;
    }
    clearErrors();
    ui.save.disabled = true;
    try {
      const res = await app.api.put('/admin/api/page', page);
      server = res.page && typeof res.page === 'object' ? res.page : page;
      fill(server);
      app.notify('The page is published: viewers see it now.', 'ok');
    } catch (err) {
      if (err.sessionEnded) return;
      if (err.code === 'bad_request' || err.status === 400) showErrors([{ field: err.field, message: err.message }]);
      else app.showError(err, ui.errors);
    } finally {
      ui.save.disabled = false;
    }
  });

  ui.revert.addEventListener('click', () => fill(incoming || server));
  ui.reload.addEventListener('click', () => fill(incoming || server));

  async function load() {
    const res = await app.act(() => app.api.get('/admin/api/page'));
    if (!res || !res.page) return;
    server = res.page;
    if (!dirty) fill(server);
  }

  app.on('page', (p) => {
    if (!p || typeof p !== 'object' || !app.isAdmin()) return;
    server = p;
    if (!dirty) {
      fill(p);
      return;
    }
    incoming = p;
    const by = str(p.updatedBy);
    ui.conflictText.textContent = `${by || 'Someone'} published the page while you were editing. Saving now replaces their version.`;
    ui.conflict.hidden = false;
  });

  app.on('login', () => {
    if (app.isAdmin()) load();
  });
  app.on('logout', () => {
    server = null;
    fill(null);
    ui.status.textContent = '';
  });
}
