// Closed sets of values on the command line are matched in any casing, as az matches its enums.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, InvalidArgumentError } from 'commander';
import { enumOption, listOf } from './options.ts';

test('enumOption: Accept, ACCEPT and accept are accept; an unknown value names the choices', () => {
  for (const given of ['Accept', 'ACCEPT', 'accept']) {
    const command = new Command('x').exitOverride().addOption(enumOption('--mode <mode>', 'mode', ['ignore', 'accept', 'require']));
    command.parse(['--mode', given], { from: 'user' });
    assert.equal(command.opts()['mode'], 'accept');
  }
  const command = new Command('x').exitOverride().configureOutput({ writeErr: () => {} }).addOption(enumOption('--mode <mode>', 'mode', ['ignore', 'accept']));
  assert.throws(() => command.parse(['--mode', 'maybe'], { from: 'user' }), /Allowed choices are ignore, accept/);
});

test('listOf: HTTPS,Http is [https, http], duplicates once; an unknown item is refused', () => {
  const parse = listOf(['https', 'http', 'internal'] as const);
  assert.deepEqual(parse('HTTPS, Http,https'), ['https', 'http']);
  assert.throws(() => parse('https,tls'), (error: unknown) => error instanceof InvalidArgumentError && /'tls' is not one of https, http, internal/.test(error.message));
});
