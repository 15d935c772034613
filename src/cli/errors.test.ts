// The exit-code table and az's error lines; commander's parse errors through configureUsageErrors.
import { PkiError } from '../pki/codes.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, CommanderError } from 'commander';
import { CliError, configureUsageErrors, EXIT_CODES, exitCodeFor, formatError, reportError } from './errors.ts';

describe('exit codes (azure-cli README: 0 success, 1 error, 2 parser error, 3 missing resource)', () => {
  test('the table', () => {
    assert.deepEqual(EXIT_CODES, { success: 0, error: 1, usage: 2, resourceNotFound: 3 });
  });

  test('CliError: 1 by default, 2 for usage, 3 for a 404 or ResourceNotFound', () => {
    assert.equal(exitCodeFor(new CliError('boom')), 1);
    assert.equal(exitCodeFor(new CliError('bad flag', { kind: 'usage' })), 2);
    assert.equal(exitCodeFor(new CliError('gone', { statusCode: 404, serviceCode: 'ContainerAppNotFound' })), 3);
    assert.equal(exitCodeFor(new CliError('gone', { serviceCode: 'ResourceNotFound' })), 3);
    assert.equal(exitCodeFor(new CliError('conflict', { statusCode: 409, serviceCode: 'CertificateInUse' })), 1);
  });

  test('any other error is 1; commander errors are 2 except help and version', () => {
    assert.equal(exitCodeFor(new TypeError('bug')), 1);
    assert.equal(exitCodeFor('a string'), 1);
    assert.equal(exitCodeFor(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'")), 2);
    assert.equal(exitCodeFor(new CommanderError(1, 'commander.missingMandatoryOptionValue', 'x')), 2);
    assert.equal(exitCodeFor(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)')), 0);
    assert.equal(exitCodeFor(new CommanderError(0, 'commander.version', '1.0.0')), 0);
    assert.equal(exitCodeFor(new CommanderError(1, 'commander.help', '(outputHelp)')), 2);
  });
});

describe('formatError', () => {
  test('ERROR: (Code) message, or ERROR: message without a code, then the recommendation', () => {
    assert.equal(formatError(new CliError('The app was not found.', { serviceCode: 'ResourceNotFound' })), 'ERROR: (ResourceNotFound) The app was not found.\n');
    assert.equal(formatError(new CliError('no code here')), 'ERROR: no code here\n');
    assert.equal(formatError(new PkiError('LocalCaKeyMismatch', 'ca.key does not match ca.pem')), 'ERROR: (LocalCaKeyMismatch) ca.key does not match ca.pem\n');
    assert.equal(exitCodeFor(new CliError('exists', { code: 'FileExists' })), 1);
    assert.equal(formatError(new CliError('bad query', { recommendation: 'See the docs.' })), 'ERROR: bad query\nSee the docs.\n');
  });

  test('no stack trace unless --debug; nothing for commander errors, which commander printed', () => {
    const bug = new TypeError('x is undefined');
    assert.equal(formatError(bug), 'ERROR: x is undefined\n');
    assert.match(formatError(bug, { debug: true }), /^ERROR: x is undefined\nTypeError: x is undefined\n\s+at /);
    assert.equal(formatError(new CommanderError(1, 'commander.unknownOption', 'error')), '');
  });

  test('reportError writes the line and returns the exit code', () => {
    let written = '';
    const code = reportError(new CliError('gone', { statusCode: 404 }), { stderr: { write: (text: string) => (written += text) } });
    assert.equal(code, 3);
    assert.equal(written, 'ERROR: gone\n');
  });
});

describe('configureUsageErrors', () => {
  function program(): { root: Command; errors: string[] } {
    const errors: string[] = [];
    const root = new Command('tool').addCommand(
      new Command('group').addCommand(new Command('show').requiredOption('--name <name>').action(() => undefined)),
    );
    configureUsageErrors(root);
    // Collect what would go to stderr, on every command (configureOutput is per command).
    const capture = (command: Command) => {
      const { outputError } = command.configureOutput();
      command.configureOutput({ writeErr: (text) => errors.push(text), outputError });
      command.commands.forEach(capture);
    };
    capture(root);
    return { root, errors };
  }

  test('an unknown option anywhere below is one ERROR: line, thrown as exit code 2', async () => {
    const { root, errors } = program();
    await assert.rejects(root.parseAsync(['group', 'show', '--name', 'a', '--bogus'], { from: 'user' }), (error: unknown) => {
      return error instanceof CommanderError && error.exitCode === 2 && error.code === 'commander.unknownOption';
    });
    assert.deepEqual(errors, ["ERROR: unknown option '--bogus'\n"]);
  });

  test('a missing required option is exit code 2; --help is exit code 0', async () => {
    const { root } = program();
    await assert.rejects(root.parseAsync(['group', 'show'], { from: 'user' }), (error: unknown) => exitCodeFor(error) === 2 && (error as CommanderError).exitCode === 2);
    const quiet = program();
    quiet.root.commands[0]?.commands[0]?.configureOutput({ writeOut: () => undefined });
    await assert.rejects(quiet.root.parseAsync(['group', 'show', '--help'], { from: 'user' }), (error: unknown) => (error as CommanderError).exitCode === 0);
  });
});
