import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import {
  detectRequirements,
  missing,
  PRISMA6_DIR,
  REQUIRE_ALL_ENV,
  requireAllError,
  summary,
} from './requirements.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A directory private to this run (test/integration/dynamodb-local.ts keeps its state there). */
    fieldsealRunDir: string;
  }
}

/**
 * Detects once what the optional suites need (SoftHSM2, Java, a PostgreSQL server; see
 * ./requirements.ts) and provides it to the test files, which skip what cannot run; the
 * teardown prints one summary of those skips. Under FIELDSEAL_REQUIRE_ALL=1 a missing
 * requirement fails the run here.
 *
 * The CLI tests run the built CLI (dist/), exactly as users do: build it first, unless dist/ is
 * already up to date with src/ (see distStaleReason; `npm ci` and CI's `npm run build` have just
 * built it). A stale dist/ is always rebuilt.
 *
 * The teardown also stops the one DynamoDB Local the run's files shared, if one was started.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  // `java -version` runs while the build does.
  const detecting = detectRequirements();
  // Escape hatch for working on tests that do not use dist/ while the tree does not build.
  if (process.env.FIELDSEAL_TEST_NO_BUILD !== '1') {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const stale = distStaleReason(root);
    if (stale === undefined) {
      console.log('dist/ is up to date with src/: not rebuilt');
    } else {
      console.log(`building dist/ (${stale})`);
      execFileSync(
        process.execPath,
        [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'],
        {
          cwd: root,
          stdio: 'inherit',
        },
      );
    }
  }
  // The Prisma clients of fieldseal/prisma's tests and example, when a schema changed since
  // they were generated (`npm ci` generates the tests' one).
  execFileSync(
    process.execPath,
    [
      fileURLToPath(new URL('../scripts/prisma-generate.mjs', import.meta.url)),
      'test/integration/prisma/schema.prisma',
      'examples/prisma/schema.prisma',
    ],
    { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: 'inherit' },
  );
  const requirements = await detecting;
  // The same test schema under Prisma 6, when test/prisma6 is installed.
  if (existsSync(join(PRISMA6_DIR, 'node_modules', 'prisma', 'package.json'))) {
    execFileSync(
      process.execPath,
      [
        fileURLToPath(new URL('../scripts/prisma-generate.mjs', import.meta.url)),
        '--prisma',
        PRISMA6_DIR,
        'test/integration/prisma/schema.prisma',
      ],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: 'inherit' },
    );
  }
  const absent = missing(requirements);
  if (absent.length > 0 && process.env[REQUIRE_ALL_ENV] === '1') throw requireAllError(absent);
  project.provide('fieldsealRequirements', requirements);
  const runDir = mkdtempSync(join(tmpdir(), 'fieldseal-test-run-'));
  project.provide('fieldsealRunDir', runDir);
  const watchdog = startWatchdog(runDir);
  return () => {
    stopSharedDynamoLocal(runDir);
    rmSync(runDir, { recursive: true, force: true });
    try {
      if (watchdog !== undefined) process.kill(watchdog, 'SIGKILL');
    } catch {
      // already gone
    }
    console.log(summary(requirements));
  };
}

/**
 * A run killed before its teardown (SIGKILL, a CI time-out) must not leave the shared DynamoDB
 * Local running, nor the run's directory behind: a detached shell waits for this process to
 * end, then does what the teardown would have. The teardown kills it. Returns its PID.
 */
function startWatchdog(runDir: string): number | undefined {
  const script = [
    'while kill -0 "$1" 2>/dev/null; do sleep 2; done',
    'if [ -f "$2/dynamodb-local.pid" ]; then kill -9 "$(cat "$2/dynamodb-local.pid")" 2>/dev/null; fi',
    'rm -rf "$2"',
  ].join('\n');
  const child = spawn(
    'sh',
    ['-c', script, 'fieldseal-test-watchdog', String(process.pid), runDir],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  child.on('error', () => undefined); // no sh: the teardown still cleans up a normal run
  child.unref();
  return child.pid;
}

/** Kill the DynamoDB Local that test/integration/dynamodb-local.ts started for the run, if any. */
function stopSharedDynamoLocal(runDir: string): void {
  let pid: number;
  try {
    // Written by dynamodb-local.ts; not imported: that module needs the vitest runtime.
    pid = Number(readFileSync(join(runDir, 'dynamodb-local.pid'), 'utf8'));
  } catch {
    return; // no file of the run used DynamoDB Local
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/**
 * Why dist/ under `root` must be rebuilt, or undefined when it was built from the current src/.
 * `tsc -p tsconfig.build.json` rewrites every output on each build, so dist/ is up to date when
 * its oldest output (the .js and .d.ts of every source) is newer than the newest input: any
 * file under src/, both tsconfigs, the installed TypeScript. An edited, added or checked-out
 * source (git sets the mtime of what it writes) makes it stale, and so does a missing output.
 */
export function distStaleReason(root: string): string | undefined {
  const src = join(root, 'src');
  const inputs = [
    ...filesUnder(src),
    join(root, 'tsconfig.json'),
    join(root, 'tsconfig.build.json'),
    join(root, 'node_modules', 'typescript', 'package.json'),
  ];
  let newestInput = 0;
  let newestName = '';
  const outputs: string[] = [];
  for (const input of inputs) {
    const mtime = statSync(input).mtimeMs;
    if (mtime > newestInput) [newestInput, newestName] = [mtime, input];
    const rel = relative(src, input);
    if (!rel.startsWith('..') && rel.endsWith('.ts') && !rel.endsWith('.d.ts')) {
      const base = join(root, 'dist', rel.slice(0, -'.ts'.length));
      outputs.push(`${base}.js`, `${base}.d.ts`);
    }
  }
  let oldestOutput = Infinity;
  for (const output of outputs) {
    let mtime: number;
    try {
      mtime = statSync(output).mtimeMs;
    } catch {
      return `${relative(root, output)} is missing`;
    }
    oldestOutput = Math.min(oldestOutput, mtime);
  }
  if (oldestOutput <= newestInput) {
    return `${relative(root, newestName)} is newer than dist/`;
  }
  return undefined;
}
