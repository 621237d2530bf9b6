// Charts of the last hour, drawn as SVG from the `series` event: one point a minute, gaps where the hub
// has no data (null), axes with labels, and a readout of the minute under the pointer. No chart library.
import { $, arr, clock, el } from './admin-util.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 480;
const H = 180;
const M = { left: 46, right: 12, top: 12, bottom: 26 };

const CHARTS = [
  { testid: 'chart-viewers', name: 'Viewers', series: [{ key: 'viewers', label: 'viewers' }] },
  { testid: 'chart-commands', name: 'Light commands a minute', series: [{ key: 'commands', label: 'accepted' }, { key: 'refused', label: 'refused' }] },
  { testid: 'chart-latency', name: 'Click to light', unit: 'ms', series: [{ key: 'latencyP50Ms', label: 'median (p50)' }, { key: 'latencyP95Ms', label: 'p95' }] },
  { testid: 'chart-queue', name: 'Print queue', series: [{ key: 'queueDepth', label: 'jobs waiting' }] },
];

function svgEl(tag, attrs = {}, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** niceMax rounds v up to 1, 2, 2.5 or 5 times a power of ten, so the axis reads well. */
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v, unit) {
  const text = Number.isInteger(v) ? String(v) : v >= 100 ? String(Math.round(v)) : v.toFixed(1);
  return unit ? `${text} ${unit}` : text;
}

/**
 * drawChart returns an SVG of the series (each {label, values}) against minutes (Unix ms), with hover
 * readouts written into readout. values hold numbers or null for no data.
 */
export function drawChart({ name, unit = '', minutes, series, readout }) {
  const n = minutes.length;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  let max = 0;
  let points = 0;
  for (const s of series) {
    for (const v of s.values) {
      if (v === null) continue;
      points++;
      max = Math.max(max, v);
    }
  }
  const top = niceMax(max);
  const x = (i) => M.left + (n <= 1 ? plotW / 2 : (i / (n - 1)) * plotW);
  const y = (v) => M.top + (1 - v / top) * plotH;

  const latest = series.map((s) => {
    for (let i = s.values.length - 1; i >= 0; i--) if (s.values[i] !== null) return `${s.label} ${fmt(s.values[i], unit)}`;
    return `${s.label}: no data`;
  });
  const svg = svgEl('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'chart-svg',
    role: 'img',
    'aria-label': `${name}, the last hour. ${points ? `Latest: ${latest.join(', ')}. Highest: ${fmt(max, unit)}.` : 'No data yet.'}`,
    'data-points': points,
  });

  // Axes and grid: 0, half and the top, and three times along the bottom.
  const grid = svgEl('g', { class: 'chart-grid' });
  for (const v of [0, top / 2, top]) {
    grid.append(svgEl('line', { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }));
    grid.append(svgEl('text', { x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'chart-label' }, fmt(v, unit)));
  }
  if (n > 0) {
    const marks = n > 2 ? [0, Math.floor((n - 1) / 2), n - 1] : [...Array(n).keys()];
    for (const i of marks) {
      const anchor = i === 0 && n > 1 ? 'start' : i === n - 1 && n > 1 ? 'end' : 'middle';
      grid.append(svgEl('text', { x: x(i), y: H - 8, 'text-anchor': anchor, class: 'chart-label' }, clock(minutes[i], false)));
    }
  }
  grid.append(svgEl('line', { class: 'chart-axis', x1: M.left, x2: M.left, y1: M.top, y2: M.top + plotH }));
  grid.append(svgEl('line', { class: 'chart-axis', x1: M.left, x2: W - M.right, y1: M.top + plotH, y2: M.top + plotH }));
  svg.append(grid);

  if (!points) {
    svg.append(svgEl('text', { x: M.left + plotW / 2, y: M.top + plotH / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'No data yet'));
  }

  // The lines: a new segment after every gap; a lone point between gaps is a dot.
  series.forEach((s, k) => {
    const g = svgEl('g', { class: `chart-series chart-s${k + 1}` });
    let d = '';
    for (let i = 0; i < n; i++) {
      const v = s.values[i];
      if (v === null) continue;
      const prev = i > 0 ? s.values[i - 1] : null;
      const next = i < n - 1 ? s.values[i + 1] : null;
      d += `${prev === null ? 'M' : 'L'}${x(i).toFixed(1)} ${y(v).toFixed(1)}`;
      if (prev === null && next === null) g.append(svgEl('circle', { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 2.5 }));
    }
    if (d) g.prepend(svgEl('path', { d }));
    svg.append(g);
  });

  // Hover: one transparent column a minute with its own title, and a guide line.
  const guide = svgEl('line', { class: 'chart-guide', x1: 0, x2: 0, y1: M.top, y2: M.top + plotH, visibility: 'hidden' });
  svg.append(guide);
  const hits = svgEl('g', { class: 'chart-hits' });
  const step = n > 1 ? plotW / (n - 1) : plotW;
  for (let i = 0; i < n; i++) {
    const values = series.map((s) => `${s.label} ${s.values[i] === null ? 'no data' : fmt(s.values[i], unit)}`);
    const text = `${clock(minutes[i], false)}: ${values.join(', ')}`;
    const rect = svgEl('rect', {
      x: Math.max(M.left, x(i) - step / 2).toFixed(1),
      y: M.top,
      width: Math.max(1, Math.min(x(i) + step / 2, W - M.right) - Math.max(M.left, x(i) - step / 2)).toFixed(1),
      height: plotH,
    });
    rect.append(svgEl('title', {}, text));
    rect.addEventListener('mouseenter', () => {
      guide.setAttribute('x1', x(i).toFixed(1));
      guide.setAttribute('x2', x(i).toFixed(1));
      guide.setAttribute('visibility', 'visible');
      if (readout) readout.textContent = text;
    });
    hits.append(rect);
  }
  hits.addEventListener('mouseleave', () => {
    guide.setAttribute('visibility', 'hidden');
    if (readout) readout.textContent = points ? `Latest: ${latest.join(', ')}` : '';
  });
  svg.append(hits);
  if (readout) readout.textContent = points ? `Latest: ${latest.join(', ')}` : '';
  return svg;
}

// values reads one series of the event, as long as minutes: numbers, or null for no data.
function values(raw, n) {
  const a = arr(raw);
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = typeof a[i] === 'number' && Number.isFinite(a[i]) && a[i] >= 0 ? a[i] : null;
  return out;
}

/** setupCharts draws the four charts whenever a `series` event arrives. */
export function setupCharts(app) {
  const figures = CHARTS.map((c) => {
    const fig = $(`[data-testid="${c.testid}"]`);
    const legend = el('ul', { class: 'legend' }, c.series.map((s, k) => el('li', { class: `legend-s${k + 1}`, text: s.label })));
    fig.querySelector('figcaption').after(legend);
    return { ...c, fig, box: $('.chart-box', fig), readout: $('.chart-readout', fig) };
  });

  function draw(msg) {
    const minutes = arr(msg && msg.minutes).map((m) => (typeof m === 'number' && Number.isFinite(m) ? m : 0));
    for (const f of figures) {
      const series = f.series.map((s) => ({ label: s.label, values: values(msg && msg[s.key], minutes.length) }));
      const svg = drawChart({ name: f.name, unit: f.unit, minutes, series, readout: f.readout });
      f.fig.dataset.points = svg.getAttribute('data-points');
      f.box.replaceChildren(svg);
    }
  }

  app.on('series', draw);
  app.on('logout', () => {
    for (const f of figures) {
      f.box.replaceChildren();
      f.readout.textContent = '';
    }
  });
}
