import { memo, useRef } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { ProgressBar, StatusBadge } from '../../components/status.js';
import { elapsed, formatDuration } from '../../lib/format.js';
import type { TaskRow } from './job-store.js';

const ROW_HEIGHT = 30;

/** A job's tasks by index, virtualised: a million-task job scrolls like a ten-task one. */
export function TaskTable({
  tasks,
  workerNames,
  selected,
  onSelect,
  now,
}: {
  tasks: readonly (TaskRow | undefined)[];
  workerNames: Map<string, string>;
  selected: string | undefined;
  onSelect: (id: string) => void;
  now: number;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: tasks.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 15,
  });
  return (
    <div className="table tasks-table" role="table" aria-label="tasks">
      <div className="thead" role="row">
        <span role="columnheader" className="num">
          #
        </span>
        <span role="columnheader">Status</span>
        <span role="columnheader" className="num">
          Attempt
        </span>
        <span role="columnheader">Worker</span>
        <span role="columnheader">Progress</span>
        <span role="columnheader" className="num">
          Duration
        </span>
      </div>
      <div className="tbody" ref={scroller}>
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {virtualizer.getVirtualItems().map((item) => {
            const task = tasks[item.index];
            if (!task) return null;
            return (
              <TaskLine
                key={task.id}
                task={task}
                worker={task.workerId ? (workerNames.get(task.workerId) ?? '…') : ''}
                selected={task.id === selected}
                onSelect={onSelect}
                now={task.finishedAt ? 0 : now}
                top={item.start}
              />
            );
          })}
        </div>
      </div>
    </div>
  );
}

const TaskLine = memo(function TaskLine({
  task,
  worker,
  selected,
  onSelect,
  now,
  top,
}: {
  task: TaskRow;
  worker: string;
  selected: boolean;
  onSelect: (id: string) => void;
  now: number;
  top: number;
}) {
  const duration = elapsed(task.startedAt, task.finishedAt, now || Date.now());
  const message = task.error?.message ?? task.message ?? '';
  return (
    <div
      className={`tr clickable ${selected ? 'selected' : ''}`}
      role="row"
      aria-selected={selected}
      data-task-id={task.id}
      data-task-index={task.index}
      style={{ transform: `translateY(${top}px)`, height: ROW_HEIGHT }}
      onClick={() => onSelect(task.id)}
    >
      <span role="cell" className="num">
        {task.index}
        {task.stage > 0 && <span className="muted small"> s{task.stage}</span>}
      </span>
      <span role="cell">
        <StatusBadge status={task.status} />
        {task.cancelRequested && task.finishedAt === null && (
          <span className="muted small"> stopping</span>
        )}
      </span>
      <span role="cell" className="num" data-attempt={task.attempt}>
        {task.attempt}
        {task.maxAttempts !== undefined && <span className="muted">/{task.maxAttempts}</span>}
      </span>
      <span role="cell" className="ellipsis">
        {worker}
      </span>
      <span role="cell" className="task-progress">
        <ProgressBar value={task.progress} status={task.status} />
        <span className={`ellipsis ${task.error ? 'error-text' : 'muted'}`} title={message}>
          {message}
        </span>
      </span>
      <span role="cell" className="num">
        {duration === undefined ? '' : formatDuration(duration)}
      </span>
    </div>
  );
});
