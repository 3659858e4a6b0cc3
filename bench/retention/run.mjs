// Whether an embedded farm's data directory stops growing once retention runs: rounds of 20,000
// finished tasks (20 jobs of 1,000 tasks, a log line each), each followed by `drover prune
// --older-than 0s` as the server runs it (the retention pass, then VACUUM on PGlite), the size of
// the data directory measured after each step. A second farm does the same rounds without
// pruning, for comparison.
//   node bench/retention/run.mjs [--rounds 4] [--tasks 20000]
// Prints a table and rewrites bench/retention/README.md with it.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openEngine } from '../../packages/engine/dist/src/index.js';
import { FileArtifactStore, Retention } from '../../packages/server/dist/src/index.js';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '4' },
    tasks: { type: 'string', default: '20000' },
  },
});
const ROUNDS = Number(flags.rounds);
const TASKS = Number(flags.tasks);
const PER_JOB = 1000;

const mb = (bytes) => (bytes / 1e6).toFixed(1);
const du = (dir) => Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
/** The data directory's size: all of it, and its tables and indexes alone (`base/`). */
const size = (dir) => ({ all: du(dir), tables: du(join(dir, 'base')) });
const sizes = (s) => `${mb(s.all)} (${mb(s.tables)})`;

/** `TASKS` tasks submitted, claimed, logged and completed: finished work, as a farm leaves it. */
async function finishedRound(engine, round) {
  const type = `bench.retention.${round}`;
  const { worker } = await engine.registerWorker({
    name: `bench-${round}`,
    host: 'bench',
    taskTypes: [type],
    slots: PER_JOB,
  });
  for (let j = 0; j < TASKS / PER_JOB; j += 1) {
    await engine.submit({
      group: 'bench',
      taskType: type,
      items: Array.from({ length: PER_JOB }, (_, i) => ({ i })),
    });
    const held = await engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: PER_JOB,
    });
    await engine.appendLogs(
      held.map((a) => ({
        ...a,
        lines: [{ at: new Date().toISOString(), stream: 'stdout', line: `task ${a.task.id} done` }],
      })),
    );
    await engine.complete(held.map((a) => ({ ...a, result: { ok: true } })));
  }
}

async function farm(prune) {
  const dir = mkdtempSync(join(tmpdir(), 'drover-bench-retention-'));
  const engine = await openEngine({ dataDir: dir, maintenanceIntervalMs: 0 });
  const retention = new Retention(
    engine,
    randomUUID(),
    new FileArtifactStore(join(dir, 'artifacts')),
    { intervalMs: 0 },
    (error) => console.error(error),
  );
  const rows = [];
  try {
    for (let round = 1; round <= ROUNDS; round += 1) {
      await finishedRound(engine, round);
      const filled = size(join(dir, 'pg'));
      let pruned;
      let took;
      if (prune) {
        const started = performance.now();
        const report = await retention.prune({ olderThanMs: 0 });
        took = performance.now() - started;
        if (report.tasks !== TASKS) throw new Error(`pruned ${report.tasks} tasks, not ${TASKS}`);
        pruned = size(join(dir, 'pg'));
      }
      rows.push({ round, filled, pruned, took });
      console.log(
        `${prune ? 'pruned' : 'kept'} round ${round}: ${sizes(filled)} MB after ${TASKS} finished tasks` +
          (prune ? `, ${sizes(pruned)} MB after the prune (${(took / 1000).toFixed(1)} s)` : ''),
      );
    }
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

const withPrune = await farm(true);
const without = await farm(false);
const lines = [
  '# Retention: the embedded data directory',
  '',
  'This file is written by `node bench/retention/run.mjs` (after `npm run build`): do not edit it by',
  'hand, run the command again.',
  '',
  `Run ${new Date().toISOString()}. Each round leaves ${TASKS.toLocaleString('en-US')} finished tasks`,
  `(${TASKS / PER_JOB} jobs of ${PER_JOB.toLocaleString('en-US')}, a log line each) in a PGlite farm; one farm is pruned after`,
  'each round (`retention.prune` with `olderThanMs: 0`, which vacuums and checkpoints PGlite once',
  'it deleted something), the other keeps everything. Sizes are `du -sb <data dir>/pg`, in brackets',
  "`<data dir>/pg/base` alone: the tables and indexes, without the write-ahead log and PostgreSQL's",
  'own files.',
  '',
  '| round | pruned farm, after the round (MB) | after the prune (MB) | prune took (s) | unpruned farm (MB) |',
  '| ----- | --------------------------------- | -------------------- | -------------- | ------------------ |',
  ...withPrune.map(
    (r, i) =>
      `| ${r.round} | ${sizes(r.filled)} | ${sizes(r.pruned)} | ${(r.took / 1000).toFixed(1)} | ${without[i] ? sizes(without[i].filled) : ''} |`,
  ),
  '',
  'VACUUM (not VACUUM FULL) does not give space back to the file system: it marks the deleted rows',
  'space free for the next rows, so the tables of a pruned farm stop growing at about the size of',
  'the work they keep. The deletions write write-ahead log too, which PGlite keeps up to',
  '`max_wal_size` (1 GB) unless a checkpoint recycles it: without the checkpoint after each prune,',
  'the directory above still grew by about 65 MB a round (its tables by nothing). An unpruned farm',
  'grows with every round.',
  '',
];
writeFileSync(new URL('README.md', import.meta.url), lines.join('\n'));
console.log(lines.join('\n'));
