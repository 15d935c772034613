// The bench's results JSON records paths relative to the repository (issue 18), not the machine's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { repoRelativePaths } from '../bench/lib/paths.ts';

test('paths inside the repository become relative; others, and non-paths, stay', () => {
  const report = { settings: { out: '/home/ann/certgate/bench/results/', quick: true, port: 18400 }, files: ['/home/ann/certgate/x.json', '/tmp/other'], name: 'h1', root: '/home/ann/certgate' };
  assert.deepEqual(repoRelativePaths(report, '/home/ann/certgate'), {
    settings: { out: 'bench/results/', quick: true, port: 18400 },
    files: ['x.json', '/tmp/other'],
    name: 'h1',
    root: '.',
  });
  assert.equal(repoRelativePaths('/home/ann/certgate-other/a', '/home/ann/certgate'), '/home/ann/certgate-other/a', 'a sibling folder is not inside');
});
