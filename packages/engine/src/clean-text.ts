/** A UTF-16 surrogate without its pair: not a character, and PostgreSQL refuses it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Text PostgreSQL stores as it is: NUL characters and lone surrogates (which binary junk on a
 * command's stdout is full of) become U+FFFD, the replacement character.
 */
export function cleanText(text: string): string {
  return text.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATE, '\uFFFD');
}

/** `cleanText` applied to every string in a JSON value, keys included. */
export function cleanJson(value: unknown): unknown {
  if (typeof value === 'string') return cleanText(value);
  if (Array.isArray(value)) return value.map(cleanJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [cleanText(k), cleanJson(v)]));
  }
  return value;
}

/** Whether text would need cleaning: a submission carrying such text is refused instead. */
export function needsCleaning(text: string): boolean {
  LONE_SURROGATE.lastIndex = 0;
  return text.includes('\u0000') || LONE_SURROGATE.test(text);
}

/**
 * Where in a JSON value the first string that would need cleaning is (dot-separated, `""` for
 * the value itself), or undefined if there is none.
 */
export function uncleanPath(value: unknown, path: string[] = []): string | undefined {
  if (typeof value === 'string') return needsCleaning(value) ? path.join('.') : undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = uncleanPath(item, [...path, String(i)]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (needsCleaning(key)) return [...path, key].join('.');
      const found = uncleanPath(item, [...path, key]);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
