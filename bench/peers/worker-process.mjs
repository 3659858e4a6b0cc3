// The child's side of a benchmark worker process (bench/run.mjs forks one or two of them per
// drain). The same small protocol for every system, over the IPC channel:
//   child → parent  { type: 'ready' }            modules loaded, nothing connected yet
//   parent → child  { type: 'go' }               connect and start taking tasks (the clock runs)
//   parent → child  { type: 'stop' }             the store says every task is done: stop
//   child → parent  { type: 'keys', keys }       the key of every task a handler ran, in order
//   child → parent  { type: 'error', message }   then the child exits with 1
// The config is one JSON argument; `start(config, record)` starts the system's worker, calls
// `record(key)` in every handler, and resolves to something with `stop()`.

/**
 * @param {(config: any, record: (key: number) => void) => Promise<{ stop(): Promise<void> }>} start
 */
export function serveWorker(start) {
  const config = JSON.parse(process.argv[2] ?? '{}');
  const keys = [];
  const record = (key) => keys.push(key);
  /** @type {Promise<{ stop(): Promise<void> } | undefined>} */
  let started = Promise.resolve(undefined);
  const fail = (error) => {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.send?.({ type: 'error', message }, () => process.exit(1));
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  process.on('message', (message) => {
    if (message?.type === 'go') {
      started = start(config, record);
      started.catch(fail);
    } else if (message?.type === 'stop') {
      started
        .then((worker) => worker?.stop())
        .then(() => process.send?.({ type: 'keys', keys }, () => process.exit(0)))
        .catch(fail);
    }
  });
  // Without the parent there is nothing to do: never linger.
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready' });
}
