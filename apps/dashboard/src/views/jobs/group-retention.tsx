import { useState } from 'react';
import { formatDuration, parseDuration } from '@drover/protocol';
import type { GroupRecord, GroupRetention } from '@drover/protocol';
import { useDrover } from '../../lib/drover.js';
import { useSession } from '../../lib/session.js';
import { describeError } from '../../lib/retry.js';

/** A group's retention as people read it. */
export function retentionLabel(retention: GroupRetention): string {
  if (retention === 'default') return "as long as the farm's retention";
  if (retention === 'off') return 'forever';
  return formatDuration(retention);
}

/** What a field for a group's retention takes: `7d`, `12h`, `off` or `default`. */
function parseRetention(text: string): GroupRetention {
  const value = text.trim();
  if (value === 'off' || value === 'default' || value === '')
    return value === '' ? 'default' : value;
  const ms = parseDuration(value, 'A retention');
  if (ms < 1000) throw new Error('A retention is at least 1s; off keeps the jobs forever.');
  return ms;
}

/**
 * How long the group keeps its finished jobs after they end, before retention deletes them with
 * their tasks, logs and files. An admin changes it here (`7d`, `12h`, `off`, or `default` for the
 * farm's); it is stored in the database, for every server of the farm.
 */
export function GroupRetentionView({
  record,
  onChange,
}: {
  record: GroupRecord;
  onChange: (record: GroupRecord) => void;
}) {
  const client = useDrover();
  const session = useSession();
  const admin = session.state === 'signed-in' && session.principal.role === 'admin';
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const save = async () => {
    setError(undefined);
    let retention: GroupRetention;
    try {
      retention = parseRetention(text);
    } catch (e) {
      setError(describeError(e));
      return;
    }
    setBusy(true);
    try {
      onChange(await client.call('groups.setRetention', { name: record.name, retention }));
      setEditing(false);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <span className="group-retention muted small" data-group-retention={String(record.retention)}>
      Keeps finished jobs <strong>{retentionLabel(record.retention)}</strong>
      {admin && !editing && (
        <button
          className="small"
          type="button"
          title="How long this group keeps its finished jobs after they end"
          onClick={() => {
            setText(
              typeof record.retention === 'number'
                ? formatDuration(record.retention)
                : record.retention,
            );
            setEditing(true);
          }}
        >
          Change
        </button>
      )}
      {editing && (
        <form
          className="retention-form"
          onSubmit={(event) => {
            event.preventDefault();
            void save();
          }}
        >
          <input
            aria-label="retention"
            value={text}
            size={8}
            placeholder="7d"
            title="A whole number and d, h, m or s; off keeps them forever; default is the farm's"
            onChange={(event) => setText(event.target.value)}
          />
          <button className="small" type="submit" disabled={busy}>
            Save
          </button>
          <button className="small" type="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      )}
      {error && (
        <span className="error-text" role="status">
          {error}
        </span>
      )}
    </span>
  );
}
