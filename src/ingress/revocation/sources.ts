// Where a certificate says its revocation status is published (pure): the http URLs of its CRL
// distribution points (RFC 5280 4.2.1.13) and of the OCSP responders in its Authority Information
// Access (4.2.2.1), read with pkijs. Other schemes (ldap, https) are skipped: only http is fetched.
import type { X509Certificate } from 'node:crypto';
import * as pkijs from 'pkijs';

const CRL_DISTRIBUTION_POINTS = '2.5.29.31';
const AUTHORITY_INFO_ACCESS = '1.3.6.1.5.5.7.1.1';
const OCSP_METHOD = '1.3.6.1.5.5.7.48.1';
const URI_NAME = 6;
/** Only the first URLs of each kind are tried (a hostile certificate could name hundreds): with the 5 s timeout, a connection waits at most 10 s per certificate. */
const MAX_URLS = 2;

export interface RevocationSources {
  readonly crl: readonly string[];
  readonly ocsp: readonly string[];
}

const isHttp = (url: unknown): url is string => typeof url === 'string' && url.toLowerCase().startsWith('http://');

export function revocationSources(certificate: X509Certificate): RevocationSources {
  const parsed = pkijs.Certificate.fromBER(certificate.raw);
  const crl: string[] = [];
  const ocsp: string[] = [];
  for (const extension of parsed.extensions ?? []) {
    if (extension.extnID === CRL_DISTRIBUTION_POINTS && extension.parsedValue instanceof pkijs.CRLDistributionPoints) {
      for (const point of extension.parsedValue.distributionPoints) {
        // A point limited to some reasons, or with its own CRL issuer, is a partial CRL: not used.
        if (point.reasons !== undefined || point.cRLIssuer !== undefined || !Array.isArray(point.distributionPoint)) continue;
        for (const name of point.distributionPoint) if (name.type === URI_NAME && isHttp(name.value)) crl.push(name.value);
      }
    } else if (extension.extnID === AUTHORITY_INFO_ACCESS && extension.parsedValue instanceof pkijs.InfoAccess) {
      for (const access of extension.parsedValue.accessDescriptions) {
        if (access.accessMethod === OCSP_METHOD && access.accessLocation.type === URI_NAME && isHttp(access.accessLocation.value)) ocsp.push(access.accessLocation.value);
      }
    }
  }
  return Object.freeze({ crl: Object.freeze(crl.slice(0, MAX_URLS)), ocsp: Object.freeze(ocsp.slice(0, MAX_URLS)) });
}
