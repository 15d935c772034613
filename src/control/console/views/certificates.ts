// Environment certificates: what each is (subject, issuer, expiry, thumbprint), which apps use it,
// and the upload form (PKCS12, or PEM trust material once its certificate types exist).
import { attr, html, csrfField, notice, time, type Node } from './layout.ts';
import { appHref } from './apps.ts';
import type { ApiError } from '../api.ts';

export interface CertificateSection {
  readonly environment: any;
  readonly certificates: readonly any[];
  readonly apps: readonly any[];
  /** The environment's managed (ACME) certificates; undefined on a server without them. */
  readonly managed?: readonly any[];
}

function managedState(certificate: any): Node {
  const state = String(certificate.properties?.provisioningState ?? '');
  if (state === 'Succeeded') return html`<span class="good">Issued</span>`;
  if (state === 'Failed') return html`<span class="bad">Failed: ${String(certificate.properties?.error ?? '')}</span>`;
  return html`<span class="warn">${state || 'Pending'}</span>`;
}

function managedTable(environment: any, managed: readonly any[], apps: readonly any[]): Node {
  if (managed.length === 0) return null;
  return html`<h3>Managed certificates</h3>
    <table>
      <caption class="visually-hidden">Managed certificates of environment ${environment.name}</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">Domain</th><th scope="col">State</th><th scope="col">Expires</th><th scope="col">Used by</th></tr></thead>
      <tbody>
        ${managed.map((certificate) => {
          const users = appsUsing(certificate, apps);
          return html`<tr>
            <th scope="row">${certificate.name}</th>
            <td><code>${String(certificate.properties?.subjectName ?? '')}</code></td>
            <td>${managedState(certificate)}</td>
            <td>${expiry(certificate)}</td>
            <td>${users.length === 0 ? html`<span class="muted">no app</span>` : html`<ul class="plain">${users.map((app) => html`<li><a href="${appHref(app.id)}">${app.name}</a></li>`)}</ul>`}</td>
          </tr>`;
        })}
      </tbody>
    </table>`;
}

/** ACA's ServerSSLCertificate (a PKCS12) and certgate's client-certificate trust material (PEM or DER). */
export const CERTIFICATE_TYPES = [
  { value: 'ServerSSLCertificate', label: 'Server certificate (PKCS12 with its key)' },
  { value: 'ClientCertificateTrustAnchor', label: 'Client certificate trust anchor (PEM or DER)' },
  { value: 'ClientCertificateIntermediate', label: 'Client certificate intermediate (PEM or DER)' },
  { value: 'ClientCertificateRevocationList', label: 'Certificate revocation list (PEM or DER)' },
] as const;

/** The apps whose ingress names the certificate (a custom domain's binding, a trust reference). */
export function appsUsing(certificate: any, apps: readonly any[]): any[] {
  const id = String(certificate.id).toLowerCase();
  return apps.filter((app) => JSON.stringify(app.properties?.configuration?.ingress ?? {}).toLowerCase().includes(id));
}

function expiry(certificate: any): Node {
  const at = certificate.properties?.expirationDate;
  const ms = Date.parse(String(at));
  if (Number.isNaN(ms)) return '—';
  const days = Math.floor((ms - Date.now()) / 86_400_000);
  const note = days < 0 ? html`<span class="bad">expired</span>` : days <= 30 ? html`<span class="warn">in ${days} days</span>` : html`<span class="muted">in ${days} days</span>`;
  return html`${time(at)} ${note}`;
}

export function certificatesView(sections: readonly CertificateSection[]): Node {
  if (sections.length === 0) return notice('info', 'No environments yet.');
  return sections.map(
    ({ environment, certificates, apps, managed }) => html`<section class="card" aria-labelledby="certs-${environment.name}">
      <h2 id="certs-${environment.name}">Environment <span class="name">${environment.name}</span></h2>
      ${certificates.length === 0
        ? html`<p>No certificates in this environment.</p>`
        : html`<table>
            <caption class="visually-hidden">Certificates of environment ${environment.name}</caption>
            <thead><tr><th scope="col">Name</th><th scope="col">Subject</th><th scope="col">Issuer</th><th scope="col">Type</th><th scope="col">Expires</th><th scope="col">Thumbprint (SHA-1)</th><th scope="col">Used by</th></tr></thead>
            <tbody>
              ${certificates.map((certificate) => {
                const users = appsUsing(certificate, apps);
                return html`<tr>
                  <th scope="row">${certificate.name}</th>
                  <td class="subject">${String(certificate.properties?.subjectName ?? '')}</td>
                  <td>${String(certificate.properties?.issuer ?? '')}</td>
                  <td>${String(certificate.properties?.certificateType ?? '')}</td>
                  <td>${expiry(certificate)}</td>
                  <td><code class="thumb">${String(certificate.properties?.thumbprint ?? '')}</code></td>
                  <td>${users.length === 0 ? html`<span class="muted">no app</span>` : html`<ul class="plain">${users.map((app) => html`<li><a href="${appHref(app.id)}">${app.name}</a></li>`)}</ul>`}</td>
                </tr>`;
              })}
            </tbody>
          </table>`}
      ${managedTable(environment, managed ?? [], apps)}
    </section>`,
  );
}

export interface UploadFormOptions {
  readonly environments: readonly any[];
  readonly csrfToken: string;
  readonly error?: ApiError;
  readonly uploaded?: string;
  readonly values?: { environment?: string; name?: string; certificateType?: string };
}

/** Which field an API error belongs next to (its target), else the form as a whole. */
function fieldOf(error: ApiError | undefined): 'name' | 'file' | 'password' | 'type' | 'form' | undefined {
  if (!error) return undefined;
  const target = error.target ?? '';
  if (/password/i.test(target)) return 'password';
  if (/value/i.test(target)) return 'file';
  if (/certificateType/i.test(target)) return 'type';
  if (target === 'name') return 'name';
  return 'form';
}

export function uploadForm({ environments, csrfToken, error, uploaded, values = {} }: UploadFormOptions): Node {
  if (environments.length === 0) return null;
  const at = fieldOf(error);
  const message = (field: string) =>
    at === field && error && html`<p id="${field}-error" class="error-text" role="alert">${error.message} <span class="muted">(${error.code})</span></p>`;
  const described = (field: string, help?: string) => [help, at === field ? `${field}-error` : undefined].filter(Boolean).join(' ') || undefined;
  return html`<form method="post" action="/console/certificates" enctype="multipart/form-data" class="card" aria-labelledby="upload-title" novalidate>
    <h2 id="upload-title">Upload a certificate</h2>
    ${uploaded && notice('ok', `Uploaded certificate '${uploaded}'.`)}
    ${at === 'form' && error && notice('error', `${error.message} (${error.code})`)}
    ${csrfField(csrfToken)}
    <div class="field">
      <label for="upload-environment">Environment</label>
      <select id="upload-environment" name="environment">
        ${environments.map((environment) => html`<option value="${environment.id}" ${attr({ selected: environment.id === values.environment })}>${environment.name}</option>`)}
      </select>
    </div>
    <div class="${at === 'name' ? 'field invalid' : 'field'}">
      <label for="upload-name">Certificate name</label>
      <input id="upload-name" name="name" type="text" required maxlength="260" spellcheck="false" value="${values.name ?? ''}" ${attr({ 'aria-describedby': described('name'), 'aria-invalid': at === 'name' ? 'true' : undefined })}>
      ${message('name')}
    </div>
    <div class="${at === 'type' ? 'field invalid' : 'field'}">
      <label for="upload-type">Certificate type</label>
      <select id="upload-type" name="certificateType" ${attr({ 'aria-describedby': described('type') })}>
        ${CERTIFICATE_TYPES.map((type) => html`<option value="${type.value}" ${attr({ selected: type.value === values.certificateType })}>${type.label}</option>`)}
      </select>
      ${message('type')}
    </div>
    <div class="${at === 'file' ? 'field invalid' : 'field'}">
      <label for="upload-file">File (.pfx, .p12, .pem, .cer, .crl)</label>
      <input id="upload-file" name="file" type="file" required accept=".pfx,.p12,.pem,.crt,.cer,.der,.crl" ${attr({ 'aria-describedby': described('file'), 'aria-invalid': at === 'file' ? 'true' : undefined })}>
      ${message('file')}
    </div>
    <div class="${at === 'password' ? 'field invalid' : 'field'}">
      <label for="upload-password">PKCS12 password</label>
      <input id="upload-password" name="password" type="password" autocomplete="off" maxlength="256" ${attr({ 'aria-describedby': described('password', 'password-help'), 'aria-invalid': at === 'password' ? 'true' : undefined })}>
      <p id="password-help" class="help">Only for a PKCS12; kept with the certificate's secret and never shown again.</p>
      ${message('password')}
    </div>
    <button type="submit">Upload</button>
  </form>`;
}
