// az's output options on a real command (`certgate cert show`), run as a child process: each
// --output format, --query before formatting, colour only on a terminal, the default from
// CERTGATE_CORE_OUTPUT, and az's exit codes for bad arguments and bad queries.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createCa, issueCertificate } from '../src/pki/issue.ts';
import { certgate as runCertgate, exec, NODE, MAIN, type CliResult } from './support/cli.ts';

const ESCAPE = /\x1b\[[0-9;]*m/;

type Result = CliResult;

function certgate(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return runCertgate(args, { env, cwd: dir });
}

async function ok(args: string[], env: Record<string, string> = {}): Promise<string> {
  const result = await certgate(args, env);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

/** The command with stdout and stderr on a pseudo-terminal (util-linux `script`). */
function onTerminal(args: string[]): Promise<Result> {
  const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;
  return exec('script', ['-qec', [NODE, MAIN, ...args].map(quote).join(' '), '/dev/null'], { cwd: dir });
}

let dir: string;
let thumbprint: string;

before(async () => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'certgate-cli-output-')));
  const ca = await createCa({ commonName: 'Output CA' });
  const leaf = await issueCertificate({ issuer: ca, commonName: 'device-7', kind: 'client', dnsNames: ['d7.example.com'] });
  writeFileSync(join(dir, 'ca.pem'), ca.certPem);
  writeFileSync(join(dir, 'leaf.pem'), leaf.certPem);
  writeFileSync(join(dir, 'both.pem'), leaf.certPem + ca.certPem);
  thumbprint = createHash('sha256').update(leaf.certificate.raw).digest('hex');
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('--output', () => {
  test('json is the default: keys sorted, 2-space indent', async () => {
    const text = await ok(['cert', 'show', 'leaf.pem']);
    const shown = JSON.parse(text) as Record<string, unknown>;
    assert.equal(shown.thumbprint, thumbprint);
    assert.deepEqual(Object.keys(shown), Object.keys(shown).sort());
    assert.equal(text, `${JSON.stringify(shown, null, 2)}\n`);
  });

  test('tsv: the values in sorted key order, lists as their length, null as None, booleans True/False', async () => {
    const shown = JSON.parse(await ok(['cert', 'show', 'leaf.pem'])) as Record<string, unknown>;
    const expected = Object.keys(shown)
      .sort()
      .map((key) => {
        const value = shown[key];
        if (Array.isArray(value)) return String(value.length);
        if (value === null) return 'None';
        if (typeof value === 'boolean') return value ? 'True' : 'False';
        return String(value);
      })
      .join('\t');
    assert.equal(await ok(['cert', 'show', 'leaf.pem', '--output', 'tsv']), `${expected}\n`);
  });

  test('tsv with --query: a scalar is bare, a list one per line, a multiselect hash in query order', async () => {
    assert.equal(await ok(['cert', 'show', 'leaf.pem', '--query', 'thumbprint', '-o', 'tsv']), `${thumbprint}\n`);
    assert.equal(await ok(['cert', 'show', 'both.pem', '--query', '[].subject', '-o', 'tsv']), 'CN=device-7\nCN=Output CA\n');
    assert.equal(await ok(['cert', 'show', 'leaf.pem', '--query', '{t: thumbprint, s: subject, ca: isCa}', '-o', 'tsv']), `${thumbprint}\tCN=device-7\tFalse\n`);
    assert.equal(await ok(['cert', 'show', 'leaf.pem', '--query', 'isCa', '-o', 'tsv']), 'false\n');
  });

  test('table: headers, dashes, one row per item; with --query the query chooses the columns', async () => {
    const table = await ok(['cert', 'show', 'both.pem', '--query', '[].{subject: subject, ca: isCa}', '-o', 'table']);
    assert.equal(table, 'Subject       Ca\n------------  -----\nCN=device-7   False\nCN=Output CA  True\n');
  });

  test('yaml parses to the json; none prints nothing', async () => {
    const json = JSON.parse(await ok(['cert', 'show', 'leaf.pem']));
    const yaml = await ok(['cert', 'show', 'leaf.pem', '-o', 'yaml']);
    assert.deepEqual(parseYaml(yaml), json);
    assert.match(yaml, /^dnsNames:\n- d7\.example\.com\nemails: \[\]\n/);
    const none = await certgate(['cert', 'show', 'leaf.pem', '-o', 'none']);
    assert.deepEqual(none, { code: 0, stdout: '', stderr: '' });
  });

  test('the format name is case-insensitive, as in az; an unknown one is a usage error (exit code 2)', async () => {
    assert.equal(await ok(['cert', 'show', 'leaf.pem', '--query', 'subject', '-o', 'TSV']), 'CN=device-7\n');
    const bad = await certgate(['cert', 'show', 'leaf.pem', '-o', 'xml']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /^ERROR: option '-o, --output <format>' argument 'xml' is invalid\. Allowed choices are json, jsonc, yaml, yamlc, table, tsv, none\.\n/);
  });

  test('CERTGATE_CORE_OUTPUT sets the default format; --output wins over it', async () => {
    assert.equal(await ok(['cert', 'show', 'leaf.pem', '--query', 'subject'], { CERTGATE_CORE_OUTPUT: 'tsv' }), 'CN=device-7\n');
    assert.equal(await ok(['cert', 'show', 'leaf.pem', '--query', 'subject', '-o', 'json'], { CERTGATE_CORE_OUTPUT: 'tsv' }), '"CN=device-7"\n');
  });
});

describe('colour', () => {
  test('jsonc and yamlc are plain when stdout is not a terminal', async () => {
    assert.equal(await ok(['cert', 'show', 'leaf.pem', '-o', 'jsonc']), await ok(['cert', 'show', 'leaf.pem']));
    assert.equal(await ok(['cert', 'show', 'leaf.pem', '-o', 'yamlc']), await ok(['cert', 'show', 'leaf.pem', '-o', 'yaml']));
  });

  test('jsonc is coloured on a terminal; json and NO_COLOR are not', async () => {
    const coloured = await onTerminal(['cert', 'show', 'leaf.pem', '-o', 'jsonc', '--query', '{subject: subject}']);
    assert.equal(coloured.code, 0, coloured.stdout);
    assert.equal(coloured.stdout, '{\r\n  \x1b[94m"subject"\x1b[39;49;00m: \x1b[33m"CN=device-7"\x1b[39;49;00m\r\n}\r\n');
    const plain = await onTerminal(['cert', 'show', 'leaf.pem', '-o', 'json']);
    assert.doesNotMatch(plain.stdout, ESCAPE);
    const quoted = (arg: string) => `'${arg}'`;
    const noColor = await exec('script', ['-qec', `NO_COLOR=1 ${[NODE, MAIN, 'cert', 'show', 'leaf.pem', '-o', 'jsonc'].map(quoted).join(' ')}`, '/dev/null'], { cwd: dir });
    assert.equal(noColor.code, 0);
    assert.doesNotMatch(noColor.stdout, ESCAPE);
  });
});

describe('--query errors', () => {
  test('a query that is not JMESPath: az message, exit code 2, nothing on stdout', async () => {
    const result = await certgate(['cert', 'show', 'leaf.pem', '--query', 'azure-cli']);
    assert.deepEqual(result, {
      code: 2,
      stdout: '',
      stderr:
        "ERROR: argument --query: invalid jmespath_type value: 'azure-cli'\n" +
        "To learn more about --query, please visit: 'https://learn.microsoft.com/cli/azure/query-azure-cli'\n",
    });
  });

  test('a query that fails while evaluating: exit code 1', async () => {
    const result = await certgate(['cert', 'show', 'leaf.pem', '--query', 'length(pathLength)']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^ERROR: Invalid jmespath query supplied for `--query`: .*length\(\)/);
  });

  test('a query with a null result prints nothing and succeeds', async () => {
    for (const output of ['json', 'tsv', 'table', 'yaml']) {
      assert.deepEqual(await certgate(['cert', 'show', 'leaf.pem', '--query', 'nothing', '-o', output]), { code: 0, stdout: '', stderr: '' });
    }
  });

  test('the query is checked before the command runs: no file is written', async () => {
    const result = await certgate(['cert', 'create-ca', '--name', 'X', '--out-cert', 'never.pem', '--out-key', 'never.key', '--query', '[']);
    assert.equal(result.code, 2);
    const listing = await exec('ls', [dir]);
    assert.doesNotMatch(listing.stdout, /never/);
  });
});

describe('--verbose and --debug', () => {
  test('--verbose logs how long the command ran, on stderr', async () => {
    const result = await certgate(['cert', 'show', 'leaf.pem', '--query', 'subject', '-o', 'tsv', '--verbose']);
    assert.equal(result.stdout, 'CN=device-7\n');
    assert.match(result.stderr, /^INFO: Command ran in \d+\.\d{3} seconds\n$/);
  });

  test('--debug adds the stack trace to an error; without it there is none', async () => {
    const plain = await certgate(['cert', 'show', 'missing.pem']);
    assert.equal(plain.stderr, "ERROR: (FileNotReadable) cannot read file 'missing.pem': no such file or directory\n");
    const debug = await certgate(['cert', 'show', 'missing.pem', '--debug']);
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /^ERROR: \(FileNotReadable\) [^\n]+\nCliError: [^\n]+\n\s+at /);
  });
});
