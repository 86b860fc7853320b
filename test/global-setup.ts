import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import {
  detectRequirements,
  missing,
  REQUIRE_ALL_ENV,
  requireAllError,
  summary,
} from './requirements.js';

/**
 * Detects once what the optional suites need (SoftHSM2, Java, a PostgreSQL server; see
 * ./requirements.ts) and provides it to the test files, which skip what cannot run; the
 * teardown prints one summary of those skips. Under FIELDSEAL_REQUIRE_ALL=1 a missing
 * requirement fails the run here.
 *
 * The CLI tests run the built CLI (dist/), exactly as users do: build it once first.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  // `java -version` runs while the build does.
  const detecting = detectRequirements();
  // Escape hatch for working on tests that do not use dist/ while the tree does not build.
  if (process.env.FIELDSEAL_TEST_NO_BUILD !== '1') {
    const root = fileURLToPath(new URL('..', import.meta.url));
    execFileSync(
      process.execPath,
      [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'],
      {
        cwd: root,
        stdio: 'inherit',
      },
    );
  }
  const requirements = await detecting;
  const absent = missing(requirements);
  if (absent.length > 0 && process.env[REQUIRE_ALL_ENV] === '1') throw requireAllError(absent);
  project.provide('fieldsealRequirements', requirements);
  return () => {
    console.log(summary(requirements));
  };
}
