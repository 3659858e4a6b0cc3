import { useCallback, useEffect, useMemo, useState } from 'react';
import type { FormEvent } from 'react';
import type { ScheduleCatchUp, ScheduleOverlap, ScheduleRecord } from '@drover/protocol';
import { useDrover } from '../../lib/drover.js';
import { formatAge, formatTime } from '../../lib/format.js';
import { describeError } from '../../lib/retry.js';
import { useNow } from '../../lib/live.js';
import { Link, jobPath } from '../../lib/router.js';
import { EMPTY_FORM, formOf, parseForm, timeZones } from './schedule-form.js';
import type { ScheduleForm } from './schedule-form.js';

/** Schedules are read again this often: their ticks happen on the servers, not as events. */
const REFRESH_MS = 5000;

/**
 * The schedules of the groups the signed-in token may read: when each runs next, what its last
 * tick did and the job it submitted; pause, resume, run now, remove; add one or edit one.
 */
export function SchedulesView() {
  const client = useDrover();
  const [schedules, setSchedules] = useState<ScheduleRecord[]>();
  const [error, setError] = useState<string>();
  const [formError, setFormError] = useState<string>();
  const [form, setForm] = useState<ScheduleForm>(EMPTY_FORM);
  /** The schedule being edited; undefined: the form adds one. */
  const [editing, setEditing] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string>();
  const now = useNow(1000);
  const zones = useMemo(timeZones, []);

  const load = useCallback(() => {
    client.call('schedules.list', {}).then(
      ({ schedules }) => {
        setSchedules(schedules);
        setError(undefined);
      },
      (reason: unknown) => setError(describeError(reason)),
    );
  }, [client]);
  useEffect(() => {
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  const save = (event: FormEvent) => {
    event.preventDefault();
    const parsed = parseForm(form);
    if (typeof parsed === 'string') {
      setFormError(parsed);
      return;
    }
    setBusy(true);
    const call =
      editing === undefined
        ? client.call('schedules.add', parsed as never)
        : client.call('schedules.update', { ...parsed, name: editing } as never);
    call.then(
      (schedule) => {
        setBusy(false);
        setFormError(undefined);
        setNotice(`${editing === undefined ? 'Added' : 'Saved'} schedule ${schedule.name}.`);
        setEditing(undefined);
        setForm(EMPTY_FORM);
        load();
      },
      (reason: unknown) => {
        setBusy(false);
        setFormError(describeError(reason));
      },
    );
  };

  const act = (
    schedule: ScheduleRecord,
    method: 'schedules.pause' | 'schedules.resume' | 'schedules.remove',
  ) => {
    if (
      method === 'schedules.remove' &&
      !confirm(`Remove schedule "${schedule.name}"? The jobs it submitted stay.`)
    )
      return;
    client.call(method, { name: schedule.name }).then(
      () => {
        if (method === 'schedules.remove' && editing === schedule.name) {
          setEditing(undefined);
          setForm(EMPTY_FORM);
        }
        load();
      },
      (reason: unknown) => setError(describeError(reason)),
    );
  };

  const runNow = (schedule: ScheduleRecord) => {
    client.call('schedules.runNow', { name: schedule.name }).then(
      ({ job }) => {
        setNotice(`Schedule ${schedule.name} submitted job ${job.id}.`);
        load();
      },
      (reason: unknown) => setError(describeError(reason)),
    );
  };

  const edit = (schedule: ScheduleRecord) => {
    setEditing(schedule.name);
    setForm(formOf(schedule));
    setFormError(undefined);
  };
  const update = (patch: Partial<ScheduleForm>) => setForm((f) => ({ ...f, ...patch }));

  return (
    <section className="view schedules">
      <h1>Schedules</h1>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      {schedules === undefined ? (
        <p className="muted">Loading…</p>
      ) : schedules.length === 0 ? (
        <p className="empty">No schedules yet: add one below.</p>
      ) : (
        <table className="grid schedules-table" aria-label="schedules">
          <thead>
            <tr>
              <th>Name</th>
              <th>Group</th>
              <th>Cron</th>
              <th>Time zone</th>
              <th>Next run</th>
              <th>Last run</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {schedules.map((s) => (
              <tr key={s.id} data-schedule={s.name} data-paused={s.paused}>
                <td className="name">{s.name}</td>
                <td>{s.group}</td>
                <td className="mono">{s.cron}</td>
                <td>{s.timezone}</td>
                <td
                  className="next-run"
                  title={`Then ${s.upcoming.map((t) => inZone(t, s.timezone)).join(', ')}; here ${formatTime(s.nextRunAt)}`}
                >
                  {s.nextRunAt ? inZone(s.nextRunAt, s.timezone) : '—'}
                </td>
                <td className="last-run">
                  {s.lastJobId && s.lastRunAt ? (
                    <Link to={jobPath(s.lastJobId)}>{formatAge(s.lastRunAt, now)} ago</Link>
                  ) : (
                    'never'
                  )}
                </td>
                <td className="state" title={s.lastReason ?? ''}>
                  {s.paused ? (
                    <span className="badge paused">paused</span>
                  ) : (
                    (s.lastOutcome ?? 'waiting')
                  )}
                  {s.lastOutcome && s.lastOutcome !== 'submitted' && s.lastReason && (
                    <div className="muted small">{s.lastReason}</div>
                  )}
                </td>
                <td className="row-actions">
                  {s.paused ? (
                    <button
                      className="small"
                      type="button"
                      onClick={() => act(s, 'schedules.resume')}
                    >
                      Resume
                    </button>
                  ) : (
                    <button
                      className="small"
                      type="button"
                      onClick={() => act(s, 'schedules.pause')}
                    >
                      Pause
                    </button>
                  )}
                  <button className="small" type="button" onClick={() => runNow(s)}>
                    Run now
                  </button>
                  <button className="small" type="button" onClick={() => edit(s)}>
                    Edit
                  </button>
                  <button
                    className="small danger"
                    type="button"
                    onClick={() => act(s, 'schedules.remove')}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <form className="form schedule-form" onSubmit={save} aria-label="schedule">
        <h2>{editing === undefined ? 'Add a schedule' : `Edit ${editing}`}</h2>
        <div className="row">
          <label className="field">
            <span className="field-label">Name</span>
            <input
              name="name"
              value={form.name}
              disabled={editing !== undefined}
              placeholder="nightly-renders"
              onChange={(e) => update({ name: e.target.value })}
            />
          </label>
          <label className="field">
            <span className="field-label">Cron</span>
            <input
              name="cron"
              className="mono"
              value={form.cron}
              placeholder="*/5 * * * *"
              onChange={(e) => update({ cron: e.target.value })}
            />
          </label>
          <label className="field">
            <span className="field-label">Time zone</span>
            <input
              name="timezone"
              list="schedule-zones"
              value={form.timezone}
              onChange={(e) => update({ timezone: e.target.value })}
            />
            <datalist id="schedule-zones">
              {zones.map((zone) => (
                <option key={zone} value={zone} />
              ))}
            </datalist>
          </label>
          <label className="field">
            <span className="field-label">While the last job runs</span>
            <select
              name="overlap"
              value={form.overlap}
              onChange={(e) => update({ overlap: e.target.value as ScheduleOverlap })}
            >
              <option value="skip">skip this run</option>
              <option value="queue">queue this run too</option>
              <option value="cancel">cancel the last job</option>
            </select>
          </label>
          <label className="field">
            <span className="field-label">Runs missed while no server ran</span>
            <select
              name="catchUp"
              value={form.catchUp}
              onChange={(e) => update({ catchUp: e.target.value as ScheduleCatchUp })}
            >
              <option value="none">drop them</option>
              <option value="last">run once for them</option>
            </select>
          </label>
        </div>
        <p className="muted small">
          Five fields (minute hour day month weekday), or six with seconds first:{' '}
          <code>0 2 * * *</code> is 02:00 every day, <code>*/5 * * * *</code> every five minutes.
        </p>
        <label className="field">
          <span className="field-label">Job (what drover submit --file takes)</span>
          <textarea
            name="job"
            rows={8}
            value={form.job}
            onChange={(e) => update({ job: e.target.value })}
          />
        </label>
        {formError && (
          <p className="error-text" role="alert" data-form-error>
            {formError}
          </p>
        )}
        <div className="actions">
          <button className="primary" type="submit" disabled={busy}>
            {busy ? 'Saving…' : editing === undefined ? 'Add schedule' : 'Save schedule'}
          </button>
          {editing !== undefined && (
            <button
              type="button"
              onClick={() => {
                setEditing(undefined);
                setForm(EMPTY_FORM);
                setFormError(undefined);
              }}
            >
              Cancel
            </button>
          )}
        </div>
      </form>
    </section>
  );
}

/** A time as the schedule's zone tells it: its cron is read there. */
function inZone(iso: string, timeZone: string): string {
  try {
    return new Date(iso).toLocaleString(undefined, { hour12: false, timeZone });
  } catch {
    return formatTime(iso);
  }
}
