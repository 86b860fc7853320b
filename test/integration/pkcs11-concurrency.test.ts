import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataKey } from '../../src/index.js';
import { Pkcs11KeyProvider } from '../../src/kms/pkcs11/index.js';
import {
  createSoftHsmToken,
  SKIP_PKCS11,
  SOFTHSM_LIBRARY,
  type SoftHsmToken,
} from './softhsm-token.js';

// Server: SoftHSM2 (apt-get install -y softhsm2), a fresh token in a temporary directory.
const PIN_ENV = 'FIELDSEAL_TEST_HSM_PIN_CONCURRENCY';
let token: SoftHsmToken;
let provider: Pkcs11KeyProvider;

describe.skipIf(SKIP_PKCS11)('Pkcs11KeyProvider under concurrency (SoftHSM2)', () => {
  beforeAll(async () => {
    token = createSoftHsmToken();
    process.env[PIN_ENV] = token.pin;
    provider = new Pkcs11KeyProvider({
      library: SOFTHSM_LIBRARY,
      tokenLabel: token.label,
      pin: { env: PIN_ENV },
      sessions: 4,
    });
    await provider.createMasterKey('mk-a');
    await provider.createMasterKey('mk-b');
  });

  afterAll(async () => {
    await provider?.close();
    token?.cleanup();
    delete process.env[PIN_ENV];
  });

  it('500 concurrent wraps and 500 concurrent unwraps through the session pool all round-trip', async () => {
    const n = 500;
    const keys = Array.from({ length: n }, (_, i) => {
      const bytes = Buffer.alloc(32, i & 0xff);
      bytes.writeUInt32BE(i, 0);
      return bytes;
    });
    const ctxOf = (i: number) => ({ tenant: `t${i % 7}`, key: 'default', version: String(i) });
    const mkOf = (i: number) => (i % 2 === 0 ? 'mk-a' : 'mk-b');
    const wrapped = await Promise.all(
      keys.map(async (bytes, i) => {
        const key = DataKey.fromBytes(bytes);
        try {
          return await provider.wrapDataKey(mkOf(i), key, ctxOf(i));
        } finally {
          key.release();
        }
      }),
    );
    expect(new Set(wrapped.map((w) => Buffer.from(w).toString('hex'))).size).toBe(n);
    // Unwraps interleaved with bad ones: failures must not poison the sessions others use.
    const results = await Promise.allSettled(
      wrapped.flatMap((w, i) => [
        provider.unwrapDataKey(mkOf(i), w, ctxOf(i)),
        provider.unwrapDataKey(mkOf(i + 1), w, ctxOf(i)),
      ]),
    );
    for (let i = 0; i < n; i++) {
      const good = results[2 * i];
      const bad = results[2 * i + 1];
      expect(good?.status).toBe('fulfilled');
      if (good?.status === 'fulfilled') {
        expect(Buffer.from(good.value.exposeBytes())).toEqual(keys[i]);
        good.value.release();
      }
      expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'ERR_KEY_UNWRAP_FAILED' } });
    }
  });

  it('close() waits for operations under way; later calls fail closed, the library stays usable', async () => {
    const second = new Pkcs11KeyProvider({
      library: SOFTHSM_LIBRARY,
      tokenLabel: token.label,
      pin: { env: PIN_ENV },
      sessions: 2,
    });
    const key = DataKey.fromBytes(Buffer.alloc(32, 5));
    const ctx = { tenant: 'acme', key: 'default', version: '1' };
    try {
      const running = Promise.allSettled(
        Array.from({ length: 100 }, () => second.wrapDataKey('mk-a', key, ctx)),
      );
      await new Promise((resolve) => setImmediate(resolve));
      await second.close();
      const settled = await running;
      expect(settled.some((r) => r.status === 'rejected')).toBe(true);
      const done = settled.filter((r) => r.status === 'fulfilled');
      for (const r of settled) {
        if (r.status === 'rejected') {
          expect(r.reason).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
        }
      }
      // Whatever finished before the close is a real wrapped key.
      for (const r of done) {
        const back = await provider.unwrapDataKey('mk-a', r.value, ctx);
        expect(Buffer.from(back.exposeBytes())).toEqual(Buffer.alloc(32, 5));
        back.release();
      }
      await expect(second.wrapDataKey('mk-a', key, ctx)).rejects.toMatchObject({
        code: 'ERR_PROVIDER_UNAVAILABLE',
      });
    } finally {
      key.release();
    }
  });

  it('throughput: wraps per second, sequential and 32 in flight', async () => {
    const key = DataKey.fromBytes(Buffer.alloc(32, 3));
    const ctx = { tenant: 'acme', key: 'default', version: '1' };
    try {
      const seqN = 2_000;
      let t = performance.now();
      for (let i = 0; i < seqN; i++) await provider.wrapDataKey('mk-a', key, ctx);
      const sequential = (seqN / (performance.now() - t)) * 1000;

      const parN = 8_000;
      let next = 0;
      t = performance.now();
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next++ < parN) await provider.wrapDataKey('mk-a', key, ctx);
        }),
      );
      const parallel = (parN / (performance.now() - t)) * 1000;
      const wrapped = await provider.wrapDataKey('mk-a', key, ctx);
      const unN = 2_000;
      t = performance.now();
      for (let i = 0; i < unN; i++) (await provider.unwrapDataKey('mk-a', wrapped, ctx)).release();
      const unwraps = (unN / (performance.now() - t)) * 1000;
      console.log(
        `PKCS#11 (SoftHSM2) throughput: ${Math.round(sequential)} wraps/s sequential, ` +
          `${Math.round(parallel)} wraps/s with 32 in flight over 4 sessions, ` +
          `${Math.round(unwraps)} unwraps/s sequential`,
      );
      expect(sequential).toBeGreaterThan(100);
      expect(parallel).toBeGreaterThan(100);
    } finally {
      key.release();
    }
  });
});
