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
  readonly #ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });
  #schemas = new Map<string, ValidateFunction | null>();
  #readAt = 0;
  #reading: Promise<void> | undefined;

  constructor(engine: Engine) {
    this.#engine = engine;
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
          ? `/${String((error.params as { missingProperty?: string }).missingProperty)}`
          : error.keyword === 'additionalProperties'
            ? `/${String((error.params as { additionalProperty?: string }).additionalProperty)}`
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
        const next = new Map<string, ValidateFunction | null>();
        for (const t of types) {
          next.set(t.name, t.paramsSchema ? this.#compile(t.name, t.paramsSchema) : null);
        }
        this.#schemas = next;
        this.#readAt = Date.now();
      } finally {
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }

  #compile(name: string, schema: object): ValidateFunction | null {
    const previous = this.#schemas.get(name);
    if (previous && JSON.stringify(previous.schema) === JSON.stringify(schema)) return previous;
    try {
      return this.#ajv.compile(schema);
    } catch {
      // A schema Ajv cannot use checks nothing; the worker still validates with its own.
      return null;
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
