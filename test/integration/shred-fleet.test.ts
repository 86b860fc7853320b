import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, EnvSecretSource, LocalKeyProvider } from '../../src/index.js';
import {
  PostgresKeyStore,
  fromPgPool,
  migrate,
  postgresKeyEvents,
  postgresAuditSink,
  verifyAuditChain,
} from '../../src/postgres/index.js';
import { PG_URL, serverSchema } from './pg-env.js';

const CHILD = fileURLToPath(new URL('../fixtures/shred-listener.mjs', import.meta.url));

describe.skipIf(PG_URL === undefined)('fleet-wide shred over LISTEN/NOTIFY (two processes)', () => {
  let env: Awaited<ReturnType<typeof serverSchema>>;
  beforeAll(async () => {
    env = await serverSchema();
    await migrate(fromPgPool(env.pool(1)));
  });
  afterAll(async () => {
    await env.close();
  });

  it('another process with a warm 10-minute cache fails with ERR_KEY_SHREDDED within one second', async () => {
    const masterHex = randomBytes(32).toString('hex');
    const pool = env.pool(3);
    const sql = fromPgPool(pool);
    const events = postgresKeyEvents(pool);
    const fs = createFieldseal({
      admin: true,
      provider: new LocalKeyProvider({
        source: new EnvSecretSource({ keys: { master: 'M' }, env: { M: `hex:${masterHex}` } }),
      }),
      keys: {
        mode: 'store',
        store: new PostgresKeyStore({ sql: fromPgPool(pool) }),
        masterKeyId: 'master',
      },
      cache: { maxAgeMs: 600_000 },
      keyEvents: events,
      audit: postgresAuditSink(sql),
      actor: 'ops@example',
    });
    const other = `other-${randomBytes(4).toString('hex')}`;
    await fs.provisionTenant(other);
    const otherContext = { tenant: other, table: 'users', field: 'ssn', record: 'r1' };
    const otherStored = await fs.encrypt('987-65-4321', otherContext);
    const tenant = `fleet-${randomBytes(4).toString('hex')}`;
    await fs.provisionTenant(tenant);
    const stored = await fs.encrypt('123-45-6789', {
      tenant,
      table: 'users',
      field: 'ssn',
      record: 'r1',
    });

    const child = spawn(process.execPath, [CHILD], {
      env: {
        ...process.env,
        PG_URL,
        SCHEMA: env.schema,
        TENANT: tenant,
        STORED: stored,
        MASTER_HEX: masterHex,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const lines = (async function* () {
      for await (const chunk of child.stdout) {
        out += (chunk as Buffer).toString();
        while (out.includes('\n')) {
          const i = out.indexOf('\n');
          yield out.slice(0, i);
          out = out.slice(i + 1);
        }
      }
    })();
    try {
      expect((await lines.next()).value, err).toBe('READY');
      const shredAt = Date.now();
      const receipt = await fs.shredTenant(tenant);
      expect(receipt.versions).toHaveLength(1);
      const line = String((await lines.next()).value);
      expect(line, err).toMatch(/^SHREDDED \d+$/);
      const latency = Number(line.split(' ')[1]) - shredAt;
      console.log(`shred reached the other process after ${latency} ms`);
      expect(latency).toBeLessThan(1000);
      // Other tenants are untouched.
      expect(await fs.decrypt(otherStored, otherContext)).toBe('987-65-4321');
      // The audit chain holds the erasure receipt, and verifies.
      const chain = await verifyAuditChain(sql);
      expect(chain.ok).toBe(true);
      const { rows } = await sql.query<{
        operation: string;
        tenant: string;
        actor: string;
        detail: unknown;
      }>("SELECT operation, tenant, actor, detail FROM fieldseal_audit WHERE operation = 'shred'");
      expect(rows).toEqual([
        {
          operation: 'shred',
          tenant,
          actor: 'ops@example',
          detail: {
            versions: [{ keyId: 'default', version: 1 }],
            // Its master key survives: its embedded envelopes are refused, not destroyed.
            embeddedEnvelopes: 'refused',
            // One local master key shared by every tenant: never destroyed for one tenant.
            masterKeys: [
              {
                providerId: 'local',
                masterKeyId: 'master',
                state: 'kept',
                reason: 'not declared dedicated to this tenant (keys.dedicatedMasterKeys)',
              },
            ],
          },
        },
      ]);
    } finally {
      child.kill();
      fs.close();
      await events.close();
    }
  });
});
