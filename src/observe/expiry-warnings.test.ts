import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CERTIFICATE_TYPE } from '../model/resources.ts';
import { SqliteStore } from '../store/sqlite.ts';
import { expiringCertificates } from './expiry-warnings.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2026-12-01T00:00:00Z');

test('expiry warnings: uploaded server certificates and client certificates seen within 30 days, soonest first', async () => {
  const store = new SqliteStore(':memory:');
  const env = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/env1';
  const put = async (name: string, days: number) =>
    store.put({ id: `${env}/certificates/${name}`, name, type: CERTIFICATE_TYPE, properties: { expirationDate: new Date(NOW + days * DAY).toISOString(), thumbprintSha256: name, subjectName: `CN=${name}` } });
  await put('soon', 10);
  await put('later', 90);
  const seen = (thumbprint: string, days: number) => ({
    app: '/subscriptions/s/resourcegroups/rg/providers/microsoft.app/containerapps/a',
    thumbprint,
    subject: `CN=${thumbprint}`,
    issuer: 'CN=ca',
    serialNumber: '01',
    subjectAlternativeNames: [],
    notBefore: new Date(NOW - DAY).toISOString(),
    notAfter: new Date(NOW + days * DAY).toISOString(),
    firstSeen: new Date(NOW).toISOString(),
    lastSeen: new Date(NOW).toISOString(),
    connectionCount: 1,
    lastVerdict: 'UNVERIFIED',
  });
  await store.inventory.recordBatch([seen('aa', 3), seen('bb', 400), seen('cc', -2)]);
  const warnings = await expiringCertificates(store, NOW);
  assert.deepEqual(
    warnings.map((warning) => [warning.kind, warning.thumbprint, warning.daysLeft]),
    [
      ['client', 'cc', -2],
      ['client', 'aa', 3],
      ['server', 'soon', 10],
    ],
  );
  await store.close();
});
