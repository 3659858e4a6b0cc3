export {
  AttemptId,
  Cursor,
  compareCursors,
  GroupName,
  JobId,
  LeaseToken,
  Tag,
  TaskId,
  TaskTypeName,
  WorkerId,
  WorkerName,
} from './ids.js';
export {
  AttemptStatus,
  JobStatus,
  TaskStatus,
  WorkerState,
  WorkerHold,
  TERMINAL_JOB_STATUSES,
  TERMINAL_TASK_STATUSES,
  isTerminalJobStatus,
  isTerminalTaskStatus,
} from './statuses.js';
export {
  Backoff,
  FrameRange,
  JobExtension,
  JobSubmission,
  JobUpdate,
  JsonObject,
  JsonValue,
  MAX_JOB_PARAMS_BYTES,
  MAX_TASK_PARAMS_BYTES,
  MAX_TASKS_PER_JOB,
  MAX_TIMEOUT_MS,
  StageSubmission,
  stageTaskCount,
} from './submission.js';
export type { ParsedJobExtension, ParsedJobSubmission } from './submission.js';
export {
  Assignment,
  AttemptRecord,
  GroupRecord,
  HostStats,
  JobRecord,
  JsonSchema,
  LogLine,
  TaskCounts,
  TaskError,
  TaskRecord,
  TaskSummary,
  TaskTypeRecord,
  TasksUpdated,
  WorkerRecord,
} from './records.js';
export {
  JobAction,
  JobFilter,
  JobsApplied,
  JobsApply,
  MAX_JOBS_PER_APPLY,
  WorkerAction,
  WorkerFilter,
  WorkersApplied,
  WorkersApply,
  workerActionApplies,
} from './bulk.js';
export { EventKind, EventRecord, JobRemoved, ReportRefused, TaskLog } from './events.js';
export type { EventOf } from './events.js';
export { Topic, topics } from './topics.js';
export {
  ArtifactId,
  ArtifactName,
  ArtifactRecord,
  ContentType,
  HttpErrorBody,
  Sha256,
  artifactHttp,
  uploadCredential,
} from './artifacts.js';
export { DroverError, RpcCode, errorCatalogue, isDroverError } from './errors.js';
export type { DroverErrorData, ErrorCode } from './errors.js';
export {
  RpcBatch,
  RpcErrorObject,
  RpcFailure,
  RpcRequest,
  RpcResponse,
  RpcSuccess,
} from './jsonrpc.js';
export { parseOrThrow } from './validate.js';
export { backoffMs } from './backoff.js';
export { RpcSocket } from './rpc-socket.js';
export type {
  ConnectionState,
  RpcSocketOptions,
  StateChange,
  WebSocketLike,
} from './rpc-socket.js';
export { nearest } from './nearest.js';
export type { FieldIssue } from './validate.js';
export { SubscriptionId, clientNotifications, isMethodName, methods } from './methods.js';
export type { EventBatch, MethodName, MethodParams, MethodResult } from './methods.js';
export { LeaseRef, serverToWorker, workerMethods } from './worker-protocol.js';
export type { ServerToWorker, WorkerMethodName } from './worker-protocol.js';
export {
  GroupAccess,
  GroupPattern,
  Principal,
  Role,
  TOKEN_PREFIX,
  TokenGrant,
  TokenId,
  TokenRecord,
  TokenSecret,
  authHttp,
} from './auth.js';
export { SiteAdd, SiteName, SiteRecord, SiteUrl, siteIdempotencyKey } from './sites.js';
export {
  CronExpression,
  ScheduleAdd,
  ScheduleCatchUp,
  ScheduleName,
  ScheduleOutcome,
  ScheduleOverlap,
  ScheduleRecord,
  ScheduleUpdate,
  ScheduledJob,
  TimeZone,
  scheduleIdempotencyKey,
  scheduledBy,
} from './schedules.js';
export {
  GroupLimits,
  GroupLimitsChange,
  TaskTypeLimits,
  TaskWhy,
  WaitReason,
  WaitReasonCode,
  WorkerBlock,
  WorkerBlocked,
} from './limits.js';
export {
  CurrentTask,
  FarmHistory,
  FarmOverview,
  FarmSample,
  JobTimeline,
  OverviewWorker,
  TimelineAttempt,
} from './farm.js';
export {
  WEBHOOK_EVENTS,
  WEBHOOK_EVERY_GROUP,
  WEBHOOK_PING,
  WebhookAdd,
  WebhookDelivery,
  WebhookDeliveryId,
  WebhookEvent,
  WebhookId,
  WebhookPayload,
  WebhookRecord,
  WebhookUpdate,
  checkWebhookEvents,
  checkWebhookGroup,
  checkWebhookUrl,
  webhookSignatureHeader,
  webhookSignedText,
} from './webhooks.js';
export {
  GroupRetention,
  MAX_RETENTION_MS,
  PruneReport,
  PruneRequest,
  RetentionMs,
  formatDuration,
  parseDuration,
} from './retention.js';
