import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineSplitter, MAX_LINE_BYTES } from '../src/shell/index.js';

function split(chunks: (string | Buffer)[], maxBytes?: number): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line), maxBytes);
  for (const chunk of chunks) splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  splitter.flush();
  return lines;
}

describe('LineSplitter', () => {
  it('splits on newlines, joins partial lines and flushes the last one', () => {
    assert.deepEqual(split(['a\nb', 'c\n', '\nd', 'e']), ['a', 'bc', '', 'de']);
    assert.deepEqual(split(['a\n']), ['a']);
    assert.deepEqual(split([]), []);
  });

  it('drops the \\r of a \\r\\n, even across chunks', () => {
    assert.deepEqual(split(['a\r\nb\r', '\nc\rd\n']), ['a', 'b', 'c\rd']);
  });

  it('cuts long lines at maxBytes', () => {
    assert.deepEqual(split(['abcdefghij\nxy'], 4), ['abcd', 'efgh', 'ij', 'xy']);
    assert.deepEqual(split(['abcd', 'efgh', 'ij'], 4), ['abcd', 'efgh', 'ij']);
    const long = 'x'.repeat(MAX_LINE_BYTES * 2 + 5);
    assert.deepEqual(
      split([long, '\n']).map((l) => l.length),
      [MAX_LINE_BYTES, MAX_LINE_BYTES, 5],
    );
  });

  it('never cuts a UTF-8 character in two, even when it arrives in two chunks', () => {
    const euro = Buffer.from('€'); // three bytes
    const text = Buffer.concat([Buffer.from('abc'), euro, euro, Buffer.from('\n')]);
    assert.deepEqual(split([text], 4), ['abc', '€', '€']);
    assert.deepEqual(split([text.subarray(0, 4), text.subarray(4)]), ['abc€€']);
    assert.deepEqual(split([text.subarray(0, 5), text.subarray(5)], 6), ['abc€', '€']);
  });
});
