import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';

/**
 * What to trust when connecting to a server over TLS: the system's certificate authorities, and
 * with `ca` (PEM: a private authority, or a server's self-signed certificate) that one as well.
 * `fetch` and `ca` are to be used together: `fetch` for HTTP, `ca` for the `ws` WebSocket.
 */
export interface Trust {
  /** The authorities to give `ws` (`new WebSocket(url, { ca })`), or undefined for the system's. */
  ca: string[] | undefined;
  fetch: typeof globalThis.fetch;
}

/** Trusts the system's authorities, and the PEM certificate(s) in `ca` when given. */
export function trustFor(ca?: string | Buffer): Trust {
  if (ca === undefined) return { ca: undefined, fetch: globalThis.fetch };
  const authorities = [...rootCertificates, ca.toString()];
  const dispatcher = new Agent({ connect: { ca: authorities } });
  const fetch = ((
    input: Parameters<typeof undiciFetch>[0],
    init?: Parameters<typeof undiciFetch>[1],
  ) => undiciFetch(input, { ...init, dispatcher })) as unknown as typeof globalThis.fetch;
  return { ca: authorities, fetch };
}

/** The PEM certificate(s) in the file at `path` (a `--ca-file`), or a clear error. */
export function readCaFile(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read the CA file ${path}: ${(error as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new Error(`The CA file ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`);
  return pem;
}

/** `trustFor` with the PEM file at `path`, read now, or the system's alone without one. */
export function trustFile(path: string | undefined): Trust {
  return trustFor(path === undefined ? undefined : readCaFile(path));
}
