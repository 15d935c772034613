// renderOutput against az: every expected string below is what knack's formatters (knack 0.10,
// tabulate 0.8, PyYAML 6, jmespath 1.0: the output layer of azure-cli) printed for the same value
// and query.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyQuery, compileQuery, renderOutput } from './output.ts';
import { CliError, exitCodeFor } from './errors.ts';

const APP_ID = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.App/containerApps/my-app';

/** A container app as ARM returns it (trimmed). */
const app = {
  id: APP_ID,
  name: 'my-app',
  type: 'Microsoft.App/containerApps',
  location: 'West Europe',
  tags: { team: 'édge' },
  systemData: null,
  properties: {
    provisioningState: 'Succeeded',
    latestRevisionFqdn: 'my-app--r1.env.certgate.localhost',
    workloadProfileName: null,
    configuration: {
      activeRevisionsMode: 'Single',
      ingress: {
        external: true,
        targetPort: 8080,
        clientCertificateMode: 'require',
        allowInsecure: false,
        traffic: [{ latestRevision: true, weight: 100 }],
        customDomains: null,
      },
    },
  },
};
const api = {
  ...app,
  id: APP_ID.replace('my-app', 'api'),
  name: 'api',
  location: 'eastus',
  tags: {},
  properties: {
    ...app.properties,
    provisioningState: 'Failed',
    configuration: {
      ...app.properties.configuration,
      ingress: { ...app.properties.configuration.ingress, external: false, targetPort: 80 },
    },
  },
};

// Pygments' TerminalFormatter sequences, as az's jsonc and yamlc use.
const ESCAPE = /\x1b\[[0-9;]*m/g;

describe('tsv', () => {
  test('a scalar is its bare value; null prints nothing', () => {
    assert.equal(renderOutput('my-app', { output: 'tsv' }), 'my-app\n');
    assert.equal(renderOutput(8080, { output: 'tsv' }), '8080\n');
    assert.equal(renderOutput(true, { output: 'tsv' }), 'true\n');
    assert.equal(renderOutput(null, { output: 'tsv' }), '');
    assert.equal(renderOutput('', { output: 'tsv' }), '\n');
  });

  test('a list of scalars is one per line: booleans lower-case, null as None', () => {
    assert.equal(renderOutput([true, null, 1.5, 'x', [1, 2], { a: 1 }], { output: 'tsv' }), 'true\nNone\n1.5\nx\n1\t2\n1\n');
    assert.equal(renderOutput([], { output: 'tsv' }), '');
  });

  test('an object is its values in sorted key order: a list as its length, an object as an empty field', () => {
    assert.equal(
      renderOutput(app, { output: 'tsv' }),
      `${APP_ID}\tWest Europe\tmy-app\t\tNone\t\tMicrosoft.App/containerApps\n`,
    );
    assert.equal(renderOutput(app, { output: 'tsv', query: 'properties.configuration.ingress' }), 'False\trequire\tNone\tTrue\t8080\t1\n');
  });

  test('--query id -o tsv on an ARM resource gives the id', () => {
    assert.equal(renderOutput(app, { output: 'tsv', query: 'id' }), `${APP_ID}\n`);
  });

  test("a multiselect hash keeps the query's key order; a list of lists is one line per list", () => {
    assert.equal(
      renderOutput(app, { output: 'tsv', query: '{name:name, id:id, port:properties.configuration.ingress.targetPort}' }),
      `my-app\t${APP_ID}\t8080\n`,
    );
    assert.equal(renderOutput([app, api], { output: 'tsv', query: '[].[name, properties.configuration.ingress.external]' }), 'my-app\tTrue\napi\tFalse\n');
    assert.equal(renderOutput([app, api], { output: 'tsv', query: '[].name' }), 'my-app\napi\n');
  });
});

describe('table', () => {
  test('a list of objects: capitalised headers in sorted order, dashes, id/type/etag and nested values skipped', () => {
    assert.equal(
      renderOutput([app, api], { output: 'table' }),
      'Location     Name\n-----------  ------\nWest Europe  my-app\neastus       api\n',
    );
  });

  test('with --query the columns keep the query order', () => {
    assert.equal(
      renderOutput([app, api], {
        output: 'table',
        query: '[].{name:name, port:properties.configuration.ingress.targetPort, external:properties.configuration.ingress.external}',
      }),
      'Name    Port    External\n------  ------  ----------\nmy-app  8080    True\napi     80      False\n',
    );
  });

  test('a scalar is a Result column; multi-line cells take several lines', () => {
    assert.equal(renderOutput(app, { output: 'table', query: 'name' }), 'Result\n--------\nmy-app\n');
    assert.equal(
      renderOutput([{ name: 'a\nb', v: 1 }, { name: 'c', v: 2 }], { output: 'table' }),
      'Name    V\n------  ---\na       1\nb\nc       2\n',
    );
    assert.equal(renderOutput([], { output: 'table' }), '\n');
  });

  test('a table transformer shapes the table unless a query is given', () => {
    const tableTransformer = (value: unknown) => (value as (typeof app)[]).map((item) => ({ app: item.name, fqdn: item.properties.latestRevisionFqdn }));
    assert.equal(
      renderOutput([app], { output: 'table', tableTransformer }),
      'App     Fqdn\n------  ---------------------------------\nmy-app  my-app--r1.env.certgate.localhost\n',
    );
    assert.equal(renderOutput([app], { output: 'table', tableTransformer, query: '[].{n: name}' }), 'N\n------\nmy-app\n');
  });
});

describe('json, yaml, none', () => {
  test('json: keys sorted at every level (even a multiselect hash), 2 spaces, non-ASCII kept', () => {
    assert.equal(
      renderOutput(app, { output: 'json', query: '{name:name, tags:tags, traffic:properties.configuration.ingress.traffic, none:systemData}' }),
      '{\n  "name": "my-app",\n  "none": null,\n  "tags": {\n    "team": "édge"\n  },\n  "traffic": [\n    {\n      "latestRevision": true,\n      "weight": 100\n    }\n  ]\n}\n',
    );
    assert.equal(renderOutput({ b: [], a: {} }), '{\n  "a": {},\n  "b": []\n}\n');
    assert.equal(renderOutput(app, { query: 'name' }), '"my-app"\n');
  });

  test('yaml: keys sorted, sequences not indented under their key', () => {
    assert.equal(
      renderOutput(app, { output: 'yaml', query: 'properties.configuration' }),
      'activeRevisionsMode: Single\ningress:\n  allowInsecure: false\n  clientCertificateMode: require\n  customDomains: null\n  external: true\n  targetPort: 8080\n  traffic:\n  - latestRevision: true\n    weight: 100\n',
    );
  });

  test("yaml: strings YAML 1.1 would read as other types are quoted; a plain root scalar ends with '...'", () => {
    assert.equal(
      renderOutput({ on: 'yes', num: '123', t: '2024-01-01', m: 'line1\nline2', tab: 'a\tb' }, { output: 'yaml' }),
      "m: 'line1\n\n  line2'\nnum: '123'\n'on': 'yes'\nt: '2024-01-01'\ntab: \"a\\tb\"\n",
    );
    assert.equal(renderOutput('my-app', { output: 'yaml' }), 'my-app\n...\n');
    assert.equal(renderOutput('true', { output: 'yaml' }), "'true'\n");
  });

  test('none prints nothing, and a query whose result is null prints nothing in any format', () => {
    assert.equal(renderOutput(app, { output: 'none' }), '');
    for (const output of ['json', 'jsonc', 'yaml', 'yamlc', 'table', 'tsv'] as const) {
      assert.equal(renderOutput(app, { output, query: 'properties.missing' }), '', output);
    }
  });

  test('jsonc and yamlc are coloured only when asked to be, and otherwise equal json and yaml', () => {
    const json = renderOutput(app, { output: 'json' });
    const jsonc = renderOutput(app, { output: 'jsonc', color: true });
    assert.match(jsonc, /\x1b\[94m"name"\x1b\[39;49;00m: \x1b\[33m"my-app"\x1b\[39;49;00m/);
    assert.match(jsonc, /\x1b\[34m8080\x1b\[39;49;00m/);
    assert.equal(jsonc.replace(ESCAPE, ''), json);
    assert.equal(renderOutput(app, { output: 'jsonc', color: false }), json);

    const yaml = renderOutput(app, { output: 'yaml' });
    const yamlc = renderOutput(app, { output: 'yamlc', color: true });
    assert.match(yamlc, /^\x1b\[94mid\x1b\[39;49;00m: /);
    assert.match(yamlc, /\n\x1b\[94mlocation\x1b\[39;49;00m: West Europe\n/);
    assert.equal(renderOutput({ on: 'yes' }, { output: 'yamlc', color: true }), "\x1b[94m'on'\x1b[39;49;00m: \x1b[33m'yes'\x1b[39;49;00m\n");
    assert.equal(yamlc.replace(ESCAPE, ''), yaml);
    assert.equal(renderOutput(app, { output: 'yamlc', color: false }), yaml);
  });
});

describe('--query errors', () => {
  test('a query that does not parse is a usage error (exit code 2) with az message', () => {
    assert.throws(
      () => compileQuery('[?name=='),
      (error: unknown) =>
        error instanceof CliError &&
        error.message === "argument --query: invalid jmespath_type value: '[?name=='" &&
        exitCodeFor(error) === 2,
    );
    assert.throws(() => renderOutput(app, { output: 'tsv', query: 'azure-cli' }), (error: unknown) => exitCodeFor(error) === 2);
  });

  test('a query that fails while evaluating is a generic error (exit code 1)', () => {
    assert.throws(
      () => applyQuery(app, 'length(properties.missing)'),
      (error: unknown) =>
        error instanceof CliError &&
        error.message.startsWith('Invalid jmespath query supplied for `--query`: ') &&
        exitCodeFor(error) === 1,
    );
  });
});
