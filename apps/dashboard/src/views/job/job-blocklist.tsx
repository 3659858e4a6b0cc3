import { useEffect, useState } from 'react';
import { topics } from '@drover/protocol';
import type { WorkerBlock } from '@drover/protocol';
import { useDrover } from '../../lib/drover.js';
import { formatTime } from '../../lib/format.js';
import { useLiveTopic } from '../../lib/live.js';
import { describeError } from '../../lib/retry.js';

/**
 * The workers blocked for a job after failing its tasks (`jobs.blocklist`), each with a button
 * that lets it run them again (`jobs.unblock`). Read when the job is shown and when one is
 * blocked; nothing when none is.
 */
export function JobBlocklist({ jobId }: { jobId: string }) {
  const client = useDrover();
  const [blocked, setBlocked] = useState<WorkerBlock[]>([]);
  const [error, setError] = useState<string>();
  const [reads, setReads] = useState(0);
  useEffect(() => {
    let stopped = false;
    client.call('jobs.blocklist', { id: jobId }).then(
      (r) => !stopped && setBlocked(r.workers.filter((w) => w.blocked)),
      () => undefined,
    );
    return () => {
      stopped = true;
    };
  }, [client, jobId, reads]);
  useLiveTopic({
    topic: topics.job(jobId),
    // From the topic's head: only blockings from now on.
    load: () => Promise.resolve(),
    onEvents: (events) => {
      if (events.some((e) => e.kind === 'job.worker_blocked')) setReads((n) => n + 1);
    },
  });
  const unblock = async (workerId?: string) => {
    setError(undefined);
    try {
      await client.call('jobs.unblock', { id: jobId, ...(workerId !== undefined && { workerId }) });
      setReads((n) => n + 1);
    } catch (e) {
      setError(describeError(e));
    }
  };
  if (blocked.length === 0) return null;
  return (
    <div className="job-blocklist" aria-label="blocked workers">
      <strong>Blocked for this job</strong>{' '}
      <span className="muted small">after failing its tasks; they get none of them</span>
      <ul>
        {blocked.map((w) => (
          <li key={w.workerId} data-worker-id={w.workerId}>
            {w.workerName ?? w.workerId.slice(0, 8)}{' '}
            <span className="muted small">
              {w.failures} failures{w.blockedAt ? `, since ${formatTime(w.blockedAt)}` : ''}
            </span>{' '}
            <button onClick={() => void unblock(w.workerId)}>Unblock</button>
          </li>
        ))}
      </ul>
      {blocked.length > 1 && <button onClick={() => void unblock()}>Unblock all</button>}
      {error && (
        <span className="error-text" role="status">
          {error}
        </span>
      )}
    </div>
  );
}
