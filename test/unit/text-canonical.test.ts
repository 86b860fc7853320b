import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { classifyStored } from '../../src/envelope/encoding.js';
import { isFieldsealError } from '../../src/index.js';

/*
 * The text form's canonical check against its definition: a body is accepted exactly when it
 * is the unpadded base64url encoding of the bytes it decodes to (re-encoding gives it back).
 * Random bodies over the alphabet and the characters Node's lenient decoder treats specially
 * (the other alphabet, padding, whitespace, controls, and characters above U+00FF whose low
 * byte is a base64 character).
 */
const SPECIAL = [
  '+',
  '/',
  '=',
  ' ',
  '\n',
  '\t',
  '\0',
  '.',
  '\u00ff',
  '\u0100',
  '\u0151',
  '\u0141',
  '\u4e51',
  '\ud83d',
];
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The reference: accepted iff re-encoding the decoded bytes gives the body back. */
function canonical(body: string): boolean {
  return Buffer.from(body, 'base64url').toString('base64url') === body;
}

function verdict(body: string): boolean {
  try {
    classifyStored(`fs1:${body}`);
    return true;
  } catch (err) {
    if (!isFieldsealError(err)) throw err;
    // A canonical body that does not start with the magic byte is refused for that reason.
    return err.message.includes('does not hold an envelope');
  }
}

describe('text envelopes: canonical base64url, exactly', () => {
  it('agrees with re-encoding on every short body and on random long ones', () => {
    const pick = (r: number) =>
      r % 5 === 0 ? SPECIAL[r % SPECIAL.length]! : ALPHABET[r % ALPHABET.length]!;
    let mismatches = 0;
    const check = (body: string) => {
      if (verdict(body) !== canonical(body)) mismatches++;
    };
    // Every body of up to 2 characters over the alphabet and the special characters.
    const chars = [...ALPHABET, ...SPECIAL];
    for (const a of chars) {
      check(a);
      for (const b of chars) check(a + b);
    }
    // Random bodies: valid encodings of random bytes (starting with the magic), then each
    // damaged at one position, plus fully random strings.
    for (let i = 0; i < 20_000; i++) {
      const bytes = randomBytes(1 + (i % 97));
      bytes[0] = 0xf5;
      const valid = bytes.toString('base64url');
      check(valid);
      const at = i % valid.length;
      check(valid.slice(0, at) + pick(i * 7 + 3) + valid.slice(at + 1));
      check(valid.slice(0, at) + pick(i * 11 + 5) + valid.slice(at));
      const r = randomBytes(8 + (i % 13));
      check([...r].map((x) => pick(x)).join(''));
    }
    expect(mismatches).toBe(0);
  });

  it("refuses the lenient decoder's look-alikes of a valid body", () => {
    const bytes = Buffer.from([0xf5, 1, 2, 3, 4, 5]);
    const valid = bytes.toString('base64url'); // '9QECAwQF'
    expect(verdict(valid)).toBe(true);
    for (const body of [
      `\u0151${valid.slice(1)}`.replace('\u0151', String.fromCharCode(0x100 + valid.charCodeAt(0))),
      `${valid}==`,
      `${valid.slice(0, 4)} ${valid.slice(4)}`,
      `${valid}A`,
    ]) {
      expect(verdict(body), JSON.stringify(body)).toBe(false);
    }
    // The standard alphabet's twins of '-' and '_' decode to the same bytes.
    const dashed = Buffer.from([0xf5, 0xfb, 0xff]).toString('base64url');
    expect(dashed).toMatch(/[-_]/);
    expect(verdict(dashed)).toBe(true);
    expect(verdict(dashed.replace(/-/g, '+').replace(/_/g, '/'))).toBe(false);
  });
});
