// Issue #11, defect 10, measured on the real AWS SDK against the loopback KMS at default
// settings: requests hang during an outage; once KMS answers again, every new call succeeds
// without waiting for the loads still stuck on hung attempts (target: within 1 s).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal } from '../../src/index.js';
import { startAwsKmsFixture, type AwsKmsFixture } from '../loopback/aws-kms-fixture.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('AWS KMS: recovery after an outage of hung requests', () => {
  let f: AwsKmsFixture;
  beforeAll(async () => {
    f = await startAwsKmsFixture();
  });
  afterAll(() => f.close());

  it('new calls succeed at once when KMS is back, while loads from the outage still hang', async () => {
    const [mk] = await f.tenants('recovery');
    const fs = createFieldseal({
      // The provider's production defaults (the fixture's are shorter): 3 attempts, 5 s each.
      provider: f.provider({
        retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 1000, attemptTimeoutMs: 5000 },
      }),
      keys: { mode: 'embedded', masterKeyId: mk! },
      cache: { maxAgeMs: 60_000 }, // defaults: maxJoinWaitMs 250, providerTimeoutMs 10,000
    });
    const tenants = ['t1', 't2', 't3', 't4'];
    const ctx = (tenant: string, i: number) => ({
      tenant,
      table: 'users',
      field: 'ssn',
      record: `r${i}`,
    });
    const stored = await Promise.all(tenants.map((t) => fs.encrypt(`v-${t}`, ctx(t, 0))));
    fs.clearCache();
    // The outage: every request hangs.
    f.kms.faults.inject('hang', { times: Infinity });
    const inOutage = tenants.map((t, i) =>
      fs.decrypt(stored[i]!, ctx(t, 0)).then(
        () => 'ok',
        (err: { code?: string }) => err.code,
      ),
    );
    let outageSettled = 0;
    for (const p of inOutage) void p.then(() => outageSettled++);
    await sleep(300);
    f.kms.faults.clear(); // KMS answers again
    const back = performance.now();
    const latencies = await Promise.all(
      Array.from({ length: 20 }, async (_, k) => {
        const i = k % tenants.length;
        expect(await fs.decrypt(stored[i]!, ctx(tenants[i]!, 0))).toBe(`v-${tenants[i]}`);
        return performance.now() - back;
      }),
    );
    const worst = Math.max(...latencies);
    console.log(
      `after the outage: 20 new calls over ${tenants.length} tenants all succeeded, slowest ${worst.toFixed(0)} ms after KMS came back; ${outageSettled} of ${inOutage.length} outage-time calls had settled by then`,
    );
    // Ordering, not timing: the new calls did not wait for the hung loads.
    expect(outageSettled).toBe(0);
    await Promise.all(inOutage);
    fs.close();
  }, 60_000);
});
