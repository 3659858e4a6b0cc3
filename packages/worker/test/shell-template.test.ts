import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDroverError } from '@drover/protocol';
import { ShellTaskTemplate, expandArgv, paramsSchema } from '../src/shell/index.js';

function issuesOf(input: unknown): string[] {
  const parsed = ShellTaskTemplate.safeParse(input);
  assert.equal(parsed.success, false, 'the template should be rejected');
  return parsed.error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) ?? [];
}

function assertInvalidParams(fn: () => unknown, path: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isDroverError(error, 'DROVER_E_INVALID_PARAMS'), String(error));
    assert.ok(
      (error.details as { path: string }[]).some((d) => d.path === path),
      `details should name ${path}: ${JSON.stringify(error.details)}`,
    );
    return true;
  });
}

const render = ShellTaskTemplate.parse({
  name: 'render.frame',
  argv: ['render', '--size={width}x{height}', '--mode={mode}', '{outDir}/frame.png', '{verbose}'],
  params: {
    width: { type: 'integer', min: 1, max: 8192 },
    height: { type: 'integer', min: 1, max: 8192, default: 1080 },
    mode: { type: 'string', enum: ['fast', 'best'], default: 'fast' },
    verbose: { type: 'boolean', default: false },
  },
});

describe('ShellTaskTemplate', () => {
  it('fills in defaults', () => {
    assert.equal(render.graceMs, 5000);
    assert.equal(render.timeoutMs, undefined);
    const bare = ShellTaskTemplate.parse({ name: 'true', argv: ['true'] });
    assert.deepEqual(bare.params, {});
  });

  it('rejects a placeholder that names no param', () => {
    const issues = issuesOf({ name: 'x', argv: ['echo', '--out={out}/a.png'] });
    assert.deepEqual(issues, ['argv.1: {out} is neither a declared param nor {outDir}']);
  });

  it('rejects a placeholder in the program', () => {
    const issues = issuesOf({ name: 'x', argv: ['{tool}'], params: { tool: { type: 'string' } } });
    assert.match(issues.join(), /argv\.0: the program cannot contain a placeholder/);
  });

  it('rejects stray braces, and reads doubled ones as literal', () => {
    assert.match(issuesOf({ name: 'x', argv: ['awk', '{print $1}'] }).join(), /argv\.1: .*"\{\{"/);
    assert.match(issuesOf({ name: 'x', argv: ['echo', 'a}'] }).join(), /argv\.1: .*"\}\}"/);
    const awk = ShellTaskTemplate.parse({ name: 'x', argv: ['awk', '{{print $1}}'] });
    assert.deepEqual(expandArgv(awk, {}, { outDir: '/o' }), ['awk', '{print $1}']);
  });

  it('rejects bad param specs', () => {
    const spec = (param: unknown) => issuesOf({ name: 'x', argv: ['p'], params: { a: param } });
    assert.match(spec({ type: 'string', patern: 'x' }).join(), /params\.a: Unrecognized key/);
    assert.match(spec({ type: 'string', pattern: '(' }).join(), /params\.a\.pattern: not a valid/);
    assert.match(spec({ type: 'integer', min: 5, max: 1 }).join(), /params\.a\.max/);
    assert.match(spec({ type: 'integer', max: 3, default: 4 }).join(), /params\.a\.default/);
    assert.match(spec({ type: 'integer', default: 1.5 }).join(), /params\.a\.default/);
    assert.match(spec({ type: 'float' }).join(), /params\.a\.type/);
    const enumIssues = spec({ type: 'string', pattern: '[a-z]+', enum: ['ok', 'NO'] });
    assert.deepEqual(enumIssues, ['params.a.enum.1: does not match the pattern']);
  });

  it('rejects bad names, a relative cwd, an empty argv and unknown keys', () => {
    assert.match(issuesOf({ name: 'x', argv: [] }).join(), /argv: argv needs at least the program/);
    assert.match(issuesOf({ name: 'bad name', argv: ['p'] }).join(), /^name: /);
    assert.match(issuesOf({ name: 'x', argv: ['p'], cwd: 'work' }).join(), /cwd: .*absolute/);
    assert.match(issuesOf({ name: 'x', argv: ['p'], shell: true }).join(), /Unrecognized key/);
    const params = (name: string) => ({
      name: 'x',
      argv: ['p'],
      params: { [name]: { type: 'string' } },
    });
    assert.match(issuesOf(params('outDir')).join(), /params\.outDir: .*built in/);
    assert.match(issuesOf(params('1st')).join(), /params\.1st: a param name/);
  });
});

describe('expandArgv', () => {
  it('substitutes params and outDir, inside elements too', () => {
    const argv = expandArgv(render, { width: 640, verbose: true }, { outDir: '/out' });
    assert.deepEqual(argv, ['render', '--size=640x1080', '--mode=fast', '/out/frame.png', 'true']);
  });

  it('takes numbers as JSON numbers only', () => {
    const t = ShellTaskTemplate.parse({
      name: 'x',
      argv: ['p', '{ratio}'],
      params: { ratio: { type: 'number', min: 0, max: 1 } },
    });
    assert.deepEqual(expandArgv(t, { ratio: 0.25 }, { outDir: '/o' }), ['p', '0.25']);
    assertInvalidParams(() => expandArgv(t, { ratio: '0.25' }, { outDir: '/o' }), 'ratio');
    assertInvalidParams(() => expandArgv(t, { ratio: 2 }, { outDir: '/o' }), 'ratio');
  });

  it('rejects invalid params with DROVER_E_INVALID_PARAMS', () => {
    const expand = (params: unknown) => () => expandArgv(render, params, { outDir: '/o' });
    assertInvalidParams(expand({ width: 0 }), 'width');
    assertInvalidParams(expand({ width: 10.5 }), 'width');
    assertInvalidParams(expand({ height: 10 }), 'width');
    assertInvalidParams(expand({ width: 10, mode: 'slow' }), 'mode');
    assertInvalidParams(expand({ width: 10, verbose: 'yes' }), 'verbose');
    assertInvalidParams(expand({ width: 10, colour: 'red' }), '');
    assertInvalidParams(expand(null), '');
  });

  it('matches a pattern against the whole value and refuses NUL', () => {
    const t = ShellTaskTemplate.parse({
      name: 'x',
      argv: ['p', '{scene}'],
      params: { scene: { type: 'string', pattern: '[a-z0-9_]+' } },
    });
    assert.deepEqual(expandArgv(t, { scene: 'shot_12' }, { outDir: '/o' }), ['p', 'shot_12']);
    assertInvalidParams(
      () => expandArgv(t, { scene: 'shot 12; rm -rf /' }, { outDir: '/' }),
      'scene',
    );
    const free = ShellTaskTemplate.parse({
      name: 'x',
      argv: ['p', '{text}'],
      params: { text: { type: 'string' } },
    });
    assertInvalidParams(() => expandArgv(free, { text: 'a\u0000b' }, { outDir: '/o' }), 'text');
  });

  it('refuses a value that starts with "-" unless the param allows it', () => {
    const t = ShellTaskTemplate.parse({
      name: 'x',
      argv: ['convert', '{input}', '{quality}', '{gain}', '{mode}'],
      params: {
        input: { type: 'string' },
        quality: { type: 'integer', min: -10 },
        gain: { type: 'number', default: 0 },
        mode: { type: 'string', enum: ['-fast', '-best'], default: '-fast' },
      },
    });
    const expand = (params: unknown) => () => expandArgv(t, params, { outDir: '/o' });
    assertInvalidParams(expand({ input: '--output=/etc/passwd', quality: 1 }), 'input');
    assertInvalidParams(expand({ input: '-', quality: 1 }), 'input');
    assertInvalidParams(expand({ input: 'a.png', quality: -1 }), 'quality');
    assertInvalidParams(expand({ input: 'a.png', quality: 1, gain: -0.5 }), 'gain');
    // The operator's own enum values are allowed as they are.
    assert.deepEqual(expand({ input: 'a-b.png', quality: 0 })(), [
      'convert',
      'a-b.png',
      '0',
      '0',
      '-fast',
    ]);
    const allowing = ShellTaskTemplate.parse({
      name: 'x',
      argv: ['convert', '--', '{input}', '{quality}'],
      params: {
        input: { type: 'string', allowLeadingDash: true },
        quality: { type: 'integer', allowLeadingDash: true, default: -3 },
      },
    });
    assert.deepEqual(expandArgv(allowing, { input: '-odd name.png' }, { outDir: '/o' }), [
      'convert',
      '--',
      '-odd name.png',
      '-3',
    ]);
    assert.ok(
      issuesOf({
        name: 'x',
        argv: ['p', '{v}'],
        params: { v: { type: 'string', default: '-v' } },
      }).some(
        (issue) => issue.startsWith('params.v.default') && issue.includes('allowLeadingDash'),
      ),
    );
  });

  it('throws DROVER_E_INVALID_PARAMS for a placeholder an unchecked template does not define', () => {
    const unchecked = { ...render, argv: ['render', '{depth}'] };
    assertInvalidParams(() => expandArgv(unchecked, { width: 1 }, { outDir: '/o' }), 'argv.1');
  });

  it('builds a params schema that rejects unknown keys', () => {
    const schema = paramsSchema(render);
    assert.deepEqual(schema.parse({ width: 2 }), {
      width: 2,
      height: 1080,
      mode: 'fast',
      verbose: false,
    });
    assert.equal(schema.safeParse({ width: 2, extra: 1 }).success, false);
    assert.equal(paramsSchema(render), schema, 'built once per template');
  });
});
