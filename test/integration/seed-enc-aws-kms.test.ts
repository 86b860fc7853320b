/**
 * Seed (pydynox) `ENC:` values written exactly as pydynox writes them — the REAL
 * @aws-sdk/client-kms `GenerateDataKey` (AES_256, with the attribute's encryption context),
 * local AES-256-GCM with a 12-byte nonce and no AAD, `0x01 | u16be n | CiphertextBlob | nonce |
 * ciphertext+tag`, `ENC:` + standard base64 — then opened through fieldseal's AwsKmsKeyProvider.
 *
 * Server: test/loopback/aws-kms-server.ts, an in-process loopback KMS on 127.0.0.1:0 started by
 * startAwsKmsFixture() (test/loopback/aws-kms-fixture.ts), reached through the real SDK client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantMasterKeyAlias } from '../../src/kms/aws/index.js';
import { openSeedValues, parseSeedValue } from '../../src/dynamodb/seed-format/index.js';
import { startAwsKmsFixture, type AwsKmsFixture } from '../loopback/aws-kms-fixture.js';
import { pydynoxEncrypt as writeSeedValue } from '../loopback/pydynox-writer.js';

const PII = { tenant: 'acme-corp', purpose: 'pii' };

/** pydynox `execute_encrypt`: one GenerateDataKey per value, then local AES-256-GCM. */
const pydynoxEncrypt = (
  f: AwsKmsFixture,
  keyId: string,
  context: Record<string, string>,
  plaintext: string,
): Promise<string> => writeSeedValue(f.admin, keyId, context, plaintext);

describe('seed ENC: values from the real KMS SDK, opened by AwsKmsKeyProvider', () => {
  let f: AwsKmsFixture;
  beforeAll(async () => {
    f = await startAwsKmsFixture();
    await f.tenants('seed-pydynox', 'seed-disabled');
  });
  afterAll(() => f.close());

  it('opens values written with GenerateDataKey + the attribute context, one Decrypt each', async () => {
    const mk = tenantMasterKeyAlias('seed-pydynox');
    const values = ['123-45-6789', '', 'Zoë 日本語 🔐', 'x'.repeat(50_000)];
    const texts: string[] = [];
    for (const v of values) texts.push(await pydynoxEncrypt(f, mk, PII, v));
    expect(parseSeedValue(texts[0]!).wrappedKey.byteLength).toBeGreaterThan(0);
    const provider = f.provider();
    const before = f.kms.count('Decrypt');
    const results = await openSeedValues(
      [...texts.map((text) => ({ text, context: PII })), { text: texts[0]!, context: PII }],
      { provider, masterKeyId: mk },
    );
    expect(results).toEqual([...values, values[0]].map((value) => ({ ok: true, value })));
    // Four distinct CiphertextBlobs (pydynox makes a data key per value); the repeat is free.
    expect(provider.calls.unwrap).toBe(4);
    expect(f.kms.count('Decrypt') - before).toBe(4);
  });

  it('a value written without a context opens with the empty context', async () => {
    const mk = tenantMasterKeyAlias('seed-pydynox');
    const text = await pydynoxEncrypt(f, mk, {}, 'no context');
    const [r] = await openSeedValues([{ text, context: {} }], {
      provider: f.provider(),
      masterKeyId: mk,
    });
    expect(r).toEqual({ ok: true, value: 'no context' });
  });

  it('a wrong encryption context is a typed error (ERR_KEY_UNWRAP_FAILED)', async () => {
    const mk = tenantMasterKeyAlias('seed-pydynox');
    const text = await pydynoxEncrypt(f, mk, PII, 'secret');
    const results = await openSeedValues(
      [
        { text, context: { tenant: 'acme-corp', purpose: 'billing' } },
        { text, context: { tenant: 'acme-corp' } },
        { text, context: PII },
      ],
      { provider: f.provider(), masterKeyId: mk },
    );
    expect(results[0]).toMatchObject({ ok: false, error: { code: 'ERR_KEY_UNWRAP_FAILED' } });
    expect(results[1]).toMatchObject({ ok: false, error: { code: 'ERR_KEY_UNWRAP_FAILED' } });
    expect(results[2]).toEqual({ ok: true, value: 'secret' });
    expect(JSON.stringify(results.slice(0, 2))).not.toContain(text.slice(4, 30));
  });

  it('a disabled KMS key is a typed error (ERR_PROVIDER_UNAVAILABLE); enabling it restores access', async () => {
    const mk = tenantMasterKeyAlias('seed-disabled');
    const text = await pydynoxEncrypt(f, mk, PII, 'frozen');
    const provider = f.provider();
    f.kms.setKeyState(mk, 'Disabled');
    try {
      const [r] = await openSeedValues([{ text, context: PII }], { provider, masterKeyId: mk });
      expect(r).toMatchObject({
        ok: false,
        error: { code: 'ERR_PROVIDER_UNAVAILABLE', message: 'AWS KMS master key is disabled' },
      });
    } finally {
      f.kms.setKeyState(mk, 'Enabled');
    }
    const [again] = await openSeedValues([{ text, context: PII }], { provider, masterKeyId: mk });
    expect(again).toEqual({ ok: true, value: 'frozen' });
  });

  it('a blob of another KMS key is ERR_KEY_UNWRAP_FAILED (Decrypt pins the configured key)', async () => {
    const text = await pydynoxEncrypt(f, tenantMasterKeyAlias('seed-pydynox'), PII, 'elsewhere');
    const [r] = await openSeedValues([{ text, context: PII }], {
      provider: f.provider(),
      masterKeyId: tenantMasterKeyAlias('seed-disabled'),
    });
    expect(r).toMatchObject({ ok: false, error: { code: 'ERR_KEY_UNWRAP_FAILED' } });
  });
});
