/** The JSON-RPC 2.0 specification's own error codes. */
export const RpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
} as const;

interface CatalogueEntry {
  /** The JSON-RPC numeric code: the spec's own, or one of Drover's in -32000..-32099. */
  readonly rpc: number;
  /** Whether the same request may succeed if sent again later. */
  readonly retryable: boolean;
  /** What happened and what to do about it. */
  readonly message: string;
}

/**
 * Every error that crosses the wire, by its stable string code. The string is the contract: match
 * on `error.data.code`, never on the message.
 */
export const errorCatalogue = {
  DROVER_E_PARSE: {
    rpc: RpcCode.ParseError,
    retryable: false,
    message:
      'The request is not valid JSON. Send a JSON-RPC 2.0 request object or an array of them.',
  },
  DROVER_E_INVALID_REQUEST: {
    rpc: RpcCode.InvalidRequest,
    retryable: false,
    message:
      'The request is not a JSON-RPC 2.0 request. Send {"jsonrpc": "2.0", "method": ..., "params": ..., "id": ...}.',
  },
  DROVER_E_METHOD_NOT_FOUND: {
    rpc: RpcCode.MethodNotFound,
    retryable: false,
    message: 'There is no such method. Methods are named noun.verb, such as jobs.submit.',
  },
  DROVER_E_INVALID_PARAMS: {
    rpc: RpcCode.InvalidParams,
    retryable: false,
    message: 'The params do not match the method. Fix the fields listed in error.data.details.',
  },
  DROVER_E_INTERNAL: {
    rpc: RpcCode.InternalError,
    retryable: true,
    message:
      'The server failed to handle the request. Try again; if it persists, read the server log.',
  },
  DROVER_E_UNAUTHORIZED: {
    rpc: -32001,
    retryable: false,
    message:
      'No valid token: sign in first (auth.login with a token over the WebSocket, Authorization: Bearer <token> over HTTP, workers.hello for a worker). An admin creates tokens with drover tokens create.',
  },
  DROVER_E_FORBIDDEN: {
    rpc: -32003,
    retryable: false,
    message:
      "This token's role does not allow that. Ask an admin for a token with the access it needs (drover tokens create).",
  },
  DROVER_E_RATE_LIMITED: {
    rpc: -32005,
    retryable: true,
    message:
      'This token made as many calls as it may this minute. Wait error.data.details.retryAfterMs (HTTP: the Retry-After header), then send the call again.',
  },
  DROVER_E_NOT_FOUND: {
    rpc: -32004,
    retryable: false,
    message: 'No such record. Check the id; finished jobs are deleted after the retention period.',
  },
  DROVER_E_IDEMPOTENCY_CONFLICT: {
    rpc: -32009,
    retryable: false,
    message:
      'This idempotency key was used for a different submission in this group. Use a new key, or resend the first submission unchanged.',
  },
  DROVER_E_DATA_DIR_LOCKED: {
    rpc: -32010,
    retryable: false,
    message:
      'Another Drover process owns this data directory. Stop it, or connect to it instead of opening the directory twice.',
  },
  DROVER_E_DATABASE_UNAVAILABLE: {
    rpc: -32011,
    retryable: true,
    message:
      'The database does not answer. Check DROVER_DATABASE_URL and that the server is running.',
  },
  DROVER_E_SCHEMA_TOO_NEW: {
    rpc: -32012,
    retryable: false,
    message:
      'The database was migrated by a newer Drover than this one. Upgrade this Drover to the version that migrated it.',
  },
  DROVER_E_SCHEMA_TOO_OLD: {
    rpc: -32013,
    retryable: false,
    message: 'The database schema is behind this Drover. Run `drover migrate`, then start again.',
  },
  DROVER_E_STALE_LEASE: {
    rpc: -32020,
    retryable: false,
    message:
      'This report carries a lease token that is no longer current: the attempt was lost, timed out or finished. Stop working on the task.',
  },
  DROVER_E_TASK_TIMEOUT: {
    rpc: -32021,
    retryable: false,
    message:
      "The attempt ran longer than the task's timeout and was stopped. Raise timeoutMs if the work needs longer.",
  },
  DROVER_E_WORKER_LOST: {
    rpc: -32022,
    retryable: false,
    message:
      'The worker holding this attempt went away (it died, hung or lost its connection), so the attempt was given up.',
  },
  DROVER_E_WORKER_RELEASED: {
    rpc: -32027,
    retryable: false,
    message:
      "The worker gave this attempt back unfinished as it shut down in an orderly way; it does not count against the task's attempts, and the task runs again.",
  },
  DROVER_E_UNKNOWN_TASK_TYPE: {
    rpc: -32028,
    retryable: false,
    message:
      'No worker has offered this task type, so its tasks would wait for ever. Check its name; to queue it for workers that have not joined yet, submit with allowUnknownType.',
  },
  DROVER_E_DEPENDENCY_FAILED: {
    rpc: -32023,
    retryable: false,
    message: 'A task this one waits on failed or was cancelled, so this one will never run.',
  },
  DROVER_E_CANCELLED: {
    rpc: -32024,
    retryable: false,
    message: 'The task was cancelled.',
  },
  DROVER_E_CONFLICT: {
    rpc: -32025,
    retryable: true,
    message:
      'The record is in a state that does not allow this yet (for example, a job still stopping its cancelled tasks). Wait for it to settle, then try again.',
  },
  DROVER_E_CONNECTION_LOST: {
    rpc: -32026,
    retryable: true,
    message:
      'The connection to the server was lost before the answer came: the call may or may not have taken effect. Check, then send it again (an idempotency key makes a resubmission safe).',
  },
  DROVER_E_TOO_LARGE: {
    rpc: -32030,
    retryable: false,
    message:
      'The upload is larger than this server accepts. Write a smaller file, or ask the operator to raise maxArtifactBytes.',
  },
  DROVER_E_CHECKSUM_MISMATCH: {
    rpc: -32031,
    retryable: true,
    message:
      'The bytes that arrived do not have the sha256 the uploader declared, so nothing was stored. Send the file again.',
  },
  DROVER_E_ARTIFACT_EXISTS: {
    rpc: -32032,
    retryable: false,
    message:
      'This attempt already has an artifact of that name with other content. Give each file of an attempt its own name.',
  },
  DROVER_E_ARTIFACT_UNAVAILABLE: {
    rpc: -32033,
    retryable: true,
    message:
      "The file's bytes are kept by another server of the farm, and no server that holds them answers: the one that stored them has stopped. Try again once it is back; servers that share one artifacts directory never depend on each other for files.",
  },
  DROVER_E_SITE_UNREACHABLE: {
    rpc: -32040,
    retryable: true,
    message:
      'The site (another farm this one forwards jobs to) does not answer. Try again later; its jobs wait for it.',
  },
  DROVER_E_SCHEDULE_EXISTS: {
    rpc: -32050,
    retryable: false,
    message:
      'There is a schedule of that name already. Pick another name, or change that one (schedules.update).',
  },
  DROVER_E_INVALID_CRON: {
    rpc: -32051,
    retryable: false,
    message:
      'The cron expression cannot be read. Give five fields (minute hour day month weekday), or six with seconds first, such as "*/5 * * * *".',
  },
  DROVER_E_INVALID_TIMEZONE: {
    rpc: -32052,
    retryable: false,
    message:
      'There is no such time zone. Give an IANA name such as Europe/Paris, America/New_York or UTC.',
  },
  DROVER_E_WEBHOOK_URL: {
    rpc: -32070,
    retryable: false,
    message: 'A webhook calls an http:// or https:// URL only. Give such a URL.',
  },
  DROVER_E_WEBHOOK_EVENT: {
    rpc: -32071,
    retryable: false,
    message:
      'No webhook hears that event: the events are job.succeeded, job.failed, job.cancelled and worker.offline.',
  },
  DROVER_E_WEBHOOK_GROUP: {
    rpc: -32072,
    retryable: false,
    message: "A webhook's group is a group's name, or * for every group.",
  },
  DROVER_E_WEBHOOK_NOT_FOUND: {
    rpc: -32073,
    retryable: false,
    message: 'There is no such webhook: list them with drover webhooks ls.',
  },
  DROVER_E_WEBHOOK_LIMIT: {
    rpc: -32074,
    retryable: false,
    message: 'This farm has as many webhooks as it keeps (100): remove one first.',
  },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof errorCatalogue;

/** The `data` member of a JSON-RPC error object that Drover sends. */
export interface DroverErrorData {
  code: ErrorCode;
  retryable: boolean;
  details?: unknown;
}

/**
 * An error that crosses the wire: a stable code, the JSON-RPC numeric code, whether a retry may
 * help, and details (such as the fields that failed validation). `cause` is kept when wrapping.
 */
export class DroverError extends Error {
  override readonly name = 'DroverError';
  readonly code: ErrorCode;
  readonly rpcCode: number;
  readonly retryable: boolean;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, options?: { details?: unknown; cause?: unknown }) {
    const entry = errorCatalogue[code];
    super(message ?? entry.message, { cause: options?.cause });
    this.code = code;
    this.rpcCode = entry.rpc;
    this.retryable = entry.retryable;
    this.details = options?.details;
  }

  /**
   * The error a JSON-RPC error object describes, as a client receives it. A code this version
   * does not know (a newer server's) is kept in `details` under an internal error.
   */
  static fromRpcError(error: {
    code: number;
    message: string;
    data?: { code?: string; details?: unknown } | undefined;
  }): DroverError {
    const code = error.data?.code;
    if (code !== undefined && Object.hasOwn(errorCatalogue, code)) {
      return new DroverError(code as ErrorCode, error.message, { details: error.data?.details });
    }
    return new DroverError('DROVER_E_INTERNAL', error.message, {
      details: { code: code ?? error.code, details: error.data?.details },
    });
  }

  /** The JSON-RPC error object for this error. */
  toRpcError(): { code: number; message: string; data: DroverErrorData } {
    const data: DroverErrorData = { code: this.code, retryable: this.retryable };
    if (this.details !== undefined) data.details = this.details;
    return { code: this.rpcCode, message: this.message, data };
  }
}

export function isDroverError(error: unknown, code?: ErrorCode): error is DroverError {
  return error instanceof DroverError && (code === undefined || error.code === code);
}
