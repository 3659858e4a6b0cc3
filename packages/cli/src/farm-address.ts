import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The file in a farm's data directory that says where its server listens, written by `drover up`
 * and `drover server` once they serve and removed when they stop: commands on the same machine
 * find the farm from it, whatever port it was given (`--port`, `DROVER_PORT`).
 */
export const ADDRESS_FILE = 'server.json';

/** What the address file holds. */
interface Address {
  /** The URL commands on this machine reach the server at. */
  url: string;
  /** The process serving it, for people reading the file. */
  pid: number;
}

/**
 * The URL a command on this machine reaches a server at: a server listening on every interface
 * is reached on the loopback one, where the farm's local credentials are sent.
 */
export function localUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.hostname === '0.0.0.0') parsed.hostname = '127.0.0.1';
  if (parsed.hostname === '[::]') parsed.hostname = '[::1]';
  return parsed.origin;
}

/** Written whole or not at all, so a command never reads half of it. */
export function writeAddress(dataDir: string, url: string): void {
  const file = join(dataDir, ADDRESS_FILE);
  const partial = `${file}.${process.pid}.partial`;
  const address: Address = { url: localUrl(url), pid: process.pid };
  writeFileSync(partial, `${JSON.stringify(address)}\n`);
  renameSync(partial, file);
}

/** Removes the address file if it is still this process's. */
export function removeAddress(dataDir: string): void {
  const file = join(dataDir, ADDRESS_FILE);
  try {
    const address = JSON.parse(readFileSync(file, 'utf8')) as Partial<Address>;
    if (address.pid === process.pid) rmSync(file, { force: true });
  } catch {
    // Gone already, or not ours to remove.
  }
}

/** The URL the farm of this data directory serves on, when one said so; undefined otherwise. */
export function readAddress(dataDir: string): string | undefined {
  try {
    const address = JSON.parse(
      readFileSync(join(dataDir, ADDRESS_FILE), 'utf8'),
    ) as Partial<Address>;
    return typeof address.url === 'string' && URL.canParse(address.url) ? address.url : undefined;
  } catch {
    return undefined;
  }
}
