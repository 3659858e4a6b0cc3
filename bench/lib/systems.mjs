// The systems `npm run bench` (bench/run.mjs) compares, and one system's part of the run: every
// wanted phase on it, as many repetitions as asked, with its figures and checks per phase.
import { errorText, fmt, log } from './common.mjs';
import {
  enqueueAndDrain,
  IN_FLIGHT,
  LATENCY_EVERY_MS,
  LATENCY_TASKS,
  latency,
  oneByOne,
  PHASES,
  warmUp,
} from './phases.mjs';

export const SYSTEMS = ['drover-pglite', 'drover-postgres', 'bullmq', 'graphile-worker', 'pg-boss'];

/** The system's adapter (bench/drover/, bench/peers/), for this run's database, Redis and id. */
async function makeSystem(name, { databaseUrl, redis, runId }) {
  if (name.startsWith('drover-')) {
    const { droverSystem } = await import('../drover/system.mjs');
    return droverSystem({ backend: name.slice('drover-'.length), databaseUrl, runId, log });
  }
  if (name === 'bullmq') {
    const { bullmqSystem } = await import('../peers/bullmq.mjs');
    return bullmqSystem({ redis, runId });
  }
  if (name === 'graphile-worker') {
    const { graphileWorkerSystem } = await import('../peers/graphile-worker.mjs');
    return graphileWorkerSystem({ databaseUrl, runId });
  }
  const { pgBossSystem } = await import('../peers/pg-boss.mjs');
  return pgBossSystem({ databaseUrl, runId });
}

/** Every wanted phase of one system, run.reps times; figures and checks per phase. */
export async function runSystem(name, run) {
  const figures = Object.fromEntries(PHASES.map((p) => [p, []]));
  const checks = Object.fromEntries(PHASES.map((p) => [p, []]));
  const result = { name, figures, checks, notes: [], error: undefined };
  const wants = (p) => run.phases.includes(p);
  let system;
  try {
    system = await makeSystem(name, run);
    result.label = system.label;
    result.notes = system.notes;
    result.completionSeen = system.completionSeen;
    await system.open();
  } catch (error) {
    result.error = errorText(error);
    log(`${name}: ${result.error}`);
    await system?.close().catch(() => undefined);
    return result;
  }
  const record = (phase, figure, check) => {
    if (figure !== undefined) figures[phase].push(figure);
    checks[phase].push(check || 'ok');
  };
  const failed = (phases, error) => {
    log(`${name}: ${phases.join(', ')} failed: ${error instanceof Error ? error.stack : error}`);
    for (const p of phases) if (wants(p)) checks[p].push(`error: ${errorText(error)}`);
  };
  try {
    for (let rep = 1; rep <= run.reps; rep++) {
      const tag = `${run.runId}-${rep}`;
      try {
        await system.beginRep?.(`r${rep}`);
        await warmUp(system, `${tag}-w`);
      } catch (error) {
        failed(run.phases, error);
        await system.endRep?.().catch(() => undefined);
        continue;
      }
      try {
        if (wants('enqueue') || wants('drain1')) {
          log(`${name} #${rep}: bulk enqueue of ${run.n}, drain by 1 worker process`);
          try {
            const r = await enqueueAndDrain(system, `${tag}-d1`, 1, run.n);
            if (wants('enqueue')) record('enqueue', r.enqueue, r.check);
            if (wants('drain1')) record('drain1', r.drain, r.check);
            log(
              `${name} #${rep}: ${fmt(r.enqueue)} enqueued/s, ${fmt(r.drain)} done/s ${r.check || 'ok'}`,
            );
          } catch (error) {
            failed(['enqueue', 'drain1'], error);
          }
        }
        if (wants('drain2')) {
          log(`${name} #${rep}: bulk enqueue of ${run.n}, drain by 2 worker processes`);
          try {
            const r = await enqueueAndDrain(system, `${tag}-d2`, 2, run.n);
            record('drain2', r.drain, r.check);
            log(`${name} #${rep}: ${fmt(r.drain)} done/s ${r.check || 'ok'}`);
          } catch (error) {
            failed(['drain2'], error);
          }
        }
        if (wants('single')) {
          log(`${name} #${rep}: ${run.n} one-by-one submissions, ${IN_FLIGHT} in flight`);
          try {
            const r = await oneByOne(system, `${tag}-s`, run.n);
            record('single', r.single, r.check);
            log(`${name} #${rep}: ${fmt(r.single)} submissions/s ${r.check || 'ok'}`);
          } catch (error) {
            failed(['single'], error);
          }
        }
        if (wants('latency')) {
          log(`${name} #${rep}: latency, ${LATENCY_TASKS} tasks, one every ${LATENCY_EVERY_MS} ms`);
          try {
            const r = await latency(system, `${tag}-l`);
            record('latency', r, r.check);
            log(
              `${name} #${rep}: start p50 ${fmt(r.startP50, 1)} ms, p99 ${fmt(r.startP99, 1)} ms; ` +
                `done p50 ${fmt(r.doneP50, 1)} ms, p99 ${fmt(r.doneP99, 1)} ms ${r.check || 'ok'}`,
            );
          } catch (error) {
            failed(['latency'], error);
          }
        }
      } finally {
        await system.endRep?.().catch((error) => log(`${name}: ending a repetition: ${error}`));
      }
    }
  } finally {
    await system.close().catch((error) => log(`${name}: closing: ${errorText(error)}`));
  }
  return result;
}
