import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EnvSecretSource,
  FileSecretSource,
  REDACTED,
  SecretKey,
  generateKeyFile,
  isFieldsealError,
  type FieldsealError,
} from '../../src/index.js';

/** 32 distinctive key bytes and their encodings. */
const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff));
const KEY_B64 = KEY.toString('base64');
const KEY_HEX = KEY.toString('hex');

function bytesOf(key: SecretKey): Buffer {
  return key.use((b) => Buffer.from(b));
}

/** Run `fn`, expect it to throw a FieldsealError, and return that error. */
function thrown(fn: () => unknown): FieldsealError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a throw').toBeDefined();
  expect(isFieldsealError(caught)).toBe(true);
  return caught as FieldsealError;
}

/** Assert the secret text appears nowhere in what an error prints or serialises. */
function expectNoLeak(err: FieldsealError, ...secrets: string[]): void {
  const printed = [err.message, JSON.stringify(err), inspect(err, { depth: 10 }), String(err)];
  for (const secret of secrets) {
    for (const p of printed) expect(p.includes(secret), `leaked ${secret} in ${p}`).toBe(false);
  }
}

describe('EnvSecretSource', () => {
  it('decodes a base64: prefixed value to the exact key bytes', async () => {
    const source = new EnvSecretSource({
      keys: { master: 'FS_MASTER' },
      env: { FS_MASTER: `base64:${KEY_B64}` },
    });
    expect(source.kind).toBe('env');
    expect(source.references()).toEqual(['master']);
    expect(bytesOf(await source.getKey('master')).equals(KEY)).toBe(true);
  });

  it('decodes a hex: prefixed value (either case) to the exact key bytes', async () => {
    const lower = new EnvSecretSource({ keys: { a: 'A' }, env: { A: `hex:${KEY_HEX}` } });
    const upper = new EnvSecretSource({
      keys: { a: 'A' },
      env: { A: `hex:${KEY_HEX.toUpperCase()}` },
    });
    expect(bytesOf(await lower.getKey('a')).equals(KEY)).toBe(true);
    expect(bytesOf(await upper.getKey('a')).equals(KEY)).toBe(true);
  });

  it('decodes unprefixed text with the encoding option', async () => {
    const hex = new EnvSecretSource({ keys: { a: 'A' }, env: { A: KEY_HEX }, encoding: 'hex' });
    const b64 = new EnvSecretSource({ keys: { a: 'A' }, env: { A: KEY_B64 }, encoding: 'base64' });
    expect(bytesOf(await hex.getKey('a')).equals(KEY)).toBe(true);
    expect(bytesOf(await b64.getKey('a')).equals(KEY)).toBe(true);
  });

  it('lets an explicit prefix win over the encoding option', async () => {
    const source = new EnvSecretSource({
      keys: { a: 'A' },
      env: { A: `base64:${KEY_B64}` },
      encoding: 'hex',
    });
    expect(bytesOf(await source.getKey('a')).equals(KEY)).toBe(true);
  });

  it('tolerates surrounding whitespace and a trailing newline', async () => {
    const source = new EnvSecretSource({
      keys: { a: 'A' },
      env: { A: `  base64:${KEY_B64}\n` },
    });
    expect(bytesOf(await source.getKey('a')).equals(KEY)).toBe(true);
  });

  it('loads several references, each with its own bytes', async () => {
    const other = randomBytes(32);
    const source = new EnvSecretSource({
      keys: { one: 'ONE', two: 'TWO' },
      env: { ONE: `hex:${KEY_HEX}`, TWO: `hex:${other.toString('hex')}` },
    });
    expect([...source.references()].sort()).toEqual(['one', 'two']);
    expect(bytesOf(await source.getKey('one')).equals(KEY)).toBe(true);
    expect(bytesOf(await source.getKey('two')).equals(other)).toBe(true);
  });

  it('reads process.env by default', async () => {
    const name = `FIELDSEAL_TEST_${process.pid}_${Date.now()}`;
    process.env[name] = `hex:${KEY_HEX}`;
    try {
      const source = new EnvSecretSource({ keys: { master: name } });
      expect(bytesOf(await source.getKey('master')).equals(KEY)).toBe(true);
    } finally {
      delete process.env[name];
    }
  });

  it('fails with ERR_KEY_NOT_CONFIGURED at construction when the variable is missing or empty', () => {
    for (const env of [{}, { FS_MISSING: '' }]) {
      const err = thrown(() => new EnvSecretSource({ keys: { master: 'FS_MISSING' }, env }));
      expect(err.code).toBe('ERR_KEY_NOT_CONFIGURED');
      expect(err.message).toContain('master');
      expect(err.message).toContain('FS_MISSING');
      expect(err.details.reference).toBe('master');
    }
  });

  it('validates every key at construction, not on first use', () => {
    // The first key is fine, the second is not: construction itself must fail.
    const err = thrown(
      () =>
        new EnvSecretSource({
          keys: { good: 'GOOD', bad: 'BAD' },
          env: { GOOD: `hex:${KEY_HEX}`, BAD: `hex:${KEY_HEX.slice(2)}` },
        }),
    );
    expect(err.code).toBe('ERR_INVALID_KEY_MATERIAL');
    expect(err.details.reference).toBe('bad');
  });

  describe('invalid key material fails at construction and never leaks the value', () => {
    // Each canary is a distinctive substring of the secret text.
    const c31 = randomBytes(31).toString('hex');
    const c33 = randomBytes(33).toString('hex');
    const b31 = randomBytes(31).toString('base64');
    const b33 = randomBytes(33).toString('base64');
    const cases: { name: string; text: string; canary: string; encoding?: 'hex' | 'base64' }[] = [
      { name: '31 bytes of hex', text: `hex:${c31}`, canary: c31 },
      { name: '33 bytes of hex', text: `hex:${c33}`, canary: c33 },
      { name: '31 bytes of base64', text: `base64:${b31}`, canary: b31 },
      { name: '33 bytes of base64', text: `base64:${b33}`, canary: b33 },
      { name: 'unprefixed 31 bytes with encoding hex', text: c31, canary: c31, encoding: 'hex' },
      {
        name: 'bad hex (non-hex chars)',
        text: `hex:${'zz'.repeat(2)}${KEY_HEX.slice(4, 60)}CANARYQQ`,
        canary: 'CANARYQQ',
      },
      { name: 'bad hex (odd length)', text: `hex:${KEY_HEX}a`, canary: KEY_HEX },
      {
        name: 'bad base64 (bad chars)',
        text: `base64:CANARY!!${KEY_B64.slice(8)}`,
        canary: 'CANARY!!',
      },
      {
        name: 'bad base64 (inner padding)',
        text: `base64:${KEY_B64}=CANARYZZ`,
        canary: 'CANARYZZ',
      },
      { name: 'no prefix and no encoding', text: KEY_HEX, canary: KEY_HEX },
      { name: 'no prefix (base64 text) and no encoding', text: KEY_B64, canary: KEY_B64 },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const err = thrown(
          () =>
            new EnvSecretSource({
              keys: { 'master-ref': 'FS_CANARY_VAR' },
              env: { FS_CANARY_VAR: c.text },
              ...(c.encoding === undefined ? {} : { encoding: c.encoding }),
            }),
        );
        expect(err.code).toBe('ERR_INVALID_KEY_MATERIAL');
        expect(err.message).toContain('master-ref');
        expect(err.details.reference).toBe('master-ref');
        expectNoLeak(err, c.canary, c.text.trim());
      });
    }

    it('names the environment variable in the invalid-material message', () => {
      // EnvSecretSource's documentation: "both messages name the reference and the
      // variable, never the value".
      const err = thrown(
        () =>
          new EnvSecretSource({
            keys: { master: 'FS_SHORT_KEY_VAR' },
            env: { FS_SHORT_KEY_VAR: `hex:${c31}` },
          }),
      );
      expect(err.code).toBe('ERR_INVALID_KEY_MATERIAL');
      expect(err.message).toContain('FS_SHORT_KEY_VAR');
      expectNoLeak(err, c31);
    });
  });

  it('getKey of an unknown reference rejects with ERR_KEY_NOT_CONFIGURED', async () => {
    const source = new EnvSecretSource({ keys: { master: 'A' }, env: { A: `hex:${KEY_HEX}` } });
    await expect(source.getKey('nope')).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { reference: 'nope' },
    });
  });

  it('never prints key bytes when the source itself is logged', () => {
    const source = new EnvSecretSource({ keys: { master: 'A' }, env: { A: `hex:${KEY_HEX}` } });
    const out = [inspect(source, { depth: 10, showHidden: true }), JSON.stringify({ source })];
    for (const o of out) {
      expect(o.includes(KEY_HEX)).toBe(false);
      expect(o.includes(KEY_B64)).toBe(false);
    }
  });
});

describe("per-key 'utf8' encoding (the GraphQL seed's raw 32-character keys)", () => {
  const EMAIL = '01234567890123456789012345678901';
  const PHONE = 'abcdefghijklmnopqrstuvwxyz012345';

  it('takes the text itself as the key, per key, next to prefixed keys', async () => {
    const source = new EnvSecretSource({
      keys: {
        master: 'FS_MASTER',
        email: { variable: 'FIELD_ENCRYPTION_KEY_EMAIL', encoding: 'utf8' },
        phone: { variable: 'FIELD_ENCRYPTION_KEY_PHONE', encoding: 'utf8' },
      },
      env: {
        FS_MASTER: `base64:${KEY_B64}`,
        FIELD_ENCRYPTION_KEY_EMAIL: EMAIL,
        FIELD_ENCRYPTION_KEY_PHONE: PHONE,
      },
    });
    expect(bytesOf(await source.getKey('master')).equals(KEY)).toBe(true);
    expect(bytesOf(await source.getKey('email')).equals(Buffer.from(EMAIL, 'utf8'))).toBe(true);
    expect(bytesOf(await source.getKey('phone')).equals(Buffer.from(PHONE, 'utf8'))).toBe(true);
  });

  it('without an encoding, the same raw text is refused and the message names the utf8 option', () => {
    const err = thrown(() => new EnvSecretSource({ keys: { email: 'E' }, env: { E: EMAIL } }));
    expect(err.code).toBe('ERR_INVALID_KEY_MATERIAL');
    expect(err.message).toContain("'utf8'");
    expectNoLeak(err, EMAIL);
  });

  it('reads a prefix as key material under utf8, never as an encoding', async () => {
    const text = 'hex:' + '0'.repeat(28); // 32 characters that would decode to 14 bytes as hex
    const source = new EnvSecretSource({
      keys: { a: { variable: 'A', encoding: 'utf8' } },
      env: { A: text },
    });
    expect(bytesOf(await source.getKey('a')).equals(Buffer.from(text, 'utf8'))).toBe(true);
    // And a real base64: key under a source-wide utf8 is refused (51 bytes), not decoded.
    const err = thrown(
      () =>
        new EnvSecretSource({
          keys: { a: 'A' },
          env: { A: `base64:${KEY_B64}` },
          encoding: 'utf8',
        }),
    );
    expect(err.code).toBe('ERR_INVALID_KEY_MATERIAL');
    expect(err.message).toContain('got 51 bytes');
  });

  it('counts bytes, not characters, and keeps spaces; drops one trailing line break only', async () => {
    const multi = 'é'.repeat(16); // 16 characters, 32 bytes
    const spaced = ` ${'k'.repeat(30)} `;
    const source = new EnvSecretSource({
      keys: { m: 'M', s: 'S', n: 'N', r: 'R' },
      env: { M: multi, S: spaced, N: `${EMAIL}\n`, R: `${EMAIL}\r\n` },
      encoding: 'utf8',
    });
    expect(bytesOf(await source.getKey('m')).equals(Buffer.from(multi, 'utf8'))).toBe(true);
    expect(bytesOf(await source.getKey('s')).equals(Buffer.from(spaced, 'utf8'))).toBe(true);
    expect(bytesOf(await source.getKey('n')).equals(Buffer.from(EMAIL))).toBe(true);
    expect(bytesOf(await source.getKey('r')).equals(Buffer.from(EMAIL))).toBe(true);
    for (const bad of [
      EMAIL.slice(1),
      `${EMAIL}x`,
      `${EMAIL}\n\n`,
      'é'.repeat(15) + 'x',
      `${EMAIL.slice(3)}\ud800`,
    ]) {
      const err = thrown(
        () => new EnvSecretSource({ keys: { k: 'K' }, env: { K: bad }, encoding: 'utf8' }),
      );
      expect(err.code).toBe('ERR_INVALID_KEY_MATERIAL');
      expect(err.message).toContain('key "k"');
      expectNoLeak(err, bad.trim());
    }
  });

  it('refuses an unknown encoding name when the source is built, never quoting it', () => {
    const misplaced = '0123456789abcdefSECRETKEYTEXT';
    let message = '';
    try {
      new EnvSecretSource({ keys: {}, encoding: misplaced as 'utf8', env: {} });
    } catch (err) {
      message = String((err as Error).message);
    }
    expect(message).toBe(
      "encoding: expected one of 'base64', 'hex', 'utf8', got a string of 29 characters",
    );
    expect(
      () =>
        new EnvSecretSource({
          keys: { a: { variable: 'A', encoding: 'utf-8' as 'utf8' } },
          env: { A: EMAIL },
        }),
    ).toThrow(/keys\.a\.encoding: expected one of 'base64', 'hex', 'utf8'/);
    expect(
      () =>
        new EnvSecretSource({ keys: { a: 'A' }, env: { A: EMAIL }, encoding: 'latin1' as 'utf8' }),
    ).toThrow(TypeError);
    expect(() => new EnvSecretSource({ keys: { a: { variable: '' } }, env: {} })).toThrow(
      TypeError,
    );
    expect(
      () => new FileSecretSource({ keys: { a: { path: '/x', encoding: 'binary' as 'raw' } } }),
    ).toThrow(/'base64', 'hex', 'utf8', 'raw'/);
  });

  describe('in files', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'fs-utf8-'));
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    function file(name: string, content: string | Buffer): string {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    }

    it('reads a Docker-secret file of raw text per key, with or without a newline', async () => {
      const source = new FileSecretSource({
        keys: {
          email: { path: file('email', EMAIL), encoding: 'utf8' },
          phone: { path: file('phone', `${PHONE}\n`), encoding: 'utf8' },
          master: file('master', `base64:${KEY_B64}\n`),
        },
      });
      expect(bytesOf(await source.getKey('email')).equals(Buffer.from(EMAIL))).toBe(true);
      expect(bytesOf(await source.getKey('phone')).equals(Buffer.from(PHONE))).toBe(true);
      expect(bytesOf(await source.getKey('master')).equals(KEY)).toBe(true);
    });

    it('refuses a file that is not valid UTF-8 rather than reading replacement characters', () => {
      const bytes = Buffer.from(EMAIL);
      bytes[5] = 0xff;
      const err = thrown(
        () => new FileSecretSource({ keys: { k: { path: file('bad', bytes), encoding: 'utf8' } } }),
      );
      expect(err.code).toBe('ERR_INVALID_KEY_MATERIAL');
      expect(err.message).toContain('not valid UTF-8');
    });
  });
});

describe('SecretKey', () => {
  it('prints [REDACTED] in inspect, JSON, template strings and String()', async () => {
    const source = new EnvSecretSource({ keys: { master: 'A' }, env: { A: `hex:${KEY_HEX}` } });
    const key = await source.getKey('master');
    expect(REDACTED).toBe('[REDACTED]');
    expect(inspect(key)).toBe('[REDACTED]');
    expect(inspect({ key }, { depth: 5 })).toContain('[REDACTED]');
    expect(inspect({ key }, { depth: 5 }).includes(KEY_HEX)).toBe(false);
    expect(JSON.stringify(key)).toBe('"[REDACTED]"');
    expect(JSON.stringify({ key })).toBe('{"key":"[REDACTED]"}');
    // eslint-disable-next-line @typescript-eslint/restrict-template-expressions
    expect(`${key}`).toBe('[REDACTED]');
    expect(String(key)).toBe('[REDACTED]');
    expect('' + (key as unknown as string)).toBe('[REDACTED]');
    // The bytes are not an enumerable property either.
    expect(Object.keys(key)).toEqual(['reference']);
    expect(key.reference).toBe('master');
  });

  it('copies its input and fails with ERR_KEY_NOT_CONFIGURED after wipe()', () => {
    const input = Buffer.from(KEY);
    const key = new SecretKey('k', input);
    input.fill(0);
    expect(bytesOf(key).equals(KEY)).toBe(true);
    key.wipe();
    expect(() => key.use(() => 1)).toThrow(
      expect.objectContaining({ code: 'ERR_KEY_NOT_CONFIGURED' }),
    );
  });
});

describe('FileSecretSource', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fs-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  let n = 0;
  function file(content: string | Buffer): string {
    const path = join(dir, `key-${n++}`);
    writeFileSync(path, content);
    return path;
  }

  it('reads base64: and hex: prefixed files, with a trailing newline', async () => {
    const source = new FileSecretSource({
      keys: { a: file(`base64:${KEY_B64}\n`), b: file(`hex:${KEY_HEX}\r\n`) },
    });
    expect(source.kind).toBe('file');
    expect(bytesOf(await source.getKey('a')).equals(KEY)).toBe(true);
    expect(bytesOf(await source.getKey('b')).equals(KEY)).toBe(true);
  });

  it('decodes unprefixed files with the encoding option', async () => {
    const hex = new FileSecretSource({ keys: { a: file(`${KEY_HEX}\n`) }, encoding: 'hex' });
    const b64 = new FileSecretSource({ keys: { a: file(`${KEY_B64}\n`) }, encoding: 'base64' });
    expect(bytesOf(await hex.getKey('a')).equals(KEY)).toBe(true);
    expect(bytesOf(await b64.getKey('a')).equals(KEY)).toBe(true);
  });

  it("takes a 32-byte binary file as it is with encoding 'raw'", async () => {
    // Bytes that are not valid UTF-8 nor a text encoding: only a raw read returns them.
    const raw = Buffer.from(KEY);
    raw[0] = 0xff;
    raw[1] = 0xfe;
    const source = new FileSecretSource({ keys: { a: file(raw) }, encoding: 'raw' });
    expect(bytesOf(await source.getKey('a')).equals(raw)).toBe(true);
  });

  it('rejects a raw file that is not exactly 32 bytes with ERR_INVALID_KEY_MATERIAL', () => {
    for (const len of [0, 31, 33]) {
      const err = thrown(
        () => new FileSecretSource({ keys: { rawref: file(randomBytes(len)) }, encoding: 'raw' }),
      );
      expect(err.code).toBe('ERR_INVALID_KEY_MATERIAL');
      expect(err.message).toContain('rawref');
      expect(err.details.reference).toBe('rawref');
    }
  });

  it('rejects bad text files at construction without leaking the contents', () => {
    const c31 = randomBytes(31).toString('hex');
    const b33 = randomBytes(33).toString('base64');
    const cases: [string, string][] = [
      [`hex:${c31}\n`, c31],
      [`base64:${b33}\n`, b33],
      [`hex:${KEY_HEX.slice(0, 56)}CANARYXX\n`, 'CANARYXX'],
      [`base64:CANARY##${KEY_B64.slice(8)}\n`, 'CANARY##'],
      [`${KEY_HEX}\n`, KEY_HEX],
    ];
    for (const [text, canary] of cases) {
      const err = thrown(() => new FileSecretSource({ keys: { 'file-ref': file(text) } }));
      expect(err.code).toBe('ERR_INVALID_KEY_MATERIAL');
      expect(err.message).toContain('file-ref');
      expect(err.details.reference).toBe('file-ref');
      expectNoLeak(err, canary);
    }
  });

  it('fails with ERR_KEY_NOT_CONFIGURED (cause set) when the file cannot be read', () => {
    const err = thrown(
      () => new FileSecretSource({ keys: { master: join(dir, 'does-not-exist') } }),
    );
    expect(err.code).toBe('ERR_KEY_NOT_CONFIGURED');
    expect(err.details.reference).toBe('master');
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('getKey of an unknown reference rejects with ERR_KEY_NOT_CONFIGURED', async () => {
    const source = new FileSecretSource({ keys: { a: file(`hex:${KEY_HEX}`) } });
    await expect(source.getKey('b')).rejects.toMatchObject({ code: 'ERR_KEY_NOT_CONFIGURED' });
  });

  describe('generateKeyFile', () => {
    it('creates a mode-0600 base64: key file that FileSecretSource accepts', async () => {
      const path = join(dir, 'nested', 'deeper', 'master.key');
      generateKeyFile(path);
      const st = statSync(path);
      expect(st.isFile()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
      const text = readFileSync(path, 'utf8');
      expect(text).toMatch(/^base64:[A-Za-z0-9+/]{43}=\n$/);
      const source = new FileSecretSource({ keys: { master: path } });
      const bytes = bytesOf(await source.getKey('master'));
      expect(bytes.byteLength).toBe(32);
      expect(bytes.equals(Buffer.from(text.trim().slice(7), 'base64'))).toBe(true);
    });

    it('generates a different key each time', () => {
      const a = join(dir, 'gen-a.key');
      const b = join(dir, 'gen-b.key');
      generateKeyFile(a);
      generateKeyFile(b);
      expect(readFileSync(a, 'utf8')).not.toBe(readFileSync(b, 'utf8'));
    });

    it('refuses to overwrite an existing file and leaves it untouched', () => {
      const path = join(dir, 'existing.key');
      generateKeyFile(path);
      const before = readFileSync(path, 'utf8');
      expect(() => generateKeyFile(path)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
      expect(readFileSync(path, 'utf8')).toBe(before);

      const other = file('not a key, do not touch');
      expect(() => generateKeyFile(other)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
      expect(readFileSync(other, 'utf8')).toBe('not a key, do not touch');
    });
  });
});
