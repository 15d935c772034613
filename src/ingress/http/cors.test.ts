import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileCors, corsPreflight, corsResponseHeaders, CorsPolicyError, originAllowed, withCorsHeaders } from './cors.ts';

const pairs = (flat: readonly string[] | undefined) => {
  const out: Record<string, string> = {};
  for (let i = 0; flat && i < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
};

describe('compileCors', () => {
  test('credentials with * is refused, naming allowCredentials', () => {
    assert.throws(() => compileCors({ allowedOrigins: ['https://a.example', '*'], allowCredentials: true }), (error: unknown) => error instanceof CorsPolicyError && error.path === 'allowCredentials');
    assert.doesNotThrow(() => compileCors({ allowedOrigins: ['*'], allowCredentials: false }));
  });

  test('an entry that is not an origin is refused with its index; so are methods and headers that are not tokens', () => {
    for (const [policy, path] of [
      [{ allowedOrigins: ['https://a.example', 'https://a.example/path'] }, 'allowedOrigins[1]'],
      [{ allowedOrigins: ['a.example'] }, 'allowedOrigins[0]'],
      [{ allowedOrigins: ['https://a.example\r\nx: y'] }, 'allowedOrigins[0]'],
      [{ allowedOrigins: [] }, 'allowedOrigins'],
      [{ allowedOrigins: ['*'], allowedMethods: ['GET', 'PO ST'] }, 'allowedMethods[1]'],
      [{ allowedOrigins: ['*'], allowedHeaders: ['x\ny'] }, 'allowedHeaders[0]'],
      [{ allowedOrigins: ['*'], exposeHeaders: ['a,b'] }, 'exposeHeaders[0]'],
    ] as const) {
      assert.throws(() => compileCors(policy), (error: unknown) => error instanceof CorsPolicyError && error.path === path, path);
    }
  });

  test('origins: exact (case-insensitive), * for any, and * inside a host for one or more host characters only', () => {
    const policy = compileCors({ allowedOrigins: ['https://App.example', 'https://*.contoso.com', 'http://localhost:3000'] });
    assert.equal(originAllowed(policy, 'https://app.example'), true);
    assert.equal(originAllowed(policy, 'HTTPS://APP.EXAMPLE'), true);
    assert.equal(originAllowed(policy, 'https://app.example:444'), false);
    assert.equal(originAllowed(policy, 'http://app.example'), false);
    assert.equal(originAllowed(policy, 'https://www.contoso.com'), true);
    assert.equal(originAllowed(policy, 'https://a.b.contoso.com'), true);
    assert.equal(originAllowed(policy, 'https://contoso.com'), false);
    assert.equal(originAllowed(policy, 'https://evilcontoso.com'), false);
    assert.equal(originAllowed(policy, 'https://evil.com/.contoso.com'), false);
    assert.equal(originAllowed(policy, 'https://evil.com:1.contoso.com'), false);
    assert.equal(originAllowed(policy, 'http://localhost:3000'), true);
    assert.equal(originAllowed(policy, 'http://localhost:30001'), false);
    assert.equal(originAllowed(compileCors({ allowedOrigins: ['*'] }), 'null'), true);
  });
});

describe('corsPreflight', () => {
  const policy = compileCors({ allowedOrigins: ['https://a.example'], allowedMethods: ['GET', 'PUT'], allowedHeaders: ['x-token'], exposeHeaders: ['x-total'], maxAge: 600, allowCredentials: true });

  test('an allowed preflight is answered 200 with the policy (origin echoed)', () => {
    const answer = corsPreflight(policy, 'OPTIONS', { origin: 'https://a.example', 'access-control-request-method': 'PUT' });
    assert.equal(answer?.status, 200);
    assert.deepEqual(pairs(answer?.headers), {
      'access-control-allow-origin': 'https://a.example',
      vary: 'Origin',
      'access-control-allow-methods': 'GET, PUT',
      'access-control-allow-headers': 'x-token',
      'access-control-max-age': '600',
      'access-control-allow-credentials': 'true',
      'content-length': '0',
    });
  });

  test('not a preflight, no policy, or a disallowed origin: not answered by the ingress', () => {
    assert.equal(corsPreflight(policy, 'OPTIONS', { origin: 'https://evil.example', 'access-control-request-method': 'PUT' }), undefined);
    assert.equal(corsPreflight(policy, 'OPTIONS', { origin: 'https://a.example' }), undefined);
    assert.equal(corsPreflight(policy, 'OPTIONS', { 'access-control-request-method': 'PUT' }), undefined);
    assert.equal(corsPreflight(policy, 'GET', { origin: 'https://a.example', 'access-control-request-method': 'PUT' }), undefined);
    assert.equal(corsPreflight(undefined, 'OPTIONS', { origin: 'https://a.example', 'access-control-request-method': 'PUT' }), undefined);
  });

  test('without methods, headers or max age, those headers are left out', () => {
    const answer = corsPreflight(compileCors({ allowedOrigins: ['*'] }), 'OPTIONS', { origin: 'https://x.example', 'access-control-request-method': 'GET' });
    assert.deepEqual(pairs(answer?.headers), { 'access-control-allow-origin': 'https://x.example', vary: 'Origin', 'content-length': '0' });
  });
});

describe('corsResponseHeaders', () => {
  const policy = compileCors({ allowedOrigins: ['https://a.example'], exposeHeaders: ['x-total', 'x-page'], allowCredentials: true });

  test('an allowed origin gets allow-origin, vary, credentials and expose-headers; others nothing', () => {
    assert.deepEqual(pairs(corsResponseHeaders(policy, 'https://a.example')), {
      'access-control-allow-origin': 'https://a.example',
      vary: 'Origin',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'x-total, x-page',
    });
    assert.equal(corsResponseHeaders(policy, 'https://evil.example'), undefined);
    assert.equal(corsResponseHeaders(policy, undefined), undefined);
    assert.equal(corsResponseHeaders(undefined, 'https://a.example'), undefined);
  });

  test("the app's own CORS headers are replaced, its other headers kept", () => {
    const merged = withCorsHeaders(['content-type', 'text/plain', 'access-control-allow-origin', '*', 'vary', 'Accept'], ['access-control-allow-origin', 'https://a.example', 'vary', 'Origin']);
    assert.deepEqual(merged, ['content-type', 'text/plain', 'vary', 'Accept', 'access-control-allow-origin', 'https://a.example', 'vary', 'Origin']);
  });
});
