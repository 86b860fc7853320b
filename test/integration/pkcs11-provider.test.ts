import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pkcs11js from 'pkcs11js';
import { DataKey } from '../../src/index.js';
import { Pkcs11KeyProvider } from '../../src/kms/pkcs11/index.js';
import { runKeyProviderSuite } from '../../src/testing/index.js';
import {
  createSoftHsmToken,
  SKIP_PKCS11,
  SOFTHSM_LIBRARY,
  type SoftHsmToken,
} from './softhsm-token.js';

// Server: SoftHSM2 (apt-get install -y softhsm2), a fresh token in a temporary directory.
const ctx = Object.freeze({ tenant: 'acme', key: 'default', version: '1' });
const PIN_ENV = 'FIELDSEAL_TEST_HSM_PIN';

let token: SoftHsmToken;
/** Kept open for the whole file so the library stays initialised between tests. */
let admin: Pkcs11KeyProvider;

function provider(options: Partial<ConstructorParameters<typeof Pkcs11KeyProvider>[0]> = {}) {
  return new Pkcs11KeyProvider({
    library: SOFTHSM_LIBRARY,
    tokenLabel: token.label,
    pin: { env: PIN_ENV },
    ...options,
  });
}

describe.skipIf(SKIP_PKCS11)('Pkcs11KeyProvider on SoftHSM2', () => {
  beforeAll(async () => {
    token = createSoftHsmToken('fieldseal-test', ['fieldseal-pin']);
    process.env[PIN_ENV] = token.pin;
    admin = provider();
    await admin.init();
    expect(await admin.createMasterKey('mk-a')).toBe('created');
    expect(await admin.createMasterKey('mk-b')).toBe('created');
    expect(await admin.createMasterKey('mk-a')).toBe('existing');
  });

  afterAll(async () => {
    await admin?.close();
    token?.cleanup();
    delete process.env[PIN_ENV];
  });

  runKeyProviderSuite({ describe, it, beforeAll, afterAll }, 'Pkcs11KeyProvider (SoftHSM2)', () => {
    const p = provider({ sessions: 2 });
    return Promise.resolve({
      provider: p,
      masterKeys: ['mk-a', 'mk-b'] as const,
      unknownMasterKey: 'mk-missing',
      teardown: () => p.close(),
    });
  });

  it('wraps into the documented 61-byte form: version 1, fresh IV per wrap', async () => {
    const key = DataKey.fromBytes(Buffer.alloc(32, 9));
    try {
      const a = Buffer.from(await admin.wrapDataKey('mk-a', key, ctx));
      const b = Buffer.from(await admin.wrapDataKey('mk-a', key, ctx));
      expect(a.byteLength).toBe(61);
      expect(a[0]).toBe(0x01);
      expect(a.subarray(1, 13)).not.toEqual(b.subarray(1, 13));
      // The data key never appears in the wrapped form.
      expect(a.includes(Buffer.alloc(32, 9))).toBe(false);
      // Another label bound in the AAD: a copy of the same wrapped bytes fails under mk-b.
      await expect(admin.unwrapDataKey('mk-b', a, ctx)).rejects.toMatchObject({
        code: 'ERR_KEY_UNWRAP_FAILED',
      });
      await expect(admin.unwrapDataKey('mk-a', a.subarray(0, 60), ctx)).rejects.toMatchObject({
        code: 'ERR_KEY_UNWRAP_FAILED',
      });
    } finally {
      key.release();
    }
  });

  it('the master key object is sensitive and non-extractable: CKA_VALUE cannot be read', async () => {
    await admin.init(); // keeps a logged-in session open, which this raw session shares
    const lib = new pkcs11js.PKCS11();
    lib.load(SOFTHSM_LIBRARY);
    try {
      lib.C_Initialize();
    } catch (err) {
      expect((err as Error).message).toBe('CKR_CRYPTOKI_ALREADY_INITIALIZED');
    }
    const slot = lib
      .C_GetSlotList(true)
      .find((s) => lib.C_GetTokenInfo(s).label.trim() === token.label);
    expect(slot).toBeDefined();
    const session = lib.C_OpenSession(slot!, pkcs11js.CKF_SERIAL_SESSION);
    try {
      lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: 'mk-a' }]);
      const [handle] = lib.C_FindObjects(session, 2);
      lib.C_FindObjectsFinal(session);
      expect(handle).toBeDefined();
      expect(() =>
        lib.C_GetAttributeValue(session, handle!, [{ type: pkcs11js.CKA_VALUE }]),
      ).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
      const attrs = lib.C_GetAttributeValue(session, handle!, [
        { type: pkcs11js.CKA_EXTRACTABLE },
        { type: pkcs11js.CKA_SENSITIVE },
        { type: pkcs11js.CKA_NEVER_EXTRACTABLE },
        { type: pkcs11js.CKA_TOKEN },
        { type: pkcs11js.CKA_VALUE_LEN },
      ]);
      const bool = (i: number) => (attrs[i]?.value as Buffer)[0];
      expect([bool(0), bool(1), bool(2), bool(3)]).toEqual([0, 1, 1, 1]);
      expect((attrs[4]?.value as Buffer).readUInt32LE(0)).toBe(32);
    } finally {
      lib.C_CloseSession(session);
    }
  });

  it('refuses a label that names an extractable key', async () => {
    const lib = new pkcs11js.PKCS11();
    lib.load(SOFTHSM_LIBRARY);
    try {
      lib.C_Initialize();
    } catch {
      // shared with the providers of this file
    }
    const slot = lib
      .C_GetSlotList(true)
      .find((s) => lib.C_GetTokenInfo(s).label.trim() === token.label)!;
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: false },
        { type: pkcs11js.CKA_EXTRACTABLE, value: true },
        { type: pkcs11js.CKA_ENCRYPT, value: true },
        { type: pkcs11js.CKA_DECRYPT, value: true },
        { type: pkcs11js.CKA_LABEL, value: 'mk-weak' },
      ]);
    } finally {
      lib.C_CloseSession(session);
    }
    const p = provider();
    try {
      await expect(p.generateDataKey('mk-weak', ctx)).rejects.toMatchObject({
        code: 'ERR_INVALID_KEY_MATERIAL',
      });
      await expect(p.createMasterKey('mk-weak')).rejects.toMatchObject({
        code: 'ERR_INVALID_KEY_MATERIAL',
      });
    } finally {
      await p.close();
    }
  });

  it('a wrong PIN is ERR_PROVIDER_UNAVAILABLE naming CKR_PIN_INCORRECT, never the PIN, and is not retried', async () => {
    const wrong = '99887766';
    let asked = 0;
    // A token of its own: login state is per process and token, so a token another provider
    // of this process is logged in to would not check the PIN at all.
    const p = provider({
      tokenLabel: 'fieldseal-pin',
      pin: {
        pin: () => {
          asked++;
          return Promise.resolve(wrong);
        },
      },
    });
    try {
      const err = await p.init().catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 'ERR_PROVIDER_UNAVAILABLE',
        message: 'PKCS#11 C_Login failed: CKR_PIN_INCORRECT',
      });
      for (const text of [inspect(err, { depth: 8 }), JSON.stringify(err), String(err)]) {
        expect(text).not.toContain(wrong);
      }
      // Latched: no second login attempt counting towards the token's lock-out.
      await expect(p.generateDataKey('mk-a', ctx)).rejects.toMatchObject({
        message: 'PKCS#11 C_Login failed: CKR_PIN_INCORRECT',
      });
      expect(asked).toBe(1);
    } finally {
      await p.close();
    }
  });

  it('configuration failures are typed: unset PIN variable, unknown token, missing library', async () => {
    const noPin = provider({
      tokenLabel: 'fieldseal-pin',
      pin: { env: 'FIELDSEAL_TEST_NO_SUCH_PIN' },
    });
    await expect(noPin.init()).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { reference: 'FIELDSEAL_TEST_NO_SUCH_PIN' },
    });
    await noPin.close();
    const noToken = provider({ tokenLabel: 'no-such-token' });
    await expect(noToken.init()).rejects.toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    await noToken.close();
    const noLib = provider({ library: '/nonexistent/libpkcs11.so' });
    await expect(noLib.init()).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
      message: 'cannot load the PKCS#11 library /nonexistent/libpkcs11.so',
    });
    await noLib.close();
    expect(() => provider({ sessions: 0 })).toThrow(RangeError);
    expect(() => provider({ pin: {} as never })).toThrow(TypeError);
  });

  it('when the token drops every session, the pool replaces them and logs in again', async () => {
    let asked = 0;
    const p = provider({
      sessions: 1,
      pin: {
        pin: () => {
          asked++;
          return token.pin;
        },
      },
    });
    const { key, wrapped } = await p.generateDataKey('mk-a', ctx);
    key.release();
    const lib = new pkcs11js.PKCS11();
    lib.load(SOFTHSM_LIBRARY);
    try {
      lib.C_Initialize();
    } catch {
      // shared with the providers of this file
    }
    const slot = lib
      .C_GetSlotList(true)
      .find((s) => lib.C_GetTokenInfo(s).label.trim() === token.label)!;
    lib.C_CloseAllSessions(slot); // every session of this process: the login is gone too
    try {
      // The dead idle session is detected at checkout and replaced; the PIN is read again.
      const back = await p.unwrapDataKey('mk-a', wrapped, ctx);
      back.release();
      expect(asked).toBe(1); // no login before (admin's login was shared), one after
    } finally {
      await p.close();
    }
    // The file's other provider lost its sessions too and recovers the same way.
    (await admin.unwrapDataKey('mk-a', wrapped, ctx)).release();
  });

  it('after close, calls fail closed with ERR_PROVIDER_UNAVAILABLE', async () => {
    const p = provider();
    const { key, wrapped } = await p.generateDataKey('mk-a', ctx);
    key.release();
    await p.close();
    await expect(p.unwrapDataKey('mk-a', wrapped, ctx)).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
      message: 'the PKCS#11 key provider is closed',
    });
    // Other providers of the process keep the library.
    const back = await admin.unwrapDataKey('mk-a', wrapped, ctx);
    back.release();
  });
});
