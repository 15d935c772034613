// OCSP (RFC 6960) request and response, built and read with pkijs: the request names one
// certificate by its issuer's name and key hashes; the response must be signed by the issuer or by
// a responder the issuer delegated to (its certificate issued by the issuer, with the OCSP-signing
// EKU), answer for that certificate, and be current. Pure apart from WebCrypto hashing (async).
import type { X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { RevocationStatus } from './status.ts';

const BASIC_RESPONSE = '1.3.6.1.5.5.7.48.1.1';
/** A response with no nextUpdate ("newer information is always available") is reused this long. */
export const OCSP_NO_NEXT_UPDATE_TTL_MS = 60_000;
/** Clock skew tolerated on thisUpdate. */
const SKEW_MS = 5 * 60_000;

export async function ocspRequest(certificate: X509Certificate, issuer: X509Certificate): Promise<Uint8Array> {
  const request = new pkijs.OCSPRequest();
  await request.createForCertificate(pkijs.Certificate.fromBER(certificate.raw), { hashAlgorithm: 'SHA-1', issuerCertificate: pkijs.Certificate.fromBER(issuer.raw) });
  return new Uint8Array(request.toSchema(true).toBER(false));
}

/** Reads a responder's answer for `certificate`; a response that cannot be trusted is `unknown`, with why. */
export async function ocspStatus(der: Uint8Array, certificate: X509Certificate, issuer: X509Certificate, now: number): Promise<RevocationStatus> {
  const unknown = (detail: string): RevocationStatus => ({ state: 'unknown', until: 0, detail: `OCSP: ${detail}` });
  let basic: pkijs.BasicOCSPResponse;
  try {
    const parsed = asn1js.fromBER(der);
    if (parsed.offset === -1) return unknown('the response is not DER');
    const response = new pkijs.OCSPResponse({ schema: parsed.result });
    const status = response.responseStatus.valueBlock.valueDec;
    if (status !== 0) return unknown(`the responder answered status ${status} (not successful)`);
    if (response.responseBytes?.responseType !== BASIC_RESPONSE) return unknown('not a basic OCSP response');
    basic = pkijs.BasicOCSPResponse.fromBER(response.responseBytes.response.valueBlock.valueHexView);
  } catch (error) {
    return unknown(`unreadable response: ${(error as Error).message}`);
  }
  const leaf = pkijs.Certificate.fromBER(certificate.raw);
  const ca = pkijs.Certificate.fromBER(issuer.raw);
  // A responder signing as the CA itself may send no certificate: the issuer is then the signer.
  if (!basic.certs || basic.certs.length === 0) basic.certs = [ca];
  try {
    if (!(await basic.verify({ trustedCerts: [ca], issuerCerts: [ca] }))) return unknown('the signature does not verify');
  } catch (error) {
    return unknown(`the responder is not trusted: ${(error as Error).message}`);
  }
  const single = await findResponse(basic, leaf, ca);
  if (single === undefined) return unknown('the response does not answer for this certificate');
  const thisUpdate = single.thisUpdate.getTime();
  const nextUpdate = single.nextUpdate?.getTime();
  if (thisUpdate > now + SKEW_MS) return unknown('thisUpdate is in the future');
  if (nextUpdate !== undefined && nextUpdate < now) return unknown(`stale: nextUpdate ${new Date(nextUpdate).toISOString()} has passed`);
  const until = nextUpdate ?? now + OCSP_NO_NEXT_UPDATE_TTL_MS;
  const tag = single.certStatus.idBlock.tagNumber;
  if (tag === 0) return { state: 'good', until, detail: 'OCSP: good' };
  if (tag === 1) return { state: 'revoked', until, detail: `OCSP: revoked${revocationTime(single)}` };
  return unknown('the responder does not know the certificate');
}

async function findResponse(basic: pkijs.BasicOCSPResponse, leaf: pkijs.Certificate, ca: pkijs.Certificate): Promise<pkijs.SingleResponse | undefined> {
  for (const single of basic.tbsResponseData.responses) {
    const id = single.certID;
    if (!id.serialNumber.isEqual(leaf.serialNumber)) continue;
    const expected = new pkijs.CertID();
    try {
      await expected.createForCertificate(leaf, { hashAlgorithm: id.hashAlgorithm.algorithmId === '1.3.14.3.2.26' ? 'SHA-1' : 'SHA-256', issuerCertificate: ca });
    } catch {
      continue;
    }
    if (expected.isEqual(id)) return single;
  }
  return undefined;
}

function revocationTime(single: pkijs.SingleResponse): string {
  const info = single.certStatus as unknown as { valueBlock?: { value?: { toDate?: () => Date }[] } };
  const first = info.valueBlock?.value?.[0];
  return typeof first?.toDate === 'function' ? ` at ${first.toDate().toISOString()}` : '';
}
