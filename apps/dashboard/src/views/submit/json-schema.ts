/**
 * The part of JSON Schema (2020-12, as zod's `toJSONSchema` writes it) that the submit form
 * renders: objects with properties, strings, numbers, integers, booleans and enums, with their
 * defaults and bounds. Anything else (arrays, unions) is edited as JSON text.
 */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

export type FieldKind = 'object' | 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'json';

/** A form's editable state: text for scalars and JSON, a flag for booleans, nested for objects. */
export type Draft = string | boolean | { [key: string]: Draft };

export interface FieldIssue {
  /** Dotted, such as `params.size.width`. */
  path: string;
  message: string;
}

/**
 * What kind of field edits values of `schema`, looking through nullable unions
 * (`anyOf: [X, {type: 'null'}]`) to X.
 */
export function fieldOf(schema: JsonSchema): { kind: FieldKind; schema: JsonSchema } {
  const options = schema.anyOf ?? schema.oneOf;
  if (options) {
    const real = options.filter((o) => o.type !== 'null');
    if (real.length === 1 && real[0]) {
      const inner = fieldOf(real[0]);
      return {
        kind: inner.kind,
        schema: { ...inner.schema, default: schema.default ?? inner.schema.default },
      };
    }
    if (real.length > 0 && real.every((o) => o.const !== undefined))
      return { kind: 'enum', schema: { ...schema, enum: real.map((o) => o.const) } };
    return { kind: 'json', schema };
  }
  if (schema.enum) return { kind: 'enum', schema };
  if (schema.const !== undefined)
    return { kind: 'enum', schema: { ...schema, enum: [schema.const] } };
  const types = (Array.isArray(schema.type) ? schema.type : [schema.type]).filter(
    (t) => t !== 'null' && t !== undefined,
  );
  const type = types.length === 1 ? types[0] : undefined;
  if (type === 'object' && schema.properties) return { kind: 'object', schema };
  if (type === 'string' || type === 'number' || type === 'integer' || type === 'boolean')
    return { kind: type, schema };
  return { kind: 'json', schema };
}

/** The form's starting state: every default filled in. */
export function initialDraft(schema: JsonSchema, value: unknown = schema.default): Draft {
  const { kind, schema: s } = fieldOf(schema);
  const given = value ?? s.default;
  switch (kind) {
    case 'object': {
      const draft: Record<string, Draft> = {};
      const object = isObject(given) ? given : {};
      for (const [key, child] of Object.entries(s.properties ?? {}))
        draft[key] = initialDraft(child, object[key]);
      return draft;
    }
    case 'boolean':
      return given === true;
    case 'enum':
      return given === undefined ? '' : JSON.stringify(given);
    case 'json':
      return given === undefined ? '' : JSON.stringify(given, null, 2);
    default:
      if (given === undefined || given === null) return '';
      return typeof given === 'string' ? given : JSON.stringify(given);
  }
}

/**
 * The value a draft stands for, and every issue with it, by field path. An empty optional
 * field is left out, so the task type's own default applies.
 */
export function readDraft(
  schema: JsonSchema,
  draft: Draft | undefined,
  path: string,
  issues: FieldIssue[],
  required = true,
): unknown {
  const { kind, schema: s } = fieldOf(schema);
  const issue = (message: string) => issues.push({ path, message });
  if (kind === 'object') {
    const object: Record<string, unknown> = {};
    const draftObject = isObject(draft) ? (draft as Record<string, Draft>) : {};
    for (const [key, child] of Object.entries(s.properties ?? {})) {
      const value = readDraft(
        child,
        draftObject[key],
        `${path}.${key}`,
        issues,
        s.required?.includes(key) ?? false,
      );
      if (value !== undefined) object[key] = value;
    }
    return object;
  }
  if (kind === 'boolean') return draft === true;
  const text = typeof draft === 'string' ? draft.trim() : '';
  if (text === '') {
    if (required && s.default === undefined) issue('required');
    return undefined;
  }
  let value: unknown;
  switch (kind) {
    case 'enum':
    case 'json':
      try {
        value = JSON.parse(text);
      } catch {
        issue('is not valid JSON');
        return undefined;
      }
      break;
    case 'number':
    case 'integer':
      value = Number(text);
      if (!Number.isFinite(value)) {
        issue('must be a number');
        return undefined;
      }
      break;
    default:
      value = typeof draft === 'string' ? draft : '';
  }
  for (const message of check(s, value)) issue(message);
  return value;
}

/** What is wrong with `value` against `schema`, checked shallowly for JSON-edited fields. */
export function check(schema: JsonSchema, value: unknown): string[] {
  const problems: string[] = [];
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value)))
    problems.push(`must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`);
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length > 0 && !types.some((t) => hasType(value, t)))
    problems.push(
      `must be ${types.map((t) => (t === 'integer' ? 'a whole number' : `a ${t}`)).join(' or ')}`,
    );
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum)
      problems.push(`must be at least ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum)
      problems.push(`must be at most ${schema.maximum}`);
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum)
      problems.push(`must be more than ${schema.exclusiveMinimum}`);
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum)
      problems.push(`must be less than ${schema.exclusiveMaximum}`);
    if (schema.multipleOf !== undefined && !Number.isInteger(value / schema.multipleOf))
      problems.push(`must be a multiple of ${schema.multipleOf}`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength)
      problems.push(`must be at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      problems.push(`must be at most ${schema.maxLength} characters`);
    if (schema.pattern !== undefined && !safeRegExp(schema.pattern)?.test(value))
      problems.push(`must match ${schema.pattern}`);
  }
  if (isObject(value) && schema.required) {
    for (const key of schema.required) if (!(key in value)) problems.push(`needs ${key}`);
  }
  return problems;
}

/** Every field path the form shows for `schema` under `path`: where server issues can go. */
export function fieldPaths(
  schema: JsonSchema,
  path: string,
  into = new Set<string>(),
): Set<string> {
  into.add(path);
  const { kind, schema: s } = fieldOf(schema);
  if (kind === 'object')
    for (const [key, child] of Object.entries(s.properties ?? {}))
      fieldPaths(child, `${path}.${key}`, into);
  return into;
}

/** The object schema without one of its properties (and without requiring it). */
export function withoutProperty(schema: JsonSchema, key: string): JsonSchema {
  if (!schema.properties || !(key in schema.properties)) return schema;
  const properties = Object.fromEntries(
    Object.entries(schema.properties).filter(([name]) => name !== key),
  );
  return { ...schema, properties, required: schema.required?.filter((k) => k !== key) };
}

export function setIn(draft: Draft, keys: readonly string[], value: Draft): Draft {
  const [key, ...rest] = keys;
  if (key === undefined) return value;
  const object = isObject(draft) ? (draft as Record<string, Draft>) : {};
  return { ...object, [key]: setIn(object[key] ?? '', rest, value) };
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isObject(value);
    default:
      return typeof value === type;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function safeRegExp(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return undefined;
  }
}
