// One pg-boss worker process for bench/run.mjs. Config: { databaseUrl, schema, queue, concurrency }.
import PgBoss from 'pg-boss';
import { bossOptions, work } from './pg-boss.mjs';
import { serveWorker } from './worker-process.mjs';

serveWorker(async ({ databaseUrl, schema, queue, concurrency }, record) => {
  const boss = new PgBoss(bossOptions(databaseUrl, schema));
  boss.on('error', (error) => process.stderr.write(`[pg-boss worker] ${error.message}\n`));
  await boss.start();
  await work(boss, queue, concurrency, async (job) => {
    record(job.data.i);
  });
  return { stop: () => boss.stop({ graceful: true, wait: true, timeout: 5000 }) };
});
