/**
 * `npm ci` applies patches/ through the root postinstall (patch-package). By default
 * patch-package exits 0 when a patch no longer applies (e.g. after a dependency upgrade),
 * so the speed patches would silently vanish; our postinstall runs it with
 * --error-on-fail. This runs that exact command on a package whose code changed under
 * its patch, and on one where the patch still fits.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const postinstall = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.postinstall!;
const patchCommand = postinstall.split('&&')[0]!.trim();

const PATCH = `diff --git a/node_modules/descrow-fixture/index.js b/node_modules/descrow-fixture/index.js
index 0000001..0000002 100644
--- a/node_modules/descrow-fixture/index.js
+++ b/node_modules/descrow-fixture/index.js
@@ -1,3 +1,3 @@
 // fixture
-module.exports = 'slow';
+module.exports = 'fast';
 // end
`;

function project(code: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'descrow-patch-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fixture-app', version: '1.0.0', private: true }));
  mkdirSync(join(dir, 'node_modules/descrow-fixture'), { recursive: true });
  writeFileSync(join(dir, 'node_modules/descrow-fixture/package.json'), JSON.stringify({ name: 'descrow-fixture', version: '1.0.0' }));
  writeFileSync(join(dir, 'node_modules/descrow-fixture/index.js'), `// fixture\n${code}\n// end\n`);
  mkdirSync(join(dir, 'patches'));
  writeFileSync(join(dir, 'patches/descrow-fixture+1.0.0.patch'), PATCH);
  return dir;
}

function run(command: string, dir: string) {
  // Without CI in the environment: there plain patch-package would exit 0 (ci-info decides otherwise).
  const { CI: _ci, ...env } = process.env;
  return spawnSync('sh', ['-c', command], { cwd: dir, env: { ...env, PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}` }, encoding: 'utf8' });
}

test('the postinstall fails when a patch no longer applies', () => {
  expect(patchCommand).toBe('patch-package --error-on-fail');
  const upgraded = project("module.exports = 'rewritten upstream';");
  const r = run(patchCommand, upgraded);
  expect(r.status).not.toBe(0);
  expect(r.stdout + r.stderr).toMatch(/descrow-fixture/);
});

test('the postinstall applies a patch that fits', () => {
  const fits = project("module.exports = 'slow';");
  const r = run(patchCommand, fits);
  expect([r.status, r.stderr]).toEqual([0, '']);
  expect(readFileSync(join(fits, 'node_modules/descrow-fixture/index.js'), 'utf8')).toContain("module.exports = 'fast';");
});
