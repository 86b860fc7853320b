import { describe, expect, it } from 'vitest';
import { DecryptBatcher } from '../../src/integrations/graphql/decrypt-batcher.js';
import { KeyShreddedError, type DecryptItem, type Fieldseal } from '../../src/index.js';

/** A client stand-in that records each batch it is given. */
function fakeClient(fail?: Error) {
  const batches: DecryptItem[][] = [];
  const fs: Pick<Fieldseal, 'decryptManySettled'> = {
    decryptManySettled: ((items: readonly DecryptItem[]) => {
      batches.push([...items]);
      if (fail !== undefined) return Promise.reject(fail);
      return Promise.resolve(
        items.map((it) =>
          it.stored === 'bad'
            ? { ok: false, error: new KeyShreddedError('shredded') }
            : { ok: true, value: `plain:${String(it.stored)}` },
        ),
      );
    }) as Fieldseal['decryptManySettled'],
  };
  return { fs, batches };
}

const item = (stored: string): DecryptItem => ({
  stored,
  context: { tenant: 't', table: 'x', field: 'f', record: stored },
});

describe('DecryptBatcher', () => {
  it('sends everything queued in one tick as one batch, each caller gets its own outcome', async () => {
    const { fs, batches } = fakeClient();
    const b = new DecryptBatcher(fs);
    const out = await Promise.all(['a', 'bad', 'c'].map((s) => b.load(item(s))));
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(3);
    expect(out).toEqual([
      { ok: true, value: 'plain:a' },
      { ok: false, reason: 'ERR_KEY_SHREDDED' },
      { ok: true, value: 'plain:c' },
    ]);
  });

  it('collects loads made from promise jobs of the same tick, and starts a new batch after', async () => {
    const { fs, batches } = fakeClient();
    const b = new DecryptBatcher(fs);
    const nested = Promise.resolve().then(() => b.load(item('later')));
    await Promise.all([b.load(item('first')), nested]);
    expect(batches).toHaveLength(1);
    await b.load(item('next'));
    expect(batches).toHaveLength(2);
  });

  it('turns a failed batch into each value failing with its code only', async () => {
    const { fs } = fakeClient(new KeyShreddedError('shredded'));
    const b = new DecryptBatcher(fs);
    expect(await b.load(item('a'))).toEqual({ ok: false, reason: 'ERR_KEY_SHREDDED' });
    const { fs: odd } = fakeClient(new Error('secret 521-44-8790'));
    const out = await new DecryptBatcher(odd).load(item('a'));
    expect(out).toEqual({ ok: false, reason: 'ERR_INTERNAL' });
  });
});
