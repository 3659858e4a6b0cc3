/**
 * Orders two event cursors (`"<tx>:<id>"`, or `''` before every event): negative when `a` comes
 * first, 0 when equal, positive when `b` does.
 */
export function compareCursors(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '') return -1;
  if (b === '') return 1;
  const [ta = '0', ia = '0'] = a.split(':');
  const [tb = '0', ib = '0'] = b.split(':');
  const tx = BigInt(ta) - BigInt(tb);
  if (tx !== 0n) return tx < 0n ? -1 : 1;
  const id = BigInt(ia) - BigInt(ib);
  return id === 0n ? 0 : id < 0n ? -1 : 1;
}
