// The fleet part of `npm run bench` (bench/run.mjs): bench/fleet/run.mjs, when it exists, run for
// each Drover backend and fleet size; it prints one JSON object on stdout.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { FLEET, log, ROOT } from './common.mjs';

function runFleet(backend, workers, { n, databaseUrl, fleetTimeoutMs }) {
  const args = [FLEET.pathname, '--backend', backend, '--workers', String(workers)];
  args.push('--tasks', String(n), '--json');
  if (process.env.DROVER_BENCH_DATABASE_URL) args.push('--database-url', databaseUrl);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT.pathname,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), fleetTimeoutMs);
    child.on('error', (error) => resolve({ error: error.message }));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const figures = lastJsonObject(stdout);
      if (signal === 'SIGKILL')
        resolve({ error: `timed out after ${fleetTimeoutMs / 60_000} min` });
      else if (code !== 0 && !figures) resolve({ error: `exited with ${signal ?? code}` });
      else if (!figures) resolve({ error: 'printed no JSON object' });
      else
        resolve({ figures, ...(code !== 0 && { error: figures.error ?? `exited with ${code}` }) });
    });
  });
}

function lastJsonObject(text) {
  try {
    return JSON.parse(text);
  } catch {
    // One object on the last line that parses, or nothing.
  }
  for (const line of text.trim().split('\n').reverse()) {
    try {
      const value = JSON.parse(line);
      if (value && typeof value === 'object' && !Array.isArray(value)) return value;
    } catch {
      continue;
    }
  }
  return undefined;
}

/** The fleet script for each Drover backend among the systems, at each fleet size. */
export async function fleet(run) {
  if (!existsSync(FLEET)) return { missing: true, runs: [] };
  const runs = [];
  for (const backend of ['pglite', 'postgres']) {
    if (!run.systems.includes(`drover-${backend}`)) continue;
    for (const workers of run.fleetSizes) {
      log(`fleet: ${backend}, ${workers} workers`);
      const outcome = await runFleet(backend, workers, run);
      log(`fleet: ${backend}, ${workers} workers: ${outcome.error ?? 'done'}`);
      runs.push({ backend, workers, ...outcome });
    }
  }
  return { missing: false, runs };
}
