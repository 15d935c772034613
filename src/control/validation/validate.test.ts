import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArmError } from '../arm/errors.ts';
import { APP_SCHEMA, ENVIRONMENT_SCHEMA } from './schemas.ts';
import { dropNulls, validateBody } from './validate.ts';
import { nearestName } from './nearest-name.ts';

function rejects(body: unknown): ArmError {
  try {
    validateBody(body, APP_SCHEMA);
  } catch (error) {
    assert.ok(error instanceof ArmError);
    assert.equal(error.status, 400);
    return error;
  }
  assert.fail('accepted');
}

const ingress = (fields: Record<string, unknown>) => ({ location: 'x', properties: { configuration: { ingress: fields } } });

test('a typo of clientCertificateMode is refused, naming the path and the nearest known name', () => {
  const error = rejects(ingress({ clientCertMode: 'require' }));
  assert.equal(error.code, 'InvalidRequestContent');
  assert.equal(error.target, 'properties.configuration.ingress.clientCertMode');
  assert.match(error.message, /Did you mean 'properties\.configuration\.ingress\.clientCertificateMode'\?/);
});

test('unknown members anywhere are refused', () => {
  assert.equal(rejects({ location: 'x', propertys: {} }).target, 'propertys');
  assert.match(rejects({ location: 'x', propertys: {} }).message, /Did you mean 'properties'/);
  assert.equal(rejects(ingress({ customDomains: [{ name: 'a', certificatId: 'c' }] })).target, 'properties.configuration.ingress.customDomains[0].certificatId');
  assert.equal(rejects({ properties: { configuration: { ingres: {} } } }).target, 'properties.configuration.ingres');
});

test('clientCertificateMode in any casing is stored lower-case; other values list the allowed ones', () => {
  const body = validateBody<{ properties: { configuration: { ingress: { clientCertificateMode: string } } } }>(ingress({ clientCertificateMode: 'ReQuIrE' }), APP_SCHEMA);
  assert.equal(body.properties.configuration.ingress.clientCertificateMode, 'require');
  const error = rejects(ingress({ clientCertificateMode: 'required' }));
  assert.equal(error.target, 'properties.configuration.ingress.clientCertificateMode');
  assert.match(error.message, /'ignore', 'accept', 'require'/);
});

test('member names are matched case-insensitively and made canonical', () => {
  const body = validateBody<Record<string, unknown>>({ Location: 'x', Properties: { Configuration: { Ingress: { TargetPort: 80 } } } }, APP_SCHEMA);
  assert.deepEqual(body, { location: 'x', properties: { configuration: { ingress: { targetPort: 80 } } } });
  assert.match(rejects({ location: 'x', Location: 'y' }).message, /given twice/);
});

test('wrong types and ranges', () => {
  assert.match(rejects(ingress({ targetPort: '80' })).message, /must be of type integer/);
  assert.match(rejects(ingress({ targetPort: 70000 })).message, /must be <= 65535/);
  assert.match(rejects(ingress({ allowInsecure: 'yes' })).message, /boolean/);
  assert.match(rejects(ingress({ customDomains: [{}] })).message, /customDomains\[0\]\.name' is required/);
  assert.match(rejects({ location: 'x', tags: { a: 1 } }).message, /tags\.a' must be of type string/);
});

test('dropNulls removes null members deeply', () => {
  assert.deepEqual(dropNulls({ a: null, b: { c: null, d: 1 }, e: [null, { f: null }] }), { b: { d: 1 }, e: [null, {}] });
});

test('nearest names', () => {
  assert.equal(nearestName('clientCertMode', ['clientCertificateMode', 'corsPolicy', 'customDomains']), 'clientCertificateMode');
  assert.equal(nearestName('targetport', ['targetPort', 'exposedPort']), 'targetPort');
  assert.equal(nearestName('allowInsecur', ['allowInsecure']), 'allowInsecure');
  assert.equal(nearestName('zzzz', ['clientCertificateMode']), undefined);
});

test('ingress.hsts: maxAge required and bounded; preload needs a year and includeSubDomains', () => {
  const hsts = (value: unknown) => ingress({ hsts: value });
  validateBody(hsts({ maxAge: 0 }), APP_SCHEMA);
  validateBody(hsts({ maxAge: 31_536_000, includeSubDomains: true, preload: true }), APP_SCHEMA);
  assert.match(rejects(hsts({ includeSubDomains: true })).message, /'properties\.configuration\.ingress\.hsts\.maxAge' is required/);
  assert.match(rejects(hsts({ maxAge: 63_072_001 })).message, /hsts\.maxAge' must be <= 63072000/);
  assert.match(rejects(hsts({ maxAge: 86_400, includeSubDomains: true, preload: true })).message, /hsts\.maxAge' must be >= 31536000/);
  assert.match(rejects(hsts({ maxAge: 31_536_000, preload: true })).message, /hsts\.includeSubDomains' is required/);
  assert.match(rejects(hsts({ maxAge: 31_536_000, includeSubDomains: false, preload: true })).message, /must be true when preload is true/);
  assert.match(rejects(hsts({ maxAge: 1, maxage2: 1 })).message, /hsts\.maxage2' is not known/);
});

test('properties.certgate.stripHeaders: header-name tokens, at most 100', () => {
  const environment = (stripHeaders: unknown) => ({ location: 'x', properties: { certgate: { stripHeaders } } });
  validateBody(environment(['X-Tenant-Id', 'x_internal_user']), ENVIRONMENT_SCHEMA);
  const reject = (body: unknown) => {
    try {
      validateBody(body, ENVIRONMENT_SCHEMA);
    } catch (error) {
      return (error as Error).message;
    }
    return assert.fail('accepted');
  };
  assert.match(reject(environment(['X Tenant'])), /'properties\.certgate\.stripHeaders\[0\]' must match pattern/);
  assert.match(reject(environment(Array.from({ length: 101 }, (_, i) => `x-h${i}`))), /must NOT have more than 100 items/);
  assert.match(reject(environment('X-Tenant-Id')), /must be of type array/);
  assert.match(reject({ location: 'x', properties: { certgate: { stripHeader: [] } } }), /'properties\.certgate\.stripHeader' is not known/);
});
