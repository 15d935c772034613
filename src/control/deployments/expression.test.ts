import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExpressionError, evaluate, isExpression, parseExpression, unescapeLiteral, type EvaluationScope } from './expression.ts';
import { uniqueString } from './unique-string.ts';

const scope: EvaluationScope = {
  section: 'resources',
  parameter: (name) => ({ appName: 'web', port: 8080, tags: { Team: 'a' }, list: ['x', 'y'] } as Record<string, unknown>)[name],
  variable: (name) => (name === 'prefix' ? 'pre' : undefined),
  resourceGroup: () => ({ name: 'demo', location: 'local', id: '/subscriptions/s/resourceGroups/demo' }),
  subscription: () => ({ subscriptionId: 's', id: '/subscriptions/s' }),
  copyIndex: () => 2,
  reference: (id, _version, full) => (full ? { id, properties: { fqdn: 'f' } } : { fqdn: `fqdn-of-${id}` }),
};
const run = (text: string, over: Partial<EvaluationScope> = {}) => evaluate(parseExpression(text), { ...scope, ...over });

test('strings in brackets are expressions; "[[" is the escape for a literal "["', () => {
  assert.equal(isExpression("[parameters('a')]"), true);
  assert.equal(isExpression('[[not one]'), false);
  assert.equal(unescapeLiteral('[[not one]'), '[not one]');
  assert.equal(isExpression('plain'), false);
});

test('literals, calls, members, indexes, case-insensitive names', () => {
  assert.equal(run("['it''s']"), "it's");
  assert.equal(run('[-3]'), -3);
  assert.equal(run("[concat(variables('prefix'), '-', parameters('appName'))]"), 'pre-web');
  assert.deepEqual(run("[concat(parameters('list'), parameters('list'))]"), ['x', 'y', 'x', 'y']);
  assert.equal(run("[format('{0}:{1} {{x}}', parameters('appName'), parameters('port'))]"), 'web:8080 {x}');
  assert.equal(run("[toLower('AbC')]"), 'abc');
  assert.equal(run("[TOUPPER('abc')]"), 'ABC');
  assert.equal(run("[resourceGroup().location]"), 'local');
  assert.equal(run("[parameters('tags').team]"), 'a');
  assert.equal(run("[parameters('list')[1]]"), 'y');
  assert.equal(run("[parameters('tags')['Team']]"), 'a');
  assert.equal(run("[subscription().subscriptionId]"), 's');
  assert.equal(run("[copyIndex(1)]"), 3);
  assert.equal(run("[if(equals(parameters('port'), 8080), 'yes', reference('never').x)]"), 'yes', 'the branch not taken is not evaluated');
  assert.equal(run("[reference('/x/app').fqdn]"), 'fqdn-of-/x/app');
  assert.equal(run("[reference('/x/app', '2025-01-01', 'Full').properties.fqdn]"), 'f');
  assert.equal(run("[and(true(), not(false()))]"), true);
  assert.equal(run("[length(parameters('list'))]"), 2);
  assert.equal(run("[int('42')]"), 42);
  assert.equal(run("[string(parameters('port'))]"), '8080');
});

test('resourceId: default and explicit group and subscription, child types', () => {
  assert.equal(run("[resourceId('Microsoft.App/managedEnvironments', 'env')]"), '/subscriptions/s/resourceGroups/demo/providers/Microsoft.App/managedEnvironments/env');
  assert.equal(run("[resourceId('other', 'Microsoft.App/containerApps', 'a')]"), '/subscriptions/s/resourceGroups/other/providers/Microsoft.App/containerApps/a');
  assert.equal(run("[resourceId('t', 'g', 'Microsoft.App/managedEnvironments/certificates', 'env', 'c')]"), '/subscriptions/t/resourceGroups/g/providers/Microsoft.App/managedEnvironments/env/certificates/c');
  assert.throws(() => run("[resourceId('Microsoft.App/managedEnvironments/certificates', 'env')]"), /needs 2 name/);
});

test("uniqueString gives Azure's values (vectors from Azure's outputs)", () => {
  assert.equal(uniqueString(['test']), 'rbgf3xv4ufgzg');
  assert.equal(uniqueString(['hello', 'world']), 'a7wkljktk6wne');
  assert.equal(uniqueString(['/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg']), 'bmg7c6xu4tw46');
  assert.equal(run("[uniqueString('foo', 'bar', 'baz')]"), 'xzi4ioaxtmth4');
});

test('errors name the function or construct and the character', () => {
  const error = (text: string, over: Partial<EvaluationScope> = {}) => {
    try {
      run(text, over);
    } catch (caught) {
      assert.ok(caught instanceof ExpressionError, String(caught));
      return `${caught.message} @${caught.at}`;
    }
    assert.fail(`no error for ${text}`);
  };
  assert.match(error("[concat('a', listKeys('x'))]"), /The template function 'listKeys' is not supported by certgate.*@13/);
  assert.match(error("[concat('a']"), /Expected ',' or '\)'/);
  assert.match(error("['open]"), /not closed/);
  assert.match(error("[format('{0:D2}', 1)]"), /format specifier 'D2'/);
  assert.match(error("[reference('x')]", { reference: undefined, section: 'variables' }), /'reference' cannot be used in variables/);
  assert.match(error("[copyIndex()]", { copyIndex: () => undefined }), /outside of a copy loop/);
  assert.match(error("[parameters('tags').nope]"), /no property 'nope'/);
  assert.match(error("[myns.fn()]"), /User-defined functions/);
  assert.match(error(`[${'concat('.repeat(70)}'a'${')'.repeat(70)}]`), /deeper than 64/);
});
