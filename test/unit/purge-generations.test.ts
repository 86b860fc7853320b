// The purge generations keep a key loaded across a purge (a shred, a retirement, a key event)
// from ever being used or cached. Their bounds -- how often a stale load is started again, how
// many tenants' purges are remembered -- are checked here directly: the races that reach them
// in a client (test/integration/shred-race.test.ts) cannot hit the limits on purpose.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MAX_STALE_ATTEMPTS,
  MAX_TRACKED_PURGES,
  PurgeGenerations,
  StaleKeyLoad,
} from '../../src/client/keys/purge-generations.js';
import { DataKey } from '../../src/keys/data-key.js';

const newKey = (): DataKey => DataKey.fromBytes(randomBytes(32));

describe('purge generations', () => {
  it('moves on for the purged tenant only', () => {
    const g = new PurgeGenerations();
    const acme = g.generation('acme');
    const globex = g.generation('globex');
    expect(g.purgeTenant('acme')).toBe(true);
    expect(g.generation('acme')).not.toBe(acme);
    expect(g.generation('globex')).toBe(globex);
    g.purgeAll();
    expect(g.generation('globex')).not.toBe(globex);
  });

  it('releases a key loaded under an older generation and refuses it', () => {
    const g = new PurgeGenerations();
    const gen = g.generation('acme');
    g.purgeTenant('acme');
    const key = newKey();
    expect(() => g.assertCurrent('acme', gen, key)).toThrow(StaleKeyLoad);
    expect(key.destroyed).toBe(true);
  });

  it('never hands out a lease whose tenant was purged while it loaded, and gives up after MAX_STALE_ATTEMPTS', async () => {
    const g = new PurgeGenerations();
    const leased: DataKey[] = [];
    let used = 0;
    const attempt = g.withCurrent(
      'acme',
      () => {
        const key = newKey();
        leased.push(key);
        g.purgeTenant('acme'); // a shred lands while every load is in flight
        return Promise.resolve({ key });
      },
      () => used++,
    );
    await expect(attempt).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
    expect(used).toBe(0);
    expect(leased).toHaveLength(MAX_STALE_ATTEMPTS);
    expect(leased.every((k) => k.destroyed)).toBe(true);
  });

  it('starts a stale load again and uses the first current one', async () => {
    const g = new PurgeGenerations();
    let loads = 0;
    const out = await g.withCurrent(
      'acme',
      () => {
        if (++loads === 1) {
          g.purgeTenant('acme');
          return Promise.reject(new StaleKeyLoad());
        }
        return Promise.resolve({ key: newKey() });
      },
      (lease) => {
        lease.key.release();
        return 'used';
      },
    );
    expect(out).toBe('used');
    expect(loads).toBe(2);
  });

  it('past MAX_TRACKED_PURGES tenants, every tenant moves on (and the caller is told)', () => {
    const g = new PurgeGenerations();
    for (let i = 0; i < MAX_TRACKED_PURGES; i++) g.purgeTenant(`t${i}`);
    const bystander = g.generation('bystander');
    expect(g.purgeTenant('one-too-many')).toBe(false);
    expect(g.generation('bystander')).not.toBe(bystander);
    expect(g.generation('t0')).toBe(g.generation('bystander'));
  });
});
