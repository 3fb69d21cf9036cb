// The benchmark contract: each bench/*.bench.ts exports `bench`, which measures its subject and a
// baseline in the same run and reports ratios; bench/run.ts prints them and writes docs/benchmarks.md.

export interface BenchFigure {
  /** What was measured, e.g. "validate 10,000 user files (with cross-file checks)". */
  name: string;
  /** The measured value. */
  value: number;
  /** Unit of value, e.g. "ms", "files/s", "MiB". */
  unit: string;
  /** The baseline measured in the same run, in the same unit, and what it is. */
  baseline?: { name: string; value: number };
  /** The goal, as the issue states it, e.g. "< 2000 ms"; shown beside the figure (never asserted in tests). */
  goal?: string;
  /** Whether the goal was met in this run, when it has one. */
  met?: boolean;
}

export interface Bench {
  /** Section title in docs/benchmarks.md. */
  title: string;
  /** One paragraph: what is measured, on what input, against which baseline. */
  description: string;
  run(): Promise<BenchFigure[]>;
}
