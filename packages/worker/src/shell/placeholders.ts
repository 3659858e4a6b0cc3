/** A param's name, which is also how a placeholder names it: `{width}`. */
export const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** One piece of an argv element: literal text, or a placeholder to substitute. */
export type Segment = { literal: string } | { placeholder: string };

export type ParsedElement = { ok: true; segments: Segment[] } | { ok: false; message: string };

/**
 * Splits one argv element into literal text and placeholders. `{name}` is a placeholder; `{{` and
 * `}}` stand for literal braces. Any other brace is an error rather than literal text, so that a
 * mistyped placeholder (`{ width}`, `{width`) fails when the template is loaded instead of reaching
 * the program verbatim.
 */
export function parseElement(element: string): ParsedElement {
  const segments: Segment[] = [];
  let literal = '';
  let i = 0;
  while (i < element.length) {
    const ch = element.charAt(i);
    const next = element.charAt(i + 1);
    if (ch === '{' && next === '{') {
      literal += '{';
      i += 2;
    } else if (ch === '}' && next === '}') {
      literal += '}';
      i += 2;
    } else if (ch === '{') {
      const close = element.indexOf('}', i + 1);
      const name = close === -1 ? '' : element.slice(i + 1, close);
      if (!PARAM_NAME.test(name)) {
        return {
          ok: false,
          message: `"${element}" has a "{" at ${i} that does not start a {name} placeholder; write "{{" for a literal "{"`,
        };
      }
      if (literal) segments.push({ literal });
      literal = '';
      segments.push({ placeholder: name });
      i = close + 1;
    } else if (ch === '}') {
      return {
        ok: false,
        message: `"${element}" has an unmatched "}" at ${i}; write "}}" for a literal "}"`,
      };
    } else {
      literal += ch;
      i += 1;
    }
  }
  if (literal || segments.length === 0) segments.push({ literal });
  return { ok: true, segments };
}

/** The placeholder names an element uses, in order; empty when it has none or does not parse. */
export function placeholdersOf(element: string): string[] {
  const parsed = parseElement(element);
  if (!parsed.ok) return [];
  return parsed.segments.flatMap((s) => ('placeholder' in s ? [s.placeholder] : []));
}
