import { useEffect, useState } from 'react';
import { isTerminalJobStatus } from '@drover/protocol';
import type { JobRecord } from '@drover/protocol';
import { useDrover } from '../../lib/drover.js';
import { describeError } from '../../lib/retry.js';
import type { JobFilter } from './jobs-store.js';

type Action = 'cancel' | 'remove';

/** Whether the server's `jobs.apply` would change this job (see `JobAction`). */
export function jobActionApplies(action: Action, job: JobRecord): boolean {
  if (action === 'remove') return isTerminalJobStatus(job.status);
  return !isTerminalJobStatus(job.status) && (job.cancelReason === null || job.counts.queued > 0);
}

const PAST: Record<Action, string> = { cancel: 'Cancelled', remove: 'Removed' };

/**
 * Cancel or remove every job of the group the list's filter selects, each asked twice: one
 * `jobs.apply` call per thousand jobs, with the same filter the list applies (status, and text in
 * the name, task type or start of the id). The list follows from the events.
 */
export function BulkJobActions({
  group,
  filter,
  shown,
}: {
  group: string;
  filter: JobFilter;
  shown: readonly JobRecord[];
}) {
  const client = useDrover();
  const [confirming, setConfirming] = useState<Action>();
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<{ text: string; error: boolean }>();
  useEffect(() => {
    if (confirming === undefined) return;
    const timer = setTimeout(() => setConfirming(undefined), 4000);
    return () => clearTimeout(timer);
  }, [confirming]);

  const filtered = filter.status !== 'all' || filter.text !== '';
  const apply = async (action: Action) => {
    setBusy(true);
    setNote(undefined);
    let changed = 0;
    try {
      for (;;) {
        const page = await client.call('jobs.apply', {
          action,
          filter: {
            group,
            ...(filter.status !== 'all' && { statuses: [filter.status] }),
            ...(filter.text !== '' && { search: filter.text }),
          },
          ...(!filtered && { all: true }),
        });
        changed += page.jobs.length;
        if (!page.more || page.jobs.length === 0) break;
      }
      setNote({ text: `${PAST[action]} ${changed} job${changed === 1 ? '' : 's'}.`, error: false });
    } catch (error) {
      setNote({ text: `${PAST[action]} ${changed}, then: ${describeError(error)}`, error: true });
    } finally {
      setBusy(false);
    }
  };

  return (
    <span className="bulk-actions">
      {(['cancel', 'remove'] as const).map((action) => {
        const n = shown.filter((job) => jobActionApplies(action, job)).length;
        const label = `${action} ${n} ${filtered ? 'matching' : n === 1 ? 'job' : 'jobs'}`;
        return confirming === action ? (
          <button
            key={action}
            className="danger small"
            disabled={busy}
            onClick={() => {
              setConfirming(undefined);
              void apply(action);
            }}
          >
            Really {label}?
          </button>
        ) : (
          <button
            key={action}
            className="small"
            disabled={busy || n === 0}
            onClick={() => setConfirming(action)}
            title={filtered ? 'every job the filter selects' : 'every job of the group'}
          >
            {label}
          </button>
        );
      })}
      {note && (
        <span className={note.error ? 'error-text' : 'muted'} role="status">
          {note.text}
        </span>
      )}
    </span>
  );
}
