import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { DroverError, nearest } from '@drover/protocol';
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
 *
 * A task type no worker has ever offered (online now or before) is refused unless the submission
 * allows it: its tasks would wait for ever, and it is most often a misspelt name.
 */
export class ParamsCheck {
  readonly #engine: Engine;
  readonly #onError: (error: unknown, where: string) => void;
  #schemas = new Map<string, ValidateFunction | null>();
  /** Every task type a worker has offered, and the top-level params of those described. */
  #known = new Set<string>();
  #paramNames = new Map<string, string[]>();
  /** The schemas as last read, to compile again only when one changed. */
  #texts = new Map<string, string>();
  #readAt = 0;
  #reading: Promise<void> | undefined;

  constructor(engine: Engine, onError: (error: unknown, where: string) => void) {
    this.#engine = engine;
    this.#onError = onError;
  }

  async check(submission: unknown, options: { allowUnknownType?: boolean } = {}): Promise<void> {
    if (typeof submission !== 'object' || submission === null) return;
    const job = submission as Stage & { then?: unknown };
    const stages: [string, Stage][] = [['', job]];
    if (Array.isArray(job.then)) {
      job.then.forEach((stage: unknown, i) => {
        if (typeof stage === 'object' && stage !== null) stages.push([`then.${i}.`, stage]);
      });
    }
    if (!options.allowUnknownType) await this.#refuseUnknown(stages);
    const issues: FieldIssue[] = [];
    for (const [prefix, stage] of stages) {
      if (typeof stage.taskType !== 'string') continue; // The engine names that error.
      const validate = await this.#validator(stage.taskType);
      if (!validate) continue;
      const taskType = stage.taskType;
      const params = isObject(stage.params) ? stage.params : {};
      if (Array.isArray(stage.items)) {
        stage.items.forEach((item: unknown, i) => {
          if (issues.length < 20 && isObject(item)) {
            this.#collect(
              validate,
              taskType,
              { ...params, ...item },
              `${prefix}items.${i}`,
              issues,
            );
          }
        });
      } else if (isObject(stage.frames) && typeof stage.frames.start === 'number') {
        // Each task is given its frame number; a type that does not declare `frame` ignores it.
        const framed = takesFrame(validate) ? { ...params, frame: stage.frames.start } : params;
        this.#collect(validate, taskType, framed, `${prefix}params`, issues);
      } else {
        this.#collect(validate, taskType, params, `${prefix}params`, issues);
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

  /** Refuses the first stage whose task type no worker has offered, naming the nearest known. */
  async #refuseUnknown(stages: [string, Stage][]): Promise<void> {
    const named = stages.filter(
      (entry): entry is [string, Stage & { taskType: string }] =>
        typeof entry[1].taskType === 'string',
    );
    if (Date.now() - this.#readAt > TTL_MS) await this.#refresh();
    // A worker may have joined since the last read: read again before refusing.
    if (named.some(([, stage]) => !this.#known.has(stage.taskType))) await this.#refresh(true);
    const unknown = named.find(([, stage]) => !this.#known.has(stage.taskType));
    if (!unknown) return;
    const [prefix, { taskType }] = unknown;
    const known = [...this.#known].sort();
    const suggestion = nearest(taskType, known);
    const listed = known.slice(0, 20).join(', ') + (known.length > 20 ? ', ...' : '');
    throw new DroverError(
      'DROVER_E_UNKNOWN_TASK_TYPE',
      [
        `${prefix}taskType: no worker has offered task type "${taskType}"`,
        suggestion !== undefined
          ? `; did you mean "${suggestion}"?`
          : known.length > 0
            ? `; the known task types are ${listed}.`
            : '; no worker has joined this farm yet.',
        ' To queue it for workers that have not joined yet, submit with allowUnknownType.',
      ].join(''),
      {
        details: {
          path: `${prefix}taskType`,
          taskType,
          ...(suggestion !== undefined && { suggestion }),
          known: known.slice(0, 100),
        },
      },
    );
  }

  #collect(
    validate: ValidateFunction,
    taskType: string,
    params: object,
    at: string,
    issues: FieldIssue[],
  ): void {
    if (validate(params)) return;
    for (const error of validate.errors ?? []) {
      if (error.keyword === 'additionalProperties' && error.instancePath === '') {
        // A param the task type does not take: named, with the one probably meant.
        const key = String((error.params as { additionalProperty?: string }).additionalProperty);
        const takes = this.#paramNames.get(taskType) ?? [];
        const meant = nearest(key, takes);
        issues.push({
          path: `${at}.${key}`,
          message:
            `"${key}" is not a param of ${taskType}` +
            (meant !== undefined
              ? `; did you mean "${meant}"?`
              : takes.length > 0
                ? `; it takes ${[...takes].sort().join(', ')}`
                : '; it takes none'),
        });
        continue;
      }
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

  /**
   * Reads every task type's schema; concurrent checks share one read. `again`: a read already
   * under way may have started before what the caller must see, so another follows it.
   */
  async #refresh(again = false): Promise<void> {
    if (again && this.#reading) await this.#reading.catch(() => undefined);
    this.#reading ??= (async () => {
      try {
        const types = await this.#engine.listTaskTypes();
        this.#known = new Set(types.map((t) => t.name));
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
          const paramNames = new Map<string, string[]>();
          for (const [name, text] of texts) {
            next.set(name, this.#compile(ajv, name, text));
            const properties = (JSON.parse(text) as { properties?: unknown }).properties;
            if (isObject(properties)) paramNames.set(name, Object.keys(properties));
          }
          this.#schemas = next;
          this.#paramNames = paramNames;
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

/** Whether a task type's params schema declares `frame` (the farm sets it on framed tasks). */
function takesFrame(validate: ValidateFunction): boolean {
  const schema: unknown = validate.schema;
  if (!isObject(schema)) return false;
  const properties = schema.properties;
  return isObject(properties) && Object.hasOwn(properties, 'frame');
}
