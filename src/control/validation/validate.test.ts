import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArmError } from '../arm/errors.ts';
import { APP_SCHEMA } from './schemas.ts';
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
