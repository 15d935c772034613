// Every client-controlled string on every page is text: hostile names, subjects, SANs, reasons and
// host names, in element content and in attribute values, come out escaped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderPage } from './layout.ts';
import { appView, environmentsView } from './apps.ts';
import { certificatesView, uploadForm } from './certificates.ts';
import { gatewayView, inventoryForm, inventoryTable, refusalsView } from './observe.ts';

const EVIL = `"'><script>alert(1)</script><img src=x onerror=alert(2)>`;
const certificateId = () => `/e/${EVIL}/certificates/c`;
const app = {
  id: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/containerApps/${EVIL}`,
  name: EVIL,
  systemData: { lastModifiedAt: '2026-01-01T00:00:00Z', lastModifiedBy: EVIL },
  properties: {
    managedEnvironmentId: `/x/${EVIL}`,
    provisioningState: 'Failed',
    deploymentErrors: EVIL,
    configuration: { ingress: { fqdn: EVIL, clientCertificateMode: EVIL, customDomains: [{ name: EVIL, bindingType: EVIL }], clientCertificateTrustAnchors: [certificateId()], clientCertificateAllow: { subjects: [EVIL] } } },
  },
};
const environment = { id: `/e/${EVIL}`, name: EVIL, properties: { defaultDomain: EVIL, customDomainConfiguration: { dnsSuffix: EVIL } } };
const certificate = { id: `/e/${EVIL}/certificates/c`, name: EVIL, properties: { subjectName: EVIL, issuer: EVIL, certificateType: EVIL, thumbprint: EVIL, expirationDate: '2030-01-01T00:00:00Z' } };
const seen = { name: EVIL, properties: { thumbprint: EVIL, subject: EVIL, issuer: EVIL, subjectAlternativeNames: [EVIL], lastVerdict: EVIL, connectionCount: EVIL } };

const pages = {
  environments: environmentsView([{ environment, apps: [app] }]),
  app: appView({
    app,
    csrfToken: EVIL,
    saved: true,
    error: { code: EVIL, message: EVIL, target: EVIL },
    submitted: EVIL,
    certificates: [{ ...certificate, properties: { ...certificate.properties, certificateType: 'ClientCertificateTrustAnchor' } }],
    verificationError: { code: EVIL, message: EVIL, target: EVIL },
  }),
  certificates: [certificatesView([{ environment, certificates: [certificate], apps: [app], managed: [{ id: `/e/${EVIL}/managedCertificates/m`, name: EVIL, properties: { subjectName: EVIL, provisioningState: 'Failed', error: EVIL } }] }]), uploadForm({ environments: [environment], csrfToken: EVIL, error: { code: EVIL, message: EVIL, target: 'properties.password' }, values: { environment: EVIL, name: EVIL, certificateType: EVIL } })],
  inventory: [inventoryForm([app], { app: app.id, search: EVIL, expiringWithinDays: EVIL }), inventoryTable([seen], `/console/inventory?${EVIL}`)],
  refusals: refusalsView([{ time: EVIL, app: EVIL, host: EVIL, reason: EVIL, verdict: EVIL, thumbprint: EVIL, subject: EVIL, clientAddress: EVIL }]),
  gateway: gatewayView({ revision: EVIL, ready: EVIL, workers: EVIL, replicas: [{ name: EVIL, revision: EVIL, lastHeartbeat: EVIL, live: EVIL }] }),
};

for (const [name, body] of Object.entries(pages)) {
  test(`the ${name} page shows hostile strings as text`, () => {
    const out = renderPage({ title: EVIL, current: '/console/environments', csrfToken: EVIL, signedInAs: EVIL }, body);
    assert.doesNotMatch(out, /<script|<img|onerror=alert\(2\)>/i);
    assert.ok(out.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the string is there, escaped');
    // Attribute values cannot be closed early: no raw quote survives inside an interpolated value.
    assert.ok(!out.includes(`"'>`), 'no quote breaks out of an attribute');
  });
}
