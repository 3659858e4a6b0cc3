import { z } from 'zod';
import { AttemptId, JobId, TaskId } from './ids.js';

/** An artifact's id: a UUID, chosen by the engine, so a download link cannot be guessed. */
export const ArtifactId = z.uuid();
export type ArtifactId = z.infer<typeof ArtifactId>;

/** A SHA-256 digest as 64 lowercase hexadecimal digits: the address of an artifact's bytes. */
export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 is 64 lowercase hex digits');
export type Sha256 = z.infer<typeof Sha256>;

/**
 * An artifact's name within its attempt: a relative path such as `frames/0001.png`. Folders are
 * separated by `/`; no segment may be empty, `.` or `..`, and no control character, backslash or
 * leading `/` is allowed. It is only a label: bytes are stored and fetched by sha256 and id, never
 * by name, so a name can never point outside the store.
 */
export const ArtifactName = z
  .string()
  .min(1)
  .max(1024)
  .refine(
    (name) =>
      !/[\u0000-\u001f\u007f\\]/.test(name) &&
      name.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..'),
    'an artifact name is a relative path: no empty, "." or ".." segment, no backslash or control character',
  );
export type ArtifactName = z.infer<typeof ArtifactName>;

// RFC 9110: a token, and a quoted string with backslash escapes and no control characters.
const TOKEN = String.raw`[!#$%&'*+.^_\`|~0-9A-Za-z-]+`;
const QUOTED = String.raw`"(?:[^"\\\u0000-\u001f]|\\.)*"`;

/** A media type such as `image/png` or `text/plain; charset=utf-8`. */
export const ContentType = z
  .string()
  .max(255)
  .regex(
    new RegExp(String.raw`^${TOKEN}/${TOKEN}(?:\s*;\s*${TOKEN}=(?:${TOKEN}|${QUOTED}))*$`),
    'a content type is a media type such as image/png, with optional parameters',
  );
export type ContentType = z.infer<typeof ContentType>;

/** A file a task produced, as recorded once its bytes were stored and their sha256 checked. */
export const ArtifactRecord = z.object({
  id: ArtifactId,
  jobId: JobId,
  taskId: TaskId,
  attemptId: AttemptId,
  /** The number of the attempt that produced it, from 1. */
  attempt: z.int().min(1),
  name: ArtifactName,
  contentType: ContentType,
  /** In bytes. */
  size: z.int().min(0),
  sha256: Sha256,
  createdAt: z.iso.datetime({ offset: true }),
});
export type ArtifactRecord = z.infer<typeof ArtifactRecord>;

/**
 * The HTTP side of artifacts. Bytes never travel inside JSON: a worker uploads with
 * `PUT <uploadPath>?name=<name>`, the body being the file, `Authorization: Bearer <credential>`
 * (its attempt's lease, see `uploadCredential`), `Content-Type` and the sha256 it computed in
 * `X-Drover-Sha256`; the answer is the `ArtifactRecord`. Anyone downloads with
 * `GET downloadPath(id)`, with Range support. Errors come as `{ error: { code, message } }`.
 */
export const artifactHttp = {
  uploadPath: '/artifacts/upload',
  downloadPath: (id: string): string => `/artifacts/${encodeURIComponent(id)}`,
  sha256Header: 'x-drover-sha256',
} as const;

/**
 * The task-scoped credential for an upload: the attempt id and its lease token. It is worth
 * exactly as much as the lease: valid while that attempt is active, for that attempt's task only.
 */
export function uploadCredential(lease: { attemptId: string; token: string }): string {
  return `${lease.attemptId}.${lease.token}`;
}

/** The body of an HTTP error from the artifact routes. */
export const HttpErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    retryable: z.boolean().optional(),
    details: z.unknown().optional(),
  }),
});
export type HttpErrorBody = z.infer<typeof HttpErrorBody>;
