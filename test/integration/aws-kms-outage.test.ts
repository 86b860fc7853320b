import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, isFieldsealError } from '../../src/index.js';
import { startAwsKmsFixture, type AwsKmsFixture } from '../loopback/aws-kms-fixture.js';

// Server: test/loopback/aws-kms-server.ts (in-process, 127.0.0.1:0) through the real SDK client.

// The issue asks for a 30-second outage under steady load.
const OUTAGE_MS = 30_000;
const WORKERS = 8;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('AWS KMS outage under steady load', () => {
  let f: AwsKmsFixture;
  beforeAll(async () => {
    f = await startAwsKmsFixture();
  });
  afterAll(() => f.close());

  it(
    'writes commit encrypted or fail before the store; zero plaintext; recovery within 5 s',
    { timeout: 120_000 },
    async () => {
      const [mk] = await f.tenants('outage');
      const fs = createFieldseal({
        // Production-like retry settings, a short per-attempt timeout for hung requests.
        provider: f.provider({
          retry: { baseDelayMs: 50, maxDelayMs: 1000, attemptTimeoutMs: 500 },
        }),
        keys: { mode: 'embedded', masterKeyId: mk! },
        // A short cache and 40 tenants keep KMS on the write path all the time.
        cache: { maxAgeMs: 200 },
      });
      const store = new Map<string, { value: string; tenant: string; stored: string }>();
      const log: { at: number; ok: boolean }[] = [];
      let n = 0;
      let stop = false;
      const worker = async () => {
        while (!stop) {
          const i = n++;
          const tenant = `w${i % 40}`;
          const value = `plaintext-${i}-521-44-8790`;
          const context = { tenant, table: 'users', field: 'ssn', record: `r${i}` };
          try {
            const stored = await fs.encrypt(value, context);
            store.set(`r${i}`, { value, tenant, stored }); // the "database" write
            log.push({ at: Date.now(), ok: true });
            await sleep(25); // steady load: about 300 writes/s over 8 workers
          } catch (err) {
            expect(isFieldsealError(err) && err.code).toBe('ERR_PROVIDER_UNAVAILABLE');
            expect(store.has(`r${i}`)).toBe(false);
            log.push({ at: Date.now(), ok: false });
            await sleep(20);
          }
        }
      };
      const workers = Array.from({ length: WORKERS }, worker);
      await sleep(1000);
      const outageStart = Date.now();
      f.kms.faults.inject('drop', { times: Infinity, probability: 0.3 });
      f.kms.faults.inject('hang', { times: Infinity, probability: 0.2 });
      f.kms.faults.inject('server-error', { times: Infinity });
      await sleep(OUTAGE_MS);
      f.kms.faults.clear();
      const back = Date.now();
      await sleep(3500);
      stop = true;
      await Promise.all(workers);

      const during = log.filter((e) => e.at > outageStart + 1600 && e.at < back);
      expect(during.length).toBeGreaterThan(0);
      expect(during.every((e) => !e.ok)).toBe(true); // no write succeeded without KMS
      const firstOk = log.find((e) => e.at >= back && e.ok);
      expect(firstOk).toBeDefined();
      const recoveryMs = firstOk!.at - back;
      expect(recoveryMs).toBeLessThan(5000);
      // Once recovered, every later write succeeded.
      expect(log.filter((e) => e.at > firstOk!.at + 1600).every((e) => e.ok)).toBe(true);
      // Zero plaintext in the store; everything stored decrypts to what was written.
      for (const { value, tenant, stored } of store.values()) {
        expect(stored.startsWith('fs1:')).toBe(true);
        expect(stored).not.toContain(value);
        expect(stored).not.toContain(tenant + ':');
      }
      const entries = [...store];
      for (let at = 0; at < entries.length; at += 40) {
        await Promise.all(
          entries.slice(at, at + 40).map(async ([record, { value, tenant, stored }]) => {
            const context = { tenant, table: 'users', field: 'ssn', record };
            expect(await fs.decrypt(stored, context)).toBe(value);
          }),
        );
      }
      console.log(
        `outage ${OUTAGE_MS} ms: ${log.length} writes, ${log.filter((e) => !e.ok).length} failed ` +
          `(ERR_PROVIDER_UNAVAILABLE), ${store.size} committed encrypted; recovered in ${recoveryMs} ms`,
      );
    },
  );
});
