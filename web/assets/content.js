// stagelink viewer page: the streamer's page content (title, announcement, description, links and
// sections) from the hub's `hello.page` and `page` events. Everything is put on the page as text, and a
// link is shown only when its address is http or https, checked again here whatever the hub allowed.
'use strict';

/**
 * stagelinkCreateContent returns {render(page)} drawing page content into the elements with the
 * data-testids page-content, page-announcement, page-title, page-description, page-links and
 * page-sections. render(null) shows nothing and restores the document's own title.
 */
window.stagelinkCreateContent = function stagelinkCreateContent() {
  const $ = (sel) => document.querySelector(sel);
  const ui = {
    box: $('[data-testid="page-content"]'),
    announcement: $('[data-testid="page-announcement"]'),
    title: $('[data-testid="page-title"]'),
    description: $('[data-testid="page-description"]'),
    links: $('[data-testid="page-links"]'),
    sections: $('[data-testid="page-sections"]'),
  };
  const defaultTitle = document.title;
  const str = (s) => (typeof s === 'string' ? s : '');
  const list = (a) => (Array.isArray(a) ? a.filter((x) => x && typeof x === 'object') : []);

  function httpURL(u) {
    if (typeof u !== 'string' || !u) return '';
    try {
      const url = new URL(u);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : '';
    } catch {
      return '';
    }
  }

  function render(page) {
    const p = page && typeof page === 'object' ? page : {};
    const title = str(p.title).trim();
    const announcement = str(p.announcement).trim();
    const description = str(p.description);

    document.title = title || defaultTitle;
    ui.title.textContent = title;
    ui.title.hidden = !title;
    ui.announcement.textContent = announcement;
    ui.announcement.hidden = !announcement;
    ui.description.textContent = description;
    ui.description.hidden = !description.trim();

    const links = [];
    for (const l of list(p.links)) {
      const href = httpURL(str(l.url).trim());
      if (!href) continue;
      const a = document.createElement('a');
      a.href = href;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      a.className = 'page-link';
      a.dataset.testid = 'page-link';
      a.textContent = str(l.label).trim() || new URL(href).host;
      const li = document.createElement('li');
      li.append(a);
      links.push(li);
    }
    ui.links.replaceChildren(...links);
    ui.links.hidden = links.length === 0;
    ui.box.hidden = !title && !announcement && !description.trim() && links.length === 0;

    const sections = [];
    for (const s of list(p.sections)) {
      const heading = str(s.heading).trim();
      const body = str(s.body);
      if (!heading && !body.trim()) continue;
      const art = document.createElement('article');
      art.className = 'page-section';
      art.dataset.testid = 'page-section';
      const h = document.createElement('h2');
      h.textContent = heading;
      const text = document.createElement('p');
      text.textContent = body;
      art.append(h, text);
      sections.push(art);
    }
    ui.sections.replaceChildren(...sections);
    ui.sections.hidden = sections.length === 0;
  }

  return { render };
};
