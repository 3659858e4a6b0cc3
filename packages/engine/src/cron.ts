import { Cron } from 'croner';
import { DroverError } from '@drover/protocol';

/** How many upcoming ticks a schedule's record shows. */
const UPCOMING = 5;

/**
 * A schedule's rule: a cron expression (five fields, or six with seconds first) read in an IANA
 * time zone. The arithmetic is croner's, which follows the zone's daylight-saving changes: a
 * tick in the hour that is skipped in spring runs at the first minute after it, one in the hour
 * that repeats in autumn runs once.
 */
export class CronRule {
  readonly #cron: Cron;

  /** Refuses a zone that is not an IANA name, and an expression croner cannot read or never fires. */
  constructor(expression: string, timezone: string) {
    checkTimeZone(timezone);
    try {
      this.#cron = new Cron(expression, { timezone, paused: true, mode: '5-or-6-parts' });
    } catch (error) {
      throw invalidCron(expression, (error as Error).message, error);
    }
    if (this.#cron.nextRun(new Date()) === null)
      throw invalidCron(expression, 'it names no time that will come (such as 30 February)');
  }

  /** The first tick strictly after `after`; null if there is none (a rule that has ended). */
  next(after: Date): Date | null {
    return this.#cron.nextRun(after);
  }

  /** The latest tick at or before `at`. */
  latest(at: Date): Date | null {
    // previousRuns looks strictly before its reference, at whole seconds.
    return this.#cron.previousRuns(1, new Date(at.getTime() + 1000))[0] ?? null;
  }

  /** The ticks after `after`, for people to check the rule. */
  upcoming(after: Date, n = UPCOMING): Date[] {
    return this.#cron.nextRuns(n, after);
  }
}

function checkTimeZone(timezone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch (error) {
    throw new DroverError(
      'DROVER_E_INVALID_TIMEZONE',
      `There is no time zone ${JSON.stringify(timezone)}: give an IANA name such as Europe/Paris, America/New_York or UTC.`,
      { details: [{ path: 'timezone', message: 'not an IANA time zone' }], cause: error },
    );
  }
}

function invalidCron(expression: string, why: string, cause?: unknown): DroverError {
  return new DroverError(
    'DROVER_E_INVALID_CRON',
    `The cron expression ${JSON.stringify(expression)} cannot be used: ${why}. Give five fields (minute hour day month weekday), or six with seconds first, such as "*/5 * * * *".`,
    { details: [{ path: 'cron', message: why }], cause },
  );
}
