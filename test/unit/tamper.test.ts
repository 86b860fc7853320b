/**
 * Exhaustive tampering: every truncation, every single-bit flip of the binary form and every
 * single-character substitution of the text form of a set of golden envelopes must be
 * rejected with a FieldsealError whose code matches the region that was damaged. Never a
 * successful decrypt, never a foreign error. Then a context-swap matrix: a value only decrypts
 * under the exact context it was written with.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createFieldseal,
  isFieldsealError,
  type EncryptionContext,
  type Fieldseal,
  type FieldsealErrorCode,
  type FieldValue,
  type PaddingOption,
} from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

type Outcome = FieldsealErrorCode | 'DECRYPTED' | `FOREIGN_ERROR:${string}`;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const MALFORMED = 'ERR_MALFORMED_CIPHERTEXT';
const UNSUPPORTED = 'ERR_UNSUPPORTED_FORMAT';
const PLAINTEXT = 'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD';
const WRONG_KEY = 'ERR_WRONG_KEY';
const AUTH = 'ERR_AUTHENTICATION_FAILED';
const NOT_FOUND = 'ERR_KEY_NOT_FOUND';
const NOT_CONFIGURED = 'ERR_KEY_NOT_CONFIGURED';
const UNWRAP = 'ERR_KEY_UNWRAP_FAILED';

async function outcome(
  fs: Fieldseal,
  stored: string | Uint8Array,
  ctx: EncryptionContext,
): Promise<Outcome> {
  try {
    await fs.decrypt(stored, ctx);
    return 'DECRYPTED';
  } catch (err) {
    if (isFieldsealError(err)) return err.code;
    return `FOREIGN_ERROR:${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Golden envelopes and their layout
// ---------------------------------------------------------------------------------------------

type Region =
  | 'magic'
  | 'version'
  | 'suite'
  | 'flags'
  | 'keyref-length'
  | 'keyref-key-id'
  | 'keyref-version'
  | 'keyref-provider-id'
  | 'keyref-master-key-id'
  | 'keyref-wrapped-key'
  | 'nonce'
  | 'commitment'
  | 'ciphertext'
  | 'tag';

interface Golden {
  readonly name: string;
  readonly fs: Fieldseal;
  readonly context: EncryptionContext;
  readonly value: FieldValue;
  readonly bytes: Buffer;
  readonly text: string;
  /** Region of each byte of the binary form. */
  readonly regions: Region[];
  /** Offset of the first ciphertext byte. */
  readonly headerLength: number;
}

function layout(bytes: Buffer): { regions: Region[]; headerLength: number } {
  const regions: Region[] = ['magic', 'version', 'suite', 'flags'];
  const kind = bytes[3]! & 0x03;
  let at = 4;
  const mark = (region: Region, n: number): void => {
    for (let i = 0; i < n; i++) regions.push(region);
    at += n;
  };
  if (kind === 1) {
    const n = bytes[at]!;
    mark('keyref-length', 1);
    mark('keyref-key-id', n);
    mark('keyref-version', 4);
  } else {
    const p = bytes[at]!;
    mark('keyref-length', 1);
    mark('keyref-provider-id', p);
    const m = bytes[at]!;
    mark('keyref-length', 1);
    mark('keyref-master-key-id', m);
    const w = bytes.readUInt16BE(at);
    mark('keyref-length', 2);
    mark('keyref-wrapped-key', w);
  }
  mark('nonce', 24);
  mark('commitment', 32);
  const headerLength = at;
  mark('ciphertext', bytes.length - 16 - at);
  mark('tag', 16);
  expect(regions.length).toBe(bytes.length);
  return { regions, headerLength };
}

const ctx: EncryptionContext = {
  tenant: 'acme',
  table: 'customers',
  field: 'ssn',
  record: 'cus_42',
};

let goldens: Golden[] = [];

beforeAll(async () => {
  const provider = new MemoryKeyProvider({ masterKeys: ['master'] });
  const store = new MemoryKeyStore();
  const storeFs = createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'store', store, masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
  });
  await storeFs.provisionTenant('acme');
  const embeddedFs = createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
  });
  const specs: [string, Fieldseal, FieldValue, PaddingOption][] = [
    ['store, short', storeFs, 'hi', false],
    ['store, padded', storeFs, 'hi', 'bucket-32'],
    ['embedded, short', embeddedFs, 'hi', false],
    ['embedded, padded', embeddedFs, 'hi', 'bucket-32'],
  ];
  goldens = [];
  for (const [name, fs, value, pad] of specs) {
    const bytes = await fs.encryptToBytes(value, ctx, { pad });
    const text = await fs.encrypt(value, ctx, { pad });
    // Golden sanity: both forms decrypt, and the text is the canonical form of the bytes.
    expect(await fs.decrypt(bytes, ctx)).toBe(value);
    expect(await fs.decrypt(text, ctx)).toBe(value);
    expect(Buffer.from(text.slice(4), 'base64url').length).toBe(bytes.length);
    goldens.push({ name, fs, context: ctx, value, bytes, text, ...layout(bytes) });
  }
});

// ---------------------------------------------------------------------------------------------
// What each kind of damage must produce
// ---------------------------------------------------------------------------------------------

/**
 * Codes that XOR-ing byte `i` with `mask` may produce. `form`: how the damaged envelope was
 * delivered (binary, or text that decodes to the damaged bytes).
 */
function expectedForByte(
  g: Golden,
  i: number,
  mask: number,
  form: 'binary' | 'text',
): FieldsealErrorCode[] {
  switch (g.regions[i]!) {
    // A binary value without the magic is legacy plaintext, refused in a non-migration field; a
    // text envelope that decodes to anything but the magic is malformed.
    case 'magic':
      return form === 'binary' ? [PLAINTEXT] : [MALFORMED];
    case 'version':
    case 'suite':
      return [UNSUPPORTED];
    case 'flags': {
      const before = g.bytes[i]!;
      const after = before ^ mask;
      const kind = after & 0x03;
      if ((after & 0xf8) !== 0 || kind === 0 || kind === 3) return [MALFORMED];
      // The other valid kind (only reachable by changing both kind bits, i.e. from text): the
      // key reference is read the other way and names no configured key.
      if (kind !== (before & 0x03)) return [MALFORMED, NOT_FOUND, NOT_CONFIGURED, UNWRAP];
      // Only bit 2 (padded) changed: it is covered by the AAD.
      return [AUTH];
    }
    case 'keyref-length':
      return [MALFORMED, NOT_FOUND, NOT_CONFIGURED, UNWRAP];
    case 'keyref-key-id':
    case 'keyref-version':
      // Another key id or version (none exists), invalid UTF-8, or version 0.
      return [NOT_FOUND, MALFORMED];
    case 'keyref-provider-id':
    case 'keyref-master-key-id':
      // No such provider / master key, or invalid UTF-8.
      return [NOT_CONFIGURED, MALFORMED];
    case 'keyref-wrapped-key':
      return [UNWRAP];
    case 'commitment':
      return [WRONG_KEY];
    case 'nonce':
    case 'ciphertext':
    case 'tag':
      return [AUTH];
  }
}

/** Code of a binary envelope cut to `length` bytes. */
function expectedForTruncation(g: Golden, length: number): FieldsealErrorCode {
  if (length === 0) return PLAINTEXT; // an empty byte value is not an envelope
  // Anything shorter than header + 1 ciphertext byte + tag is structurally invalid; longer
  // cuts parse, and the tag (taken from the wrong place) fails.
  return length < g.headerLength + 1 + 16 ? MALFORMED : AUTH;
}

/** Codes of a text envelope cut to `length` characters. */
function expectedForTextTruncation(g: Golden, length: number): FieldsealErrorCode {
  if (length < 4) return PLAINTEXT; // not 'fs1:' and not 'fsN:': a plaintext string
  const body = g.text.slice(4, length);
  const rem = body.length % 4;
  if (body.length === 0 || rem === 1) return MALFORMED;
  if (rem !== 0) {
    const last = ALPHABET.indexOf(body[body.length - 1]!);
    if ((last & (rem === 2 ? 0x0f : 0x03)) !== 0) return MALFORMED; // non-canonical
  }
  return expectedForTruncation(g, Math.floor((body.length * 6) / 8));
}

/** Codes of replacing text character `pos` with `replacement`. */
function expectedForSubstitution(
  g: Golden,
  pos: number,
  replacement: string,
): FieldsealErrorCode[] {
  if (pos < 4) {
    // 'fs1:' damaged: 'fsN:' with another digit is another version; anything else is plaintext.
    return pos === 2 && /[0-9]/.test(replacement) ? [UNSUPPORTED] : [PLAINTEXT];
  }
  const k = pos - 4;
  const diff = ALPHABET.indexOf(g.text[pos]!) ^ ALPHABET.indexOf(replacement);
  const codes = new Set<FieldsealErrorCode>();
  const masks = new Map<number, number>();
  for (let t = 0; t < 6; t++) {
    if ((diff & (0x20 >> t)) === 0) continue;
    const bitPos = 6 * k + t; // MSB-first bit index into the decoded bytes
    const byte = bitPos >> 3;
    if (byte >= g.bytes.length)
      codes.add(MALFORMED); // trailing unused bit set: non-canonical
    else masks.set(byte, (masks.get(byte) ?? 0) | (0x80 >> (bitPos & 7)));
  }
  for (const [byte, mask] of masks) {
    for (const c of expectedForByte(g, byte, mask, 'text')) codes.add(c);
  }
  return [...codes];
}

// ---------------------------------------------------------------------------------------------
// The sweeps
// ---------------------------------------------------------------------------------------------

interface Sweep {
  readonly total: number;
  readonly distribution: Record<string, number>;
  readonly byRegion: Record<string, Record<string, number>>;
  readonly mismatches: string[];
}

class Recorder {
  total = 0;
  distribution: Record<string, number> = {};
  byRegion: Record<string, Record<string, number>> = {};
  mismatches: string[] = [];

  record(
    where: string,
    region: string,
    got: Outcome,
    allowed: readonly FieldsealErrorCode[],
  ): void {
    this.total++;
    this.distribution[got] = (this.distribution[got] ?? 0) + 1;
    const r = (this.byRegion[region] ??= {});
    r[got] = (r[got] ?? 0) + 1;
    if (!(allowed as readonly string[]).includes(got)) {
      this.mismatches.push(
        `${where} [${region}]: got ${got}, expected one of ${allowed.join('|')}`,
      );
    }
  }

  done(label: string): Sweep {
    // FIELDSEAL_TAMPER_REPORT=1 prints the code distribution of every sweep.
    if (process.env.FIELDSEAL_TAMPER_REPORT === '1') {
      console.log(
        `${label}: ${this.total} cases`,
        JSON.stringify(this.distribution),
        JSON.stringify(this.byRegion),
      );
    }
    return this;
  }
}

function assertSweep(s: Sweep): void {
  const bad = Object.keys(s.distribution).filter(
    (k) => k === 'DECRYPTED' || k.startsWith('FOREIGN_ERROR'),
  );
  expect(bad, 'a tampered envelope decrypted or threw a non-fieldseal error').toEqual([]);
  expect(s.mismatches.slice(0, 25), `${s.mismatches.length} cases with an unexpected code`).toEqual(
    [],
  );
}

const GOLDEN_NAMES = ['store, short', 'store, padded', 'embedded, short', 'embedded, padded'];

describe.each(GOLDEN_NAMES)('tampering with the golden envelope (%s)', (name) => {
  const golden = (): Golden => goldens.find((g) => g.name === name)!;

  it('every truncation of the binary form is rejected', async () => {
    const g = golden();
    const rec = new Recorder();
    for (let len = 0; len < g.bytes.length; len++) {
      const got = await outcome(g.fs, Buffer.from(g.bytes.subarray(0, len)), g.context);
      rec.record(`length ${len}`, len === 0 ? 'empty' : (g.regions[len - 1] ?? '?'), got, [
        expectedForTruncation(g, len),
      ]);
    }
    assertSweep(rec.done(`${name} / binary truncations`));
    expect(rec.total).toBe(g.bytes.length);
  });

  it('every truncation of the text form is rejected', async () => {
    const g = golden();
    const rec = new Recorder();
    for (let len = 0; len < g.text.length; len++) {
      const got = await outcome(g.fs, g.text.slice(0, len), g.context);
      rec.record(`length ${len}`, len < 4 ? 'prefix' : 'body', got, [
        expectedForTextTruncation(g, len),
      ]);
    }
    assertSweep(rec.done(`${name} / text truncations`));
    expect(rec.total).toBe(g.text.length);
  });

  it('every single-bit flip of the binary form is rejected', async () => {
    const g = golden();
    const rec = new Recorder();
    for (let i = 0; i < g.bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const b = Buffer.from(g.bytes);
        b[i] = b[i]! ^ (1 << bit);
        const got = await outcome(g.fs, b, g.context);
        rec.record(
          `byte ${i} bit ${bit}`,
          g.regions[i]!,
          got,
          expectedForByte(g, i, 1 << bit, 'binary'),
        );
      }
    }
    assertSweep(rec.done(`${name} / binary bit flips`));
    expect(rec.total).toBe(g.bytes.length * 8);
    // The headline guarantees, region by region.
    expect(rec.byRegion.commitment).toEqual({ [WRONG_KEY]: 32 * 8 });
    expect(rec.byRegion.nonce).toEqual({ [AUTH]: 24 * 8 });
    expect(rec.byRegion.tag).toEqual({ [AUTH]: 16 * 8 });
    expect(Object.keys(rec.byRegion.ciphertext!)).toEqual([AUTH]);
    expect(rec.byRegion.magic).toEqual({ [PLAINTEXT]: 8 });
    expect(rec.byRegion.version).toEqual({ [UNSUPPORTED]: 8 });
    expect(rec.byRegion.suite).toEqual({ [UNSUPPORTED]: 8 });
    expect(rec.byRegion.flags).toEqual({ [MALFORMED]: 7, [AUTH]: 1 });
  });

  it('every single-character substitution of the text form is rejected', async () => {
    const g = golden();
    const rec = new Recorder();
    for (let pos = 0; pos < g.text.length; pos++) {
      for (const c of ALPHABET) {
        if (c === g.text[pos]) continue;
        const tampered = g.text.slice(0, pos) + c + g.text.slice(pos + 1);
        const got = await outcome(g.fs, tampered, g.context);
        const region =
          pos < 4 ? 'prefix' : (g.regions[Math.floor((6 * (pos - 4)) / 8)] ?? 'trailing');
        rec.record(`char ${pos} -> ${c}`, region, got, expectedForSubstitution(g, pos, c));
      }
    }
    assertSweep(rec.done(`${name} / text substitutions`));
    // Prefix characters are replaced by every alphabet character except their own (if in it).
    const prefixInAlphabet = [...'fs1:'].filter((c) => ALPHABET.includes(c)).length;
    expect(rec.total).toBe(g.text.length * 64 - (g.text.length - 4) - prefixInAlphabet);
  });
});

// ---------------------------------------------------------------------------------------------
// Context-swap matrix
// ---------------------------------------------------------------------------------------------

const matrix: EncryptionContext[] = [];
for (const tenant of ['t1', 't2']) {
  for (const table of ['users', 'orders']) {
    for (const field of ['ssn', 'email']) {
      for (const record of ['r1', 'r2']) matrix.push({ tenant, table, field, record });
    }
  }
}
const label = (c: EncryptionContext): string =>
  `${c.tenant}/${c.table}/${c.field}/${String(c.record)}`;

async function storeClient(): Promise<Fieldseal> {
  const fs = createFieldseal({
    admin: true,
    provider: new MemoryKeyProvider({ masterKeys: ['master'] }),
    keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
  });
  await fs.provisionTenant('t1');
  await fs.provisionTenant('t2');
  return fs;
}

function embeddedClient(): Fieldseal {
  return createFieldseal({
    admin: true,
    provider: new MemoryKeyProvider({ masterKeys: ['master'] }),
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
  });
}

const modes: [string, () => Promise<Fieldseal>, FieldsealErrorCode[]][] = [
  ['store', storeClient, [WRONG_KEY, NOT_FOUND, AUTH]],
  ['embedded', () => Promise.resolve(embeddedClient()), [UNWRAP, WRONG_KEY, NOT_FOUND, AUTH]],
];

describe.each(modes)('context-swap matrix (%s mode)', (mode, makeClient, tenantSwapCodes) => {
  it('each value decrypts only under its own context', async () => {
    const fs = await makeClient();
    const stored = await Promise.all(matrix.map((c) => fs.encrypt(`value of ${label(c)}`, c)));
    const storedBytes = await Promise.all(
      matrix.map((c) => fs.encryptToBytes(`value of ${label(c)}`, c)),
    );
    const rec = new Recorder();
    for (let i = 0; i < matrix.length; i++) {
      const own = matrix[i]!;
      expect(await fs.decrypt(stored[i]!, own)).toBe(`value of ${label(own)}`);
      expect(await fs.decrypt(storedBytes[i]!, own)).toBe(`value of ${label(own)}`);
      for (let j = 0; j < matrix.length; j++) {
        if (i === j) continue;
        const other = matrix[j]!;
        const swap = own.tenant !== other.tenant ? 'tenant swap' : 'same-tenant swap';
        const allowed: FieldsealErrorCode[] =
          own.tenant !== other.tenant ? tenantSwapCodes : [AUTH];
        for (const s of [stored[i]!, storedBytes[i]!]) {
          rec.record(
            `${label(own)} read as ${label(other)}`,
            swap,
            await outcome(fs, s, other),
            allowed,
          );
        }
      }
    }
    const sweep = rec.done(`${mode} / context-swap matrix`);
    assertSweep(sweep);
    expect(sweep.total).toBe(16 * 15 * 2);
    expect(Object.values(sweep.byRegion['same-tenant swap']!).reduce((a, b) => a + b)).toBe(
      16 * 7 * 2,
    );
    expect(Object.values(sweep.byRegion['tenant swap']!).reduce((a, b) => a + b)).toBe(16 * 8 * 2);
  });

  it('property order does not matter; extra, missing or re-shaped entries fail', async () => {
    const fs = await makeClient();
    const c: EncryptionContext = { tenant: 't1', table: 'users', field: 'ssn', record: 'r1' };
    const s = await fs.encrypt('123-45-6789', c);
    // Same entries, another property order (and an explicit undefined entry, which is absent).
    expect(await fs.decrypt(s, { record: 'r1', field: 'ssn', table: 'users', tenant: 't1' })).toBe(
      '123-45-6789',
    );
    expect(await fs.decrypt(s, { ...c, purpose: undefined })).toBe('123-45-6789');
    const failing: [string, EncryptionContext][] = [
      ['extra entry', { ...c, purpose: 'pii' }],
      ['record omitted', { tenant: 't1', table: 'users', field: 'ssn' }],
      ['record as a one-item list', { ...c, record: ['r1'] }],
      ['record with different case', { ...c, record: 'R1' }],
      ['record empty string', { ...c, record: '' }],
      ['table and field swapped', { ...c, table: 'ssn', field: 'users' }],
      ['entry under another key', { tenant: 't1', table: 'users', field: 'ssn', row: 'r1' }],
    ];
    for (const [why, other] of failing) {
      expect(await outcome(fs, s, other), why).toBe(AUTH);
    }
    // Composite record keys: order and shape are part of the context.
    const composite: EncryptionContext = { ...c, record: ['a', 'b'] };
    const sc = await fs.encrypt('composite', composite);
    expect(
      await fs.decrypt(sc, { record: ['a', 'b'], field: 'ssn', tenant: 't1', table: 'users' }),
    ).toBe('composite');
    for (const [why, other] of [
      ['parts reversed', { ...c, record: ['b', 'a'] }],
      ['parts joined', { ...c, record: 'a,b' }],
      ['parts concatenated', { ...c, record: 'ab' }],
      ['one part', { ...c, record: ['a'] }],
      ['extra part', { ...c, record: ['a', 'b', ''] }],
      ['record omitted', { tenant: 't1', table: 'users', field: 'ssn' }],
    ] as [string, EncryptionContext][]) {
      expect(await outcome(fs, sc, other), why).toBe(AUTH);
    }
    // A value written without a record only decrypts without one.
    const noRecord: EncryptionContext = { tenant: 't1', table: 'users', field: 'ssn' };
    const sn = await fs.encrypt('no record', noRecord);
    expect(await fs.decrypt(sn, { ...noRecord, record: undefined })).toBe('no record');
    expect(await outcome(fs, sn, c)).toBe(AUTH);
  });

  it("a tenant with no key cannot read another tenant's value", async () => {
    const fs = await makeClient();
    const c: EncryptionContext = { tenant: 't1', table: 'users', field: 'ssn', record: 'r1' };
    const s = await fs.encrypt('secret', c);
    const got = await outcome(fs, s, { ...c, tenant: 't3' });
    expect(mode === 'store' ? [NOT_FOUND] : [UNWRAP]).toContain(got);
  });
});
