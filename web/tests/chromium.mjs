// Shared by the browser checks: launch Debian's Chromium headless with the flags this machine needs
// (no background networking: the network is closed), and report a check's result as one JSON line.
import { chromium } from 'playwright-core';

export const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Launches Chromium from env.CHROMIUM or /usr/bin/chromium. */
export function launch(env) {
  return chromium.launch({ executablePath: env.CHROMIUM || '/usr/bin/chromium', args: chromiumArgs });
}

/** Prints {ok:false, error} to stdout and "<script>: <why>" to stderr, then exits 1. */
export function fail(script, msg, extra = {}) {
  process.stdout.write(JSON.stringify({ ok: false, error: msg, ...extra }) + '\n');
  process.stderr.write(`${script}: ${msg}\n`);
  process.exit(1);
}
