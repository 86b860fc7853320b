/**
 * CANARY test: a known plaintext and a known master key are pushed through every success and
 * failure path, and everything that could end up in a log is captured (console, stdout/stderr,
 * pino, and explicit renderings of every error, cause chain and secret holder). None of it may
 * contain the plaintext or the key in any common encoding.
 *
 * If this test fails, something in fieldseal started printing a value or a key: do not relax
 * the matcher, find the leak.
 */
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { format, inspect } from 'node:util';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  BatchError,
  DataKey,
  EnvSecretSource,
  LocalKeyProvider,
  SecretKey,
  createFieldseal,
  inspectEnvelope,
  isFieldsealError,
  sensitive,
  type EncryptionContext,
  type FieldValue,
  type FieldsealErrorCode,
  type KeyContext,
} from '../../src/index.js';
import { MemoryKeyStore } from '../../src/testing/index.js';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { AuditEvent } from '../../src/audit/audit-event.js';
import type { MetricsSink } from '../../src/metrics/metrics-sink.js';
import { openTelemetryMetrics } from '../../src/opentelemetry/index.js';

// ---------------------------------------------------------------------------------------------
// Canaries and the matcher
// ---------------------------------------------------------------------------------------------

const CANARY = 'CANARY-PLAINTEXT-7f3a9c';
const CANARY_KEY_HEX = '1d1bb10a196fbb3b039677d8c4cc965a705e9ebecef21f51197baaa4691ad1de';
const CANARY_KEY = Buffer.from(CANARY_KEY_HEX, 'hex');
const CANARY_KEY_B64 = CANARY_KEY.toString('base64');
const CANARY_KEY_B64URL = CANARY_KEY.toString('base64url');
/** A second, unrelated key for the "wrong key" paths (not a canary). */
const OTHER_KEY_HEX = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';

const decimalList = (b: Uint8Array): string => [...b].join(', ');
const plainBytes = Buffer.from(CANARY, 'utf8');

/**
 * Every form in which the canaries could show up. `raw` needles are searched in the text as it
 * is; `squeezed` ones in the text with all whitespace removed and lower-cased, which is how a
 * Buffer (`<Buffer 43 41 ...>`) or a Uint8Array (`Uint8Array(23) [\n  67, 65, ...`) printed by
 * `util.inspect` reads once its layout is gone. Prefixes (8 bytes / 16 hex / 12 base64
 * characters) catch partial leaks, e.g. a truncated key quoted in an error message.
 */
const NEEDLES: readonly { label: string; needle: string; squeezed?: true }[] = [
  { label: 'plaintext', needle: CANARY },
  { label: 'plaintext (lower case)', needle: CANARY.toLowerCase(), squeezed: true },
  {
    label: 'plaintext bytes (hex)',
    needle: plainBytes.subarray(0, 8).toString('hex'),
    squeezed: true,
  },
  {
    label: 'plaintext bytes (decimal)',
    needle: decimalList(plainBytes.subarray(0, 8)),
    squeezed: true,
  },
  { label: 'plaintext (base64)', needle: plainBytes.toString('base64').slice(0, 16) },
  { label: 'plaintext (base64url)', needle: plainBytes.toString('base64url').slice(0, 16) },
  { label: 'key hex', needle: CANARY_KEY_HEX },
  { label: 'key HEX', needle: CANARY_KEY_HEX.toUpperCase() },
  { label: 'key hex prefix (any case)', needle: CANARY_KEY_HEX.slice(0, 16), squeezed: true },
  { label: 'key hex suffix (any case)', needle: CANARY_KEY_HEX.slice(-16), squeezed: true },
  { label: 'key bytes (decimal)', needle: decimalList(CANARY_KEY.subarray(0, 8)), squeezed: true },
  { label: 'key base64', needle: CANARY_KEY_B64 },
  { label: 'key base64 (unpadded)', needle: CANARY_KEY_B64.replace(/=+$/, '') },
  { label: 'key base64url', needle: CANARY_KEY_B64URL },
  { label: 'key base64 prefix', needle: CANARY_KEY_B64.slice(0, 12) },
  { label: 'key base64 suffix', needle: CANARY_KEY_B64URL.slice(-12) },
];

/** Labels of the needles found in `text`. */
function findLeaks(text: string): string[] {
  const squeezed = text.replace(/\s+/g, '').toLowerCase();
  return NEEDLES.filter(({ needle, squeezed: sq }) =>
    sq === true
      ? squeezed.includes(needle.replace(/\s+/g, '').toLowerCase())
      : text.includes(needle),
  ).map(({ label }) => label);
}

function assertNoLeaks(texts: readonly string[]): void {
  const leaks: string[] = [];
  for (const t of texts) {
    const found = findLeaks(t);
    // Report the needle names and where, never the raw text (that would print the canary).
    if (found.length > 0)
      leaks.push(`${found.join(', ')} in output #${texts.indexOf(t)} (${t.length} chars)`);
  }
  expect(leaks, 'secret material reached printable output').toEqual([]);
}

// ---------------------------------------------------------------------------------------------
// Capture
// ---------------------------------------------------------------------------------------------

type ConsoleMethod = 'log' | 'info' | 'warn' | 'error' | 'debug' | 'trace' | 'dir';
const CONSOLE_METHODS: readonly ConsoleMethod[] = [
  'log',
  'info',
  'warn',
  'error',
  'debug',
  'trace',
  'dir',
];

interface Sink {
  readonly texts: string[];
  /** A real `Console` writing to the (patched) process.stdout / process.stderr. */
  readonly realConsole: Console;
  /** A real pino logger writing JSON lines into `texts`. */
  readonly logger: pino.Logger;
  /** Record explicit renderings. */
  add(...texts: string[]): void;
}

/**
 * Run `fn` with console.*, process.stdout.write, process.stderr.write and process warnings
 * recorded (and swallowed); returns everything recorded. Always restores the originals.
 */
async function capture(fn: (sink: Sink) => Promise<void> | void): Promise<string[]> {
  const texts: string[] = [];
  // The originals are put back as they were (same function objects), never called unbound.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const saved = CONSOLE_METHODS.map((m) => [m, console[m]] as const);
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const out = process.stdout.write;
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const err = process.stderr.write;
  const onWarning = (w: Error): void => {
    texts.push(inspect(w, { showHidden: true, depth: 10 }));
  };
  const toText = (chunk: unknown): string =>
    typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
  for (const m of CONSOLE_METHODS) {
    (console as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => {
      texts.push(m === 'dir' ? inspect(args[0], args[1] as object) : format(...args));
    };
  }
  process.stdout.write = (chunk: unknown) => {
    texts.push(toText(chunk));
    return true;
  };
  process.stderr.write = (chunk: unknown) => {
    texts.push(toText(chunk));
    return true;
  };
  process.on('warning', onWarning);
  const pinoSink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      texts.push(chunk.toString('utf8'));
      cb();
    },
  });
  const sink: Sink = {
    texts,
    realConsole: new Console({ stdout: process.stdout, stderr: process.stderr }),
    logger: pino({ level: 'trace' }, pinoSink),
    add: (...t) => texts.push(...t),
  };
  try {
    await fn(sink);
    // Let pino's stream and any pending warning flush.
    await new Promise((r) => setImmediate(r));
  } finally {
    for (const [m, f] of saved) (console as unknown as Record<string, unknown>)[m] = f;
    process.stdout.write = out;
    process.stderr.write = err;
    process.off('warning', onWarning);
  }
  return texts;
}

/** Every way an error is commonly turned into text, recursively over causes and batch items. */
function renderError(err: unknown, seen = new Set<unknown>()): string[] {
  if (seen.has(err)) return [];
  seen.add(err);
  const out: string[] = [
    String(err),
    `${err as string}`,
    inspect(err),
    inspect(err, { depth: 10, showHidden: true }),
    inspect(err, { depth: 10, showHidden: true, customInspect: false, getters: true }),
    format('%s | %o | %O | %j', err, err, err, err),
  ];
  try {
    out.push(JSON.stringify(err) ?? '', JSON.stringify({ err }) ?? '');
  } catch (e) {
    out.push(`JSON.stringify threw ${String(e)}`);
  }
  if (err instanceof Error) {
    out.push(err.message, err.stack ?? '', err.name);
    for (const key of Object.getOwnPropertyNames(err)) {
      out.push(
        inspect((err as unknown as Record<string, unknown>)[key], { depth: 10, showHidden: true }),
      );
    }
    out.push(...renderError(err.cause, seen));
    if (err instanceof AggregateError)
      for (const e of err.errors) out.push(...renderError(e, seen));
  }
  if (err instanceof BatchError) {
    for (const f of err.failures) out.push(...renderError(f.error, seen));
  }
  return out;
}

/** Every way a (secret-holding or not) object is commonly turned into text. */
function renderObject(x: unknown): string[] {
  const out = [
    inspect(x),
    inspect(x, { depth: 10, showHidden: true }),
    inspect(x, { depth: 10, showHidden: true, customInspect: false, getters: true }),
    format('%s | %o | %O | %j', x, x, x, x),
    `${x as string}`,
    String(x),
    JSON.stringify(x) ?? '',
    JSON.stringify({ x }) ?? '',
  ];
  if (typeof x === 'object' && x !== null) {
    out.push(inspect({ ...x }, { depth: 10, showHidden: true }), JSON.stringify(Object.entries(x)));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------------

/** A LocalKeyProvider whose backend can be switched off (a KMS / network outage). */
class FlakyLocalProvider extends LocalKeyProvider {
  down = false;
  protected override async _wrap(
    masterKeyId: string,
    key: Uint8Array,
    ctx: KeyContext,
  ): Promise<Uint8Array> {
    if (this.down) throw new Error('connect ECONNREFUSED 10.0.0.1:443');
    return super._wrap(masterKeyId, key, ctx);
  }
  protected override async _unwrap(
    masterKeyId: string,
    wrapped: Uint8Array,
    ctx: KeyContext,
  ): Promise<Uint8Array> {
    if (this.down) throw new Error('connect ECONNREFUSED 10.0.0.1:443');
    return super._unwrap(masterKeyId, wrapped, ctx);
  }
}

const CACHE = { maxAgeMs: 60_000 };
const FIELDS = {
  'legacy.notes': { allowPlaintextRead: true },
  'customers.wo': { mode: 'WriteOnly' as const },
  'customers.ro': { mode: 'ReadOnly' as const },
};

/**
 * The audit and telemetry outputs of the main clients: audit events, every call a metrics sink
 * receives, and what the OpenTelemetry SDK exports. `render` gives all of it as text.
 */
function observers() {
  const events: AuditEvent[] = [];
  const calls: unknown[][] = [];
  const reader = new (class extends MetricReader {
    protected onShutdown = (): Promise<void> => Promise.resolve();
    protected onForceFlush = (): Promise<void> => Promise.resolve();
  })();
  const otel = openTelemetryMetrics({ meterProvider: new MeterProvider({ readers: [reader] }) });
  const telemetry: MetricsSink = {
    attach: (read) => otel.attach(read),
    operationCompleted: (...a) => {
      calls.push(a);
      otel.operationCompleted(...a);
    },
    operationFailed: (...a) => {
      calls.push(a);
      otel.operationFailed(...a);
    },
    providerCalled: (...a) => {
      calls.push(a);
      otel.providerCalled(...a);
    },
  };
  const render = async (): Promise<string[]> => {
    const exported = await reader.collect();
    expect(events.length, 'the clients audited nothing').toBeGreaterThan(0);
    expect(calls.length, 'the metrics sink got nothing').toBeGreaterThan(0);
    return [...renderObject(events), ...renderObject(calls), JSON.stringify(exported)];
  };
  return {
    render,
    options: {
      audit: { record: (e: AuditEvent) => Promise.resolve(void events.push(e)) },
      actor: 'canary-test',
      telemetry,
    },
  };
}

function canarySource(): EnvSecretSource {
  return new EnvSecretSource({ keys: { master: 'M' }, env: { M: `hex:${CANARY_KEY_HEX}` } });
}

function makeClients() {
  const source = canarySource();
  const b64Source = new EnvSecretSource({
    keys: { master: 'M' },
    env: { M: `base64:${CANARY_KEY_B64}` },
  });
  const provider = new FlakyLocalProvider({ source });
  const b64Provider = new LocalKeyProvider({ source: b64Source });
  const store = new MemoryKeyStore();
  const observed = observers();
  const embedded = createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: CACHE,
    fields: FIELDS,
    ...observed.options,
  });
  const stored = createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'store', store, masterKeyId: 'master' },
    cache: CACHE,
    fields: FIELDS,
    ...observed.options,
  });
  // Same key given in base64: must read what the hex-configured client wrote.
  const embeddedB64 = createFieldseal({
    admin: true,
    provider: b64Provider,
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: CACHE,
  });
  const otherProvider = new LocalKeyProvider({
    source: new EnvSecretSource({ keys: { master: 'M' }, env: { M: `hex:${OTHER_KEY_HEX}` } }),
  });
  const otherEmbedded = createFieldseal({
    admin: true,
    provider: otherProvider,
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: CACHE,
  });
  const otherStored = createFieldseal({
    admin: true,
    provider: otherProvider,
    keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'master' },
    cache: CACHE,
  });
  const writeOnly = createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: CACHE,
    mode: 'WriteOnly',
  });
  const readOnly = createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: CACHE,
    mode: 'ReadOnly',
  });
  return {
    source,
    b64Source,
    provider,
    b64Provider,
    otherProvider,
    store,
    embedded,
    stored,
    embeddedB64,
    otherEmbedded,
    otherStored,
    writeOnly,
    readOnly,
    observed,
  };
}

const CTX: EncryptionContext = {
  tenant: 'acme',
  table: 'customers',
  field: 'ssn',
  record: 'cus_1',
};
const CANARY_CTX: EncryptionContext = { ...CTX, record: CANARY, purpose: [CANARY, 'pii'] };

/** Await a promise that must reject with a fieldseal error of `code`; returns the error. */
async function failure(
  p: Promise<unknown>,
  code: FieldsealErrorCode,
  errors: unknown[],
): Promise<unknown> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  errors.push(caught);
  expect(caught, `expected ${code}`).toBeDefined();
  expect(isFieldsealError(caught) ? caught.code : `non-fieldseal ${inspect(caught)}`).toBe(code);
  return caught;
}

function flip(b: Uint8Array, at: number): Buffer {
  const copy = Buffer.from(b);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
}

/** Log errors the way an application would, through every sink. */
function logErrors(sink: Sink, errors: readonly unknown[]): void {
  for (const e of errors) {
    sink.add(...renderError(e));
    console.error(e);
    console.log('decrypt failed: %s', e);
    console.warn({ err: e });
    console.dir(e, { depth: null, showHidden: true });
    sink.realConsole.error(e);
    sink.realConsole.log('failed', { err: e });
    sink.logger.error({ err: e }, 'fieldseal operation failed');
    sink.logger.warn(e as Error);
  }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('canary matcher (self-test)', () => {
  it('detects every encoding of the canaries', () => {
    expect(CANARY_KEY.byteLength).toBe(32);
    const leaky = [
      `Error: cannot encrypt ${CANARY}`,
      JSON.stringify({ value: CANARY }),
      `key=${CANARY_KEY_HEX}`,
      `key=${CANARY_KEY_HEX.toUpperCase()}`,
      `key=${CANARY_KEY_HEX.slice(0, 62)} (truncated)`,
      `key=${CANARY_KEY_B64}`,
      `key=${CANARY_KEY_B64URL}`,
      inspect(CANARY_KEY),
      inspect(new Uint8Array(CANARY_KEY)),
      inspect(plainBytes),
      inspect(new Uint8Array(plainBytes)),
      inspect({ deep: { deeper: { key: CANARY_KEY } } }, { depth: 10 }),
      format('%o', { value: CANARY }),
      `value=${CANARY.toLowerCase()}`,
      JSON.stringify(CANARY_KEY),
      JSON.stringify(plainBytes),
      `key=${CANARY_KEY_HEX.toUpperCase().replace(/(..)/g, '$1 ')}`,
      `key=${Buffer.from(CANARY).toString('base64url')}`,
    ];
    for (const t of leaky) expect(findLeaks(t).length, t.slice(0, 12)).toBeGreaterThan(0);
    expect(() => assertNoLeaks(leaky)).toThrow();
    expect(findLeaks('ERR_AUTHENTICATION_FAILED [REDACTED] CANARY-PLAINTEXT cus_1 acme')).toEqual(
      [],
    );
    expect(() => assertNoLeaks(['[REDACTED]', 'fs1:AAAA'])).not.toThrow();
  });

  it('sees a leak through console, process.stdout/stderr, pino and error renderings', async () => {
    const cases: ((s: Sink) => void)[] = [
      () => console.log('value %s', CANARY),
      () => console.error(new Error(`bad ${CANARY}`)),
      () => console.debug({ key: CANARY_KEY }),
      () => process.stdout.write(`${CANARY_KEY_HEX}\n`),
      () => process.stderr.write(Buffer.from(CANARY_KEY_B64)),
      (s) => s.realConsole.log({ nested: { v: CANARY } }),
      (s) => s.logger.info({ v: CANARY }),
      (s) => s.logger.error({ err: new Error('outer', { cause: new Error(CANARY) }) }),
      (s) => s.add(...renderError(new Error('outer', { cause: new Error(CANARY_KEY_HEX) }))),
    ];
    for (const leak of cases) {
      const texts = await capture(leak);
      expect(() => assertNoLeaks(texts)).toThrow();
    }
    const clean = await capture((s) => {
      console.log('nothing to see');
      s.realConsole.log('still nothing');
      s.logger.info('clean');
    });
    expect(clean.join('\n')).toContain('still nothing');
    expect(clean.join('\n')).toContain('"msg":"clean"');
    assertNoLeaks(clean);
  });
});

describe('canary: nothing leaks plaintext or key material', () => {
  it('successful round trips in both key modes and both forms', async () => {
    const c = makeClients();
    await c.stored.provisionTenant('acme');
    const texts = await capture(async (sink) => {
      for (const client of [c.embedded, c.stored]) {
        for (const ctx of [CTX, CANARY_CTX]) {
          const text = await client.encrypt(CANARY, ctx);
          const bin = await client.encryptToBytes(CANARY, ctx);
          const padded = await client.encrypt(CANARY, ctx, { pad: 'bucket-64' });
          const bytesValue = await client.encrypt(Buffer.from(CANARY), ctx);
          const jsonValue = await client.encrypt({ nested: [CANARY] }, ctx);
          expect(await client.decrypt(text, ctx)).toBe(CANARY);
          expect(await client.decrypt(bin, ctx)).toBe(CANARY);
          expect(await client.decrypt(padded, ctx)).toBe(CANARY);
          expect(Buffer.from(await client.decrypt<Uint8Array>(bytesValue, ctx)).toString()).toBe(
            CANARY,
          );
          expect(await client.decrypt(jsonValue, ctx)).toEqual({ nested: [CANARY] });
          // The stored forms themselves, as a careless application might log them.
          for (const s of [text, bin, padded, bytesValue, jsonValue]) {
            sink.add(...renderObject(s), ...renderObject(inspectEnvelope(s)));
            console.log('stored', s, inspectEnvelope(s));
            sink.logger.info({ stored: s, info: inspectEnvelope(s) }, 'wrote');
          }
          const many = await client.encryptMany([
            { value: CANARY, context: ctx },
            { value: CANARY, context: ctx, pad: 'bucket-16' },
          ]);
          expect(await client.decryptMany(many.map((s) => ({ stored: s, context: ctx })))).toEqual([
            CANARY,
            CANARY,
          ]);
          sink.add(...renderObject(many));
        }
      }
      // The same key configured in base64 reads what the hex-configured client wrote.
      const fromHex = await c.embedded.encrypt(CANARY, CTX);
      expect(await c.embeddedB64.decrypt(fromHex, CTX)).toBe(CANARY);
      // A legacy value in a field that is in migration is returned (and only counted).
      expect(
        await c.embedded.decrypt(`legacy ${CANARY}`, { ...CTX, table: 'legacy', field: 'notes' }),
      ).toBe(`legacy ${CANARY}`);
      const row = await c.stored.provisionTenant('acme');
      sink.add(...renderObject(row));
      for (const client of [c.embedded, c.stored, c.embeddedB64]) {
        sink.add(...renderObject(client), ...renderObject(client.metrics()));
        console.log(client, client.metrics());
        sink.logger.info({ client, metrics: client.metrics() }, 'client state');
        sink.add(...renderObject(client.stats()));
      }
      sink.add(...(await c.observed.render()));
    });
    assertNoLeaks(texts);
  });

  it('every failure path, every error rendering, every cause chain', async () => {
    const c = makeClients();
    await c.stored.provisionTenant('acme');
    await c.stored.provisionTenant('globex');
    await c.otherStored.provisionTenant('acme');
    const errors: unknown[] = [];
    const texts = await capture(async (sink) => {
      for (const [name, client, other] of [
        ['embedded', c.embedded, c.otherEmbedded],
        ['store', c.stored, c.otherStored],
      ] as const) {
        const bin = await client.encryptToBytes(CANARY, CANARY_CTX);
        const text = await client.encrypt(CANARY, CANARY_CTX);

        // Tampering: flip every byte of the binary envelope in turn; each must fail typed.
        const codes = new Set<string>();
        for (let i = 0; i < bin.byteLength; i++) {
          let caught: unknown;
          try {
            await client.decrypt(flip(bin, i), CANARY_CTX);
          } catch (err) {
            caught = err;
          }
          expect(isFieldsealError(caught), `${name}: flipped byte ${i} must fail typed`).toBe(true);
          codes.add((caught as { code: string }).code);
          errors.push(caught);
        }
        expect(codes).toContain('ERR_AUTHENTICATION_FAILED');
        expect(codes).toContain('ERR_WRONG_KEY');
        // Text form: flipped characters, truncation, garbage.
        // A character near the end lies in the GCM tag.
        const at = text.length - 3;
        const swapped = text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
        await failure(client.decrypt(swapped, CANARY_CTX), 'ERR_AUTHENTICATION_FAILED', errors);
        await failure(
          client.decrypt(text.slice(0, 40), CANARY_CTX),
          'ERR_MALFORMED_CIPHERTEXT',
          errors,
        );
        await failure(
          client.decrypt(bin.subarray(0, 60), CANARY_CTX),
          'ERR_MALFORMED_CIPHERTEXT',
          errors,
        );
        await failure(client.decrypt(`fs1:${CANARY}!`, CTX), 'ERR_MALFORMED_CIPHERTEXT', errors);
        await failure(
          client.decrypt(`fs1:${plainBytes.toString('base64url')}`, CTX),
          'ERR_MALFORMED_CIPHERTEXT',
          errors,
        );
        await failure(client.decrypt(`fs2:${CANARY}`, CTX), 'ERR_UNSUPPORTED_FORMAT', errors);

        // Wrong context: the record is the canary and is mismatched (both ways round).
        await failure(
          client.decrypt(bin, { ...CANARY_CTX, record: `${CANARY}-2` }),
          'ERR_AUTHENTICATION_FAILED',
          errors,
        );
        await failure(
          client.decrypt(bin, { ...CANARY_CTX, record: [CANARY] }),
          'ERR_AUTHENTICATION_FAILED',
          errors,
        );
        await failure(client.decrypt(text, CTX), 'ERR_AUTHENTICATION_FAILED', errors);
        const plainCtxValue = await client.encrypt(CANARY, CTX);
        await failure(
          client.decrypt(plainCtxValue, CANARY_CTX),
          'ERR_AUTHENTICATION_FAILED',
          errors,
        );
        // Another tenant.
        await failure(
          client.decrypt(text, { ...CANARY_CTX, tenant: 'globex' }),
          name === 'embedded' ? 'ERR_KEY_UNWRAP_FAILED' : 'ERR_WRONG_KEY',
          errors,
        );
        // Invalid contexts that carry the canary.
        await failure(
          client.encrypt(CANARY, { ...CANARY_CTX, tenant: '' }),
          'ERR_INVALID_CONTEXT',
          errors,
        );
        await failure(
          client.encrypt(CANARY, { ...CTX, record: { v: CANARY } as unknown as string }),
          'ERR_INVALID_CONTEXT',
          errors,
        );
        await failure(
          client.encrypt(CANARY, { ...CTX, [CANARY.repeat(12)]: 'x' }),
          'ERR_INVALID_CONTEXT',
          errors,
        );
        await failure(
          client.encrypt(CANARY, { ...CTX, record: Array.from({ length: 65 }, () => CANARY) }),
          'ERR_INVALID_CONTEXT',
          errors,
        );
        await failure(
          client.encrypt(CANARY, { ...CTX, record: `${CANARY}\ud800` }),
          'ERR_INVALID_CONTEXT',
          errors,
        );
        await failure(
          client.decrypt(text, { ...CTX, record: 42 } as unknown as EncryptionContext),
          'ERR_INVALID_CONTEXT',
          errors,
        );

        // Wrong key: another master key (embedded) / another key store (store).
        await failure(
          other.decrypt(text, CANARY_CTX),
          name === 'embedded' ? 'ERR_KEY_UNWRAP_FAILED' : 'ERR_WRONG_KEY',
          errors,
        );
        const foreign = await other.encrypt(CANARY, CANARY_CTX);
        await failure(
          client.decrypt(foreign, CANARY_CTX),
          name === 'embedded' ? 'ERR_KEY_UNWRAP_FAILED' : 'ERR_WRONG_KEY',
          errors,
        );

        // Field-level modes.
        await failure(
          client.decrypt(text, { ...CANARY_CTX, field: 'wo' }),
          'ERR_MODE_FORBIDDEN',
          errors,
        );
        await failure(
          client.encrypt(CANARY, { ...CANARY_CTX, field: 'ro' }),
          'ERR_MODE_FORBIDDEN',
          errors,
        );

        // Legacy plaintext in a field that is not in migration (text and binary).
        await failure(
          client.decrypt(`legacy ${CANARY}`, CANARY_CTX),
          'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD',
          errors,
        );
        await failure(
          client.decrypt(plainBytes, CANARY_CTX),
          'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD',
          errors,
        );

        // Unsupported values that carry the canary.
        const throwsInToJSON = {
          secret: CANARY,
          toJSON(): never {
            throw new Error(`cannot serialise ${CANARY}`);
          },
        };
        const throwingGetter = {
          get secret(): never {
            throw new TypeError(`getter saw ${CANARY}`);
          },
        };
        const circular: Record<string, unknown> = { [CANARY]: CANARY };
        circular[`${CANARY}-self`] = circular;
        const unsupported: unknown[] = [
          throwsInToJSON,
          throwingGetter,
          circular,
          { value: CANARY, n: 1n },
          Symbol(CANARY),
          () => CANARY,
          undefined,
          new Date(Number.NaN),
          new Float64Array([1, 2, 3]),
          `${CANARY}\udc00`,
          { toJSON: () => undefined, secret: CANARY },
        ];
        for (const v of unsupported) {
          await failure(
            client.encrypt(v as FieldValue, CANARY_CTX),
            'ERR_UNSUPPORTED_VALUE',
            errors,
          );
        }

        // Batches: every kind of failure at once.
        const batchWrite = await failure(
          client.encryptMany([
            { value: CANARY, context: CANARY_CTX },
            { value: throwsInToJSON, context: CANARY_CTX },
            { value: CANARY, context: { ...CANARY_CTX, table: '' } },
            { value: CANARY, context: { ...CANARY_CTX, field: 'ro' } },
            { value: `${CANARY}\ud800`, context: CANARY_CTX },
          ]),
          'ERR_BATCH_FAILED',
          errors,
        );
        expect((batchWrite as BatchError).failures.map((f) => f.index)).toEqual([1, 2, 3, 4]);
        const items = [
          { stored: text, context: CANARY_CTX },
          { stored: flip(bin, bin.byteLength - 1), context: CANARY_CTX },
          { stored: text, context: { ...CANARY_CTX, record: 'other' } },
          { stored: `legacy ${CANARY}`, context: CANARY_CTX },
          { stored: foreign, context: CANARY_CTX },
          { stored: `fs1:${CANARY}`, context: CANARY_CTX },
        ];
        const batchRead = await failure(client.decryptMany(items), 'ERR_BATCH_FAILED', errors);
        expect((batchRead as BatchError).failures.map((f) => f.index).sort()).toEqual([
          1, 2, 3, 4, 5,
        ]);
        const settled = await client.decryptManySettled(items);
        expect(settled[0]).toEqual({ ok: true, value: CANARY });
        for (const s of settled.slice(1)) {
          expect(s.ok).toBe(false);
          if (!s.ok) errors.push(s.error);
        }
      }

      // Client-wide modes.
      const written = await c.writeOnly.encrypt(CANARY, CANARY_CTX);
      await failure(c.writeOnly.decrypt(written, CANARY_CTX), 'ERR_MODE_FORBIDDEN', errors);
      await failure(
        c.writeOnly.decryptMany([{ stored: written, context: CANARY_CTX }]),
        'ERR_BATCH_FAILED',
        errors,
      );
      await failure(c.readOnly.encrypt(CANARY, CANARY_CTX), 'ERR_MODE_FORBIDDEN', errors);
      await failure(
        c.readOnly.encryptMany([{ value: CANARY, context: CANARY_CTX }]),
        'ERR_BATCH_FAILED',
        errors,
      );
      expect(await c.readOnly.decrypt(written, CANARY_CTX)).toBe(CANARY);

      // Provider outage: cold caches, so every path has to reach the provider.
      c.provider.down = true;
      c.embedded.clearCache();
      c.stored.clearCache();
      await failure(
        c.embedded.encrypt(CANARY, { ...CANARY_CTX, tenant: 'initech' }),
        'ERR_PROVIDER_UNAVAILABLE',
        errors,
      );
      await failure(c.embedded.decrypt(written, CANARY_CTX), 'ERR_PROVIDER_UNAVAILABLE', errors);
      await failure(c.stored.encrypt(CANARY, CANARY_CTX), 'ERR_PROVIDER_UNAVAILABLE', errors);
      await failure(c.stored.provisionTenant('umbrella'), 'ERR_PROVIDER_UNAVAILABLE', errors);
      await failure(
        c.embedded.encryptMany([{ value: CANARY, context: { ...CANARY_CTX, tenant: 'initech' } }]),
        'ERR_BATCH_FAILED',
        errors,
      );
      await failure(
        c.embedded.decryptMany([{ stored: written, context: CANARY_CTX }]),
        'ERR_BATCH_FAILED',
        errors,
      );
      c.provider.down = false;
      expect(await c.embedded.decrypt(written, CANARY_CTX)).toBe(CANARY);

      // Secret-source failures where the configured text is (a piece of) the canary key.
      const badSources: [Record<string, string>, FieldsealErrorCode][] = [
        [{ M: CANARY_KEY_HEX }, 'ERR_INVALID_KEY_MATERIAL'],
        [{ M: `hex:${CANARY_KEY_HEX.slice(0, 62)}` }, 'ERR_INVALID_KEY_MATERIAL'],
        [{ M: `hex:${CANARY_KEY_HEX}zz` }, 'ERR_INVALID_KEY_MATERIAL'],
        [{ M: `hex:${CANARY_KEY_HEX}00` }, 'ERR_INVALID_KEY_MATERIAL'],
        [{ M: `base64:${CANARY_KEY_B64}AAAA` }, 'ERR_INVALID_KEY_MATERIAL'],
        [{ M: `base64:${CANARY_KEY_B64}!` }, 'ERR_INVALID_KEY_MATERIAL'],
        [{ M: `HEX:${CANARY_KEY_HEX.toUpperCase()}` }, 'ERR_INVALID_KEY_MATERIAL'],
        [{ OTHER: `hex:${CANARY_KEY_HEX}` }, 'ERR_KEY_NOT_CONFIGURED'],
      ];
      for (const [env, code] of badSources) {
        await failure(
          Promise.resolve().then(() => new EnvSecretSource({ keys: { master: 'M' }, env })),
          code,
          errors,
        );
      }
      await failure(c.source.getKey('nope'), 'ERR_KEY_NOT_CONFIGURED', errors);
      await failure(
        Promise.resolve().then(() => DataKey.fromBytes(CANARY_KEY.subarray(0, 31))),
        'ERR_INVALID_KEY_MATERIAL',
        errors,
      );
      const released = DataKey.fromBytes(CANARY_KEY);
      released.release();
      await failure(
        Promise.resolve().then(() => released.exposeBytes()),
        'ERR_INVALID_KEY_MATERIAL',
        errors,
      );

      expect(errors.length).toBeGreaterThan(100);
      logErrors(sink, errors);
      for (const client of [c.embedded, c.stored, c.writeOnly, c.readOnly]) {
        sink.add(...renderObject(client), ...renderObject(client.metrics()));
        console.log(client.metrics());
        sink.add(...renderObject(client.stats()));
      }
      // Audit events (failed provider calls included) and telemetry of every path above.
      const observed = await c.observed.render();
      expect(observed.join('\n')).toContain('ERR_PROVIDER_UNAVAILABLE');
      sink.add(...observed);
    });
    // The capture really saw the errors (so an empty capture cannot pass for a clean one).
    const all = texts.join('\n');
    for (const code of ['ERR_AUTHENTICATION_FAILED', 'ERR_UNSUPPORTED_VALUE', 'ERR_BATCH_FAILED']) {
      expect(all).toContain(code);
    }
    expect(all).toContain('"level":50');
    // Cause chains were rendered (the provider outage's foreign error, the unwrap failure).
    expect(all).toContain('ECONNREFUSED');
    expect(all).toContain('[cause]');
    expect(all).toContain('KeyUnwrapFailedError');
    expect(texts.length).toBeGreaterThan(1000);
    assertNoLeaks(texts);
  });

  it('secret holders print as [REDACTED] everywhere', async () => {
    const c = makeClients();
    const dataKey = DataKey.fromBytes(CANARY_KEY);
    const secretKey = new SecretKey('master', CANARY_KEY);
    const masterFromSource = await c.source.getKey('master');
    const wrapped = sensitive(CANARY);
    const wrappedKey = sensitive(CANARY_KEY);
    const wrappedHex = sensitive({ hex: CANARY_KEY_HEX, nested: sensitive(CANARY) });
    // Sanity: the holders really hold the canaries.
    expect(secretKey.use((b) => b.equals(CANARY_KEY))).toBe(true);
    expect(masterFromSource.use((b) => b.equals(CANARY_KEY))).toBe(true);
    expect(dataKey.exposeBytes().equals(CANARY_KEY)).toBe(true);
    expect(wrapped.reveal()).toBe(CANARY);
    const holders: unknown[] = [
      dataKey,
      secretKey,
      masterFromSource,
      c.source,
      c.b64Source,
      c.provider,
      c.b64Provider,
      c.embedded,
      c.stored,
      c.store,
      wrapped,
      wrappedKey,
      wrappedHex,
      { dataKey, secretKey, wrapped, list: [wrappedKey, c.source] },
    ];
    const texts = await capture((sink) => {
      for (const h of holders) {
        sink.add(...renderObject(h));
        console.log(h);
        console.log('%s %o %O %j', h, h, h, h);
        console.info(`${h as string}`);
        console.dir(h, { depth: null, showHidden: true });
        sink.realConsole.log(h);
        sink.realConsole.log({ h });
        sink.logger.info({ h }, 'holder');
        sink.logger.info(h as object);
      }
      for (const redacted of [
        dataKey,
        secretKey,
        masterFromSource,
        c.source,
        wrapped,
        wrappedKey,
        wrappedHex,
      ]) {
        expect(inspect(redacted)).toBe('[REDACTED]');
        expect(JSON.stringify(redacted)).toBe('"[REDACTED]"');
        expect(`${redacted as unknown as string}`).toBe('[REDACTED]');
      }
    });
    expect(texts.join('\n')).toContain('[REDACTED]');
    assertNoLeaks(texts);
    dataKey.release();
  });
});
