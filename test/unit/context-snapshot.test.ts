// Issue #11, defect 2: a context whose entries are not own enumerable data properties used to
// pass validation (read through getters and the prototype chain) while the AAD left them out,
// so a value opened under another table, field or record, and a WriteOnly field's value could
// be read back through another field's policy. Every such context is now ERR_INVALID_CONTEXT.
import { describe, expect, it } from 'vitest';
import { createFieldseal, type EncryptionContext, type Fieldseal } from '../../src/index.js';
import { encodeContext, snapshotContext } from '../../src/envelope/context.js';
import { rejectionCode } from './rejection-code.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';

function client(): Fieldseal {
  return createFieldseal({
    provider: new MemoryKeyProvider(),
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    fields: { 'customers.secret': { mode: 'WriteOnly' } },
  });
}

class ContextClass {
  readonly tenant = 'acme';
  get table(): string {
    return 'customers';
  }
  get field(): string {
    return 'ssn';
  }
}

/** Contexts that name table/field/record in ways the AAD used to leave out. */
function hostileContexts(): [string, unknown][] {
  const defaults = { table: 'customers', field: 'ssn', record: 'cus_1' };
  const inherited = Object.create(defaults) as Record<string, string>;
  inherited.tenant = 'acme';
  const defined = { tenant: 'acme', table: 'customers' };
  Object.defineProperty(defined, 'field', { value: 'ssn' }); // non-enumerable
  const getter = { tenant: 'acme', table: 'customers' } as Record<string, unknown>;
  Object.defineProperty(getter, 'field', { get: () => 'ssn', enumerable: true });
  const symbol = { tenant: 'acme', table: 'customers', field: 'ssn', [Symbol('record')]: 'x' };
  return [
    ['a class with getters', new ContextClass()],
    ['Object.create(defaults)', inherited],
    ['a non-enumerable own property', defined],
    ['an enumerable accessor', getter],
    ['a symbol key', symbol],
    ['a Map', new Map([['tenant', 'acme']])],
    ['null', null],
    ['a string', 'acme'],
    ['an array', ['acme', 'customers', 'ssn']],
    ['a number', 42],
  ];
}

describe('encryption contexts are read once, as own enumerable data properties', () => {
  it.each(hostileContexts())('encrypt refuses %s with ERR_INVALID_CONTEXT', async (_n, ctx) => {
    const fs = client();
    expect(await rejectionCode(fs.encrypt('v', ctx as EncryptionContext))).toBe(
      'ERR_INVALID_CONTEXT',
    );
    expect(await rejectionCode(fs.decrypt('fs1:AAAA', ctx as EncryptionContext))).toBe(
      'ERR_INVALID_CONTEXT',
    );
    expect(fs.metrics().providerCalls.memory).toMatchObject({ generate: 0, unwrap: 0 });
  });

  it.each(hostileContexts())('batches refuse %s per item', async (_n, ctx) => {
    const fs = client();
    const err = await fs.encryptMany([{ value: 'v', context: ctx as EncryptionContext }]).then(
      () => undefined,
      (e: unknown) => e as { failures: { error: { code: string } }[] },
    );
    expect(err?.failures[0]?.error.code).toBe('ERR_INVALID_CONTEXT');
  });

  it('a value sealed under one record never opens under another, however the context is built', async () => {
    const fs = client();
    const plain = { tenant: 'acme', table: 'customers', field: 'ssn', record: 'cus_1' };
    const stored = await fs.encrypt('521-44-8790', plain);
    // The same entries as a plain copy decrypt; any other record fails authentication.
    expect(await fs.decrypt(stored, { ...plain })).toBe('521-44-8790');
    expect(await rejectionCode(fs.decrypt(stored, { ...plain, record: 'cus_2' }))).toBe(
      'ERR_AUTHENTICATION_FAILED',
    );
  });

  it('a WriteOnly field cannot be read through another field policy via an inherited field name', async () => {
    const fs = client();
    const ctx = { tenant: 'acme', table: 'customers', field: 'secret', record: 'r' };
    const stored = await fs.encrypt('top secret', ctx);
    expect(await rejectionCode(fs.decrypt(stored, ctx))).toBe('ERR_MODE_FORBIDDEN');
    // Before the fix: field 'secret' was bound in the AAD only when own; an inherited 'field'
    // named another (readable) policy while the AAD matched a context without it.
    const inherited = Object.create({ field: 'other' }) as Record<string, string>;
    Object.assign(inherited, { tenant: 'acme', table: 'customers', field: 'secret', record: 'r' });
    expect(await rejectionCode(fs.decrypt(stored, inherited as EncryptionContext))).toBe(
      'ERR_INVALID_CONTEXT',
    );
  });

  it('a context list is copied once: changing it afterwards changes nothing', async () => {
    const fs = client();
    const record = ['a', 'b'];
    const ctx = { tenant: 'acme', table: 'customers', field: 'ssn', record };
    const stored = await fs.encrypt('v', ctx);
    record.push('c');
    expect(await rejectionCode(fs.decrypt(stored, ctx))).toBe('ERR_AUTHENTICATION_FAILED');
    record.pop();
    expect(await fs.decrypt(stored, ctx)).toBe('v');
  });

  it("every property is read and checked before a list's items are", () => {
    // A getter after a bad list is refused as a getter: the lists are copied last, so a
    // caller's array items are never read from an object that is refused anyway.
    const ctx: Record<string, unknown> = { tenant: 'acme', table: 't', field: 'f', a: [1] };
    Object.defineProperty(ctx, 'b', { get: () => 'x', enumerable: true });
    expect(() => encodeContext(ctx as EncryptionContext)).toThrow(/not getters/);
    let read = 0;
    const list = new Proxy(['x'], {
      get: (target, key, receiver) => {
        if (key === '0') read++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const hidden: Record<string, unknown> = { tenant: 'acme', table: 't', field: 'f', a: list };
    Object.defineProperty(hidden, 'h', { value: 'x', enumerable: false });
    expect(() => encodeContext(hidden as EncryptionContext)).toThrow(/enumerable/);
    expect(read).toBe(0);
  });

  it('null-prototype contexts are plain data and work', async () => {
    const fs = client();
    const ctx = Object.assign(Object.create(null) as Record<string, string>, {
      tenant: 'acme',
      table: 'customers',
      field: 'ssn',
    });
    const stored = await fs.encrypt('v', ctx);
    expect(await fs.decrypt(stored, { tenant: 'acme', table: 'customers', field: 'ssn' })).toBe(
      'v',
    );
  });

  it('a snapshot inherits nothing, even from a polluted Object.prototype, and is accepted back', async () => {
    const polluted = Object.prototype as Record<string, unknown>;
    polluted.record = 'cus_forged';
    try {
      const snap = snapshotContext({ tenant: 'acme', table: 'customers', field: 'ssn' });
      const proto = Object.getPrototypeOf(snap) as object;
      expect(Object.getPrototypeOf(proto)).toBeNull();
      expect(Object.isFrozen(proto)).toBe(true);
      expect(Reflect.ownKeys(proto)).toEqual([]);
      for (const name of ['record', 'constructor', 'toString', '__proto__']) {
        expect(name in snap, name).toBe(false);
      }
      // The AAD has no record entry: the value opens without one and not with the forged one.
      const fs = client();
      const stored = await fs.encrypt('v', snap);
      delete polluted.record;
      expect(await fs.decrypt(stored, snapshotContext(snap))).toBe('v');
      expect(
        await fs
          .decrypt(stored, {
            tenant: 'acme',
            table: 'customers',
            field: 'ssn',
            record: 'cus_forged',
          })
          .catch((e: unknown) => (e as { code: string }).code),
      ).toBe('ERR_AUTHENTICATION_FAILED');
    } finally {
      delete polluted.record;
    }
  });
});
