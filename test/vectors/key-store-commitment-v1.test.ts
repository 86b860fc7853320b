/**
 * Frozen key-store row commitment vectors (key-store-commitment-v1.json). Stored key rows carry
 * these commitments: if this test fails, the change made every stored commitment a mismatch.
 * Fix the code, never the JSON. Each vector is also rebuilt here from docs/format.md alone
 * (message bytes, then HMAC-SHA256), so the document and the code cannot drift apart.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DataKey } from '../../src/index.js';
import {
  STORE_KEY_COMMITMENT_LABEL,
  checkStoreKeyCommitment,
  storeKeyCommitment,
} from '../../src/keys/key-commitment.js';

interface Vector {
  dataKeyHex: string;
  tenant: string;
  keyId: string;
  version: number;
  messageHex: string;
  commitmentHex: string;
}

const file = JSON.parse(
  readFileSync(new URL('./key-store-commitment-v1.json', import.meta.url), 'utf8'),
) as { vectors: Vector[] };

/** The message of docs/format.md, "Key-store row commitment", built independently. */
function documentedMessage(v: Vector): Buffer {
  const label = Buffer.from('fieldseal/key-store-commitment/v1', 'ascii');
  const tenant = Buffer.from(v.tenant, 'utf8');
  const keyId = Buffer.from(v.keyId, 'utf8');
  const lengths = Buffer.alloc(2);
  lengths.writeUInt16BE(tenant.length);
  const version = Buffer.alloc(4);
  version.writeUInt32BE(v.version);
  return Buffer.concat([
    Buffer.from([label.length]),
    label,
    lengths,
    tenant,
    Buffer.from([keyId.length]),
    keyId,
    version,
  ]);
}

describe('key-store row commitment v1 (frozen vectors)', () => {
  it('has vectors covering versions 1, 2^16, 2^32-1, non-ASCII tenants and 255-byte key ids', () => {
    expect(file.vectors.length).toBeGreaterThanOrEqual(5);
    expect(STORE_KEY_COMMITMENT_LABEL).toBe('fieldseal/key-store-commitment/v1');
    expect(file.vectors.map((v) => v.version)).toContain(0xffffffff);
    expect(file.vectors.some((v) => Buffer.byteLength(v.keyId) === 255)).toBe(true);
    expect(file.vectors.some((v) => Buffer.byteLength(v.tenant) !== v.tenant.length)).toBe(true);
  });

  for (const [i, v] of file.vectors.entries()) {
    it(`vector ${i}: ${v.tenant.slice(0, 16)} / ${v.keyId.slice(0, 8)} @ ${v.version}`, () => {
      const raw = Buffer.from(v.dataKeyHex, 'hex');
      const ref = { tenant: v.tenant, keyId: v.keyId, version: v.version };
      const expected = Buffer.from(v.commitmentHex, 'hex');
      // The document's construction gives the recorded message and commitment.
      expect(documentedMessage(v).toString('hex')).toBe(v.messageHex);
      expect(createHmac('sha256', raw).update(documentedMessage(v)).digest('hex')).toBe(
        v.commitmentHex,
      );
      // The library gives the same bytes from raw key bytes and from a DataKey.
      expect(Buffer.from(storeKeyCommitment(raw, ref)).toString('hex')).toBe(v.commitmentHex);
      const key = DataKey.fromBytes(raw);
      try {
        expect(Buffer.from(storeKeyCommitment(key, ref)).toString('hex')).toBe(v.commitmentHex);
        expect(checkStoreKeyCommitment(key, ref, expected)).toBe(true);
      } finally {
        key.release();
      }
      expect(checkStoreKeyCommitment(raw, ref, new Uint8Array(expected))).toBe(true);
    });
  }
});

describe('checkStoreKeyCommitment', () => {
  const v = file.vectors[0]!;
  const raw = Buffer.from(v.dataKeyHex, 'hex');
  const ref = { tenant: v.tenant, keyId: v.keyId, version: v.version };
  const expected = Buffer.from(v.commitmentHex, 'hex');

  it('is false for another key, tenant, key id or version', () => {
    const other = Buffer.from(raw);
    other[31]! ^= 1;
    expect(checkStoreKeyCommitment(other, ref, expected)).toBe(false);
    expect(checkStoreKeyCommitment(raw, { ...ref, tenant: 'acme2' }, expected)).toBe(false);
    expect(checkStoreKeyCommitment(raw, { ...ref, keyId: 'default2' }, expected)).toBe(false);
    expect(checkStoreKeyCommitment(raw, { ...ref, version: 2 }, expected)).toBe(false);
  });

  it('is false, never a throw, for a commitment of the wrong length or type', () => {
    expect(checkStoreKeyCommitment(raw, ref, expected.subarray(0, 31))).toBe(false);
    expect(checkStoreKeyCommitment(raw, ref, Buffer.concat([expected, Buffer.from([0])]))).toBe(
      false,
    );
    expect(checkStoreKeyCommitment(raw, ref, new Uint8Array(0))).toBe(false);
    expect(checkStoreKeyCommitment(raw, ref, v.commitmentHex as unknown as Uint8Array)).toBe(false);
  });

  it('length prefixes keep (tenant, key id) pairs apart', () => {
    const a = storeKeyCommitment(raw, { tenant: 'ab', keyId: 'c', version: 1 });
    const b = storeKeyCommitment(raw, { tenant: 'a', keyId: 'bc', version: 1 });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it('refuses malformed keys and references without echoing them', () => {
    const secret = Buffer.alloc(31, 0x41);
    const err = (() => {
      try {
        storeKeyCommitment(secret, ref);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toMatchObject({ code: 'ERR_INVALID_KEY_MATERIAL' });
    expect(inspect(err)).not.toContain('AAAA');
    expect(() => storeKeyCommitment(raw, { ...ref, tenant: '' })).toThrow(TypeError);
    expect(() => storeKeyCommitment(raw, { ...ref, tenant: 'a\ud800' })).toThrow(TypeError);
    expect(() => storeKeyCommitment(raw, { ...ref, tenant: 'x'.repeat(65_536) })).toThrow(
      RangeError,
    );
    expect(() => storeKeyCommitment(raw, { ...ref, keyId: 'k'.repeat(256) })).toThrow(RangeError);
    for (const version of [0, -1, 0x100000000]) {
      expect(() => storeKeyCommitment(raw, { ...ref, version })).toThrow(RangeError);
    }
    for (const version of [1.5, Number.NaN, '1' as unknown as number]) {
      expect(() => storeKeyCommitment(raw, { ...ref, version })).toThrow(TypeError);
    }
    const released = DataKey.fromBytes(raw);
    released.release();
    expect(() => storeKeyCommitment(released, ref)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_KEY_MATERIAL' }) as Error,
    );
  });
});
