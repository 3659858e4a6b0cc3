import { scheduledBy } from '@drover/protocol';
import type { JobRecord } from '@drover/protocol';
import { formatTime } from '../../lib/format.js';
import { Link } from '../../lib/router.js';

/** On a job's page, the schedule that submitted it and for which tick (from its idempotency key). */
export function ScheduledBy({ job }: { job: JobRecord }) {
  const by = scheduledBy(job.idempotencyKey);
  if (!by) return null;
  return (
    <>
      <dt>schedule</dt>
      <dd data-scheduled-by={by.scheduleId}>
        <Link to="/schedules">tick of {formatTime(by.tick)}</Link>
      </dd>
    </>
  );
}
