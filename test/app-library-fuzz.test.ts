// A short coverage-guided fuzzing run of each target (Jazzer.js): the app library's XFCC parsers
// and verifier, and the ingress's two network-facing parsers (clienthello.ts, http1-response.ts).
// Seeded with the committed corpus: fails on any crash, uncaught exception or broken invariant the
// fuzzer finds, and checks that the TypeScript under test is instrumented (the seeds already reach
// covered code). The long run is `node fuzz/run.mjs --seconds=600`, which grows fuzz/corpus.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFuzzer, TARGETS } from '../fuzz/run.mjs';

const SECONDS = 3;
const FUZZ = join(import.meta.dirname, '..', 'fuzz');

// The targets run side by side: most of each run is start-up (Jazzer, instrumentation, replaying
// the corpus), and fuzzing stops on the clock, not on a count.
describe('fuzzing', { concurrency: true }, () => {
  for (const target of TARGETS) {
    test(`fuzz ${target} for ${SECONDS} s: no finding`, { timeout: (SECONDS + 90) * 1000 }, async (t) => {
      const scratch = mkdtempSync(join(tmpdir(), `certgate-fuzz-${target}-`));
      try {
        const seeds = join(FUZZ, 'corpus', target);
        // New inputs go to the scratch corpus: the committed one is read, never written, by CI.
        const result = await runFuzzer({
          target,
          seconds: SECONDS,
          corpusDir: join(scratch, 'corpus'),
          seedDirs: [seeds],
          artifactPrefix: join(scratch, 'findings', `${target}-`),
        });
        const findings = readdirSync(join(scratch, 'findings'));
        const finding = findings.map((name) => `${name}: ${readFileSync(join(scratch, 'findings', name)).toString('base64')}`);
        assert.equal(result.code, 0, `${target} found a crash (base64 input: ${finding.join(', ')}):\n${result.output.slice(-6000)}`);
        assert.deepEqual(findings, []);
        const stats = result.stats;
        assert.ok(stats, `no libFuzzer statistics in the output:\n${result.output.slice(-3000)}`);
        assert.ok(stats.execs > 100, `only ${stats.execs} executions`);
        assert.ok(stats.initialCoverage > 0, 'the seeds reach instrumented code (TypeScript instrumentation works)');
        assert.ok(stats.features > 0);
        t.diagnostic(`${target}: ${stats.execs} execs, cov ${stats.initialCoverage} -> ${stats.coverage}, ft ${stats.features}`);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    });
  }
});
