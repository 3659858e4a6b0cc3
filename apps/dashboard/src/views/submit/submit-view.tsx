import { useMemo, useState } from 'react';
import { JobSubmission, isDroverError } from '@drover/protocol';
import type { MethodParams } from '@drover/protocol';
import { useDrover } from '../../lib/drover.js';
import { describeError } from '../../lib/retry.js';
import { jobPath, navigate, setQuery, useQuery } from '../../lib/router.js';
import { useGroups } from '../jobs/use-groups.js';
import { fieldPaths, initialDraft, readDraft, withoutProperty } from './json-schema.js';
import type { Draft, FieldIssue, JsonSchema } from './json-schema.js';
import { FieldError, SchemaFields } from './schema-form.js';
import type { Errors } from './schema-form.js';
import { useTaskTypes } from './use-task-types.js';

/** The fields of the submission itself, outside the params. */
const TOP_FIELDS = [
  'taskType',
  'group',
  'name',
  'priority',
  'frames',
  'frames.start',
  'frames.end',
  'frames.step',
  'params',
];

interface Form {
  group: string;
  name: string;
  priority: string;
  useFrames: boolean;
  start: string;
  end: string;
  step: string;
  /** The params: a schema-driven draft, or JSON text when the task type has no schema. */
  params: Draft;
}

/**
 * Submits a job: a task type, a form generated from its params' JSON Schema with the defaults
 * filled in, group, name, priority and an optional frame range. Issues are shown at their field,
 * whether found here or by the server; on success the job's page opens.
 */
export function SubmitView() {
  const client = useDrover();
  const query = useQuery();
  const { taskTypes, error: typesError } = useTaskTypes();
  const groups = useGroups();
  const chosen = query.get('type') ?? '';
  const taskType = taskTypes?.find((t) => t.name === chosen);
  const schema = (taskType?.paramsSchema ?? undefined) as JsonSchema | undefined;

  return (
    <section className="view submit-view">
      <h1>Submit a job</h1>
      <form className="form" onSubmit={(e) => e.preventDefault()}>
        <label className="field">
          <span className="field-label">
            Task type<span className="required">*</span>
          </span>
          <select
            name="taskType"
            value={chosen}
            onChange={(e) => setQuery({ type: e.target.value })}
            aria-label="task type"
          >
            <option value="">{taskTypes ? 'choose…' : 'loading…'}</option>
            {taskTypes?.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name}
                {t.workers !== undefined && ` (${t.workers} worker${t.workers === 1 ? '' : 's'})`}
              </option>
            ))}
          </select>
          {typesError && <span className="field-error">{typesError}</span>}
          {taskType?.workers === 0 && (
            <span className="muted small">No online worker runs this type: the job will wait.</span>
          )}
        </label>
      </form>
      {chosen !== '' && (
        <SubmitForm
          key={chosen}
          taskType={chosen}
          schema={schema}
          defaultGroup={query.get('group') ?? 'default'}
          groups={groups?.map((g) => g.name) ?? []}
          onSubmit={async (submission) => {
            const { job } = await client.call('jobs.submit', submission);
            navigate(jobPath(job.id));
          }}
        />
      )}
    </section>
  );
}

function SubmitForm({
  taskType,
  schema,
  defaultGroup,
  groups,
  onSubmit,
}: {
  taskType: string;
  schema: JsonSchema | undefined;
  defaultGroup: string;
  groups: string[];
  onSubmit: (submission: MethodParams<'jobs.submit'>) => Promise<void>;
}) {
  const [form, setForm] = useState<Form>(() => ({
    group: defaultGroup,
    name: '',
    priority: '0',
    useFrames: false,
    start: '1',
    end: '10',
    step: '1',
    params: schema ? initialDraft(schema) : '{}',
  }));
  const [errors, setErrors] = useState<Errors>(new Map());
  const [busy, setBusy] = useState(false);
  // A frame range gives each task its `frame`: the form neither shows nor asks for it then.
  const params = useMemo(
    () => (schema && form.useFrames ? withoutProperty(schema, 'frame') : schema),
    [schema, form.useFrames],
  );
  const known = useMemo(
    () => (params ? fieldPaths(params, 'params', new Set(TOP_FIELDS)) : new Set(TOP_FIELDS)),
    [params],
  );
  const update = (patch: Partial<Form>) => setForm((f) => ({ ...f, ...patch }));

  const submit = async () => {
    const issues: FieldIssue[] = [];
    const submission = {
      taskType,
      group: form.group.trim(),
      params: readParams(params, form.params, issues),
      ...(form.name.trim() !== '' && { name: form.name.trim() }),
      ...(form.priority.trim() !== '' && { priority: Number(form.priority) }),
      ...(form.useFrames && {
        frames: { start: Number(form.start), end: Number(form.end), step: Number(form.step) },
      }),
    } as MethodParams<'jobs.submit'>;
    // The contract's own schema checks the submission, as the server will.
    const parsed = JobSubmission.safeParse(submission);
    if (!parsed.success)
      for (const issue of parsed.error.issues)
        issues.push({ path: issue.path.map(String).join('.'), message: issue.message });
    if (issues.length > 0) {
      setErrors(byPath(issues));
      return;
    }
    setBusy(true);
    setErrors(new Map());
    try {
      await onSubmit(submission);
    } catch (error) {
      if (isDroverError(error, 'DROVER_E_INVALID_PARAMS') && Array.isArray(error.details)) {
        setErrors(byPath(error.details as FieldIssue[], error.message));
      } else {
        setErrors(new Map([['', [describeError(error)]]]));
      }
    } finally {
      setBusy(false);
    }
  };

  const general = [...errors].filter(([path]) => !known.has(path));
  return (
    <form
      className="form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <div className="row">
        <label className="field">
          <span className="field-label">
            Group<span className="required">*</span>
          </span>
          <input
            name="group"
            list="groups"
            value={form.group}
            onChange={(e) => update({ group: e.target.value })}
            aria-invalid={errors.has('group')}
          />
          <datalist id="groups">
            {groups.map((g) => (
              <option key={g} value={g} />
            ))}
          </datalist>
          <FieldError errors={errors} path="group" />
        </label>
        <label className="field grow">
          <span className="field-label">Name</span>
          <input
            name="name"
            value={form.name}
            placeholder={taskType}
            onChange={(e) => update({ name: e.target.value })}
          />
          <FieldError errors={errors} path="name" />
        </label>
        <label className="field">
          <span className="field-label">Priority</span>
          <input
            name="priority"
            inputMode="numeric"
            className="narrow"
            value={form.priority}
            onChange={(e) => update({ priority: e.target.value })}
            aria-invalid={errors.has('priority')}
          />
          <FieldError errors={errors} path="priority" />
        </label>
      </div>
      <fieldset className="nested">
        <legend>
          <label>
            <input
              type="checkbox"
              name="useFrames"
              checked={form.useFrames}
              onChange={(e) => update({ useFrames: e.target.checked })}
            />{' '}
            One task per frame
          </label>
        </legend>
        {form.useFrames && (
          <div className="row">
            {(['start', 'end', 'step'] as const).map((key) => (
              <label key={key} className="field">
                <span className="field-label">{key}</span>
                <input
                  name={`frames.${key}`}
                  inputMode="numeric"
                  className="narrow"
                  value={form[key]}
                  onChange={(e) => update({ [key]: e.target.value })}
                  aria-invalid={errors.has(`frames.${key}`)}
                />
                <FieldError errors={errors} path={`frames.${key}`} />
              </label>
            ))}
            <FieldError errors={errors} path="frames" />
          </div>
        )}
      </fieldset>
      <fieldset className="nested params">
        <legend>Params</legend>
        {params ? (
          <SchemaFields
            schema={params}
            draft={form.params}
            path="params"
            errors={errors}
            onChange={(params) => update({ params })}
          />
        ) : (
          <label className="field field-json">
            <span className="muted small">
              A JSON object; this server does not describe the params of {taskType}.
            </span>
            <textarea
              name="params"
              rows={8}
              spellCheck={false}
              value={typeof form.params === 'string' ? form.params : ''}
              onChange={(e) => update({ params: e.target.value })}
              aria-invalid={errors.has('params')}
            />
          </label>
        )}
        <FieldError errors={errors} path="params" />
      </fieldset>
      {general.length > 0 && (
        <ul className="field-error general" role="alert">
          {general.map(([path, messages]) => (
            <li key={path}>
              {path && <code>{path}</code>} {messages.join('; ')}
            </li>
          ))}
        </ul>
      )}
      <div className="actions">
        <button className="primary" type="submit" disabled={busy}>
          {busy ? 'Submitting…' : 'Submit'}
        </button>
      </div>
    </form>
  );
}

function readParams(
  schema: JsonSchema | undefined,
  draft: Draft,
  issues: FieldIssue[],
): Record<string, unknown> {
  if (schema) return (readDraft(schema, draft, 'params', issues) ?? {}) as Record<string, unknown>;
  const text = typeof draft === 'string' ? draft.trim() : '';
  if (text === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
    issues.push({ path: 'params', message: 'must be a JSON object' });
  } catch (error) {
    issues.push({ path: 'params', message: `is not valid JSON: ${(error as Error).message}` });
  }
  return {};
}

function byPath(issues: readonly FieldIssue[], fallback?: string): Errors {
  const errors = new Map<string, string[]>();
  for (const { path, message } of issues) errors.set(path, [...(errors.get(path) ?? []), message]);
  if (errors.size === 0 && fallback) errors.set('', [fallback]);
  return errors;
}
