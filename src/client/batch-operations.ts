import { BatchError, type BatchFailure, type FieldsealError, isFieldsealError } from '../errors.js';
import type { EncryptionContext } from '../envelope/context.js';
import { toText } from '../envelope/encoding.js';
import {
  batchNonce,
  batchNonces,
  deriveValueKeys,
  openValue,
  sealValue,
} from '../envelope/envelope.js';
import { wipeEncoded, type FieldValue } from '../envelope/plaintext.js';
import type { CacheLease, DataKeyCache } from '../keys/data-key-cache.js';
import { mapLimit } from '../lib/map-limit.js';
import type { ValueOperation } from '../metrics/metrics-sink.js';
import type { FieldKey } from './field-key.js';
import type { FieldRules, PreparedEnvelope, PreparedWrite } from './field-rules.js';
import type { KeyRef } from '../envelope/key-ref.js';
import type { DecryptItem, EncryptItem, Reencrypted, Settled as SettledItem } from './items.js';
import type { KeyResolver } from './keys/key-resolver.js';
import type { ReadKeyExtra, WriteKeyExtra } from './keys/key-source.js';
import type { MetricsRecorder } from './metrics.js';

/**
 * The batch operations of a client (`encryptMany`, `decryptMany` and their variants): items
 * are checked first, then grouped so that each tenant and master key (writes) or distinct key
 * (reads) costs one key lookup, with at most `loadConcurrency` lookups in flight. Each item's
 * failure is counted once, as a `FieldsealError`; anything else is a programming error and
 * aborts.
 * @internal
 */
export class BatchOperations {
  readonly #rules: FieldRules;
  readonly #resolver: KeyResolver;
  readonly #metrics: MetricsRecorder;
  readonly #cache: DataKeyCache;
  readonly #loadConcurrency: number;

  constructor(
    rules: FieldRules,
    resolver: KeyResolver,
    metrics: MetricsRecorder,
    cache: DataKeyCache,
    loadConcurrency: number,
  ) {
    this.#rules = rules;
    this.#resolver = resolver;
    this.#metrics = metrics;
    this.#cache = cache;
    this.#loadConcurrency = loadConcurrency;
  }

  /** `Fieldseal.encryptMany`: all or nothing, text form. */
  async encryptMany(items: readonly EncryptItem[]): Promise<string[]> {
    const started = performance.now();
    const out = (await this.#encryptBatch(items)).map(toText);
    this.#metrics.completed('encryptMany', started, out.length);
    return out;
  }

  /** `Fieldseal.encryptManyToBytes`: all or nothing, binary form. */
  async encryptManyToBytes(items: readonly EncryptItem[]): Promise<Buffer[]> {
    const started = performance.now();
    const out = await this.#encryptBatch(items);
    this.#metrics.completed('encryptMany', started, out.length);
    return out;
  }

  /** `Fieldseal.decryptMany`: all or nothing. */
  async decryptMany<T = FieldValue>(items: readonly DecryptItem[]): Promise<T[]> {
    const started = performance.now();
    const settled = await this.#decryptBatch<T>(items);
    const failures: BatchFailure[] = [];
    settled.forEach((s, index) => {
      if (!s.ok) failures.push({ index, error: s.error });
    });
    if (failures.length > 0) throw new BatchError(failures);
    this.#metrics.completed('decryptMany', started, settled.length);
    return settled.map((s) => (s as { value: T }).value);
  }

  /**
   * Open sealed blind-index secrets (key material, not values): each item's own outcome, not
   * governed by the value modes, only for the secrets' fixed context (see `FieldRules`).
   */
  async openKeyMaterial(items: readonly DecryptItem[]): Promise<SettledItem<unknown>[]> {
    return this.#decryptBatch<unknown>(items, true);
  }

  /** `Fieldseal.decryptManySettled`: each item's own outcome. */
  async decryptManySettled<T = FieldValue>(
    items: readonly DecryptItem[],
  ): Promise<SettledItem<T>[]> {
    const started = performance.now();
    const settled = await this.#decryptBatch<T>(items);
    this.#metrics.completed('decryptMany', started, settled.length);
    return settled;
  }

  async #encryptBatch(items: readonly EncryptItem[]): Promise<Buffer[]> {
    const { out, failures } = await this.#sealBatch(items);
    if (failures.length > 0) throw new BatchError(failures);
    this.#metrics.encrypted += out.length;
    return out;
  }

  /** Seal a batch: what was sealed, by index, and every item's failure (sorted by index). */
  async #sealBatch(
    items: readonly EncryptItem[],
  ): Promise<{ out: Buffer[]; failures: BatchFailure[] }> {
    const failures: BatchFailure[] = [];
    const prepared: (PreparedWrite | undefined)[] = items.map((it, index) =>
      this.#attempt(index, failures, it.context, () =>
        this.#rules.prepareWrite(it.value, it.context, it.pad),
      ),
    );
    try {
      const chunks: WriteChunk[] = [];
      // Chunks being filled, by tenant: for the tenant's key, then per field key (a field's
      // own master key or key context: a data key is never shared across them).
      const current = new Map<string, WriteChunk>();
      let byFieldKey: Map<string, Map<string, WriteChunk>> | undefined;
      prepared.forEach((p, index) => {
        if (p === undefined) return;
        let open = current;
        if (p.fieldKey !== undefined) {
          byFieldKey ??= new Map();
          open = byFieldKey.get(p.fieldKey.id) ?? new Map<string, WriteChunk>();
          byFieldKey.set(p.fieldKey.id, open);
        }
        let chunk = open.get(p.tenant);
        if (chunk === undefined || chunk.indexes.length >= this.#cache.maxUses) {
          chunk = { tenant: p.tenant, fieldKey: p.fieldKey, indexes: [] };
          open.set(p.tenant, chunk);
          chunks.push(chunk);
        }
        chunk.indexes.push(index);
      });
      const out: Buffer[] = [];
      await mapLimit(chunks, this.#loadConcurrency, async ({ tenant, fieldKey, indexes }) => {
        // The whole chunk is sealed in one synchronous step with a key that is current at
        // that moment (never one whose tenant was shredded while it loaded).
        const sealChunk = (lease: Settled<CacheLease<WriteKeyExtra>>): void => {
          // The chunk's nonces drawn together and their keys derived in one AES call; if that
          // fails, every value of the chunk fails with its error (and the lease is released).
          let batch: ReturnType<typeof batchNonces> | undefined;
          let batchError: unknown;
          try {
            if (lease.ok) batch = batchNonces(lease.value.key, indexes.length);
          } catch (err) {
            batchError = err;
          }
          try {
            for (const [i, index] of indexes.entries()) {
              const p = prepared[index]!;
              const sealed = this.#attempt(index, failures, items[index]!.context, () => {
                if (!lease.ok) throw lease.error;
                if (batch === undefined) throw batchError;
                return sealValue(
                  lease.value.key,
                  lease.value.extra.prefix,
                  p.contextBytes,
                  p.plaintext,
                  batchNonce(batch, i),
                );
              });
              if (sealed !== undefined) out[index] = sealed;
            }
          } finally {
            batch?.derived.fill(0);
            if (lease.ok) lease.value.key.release();
          }
        };
        try {
          await this.#resolver.withWriteKey(tenant, indexes.length, fieldKey, (key) =>
            sealChunk({ ok: true, value: key }),
          );
        } catch (error) {
          if (!isFieldsealError(error)) throw error;
          sealChunk({ ok: false, error });
        }
      });
      return { out, failures: failures.sort((a, b) => a.index - b.index) };
    } finally {
      for (const p of prepared) if (p !== undefined) wipeEncoded(p.plaintext);
    }
  }

  /**
   * `Fieldseal.reencryptManySettled`: every envelope parsed once and opened in the batch's key
   * groups; each distinct key asked once whether it is the tenant's current one; the values
   * that must move (or legacy plaintext the field allows) sealed again in one write batch.
   * Text stays text, bytes stay bytes; a value already current is returned as it was given.
   */
  async reencryptManySettled(items: readonly DecryptItem[]): Promise<SettledItem<Reencrypted>[]> {
    const started = performance.now();
    const refs: ({ ref: KeyRef; tenant: string } | undefined)[] = [];
    const opened = await this.#decryptBatch<FieldValue>(items, false, refs);
    this.#metrics.completed('decryptMany', started, opened.length);
    // One question per distinct key: is it the tenant's current one?
    const current = new Map<string, Promise<SettledItem<boolean>>>();
    const isCurrent = (r: { ref: KeyRef; tenant: string }): Promise<SettledItem<boolean>> => {
      const id = this.#resolver.readId(r.ref, r.tenant);
      let p = current.get(id);
      if (p === undefined) {
        p = this.#resolver.isCurrent(r.ref, r.tenant).then(
          (value) => ({ ok: true as const, value }),
          (error: unknown) => {
            if (!isFieldsealError(error)) throw error;
            return { ok: false as const, error };
          },
        );
        current.set(id, p);
      }
      return p;
    };
    const results = new Array<SettledItem<Reencrypted>>(items.length);
    const reseal: number[] = [];
    await mapLimit(
      opened.map((o, index) => ({ o, index })),
      this.#loadConcurrency,
      async ({ o, index }) => {
        if (!o.ok) {
          results[index] = o;
          return;
        }
        const r = refs[index];
        if (r !== undefined) {
          const c = await isCurrent(r);
          if (!c.ok) {
            results[index] = {
              ok: false,
              error: this.#batchFailure(c.error, 'decryptMany', items[index]!.context),
            };
            return;
          }
          if (c.value) {
            results[index] = { ok: true, value: { stored: items[index]!.stored, changed: false } };
            return;
          }
        }
        reseal.push(index);
      },
    );
    if (reseal.length === 0) return results;
    reseal.sort((a, b) => a - b);
    const sealing = performance.now();
    const { out, failures } = await this.#sealBatch(
      reseal.map((index) => ({
        value: (opened[index] as { value: FieldValue }).value,
        context: items[index]!.context,
      })),
    );
    for (const f of failures) results[reseal[f.index]!] = { ok: false, error: f.error };
    let sealed = 0;
    reseal.forEach((index, k) => {
      const bytes = out[k];
      if (bytes === undefined) return;
      sealed++;
      const given = items[index]!.stored;
      results[index] = {
        ok: true,
        value: { stored: typeof given === 'string' ? toText(bytes) : bytes, changed: true },
      };
    });
    this.#metrics.encrypted += sealed;
    this.#metrics.completed('encryptMany', sealing, sealed);
    return results;
  }

  async #decryptBatch<T>(
    items: readonly DecryptItem[],
    keyMaterial = false,
    refs?: ({ ref: KeyRef; tenant: string } | undefined)[],
  ): Promise<SettledItem<T>[]> {
    const results = new Array<SettledItem<T>>(items.length);
    // Each distinct key's members, as parallel lists: item index, parsed envelope, context.
    const groups = new Map<
      string,
      {
        ref: PreparedEnvelope['env']['keyRef'];
        tenant: string;
        fieldKey: FieldKey | undefined;
        indexes: number[];
        envs: PreparedEnvelope['env'][];
        contexts: Buffer[];
      }
    >();
    items.forEach((it, index) => {
      try {
        const p = this.#rules.prepareRead(it.stored, it.context, keyMaterial);
        if (p.kind === 'plaintext') {
          results[index] = { ok: true, value: p.value as T };
          return;
        }
        const id = this.#resolver.readId(p.env.keyRef, p.tenant, p.fieldKey);
        if (refs !== undefined) refs[index] = { ref: p.env.keyRef, tenant: p.tenant };
        const group = groups.get(id);
        if (group === undefined) {
          groups.set(id, {
            ref: p.env.keyRef,
            tenant: p.tenant,
            fieldKey: p.fieldKey,
            indexes: [index],
            envs: [p.env],
            contexts: [p.contextBytes],
          });
        } else {
          group.indexes.push(index);
          group.envs.push(p.env);
          group.contexts.push(p.contextBytes);
        }
      } catch (err) {
        results[index] = { ok: false, error: this.#batchFailure(err, 'decryptMany', it.context) };
      }
    });
    await mapLimit(
      [...groups.values()],
      this.#loadConcurrency,
      async ({ ref, tenant, fieldKey, indexes, envs, contexts }) => {
        const openGroup = (lease: Settled<CacheLease<ReadKeyExtra>>): void => {
          let opened = 0;
          // Every member's per-value key in one AES call (a member whose commitment does not
          // match fails before its key is used; all are wiped below). If that fails, every
          // member fails with its error.
          let derived: Buffer | undefined;
          let deriveError: unknown;
          try {
            if (lease.ok) derived = deriveValueKeys(lease.value.key, envs);
          } catch (err) {
            deriveError = err;
          }
          try {
            for (let i = 0; i < indexes.length; i++) {
              const index = indexes[i]!;
              try {
                if (!lease.ok) throw lease.error;
                if (derived === undefined) throw deriveError;
                results[index] = {
                  ok: true,
                  value: openValue(
                    envs[i]!,
                    lease.value.key,
                    contexts[i]!,
                    derived.subarray(i * 32, i * 32 + 32),
                  ) as T,
                };
                opened++;
              } catch (err) {
                results[index] = {
                  ok: false,
                  error: this.#batchFailure(err, 'decryptMany', items[index]!.context),
                };
              }
            }
          } finally {
            derived?.fill(0);
            this.#metrics.decrypted += opened;
            const cell = lease.ok ? lease.value.extra?.reads : undefined;
            if (cell !== undefined) cell.n += opened;
            else if (opened > 0) this.#metrics.keyRead(ref, opened);
            if (lease.ok) lease.value.key.release();
          }
        };
        try {
          await this.#resolver.withReadKey(ref, tenant, indexes.length, fieldKey, (key) =>
            openGroup({ ok: true, value: key }),
          );
        } catch (error) {
          if (!isFieldsealError(error)) throw error;
          openGroup({ ok: false, error });
        }
      },
    );
    return results;
  }

  /** An item of an `encryptMany` batch: its failure is recorded and `undefined` returned. */
  #attempt<T>(
    index: number,
    failures: BatchFailure[],
    context: EncryptionContext,
    fn: () => T,
  ): T | undefined {
    try {
      return fn();
    } catch (err) {
      failures.push({ index, error: this.#batchFailure(err, 'encryptMany', context) });
      return undefined;
    }
  }

  /** A batch item's failure; anything but a FieldsealError is a programming error and aborts. */
  #batchFailure(
    err: unknown,
    operation: ValueOperation,
    context: EncryptionContext,
  ): FieldsealError {
    if (!isFieldsealError(err)) throw err;
    this.#metrics.fail(err, operation, context);
    return err;
  }
}

/** Items of one batch sealed under one data key: one tenant, one field key. */
interface WriteChunk {
  readonly tenant: string;
  /** The field's own master key and key context, or `undefined` for the tenant's key. */
  readonly fieldKey: FieldKey | undefined;
  readonly indexes: number[];
}

/** A key lease, or why there is none. */
type Settled<T> = { ok: true; value: T } | { ok: false; error: FieldsealError };
