// Timing and formatting helpers for bench/run.js. Plain ESM, node:* only.
import { hrtime } from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';

/** A wrong round-trip or any other correctness failure: the benchmark exits non-zero. */
export class BenchFailure extends Error {}

export function check(condition, message) {
  if (!condition) throw new BenchFailure(message);
}

// ---------------------------------------------------------------------------------------
// Contention guard. On a shared machine, other processes (or the hypervisor: steal time)
// take the CPU away from the benchmark in bursts, which shows up as runs 2-3x slower than
// their neighbours. Around each run we read this process's CPU time (process.cpuUsage(),
// microsecond resolution; stolen and descheduled time does not count as ours): a run during
// which the process was on a CPU for less than MIN_OWN of the wall time was not measuring
// fieldseal or OpenSSL, so it is thrown away and repeated after a short pause. The timings
// themselves stay wall-clock (hrtime); the guard only chooses which runs count.
// ---------------------------------------------------------------------------------------

export const MIN_OWN = Number(process.env.BENCH_MIN_OWN ?? 0.9);
const MAX_RETRIES_PER_RUN = 5;
const RETRY_PAUSE_MS = 100;
// Stop repeating runs once this much time went into repeats (the machine stays busy).
const guard = {
  rejected: 0,
  forced: 0,
  budgetNs: Number(process.env.BENCH_RETRY_BUDGET_S ?? 10) * 1e9,
};

function cpuNow() {
  const u = process.cpuUsage();
  return u.user + u.system; // microseconds, all threads of this process
}

/** Share of the wall time during which this process was running on a CPU. */
function ownShare(cpuBefore, cpuAfter, ns) {
  return ns > 0 ? ((cpuAfter - cpuBefore) * 1000) / ns : 1;
}

export function guardStats() {
  return { rejected: guard.rejected, forced: guard.forced };
}

/** Whether a run with this own-CPU share counts; records a rejection or a forced keep. */
async function accept(share, attempt, retryNs, stats) {
  if (share >= MIN_OWN) return true;
  if (attempt >= MAX_RETRIES_PER_RUN || guard.budgetNs <= 0) {
    guard.forced++;
    stats.forced++;
    return true;
  }
  guard.rejected++;
  stats.rejected++;
  guard.budgetNs -= retryNs + RETRY_PAUSE_MS * 1e6;
  await sleep(RETRY_PAUSE_MS);
  return false;
}

// ---------------------------------------------------------------------------------------

/**
 * One series to measure. `kind` is 'async' (the loop awaits each call) or 'sync'.
 * `op()` performs one operation; `verify(lastResult)` checks the last result of a run.
 */
export function series(name, kind, op, verify) {
  return { name, kind, op, verify, n: 0, block: 0, samples: [] };
}

/** Time `n` calls of `s.op` (awaited one by one for async series). */
async function timeBlock(s, n) {
  let last;
  const op = s.op;
  let t0;
  let t1;
  if (s.kind === 'async') {
    t0 = hrtime.bigint();
    for (let i = 0; i < n; i++) last = await op();
    t1 = hrtime.bigint();
  } else {
    t0 = hrtime.bigint();
    for (let i = 0; i < n; i++) last = op();
    t1 = hrtime.bigint();
  }
  return { ns: Number(t1 - t0), last };
}

/** Run `s.op` `n` times and verify the last result (outside the timed section). */
async function runOnce(s, n) {
  const cpu0 = cpuNow();
  const { ns, last } = await timeBlock(s, n);
  const share = ownShare(cpu0, cpuNow(), ns);
  await s.verify(last);
  return { ns, share };
}

/**
 * Time `fn` once under the contention guard (used for single timed batches). Returns ns of
 * the accepted attempt; `fn` must be repeatable.
 */
export async function timedGuarded(fn, stats) {
  for (let attempt = 0; ; attempt++) {
    const cpu0 = cpuNow();
    const t0 = hrtime.bigint();
    await fn();
    const t1 = hrtime.bigint();
    const ns = Number(t1 - t0);
    if (await accept(ownShare(cpu0, cpuNow(), ns), attempt, ns, stats)) return ns;
  }
}

/** Warm the series up, then choose N so that one run takes about `targetMs`. */
export async function calibrate(s, targetMs, warmMs) {
  // Warm-up: JIT, inline caches, OpenSSL cipher fetch caches.
  let n = 16;
  let spent = 0;
  while (spent < warmMs * 1e6) {
    spent += (await runOnce(s, n)).ns;
    if (n < 1 << 20) n *= 2;
  }
  // Calibration: grow until one run takes at least 20 ms, then scale to the target.
  for (let attempt = 0; ; attempt++) {
    n = 16;
    let r = await runOnce(s, n);
    while (r.ns < 20e6) {
      n *= 2;
      r = await runOnce(s, n);
    }
    s.n = Math.max(16, Math.round((n * targetMs * 1e6) / r.ns));
    if (r.share >= MIN_OWN || attempt >= 2) return;
    await sleep(RETRY_PAUSE_MS);
  }
}

/** Blocks per run: each run of N ops is cut into this many blocks, interleaved across series. */
export const BLOCKS = 20;

/**
 * Measure a group of series (fieldseal and its raw baselines) with fine-grained
 * interleaving. One run of a series is N ops (about RUN_MS); it is executed as BLOCKS blocks
 * of N/BLOCKS ops, and the blocks of all series of the group alternate (order rotated per
 * block). So every series' run covers the same window of time as the others', and slow
 * drift of the machine (other VMs, frequency, other processes) hits fieldseal and the raw
 * baseline alike instead of landing on one of them. Each run yields one ns/op sample per
 * series; the median over `runs` runs is reported. A run during which the process was off
 * the CPU too much is repeated (contention guard).
 */
export async function measureGroup(group, runs) {
  const stats = { rejected: 0, forced: 0 };
  for (const s of group) s.block = Math.max(1, Math.ceil(s.n / BLOCKS));
  for (let r = 0; r < runs; r++) {
    for (let attempt = 0; ; attempt++) {
      const acc = group.map(() => 0);
      const last = group.map(() => undefined);
      const cpu0 = cpuNow();
      const w0 = hrtime.bigint();
      for (let b = 0; b < BLOCKS; b++) {
        for (let i = 0; i < group.length; i++) {
          const k = (i + b + r) % group.length;
          const t = await timeBlock(group[k], group[k].block);
          acc[k] += t.ns;
          last[k] = t.last;
        }
      }
      const wall = Number(hrtime.bigint() - w0);
      const share = ownShare(cpu0, cpuNow(), wall);
      for (let k = 0; k < group.length; k++) await group[k].verify(last[k]);
      if (await accept(share, attempt, wall, stats)) {
        group.forEach((s, k) => s.samples.push(acc[k] / (s.block * BLOCKS)));
        break;
      }
    }
  }
  for (const s of group) {
    const sorted = [...s.samples].sort((a, b) => a - b);
    s.median = median(sorted);
    s.min = sorted[0];
    s.max = sorted[sorted.length - 1];
    s.n = s.block * BLOCKS;
  }
  return stats;
}

/**
 * Calibrate a group twice (the first pass only warms: V8 compiles in the background), then
 * measure it with {@link measureGroup}; returns each series' median ns/op.
 */
export async function calibrateAndMeasure(group, runs, runMs, warmMs = 30) {
  for (let pass = 0; pass < 2; pass++) for (const s of group) await calibrate(s, runMs, warmMs);
  await measureGroup(group, runs);
  return group.map((s) => s.median);
}

export function median(sorted) {
  const m = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

export function fmtInt(x) {
  return Math.round(x).toLocaleString('en-US');
}

export function fmtRatio(x) {
  return `${x.toFixed(2)}x`;
}

export function fmtPct(x) {
  return `${(x * 100).toFixed(1)}%`;
}

/**
 * Render rows (arrays of strings) as an aligned plain-text table. `align` holds 'l' or 'r'
 * per column.
 */
export function table(headers, rows, align) {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => String(r[c]).length)));
  const cell = (v, c) => {
    const s = String(v);
    return align[c] === 'l' ? s.padEnd(widths[c]) : s.padStart(widths[c]);
  };
  const lines = [];
  lines.push(headers.map(cell).join('  ').trimEnd());
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) lines.push(r.map(cell).join('  ').trimEnd());
  return lines.join('\n');
}
