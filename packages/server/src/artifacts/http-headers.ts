import type { ByteRange } from './store.js';

/**
 * What a `Range` header asks of a representation of `size` bytes (RFC 9110 §14): one range
 * (`bytes=a-b`, `bytes=a-` or `bytes=-n`), `unsatisfiable` (answer 416), or undefined when the
 * whole representation should be sent: no header, a unit other than bytes, a syntax error or
 * several ranges, all of which a server may answer with the whole.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=\s*(\d*)-(\d*)\s*$/.exec(header);
  if (!match) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    // A suffix: the last n bytes.
    const n = Number(last);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}

/**
 * `Content-Disposition` for a download: `attachment` (or `inline`) with the file's last path
 * segment as its name, both as a plain ASCII fallback and, when it needs more, as RFC 5987
 * UTF-8, so no name can break out of the header or pick the folder it is saved to.
 */
export function contentDisposition(name: string, inline: boolean): string {
  const base = name.slice(name.lastIndexOf('/') + 1) || 'download';
  const fallback = base.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const disposition = `${inline ? 'inline' : 'attachment'}; filename="${fallback}"`;
  if (fallback === base) return disposition;
  const encoded = encodeURIComponent(base).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${disposition}; filename*=UTF-8''${encoded}`;
}

/**
 * Types a browser may show in place (`?inline=1`); anything else is always a download, so that
 * no artifact renders as a page of this server's origin. Responses also carry a sandboxing
 * Content-Security-Policy, which covers scripts inside SVG.
 */
export function mayShowInline(contentType: string): boolean {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return (
    type.startsWith('image/') ||
    type.startsWith('video/') ||
    type.startsWith('audio/') ||
    type === 'text/plain' ||
    type === 'application/json' ||
    type === 'application/pdf'
  );
}
