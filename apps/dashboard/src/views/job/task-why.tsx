import { useEffect, useState } from 'react';
import type { TaskWhy as Why } from '@drover/protocol';
import { useDrover } from '../../lib/drover.js';
import type { TaskRow } from './job-store.js';

/** How often the reasons are read again while the task waits. */
const REFRESH_MS = 5000;

/**
 * Why a queued task is not running (`tasks.why`): the reasons from the farm's state, most
 * specific first, read when the task is shown, when it changes and every few seconds while it
 * waits. Nothing for a task that is not waiting.
 */
export function TaskWhy({ task }: { task: TaskRow }) {
  const client = useDrover();
  const [why, setWhy] = useState<Why>();
  const waiting = task.status === 'queued' || task.status === 'blocked';
  useEffect(() => {
    if (!waiting) return;
    let stopped = false;
    const read = () =>
      client.call('tasks.why', { id: task.id }).then(
        (r) => !stopped && setWhy(r),
        () => undefined,
      );
    void read();
    const timer = setInterval(() => void read(), REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [client, task.id, task.status, task.attempt, waiting]);
  if (!waiting || !why || why.taskId !== task.id) return null;
  return (
    <div className="task-why" aria-label="why it waits">
      {why.reasons.length === 0 ? (
        <p className="muted small">Nothing holds it back: the next dispatcher pass may start it.</p>
      ) : (
        <ul>
          {why.reasons.map((r) => (
            <li key={r.code} data-reason={r.code}>
              {r.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
