import type { FastifyInstance } from 'fastify';
import { schemaVersion } from '@drover/engine';
import type { Engine } from '@drover/engine';
import { isDroverError } from '@drover/protocol';

/**
 * The probes of an orchestrator or a load balancer (decision 0032):
 *
 * - `GET /healthz`, liveness: 200 while the process serves HTTP. It asks nothing of the database,
 *   so a database that is away never gets a healthy server restarted.
 * - `GET /readyz`, readiness: 200 when the database answers and its schema is the one this build
 *   knows (the migrations applied are this build's migrations); else 503 with the reason, so that
 *   traffic goes to another replica.
 */
export function registerHealth(app: FastifyInstance, engine: Engine): void {
  app.get('/healthz', async (_request, reply) =>
    reply.header('cache-control', 'no-store').send({ ok: true }),
  );

  app.get('/readyz', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    const database = engine.kind;
    let version: { current: number; required: number; applied: number };
    try {
      version = await schemaVersion(engine.database);
    } catch (error) {
      const code = isDroverError(error) ? error.code : 'DROVER_E_INTERNAL';
      return reply.code(503).send({
        ok: false,
        database,
        error: code,
        reason: 'The database does not answer.',
      });
    }
    const { current, required, applied } = version;
    if (current === required && applied === required)
      return { ok: true, database, schema: current };
    const tooNew = current > required;
    return reply.code(503).send({
      ok: false,
      database,
      schema: current,
      applied,
      required,
      error: tooNew ? 'DROVER_E_SCHEMA_TOO_NEW' : 'DROVER_E_SCHEMA_TOO_OLD',
      reason: tooNew
        ? `The database schema is at version ${current}, newer than this server knows (${required}): upgrade this server.`
        : `The database has ${applied} of the ${required} migrations this server needs: run drover migrate.`,
    });
  });
}
