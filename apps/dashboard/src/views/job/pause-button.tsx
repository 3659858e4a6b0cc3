import { useState } from 'react';
import { isTerminalJobStatus } from '@drover/protocol';
import type { JobRecord } from '@drover/protocol';
import { useDrover } from '../../lib/drover.js';
import { describeError } from '../../lib/retry.js';

/**
 * Pause or resume one job: paused, the tasks workers hold finish and no other starts; resumed,
 * its waiting tasks start at once (even while its group stays paused). The page follows from the
 * job's events; the answer is shown at once.
 */
export function PauseButton({ job, onJob }: { job: JobRecord; onJob: (job: JobRecord) => void }) {
  const client = useDrover();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  // A finished job has nothing to start; one that is paused can still be resumed.
  if (isTerminalJobStatus(job.status) && !job.paused) return null;
  const toggle = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const method = job.paused ? 'jobs.resume' : 'jobs.pause';
      onJob((await client.call(method, { id: job.id })).job);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        disabled={busy}
        onClick={() => void toggle()}
        title={
          job.paused
            ? 'Start its waiting tasks again'
            : 'Running tasks finish; no other starts until resumed'
        }
      >
        {job.paused ? 'Resume job' : 'Pause job'}
      </button>
      {error && (
        <span className="error-text" role="status">
          {error}
        </span>
      )}
    </>
  );
}
