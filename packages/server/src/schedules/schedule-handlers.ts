import { DroverError } from '@drover/protocol';
import type { MethodResult, Principal, ScheduleRecord, methods } from '@drover/protocol';
import type { Engine } from '@drover/engine';
import type { z } from 'zod';
import { forbidden, mayAccess, signInFirst } from '../auth/authorize.js';
import type { ParamsCheck } from '../params-check.js';
import { checkSite } from '../sites/site-handlers.js';

type ScheduleMethod = Extract<keyof typeof methods, `schedules.${string}`>;

export type ScheduleHandlers = {
  [M in ScheduleMethod]: (
    params: z.output<(typeof methods)[M]['params']>,
  ) => Promise<MethodResult<M>>;
};

export interface ScheduleHooks {
  /** A job was submitted: the dispatcher (or a site's link) looks for work now. */
  submitted: (site: string | undefined) => void;
  /** The schedules changed: this server's ticker looks again for its next tick. */
  changed: () => void;
}

/**
 * `schedules.*` for one connection. A schedule belongs to its job's group: reading one needs
 * read access to it, changing one write access (to the new group too, when an update moves the
 * job). One the caller may not read is answered as missing, as a job would be.
 */
export function scheduleHandlers(
  engine: Engine,
  params: ParamsCheck,
  caller: () => Principal | undefined,
  hooks: ScheduleHooks,
): ScheduleHandlers {
  const principal = (): Principal => {
    const p = caller();
    if (!p) throw signInFirst();
    return p;
  };
  const allowed = (group: string, access: 'read' | 'write'): void => {
    const p = principal();
    if (mayAccess(p, group, access)) return;
    throw forbidden(
      mayAccess(p, group, 'read')
        ? `Your token may read group ${JSON.stringify(group)} but not change it.`
        : `Your token has no access to group ${JSON.stringify(group)}.`,
    );
  };
  /** The schedule's group, checked; a schedule the caller may not read is missing. */
  const mine = async (name: string, access: 'read' | 'write'): Promise<void> => {
    const group = await engine.schedules.groupOf(name);
    if (group === undefined || !mayAccess(principal(), group, 'read'))
      throw new DroverError('DROVER_E_NOT_FOUND', `There is no schedule ${name}.`);
    allowed(group, access);
  };
  const changed = (record: ScheduleRecord): ScheduleRecord => {
    hooks.changed();
    return record;
  };
  return {
    'schedules.add': async ({ allowUnknownType, ...add }) => {
      allowed(add.job.group, 'write');
      // The job is checked now, as jobs.submit checks it: not at its first tick.
      engine.checkSubmissionSize(add.job);
      // A site job's task types are the site's, as on jobs.submit: the site must exist.
      if (add.job.site !== undefined) await checkSite(engine, add.job.site);
      else await params.check(add.job, { allowUnknownType: allowUnknownType ?? false });
      return changed(await engine.schedules.add(add, caller()?.tokenId ?? null));
    },
    'schedules.list': async () => {
      const p = principal();
      const all = await engine.schedules.list();
      return { schedules: all.filter((s) => mayAccess(p, s.group, 'read')) };
    },
    'schedules.get': async ({ name }) => {
      await mine(name, 'read');
      return engine.schedules.get(name);
    },
    'schedules.pause': async ({ name }) => {
      await mine(name, 'write');
      return changed(await engine.schedules.pause(name));
    },
    'schedules.resume': async ({ name }) => {
      await mine(name, 'write');
      return changed(await engine.schedules.resume(name));
    },
    'schedules.remove': async ({ name }) => {
      await mine(name, 'write');
      return changed(await engine.schedules.remove(name));
    },
    'schedules.runNow': async ({ name }) => {
      await mine(name, 'write');
      const result = await engine.schedules.runNow(name);
      hooks.submitted(result.job.site ?? undefined);
      return result;
    },
    'schedules.update': async ({ allowUnknownType, ...update }) => {
      await mine(update.name, 'write');
      if (update.job !== undefined) {
        allowed(update.job.group, 'write');
        engine.checkSubmissionSize(update.job);
        if (update.job.site !== undefined) await checkSite(engine, update.job.site);
        else await params.check(update.job, { allowUnknownType: allowUnknownType ?? false });
      }
      return changed(await engine.schedules.update(update));
    },
  };
}
