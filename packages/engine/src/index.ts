export { Engine } from './engine.js';
export { Accounts, LOGIN_CODE_MS, SESSION_MS, hashSecret, newTokenSecret } from './accounts.js';
export type { FoundToken, GroupRef } from './accounts.js';
export { openEngine } from './open-engine.js';
export type { EngineOptions } from './open-engine.js';
export { migrate, schemaVersion, checkSchema } from './migrate.js';
export type { MigrationReport } from './migrate.js';
export { DEFAULT_LEASE_MS } from './leases.js';
export type {
  BatchClaimRequest,
  ClaimGroup,
  ClaimRequest,
  Lease,
  ReapedAttempt,
  RenewResult,
} from './leases.js';
export type {
  FailureReport,
  LogBatch,
  ProgressReport,
  ReleaseReport,
  ReportOutcome,
  ResultReport,
} from './reports.js';
export type { CancelResult, TaskToStop } from './cancel.js';
export type { RetryResult } from './retry.js';
export type { JobsAppliedWithStops } from './apply.js';
export type { ExtendResult } from './extend.js';
export type { UpdateResult } from './update.js';
export type { EventPage, ReadEventsRequest } from './events.js';
export type { SubmitResult } from './submit.js';
export { checkWorkerRegistration } from './workers.js';
export type { Registered, WorkerRegistration } from './workers.js';
export type { ServerRegistration, SweepResult } from './servers.js';
export type { RetentionPass, RetentionPolicy, RetentionRules } from './retention.js';
export { RetentionHold } from './retention.js';
export type { RecordedPass } from './retention.js';
export type { ArtifactQuery, ArtifactReport, ArtifactScope } from './artifacts.js';
export type { BlobHolder } from './blob-locations.js';
export { SUBMISSION_DEFAULTS } from './expand.js';
export type { Database, DatabaseLoad } from './database.js';
export type { FarmGauges } from './metrics.js';
export { Sites, UnmappedSiteTask } from './sites.js';
export type { RemoteArtifact, SiteAction, SiteJob, SiteLinkTarget, SiteTaskLog } from './sites.js';
export { MISSED_AFTER_MS, Schedules } from './schedules.js';
export type { TickResult } from './schedules.js';
export { MAX_WEBHOOKS, Webhooks, newWebhookSecret } from './webhooks.js';
export type { DeliveryOutcome, DueDelivery } from './webhooks.js';
