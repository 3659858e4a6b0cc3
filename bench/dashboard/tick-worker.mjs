// A worker whose one task type, `bench.tick`, does nothing but report progress `hz` times a
// second for `seconds`: load for the dashboard benchmark without any CPU-bound work.
//   DROVER_TOKEN=<worker token> node bench/dashboard/tick-worker.mjs <server url> [slots]
// The token comes in the environment, never on the command line, where anyone could read it.
import { z } from 'zod';
import { Worker, defineTask } from '@drover/worker';

const [url, slots = '40'] = process.argv.slice(2);
const token = process.env.DROVER_TOKEN;
if (!url || !token) {
  console.error(
    'usage: DROVER_TOKEN=<worker token> node bench/dashboard/tick-worker.mjs URL [slots]',
  );
  process.exit(2);
}

const tick = defineTask({
  name: 'bench.tick',
  params: z.object({ seconds: z.number().min(1).max(3600), hz: z.number().min(0.1).max(50) }),
  result: z.object({ ticks: z.int() }),
  async run(ctx, { seconds, hz }) {
    const ticks = Math.round(seconds * hz);
    for (let i = 1; i <= ticks; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000 / hz));
      ctx.progress(i / ticks, `tick ${i} of ${ticks}`);
    }
    return { ticks };
  },
});

const worker = new Worker({
  serverUrl: url,
  token,
  name: 'ticker',
  slots: Number(slots),
  tasks: [tick],
});
await worker.start();
process.once('SIGTERM', () => void worker.stop(2000).then(() => process.exit(0)));
