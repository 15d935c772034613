import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, parseStoreKeys, seal, sealedWith } from './secret-box.ts';

const keyLine = () => randomBytes(32).toString('base64');

test('a sealed secret opens with its key and row only, and never shows the plain text', () => {
  const keys = parseStoreKeys(`# current\n${keyLine()}\n`, 'test');
  const sealed = seal(keys, 'row-a', Buffer.from('private key'));
  assert.ok(!sealed.includes(Buffer.from('private key')));
  assert.equal(open(keys, 'row-a', sealed).toString(), 'private key');
  assert.throws(() => open(keys, 'row-b', sealed), 'copied onto another row, it does not open');
  const tampered = Buffer.from(sealed);
  tampered[tampered.length - 1]! ^= 1;
  assert.throws(() => open(keys, 'row-a', tampered));
  assert.throws(() => open(parseStoreKeys(keyLine(), 'other'), 'row-a', sealed), /not among the configured keys/);
});

test('rotation: the first key seals, the others still open', () => {
  const [oldLine, newLine] = [keyLine(), keyLine()];
  const before = parseStoreKeys(oldLine, 'test');
  const sealedOld = seal(before, 'row', Buffer.from('x'));
  const after = parseStoreKeys(`${newLine}\n${oldLine}`, 'test');
  assert.equal(open(after, 'row', sealedOld).toString(), 'x');
  assert.equal(sealedWith(seal(after, 'row', Buffer.from('x'))), after[0]!.id);
});

test('a key that is not 32 bytes of base64 is refused, naming where it came from', () => {
  assert.throws(() => parseStoreKeys('c2hvcnQ=', '/etc/certgate/store.key'), /store\.key, key 1: expected the base64 of 32 random bytes/);
  assert.throws(() => parseStoreKeys('# nothing\n', 'CERTGATE_STORE_KEY'), /holds no key/);
});
