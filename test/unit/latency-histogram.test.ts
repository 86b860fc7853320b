import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../src/metrics/latency-histogram.js';

/** Nearest-rank percentile of exact samples (what the histogram approximates). */
function exact(sorted: readonly number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

/** The documented bound: 1/32 relative, or 0.5 ns (5e-7 ms) for values below 16 ns. */
function withinBound(estimateMs: number, exactMs: number): boolean {
  const tolerance = Math.max(exactMs / 32, 0.5e-6) + 1e-12;
  return Math.abs(estimateMs - exactMs) <= tolerance;
}

const QUANTILES = [0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1];

/** Deterministic pseudo-random numbers (xorshift32) so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

const DISTRIBUTIONS: Record<string, (r: () => number) => number> = {
  // 100 ns .. 10 s, log-uniform: every octave of the range gets samples.
  'log-uniform 100 ns - 10 s': (r) => 1e-4 * 10 ** (5 * r()),
  // Warm path with a few cold key loads (the shape fieldseal actually produces).
  'bimodal 2 µs / 20 ms': (r) => (r() < 0.995 ? 0.002 + 0.001 * r() : 15 + 10 * r()),
  'exponential, mean 1 ms': (r) => -Math.log(1 - r()),
  'sub-16 ns': (r) => 1e-6 * Math.floor(16 * r()),
  constant: () => 0.0123,
};

describe('LatencyHistogram', () => {
  for (const [name, draw] of Object.entries(DISTRIBUTIONS)) {
    it(`percentiles are within 1/32 of the exact ones: ${name}`, () => {
      const r = rng(name.length * 7919);
      const h = new LatencyHistogram();
      const samples: number[] = [];
      for (let i = 0; i < 20_000; i++) {
        const ms = draw(r);
        samples.push(ms);
        h.record(ms);
      }
      samples.sort((a, b) => a - b);
      for (const q of QUANTILES) {
        const got = h.percentile(q);
        const want = exact(samples, q);
        expect(withinBound(got, want), `q=${q}: got ${got} ms, exact ${want} ms`).toBe(true);
      }
      const snap = h.snapshot();
      expect(snap.count).toBe(samples.length);
      expect(snap.maxMs).toBeCloseTo(samples.at(-1)!, 9);
      const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
      expect(Math.abs(snap.meanMs - mean)).toBeLessThanOrEqual(mean * 1e-9 + 1e-12);
    });
  }

  it('holds the bound for any sample set (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 600_000, noNaN: true }), {
          minLength: 1,
          maxLength: 300,
        }),
        fc.constantFrom(...QUANTILES),
        (values, q) => {
          const h = new LatencyHistogram();
          for (const v of values) h.record(v);
          const sorted = [...values].sort((a, b) => a - b);
          return withinBound(h.percentile(q), exact(sorted, q));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('holds the bound for any sample set spread over every octave (property, log scale)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.double({ min: -7, max: 6, noNaN: true }).map((e) => 10 ** e),
          { minLength: 1, maxLength: 300 },
        ),
        fc.constantFrom(...QUANTILES),
        (values, q) => {
          const h = new LatencyHistogram();
          for (const v of values) h.record(v);
          const sorted = [...values].sort((a, b) => a - b);
          return withinBound(h.percentile(q), exact(sorted, q));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a 1/16 bucket would be visible: values 4% apart stay apart', () => {
    // Guards the claimed resolution: a histogram with power-of-two buckets would merge these.
    const h = new LatencyHistogram();
    for (let i = 0; i < 50; i++) h.record(0.01);
    for (let i = 0; i < 50; i++) h.record(0.0104);
    expect(h.percentile(0.5)).toBeLessThan(0.0102);
    expect(h.percentile(1)).toBeGreaterThan(0.0102);
  });

  it('weighted samples count as that many samples', () => {
    const weighted = new LatencyHistogram();
    const repeated = new LatencyHistogram();
    weighted.recordMany(0.5, 99);
    weighted.recordMany(40, 1);
    for (let i = 0; i < 99; i++) repeated.record(0.5);
    repeated.record(40);
    expect(weighted.snapshot()).toEqual(repeated.snapshot());
    expect(weighted.count).toBe(100);
    expect(weighted.percentile(0.99)).toBeCloseTo(0.5, 1);
    expect(weighted.percentile(1)).toBe(40);
    weighted.recordMany(1, 0);
    expect(weighted.count).toBe(100);
  });

  it('empty, negative, NaN and enormous samples', () => {
    const h = new LatencyHistogram();
    expect(h.snapshot()).toEqual({ count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 });
    h.record(-3);
    h.record(Number.NaN);
    expect(h.snapshot()).toMatchObject({ count: 2, p50Ms: 0, maxMs: 0 });
    h.record(3_600_000); // one hour: beyond the last bucket, reported as the exact maximum
    expect(h.percentile(1)).toBe(3_600_000);
    expect(h.snapshot().maxMs).toBe(3_600_000);
    expect(() => h.percentile(0)).toThrow(RangeError);
    expect(() => h.percentile(1.5)).toThrow(RangeError);
  });
});
