import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EngineRoomError } from '../../src/core/errors';
import {
  SUPPORTED_VARIABLES,
  classifyVariable,
  expandVariables,
  listVariables,
  unknownVariableMessage,
  type VariableContext,
} from '../../src/core/variables';

const ctx: VariableContext = {
  port: 8080,
  portBlock: [20000, 20015],
  portOf: (name) => ({ db: 5432, cache: 6379 })[name],
  workspaceFolder: '/home/me/project',
  env: { HOME: '/home/me', EMPTY: '', UNSET: undefined },
};

/** Asserts that `fn` throws a `bad-config` EngineRoomError whose message contains `part`. */
function assertBadConfig(fn: () => unknown, part: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof EngineRoomError, `not an EngineRoomError: ${String(e)}`);
    assert.equal(e.code, 'bad-config');
    assert.ok(e.message.includes(part), `"${e.message}" does not contain "${part}"`);
    return true;
  });
}

describe('listVariables', () => {
  it('lists names, arguments and positions', () => {
    assert.deepEqual(listVariables('a${port}b${port:db}${env:HOME}/${workspaceFolder}${}'), [
      { name: 'port', index: 1, length: 7 },
      { name: 'port', arg: 'db', index: 9, length: 10 },
      { name: 'env', arg: 'HOME', index: 19, length: 11 },
      { name: 'workspaceFolder', index: 31, length: 18 },
      { name: '', index: 49, length: 3 },
    ]);
  });

  it('splits at the first colon only', () => {
    assert.deepEqual(listVariables('${env:A:B}'), [{ name: 'env', arg: 'A:B', index: 0, length: 10 }]);
  });

  it('ignores text that is not ${...}', () => {
    assert.deepEqual(listVariables('$port {port} $ {x} ${unclosed'), []);
    assert.deepEqual(listVariables(''), []);
  });
});

describe('classifyVariable', () => {
  it('knows the supported variables', () => {
    assert.deepEqual(classifyVariable({ name: 'port' }), { kind: 'port' });
    assert.deepEqual(classifyVariable({ name: 'port', arg: 'db' }), { kind: 'portOf', engine: 'db' });
    assert.deepEqual(classifyVariable({ name: 'portBlock' }), { kind: 'portBlock' });
    assert.deepEqual(classifyVariable({ name: 'portBlockEnd' }), { kind: 'portBlockEnd' });
    assert.deepEqual(classifyVariable({ name: 'workspaceFolder' }), { kind: 'workspaceFolder' });
    assert.deepEqual(classifyVariable({ name: 'env', arg: 'PATH' }), { kind: 'env', name: 'PATH' });
  });

  it('rejects everything else', () => {
    for (const v of [
      { name: 'workspaceRoot' },
      { name: 'env' },
      { name: 'env', arg: '' },
      { name: 'port', arg: '' },
      { name: 'portBlock', arg: 'x' },
      { name: 'workspaceFolder', arg: 'x' },
      { name: 'Port' },
      { name: '' },
    ]) {
      assert.equal(classifyVariable(v), undefined, JSON.stringify(v));
    }
  });

  it('explains unknown variables', () => {
    assert.deepEqual(SUPPORTED_VARIABLES, [
      '${port}',
      '${portBlock}',
      '${portBlockEnd}',
      '${portBlock+N}',
      '${port.NAME}',
      '${port:ENGINE}',
      '${port:ENGINE.NAME}',
      '${replica}',
      '${workspaceFolder}',
      '${env:NAME}',
    ]);
    assert.equal(
      unknownVariableMessage({ name: 'workspaceRoot' }),
      'unknown variable "${workspaceRoot}"; supported: ${port}, ${portBlock}, ${portBlockEnd}, ${portBlock+N}, ${port.NAME}, ${port:ENGINE}, ${port:ENGINE.NAME}, ${replica}, ${workspaceFolder}, ${env:NAME}',
    );
    assert.ok(unknownVariableMessage({ name: 'HOME' }).endsWith('; for the environment variable write "${env:HOME}"'));
  });
});

describe('expandVariables', () => {
  it('expands every supported variable', () => {
    assert.equal(
      expandVariables('--port=${port} --block=${portBlock}-${portBlockEnd} --db=${port:db}', ctx),
      '--port=8080 --block=20000-20015 --db=5432',
    );
    assert.equal(expandVariables('${workspaceFolder}/data', ctx), '/home/me/project/data');
    assert.equal(expandVariables('${env:HOME}/.cache', ctx), '/home/me/.cache');
  });

  it('expands repeated variables and leaves other text alone', () => {
    assert.equal(expandVariables('${port}:${port} $port {port} $${port} ${x', ctx), '8080:8080 $port {port} $8080 ${x');
    assert.equal(expandVariables('plain', ctx), 'plain');
  });

  it('gives an empty string for an unset or empty environment variable, like VS Code', () => {
    assert.equal(expandVariables('[${env:UNSET}][${env:EMPTY}][${env:NEVER_SET_ANYWHERE}]', ctx), '[][][]');
  });

  it('does not expand variables inside expanded values', () => {
    const withDollar: VariableContext = { ...ctx, env: { X: '${port}' } };
    assert.equal(expandVariables('${env:X}', withDollar), '${port}');
  });

  it('throws bad-config naming the variable that cannot be resolved', () => {
    const bare: VariableContext = { portOf: () => undefined, workspaceFolder: '/w', env: {} };
    assertBadConfig(() => expandVariables('x ${port}', bare), 'cannot expand ${port} in "x ${port}": the engine has no port');
    assertBadConfig(() => expandVariables('${portBlock}', bare), '${portBlock}');
    assertBadConfig(() => expandVariables('${portBlockEnd}', bare), 'no port block');
    assertBadConfig(() => expandVariables('${port:redis}', ctx), 'engine "redis" has no leased port');
    assertBadConfig(() => expandVariables('${workspaceRoot}', ctx), 'unknown variable "${workspaceRoot}"');
    assertBadConfig(() => expandVariables('${env}', ctx), 'unknown variable "${env}"');
  });

  it('reports the variable in the error details', () => {
    try {
      expandVariables('a ${nope} b', ctx);
      assert.fail('should throw');
    } catch (e) {
      assert.ok(e instanceof EngineRoomError);
      assert.deepEqual(e.details, { variable: '${nope}' });
    }
  });
});
