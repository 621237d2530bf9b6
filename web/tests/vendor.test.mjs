// Checks that the client libraries the hub serves from assets/vendor/ are byte-identical to the ones npm
// installed from package-lock.json, at the versions package.json pins.
// Run: npm ci && npm test   (or: node --test tests/vendor.test.mjs)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const pinned = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')).devDependencies;

// package → [its dist file, the vendored copy]
const vendored = {
  'socket.io-client': ['dist/socket.io.min.js', 'socket.io.min.js'],
  'hls.js': ['dist/hls.light.min.js', 'hls.light.min.js'],
};

for (const [pkg, [dist, copy]] of Object.entries(vendored)) {
  test(`vendored ${copy} matches node_modules/${pkg}`, () => {
    const installed = readFileSync(join(dirname(require.resolve(`${pkg}/package.json`)), dist));
    const served = readFileSync(join(here, '..', 'assets', 'vendor', copy));
    assert.ok(installed.equals(served), `web/assets/vendor/${copy} differs from node_modules/${pkg}; run \`npm run vendor\` in web/`);
  });

  test(`${pkg} is the pinned version`, () => {
    assert.equal(require(`${pkg}/package.json`).version, pinned[pkg], 'node_modules is stale; run `npm ci` in web/');
  });
}
