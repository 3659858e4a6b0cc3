import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JuliaParams, mulberry32, randomJuliaParams, randomTaskCount } from '../src/index.js';

/** c's own escape iteration, written out plainly: z = z*z + c from z = 0. */
function cEscape(cr: number, ci: number, iterations: number): number {
  let re = 0;
  let im = 0;
  let i = 0;
  for (i = 0; i < iterations; i++) {
    if (Math.sqrt(re * re + im * im) > 2) break;
    [re, im] = [re * re - im * im + cr, 2 * re * im + ci];
  }
  return Math.min(i, iterations - 1);
}

function assertBetween(value: number, lo: number, hi: number, name: string): void {
  assert.ok(value >= lo && value <= hi, `${name} = ${value} is outside ${lo}..${hi}`);
}

describe('randomJuliaParams', () => {
  it('draws within the recipe, with c escaping in 10..100', () => {
    for (const seed of [1, 2, 3, 4]) {
      const random = mulberry32(seed);
      for (let draw = 0; draw < 50; draw++) {
        const p = randomJuliaParams(random);
        const where = `seed ${seed}, draw ${draw}`;
        assert.ok(Number.isInteger(p.width) && Number.isInteger(p.height), where);
        assert.ok(Number.isInteger(p.iterations), where);
        assertBetween(p.width, 256, 1024, `width (${where})`);
        assertBetween(p.height, 256, 1024, `height (${where})`);
        assertBetween(p.iterations, 128, 512, `iterations (${where})`);
        assertBetween(p.xa, -4, -1, `xa (${where})`);
        assertBetween(p.xb, 1, 4, `xb (${where})`);
        assertBetween(p.ya, -3, -0.5, `ya (${where})`);
        assertBetween(p.yb, 0.5, 3, `yb (${where})`);
        assertBetween(cEscape(p.cr, p.ci, p.iterations), 10, 100, `c's escape (${where})`);
        assert.ok(JuliaParams.safeParse(p).success, where);
      }
    }
  });

  it('is deterministic given the random source', () => {
    const draw = (seed: number) => {
      const random = mulberry32(seed);
      return [randomJuliaParams(random), randomJuliaParams(random), randomJuliaParams(random)];
    };
    assert.deepEqual(draw(42), draw(42));
    assert.notDeepEqual(draw(42), draw(43));
  });

  it('stays within range at the edges of [0, 1)', () => {
    // The largest double below 1 must not push an integer past its top.
    const rest = mulberry32(5);
    let calls = 0;
    const high = () => (calls++ < 3 ? 1 - Number.EPSILON / 2 : rest());
    const p = randomJuliaParams(high);
    assert.equal(p.width, 1024);
    assert.equal(p.height, 1024);
    assert.equal(p.iterations, 512);
  });

  it('gives up with a clear error on a source that never finds a c', () => {
    assert.throws(() => randomJuliaParams(() => 0), /no c with an escape iteration in 10\.\.100/);
  });
});

describe('randomTaskCount', () => {
  it('draws whole numbers in 1..10, reaching both ends', () => {
    const random = mulberry32(7);
    const seen = new Set<number>();
    for (let draw = 0; draw < 2000; draw++) {
      const count = randomTaskCount(random);
      assert.ok(Number.isInteger(count), `${count} is not whole`);
      assertBetween(count, 1, 10, 'task count');
      seen.add(count);
    }
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
  });
});
