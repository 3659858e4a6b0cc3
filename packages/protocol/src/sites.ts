import { z } from 'zod';
import { TokenSecret } from './auth.js';

/**
 * A site's name: another Drover farm this one forwards jobs to (IceProd's site-to-site model).
 * Letters, digits, `.`, `_` and `-`, as a group's name.
 */
export const SiteName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    'a site name is 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit',
  );
export type SiteName = z.infer<typeof SiteName>;

/** Where a site's server answers: its base URL, `http://` or `https://`, no path. */
export const SiteUrl = z
  .string()
  .max(2000)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (
        (url.protocol === 'http:' || url.protocol === 'https:') &&
        url.username === '' &&
        url.password === '' &&
        url.search === '' &&
        url.hash === ''
      );
    } catch {
      return false;
    }
  }, 'a site URL is http:// or https:// with a host, such as https://farm.example.org:7400');

/** A site as `sites.list` shows it: never its token. */
export const SiteRecord = z.object({
  name: SiteName,
  url: z.string(),
  /** Unfinished jobs forwarded (or waiting to be) to this site. */
  activeJobs: z.int(),
  /** Why the site could not be reached the last time it was tried, until it answers again. */
  lastError: z.string().nullable(),
  createdAt: z.string(),
  createdBy: z.string().nullable(),
});
export type SiteRecord = z.infer<typeof SiteRecord>;

/** What `sites.add` takes: the token is the site's, kept by this farm and never shown again. */
export const SiteAdd = z.object({ name: SiteName, url: SiteUrl, token: TokenSecret });
export type SiteAdd = z.infer<typeof SiteAdd>;

/** The idempotency key under which a farm forwards one of its jobs to a site. */
export function siteIdempotencyKey(farmId: string, jobId: string): string {
  return `site:${farmId}:${jobId}`;
}
