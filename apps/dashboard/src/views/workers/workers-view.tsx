import { useEffect, useMemo, useState } from 'react';
import { WorkerState, topics } from '@drover/protocol';
import type { WorkerRecord } from '@drover/protocol';
import { ProgressBar, StatusBadge } from '../../components/status.js';
import { useDrover } from '../../lib/drover.js';
import { formatAge, formatBytes, formatTime } from '../../lib/format.js';
import { useLiveTopic, useNow } from '../../lib/live.js';
import { describeError, untilDone } from '../../lib/retry.js';
import { setQuery, useQuery } from '../../lib/router.js';
import { useVersion } from '../../lib/store.js';
import { WorkersStore, actionApplies, workerMatches } from './workers-store.js';
import type { WorkerAction, WorkerFilter } from './workers-store.js';

const ACTIONS: readonly WorkerAction[] = ['disable', 'enable', 'drain'];
/** How often the load, last-seen and slot figures are read again, in ms. */
const REFRESH_MS = 5000;

/**
 * Every worker, live, with its load; disable, enable or drain one, or every worker a filter
 * selects (by state, tag and name) at once.
 */
export function WorkersView() {
  const client = useDrover();
  const store = useMemo(() => new WorkersStore(), []);
  useVersion(store);
  const query = useQuery();
  const filter: WorkerFilter = {
    state: parseState(query.get('state')),
    tag: query.get('tag') ?? '',
    text: query.get('q') ?? '',
  };
  const [action, setAction] = useState<WorkerAction>('drain');
  const [note, setNote] = useState<{ text: string; error: boolean }>();
  const [busy, setBusy] = useState(false);
  const now = useNow(1000);

  const { status, error } = useLiveTopic({
    topic: topics.workers,
    load: async (signal) => {
      const { workers } = await untilDone(() => client.call('workers.list', {}), signal);
      store.set(workers);
    },
    onEvents: (events) => store.apply(events),
  });

  // Host load, last seen and slots in use change with every heartbeat and task, which the
  // server keeps out of the event stream; the list is read again for them.
  useEffect(() => {
    const timer = setInterval(() => {
      client.call('workers.list', {}).then(
        ({ workers }) => store.set(workers),
        () => undefined,
      );
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [client, store]);

  const workers = store.all;
  const tags = useMemo(() => [...new Set(workers.flatMap((w) => w.tags))].sort(), [workers]);
  const matching = workers.filter((w) => workerMatches(w, filter));
  const targets = matching.filter((w) => actionApplies(action, w));
  const filtered = filter.state !== '' || filter.tag !== '' || filter.text !== '';

  /** One worker's own button: the single call. */
  const apply = async (what: WorkerAction, list: readonly WorkerRecord[]) => {
    setBusy(true);
    setNote(undefined);
    const results = await Promise.allSettled(
      list.map((w) => client.call(`workers.${what}`, { id: w.id })),
    );
    const failed = results.filter((r) => r.status === 'rejected');
    setBusy(false);
    const done = `${verb(what)} ${list.length - failed.length} of ${list.length} worker${list.length === 1 ? '' : 's'}`;
    setNote(
      failed.length === 0
        ? { text: `${done}.`, error: false }
        : { text: `${done}: ${describeError(failed[0]?.reason)}`, error: true },
    );
  };

  /** Every worker the filter selects, in one call: the server applies the same filter. */
  const applyToMatching = async (what: WorkerAction) => {
    setBusy(true);
    setNote(undefined);
    try {
      const { workers: changed } = await client.call('workers.apply', {
        action: what,
        filter: {
          ...(filter.state !== '' && { states: [filter.state] }),
          ...(filter.tag !== '' && { tags: [filter.tag] }),
          ...(filter.text !== '' && { search: filter.text }),
        },
        ...(!filtered && { all: true }),
      });
      setNote({
        text: `${verb(what)} ${changed.length} worker${changed.length === 1 ? '' : 's'}.`,
        error: false,
      });
    } catch (error) {
      setNote({ text: describeError(error), error: true });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="view workers-view">
      <div className="toolbar">
        <select
          value={filter.state}
          onChange={(e) => setQuery({ state: e.target.value })}
          aria-label="state"
        >
          <option value="">any state</option>
          {WorkerState.options.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <select
          value={filter.tag}
          onChange={(e) => setQuery({ tag: e.target.value })}
          aria-label="tag"
        >
          <option value="">any tag</option>
          {tags.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <input
          type="search"
          placeholder="Name or host contains"
          value={filter.text}
          onChange={(e) => setQuery({ q: e.target.value })}
          aria-label="search workers"
        />
        <span className="muted">
          {matching.length} of {workers.length} workers
        </span>
        <span className="spacer" />
        <select
          value={action}
          onChange={(e) => setAction(e.target.value as WorkerAction)}
          aria-label="action"
        >
          {ACTIONS.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
        <button
          disabled={busy || targets.length === 0}
          onClick={() => void applyToMatching(action)}
          title={filtered ? 'every worker the filter selects' : 'every worker'}
        >
          {action} {targets.length}{' '}
          {filtered ? 'matching' : targets.length === 1 ? 'worker' : 'workers'}
        </button>
      </div>
      {note && (
        <p className={note.error ? 'error-text' : 'muted'} role="status">
          {note.text}
        </p>
      )}
      {status === 'failed' && (
        <p className="error-text">Could not read the workers: {describeError(error)}</p>
      )}
      <table className="grid workers-table" aria-label="workers">
        <thead>
          <tr>
            <th>Name</th>
            <th>State</th>
            <th>Host</th>
            <th>Tags</th>
            <th className="num">Slots</th>
            <th>CPU</th>
            <th>Memory</th>
            <th className="num">Load</th>
            <th className="num">Last seen</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {matching.map((w) => (
            <WorkerRow key={w.id} worker={w} now={now} busy={busy} onAction={apply} />
          ))}
        </tbody>
      </table>
      {status === 'live' && matching.length === 0 && (
        <p className="empty">
          {workers.length === 0 ? 'No worker has joined yet.' : 'No worker matches.'}
        </p>
      )}
    </section>
  );
}

function WorkerRow({
  worker: w,
  now,
  busy,
  onAction,
}: {
  worker: WorkerRecord;
  now: number;
  busy: boolean;
  onAction: (action: WorkerAction, workers: WorkerRecord[]) => Promise<void>;
}) {
  const { cpu, memoryUsed, memoryTotal, load } = w.stats;
  return (
    <tr data-worker-id={w.id} data-worker-name={w.name} data-state={w.state}>
      <td className="name" title={`${w.id}\ntask types: ${w.taskTypes.join(', ')}`}>
        {w.name}
      </td>
      <td>
        <StatusBadge status={w.state} />
        {w.hold && w.hold !== w.state && (
          <span className="hold" title="An operator's order, kept until the worker is enabled">
            {' '}
            {w.hold === 'draining' ? 'drained' : w.hold}
          </span>
        )}
      </td>
      <td className="ellipsis">{w.host}</td>
      <td>
        {w.tags.map((t) => (
          <span key={t} className="tag">
            {t}
          </span>
        ))}
      </td>
      <td className="num">
        {w.state === 'offline' ? 0 : w.running}/{w.slots}
      </td>
      <td className="meter">
        {cpu !== undefined && w.state !== 'offline' ? <ProgressBar value={cpu} /> : '–'}
      </td>
      <td className="meter">
        {memoryUsed !== undefined && memoryTotal ? (
          <span title={`${formatBytes(memoryUsed)} of ${formatBytes(memoryTotal)}`}>
            <ProgressBar value={memoryUsed / memoryTotal} />
          </span>
        ) : (
          '–'
        )}
      </td>
      <td className="num">{load?.[0]?.toFixed(2) ?? '–'}</td>
      <td className="num" title={formatTime(w.lastSeenAt)}>
        {formatAge(w.lastSeenAt, now)} ago
      </td>
      <td className="row-actions">
        {ACTIONS.map((a) => (
          <button
            key={a}
            className="small"
            disabled={busy || !actionApplies(a, w)}
            onClick={() => void onAction(a, [w])}
          >
            {a}
          </button>
        ))}
      </td>
    </tr>
  );
}

function parseState(value: string | null): WorkerState | '' {
  const parsed = WorkerState.safeParse(value);
  return parsed.success ? parsed.data : '';
}

function verb(action: WorkerAction): string {
  return { disable: 'Disabled', enable: 'Enabled', drain: 'Draining' }[action];
}
