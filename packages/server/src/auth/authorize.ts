import { DroverError } from '@drover/protocol';
import type { FarmOverview, GroupAccess, GroupRecord, Principal } from '@drover/protocol';
import type { GroupRef } from '@drover/engine';

/** What a method asks of the caller. */
type Rule =
  /** Any signed-in token, workers too. */
  | { kind: 'anyone' }
  /** Admins and members: what every member may see (the fleet, the task types). */
  | { kind: 'viewer' }
  | { kind: 'admin' }
  /** Access to the group named in the params, or to the group of the record they name. */
  | { kind: 'group'; access: GroupAccess; of: (params: Params) => Target }
  /** Read access to what an event topic is about. */
  | { kind: 'topic' };

type Params = Record<string, unknown>;
/** A group named outright, or a record whose group is looked up (and hidden if not readable). */
type Target = { group: string } | { ref: GroupRef; noun: string; id: string };

const str = (value: unknown): string => (typeof value === 'string' ? value : '');
const job = (p: Params): Target => ({
  ref: { jobId: str(p.jobId ?? p.id) },
  noun: 'job',
  id: str(p.jobId ?? p.id),
});
const task = (p: Params): Target => ({
  ref: { taskId: str(p.taskId ?? p.id) },
  noun: 'task',
  id: str(p.taskId ?? p.id),
});
const artifact = (p: Params): Target => ({
  ref: { artifactId: str(p.id) },
  noun: 'artifact',
  id: str(p.id),
});

/** Every client method and what it asks; a method missing here is refused to all but admins. */
export const RULES: Readonly<Record<string, Rule>> = {
  'jobs.submit': {
    kind: 'group',
    access: 'write',
    of: (p) => {
      // Its params are validated by the engine, after this.
      if (typeof p.group !== 'string')
        throw new DroverError('DROVER_E_INVALID_PARAMS', 'A submission names its group.');
      return { group: p.group };
    },
  },
  'jobs.get': { kind: 'group', access: 'read', of: job },
  'jobs.list': { kind: 'group', access: 'read', of: (p) => ({ group: str(p.group) }) },
  'jobs.cancel': { kind: 'group', access: 'write', of: job },
  'jobs.retry': { kind: 'group', access: 'write', of: job },
  'jobs.setPriority': { kind: 'group', access: 'write', of: job },
  // Jobs and groups edited while they run.
  'jobs.pause': { kind: 'group', access: 'write', of: job },
  'jobs.resume': { kind: 'group', access: 'write', of: job },
  'jobs.extend': { kind: 'group', access: 'write', of: job },
  'jobs.update': { kind: 'group', access: 'write', of: job },
  'groups.get': { kind: 'group', access: 'read', of: (p) => ({ group: str(p.name) }) },
  'groups.pause': { kind: 'group', access: 'write', of: (p) => ({ group: str(p.name) }) },
  'groups.resume': { kind: 'group', access: 'write', of: (p) => ({ group: str(p.name) }) },
  'taskTypes.list': { kind: 'viewer' },
  // Limits and weights are the farm's policy between groups: an admin's (decision 0035).
  'groups.setLimits': { kind: 'admin' },
  'taskTypes.setLimits': { kind: 'admin' },
  'jobs.blocklist': { kind: 'group', access: 'read', of: job },
  'jobs.unblock': { kind: 'group', access: 'write', of: job },
  'tasks.why': { kind: 'group', access: 'read', of: task },
  // Answered with the groups the caller may read (see `visibleGroups`).
  'groups.list': { kind: 'viewer' },
  'tasks.get': { kind: 'group', access: 'read', of: task },
  'tasks.list': { kind: 'group', access: 'read', of: job },
  'tasks.attempts': { kind: 'group', access: 'read', of: task },
  'tasks.cancel': { kind: 'group', access: 'write', of: task },
  'workers.list': { kind: 'viewer' },
  // The fleet and the farm's figures, as `workers.list`; the overview's tasks are those the
  // caller may read (see `visibleOverview`).
  'farm.overview': { kind: 'viewer' },
  'farm.history': { kind: 'viewer' },
  'jobs.timeline': { kind: 'group', access: 'read', of: job },
  'workers.disable': { kind: 'admin' },
  'workers.enable': { kind: 'admin' },
  'workers.drain': { kind: 'admin' },
  'artifacts.list': {
    kind: 'group',
    access: 'read',
    of: (p) => (p.jobId !== undefined ? job(p) : task(p)),
  },
  'artifacts.get': { kind: 'group', access: 'read', of: artifact },
  'events.read': { kind: 'topic' },
  'events.head': { kind: 'topic' },
  'events.subscribe': { kind: 'topic' },
  'events.unsubscribe': { kind: 'anyone' },
  'auth.whoami': { kind: 'anyone' },
  'auth.loginLink': { kind: 'anyone' },
  'tokens.create': { kind: 'admin' },
  'tokens.list': { kind: 'admin' },
  'tokens.revoke': { kind: 'admin' },
  'jobs.remove': { kind: 'group', access: 'write', of: job },
  // Its params are valid when this runs: the filter names the one group it may touch.
  'jobs.apply': {
    kind: 'group',
    access: 'write',
    of: (p) => ({ group: str((p.filter as Params | undefined)?.group) }),
  },
  'workers.apply': { kind: 'admin' },
  // Retention: how long finished work is kept is the farm's, an admin's to set.
  'groups.setRetention': { kind: 'admin' },
  'retention.prune': { kind: 'admin' },
  'sites.add': { kind: 'admin' },
  'sites.list': { kind: 'admin' },
  'sites.remove': { kind: 'admin' },
  // A schedule's group is its job's, read from it by the handlers (schedule-handlers.ts): a
  // schedule's group changes with its job, so it is not one of the records remembered here.
  'schedules.add': { kind: 'viewer' },
  'schedules.list': { kind: 'viewer' },
  'schedules.get': { kind: 'viewer' },
  'schedules.pause': { kind: 'viewer' },
  'schedules.resume': { kind: 'viewer' },
  'schedules.remove': { kind: 'viewer' },
  'schedules.runNow': { kind: 'viewer' },
  'schedules.update': { kind: 'viewer' },
  'webhooks.add': { kind: 'admin' },
  'webhooks.list': { kind: 'admin' },
  'webhooks.update': { kind: 'admin' },
  'webhooks.remove': { kind: 'admin' },
  'webhooks.test': { kind: 'admin' },
  'webhooks.deliveries': { kind: 'admin' },
};

/** Whether a principal may read (or write) a group's jobs. */
export function mayAccess(principal: Principal, group: string, access: GroupAccess): boolean {
  if (principal.role === 'admin') return true;
  if (principal.role !== 'member') return false;
  const granted = principal.groups[group] ?? principal.groups['*'];
  return granted === 'write' || (granted === 'read' && access === 'read');
}

/** The groups a principal may read, of those listed. */
export function visibleGroups(principal: Principal, groups: GroupRecord[]): GroupRecord[] {
  return groups.filter((g) => mayAccess(principal, g.name, 'read'));
}

/**
 * The overview as a principal may see it: the tasks of groups it may not read are left out of
 * each worker's list and only counted (`hiddenTasks`), so that no job's name or id leaks.
 */
export function visibleOverview(
  principal: Principal | undefined,
  overview: FarmOverview,
): FarmOverview {
  if (principal?.role === 'admin') return overview;
  return {
    ...overview,
    workers: overview.workers.map((worker) => {
      const tasks = principal
        ? worker.tasks.filter((t) => mayAccess(principal, t.group, 'read'))
        : [];
      return {
        ...worker,
        tasks,
        hiddenTasks: worker.hiddenTasks + worker.tasks.length - tasks.length,
      };
    }),
  };
}

/** Records' groups never change: this many are remembered. */
const MAX_REMEMBERED = 50_000;

/** What a worker's connection may read beyond its own methods: the jobs it runs tasks of. */
export interface WorkerScope {
  holdsJob(jobId: string): boolean;
}

/**
 * Checks each call against `RULES`: the caller's role, and for a job, task, artifact or topic,
 * its group. A record of a group the caller may not read is answered as missing (its existence
 * is not told); one it may read but not change is refused with DROVER_E_FORBIDDEN.
 */
export class Authorizer {
  readonly #groupOf: (ref: GroupRef) => Promise<string | undefined>;
  readonly #groups = new Map<string, string>();

  constructor(groupOf: (ref: GroupRef) => Promise<string | undefined>) {
    this.#groupOf = groupOf;
  }

  async check(
    principal: Principal | undefined,
    method: string,
    params: unknown,
    worker?: WorkerScope,
  ): Promise<void> {
    if (!principal) throw signInFirst();
    const rule = RULES[method] ?? { kind: 'admin' };
    const p = (typeof params === 'object' && params !== null ? params : {}) as Params;
    if (principal.role === 'admin' || rule.kind === 'anyone') return;
    if (principal.role === 'worker') {
      // A worker reads the artifacts of the jobs it runs tasks of (an assembling stage reads
      // what the earlier ones wrote), and nothing else of the client methods.
      if (method === 'artifacts.list' && typeof p.jobId === 'string' && worker?.holdsJob(p.jobId))
        return;
      throw forbidden(`A worker token may not call ${method}.`);
    }
    switch (rule.kind) {
      case 'viewer':
        return;
      case 'admin':
        throw forbidden(`${method} is for admins.`);
      case 'topic':
        return this.#checkTopic(principal, str(p.topic));
      case 'group':
        return this.#checkGroup(principal, rule.access, rule.of(p));
    }
  }

  async #checkTopic(principal: Principal, topic: string): Promise<void> {
    if (topic === 'workers') return;
    if (topic === 'refusals') throw forbidden('The refusals topic is for admins.');
    const [kind, id = ''] = topic.split('/');
    if (kind === 'jobs') return this.#checkGroup(principal, 'read', { group: id });
    if (kind === 'job')
      return this.#checkGroup(principal, 'read', { ref: { jobId: id }, noun: 'job', id });
    if (kind === 'task')
      return this.#checkGroup(principal, 'read', { ref: { taskId: id }, noun: 'task', id });
    // Anything else is refused by the topic's schema after this.
  }

  async #checkGroup(principal: Principal, access: GroupAccess, target: Target): Promise<void> {
    if ('group' in target) {
      if (mayAccess(principal, target.group, access)) return;
      const reads = mayAccess(principal, target.group, 'read');
      throw forbidden(
        reads
          ? `Your token may read group ${JSON.stringify(target.group)} but not change it.`
          : `Your token has no access to group ${JSON.stringify(target.group)}.`,
      );
    }
    const group = await this.#recordGroup(target.ref);
    if (group === undefined || !mayAccess(principal, group, 'read')) {
      // The same answer as for a record that does not exist.
      throw new DroverError('DROVER_E_NOT_FOUND', `There is no ${target.noun} ${target.id}.`);
    }
    if (!mayAccess(principal, group, access))
      throw forbidden(`Your token may read group ${JSON.stringify(group)} but not change it.`);
  }

  async #recordGroup(ref: GroupRef): Promise<string | undefined> {
    const key = JSON.stringify(ref);
    const known = this.#groups.get(key);
    if (known !== undefined) return known;
    const group = await this.#groupOf(ref);
    if (group !== undefined) {
      if (this.#groups.size >= MAX_REMEMBERED) this.#groups.clear();
      this.#groups.set(key, group);
    }
    return group;
  }
}

export function signInFirst(): DroverError {
  return new DroverError(
    'DROVER_E_UNAUTHORIZED',
    'Sign in first: call auth.login with a token on the WebSocket, or send Authorization: Bearer <token> over HTTP.',
  );
}

export function forbidden(message: string): DroverError {
  return new DroverError('DROVER_E_FORBIDDEN', message);
}
