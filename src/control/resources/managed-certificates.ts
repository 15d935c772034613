// Microsoft.App/managedEnvironments/managedCertificates: a certificate certgate obtains itself from
// the ACME directory `certgate serve --acme-directory` names, for one custom domain. A PUT stores it
// `Pending` and is answered at once (ARM's long-running shape: az polls the resource until
// provisioningState is terminal); the issuer (src/control/acme/issuer.ts) then answers the HTTP-01
// challenge on the plain-HTTP port, and sets `Succeeded` with the certificate, or `Failed` with
// `error`. The key and chain are the resource's secret, never returned.
import { normalizeHostname } from '../../model/hostnames.ts';
import { ACME_CHALLENGE_MEMBER, MANAGED_CERTIFICATE_TYPE } from '../../model/resources.ts';
import { errors } from '../arm/errors.ts';
import { MANAGED_CERTIFICATE_SCHEMA } from '../validation/schemas.ts';
import { certificateKind } from './certificates.ts';
import { renderTracked } from './render.ts';
import type { ResourceKind } from './tracked.ts';

export type ManagedCertificateState = 'Pending' | 'Succeeded' | 'Failed';

const AT = 'properties';

export const managedCertificateKind: ResourceKind = {
  type: MANAGED_CERTIFICATE_TYPE,
  schema: MANAGED_CERTIFICATE_SCHEMA,
  readOnlyProperties: ['provisioningState', 'validationToken', 'error', 'issueDate', 'expirationDate', 'thumbprint', ACME_CHALLENGE_MEMBER],
  patchable: ['tags'],
  prepare(context, id, name, body, current) {
    if (!context.acme) {
      throw errors.invalidParameter('certgate obtains managed certificates from an ACME directory, and none is configured: start certgate serve with --acme-directory <url>.', `${AT}.subjectName`);
    }
    const given = body.properties?.['subjectName'];
    if (typeof given !== 'string' || given === '') throw errors.invalidContent(`The property '${AT}.subjectName' (the custom domain) is required.`, `${AT}.subjectName`);
    const subjectName = normalizeHostname(given);
    if (!subjectName || !subjectName.includes('.')) {
      throw errors.invalidParameter(`'${given}' is not a domain name a managed certificate can be issued for (DNS labels, two or more; no wildcard).`, `${AT}.subjectName`);
    }
    const validation = String(body.properties?.['domainControlValidation'] ?? 'HTTP');
    if (validation.toUpperCase() !== 'HTTP') {
      // TXT needs a DNS provider certgate cannot drive (nor test); CNAME validation is ACA's own, not ACME's.
      throw errors.invalidParameter(`domainControlValidation '${validation}' is not supported: certgate proves control of the domain with ACME HTTP-01 on its plain-HTTP port; use 'HTTP'.`, `${AT}.domainControlValidation`);
    }
    const same = current !== undefined && current.properties['subjectName'] === subjectName;
    // A PUT of the same name keeps what was issued (az sends the resource again); a new name starts over.
    const kept = same ? current.properties : {};
    return {
      doc: {
        ...body,
        id: current?.id ?? id,
        name: current?.name ?? name,
        type: MANAGED_CERTIFICATE_TYPE,
        properties: {
          ...kept,
          subjectName,
          domainControlValidation: 'HTTP',
          provisioningState: same && kept['provisioningState'] === 'Succeeded' ? 'Succeeded' : 'Pending',
          ...(same && kept['provisioningState'] === 'Succeeded' ? {} : { error: undefined }),
        },
      },
    };
  },
  render(_context, doc) {
    const { [ACME_CHALLENGE_MEMBER]: _challenge, ...properties } = doc.properties;
    return renderTracked(doc, properties);
  },
  checkDelete: certificateKind.checkDelete!,
};
