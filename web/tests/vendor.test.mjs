// Checks that the socket.io client the hub serves (assets/vendor/socket.io.min.js)
// is byte-identical to the one npm installed from package-lock.json.
// Run: npm ci && npm test   (or: node --test tests/vendor.test.mjs)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

test('vendored socket.io.min.js matches node_modules', () => {
  const pkgPath = require.resolve('socket.io-client/package.json');
  const installed = readFileSync(join(dirname(pkgPath), 'dist', 'socket.io.min.js'));
  const vendored = readFileSync(join(here, '..', 'assets', 'vendor', 'socket.io.min.js'));
  assert.ok(
    installed.equals(vendored),
    'web/assets/vendor/socket.io.min.js differs from node_modules/socket.io-client; run `npm run vendor` in web/',
  );
});

test('vendored client is the pinned version', () => {
  const pinned = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')).devDependencies['socket.io-client'];
  const installed = require('socket.io-client/package.json').version;
  assert.equal(installed, pinned, 'node_modules is stale; run `npm ci` in web/');
});
