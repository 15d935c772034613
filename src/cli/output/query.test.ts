// A command's --query is compiled once: checked before the handler runs, then applied as it is.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { Command } from 'commander';
import jmespath from 'jmespath';
import { addGlobalOptions, outputAction } from '../output.ts';

test('outputAction compiles the --query expression once per command', async () => {
  const compile = mock.method(jmespath as unknown as { compile(expression: string): unknown }, 'compile');
  const written: string[] = [];
  const write = mock.method(process.stdout, 'write', (text: string) => written.push(text) > 0);
  try {
    const command = addGlobalOptions(new Command('show'), { subscription: false }).action(outputAction(() => ({ name: 'a', n: 1 })));
    await command.parseAsync(['--query', 'name', '-o', 'tsv'], { from: 'user' });
  } finally {
    write.mock.restore();
    compile.mock.restore();
  }
  assert.deepEqual(written, ['a\n']);
  assert.equal(compile.mock.callCount(), 1);
});
