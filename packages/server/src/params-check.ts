import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { DroverError } from '@drover/protocol';
import type { FieldIssue } from '@drover/protocol';
import type { Engine } from '@drover/engine';

/** How long the task types' schemas are kept before they are read again. */
const TTL_MS = 2000;

interface Stage {
  taskType?: unknown;
  params?: unknown;
  items?: unknown;
  frames?: { start?: unknown } | undefined;
}

/**
 * Checks a submission's params against the JSON Schema its task type's workers described, before
 * anything is stored, so a bad param is refused at once instead of failing on a worker. A task
 * type no worker has described is not checked (its workers may join later). Each task's params
 * are checked: the stage's params with each item's keys over them, or with the first frame.
 */
export class ParamsCheck {
  readonly #engine: Engine;
  readonly #onError: (error: unknown, where: string) => void;
  #schemas = new Map<string, ValidateFunction | null>();
  /** The schemas as last read, to compile again only when one changed. */
  #texts = new Map<string, string>();
  #readAt = 0;
  #reading: Promise<void> | undefined;

  constructor(engine: Engine, onError: (error: unknown, where: string) => void) {
    this.#engine = engine;
    this.#onError = onError;
  }

  async check(submission: unknown): Promise<void> {
    if (typeof submission !== 'object' || submission === null) return;
    const job = submission as Stage & { then?: unknown };
    const stages: [string, Stage][] = [['', job]];
    if (Array.isArray(job.then)) {
      job.then.forEach((stage: unknown, i) => {
        if (typeof stage === 'object' && stage !== null) stages.push([`then.${i}.`, stage]);
      });
    }
    const issues: FieldIssue[] = [];
    for (const [prefix, stage] of stages) {
      if (typeof stage.taskType !== 'string') continue; // The engine names that error.
      const validate = await this.#validator(stage.taskType);
      if (!validate) continue;
      const params = isObject(stage.params) ? stage.params : {};
      if (Array.isArray(stage.items)) {
        stage.items.forEach((item: unknown, i) => {
          if (issues.length < 20 && isObject(item)) {
            this.#collect(validate, { ...params, ...item }, `${prefix}items.${i}`, issues);
          }
        });
      } else if (isObject(stage.frames) && typeof stage.frames.start === 'number') {
        this.#collect(
          validate,
          { ...params, frame: stage.frames.start },
          `${prefix}params`,
          issues,
        );
      } else {
        this.#collect(validate, params, `${prefix}params`, issues);
      }
    }
    if (issues.length > 0) {
      throw new DroverError(
        'DROVER_E_INVALID_PARAMS',
        `Invalid params: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
        { details: issues },
      );
    }
  }

  #collect(validate: ValidateFunction, params: object, at: string, issues: FieldIssue[]): void {
    if (validate(params)) return;
    for (const error of validate.errors ?? []) {
      const field =
        error.keyword === 'required'
          ? `${error.instancePath}/${String((error.params as { missingProperty?: string }).missingProperty)}`
          : error.keyword === 'additionalProperties'
            ? `${error.instancePath}/${String((error.params as { additionalProperty?: string }).additionalProperty)}`
            : error.instancePath;
      issues.push({
        path: `${at}${field.split('/').join('.')}`,
        message: error.message ?? 'is not valid',
      });
    }
  }

  async #validator(taskType: string): Promise<ValidateFunction | null> {
    if (Date.now() - this.#readAt > TTL_MS) await this.#refresh();
    return this.#schemas.get(taskType) ?? null;
  }

  /** Reads every task type's schema; concurrent checks share one read. */
  #refresh(): Promise<void> {
    this.#reading ??= (async () => {
      try {
        const types = await this.#engine.listTaskTypes();
        const texts = new Map(
          types.flatMap((t) => (t.paramsSchema ? [[t.name, JSON.stringify(t.paramsSchema)]] : [])),
        );
        const changed =
          texts.size !== this.#texts.size ||
          [...texts].some(([name, text]) => this.#texts.get(name) !== text);
        if (changed) {
          // A new Ajv each time: it keeps every schema it compiled (and refuses an `$id` twice).
          const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });
          const next = new Map<string, ValidateFunction | null>();
          for (const [name, text] of texts) next.set(name, this.#compile(ajv, name, text));
          this.#schemas = next;
          this.#texts = texts;
        }
        this.#readAt = Date.now();
      } finally {
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }

  #compile(ajv: Ajv2020, name: string, text: string): ValidateFunction | null {
    try {
      return ajv.compile(withoutPatterns(JSON.parse(text)) as object);
    } catch (error) {
      // Its submissions go unchecked here; the workers still check them with their own schema.
      this.#onError(error, `compiling the params schema of task type ${name}`);
      return null;
    }
  }
}

/**
 * A schema without its regular expressions (`pattern`, `patternProperties`): they come from
 * workers and would run on the server's event loop, where one catastrophic pattern could stall
 * the farm. Workers check them with their own schema.
 */
function withoutPatterns(schema: unknown, underProperties = false): unknown {
  if (Array.isArray(schema)) return schema.map((item) => withoutPatterns(item));
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (!underProperties && key === 'pattern' && typeof value === 'string') continue;
    if (!underProperties && key === 'patternProperties') continue;
    // Under `properties` the keys are field names, whatever they are called.
    out[key] = withoutPatterns(
      value,
      !underProperties && ['properties', '$defs', 'definitions', 'dependentSchemas'].includes(key),
    );
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
