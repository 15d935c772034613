// Parses a fetched CRL and checks its signature off the main thread: a CA's CRL of 10,000 serials
// takes seconds of pkijs work on a loaded machine, which on the event loop would stall every
// connection of the process (revocation/checker.ts starts one such worker per fetched CRL).
import { X509Certificate } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { compileCrl } from '../../app-auth/crl.ts';
import { describeCertificate } from '../../pki/facts.ts';

export interface CrlParseRequest {
  /** DER, or PEM text. */
  readonly crl: Uint8Array | string;
  /** DER of the issuer the CRL must be signed by. */
  readonly issuer: Uint8Array;
}

export type CrlParseResult =
  | { readonly ok: true; readonly thisUpdate: number; readonly nextUpdate: number | undefined; readonly revoked: ReadonlyMap<string, { date: number; reason: string | undefined }> }
  | { readonly ok: false; readonly error: string };

export function parseCrl({ crl, issuer }: CrlParseRequest): CrlParseResult {
  try {
    const compiled = compileCrl(crl, 0);
    const info = describeCertificate(new X509Certificate(issuer));
    if (typeof info === 'string') return { ok: false, error: `the issuer cannot be read: ${info}` };
    const names = compiled.issuerDer === info.subjectDer && (compiled.authorityKeyId === undefined || info.subjectKeyId === undefined || compiled.authorityKeyId === info.subjectKeyId);
    if (!names || !compiled.signedBy(info)) return { ok: false, error: `the CRL's issuer is not "${info.subject}" or its signature does not verify with its key` };
    return { ok: true, thisUpdate: compiled.thisUpdate, nextUpdate: compiled.nextUpdate, revoked: compiled.revoked };
  } catch (error) {
    return { ok: false, error: (error as Error).message.replace(/^crls\[0\]: /, '') };
  }
}

parentPort?.postMessage(parseCrl(workerData as CrlParseRequest));
