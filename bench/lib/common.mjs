// What every part of `npm run bench` (bench/run.mjs) shares: the paths, the progress log on
// stderr, small helpers for waiting and errors, reading JSON, and the number format.
import { readFileSync } from 'node:fs';

export const ROOT = new URL('../../', import.meta.url);
export const README = new URL('bench/README.md', ROOT);
export const PEERS = new URL('bench/peers/', ROOT);
export const FLEET = new URL('bench/fleet/run.mjs', ROOT);

export function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The promise, or a rejection with `message` if it has not settled within ms. */
export async function within(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function errorText(error) {
  return error instanceof Error ? error.message : String(error);
}

export function readJson(url) {
  try {
    return JSON.parse(readFileSync(url, 'utf8'));
  } catch {
    return undefined;
  }
}

export function fmt(value, digits = 0) {
  if (value === undefined || Number.isNaN(value)) return '';
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}
