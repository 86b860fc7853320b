import type { FieldsealStats } from '../metrics/fieldseal-stats.js';

/**
 * The sum of several clients' {@link FieldsealStats} counters, for observable instruments:
 * an OpenTelemetry callback may observe each attribute set once, so the clients sharing one
 * sink are added up first. Cumulative counters only, plus `entries` (a current value).
 * @internal
 */
export class StatsTotals {
  encrypted = 0;
  decrypted = 0;
  hits = 0;
  misses = 0;
  evictions = 0;
  entries = 0;
  readonly keyVersions = new Map<string, number>();
  /** Embedded reads by provider id only: master key ids may name tenants. */
  readonly embeddedByProvider = new Map<string, number>();
  readonly plaintextReads = new Map<string, number>();

  /** Add one client's stats (`entries` too only when `current`: a closed client holds none). */
  add(s: FieldsealStats, current: boolean): this {
    this.encrypted += s.values.encrypted;
    this.decrypted += s.values.decrypted;
    this.hits += s.cache.hits;
    this.misses += s.cache.misses;
    this.evictions += s.cache.evictions;
    if (current) this.entries += s.cache.entries;
    for (const [label, n] of Object.entries(s.valuesReadByKeyVersion)) {
      bump(this.keyVersions, label, n);
    }
    for (const [label, n] of Object.entries(s.valuesReadByMasterKey)) {
      // Provider ids match [a-z0-9._-]: the first ':' ends one.
      bump(this.embeddedByProvider, label.slice(0, label.indexOf(':')), n);
    }
    for (const [field, n] of Object.entries(s.plaintextReads)) bump(this.plaintextReads, field, n);
    return this;
  }

  /** Add another total (the retired clients' figures). */
  addTotals(t: StatsTotals): this {
    this.encrypted += t.encrypted;
    this.decrypted += t.decrypted;
    this.hits += t.hits;
    this.misses += t.misses;
    this.evictions += t.evictions;
    this.entries += t.entries;
    for (const [k, n] of t.keyVersions) bump(this.keyVersions, k, n);
    for (const [k, n] of t.embeddedByProvider) bump(this.embeddedByProvider, k, n);
    for (const [k, n] of t.plaintextReads) bump(this.plaintextReads, k, n);
    return this;
  }
}

function bump(map: Map<string, number>, key: string, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}
