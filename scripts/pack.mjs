// `npm run pack`: the installable packages as tarballs in packs/, after `npm run build`.
//
//   packs/drover-protocol-0.1.0.tgz   the contract (browser-safe)
//   packs/drover-client-0.1.0.tgz     the client SDK (Node and browsers)
//   packs/drover-worker-0.1.0.tgz     the worker runtime: defineTask, shellTask, Worker
//   packs/drover-cli-0.1.0.tgz        the drover command, with what it runs: the server, the engine,
//                                     the dashboard's files and the fractal demo
//
// `npm install ./packs/*.tgz` in any project installs them together. Before writing anything the
// script checks what npm would ship: every package a shipped module imports (or a shipped type
// refers to) is declared in that package's dependencies, so an install never works only because
// a neighbour happened to bring the package along.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'packs');

/** Workspaces that ship, each after what it depends on. */
const WORKSPACES = [
  'packages/protocol',
  'packages/client',
  'packages/worker',
  'packages/engine',
  'packages/server',
  'examples/fractal',
  'apps/dashboard',
  'packages/cli',
];

/** Import and export statements, as tsc writes them (one per line), and dynamic imports. */
const IMPORTS = [
  /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm,
  /^\s*import\s*['"]([^'"]+)['"]/gm,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** `zod` of `zod/v4`, `@scope/name` of `@scope/name/sub`; undefined for relative paths and builtins. */
function packageOf(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return undefined;
  if (specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0]))
    return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** What is wrong with one package as npm would pack it: undeclared imports, missing entry points. */
function problemsOf(workspace, files) {
  const manifest = JSON.parse(readFileSync(join(ROOT, workspace, 'package.json'), 'utf8'));
  const declared = new Set([
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ]);
  const shipped = new Set(files.map((f) => f.path));
  const problems = [];
  const entries = [
    ...Object.values(manifest.exports ?? {}).flatMap((e) =>
      typeof e === 'string' ? [e] : Object.values(e),
    ),
    ...Object.values(manifest.bin ?? {}),
  ];
  for (const entry of entries) {
    const path = entry.replace(/^\.\//, '');
    if (!shipped.has(path)) problems.push(`${entry} is named in package.json but not shipped`);
  }
  for (const path of shipped) {
    const isTypes = path.endsWith('.d.ts');
    // A bundle (the dashboard's assets) has its imports inside it.
    if ((!isTypes && !path.endsWith('.js')) || path.startsWith('dist/assets/')) continue;
    const text = readFileSync(join(ROOT, workspace, path), 'utf8');
    for (const [, specifier] of IMPORTS.flatMap((re) => [...text.matchAll(re)])) {
      const name = packageOf(specifier);
      if (name === undefined || name === manifest.name) continue;
      const ok = isTypes
        ? declared.has(name) || declared.has(`@types/${name}`)
        : declared.has(name);
      if (!ok)
        problems.push(
          `${path} imports ${specifier}, but ${isTypes ? `neither ${name} nor @types/${name} is` : `${name} is not`} a dependency`,
        );
    }
  }
  return [...new Set(problems)].map((p) => `${manifest.name}: ${p}`);
}

const args = WORKSPACES.flatMap((w) => ['-w', w]);
const dryRun = JSON.parse(
  execFileSync('npm', ['pack', '--dry-run', '--json', ...args], { cwd: ROOT, encoding: 'utf8' }),
);
const problems = dryRun.flatMap((pack, i) => problemsOf(WORKSPACES[i], pack.files));
if (problems.length > 0) {
  console.error(`Not packed: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT);
const packed = JSON.parse(
  execFileSync('npm', ['pack', '--json', '--pack-destination', OUT, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  }),
);
for (const pack of packed) {
  const kib = (pack.size / 1024).toFixed(0).padStart(5);
  console.log(`packs/${pack.filename.padEnd(40)} ${kib} KiB  ${pack.entryCount} files`);
}
