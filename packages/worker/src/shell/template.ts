import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { DroverError, MAX_TIMEOUT_MS, TaskTypeName, parseOrThrow } from '@drover/protocol';
import { PARAM_NAME, parseElement } from './placeholders.js';

/** The built-in placeholder: the absolute path of the directory whose files become artifacts. */
export const OUT_DIR_PLACEHOLDER = 'outDir';

/** The longest a template may let a stopped command clean up before it is killed. */
export const MAX_GRACE_MS = 600_000;

/** A param's value once validated: what a placeholder is replaced with, as text. */
export type ParamValue = string | number | boolean;

const NUL_MESSAGE =
  'must not contain NUL characters: argv and environment strings cannot carry them';
const Text = z.string().refine((s) => !s.includes('\0'), NUL_MESSAGE);

/** A string param's pattern matches the whole value, not something somewhere inside it. */
function compilePattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`, 'u');
}

function compiles(pattern: string): boolean {
  try {
    compilePattern(pattern);
    return true;
  } catch {
    return false;
  }
}

// Strict objects: a misspelt key in an operator's config (`patern`) must fail, not be ignored.
/**
 * Whether a value may start with `-` (a negative number included). A program reads an argument
 * that starts with `-` as an option (`--output=/etc/passwd`), so such values are refused unless
 * the operator says the param may take them. @defaultValue false
 */
const AllowLeadingDash = z.boolean().optional();

const StringParam = z.strictObject({
  type: z.literal('string'),
  /** A regular expression (with the `u` flag) the whole value must match. */
  pattern: z.string().refine(compiles, 'not a valid regular expression').optional(),
  /** The only values allowed: the operator's own, so they may start with `-`. */
  enum: z.array(Text).min(1).max(1000).optional(),
  allowLeadingDash: AllowLeadingDash,
  default: z.string().optional(),
});
const IntegerParam = z.strictObject({
  type: z.literal('integer'),
  min: z.int().optional(),
  max: z.int().optional(),
  allowLeadingDash: AllowLeadingDash,
  default: z.int().optional(),
});
const NumberParam = z.strictObject({
  type: z.literal('number'),
  min: z.number().optional(),
  max: z.number().optional(),
  allowLeadingDash: AllowLeadingDash,
  default: z.number().optional(),
});
const BooleanParam = z.strictObject({
  type: z.literal('boolean'),
  default: z.boolean().optional(),
});

const ParamSpecShape = z.discriminatedUnion('type', [
  StringParam,
  IntegerParam,
  NumberParam,
  BooleanParam,
]);
type ParamSpecShape = z.infer<typeof ParamSpecShape>;

const LEADING_DASH =
  'starts with "-", which the program could read as an option; a template param takes such values only with "allowLeadingDash": true';

/** What a value a client sends for one param must be. */
function valueSchema(spec: ParamSpecShape): z.ZodType<ParamValue> {
  switch (spec.type) {
    case 'string': {
      // An enum's values were checked against the pattern when the template was parsed.
      if (spec.enum) return z.enum(spec.enum as [string, ...string[]]);
      const text = spec.pattern === undefined ? Text : Text.regex(compilePattern(spec.pattern));
      return spec.allowLeadingDash ? text : text.refine((v) => !v.startsWith('-'), LEADING_DASH);
    }
    case 'integer': {
      let schema = z.int();
      if (spec.min !== undefined) schema = schema.min(spec.min);
      if (spec.max !== undefined) schema = schema.max(spec.max);
      return spec.allowLeadingDash ? schema : schema.refine((v) => v >= 0, LEADING_DASH);
    }
    case 'number': {
      let schema = z.number();
      if (spec.min !== undefined) schema = schema.min(spec.min);
      if (spec.max !== undefined) schema = schema.max(spec.max);
      // -0 prints as "0".
      return spec.allowLeadingDash ? schema : schema.refine((v) => v >= 0, LEADING_DASH);
    }
    case 'boolean':
      return z.boolean();
  }
}

/**
 * One param of a shell task type: its type and what values it allows. A param without a default
 * is required.
 *
 * A string param is passed as one argv element whatever it holds, so it cannot inject shell syntax;
 * but a value starting with `-` could still be read as an option by the program, so such values
 * (negative numbers too) are refused unless the param says `allowLeadingDash: true`, which a
 * template should pair with `--` before the param in argv (see docs/shell-templates.md).
 */
export const ParamSpec = ParamSpecShape.superRefine((spec, ctx) => {
  if ('min' in spec && spec.min !== undefined && spec.max !== undefined && spec.min > spec.max) {
    ctx.addIssue({ code: 'custom', message: 'max must not be below min', path: ['max'] });
  }
  if (spec.type === 'string' && spec.enum && spec.pattern !== undefined && compiles(spec.pattern)) {
    const pattern = compilePattern(spec.pattern);
    spec.enum.forEach((value, i) => {
      if (!pattern.test(value)) {
        ctx.addIssue({ code: 'custom', message: 'does not match the pattern', path: ['enum', i] });
      }
    });
  }
  if (spec.type === 'string' && spec.pattern !== undefined && !compiles(spec.pattern)) return;
  if (spec.default !== undefined) {
    const parsed = valueSchema(spec).safeParse(spec.default);
    if (!parsed.success) {
      const reason = parsed.error.issues.map((issue) => issue.message).join('; ');
      ctx.addIssue({
        code: 'custom',
        message: `the default is not allowed: ${reason}`,
        path: ['default'],
      });
    }
  }
});
export type ParamSpec = z.infer<typeof ParamSpec>;

const EnvName = z
  .string()
  .regex(/^[^=\0]+$/, 'an environment variable name is not empty and has no "=" or NUL');

/**
 * An operator's definition of a shell-command task type, from the worker's config. Clients supply
 * only params; each `{name}` placeholder in `argv` is replaced by one param's value, and
 * `{outDir}` by the directory whose files become the task's artifacts. `{{` and `}}` stand for
 * literal braces. The command runs without a shell, so params reach the program as they are.
 *
 * @example
 * { name: 'render.frame', argv: ['blender', '-b', '/scenes/{scene}.blend', '-o', '{outDir}/f',
 *   '-f', '{frame}'], params: { scene: { type: 'string', pattern: '[a-z0-9_]+' },
 *   frame: { type: 'integer', min: 1 } }, timeoutMs: 600000 }
 */
export const ShellTaskTemplate = z
  .strictObject({
    /** The task type this template runs. */
    name: TaskTypeName,
    /** The program (taken literally, looked up on PATH) and its arguments, with placeholders. */
    argv: z.array(Text).min(1, 'argv needs at least the program').max(4096),
    params: z.record(z.string(), ParamSpec).default({}),
    /** Variables set for the command, over PATH, HOME and LANG inherited from the worker. */
    env: z.record(EnvName, Text).optional(),
    /** An absolute working directory. @defaultValue the output directory */
    cwd: Text.refine(isAbsolute, 'cwd must be an absolute path').optional(),
    /** How long the command may run before it is stopped. @defaultValue no limit */
    timeoutMs: z.int().min(1).max(MAX_TIMEOUT_MS).optional(),
    /** How long a stopped command has between SIGTERM and SIGKILL. @defaultValue 5000 */
    graceMs: z.int().min(0).max(MAX_GRACE_MS).default(5000),
  })
  .superRefine((template, ctx) => {
    // Checked here rather than as the record's key schema, whose messages zod does not pass on.
    for (const name of Object.keys(template.params)) {
      const message = !PARAM_NAME.test(name)
        ? 'a param name is a letter, then up to 63 letters, digits or "_"'
        : name === OUT_DIR_PLACEHOLDER
          ? `"${OUT_DIR_PLACEHOLDER}" is built in; choose another name`
          : undefined;
      if (message) ctx.addIssue({ code: 'custom', message, path: ['params', name] });
    }
    template.argv.forEach((element, i) => {
      const parsed = parseElement(element);
      if (!parsed.ok) {
        ctx.addIssue({ code: 'custom', message: parsed.message, path: ['argv', i] });
        return;
      }
      if (i === 0 && element === '') {
        ctx.addIssue({
          code: 'custom',
          message: 'the program must not be empty',
          path: ['argv', 0],
        });
      }
      for (const segment of parsed.segments) {
        if (!('placeholder' in segment)) continue;
        const name = segment.placeholder;
        if (i === 0) {
          // The program is the operator's choice alone; a client must never pick it.
          const message = `the program cannot contain a placeholder ({${name}})`;
          ctx.addIssue({ code: 'custom', message, path: ['argv', 0] });
        } else if (name !== OUT_DIR_PLACEHOLDER && !Object.hasOwn(template.params, name)) {
          const message = `{${name}} is neither a declared param nor {${OUT_DIR_PLACEHOLDER}}`;
          ctx.addIssue({ code: 'custom', message, path: ['argv', i] });
        }
      }
    });
  });
export type ShellTaskTemplate = z.output<typeof ShellTaskTemplate>;
/** A template as written in the config, before defaults are filled in. */
export type ShellTaskTemplateInput = z.input<typeof ShellTaskTemplate>;

/** Validated params by name, defaults filled in. */
export type ShellParams = Record<string, ParamValue>;

const paramsSchemas = new WeakMap<ShellTaskTemplate, z.ZodType<ShellParams>>();

/**
 * The schema a client's params must satisfy: each declared param with its type and limits, the
 * ones with defaults optional, and no other keys.
 */
export function paramsSchema(template: ShellTaskTemplate): z.ZodType<ShellParams> {
  const cached = paramsSchemas.get(template);
  if (cached) return cached;
  const shape: Record<string, z.ZodType<ParamValue>> = {};
  for (const [name, spec] of Object.entries(template.params)) {
    const value = valueSchema(spec);
    shape[name] = spec.default === undefined ? value : value.default(spec.default);
  }
  const schema: z.ZodType<ShellParams> = z.strictObject(shape);
  paramsSchemas.set(template, schema);
  return schema;
}

/**
 * The command line for one task: the template's argv with every placeholder replaced. Throws
 * `DROVER_E_INVALID_PARAMS` listing every param at fault, or naming a placeholder the template
 * does not define.
 */
export function expandArgv(
  template: ShellTaskTemplate,
  params: unknown,
  context: { outDir: string },
): string[] {
  const values = parseOrThrow(paramsSchema(template), params, `params for ${template.name}`);
  return template.argv.map((element, i) => {
    const parsed = parseElement(element);
    if (!parsed.ok) throw templateError(template, i, parsed.message);
    let expanded = '';
    for (const segment of parsed.segments) {
      if ('literal' in segment) {
        expanded += segment.literal;
      } else if (i === 0) {
        throw templateError(template, i, 'the program cannot contain a placeholder');
      } else if (segment.placeholder === OUT_DIR_PLACEHOLDER) {
        expanded += context.outDir;
      } else if (Object.hasOwn(values, segment.placeholder)) {
        expanded += String(values[segment.placeholder]);
      } else {
        throw templateError(template, i, `unknown placeholder {${segment.placeholder}}`);
      }
    }
    return expanded;
  });
}

// Only a template that skipped ShellTaskTemplate's own checks gets here.
function templateError(template: ShellTaskTemplate, index: number, message: string): DroverError {
  return new DroverError(
    'DROVER_E_INVALID_PARAMS',
    `Invalid template ${template.name}: argv.${index}: ${message}`,
    { details: [{ path: `argv.${index}`, message }] },
  );
}
