import { z } from 'zod';
import { DroverError } from './errors.js';
import { GroupName } from './ids.js';

/** The longest age Drover takes: 100 years, in milliseconds. */
export const MAX_RETENTION_MS = 100 * 365 * 86_400_000;

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const;
const DURATION = /^([0-9]{1,12})(d|h|m|s)$/;

/**
 * A duration as people write it: a whole number and one unit, `7d`, `12h`, `30m` or `90s`; in
 * milliseconds. Anything else (`7`, `1.5d`, `7 d`, `1w`, `-1d`, `1d12h`) is refused with
 * `DROVER_E_INVALID_PARAMS`, naming `what`.
 */
export function parseDuration(text: string, what = 'a duration'): number {
  const match = DURATION.exec(text);
  const unit = match?.[2] as keyof typeof UNIT_MS | undefined;
  const ms = match && unit ? Number(match[1]) * UNIT_MS[unit] : NaN;
  if (!Number.isSafeInteger(ms) || ms > MAX_RETENTION_MS) {
    throw new DroverError(
      'DROVER_E_INVALID_PARAMS',
      `${what} is a whole number and a unit, such as 7d, 12h, 30m or 90s (at most 36500d), not ${JSON.stringify(text)}.`,
    );
  }
  return ms;
}

/** Milliseconds as `parseDuration` reads them back, in the largest unit that is exact: `7d`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of Object.entries(UNIT_MS)) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** How long finished jobs are kept, in milliseconds: at least a second, at most 100 years. */
export const RetentionMs = z.int().min(1000).max(MAX_RETENTION_MS);

/**
 * A group's retention: `default` (the farm's, `drover server --retention`), `off` (its finished
 * jobs are kept forever), or its own, in milliseconds.
 */
export const GroupRetention = z.union([z.literal('default'), z.literal('off'), RetentionMs]);
export type GroupRetention = z.infer<typeof GroupRetention>;

/** `retention.prune`: delete the finished jobs older than this, now. */
export const PruneRequest = z.object({
  /** Jobs that finished longer ago than this, in ms, go, whatever their group's retention. */
  olderThanMs: z.int().min(0).max(MAX_RETENTION_MS),
  /** Only this group's jobs. @defaultValue every group's */
  group: GroupName.optional(),
  /** Count what would go and delete nothing. @defaultValue false */
  dryRun: z.boolean().optional(),
});
export type PruneRequest = z.infer<typeof PruneRequest>;

/** What a retention pass deleted (or, dry, would delete). */
export const PruneReport = z.object({
  jobs: z.int(),
  tasks: z.int(),
  /** Events of those jobs (their log lines among them), and old ones of no job. */
  events: z.int(),
  /** Artifact records: the files tasks produced. */
  artifacts: z.int(),
  /** Blobs (the files' bytes, by content) no artifact references any more: they go from disk. */
  blobs: z.int(),
  /** The size of those blobs, which each replica that held them frees. */
  bytes: z.int(),
  dryRun: z.boolean(),
});
export type PruneReport = z.infer<typeof PruneReport>;
