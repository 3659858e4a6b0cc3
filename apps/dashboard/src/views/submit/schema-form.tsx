import { fieldOf, setIn } from './json-schema.js';
import type { Draft, JsonSchema } from './json-schema.js';

export type Errors = ReadonlyMap<string, readonly string[]>;

/** The issues of one field, shown under it. */
export function FieldError({ errors, path }: { errors: Errors; path: string }) {
  const messages = errors.get(path);
  if (!messages?.length) return null;
  return (
    <span className="field-error" role="alert" data-error-for={path}>
      {messages.join('; ')}
    </span>
  );
}

/**
 * The fields of an object schema, nested objects as fieldsets. `path` names each field the way
 * validation issues do (`params.size.width`), which is also its input's `name`.
 */
export function SchemaFields({
  schema,
  draft,
  path,
  errors,
  onChange,
}: {
  schema: JsonSchema;
  draft: Draft;
  path: string;
  errors: Errors;
  onChange: (draft: Draft) => void;
}) {
  const { schema: s } = fieldOf(schema);
  const values = typeof draft === 'object' ? draft : {};
  return (
    <>
      {Object.entries(s.properties ?? {}).map(([key, child]) => (
        <SchemaField
          key={key}
          name={key}
          schema={child}
          required={s.required?.includes(key) ?? false}
          draft={values[key] ?? ''}
          path={`${path}.${key}`}
          errors={errors}
          onChange={(value) => onChange(setIn(draft, [key], value))}
        />
      ))}
    </>
  );
}

function SchemaField({
  name,
  schema,
  required,
  draft,
  path,
  errors,
  onChange,
}: {
  name: string;
  schema: JsonSchema;
  required: boolean;
  draft: Draft;
  path: string;
  errors: Errors;
  onChange: (draft: Draft) => void;
}) {
  const { kind, schema: s } = fieldOf(schema);
  const label = s.title ?? schema.title ?? name;
  const help = s.description ?? schema.description;
  const invalid = (errors.get(path)?.length ?? 0) > 0;
  if (kind === 'object') {
    return (
      <fieldset className="nested">
        <legend>{label}</legend>
        {help && <p className="muted small">{help}</p>}
        <SchemaFields schema={s} draft={draft} path={path} errors={errors} onChange={onChange} />
        <FieldError errors={errors} path={path} />
      </fieldset>
    );
  }
  const text = typeof draft === 'string' ? draft : '';
  let input;
  switch (kind) {
    case 'boolean':
      input = (
        <input
          type="checkbox"
          name={path}
          checked={draft === true}
          onChange={(e) => onChange(e.target.checked)}
        />
      );
      break;
    case 'enum':
      input = (
        <select
          name={path}
          value={text}
          onChange={(e) => onChange(e.target.value)}
          aria-invalid={invalid}
        >
          {(!required || s.default === undefined) && <option value="">–</option>}
          {(s.enum ?? []).map((option) => {
            const value = JSON.stringify(option);
            return (
              <option key={value} value={value}>
                {typeof option === 'string' ? option : value}
              </option>
            );
          })}
        </select>
      );
      break;
    case 'number':
    case 'integer':
      input = (
        <input
          type="text"
          inputMode={kind === 'integer' ? 'numeric' : 'decimal'}
          name={path}
          value={text}
          placeholder={bounds(s)}
          onChange={(e) => onChange(e.target.value)}
          aria-invalid={invalid}
        />
      );
      break;
    case 'json':
      input = (
        <textarea
          name={path}
          value={text}
          rows={3}
          placeholder="JSON"
          onChange={(e) => onChange(e.target.value)}
          aria-invalid={invalid}
          spellCheck={false}
        />
      );
      break;
    default:
      input = (
        <input
          type="text"
          name={path}
          value={text}
          onChange={(e) => onChange(e.target.value)}
          aria-invalid={invalid}
        />
      );
  }
  return (
    <label className={`field field-${kind}`}>
      <span className="field-label">
        {label}
        {required && s.default === undefined && <span className="required">*</span>}
        <span className="muted small"> {kind === 'json' ? 'JSON' : kind}</span>
      </span>
      {input}
      {help && <span className="muted small">{help}</span>}
      <FieldError errors={errors} path={path} />
    </label>
  );
}

function bounds(s: JsonSchema): string {
  const SAFE = Number.MAX_SAFE_INTEGER;
  const low = s.minimum ?? s.exclusiveMinimum;
  const high = s.maximum ?? s.exclusiveMaximum;
  const parts: string[] = [];
  if (low !== undefined && Math.abs(low) < SAFE) parts.push(`from ${low}`);
  if (high !== undefined && Math.abs(high) < SAFE) parts.push(`to ${high}`);
  return parts.join(' ');
}
