// `npm start`: opens the embedded engine in ./data and runs moi's hello job through it: submitted,
// claimed by a worker, a status update from inside, the result "hi!", with every event printed as
// the engine records it. Run it again: the data directory keeps what earlier runs did.
import { hostname } from 'node:os';
import { openEngine } from '../packages/engine/dist/src/index.js';

const dataDir = process.env.DROVER_DATA_DIR ?? 'data';
const engine = await openEngine({
  dataDir,
  databaseUrl: process.env.DROVER_DATABASE_URL,
  migrate: true,
});
try {
  const { worker } = await engine.registerWorker({
    name: `${hostname()}-hello`,
    host: hostname(),
    taskTypes: ['hello'],
    slots: 1,
  });
  const head = await engine.headCursor('jobs/demo');
  const { job } = await engine.submit({ group: 'demo', name: 'The hello job', taskType: 'hello' });
  console.log(`submitted job ${job.id} to group "demo" in ${dataDir}/`);

  const [assignment] = await engine.claim({
    workerId: worker.id,
    taskTypes: worker.taskTypes,
    tags: worker.tags,
    limit: 1,
  });
  if (assignment) {
    await engine.start([assignment]);
    await engine.reportProgress([
      { ...assignment, progress: 0.5, message: "I'm about to say hello" },
    ]);
    await engine.complete([{ ...assignment, result: 'hi!' }]);
  }

  const { events } = await engine.readEvents({ topic: `job/${job.id}`, after: '' });
  for (const event of events) {
    const d = event.data;
    const what = event.kind.startsWith('job.')
      ? `${d.status}, progress ${Math.round(d.progress * 100)}%`
      : d.tasks
          .map(
            (t) =>
              `task ${t.index}: ${t.status}${t.message ? ` "${t.message}"` : ''}${t.result ? ` result ${JSON.stringify(t.result)}` : ''}`,
          )
          .join('; ');
    console.log(`  ${event.at}  ${event.kind.padEnd(13)} ${what}`);
  }
  const earlier = await engine.readEvents({ topic: 'jobs/demo', after: '' });
  const jobs = new Set(earlier.events.filter((e) => e.kind === 'job.added').map((e) => e.subject));
  console.log(
    `group "demo" holds ${jobs.size} job(s) from this and earlier runs (${head ? 'continued' : 'new'} data directory)`,
  );
} finally {
  await engine.close();
}
