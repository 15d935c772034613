import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METHODS, methodIndex, OTHER_METHOD } from './methods.ts';

test('methodIndex finds each method of METHODS, and any other is `other`', () => {
  for (const [index, method] of METHODS.entries()) if (method !== 'other') assert.equal(methodIndex(method), index, method);
  assert.equal(METHODS[OTHER_METHOD], 'other');
  // Not interned like the parsers' constants: compared by content all the same.
  assert.equal(methodIndex(['G', 'E', 'T'].join('')), 0);
  for (const method of ['other', 'get', 'BREW', 'M-SEARCH', 'CONNECT', 'TRACE', '']) assert.equal(methodIndex(method), OTHER_METHOD, method);
});
