// Environments with their apps, and one app's page with the client-certificate mode form.
import { attr, html, csrfField, notice, time, type Node } from './layout.ts';
import type { ApiError } from '../api.ts';

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

/** certgate's verification-policy members of an app's ingress (issue 13), whatever their names: shown as JSON text. */
function verificationOf(app: any): Node {
  const ingress = ingressOf(app) ?? {};
  const members = Object.entries(ingress).filter(([name]) => /verif|trust/i.test(name));
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

export function environmentsView(rows: readonly EnvironmentRow[]): Node {
  if (rows.length === 0) return notice('info', 'No environments yet. Create one with az containerapp env create or the management API.');
  return rows.map(
    ({ environment, apps }) => html`<section class="card" aria-labelledby="env-${environment.name}">
      <h2 id="env-${environment.name}">Environment <span class="name">${environment.name}</span></h2>
      <p class="muted">Resource group <code>${resourceGroupOf(environment.id)}</code> · default domain <code>${String(environment.properties?.defaultDomain ?? '')}</code> · ${status(environment)}</p>
      ${apps.length === 0
        ? html`<p>No apps in this environment.</p>`
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
  );
}

function resourceGroupOf(id: string): string {
  return /\/resourceGroups\/([^/]+)/i.exec(id)?.[1] ?? '';
}

export interface AppViewOptions {
  readonly app: any;
  readonly csrfToken: string;
  readonly saved?: string;
  /** The API's refusal of the last submitted mode, shown next to the field. */
  readonly error?: ApiError;
  readonly submitted?: string;
}

export function appView({ app, csrfToken, saved, error, submitted }: AppViewOptions): Node {
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
          ${saved && notice('ok', `Saved: the ingress enforces clientCertificateMode '${saved}'.`)}
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
        </form>`
      : notice('info', 'This app has no ingress, so it has no client certificate mode.')}`;
}
