// The request target (RFC 9112 3.2), checked and turned into the origin form the app gets (pure).
// An absolute-form target names its own host, and RFC 9112 3.2.2 says a server uses it instead of
// Host: an app that follows the RFC (Go's net/http does) would serve `GET https://other-app/admin`
// as a request for other-app, made on a connection admitted under this app's certificate policy.
import { hostFromAuthority } from '../../model/hostnames.ts';
import type { IngressReason } from '../reasons.ts';

export type RequestTarget =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly status: 400 | 421; readonly message: string; readonly reason: IngressReason };

const ABSOLUTE_FORM = /^(https?):\/\/([^/?#]*)([^#]*)$/i;

/**
 * @param target the request-target as received (`req.url`)
 * @param host the host the request was admitted for (from Host or :authority), lower case
 */
export function originFormTarget(method: string, target: string, host: string | undefined): RequestTarget {
  if (target.charCodeAt(0) === 47 /* '/' */) return { ok: true, path: target };
  if (target === '*') {
    return method === 'OPTIONS'
      ? { ok: true, path: target }
      : { ok: false, status: 400, message: 'the asterisk-form target is allowed only for OPTIONS (bad_request_target)', reason: 'bad_request_target' };
  }
  const match = ABSOLUTE_FORM.exec(target);
  if (!match) return { ok: false, status: 400, message: 'the request target is not in origin or absolute form (bad_request_target)', reason: 'bad_request_target' };
  const authority = match[2]!;
  const named = authority.includes('@') ? undefined : hostFromAuthority(authority);
  if (named === undefined) return { ok: false, status: 400, message: 'the request target names no valid host (bad_request_target)', reason: 'bad_request_target' };
  if (named !== host) {
    return { ok: false, status: 421, message: `the request target names ${named}, not ${host ?? 'the host of this request'} (misdirected_target)`, reason: 'misdirected_target' };
  }
  const rest = match[3]!;
  return { ok: true, path: rest === '' ? '/' : rest.charCodeAt(0) === 63 /* '?' */ ? `/${rest}` : rest };
}
