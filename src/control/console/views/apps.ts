// Environments with their apps, and one app's page with the client-certificate mode form.
import { attr, html, csrfField, notice, time, type Node } from './layout.ts';
import type { ApiError } from '../api.ts';
import { VERIFICATION_MEMBERS } from '../../../model/ingress.ts';

export interface EnvironmentRow {
  readonly environment: any;
  readonly apps: readonly any[];
}

export const MODES = ['ignore', 'accept', 'require'] as const;

export function appHref(id: string): string {
  return `/console/app?id=${encodeURIComponent(id)}`;
}

function ingressOf(app: any): Record<string, any> | undefined {
  return app?.properties?.configuration?.ingress;
}

function modeOf(app: any): string {
  const ingress = ingressOf(app);
  if (!ingress) return 'no ingress';
  return String(ingress.clientCertificateMode ?? 'ignore');
}


/** The app's verification policy, shown as JSON text. */
function verificationOf(app: any): Node {
  const ingress = ingressOf(app) ?? {};
  const members = Object.entries(ingress).filter(([name]) => (VERIFICATION_MEMBERS as readonly string[]).includes(name));
  if (members.length === 0) return html`<span class="muted">none</span>`;
  return html`<code class="json">${JSON.stringify(Object.fromEntries(members))}</code>`;
}

function hostNames(app: any): Node {
  const ingress = ingressOf(app);
  if (!ingress) return '—';
  const domains = (ingress.customDomains as any[] | undefined) ?? [];
  return html`<ul class="plain">
    ${ingress.fqdn && html`<li><code>${String(ingress.fqdn)}</code></li>`}
    ${domains.map((domain) => html`<li><code>${String(domain?.name ?? '')}</code> <span class="muted">(custom domain, ${String(domain?.bindingType ?? 'SniEnabled')})</span></li>`)}
  </ul>`;
}

/** The last change's status: enforced, or the error the ingress reported for it. */
function status(resource: any): Node {
  const state = resource?.properties?.provisioningState;
  if (state === 'Failed') return html`<span class="bad">Not enforced: ${String(resource.properties.deploymentErrors ?? 'failed')}</span>`;
  return html`<span class="good">Enforced</span>`;
}

/** The filter above the environments: apps of one client-certificate mode only. */
function modeFilter(mode: string | undefined): Node {
  return html`<form method="get" action="/console/environments" class="card search" role="search" aria-label="Apps">
    <div class="field">
      <label for="filter-mode">Show apps with client certificate mode</label>
      <select id="filter-mode" name="mode">
        <option value=""${attr({ selected: mode === undefined })}>any</option>
        ${[...MODES, 'no ingress'].map((value) => html`<option value="${value}"${attr({ selected: value === mode })}>${value}</option>`)}
      </select>
    </div>
    <button type="submit">Show</button>
  </form>`;
}

export function environmentsView(all: readonly EnvironmentRow[], mode?: string): Node {
  if (all.length === 0) return notice('info', 'No environments yet. Create one with az containerapp env create or the management API.');
  const rows = mode === undefined ? all : all.map((row) => ({ ...row, apps: row.apps.filter((app) => modeOf(app) === mode) }));
  return [modeFilter(mode), ...rows.map(
    ({ environment, apps }) => html`<section class="card" aria-labelledby="env-${environment.name}">
      <h2 id="env-${environment.name}">Environment <span class="name">${environment.name}</span></h2>
      <p class="muted">Resource group <code>${resourceGroupOf(environment.id)}</code> · default domain <code>${String(environment.properties?.defaultDomain ?? '')}</code>${environment.properties?.customDomainConfiguration?.dnsSuffix ? html` · custom domain suffix <code>${String(environment.properties.customDomainConfiguration.dnsSuffix)}</code>` : ''} · ${status(environment)}</p>
      ${apps.length === 0
        ? html`<p>No apps${mode === undefined ? '' : ` with mode ${mode}`} in this environment.</p>`
        : html`<table>
            <caption class="visually-hidden">Apps in environment ${environment.name}</caption>
            <thead><tr><th scope="col">App</th><th scope="col">Client certificate mode</th><th scope="col">Verification policy</th><th scope="col">Host names</th><th scope="col">Last change</th></tr></thead>
            <tbody>
              ${apps.map(
                (app) => html`<tr>
                  <th scope="row"><a href="${appHref(app.id)}">${app.name}</a></th>
                  <td><span class="mode mode-${modeOf(app).replace(/ /g, '-')}">${modeOf(app)}</span></td>
                  <td>${verificationOf(app)}</td>
                  <td>${hostNames(app)}</td>
                  <td>${status(app)}<br>${time(app.systemData?.lastModifiedAt)}</td>
                </tr>`,
              )}
            </tbody>
          </table>`}
    </section>`,
  )];
}

function resourceGroupOf(id: string): string {
  return /\/resourceGroups\/([^/]+)/i.exec(id)?.[1] ?? '';
}

export interface AppViewOptions {
  readonly app: any;
  readonly csrfToken: string;
  /** The mode change just saved (the message names the mode the app now has). */
  readonly saved?: boolean;
  /** The API's refusal of the last submitted mode, shown next to the field. */
  readonly error?: ApiError;
  readonly submitted?: string;
  /** The environment's certificates, for the verification policy's choices. */
  readonly certificates?: readonly any[];
  readonly verificationSaved?: boolean;
  readonly verificationError?: ApiError;
}

export function appView({ app, csrfToken, saved, error, submitted, certificates = [], verificationSaved, verificationError }: AppViewOptions): Node {
  const ingress = ingressOf(app);
  const current = submitted ?? modeOf(app);
  const described = error ? 'mode-help mode-error' : 'mode-help';
  return html`<section class="card" aria-labelledby="app-facts">
      <h2 id="app-facts">App <span class="name">${app.name}</span></h2>
      <dl class="facts">
        <dt>Environment</dt><dd><code>${String(app.properties?.managedEnvironmentId ?? '').split('/').pop()}</code></dd>
        <dt>Host names</dt><dd>${hostNames(app)}</dd>
        <dt>Client certificate mode</dt><dd>${modeOf(app)}</dd>
        <dt>Verification policy</dt><dd>${verificationOf(app)}</dd>
        <dt>Last change</dt><dd>${status(app)} (${time(app.systemData?.lastModifiedAt)}${app.systemData?.lastModifiedBy ? ` by ${String(app.systemData.lastModifiedBy)}` : ''})</dd>
      </dl>
    </section>
    ${ingress
      ? html`<form method="post" action="/console/app/mode" class="card" aria-labelledby="mode-title" novalidate>
          <h2 id="mode-title">Change the client certificate mode</h2>
          ${saved && notice('ok', `Saved: the ingress enforces clientCertificateMode '${modeOf(app)}'.`)}
          ${csrfField(csrfToken)}
          <input type="hidden" name="id" value="${app.id}">
          <div class="${error ? 'field invalid' : 'field'}">
            <label for="mode">Client certificate mode</label>
            <select id="mode" name="clientCertificateMode" aria-describedby="${described}"${attr({ 'aria-invalid': error ? 'true' : undefined })}>
              ${MODES.map((mode) => html`<option value="${mode}" ${attr({ selected: mode === current })}>${mode}</option>`)}
            </select>
            <p id="mode-help" class="help">ignore: no certificate asked; accept: asked, optional; require: the handshake fails without one.</p>
            ${error && html`<p id="mode-error" class="error-text" role="alert">${error.message} <span class="muted">(${error.code}${error.target ? `, ${error.target}` : ''})</span></p>`}
          </div>
          <button type="submit">Save mode</button>
        </form>
        ${verificationForm(app, certificates, csrfToken, verificationSaved, verificationError)}`
      : notice('info', 'This app has no ingress, so it has no client certificate mode.')}`;
}

const TRUST_CHOICES = [
  { member: 'clientCertificateTrustAnchors', field: 'anchors', type: 'ClientCertificateTrustAnchor', legend: 'Trust anchors' },
  { member: 'clientCertificateIntermediates', field: 'intermediates', type: 'ClientCertificateIntermediate', legend: 'Intermediates' },
  { member: 'clientCertificateRevocationLists', field: 'crls', type: 'ClientCertificateRevocationList', legend: 'Revocation lists' },
] as const;

export const ALLOW_LISTS = [
  { key: 'thumbprints', field: 'allowThumbprints', label: 'Allowed thumbprints (SHA-256 hex, one a line)' },
  { key: 'spkiSha256', field: 'allowSpki', label: 'Allowed public keys (SPKI SHA-256, one a line)' },
  { key: 'subjects', field: 'allowSubjects', label: 'Allowed subjects (one a line)' },
  { key: 'sans', field: 'allowSans', label: 'Allowed subject alternative names (one a line)' },
] as const;

/** Which field of the verification form an API error's JSON path names. */
function verificationFieldOf(error: ApiError | undefined): string | undefined {
  if (!error) return undefined;
  const target = error.target ?? '';
  for (const choice of TRUST_CHOICES) if (target.includes(choice.member)) return choice.field;
  for (const list of ALLOW_LISTS) if (target.includes(`clientCertificateAllow.${list.key}`)) return list.field;
  if (target.includes('clientCertificateValidationMode')) return 'validationMode';
  return 'verification';
}

/** The verification policy: the environment's trust material to use, the validation mode, and allow-lists. */
function verificationForm(app: any, certificates: readonly any[], csrfToken: string, saved: boolean | undefined, error: ApiError | undefined): Node {
  const ingress = ingressOf(app) ?? {};
  const at = verificationFieldOf(error);
  const errorText = (field: string) =>
    at === field && error && html`<p id="${field}-error" class="error-text" role="alert">${error.message} <span class="muted">(${error.code}${error.target ? `, ${error.target}` : ''})</span></p>`;
  const chosen = (member: string) => new Set(((ingress[member] as unknown[] | undefined) ?? []).map((id) => String(id).toLowerCase()));
  const allow = (ingress['clientCertificateAllow'] ?? {}) as Record<string, unknown>;
  return html`<form method="post" action="/console/app/verification" class="card" aria-labelledby="verification-title" novalidate>
    <h2 id="verification-title">Verification policy</h2>
    <p class="help">With mode accept or require, the ingress verifies the client's chain against these anchors and lists (certgate extension).</p>
    ${saved && notice('ok', 'Saved: the ingress enforces the verification policy.')}
    ${errorText('verification')}
    ${csrfField(csrfToken)}
    <input type="hidden" name="id" value="${app.id}">
    ${TRUST_CHOICES.map((choice) => {
      const offered = certificates.filter((certificate) => String(certificate.properties?.certificateType ?? '').toLowerCase() === choice.type.toLowerCase());
      const selected = chosen(choice.member);
      return html`<fieldset class="${at === choice.field ? 'field invalid' : 'field'}"${attr({ 'aria-describedby': at === choice.field ? `${choice.field}-error` : undefined })}>
        <legend>${choice.legend}</legend>
        ${offered.length === 0
          ? html`<p class="muted">None in this environment (upload one on the Certificates page as ${choice.type}).</p>`
          : offered.map(
              (certificate, index) => html`<div class="check">
                <input type="checkbox" id="${choice.field}-${index}" name="${choice.field}" value="${certificate.id}"${attr({ checked: selected.has(String(certificate.id).toLowerCase()) })}>
                <label for="${choice.field}-${index}">${certificate.name} <span class="muted">(${String(certificate.properties?.subjectName ?? '')})</span></label>
              </div>`,
            )}
        ${errorText(choice.field)}
      </fieldset>`;
    })}
    <div class="${at === 'validationMode' ? 'field invalid' : 'field'}">
      <label for="validation-mode">Validation mode</label>
      <select id="validation-mode" name="validationMode"${attr({ 'aria-describedby': at === 'validationMode' ? 'validationMode-error' : undefined })}>
        ${['AllowValidOnly', 'AllowInsecureFallback'].map((mode) => html`<option value="${mode}"${attr({ selected: mode === (ingress['clientCertificateValidationMode'] ?? 'AllowValidOnly') })}>${mode}</option>`)}
      </select>
      ${errorText('validationMode')}
    </div>
    ${ALLOW_LISTS.map(
      (list) => html`<div class="${at === list.field ? 'field invalid' : 'field'}">
        <label for="${list.field}">${list.label}</label>
        <textarea id="${list.field}" name="${list.field}" rows="2" cols="60" spellcheck="false"${attr({ 'aria-describedby': at === list.field ? `${list.field}-error` : undefined, 'aria-invalid': at === list.field ? 'true' : undefined })}>${((allow[list.key] as unknown[] | undefined) ?? []).map(String).join('\n')}</textarea>
        ${errorText(list.field)}
      </div>`,
    )}
    <button type="submit">Save verification policy</button>
  </form>`;
}
