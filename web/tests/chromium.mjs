// Shared by the browser checks: launch Debian's Chromium headless with the flags this machine needs
// (no background networking: the network is closed), watch pages for errors, and report a check's result
// as one JSON line.
import { chromium } from 'playwright-core';

export const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** For WebRTC checks: a fake camera and microphone that need no permission prompt, and the browser's
 *  own ICE candidates as plain addresses rather than mDNS names. */
export const mediaArgs = [
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

/** Launches Chromium from env.CHROMIUM or /usr/bin/chromium, with extraArgs after the usual flags. */
export function launch(env, extraArgs = []) {
  return chromium.launch({ executablePath: env.CHROMIUM || '/usr/bin/chromium', args: [...chromiumArgs, ...extraArgs] });
}

/**
 * Collects into problems what a page should never show: uncaught exceptions and unhandled rejections,
 * and console errors. Chromium logs "Failed to load resource: … status of N" for every HTTP error a
 * fetch gets, even one the page expects and handles; benign(path, status) names those.
 */
export function watch(page, name, problems, benign = () => false) {
  page.on('pageerror', (e) => problems.push(`${name}: uncaught ${e && e.message ? e.message : e}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    const url = m.location().url || '';
    const status = text.match(/^Failed to load resource: the server responded with a status of (\d+)/);
    if (status && url && benign(new URL(url).pathname, Number(status[1]))) return;
    problems.push(`${name}: console error: ${text}${url ? ` (${url})` : ''}`);
  });
}

/** Prints {ok:false, error} to stdout and "<script>: <why>" to stderr, then exits 1. */
export function fail(script, msg, extra = {}) {
  process.stdout.write(JSON.stringify({ ok: false, error: msg, ...extra }) + '\n');
  process.stderr.write(`${script}: ${msg}\n`);
  process.exit(1);
}

/** Median and 95th percentile of a list of numbers, rounded to 0.1. */
export function percentiles(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))] * 10) / 10;
  return { median: at(0.5), p95: at(0.95), min: at(0), max: at(1) };
}
