import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArmError } from '../arm/errors.ts';
import { LIMITS, checkDocumentLimits, checkJsonShape } from './limits.ts';

function refusal(run: () => void): ArmError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ArmError, String(error));
    return error;
  }
  assert.fail('not refused');
}

test('a value nested a million deep is refused at the bound, without overflowing the stack', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 1_000_000; i++) deep = [deep];
  const error = refusal(() => checkJsonShape({ properties: deep }));
  assert.equal(error.status, 400);
  assert.equal(error.code, 'InvalidRequestContent');
  assert.equal(error.target, `properties${'[0]'.repeat(LIMITS.depth - 1)}`);
});

test('values within every bound pass; each bound names the path that exceeds it', () => {
  checkDocumentLimits({ tags: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`t${i}`, 'v'])), properties: { template: { containers: [{ image: 'x'.repeat(LIMITS.stringLength) }] } } });
  assert.equal(refusal(() => checkJsonShape({ tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`t${i}`, 'v'])) })).target, 'tags');
  assert.equal(refusal(() => checkJsonShape({ a: { b: 'x'.repeat(LIMITS.stringLength + 1) } })).target, 'a.b');
  assert.equal(refusal(() => checkJsonShape({ a: Array.from({ length: LIMITS.items + 1 }, () => 0) })).target, 'a');
  assert.equal(refusal(() => checkJsonShape({ properties: { configuration: { ingress: { customDomains: Array.from({ length: 101 }, () => ({})) } } } })).target, 'properties.configuration.ingress.customDomains');
  assert.equal(refusal(() => checkJsonShape({ properties: { template: { containers: [{ env: Array.from({ length: 501 }, () => ({})) }] } } })).target, 'properties.template.containers[0].env');
  assert.match(refusal(() => checkDocumentLimits({ a: Array.from({ length: 40 }, () => 'x'.repeat(30_000)) })).message, /bytes stored/);
});
