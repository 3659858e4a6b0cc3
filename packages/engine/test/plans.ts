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

/** The query of a PL/pgSQL body that is one `RETURN QUERY`. */
function queryOf(body: string): string {
  const start = body.indexOf('RETURN QUERY');
  const end = body.lastIndexOf(';');
  return start < 0 ? body : body.slice(start + 'RETURN QUERY'.length, end);
}

/**
 * The plan of the claim's walk of the queue (`claim_candidates`, which `claim_choice` calls once
 * it holds the limited rows) for these groups of slots, executed and rolled back: its body is
 * explained under the function's own settings, as the function plans it, with the limited groups
 * and task types given as held. The plan is returned as its JSON text.
 */
export async function explainClaimChoice(
  engine: Engine,
  slotGroups: unknown,
  held: { groups?: string[]; taskTypes?: string[] } = {},
): Promise<string> {
  const [fn] = await engine.database.query<{ body: string; settings: string[] }>(
    `SELECT prosrc AS body, proconfig AS settings FROM pg_proc
     WHERE proname = 'claim_candidates' AND pronamespace = current_schema()::regnamespace`,
  );
  if (!fn) throw new Error('the claim_candidates function does not exist');
  return engine.database
    .transaction(async (tx) => {
      for (const setting of fn.settings) {
        const [name, value] = setting.split('=');
        await tx.exec(`SET LOCAL ${name} = ${value}`);
      }
      const rows = await tx.query<{ 'QUERY PLAN': unknown }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${queryOf(fn.body)
          .replaceAll('slot_groups', '$1::jsonb')
          .replaceAll('locked_groups', '$2::text[]')
          .replaceAll('locked_types', '$3::text[]')}`,
        [JSON.stringify(slotGroups), held.groups ?? [], held.taskTypes ?? []],
      );
      throw new Rollback(JSON.stringify(rows[0]?.['QUERY PLAN']));
    })
    .catch((error: unknown) => {
      if (error instanceof Rollback) return error.message;
      throw error;
    });
}

/**
 * The queued rows a plan read through the queue index (`tasks_queue`), over all its scans and
 * their loops: the walks of each group, and the descents that find which groups wait.
 */
export function queueRowsRead(plan: string): number {
  return planNodes(JSON.parse(plan))
    .filter((n) => n['Index Name'] === 'tasks_queue')
    .reduce((sum, n) => sum + Number(n['Actual Rows']) * Number(n['Actual Loops'] ?? 1), 0);
}
