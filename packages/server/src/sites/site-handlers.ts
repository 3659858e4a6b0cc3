import { DroverError } from '@drover/protocol';
import type { MethodResult, methods } from '@drover/protocol';
import type { Engine } from '@drover/engine';
import type { z } from 'zod';

type SiteMethod = 'sites.add' | 'sites.list' | 'sites.remove';

export type SiteHandlers = {
  [M in SiteMethod]: (params: z.output<(typeof methods)[M]['params']>) => Promise<MethodResult<M>>;
};

/** `sites.add|list|remove`, for one connection (its token is recorded as a site's creator). */
export function siteHandlers(
  engine: Engine,
  caller: () => string | undefined,
  changed: () => void,
): SiteHandlers {
  return {
    'sites.add': async (site) => {
      const record = await engine.sites.add(site, caller() ?? null);
      changed();
      return record;
    },
    'sites.list': async () => ({ sites: await engine.sites.list() }),
    'sites.remove': async ({ name }) => {
      const record = await engine.sites.remove(name);
      changed();
      return record;
    },
  };
}

/** Refuses a submission to a site this farm does not know, naming those it knows. */
export async function checkSite(engine: Engine, site: string): Promise<void> {
  const names = await engine.sites.names();
  if (names.includes(site)) return;
  throw new DroverError(
    'DROVER_E_INVALID_PARAMS',
    names.length === 0
      ? `There is no site ${site}: this farm has no sites (an admin adds one with drover sites add).`
      : `There is no site ${site}; the sites are ${names.join(', ')}.`,
    { details: [{ path: 'site', message: `unknown site; known: ${names.join(', ') || 'none'}` }] },
  );
}

/** Why a task of a site job is not cancelled alone. */
export function siteTaskCancel(site: string): DroverError {
  return new DroverError(
    'DROVER_E_INVALID_PARAMS',
    `This task's job runs at site ${site}: cancel the whole job (jobs.cancel).`,
  );
}

/**
 * Refuses an edit that is not forwarded to a site (pause, resume, extend, update) of a job that
 * runs at one: it would change the record here and nothing where the job runs.
 */
export async function refuseSiteEdit(engine: Engine, jobId: string, verb: string): Promise<void> {
  const site = await engine.sites.siteOf(jobId);
  if (site !== undefined) {
    throw new DroverError(
      'DROVER_E_INVALID_PARAMS',
      `This job runs at site ${site}, where it cannot be ${verb} from here: cancel or retry it, or edit it on that farm.`,
    );
  }
}
