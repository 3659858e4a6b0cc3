// `npm start`: builds what changed since the last start, saying what it does, then runs `drover up`
// with the arguments given (`npm start -- --workers 4`). A start with nothing changed builds
// nothing: it compares the sources' modification times with those of the last build, which costs
// a few milliseconds, where `tsc -b` and the dashboard's build take seconds even when up to date.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stampDir = join(root, 'node_modules', '.cache', 'drover-start');

/** The newest modification time under `paths` (files, or directories walked), skipping outputs. */
function newest(paths) {
  let latest = 0;
  const visit = (path) => {
    let stat;
    try {
      stat = statSync(path);
    } catch {
      return;
    }
    if (!stat.isDirectory()) {
      latest = Math.max(latest, stat.mtimeMs);
      return;
    }
    for (const entry of readdirSync(path)) {
      if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
      visit(join(path, entry));
    }
  };
  for (const path of paths) visit(join(root, path));
  return latest;
}

/** When the build of `name` last succeeded (0: never), by its stamp file. */
function builtAt(name) {
  try {
    return statSync(join(stampDir, name)).mtimeMs;
  } catch {
    return 0;
  }
}

function stamp(name, at) {
  mkdirSync(stampDir, { recursive: true });
  const file = join(stampDir, name);
  writeFileSync(file, `${new Date(at).toISOString()}\n`);
}

/** Runs a build step, saying what it is and, on a terminal, that it is still at work. */
function step(what, command, args, cwd = root) {
  const started = Date.now();
  console.log(`${what}...`);
  const ticker = process.stdout.isTTY
    ? setInterval(
        () =>
          console.log(
            `  still ${what.toLowerCase()} (${Math.round((Date.now() - started) / 1000)} s)`,
          ),
        15_000,
      )
    : undefined;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => {
      clearInterval(ticker);
      if (code === 0) {
        console.log(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        resolve();
      } else {
        reject(new Error(`${what} failed (${command} ${args.join(' ')} exited with ${code})`));
      }
    });
  });
}

const typescript = [
  'packages',
  'examples',
  'apps/dashboard/src',
  'tsconfig.base.json',
  'tsconfig.json',
];
const dashboard = [
  'apps/dashboard/src',
  'apps/dashboard/index.html',
  'apps/dashboard/public',
  'apps/dashboard/vite.config.ts',
];

try {
  // Taken before building, so that an edit made during the build is built by the next start.
  const now = Date.now();
  const first = builtAt('typescript') === 0;
  if (newest(typescript) > builtAt('typescript')) {
    await step(
      first
        ? 'Compiling the TypeScript packages (tsc -b; once, about a minute on a busy machine)'
        : 'Compiling the changed TypeScript packages (tsc -b)',
      process.execPath,
      [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b'],
    );
    stamp('typescript', now);
  }
  if (newest(dashboard) > builtAt('dashboard')) {
    await step(
      'Building the dashboard (vite build)',
      process.execPath,
      [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'],
      join(root, 'apps', 'dashboard'),
    );
    stamp('dashboard', now);
  }
} catch (error) {
  console.error(error.message);
  process.exit(1);
}

// `drover up` in this process: Ctrl-C reaches it as it would `node .../main.js up`.
const main = join(root, 'packages', 'cli', 'dist', 'src', 'main.js');
process.argv = [process.argv[0], main, 'up', ...process.argv.slice(2)];
await import(pathToFileURL(main).href);
