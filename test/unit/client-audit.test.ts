import { describe, expect, it } from 'vitest';
import type { AuditEvent, AuditOperation, AuditSink } from '../../src/audit/audit-event.js';
import {
  createFieldseal,
  isFieldsealError,
  type EncryptionContext,
  type Fieldseal,
  type FieldsealError,
  type FieldsealOptions,
} from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

const CACHE = { maxAgeMs: 60_000 };
const ACTOR = 'svc-test';

/** A sink that keeps every event, and fails on demand. */
class CollectingSink implements AuditSink {
  readonly events: AuditEvent[] = [];
  failNext = 0;
  /** Fail every event of this operation. */
  failOn: AuditOperation | undefined;
  readonly error = new Error('audit database down');
  record(event: AuditEvent): Promise<void> {
    if (this.failNext > 0 || event.operation === this.failOn) {
      if (this.failNext > 0) this.failNext--;
      return Promise.reject(this.error);
    }
    this.events.push(event);
    return Promise.resolve();
  }
  of(...operations: AuditOperation[]): AuditEvent[] {
    return this.events.filter((e) => operations.includes(e.operation));
  }
}

function ctx(tenant = 'acme', record = 'cus_1'): EncryptionContext {
  return { tenant, table: 'customers', field: 'ssn', record };
}

function client(
  provider: MemoryKeyProvider,
  sink: AuditSink | AuditSink[],
  extra: Partial<FieldsealOptions> = {},
): Fieldseal {
  return createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: CACHE,
    audit: sink,
    actor: ACTOR,
    ...extra,
  });
}

function storeClient(
  provider: MemoryKeyProvider,
  store: MemoryKeyStore,
  sink: AuditSink,
  extra: Partial<FieldsealOptions> = {},
): Fieldseal {
  return client(provider, sink, {
    keys: { mode: 'store', store, masterKeyId: 'master', keyId: 'k' },
    ...extra,
  });
}

async function rejection(p: Promise<unknown>): Promise<FieldsealError> {
  const caught = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isFieldsealError(caught), `expected a FieldsealError, got ${String(caught)}`).toBe(true);
  return caught as FieldsealError;
}

/** Provider-call events must match the provider's own counters one for one. */
function expectOneEventPerProviderCall(provider: MemoryKeyProvider, sink: CollectingSink): void {
  const calls = provider.calls;
  expect({
    generate: sink.of('generate').length,
    wrap: sink.of('wrap').length,
    unwrap: sink.of('unwrap').length,
  }).toEqual(calls);
}

describe('audit events: provider calls', () => {
  it('embedded mode: every generate and unwrap is one event; the warm path emits none', async () => {
    const provider = new MemoryKeyProvider();
    const sink = new CollectingSink();
    const writer = client(provider, sink);
    const stored = await writer.encryptMany(
      Array.from({ length: 50 }, (_, i) => ({ value: `v${i}`, context: ctx('acme', `r${i}`) })),
    );
    await writer.encrypt('x', ctx('globex'));
    expect(sink.events.map((e) => e.operation)).toEqual(['generate', 'generate']);
    const reader = client(provider, sink);
    provider.setLatency(10);
    // A cold burst: single-flight, so one unwrap and one event for all 50 reads.
    await Promise.all(stored.map((s, i) => reader.decrypt(s, ctx('acme', `r${i}`))));
    provider.setLatency(0);
    expect(sink.of('unwrap')).toHaveLength(1);
    const before = sink.events.length;
    for (let i = 0; i < 50; i++) await reader.decrypt(stored[i]!, ctx('acme', `r${i}`));
    await reader.decryptMany(stored.map((s, i) => ({ stored: s, context: ctx('acme', `r${i}`) })));
    await writer.encrypt('y', ctx('acme'));
    expect(sink.events.length, 'warm reads and writes must not audit').toBe(before);
    expectOneEventPerProviderCall(provider, sink);
    const [generate] = sink.events;
    expect(generate).toMatchObject({
      actor: ACTOR,
      operation: 'generate',
      tenant: 'acme',
      providerId: 'memory',
      masterKeyId: 'master',
      outcome: 'success',
    });
    expect(generate!.at).toBeInstanceOf(Date);
    expect(generate).not.toHaveProperty('keyId');
    expect(Object.isFrozen(generate)).toBe(true);
  });

  it('store mode: provision, rotate, rewrap and reads carry key id and version', async () => {
    const provider = new MemoryKeyProvider({ masterKeys: ['master', 'master-2'] });
    const store = new MemoryKeyStore();
    const sink = new CollectingSink();
    const fs = storeClient(provider, store, sink);
    await fs.provisionTenant('acme');
    const v1 = await fs.encrypt('one', ctx());
    await fs.rotateTenantKey('acme');
    const v2 = await fs.encrypt('two', ctx());
    const reader = storeClient(provider, store, sink);
    expect(await reader.decrypt(v1, ctx())).toBe('one');
    expect(await reader.decrypt(v2, ctx())).toBe('two');
    // The target must be a key reads accept: list it for the move.
    const mover = storeClient(provider, store, sink, {
      keys: {
        mode: 'store',
        store,
        masterKeyId: 'master',
        keyId: 'k',
        acceptMasterKeyIds: ['master-2'],
      },
    });
    await mover.rewrapTenantKeys('acme', { masterKeyId: 'master-2' });
    expectOneEventPerProviderCall(provider, sink);
    expect(sink.events.map((e) => `${e.operation}:${e.version ?? '-'}`)).toEqual([
      'generate:1',
      'provision:1',
      'unwrap:1', // provisioning does not keep the key: the first write unwraps it
      'generate:2',
      'rotate:2',
      'unwrap:1',
      'unwrap:2',
      // rewrap: newest first within the key id, unwrap then wrap each
      'unwrap:2',
      'wrap:2',
      'unwrap:1',
      'wrap:1',
      'rewrap:-',
    ]);
    expect(sink.of('unwrap')[0]).toMatchObject({ keyId: 'k', version: 1, masterKeyId: 'master' });
    expect(sink.of('wrap')[0]).toMatchObject({ keyId: 'k', masterKeyId: 'master-2' });
    expect(sink.of('rewrap')[0]).toMatchObject({
      tenant: 'acme',
      providerId: 'memory',
      masterKeyId: 'master-2',
      outcome: 'success',
      detail: {
        rewrapped: [
          { keyId: 'k', version: 2 },
          { keyId: 'k', version: 1 },
        ],
        skipped: [],
      },
    });
    expect(sink.of('provision')[0]).toMatchObject({
      keyId: 'k',
      version: 1,
      providerId: 'memory',
      masterKeyId: 'master',
    });
  });

  it('a failed provider call is audited once, with its error code, and still fails', async () => {
    const provider = new MemoryKeyProvider();
    const sink = new CollectingSink();
    const writer = client(provider, sink);
    const stored = await writer.encrypt('x', ctx());
    const reader = client(provider, sink);
    provider.injectFault('timeout', 1);
    expect((await rejection(reader.decrypt(stored, ctx()))).code).toBe('ERR_PROVIDER_UNAVAILABLE');
    provider.injectFault('unavailable', 1);
    const batch = await rejection(reader.decryptMany([{ stored, context: ctx() }]));
    expect(batch.code).toBe('ERR_BATCH_FAILED');
    const failures = sink.events.filter((e) => e.outcome === 'failure');
    expect(failures.map((e) => [e.operation, e.errorCode])).toEqual([
      ['unwrap', 'ERR_PROVIDER_UNAVAILABLE'],
      ['unwrap', 'ERR_PROVIDER_UNAVAILABLE'],
    ]);
    expect(await reader.decrypt(stored, ctx())).toBe('x');
    expect(sink.of('unwrap').map((e) => e.outcome)).toEqual(['failure', 'failure', 'success']);
    expectOneEventPerProviderCall(provider, sink);
    // Another master key: the provider refuses to unwrap.
    const otherProvider = new MemoryKeyProvider();
    const otherSink = new CollectingSink();
    const other = client(otherProvider, otherSink);
    expect((await rejection(other.decrypt(stored, ctx()))).code).toBe('ERR_KEY_UNWRAP_FAILED');
    expect(otherSink.events).toMatchObject([
      { operation: 'unwrap', outcome: 'failure', errorCode: 'ERR_KEY_UNWRAP_FAILED' },
    ]);
    expectOneEventPerProviderCall(otherProvider, otherSink);
  });
});

describe('audit events: a failing sink fails the operation', () => {
  it('... but only operations that call the provider: warm reads and writes never wait for it', async () => {
    const provider = new MemoryKeyProvider();
    const sink = new CollectingSink();
    const fs = client(provider, sink);
    const stored = await fs.encrypt('x', ctx());
    expect(await fs.decrypt(stored, ctx())).toBe('x');
    sink.failNext = Infinity;
    for (let i = 0; i < 20; i++) {
      expect(await fs.decrypt(await fs.encrypt(`v${i}`, ctx()), ctx())).toBe(`v${i}`);
    }
    expect(
      await fs.decryptMany([{ stored: await fs.encrypt('y', ctx()), context: ctx() }]),
    ).toEqual(['y']);
    // A cold key needs the provider, so it needs the audit sink.
    expect((await rejection(fs.encrypt('z', ctx('globex')))).code).toBe('ERR_AUDIT_UNAVAILABLE');
  });

  it('encrypt and decrypt fail with ERR_AUDIT_UNAVAILABLE, cause chained, key not kept', async () => {
    const provider = new MemoryKeyProvider();
    const sink = new CollectingSink();
    const fs = client(provider, sink);
    sink.failNext = 1;
    const err = await rejection(fs.encrypt('x', ctx()));
    expect(err.code).toBe('ERR_AUDIT_UNAVAILABLE');
    expect(err.cause).toBe(sink.error);
    expect(fs.stats().failures.ERR_AUDIT_UNAVAILABLE).toBe(1);
    // The generated key was not cached: the next write generates (and audits) again.
    const stored = await fs.encrypt('x', ctx());
    expect(provider.calls.generate).toBe(2);
    expect(sink.of('generate')).toHaveLength(1);

    const reader = client(provider, sink);
    sink.failNext = 1;
    expect((await rejection(reader.decrypt(stored, ctx()))).code).toBe('ERR_AUDIT_UNAVAILABLE');
    expect(reader.metrics().cache.entries).toBe(0);
    expect(await reader.decrypt(stored, ctx())).toBe('x');
  });

  it('one failing sink of several is enough; every working sink still got the event', async () => {
    const provider = new MemoryKeyProvider();
    const a = new CollectingSink();
    const b = new CollectingSink();
    const fs = client(provider, [a, b]);
    b.failNext = 1;
    expect((await rejection(fs.encrypt('x', ctx()))).code).toBe('ERR_AUDIT_UNAVAILABLE');
    expect(a.events).toHaveLength(1);
    expect(b.events).toHaveLength(0);
  });

  it('a failure whose audit record fails reports the audit failure', async () => {
    const provider = new MemoryKeyProvider();
    const sink = new CollectingSink();
    const fs = client(provider, sink);
    provider.injectFault('timeout', 1);
    sink.failNext = 1;
    const err = await rejection(fs.encrypt('x', ctx()));
    expect(err.code).toBe('ERR_AUDIT_UNAVAILABLE');
    expect(err.message).toMatch(/failed and its audit record could not be written/);
  });

  it('provision and rotate: an unaudited generate aborts; an unaudited rotation is reported', async () => {
    const provider = new MemoryKeyProvider();
    const store = new MemoryKeyStore();
    const sink = new CollectingSink();
    const fs = storeClient(provider, store, sink);
    await fs.provisionTenant('acme');
    // The generate event fails: the new key is dropped and no version is created.
    sink.failOn = 'generate';
    let err = await rejection(fs.rotateTenantKey('acme'));
    expect(err).toMatchObject({ code: 'ERR_AUDIT_UNAVAILABLE', cause: sink.error });
    expect(err.message).toMatch(/key-provider call.*discarded/);
    expect((await store.getActiveVersion('acme', 'k'))?.version).toBe(1);
    expect(sink.events.at(-1)).toMatchObject({
      operation: 'rotate',
      outcome: 'failure',
      errorCode: 'ERR_AUDIT_UNAVAILABLE',
    });
    // The rotate event fails: the version exists (the store is the truth) and the caller is
    // told the rotation completed unaudited.
    sink.failOn = 'rotate';
    err = await rejection(fs.rotateTenantKey('acme'));
    expect(err.code).toBe('ERR_AUDIT_UNAVAILABLE');
    expect(err.message).toMatch(/rotate completed, but its audit record could not be written/);
    expect((await store.getActiveVersion('acme', 'k'))?.version).toBe(2);
    sink.failOn = 'provision';
    err = await rejection(fs.provisionTenant('globex'));
    expect(err.message).toMatch(/provision completed/);
    sink.failOn = undefined;
    expect(sink.events.map((e) => `${e.operation}:${e.outcome}`)).toEqual([
      'generate:success',
      'provision:success',
      'rotate:failure',
      'generate:success',
      'generate:success',
    ]);
  });

  it('shred: the store shred completes, the error says its receipt was not recorded', async () => {
    const provider = new MemoryKeyProvider();
    const store = new MemoryKeyStore();
    const sink = new CollectingSink();
    const fs = storeClient(provider, store, sink);
    await fs.provisionTenant('acme');
    await fs.rotateTenantKey('acme');
    const stored = await fs.encrypt('x', ctx());
    sink.failNext = 1;
    const err = await rejection(fs.shredTenant('acme'));
    expect(err.code).toBe('ERR_AUDIT_UNAVAILABLE');
    expect(err.message).toMatch(/WAS shredded.*erasure receipt.*could not be written/);
    expect(err.cause).toBe(sink.error);
    expect((await store.listVersions('acme')).map((v) => v.state)).toEqual([
      'shredded',
      'shredded',
    ]);
    expect((await rejection(fs.decrypt(stored, ctx()))).code).toBe('ERR_KEY_SHREDDED');
  });

  it('shred: other processes are told even when the receipt cannot be recorded', async () => {
    const published: string[] = [];
    const keyEvents = {
      publishShred: (tenant: string) => Promise.resolve(void published.push(tenant)),
      publishKeysChanged: () => Promise.resolve(),
      subscribe: () => () => undefined,
    };
    const sink = new CollectingSink();
    const fs = storeClient(new MemoryKeyProvider(), new MemoryKeyStore(), sink, { keyEvents });
    await fs.provisionTenant('acme');
    sink.failOn = 'shred';
    expect((await rejection(fs.shredTenant('acme'))).code).toBe('ERR_AUDIT_UNAVAILABLE');
    expect(published).toEqual(['acme']);
  });
});

describe('audit events: shred receipt, recordAudit, configuration', () => {
  it('the shred event is the erasure receipt: the versions destroyed, at the same instant', async () => {
    const provider = new MemoryKeyProvider();
    const store = new MemoryKeyStore();
    const sink = new CollectingSink();
    const fs = storeClient(provider, store, sink);
    await fs.provisionTenant('acme');
    await fs.rotateTenantKey('acme');
    const receipt = await fs.shredTenant('acme');
    const [event] = sink.of('shred');
    expect(event).toMatchObject({
      actor: ACTOR,
      tenant: 'acme',
      outcome: 'success',
      detail: { versions: receipt.versions.map((v) => ({ keyId: v.keyId, version: v.version })) },
    });
    expect(receipt.versions).toHaveLength(2);
    expect(event!.at).toBe(receipt.shreddedAt);
    // Shredding an embedded-mode client is refused, and audited as a failure.
    const embedded = client(provider, sink);
    expect((await rejection(embedded.shredTenant('acme'))).code).toBe('ERR_KEY_NOT_CONFIGURED');
    expect(sink.of('shred').at(-1)).toMatchObject({
      outcome: 'failure',
      errorCode: 'ERR_KEY_NOT_CONFIGURED',
    });
  });

  it('recordAudit stamps actor and time, freezes, validates, and fails with the sink', async () => {
    const sink = new CollectingSink();
    const fs = client(new MemoryKeyProvider(), sink);
    const before = Date.now();
    const detail = { table: 'customers', fields: ['ssn'], rows: 10 };
    await fs.recordAudit({
      operation: 'backfill-start',
      tenant: 'acme',
      outcome: 'success',
      detail,
    });
    const [event] = sink.events;
    expect(event).toMatchObject({ actor: ACTOR, operation: 'backfill-start', detail });
    expect(event!.at.getTime()).toBeGreaterThanOrEqual(before);
    detail.fields.push('changed later');
    expect(event!.detail).toEqual({ table: 'customers', fields: ['ssn'], rows: 10 });
    expect(Object.isFrozen(event!.detail)).toBe(true);

    const bad: unknown[] = [
      { operation: 'drop-everything', outcome: 'success' },
      { operation: 'retire', outcome: 'maybe' },
      { operation: 'retire', outcome: 'success', detail: { key: Buffer.alloc(32) } },
      { operation: 'retire', outcome: 'success', detail: { at: new Date() } },
      { operation: 'retire', outcome: 'success', version: 0 },
      { operation: 'retire', outcome: 'success', tenant: 42 },
    ];
    for (const event of bad) {
      await expect(fs.recordAudit(event as never)).rejects.toThrow(TypeError);
      // The same checks without any sink configured.
      await expect(
        createFieldseal({
          admin: true,
          provider: new MemoryKeyProvider(),
          keys: { mode: 'embedded', masterKeyId: 'master' },
          cache: CACHE,
        }).recordAudit(event as never),
      ).rejects.toThrow(TypeError);
    }
    expect(sink.events).toHaveLength(1);
    sink.failNext = 1;
    const err = await rejection(fs.recordAudit({ operation: 'retire', outcome: 'success' }));
    expect(err).toMatchObject({ code: 'ERR_AUDIT_UNAVAILABLE', cause: sink.error });
  });

  it('audit without a non-empty actor fails at construction', () => {
    const base = {
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded' as const, masterKeyId: 'master' },
      cache: CACHE,
    };
    const sink = new CollectingSink();
    expect(() => createFieldseal({ ...base, audit: sink })).toThrow(/actor/);
    expect(() => createFieldseal({ ...base, audit: sink, actor: '  ' })).toThrow(TypeError);
    expect(() => createFieldseal({ ...base, audit: [sink, {} as AuditSink], actor: 'a' })).toThrow(
      /audit\[1\]/,
    );
    expect(() => createFieldseal({ ...base, actor: 'only an actor' })).not.toThrow();
    expect(() => createFieldseal({ ...base, audit: [], actor: 'a' })).not.toThrow();
  });
});
