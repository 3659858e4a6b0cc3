import { useEffect, useState } from 'react';
import { isTerminalJobStatus } from '@drover/protocol';
import type { JobRecord } from '@drover/protocol';
import { useDrover } from '../../lib/drover.js';
import { describeError } from '../../lib/retry.js';
import { navigate } from '../../lib/router.js';
import { PauseButton } from './pause-button.js';

/**
 * Cancel (asked twice), retry, priority and, once finished, remove (asked twice) for one job; the
 * page updates from the events.
 */
export function JobActions({ job, onJob }: { job: JobRecord; onJob: (job: JobRecord) => void }) {
  const client = useDrover();
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<{ text: string; error: boolean }>();
  const [confirming, setConfirming] = useState(false);
  const [confirmingRemove, setConfirmingRemove] = useState(false);
  const [priority, setPriority] = useState(String(job.priority));

  useEffect(() => setPriority(String(job.priority)), [job.priority]);
  useEffect(() => {
    if (!confirming && !confirmingRemove) return;
    const timer = setTimeout(() => {
      setConfirming(false);
      setConfirmingRemove(false);
    }, 4000);
    return () => clearTimeout(timer);
  }, [confirming, confirmingRemove]);

  const act = async (what: () => Promise<string>) => {
    setBusy(true);
    setNote(undefined);
    try {
      setNote({ text: await what(), error: false });
    } catch (error) {
      setNote({ text: describeError(error), error: true });
    } finally {
      setBusy(false);
    }
  };

  const cancel = () =>
    act(async () => {
      const { job: next } = await client.call('jobs.cancel', {
        id: job.id,
        reason: 'cancelled from the dashboard',
      });
      onJob(next);
      return 'Cancel sent: running tasks are being stopped.';
    });
  const retry = () =>
    act(async () => {
      const { job: next, retried } = await client.call('jobs.retry', { id: job.id });
      onJob(next);
      return `${retried.length} task${retried.length === 1 ? '' : 's'} put back in the queue.`;
    });
  const changePriority = () =>
    act(async () => {
      const value = Number(priority);
      if (!Number.isInteger(value) || value < -1000 || value > 1000)
        throw new Error('A priority is a whole number from -1000 to 1000.');
      const { job: next } = await client.call('jobs.setPriority', { id: job.id, priority: value });
      onJob(next);
      return `Priority set to ${value}.`;
    });

  const remove = () =>
    act(async () => {
      await client.call('jobs.remove', { id: job.id });
      navigate(`/jobs?group=${encodeURIComponent(job.group)}`);
      return 'Removed.';
    });

  const terminal = isTerminalJobStatus(job.status);
  const retryable = job.counts.failed + job.counts.cancelled > 0;
  return (
    <div className="actions">
      <PauseButton job={job} onJob={onJob} />
      {!terminal &&
        (confirming ? (
          <button
            className="danger"
            disabled={busy}
            onClick={() => {
              setConfirming(false);
              void cancel();
            }}
          >
            Really cancel?
          </button>
        ) : (
          <button disabled={busy} onClick={() => setConfirming(true)}>
            Cancel job
          </button>
        ))}
      <button disabled={busy || !retryable} onClick={() => void retry()}>
        Retry failed
      </button>
      {terminal &&
        (confirmingRemove ? (
          <button
            className="danger"
            disabled={busy}
            onClick={() => {
              setConfirmingRemove(false);
              void remove();
            }}
          >
            Really remove?
          </button>
        ) : (
          <button
            disabled={busy}
            onClick={() => setConfirmingRemove(true)}
            title="Remove the job with its tasks, logs and files"
          >
            Remove job
          </button>
        ))}
      <form
        className="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void changePriority();
        }}
      >
        <label>
          Priority{' '}
          <input
            type="number"
            min={-1000}
            max={1000}
            step={1}
            value={priority}
            onChange={(e) => setPriority(e.target.value)}
            aria-label="priority"
            className="narrow"
          />
        </label>
        <button disabled={busy || priority === String(job.priority)}>Set</button>
      </form>
      {note && (
        <span className={note.error ? 'error-text' : 'muted'} role="status">
          {note.text}
        </span>
      )}
    </div>
  );
}
