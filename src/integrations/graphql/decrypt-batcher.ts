import { isFieldsealError, type DecryptItem, type Fieldseal } from '../../index.js';

/** The outcome of one queued decryption: the value, or the fieldseal error code. */
export type DecryptOutcome =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: string };

/**
 * Run `fn` after the current tick's promise jobs (as DataLoader does): every resolver that
 * graphql-js starts for the items of a list, at any depth reached in the same tick, queues
 * before the flush.
 */
export function afterTick(fn: () => void): void {
  void Promise.resolve().then(() => process.nextTick(fn));
}

/**
 * One request's decryptions, collected during a tick and sent as ONE `decryptManySettled`
 * call (one key fetch per tenant key, whatever the number of values). Request-scoped: made
 * per request by the transformed schema, never shared between requests.
 */
export class DecryptBatcher {
  readonly #fs: Pick<Fieldseal, 'decryptManySettled'>;
  readonly #schedule: (fn: () => void) => void;
  #queue: { item: DecryptItem; done: (o: DecryptOutcome) => void }[] = [];

  constructor(fs: Pick<Fieldseal, 'decryptManySettled'>, schedule = afterTick) {
    this.#fs = fs;
    this.#schedule = schedule;
  }

  /** Queue one value; the promise settles with its own outcome (never rejects). */
  load(item: DecryptItem): Promise<DecryptOutcome> {
    return new Promise((done) => {
      if (this.#queue.length === 0) this.#schedule(() => void this.#flush());
      this.#queue.push({ item, done });
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#queue;
    this.#queue = [];
    let results: Awaited<ReturnType<Fieldseal['decryptManySettled']>>;
    try {
      results = await this.#fs.decryptManySettled(batch.map((q) => q.item));
    } catch (err) {
      // A whole-batch failure is each value's failure; only its code leaves this function.
      const reason = isFieldsealError(err) ? err.code : 'ERR_INTERNAL';
      for (const q of batch) q.done({ ok: false, reason });
      return;
    }
    batch.forEach((q, i) => {
      const r = results[i];
      if (r === undefined) q.done({ ok: false, reason: 'ERR_INTERNAL' });
      else if (r.ok) q.done({ ok: true, value: r.value });
      else q.done({ ok: false, reason: r.error.code });
    });
  }
}
