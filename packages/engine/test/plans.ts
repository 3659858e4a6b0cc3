// Query plans, for tests that check how a statement reads the tables.
import type { Engine } from '../src/index.js';

export type PlanNode = Record<string, unknown> & { Plans?: PlanNode[]; Plan?: PlanNode };

/** Every node of an EXPLAIN (FORMAT JSON) plan. */
export function planNodes(value: unknown): PlanNode[] {
  if (Array.isArray(value)) return value.flatMap(planNodes);
  if (typeof value !== 'object' || value === null) return [];
  const node = value as PlanNode;
  return [node, ...planNodes(node.Plan ?? []), ...planNodes(node.Plans ?? [])];
}

class Rollback extends Error {}

/**
 * The plan of the claim's choice (`claim_choice`) for these groups of slots, executed and rolled
 * back: its body is explained under the function's own settings, as the function plans it. The
 * plan is returned as its JSON text.
 */
export async function explainClaimChoice(engine: Engine, slotGroups: unknown): Promise<string> {
  const [fn] = await engine.database.query<{ body: string; settings: string[] }>(
    `SELECT prosrc AS body, proconfig AS settings FROM pg_proc
     WHERE proname = 'claim_choice' AND pronamespace = current_schema()::regnamespace`,
  );
  if (!fn) throw new Error('the claim_choice function does not exist');
  return engine.database
    .transaction(async (tx) => {
      for (const setting of fn.settings) {
        const [name, value] = setting.split('=');
        await tx.exec(`SET LOCAL ${name} = ${value}`);
      }
      const rows = await tx.query<{ 'QUERY PLAN': unknown }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${fn.body.replaceAll('slot_groups', '$1::jsonb')}`,
        [JSON.stringify(slotGroups)],
      );
      throw new Rollback(JSON.stringify(rows[0]?.['QUERY PLAN']));
    })
    .catch((error: unknown) => {
      if (error instanceof Rollback) return error.message;
      throw error;
    });
}
