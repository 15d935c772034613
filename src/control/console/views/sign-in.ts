// The sign-in form: the service principal's client id and secret, as `az login --service-principal`.
import { html, notice, type Node } from './layout.ts';

export function signInView(error?: string, clientId = '', note?: string): Node {
  return html`<form method="post" action="/console/sign-in" class="card narrow">
    <p>Sign in with a service principal of this certgate (the first one is in <code>admin-credentials.json</code> in the data directory).</p>
    ${note && notice('info', note)}
    ${error && notice('error', error)}
    <div class="field">
      <label for="client-id">Client id</label>
      <input id="client-id" name="clientId" type="text" autocomplete="username" spellcheck="false" required maxlength="64" value="${clientId}">
    </div>
    <div class="field">
      <label for="client-secret">Client secret</label>
      <input id="client-secret" name="clientSecret" type="password" autocomplete="current-password" required maxlength="256">
    </div>
    <button type="submit">Sign in</button>
  </form>`;
}
