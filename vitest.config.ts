import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The files that take longest (tens of seconds each: CLI and packaging runs, the backfill under
 * SIGKILL, the 30-second KMS outage), started first so that no worker is left running one of
 * them alone at the end. Vitest orders the rest by the durations of the previous run (when its
 * cache has them: not on a fresh clone, such as CI's), longest first.
 */
const SLOW_FIRST = [
  'test/integration/cli.test.ts',
  'test/integration/packaging.test.ts',
  'test/integration/backfill-kill.test.ts',
  'test/integration/aws-kms-outage.test.ts',
  'test/integration/backfill-cli.test.ts',
  'test/integration/audit-cli.test.ts',
  'test/integration/dynamodb-key-store.test.ts',
  'test/integration/dynamodb-blind-index.test.ts',
  'test/integration/audit-tamper.test.ts',
  'test/integration/dynamodb-conformance.test.ts',
  'test/integration/backfill.test.ts',
  'test/integration/doctor-providers.test.ts',
];

class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification): number => {
      const i = SLOW_FIRST.findIndex((name) => spec.moduleId.endsWith(name));
      return i === -1 ? SLOW_FIRST.length : i;
    };
    // Array.prototype.sort is stable: the rest keep Vitest's order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}

/** Options both projects share. */
const shared = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
  // WebAssembly (PGlite's PostgreSQL) compiled once by the baseline compiler, never again
  // by the optimizing one in the background: a test file uses each database briefly, and the
  // second compile cost more CPU than it saved (about 2 s per file that opens a PGlite).
  execArgv: ['--liftoff-only'],
};

export default defineConfig({
  test: {
    // Runs once for the whole run (both projects), and provides to both.
    globalSetup: ['test/global-setup.ts'],
    // Vitest's default is one worker fewer than the cores: one worker on the 2-core machines
    // this project runs on, where many files mostly wait (on servers, child processes, timers).
    maxWorkers: 2,
    sequence: { sequencer: SlowFirstSequencer },
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/vectors/**/*.test.ts'],
          // In-process tests of the library that restore what they change (the prototype
          // pollution test cleans up after each test): one process and one module graph per
          // worker instead of one per file, which halved the CPU time of these 50 files.
          isolate: false,
        },
      },
      {
        test: {
          ...shared,
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**', 'test/vectors/**'],
          // Servers, child processes, environment variables, SoftHSM2 tokens: a process each.
          isolate: true,
        },
      },
    ],
  },
});
