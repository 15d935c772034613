// What the gateway saw: the client-certificate inventory, the recent refusals, and the gateway's
// health and applied revision, read from the inventory and gateway status APIs (docs/management-api.md).
import { attr, html, notice, time, type Node } from './layout.ts';

export interface InventoryQuery {
  readonly app?: string;
  readonly search?: string;
  readonly expiringWithinDays?: string;
}

export function inventoryForm(apps: readonly any[], query: InventoryQuery): Node {
  return html`<form method="get" action="/console/inventory" class="card search" role="search" aria-label="Client certificates">
    <div class="field">
      <label for="inventory-app">App</label>
      <select id="inventory-app" name="app">
        ${apps.map((app) => html`<option value="${app.id}" ${attr({ selected: app.id === query.app })}>${app.name}</option>`)}
      </select>
    </div>
    <div class="field">
      <label for="inventory-search">Thumbprint, subject or SAN</label>
      <input id="inventory-search" name="search" type="search" maxlength="256" spellcheck="false" value="${query.search ?? ''}">
    </div>
    <div class="field">
      <label for="inventory-expiring">Expiring within (days)</label>
      <input id="inventory-expiring" name="expiringWithinDays" type="number" min="0" max="3650" inputmode="numeric" value="${query.expiringWithinDays ?? ''}">
    </div>
    <button type="submit">Search</button>
  </form>`;
}

export function inventoryTable(items: readonly any[], nextHref: string | undefined): Node {
  if (items.length === 0) return notice('info', 'No client certificate matches.');
  return html`<table>
      <caption class="visually-hidden">Client certificates seen</caption>
      <thead><tr><th scope="col">Subject</th><th scope="col">Issuer</th><th scope="col">Subject alternative names</th><th scope="col">Expires</th><th scope="col">Last seen</th><th scope="col">Connections</th><th scope="col">Last verdict</th><th scope="col">Thumbprint (SHA-256)</th></tr></thead>
      <tbody>
        ${items.map((item) => {
          const p = item?.properties ?? {};
          return html`<tr>
            <td class="subject">${String(p.subject ?? '')}</td>
            <td>${String(p.issuer ?? '')}</td>
            <td>${Array.isArray(p.subjectAlternativeNames) ? p.subjectAlternativeNames.map(String).join(', ') : ''}</td>
            <td>${time(p.notAfter)}</td>
            <td>${time(p.lastSeen)}</td>
            <td>${String(p.connectionCount ?? '')}</td>
            <td><code>${String(p.lastVerdict ?? '')}</code></td>
            <td><code class="thumb">${String(p.thumbprint ?? item?.name ?? '')}</code></td>
          </tr>`;
        })}
      </tbody>
    </table>
    ${nextHref && html`<p><a href="${nextHref}">Next page</a></p>`}`;
}

export function refusalsView(items: readonly any[]): Node {
  if (items.length === 0) return notice('info', 'No refusals recorded since the gateway started.');
  return html`<table>
    <caption class="visually-hidden">Recent refusals, newest first</caption>
    <thead><tr><th scope="col">Time</th><th scope="col">App</th><th scope="col">Host</th><th scope="col">Reason</th><th scope="col">Verdict</th><th scope="col">Subject</th><th scope="col">Thumbprint</th><th scope="col">Client address</th></tr></thead>
    <tbody>
      ${items.map(
        (item) => html`<tr>
          <td>${time(item?.time)}</td>
          <td>${String(item?.app ?? '')}</td>
          <td>${String(item?.host ?? '')}</td>
          <td><code>${String(item?.reason ?? '')}</code></td>
          <td><code>${String(item?.verdict ?? '')}</code></td>
          <td class="subject">${String(item?.subject ?? '')}</td>
          <td><code class="thumb">${String(item?.thumbprint ?? '')}</code></td>
          <td><code>${String(item?.clientAddress ?? '')}</code></td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

export function gatewayView(status: any): Node {
  const replicas: any[] = Array.isArray(status?.replicas) ? status.replicas : [];
  return html`<section class="card" aria-labelledby="gateway-health">
      <h2 id="gateway-health">Health</h2>
      <dl class="facts">
        <dt>Ready</dt><dd>${status?.ready === true ? html`<span class="good">ready</span>` : html`<span class="bad">not ready</span>`}</dd>
        <dt>Applied revision</dt><dd>${String(status?.revision ?? '—')}</dd>
        <dt>Ingress workers</dt><dd>${String(status?.workers ?? '—')}</dd>
      </dl>
    </section>
    <section class="card" aria-labelledby="gateway-replicas">
      <h2 id="gateway-replicas">Replicas</h2>
      <table>
        <thead><tr><th scope="col">Replica</th><th scope="col">Revision</th><th scope="col">Last heartbeat</th><th scope="col">Live</th></tr></thead>
        <tbody>
          ${replicas.map(
            (replica) => html`<tr>
              <th scope="row">${String(replica?.name ?? '')}</th>
              <td>${String(replica?.revision ?? '')}</td>
              <td>${time(replica?.lastHeartbeat)}</td>
              <td>${replica?.live === true ? html`<span class="good">live</span>` : html`<span class="bad">not live</span>`}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </section>`;
}
