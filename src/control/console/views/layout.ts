// The page shell. Pages are rendered on the server with Hono's `html` tagged template: every
// interpolated value is escaped (& < > " ') unless it is itself such a template, so a name or a
// certificate subject is always text, never markup. Attribute values are always quoted here, and
// optional attributes go through `attr`, which escapes them too.
import { html as honoHtml, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

export type Html = HtmlEscapedString;
export type Node = Html | readonly Node[] | string | null | undefined | false;

/** Hono's template, synchronous only (the console never interpolates promises). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  const result = honoHtml(strings, ...values);
  if (result instanceof Promise) throw new Error('console templates are synchronous');
  return result;
}

/** Optional attributes: ` name="value"` for each defined one, `name` alone for `true`, nothing for false/undefined. */
export function attr(attributes: Readonly<Record<string, string | boolean | undefined>>): Html {
  const parts = Object.entries(attributes).map(([name, value]) => {
    if (value === undefined || value === false) return '';
    if (!/^[a-z-]+$/.test(name)) throw new Error(`attribute name ${name}`);
    return value === true ? html` ${raw(name)}` : html` ${raw(name)}="${value}"`;
  });
  return html`${parts}`;
}

export const NAV = [
  { href: '/console/environments', label: 'Environments and apps' },
  { href: '/console/certificates', label: 'Certificates' },
  { href: '/console/inventory', label: 'Client certificates seen' },
  { href: '/console/refusals', label: 'Refusals' },
  { href: '/console/gateway', label: 'Gateway' },
] as const;

export interface PageOptions {
  readonly title: string;
  /** The path of the nav entry this page belongs to. */
  readonly current?: string;
  /** The session's CSRF token: present when signed in (the sign-out form needs it). */
  readonly csrfToken?: string;
  readonly signedInAs?: string;
}

export function renderPage(options: PageOptions, body: Node): string {
  const signedIn = options.csrfToken !== undefined;
  const nav = signedIn
    ? html`<nav aria-label="Console">
          <ul>
            ${NAV.map((item) => html`<li><a href="${item.href}"${attr({ 'aria-current': item.href === options.current ? 'page' : undefined })}>${item.label}</a></li>`)}
          </ul>
        </nav>
        <form method="post" action="/console/sign-out" class="sign-out">
          <span class="who">Signed in as <code>${options.signedInAs}</code></span>
          ${csrfField(options.csrfToken!)}
          <button type="submit">Sign out</button>
        </form>`
    : '';
  return `<!doctype html>${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · certgate console</title>
<link rel="stylesheet" href="/console/assets/console.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><span class="brand">certgate console</span>${nav}</header>
<main id="main" tabindex="-1">
<h1>${options.title}</h1>
${body}
</main>
</body>
</html>`}`;
}

export function csrfField(token: string): Html {
  return html`<input type="hidden" name="csrf" value="${token}">`;
}

/** A message box: `role=alert` for errors so a screen reader announces it, `status` otherwise. */
export function notice(kind: 'error' | 'ok' | 'info', text: Node): Html {
  return html`<p class="notice ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</p>`;
}

/** What an API that is not on this server yet (404) looks like on its page. */
export function notAvailable(what: string): Html {
  return notice('info', `${what}: not available on this server (the management API has no such endpoint yet).`);
}

export function time(iso: unknown): Node {
  if (typeof iso !== 'string' || Number.isNaN(Date.parse(iso))) return '—';
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>`;
}
