import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { requestHead, type OutgoingRequest } from './http1-client.ts';

const request = (overrides: Partial<OutgoingRequest>): OutgoingRequest => ({
  method: 'GET',
  path: '/a?b=c',
  headers: ['host', 'app.example', 'accept', '*/*'],
  trustedHeadLines: '',
  body: null,
  bodyLength: undefined,
  owner: {},
  ...overrides,
});

test('the request head: request line, headers, the ingress lines, the blank line', () => {
  assert.equal(
    requestHead(request({ trustedHeadLines: 'x-forwarded-client-cert: Hash=ab\r\n' })),
    'GET /a?b=c HTTP/1.1\r\nhost: app.example\r\naccept: */*\r\nx-forwarded-client-cert: Hash=ab\r\n\r\n',
  );
});

test('a body without a declared length is sent chunked; with one, as it is', () => {
  assert.match(requestHead(request({ method: 'POST', body: new PassThrough() })), /\r\ntransfer-encoding: chunked\r\n\r\n$/);
  const withLength = requestHead(request({ method: 'POST', headers: ['content-length', '3'], body: new PassThrough(), bodyLength: 3 }));
  assert.doesNotMatch(withLength, /transfer-encoding/);
});

test('nothing can split the head: bad names, values, targets and methods are refused (400)', () => {
  const refused: Partial<OutgoingRequest>[] = [
    { headers: ['x-a', 'one\r\nx-injected: two'] },
    { headers: ['x-a', 'one\ntwo'] },
    { headers: ['x-a', 'nul\0'] },
    { headers: ['x a', 'v'] },
    { headers: ['x-a:', 'v'] },
    { headers: ['', 'v'] },
    { headers: ['x-a', 'wide \u0100'] },
    { path: '/a b' },
    { path: '/a\r\nx: y' },
    { path: '' },
    { method: 'GET /x' },
    { method: 'CONNECT', path: 'app.example:443' },
  ];
  for (const overrides of refused) {
    assert.throws(() => requestHead(request(overrides)), (error: { code?: string }) => error.code === 'CERTGATE_BAD_REQUEST', JSON.stringify(overrides));
  }
});
