// One error catalog per boundary (management API, CLI, ingress reasons, PKI), each checked against
// its doc page both ways, and the code that produces errors checked for codes that bypass it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_ERRORS, CliError, EXIT_CODES, exitCodeFor } from '../src/cli/errors.ts';
import { ARM_ERRORS, ArmError, errors, OAUTH_ERRORS } from '../src/control/arm/errors.ts';
import { INGRESS_REASONS, upstreamFailure } from '../src/ingress/reasons.ts';
import { CONFIGURATION_PROBLEMS } from '../src/model/outcome.ts';
import { PKI_ERRORS } from '../src/pki/codes.ts';
import { assertDocumented } from './support/catalog-docs.ts';
import { LIMIT_REASONS } from '../src/observe/metrics.ts';

const SRC = join(import.meta.dirname, '..', 'src');

/** The non-test TypeScript files under src/`folder`, with their text. */
function sources(folder: string): { file: string; text: string }[] {
  return readdirSync(join(SRC, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .map((file) => ({ file: `${folder}/${file}`, text: readFileSync(join(SRC, folder, file), 'utf8') }));
}

test('ingress: every reason code is in docs/ingress.md "Reason codes" with its status, and only those', () => {
  assertDocumented(INGRESS_REASONS, 'ingress.md', '## Reason codes');
});

test('observability: the reason-code table of docs/observability.md is the catalog, both ways', () => {
  assertDocumented(INGRESS_REASONS, 'observability.md', '## Reason codes');
});

test('observability: every `reason:` literal in src/observe is a catalog code', () => {
  const bypassing: string[] = [];
  for (const limit of LIMIT_REASONS) if (!Object.hasOwn(INGRESS_REASONS, limit)) bypassing.push(`LIMIT_REASONS: ${limit}`);
  for (const { file, text } of sources('observe')) for (const match of text.matchAll(/\breason: '([^']*)'/g)) if (!Object.hasOwn(INGRESS_REASONS, match[1]!)) bypassing.push(`${file}: ${match[1]}`);
  assert.deepEqual(bypassing, []);
});

test('ingress: reason codes are lower_snake_case, and every `reason:` literal in src/ingress is one of them', () => {
  for (const code of Object.keys(INGRESS_REASONS)) assert.match(code, /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/, code);
  const bypassing: string[] = [];
  for (const { file, text } of sources('ingress')) {
    // A `reason:` is a close/answer reason, or the code of a configuration problem the ingress reports.
    for (const match of text.matchAll(/\breason: '([^']*)'/g)) if (!Object.hasOwn(INGRESS_REASONS, match[1]!) && !Object.hasOwn(CONFIGURATION_PROBLEMS, match[1]!)) bypassing.push(`${file}: ${match[1]}`);
    // Plain-text bodies end with `(reason)`: each such code must be in the catalog too.
    for (const match of text.matchAll(/\(([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\)['`]/g)) if (!Object.hasOwn(INGRESS_REASONS, match[1]!)) bypassing.push(`${file}: (${match[1]})`);
  }
  assert.deepEqual(bypassing, []);
});

test('ingress: upstream failures map to catalog codes; an unknown code is app_error (502)', () => {
  assert.deepEqual(upstreamFailure({ code: 'ECONNREFUSED' }), { status: 503, reason: 'app_unavailable' });
  assert.deepEqual(upstreamFailure({ code: 'CERTGATE_QUEUE_FULL' }), { status: 503, reason: 'queue_full' });
  assert.deepEqual(upstreamFailure({ code: 'UND_ERR_HEADERS_TIMEOUT' }), { status: 504, reason: 'app_timeout' });
  assert.deepEqual(upstreamFailure({ code: 'toString' }), { status: 502, reason: 'app_error' });
  assert.deepEqual(upstreamFailure(new Error('no code')), { status: 502, reason: 'app_error' });
});

test('management API: every ARM error code, token endpoint error and ConfigurationNotEnforced detail is in docs/management-api.md, and only those', () => {
  assertDocumented(ARM_ERRORS, 'management-api.md', '### ARM errors');
  assertDocumented(OAUTH_ERRORS, 'management-api.md', '### Token endpoint errors');
  assertDocumented(CONFIGURATION_PROBLEMS, 'management-api.md', '### ConfigurationNotEnforced details');
  for (const code of Object.keys(ARM_ERRORS)) assert.match(code, /^[A-Z][A-Za-z]+$/, code);
});

test('management API: src/control builds every error through the catalog (no inline ArmError, no free-form code)', () => {
  const bypassing: string[] = [];
  for (const { file, text } of sources('control')) {
    if (file !== 'control/arm/errors.ts' && /new ArmError\(/.test(text)) bypassing.push(`${file}: new ArmError( outside the catalog`);
    // A code literal handed to an error builder (errors.conflict('HostNameInUse', ...), code: '...').
    for (const match of text.matchAll(/(?:errors\.\w+\(|new ArmError\(|\bcode: |oauthError\()\s*'([A-Za-z_]+)'/g)) {
      const code = match[1]!;
      if (!Object.hasOwn(ARM_ERRORS, code) && !Object.hasOwn(OAUTH_ERRORS, code)) bypassing.push(`${file}: ${code}`);
    }
  }
  assert.deepEqual(bypassing, []);
});

test('management API: the status of an ArmError is its catalog status', () => {
  for (const code of Object.keys(ARM_ERRORS) as (keyof typeof ARM_ERRORS)[]) assert.equal(new ArmError(code, 'm').status, ARM_ERRORS[code].status);
  assert.equal(errors.conflict('HostNameInUse', 'taken', 'properties.configuration.ingress.customDomains[0].name').status, 409);
});

test('CLI: every CLI error code is in docs/cli.md "CLI error codes" with its exit code, and only those', () => {
  assertDocumented(CLI_ERRORS, 'cli.md', '### CLI error codes');
  for (const [code, entry] of Object.entries(CLI_ERRORS)) {
    assert.ok(Object.values(EXIT_CODES).includes(entry.status as never), `${code}: exit code ${entry.status} is one of EXIT_CODES`);
    assert.equal(exitCodeFor(new CliError('m', { code: code as keyof typeof CLI_ERRORS })), entry.status, `${code}: the exit code the CLI returns`);
  }
});

test('CLI: every code literal in src/cli is a CLI or PKI code', () => {
  const bypassing: string[] = [];
  for (const { file, text } of sources('cli')) {
    for (const match of text.matchAll(/\bcode: '([A-Za-z0-9]+)'/g)) {
      if (!Object.hasOwn(CLI_ERRORS, match[1]!) && !Object.hasOwn(PKI_ERRORS, match[1]!)) bypassing.push(`${file}: ${match[1]}`);
    }
  }
  assert.deepEqual(bypassing, []);
});

test('PKI: every PKI code is in docs/cli.md "PKI codes", and only those; src/pki throws only PkiErrors', () => {
  assertDocumented(PKI_ERRORS, 'cli.md', '### PKI codes');
  const bypassing: string[] = [];
  for (const { file, text } of sources('pki')) {
    for (const match of text.matchAll(/throw new (\w*Error)\(/g)) if (match[1] !== 'PkiError') bypassing.push(`${file}: ${match[1]}`);
    for (const match of text.matchAll(/new (?:PkiError|Pkcs12Failure)\('([A-Za-z0-9]+)'/g)) if (!Object.hasOwn(PKI_ERRORS, match[1]!)) bypassing.push(`${file}: ${match[1]}`);
  }
  assert.deepEqual(bypassing, []);
});
