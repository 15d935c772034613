// Types of run.mjs for the TypeScript test that drives it.
export interface FuzzStats {
  execs: number;
  initialCoverage: number;
  coverage: number;
  features: number;
  corpus: number;
}

export interface FuzzRun {
  code: number | null;
  output: string;
  stats: FuzzStats | undefined;
}

export declare const TARGETS: readonly string[];

export declare function runFuzzer(options: {
  target: string;
  seconds: number;
  corpusDir: string;
  seedDirs?: string[];
  artifactPrefix: string;
}): Promise<FuzzRun>;
