// Runs the compiled test files with node's test runner.
//   node scripts/test.mjs [package...]   e.g. `node scripts/test.mjs engine`
// DROVER_TEST_BACKEND=postgres runs the engine suite against DROVER_TEST_DATABASE_URL instead of
// PGlite. Files named *.embedded.test.js only mean something on PGlite (the data directory, its
// lock file) and *.postgres.test.js only on a server (concurrent connections); the rest run on both.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const only = process.argv.slice(2);
// Workspaces by their folder name: packages/engine is `engine`, examples/fractal is `fractal`.
const packages = ['packages', 'examples']
  .flatMap((root) => readdirSync(root).map((name) => join(root, name)))
  .filter((dir) => only.length === 0 || only.some((name) => dir.endsWith(`/${name}`)));

function testFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((file) => file.endsWith('.test.js'))
    .map((file) => join(dir, file))
    .sort();
}

const backend = process.env.DROVER_TEST_BACKEND ?? 'pglite';
const excluded = backend === 'postgres' ? '.embedded.test.js' : '.postgres.test.js';
const files = packages
  .flatMap((dir) => testFiles(join(dir, 'dist')))
  .filter((file) => !file.endsWith(excluded));
if (files.length === 0) {
  console.error(`no test files found for ${only.join(', ') || 'any package'}; run the build first`);
  process.exit(1);
}
console.log(`# backend: ${backend}; ${files.length} test files`);
// The workers the tests start keep their identities here, not in the user's home directory.
const stateDir = mkdtempSync(join(tmpdir(), 'drover-test-state-'));
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: { ...process.env, DROVER_STATE_DIR: process.env.DROVER_STATE_DIR ?? stateDir },
});
rmSync(stateDir, { recursive: true, force: true });
process.exit(result.status ?? 1);
