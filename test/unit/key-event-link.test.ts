import { EventEmitter } from 'node:events';
import { QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { AuditRecordInput } from '../../src/client/audit-trail.js';
import { linkKeyEvents, type KeyEventTarget } from '../../src/client/key-event-link.js';
import { MetricsRecorder } from '../../src/client/metrics.js';
import { KeyEventHealth } from '../../src/keys/key-event-health.js';
import type { KeyEventBus, KeyEventBusState } from '../../src/keys/key-events.js';
import { reconnectBackoff } from '../../src/keys/reconnect-backoff.js';
import { dynamoKeyEvents } from '../../src/dynamodb/key-store/dynamo-key-events.js';
import {
  postgresKeyEvents,
  type PostgresEventsPool,
  type PostgresListenClient,
} from '../../src/postgres/postgres-key-events.js';

/*
 * Issue #11, defect 8 (unit level): a key-event bus reports a lost connection and reconnects,
 * and a client linked to it stops caching store keys while it is disconnected.
 */

/** Resolve once `check` holds, polling every 2 ms; fail after `ms`. */
async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A bus whose events and health the test drives. */
function fakeBus(withHealth = true) {
  const subscribers = new Set<(tenant: string, kind: 'shred' | 'keys-changed') => void>();
  const health = new KeyEventHealth();
  const bus: KeyEventBus = {
    publishShred: () => Promise.resolve(),
    publishKeysChanged: () => Promise.resolve(),
    subscribe(onEvent) {
      subscribers.add(onEvent);
      return () => subscribers.delete(onEvent);
    },
    ...(withHealth ? { onConnectionChange: (l) => health.listen(l) } : {}),
  };
  return {
    bus,
    health,
    subscribers,
    emit: (tenant: string) => {
      for (const s of subscribers) s(tenant, 'shred');
    },
  };
}

/** A target that logs every call in order. */
function fakeTarget() {
  const calls: string[] = [];
  const target: KeyEventTarget = {
    purgeTenant: (t) => calls.push(`purgeTenant ${t}`),
    purgeAll: () => calls.push('purgeAll'),
    setCaching: (on) => calls.push(`setCaching ${on}`),
    recordBusState: (state) => calls.push(`state ${state}`),
  };
  return { calls, target };
}

describe('linkKeyEvents', () => {
  it('purges the tenant of every event', () => {
    const b = fakeBus();
    const t = fakeTarget();
    linkKeyEvents(b.bus, t.target);
    b.emit('acme');
    expect(t.calls).toEqual(['state connected', 'purgeTenant acme']);
  });

  it('on a lost bus stops caching, then purges; on its return purges, then caches again', () => {
    const b = fakeBus();
    const t = fakeTarget();
    const audits: AuditRecordInput[] = [];
    linkKeyEvents(b.bus, t.target, {
      recordAudit: (e) => {
        audits.push(e);
        return Promise.resolve();
      },
    });
    t.calls.length = 0;
    const cause = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
    });
    b.health.set('disconnected', cause);
    expect(t.calls).toEqual(['setCaching false', 'purgeAll', 'state disconnected']);
    b.health.set('disconnected', cause); // no change, nothing again
    b.emit('acme'); // events still purge while disconnected
    b.health.set('connected');
    expect(t.calls).toEqual([
      'setCaching false',
      'purgeAll',
      'state disconnected',
      'purgeTenant acme',
      'purgeAll',
      'setCaching true',
      'state connected',
    ]);
    expect(audits).toEqual([
      {
        operation: 'key-events-lost',
        outcome: 'failure',
        detail: { caching: false, cause: '57P01' },
      },
      { operation: 'key-events-restored', outcome: 'success', detail: { caching: true } },
    ]);
    // The audit never carries the error's message (it could hold connection details).
    expect(JSON.stringify(audits)).not.toContain('administrator');
  });

  it('fails safe at once when linked to a bus that is already disconnected', () => {
    const b = fakeBus();
    b.health.set('disconnected', new Error('down'));
    const t = fakeTarget();
    linkKeyEvents(b.bus, t.target);
    expect(t.calls).toEqual([
      'state connected',
      'setCaching false',
      'purgeAll',
      'state disconnected',
    ]);
  });

  it('links a bus without a health channel for events only (unmonitored)', () => {
    const b = fakeBus(false);
    const t = fakeTarget();
    const unlink = linkKeyEvents(b.bus, t.target);
    b.emit('acme');
    expect(t.calls).toEqual(['state unmonitored', 'purgeTenant acme']);
    unlink();
    expect(b.subscribers.size).toBe(0);
  });

  it('unlinks both channels, and ignores a failing audit', async () => {
    const b = fakeBus();
    const t = fakeTarget();
    const unlink = linkKeyEvents(b.bus, t.target, {
      recordAudit: () => Promise.reject(new Error('sink down')),
    });
    b.health.set('disconnected');
    await new Promise((r) => setTimeout(r, 1)); // the rejection is handled (no unhandled one)
    unlink();
    t.calls.length = 0;
    b.health.set('connected');
    b.emit('acme');
    expect(t.calls).toEqual([]);
    expect(b.subscribers.size).toBe(0);
  });
});

describe('stats().keyEvents recorder', () => {
  it('counts disconnects and stamps the last loss and return', () => {
    const m = new MetricsRecorder();
    const cache = { hits: 0, misses: 0, evictions: 0, entries: 0 };
    const versions = { tenants: 0, maxPerTenant: 0, tenantsByVersionCount: {} };
    expect(m.stats(cache as never, versions, []).keyEvents).toEqual({
      state: 'none',
      disconnects: 0,
    });
    m.keyEventBusState('connected', new Date('2026-01-01T00:00:00Z'));
    m.keyEventBusState('disconnected', new Date('2026-01-01T00:00:01Z'));
    m.keyEventBusState('disconnected', new Date('2026-01-01T00:00:02Z'));
    expect(m.stats(cache as never, versions, []).keyEvents).toEqual({
      state: 'disconnected',
      disconnects: 1,
      lastDisconnectAt: '2026-01-01T00:00:01.000Z',
    });
    m.keyEventBusState('connected', new Date('2026-01-01T00:00:03Z'));
    m.keyEventBusState('disconnected', new Date('2026-01-01T00:00:04Z'));
    expect(m.stats(cache as never, versions, []).keyEvents).toEqual({
      state: 'disconnected',
      disconnects: 2,
      lastDisconnectAt: '2026-01-01T00:00:04.000Z',
      lastReconnectAt: '2026-01-01T00:00:03.000Z',
    });
  });
});

describe('KeyEventHealth and reconnectBackoff', () => {
  it('tells each change once and survives a throwing listener', () => {
    const h = new KeyEventHealth();
    const seen: KeyEventBusState[] = [];
    h.listen(() => {
      throw new Error('listener bug');
    });
    h.listen((s) => seen.push(s));
    h.set('connected');
    h.set('disconnected');
    h.set('disconnected');
    h.set('connected');
    expect(seen).toEqual(['disconnected', 'connected']);
  });

  it('doubles up to the cap, with jitter between half and all of the delay', () => {
    const next = reconnectBackoff({ initialDelayMs: 100, maxDelayMs: 1000 });
    for (let i = 0; i < 200; i++) {
      const attempt = i % 12;
      const full = Math.min(1000, 100 * 2 ** attempt);
      const d = next(attempt);
      expect(d).toBeGreaterThanOrEqual(full / 2);
      expect(d).toBeLessThanOrEqual(full);
    }
    expect(() => reconnectBackoff({ initialDelayMs: 0 })).toThrow(TypeError);
    expect(() => reconnectBackoff({ initialDelayMs: 50, maxDelayMs: 10 })).toThrow(TypeError);
  });
});

/** A `pg` client stand-in: an emitter whose queries the test can make fail. */
class FakeClient extends EventEmitter implements PostgresListenClient {
  readonly queries: string[] = [];
  released: unknown = undefined;
  failQueries = false;
  query(text: string): Promise<unknown> {
    this.queries.push(text);
    return this.failQueries ? Promise.reject(new Error('broken')) : Promise.resolve({});
  }
  release(err?: Error | boolean): void {
    if (this.released !== undefined) throw new Error('released twice');
    this.released = err ?? false;
  }
}

function fakePool() {
  const clients: FakeClient[] = [];
  let failConnects = 0;
  let failListens = 0;
  const pool: PostgresEventsPool = {
    query: () => Promise.resolve({}),
    connect: () => {
      if (failConnects > 0) {
        failConnects--;
        return Promise.reject(
          Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
        );
      }
      const c = new FakeClient();
      if (failListens > 0) {
        failListens--;
        c.failQueries = true;
      }
      clients.push(c);
      return Promise.resolve(c);
    },
  };
  return {
    pool,
    clients,
    failNextConnects: (n: number) => (failConnects = n),
    failNextListens: (n: number) => (failListens = n),
  };
}

describe('postgresKeyEvents reconnection (fake pool)', () => {
  it('reports a lost LISTEN connection, reconnects with LISTEN again, and delivers again', async () => {
    const p = fakePool();
    const events = postgresKeyEvents(p.pool, { reconnect: { initialDelayMs: 1, maxDelayMs: 5 } });
    const states: string[] = [];
    events.onConnectionChange((s, cause) =>
      states.push(`${s}${cause instanceof Error ? `: ${cause.message}` : ''}`),
    );
    const got: string[] = [];
    events.subscribe((tenant) => got.push(tenant));
    await events.ready;
    const first = p.clients[0]!;
    expect(first.queries).toEqual(['LISTEN fieldseal_key_events']);

    p.failNextConnects(3); // the database is down for three attempts
    first.emit('error', new Error('terminating connection due to administrator command'));
    first.emit('end'); // pg emits both: handled once
    expect(events.state).toBe('disconnected');
    expect(first.released).toBeInstanceOf(Error); // the broken connection is destroyed
    await until(() => events.state === 'connected');
    expect(states).toEqual([
      'disconnected: terminating connection due to administrator command',
      'connected',
    ]);
    expect(p.clients.length).toBe(2);
    const second = p.clients[1]!;
    expect(second.queries).toEqual(['LISTEN fieldseal_key_events']);
    second.emit('notification', {
      channel: 'fieldseal_key_events',
      payload: JSON.stringify({ shred: 'acme' }),
    });
    first.emit('notification', {
      channel: 'fieldseal_key_events',
      payload: JSON.stringify({ shred: 'stale' }),
    });
    expect(got).toEqual(['acme', 'stale']); // late ones from the old connection are harmless
    await events.close();
    expect(second.released).toBe(true);
  });

  it('retries a first connection that fails (ready rejects), and a failed LISTEN', async () => {
    const p = fakePool();
    p.failNextConnects(1);
    const events = postgresKeyEvents(p.pool, { reconnect: { initialDelayMs: 1, maxDelayMs: 2 } });
    const states: KeyEventBusState[] = [];
    events.onConnectionChange((s) => states.push(s));
    events.subscribe(() => undefined);
    await expect(events.ready).rejects.toThrow('ECONNREFUSED');
    await until(() => states.length === 2);
    expect(states).toEqual(['disconnected', 'connected']);
    // LISTEN itself failing on a fresh connection is a loss too: that connection is
    // destroyed and the next attempt listens.
    p.failNextListens(1);
    p.clients[0]!.emit('error', new Error('gone'));
    expect(events.state).toBe('disconnected');
    await until(() => p.clients.length === 3 && events.state === 'connected');
    expect(p.clients[1]!.released).toBeInstanceOf(Error);
    expect(p.clients[2]!.queries).toEqual(['LISTEN fieldseal_key_events']);
    await events.close();
  });

  it('stops reconnecting on close()', async () => {
    const p = fakePool();
    const events = postgresKeyEvents(p.pool, { reconnect: { initialDelayMs: 20, maxDelayMs: 20 } });
    events.subscribe(() => undefined);
    await events.ready;
    p.clients[0]!.emit('error', new Error('gone'));
    await events.close();
    await new Promise((r) => setTimeout(r, 60)); // three retry periods
    expect(p.clients.length).toBe(1);
  });
});

describe('dynamoKeyEvents failing polls (fake client)', () => {
  it('reports disconnected on a failed poll, retries with backoff, connected on success', async () => {
    let failures = 3;
    let queries = 0;
    const client = {
      send: (command: unknown) => {
        if (!(command instanceof QueryCommand)) return Promise.resolve({});
        queries++;
        if (failures > 0) {
          failures--;
          return Promise.reject(
            Object.assign(new Error('throttled'), { name: 'ThrottlingException' }),
          );
        }
        return Promise.resolve({ Items: [] });
      },
    } as unknown as DynamoDBClient;
    const events = dynamoKeyEvents({
      client,
      tableName: 'keys',
      pollIntervalMs: 10,
      reconnect: { initialDelayMs: 10, maxDelayMs: 20 },
    });
    const states: string[] = [];
    events.onConnectionChange((s, cause) =>
      states.push(`${s}${cause instanceof Error ? ` ${cause.name}` : ''}`),
    );
    events.subscribe(() => undefined);
    await until(() => events.state === 'disconnected');
    await events.ready; // the first successful poll
    expect(events.state).toBe('connected');
    expect(states).toEqual(['disconnected ThrottlingException', 'connected']);
    expect(queries).toBeGreaterThanOrEqual(4);
    events.close();
    const after = queries;
    await new Promise((r) => setTimeout(r, 50));
    expect(queries).toBe(after);
  });
});
