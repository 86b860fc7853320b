import type { BackfillProgress } from '../postgres/backfill/index.js';

/** `1:02:03` / `4:05` for a number of seconds. Output formatting only. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** One progress line: bar, rows done / total, rate, ETA. Output formatting only. */
export function progressLine(p: BackfillProgress, width = 30): string {
  const ratio = p.rowsTotal === 0 ? 1 : Math.min(1, p.rowsDone / p.rowsTotal);
  const filled = Math.round(ratio * width);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const eta = p.etaSeconds === undefined ? '--:--' : formatDuration(p.etaSeconds);
  return (
    `${bar} ${(ratio * 100).toFixed(1).padStart(5)}%  ${n(p.rowsDone)}/${n(p.rowsTotal)} rows` +
    `  ${n(p.rowsPerSecond)} rows/s  ETA ${eta}  (${p.chunksDone}/${p.chunks} chunks, ${n(p.rowsWritten)} rewritten)`
  );
}

/**
 * A progress reporter for a stream: redraws one line on a terminal, prints a line at most
 * every `intervalMs` otherwise (logs, CI). Output formatting only.
 */
export function progressReporter(
  stream: NodeJS.WriteStream,
  intervalMs = 2000,
): { update: (p: BackfillProgress) => void; done: () => void } {
  let last = 0;
  let pending: BackfillProgress | undefined;
  return {
    update(p) {
      pending = p;
      if (stream.isTTY) {
        stream.write(`\r${progressLine(p)}\u001b[K`);
        return;
      }
      const now = Date.now();
      if (now - last >= intervalMs) {
        last = now;
        stream.write(`${progressLine(p)}\n`);
        pending = undefined;
      }
    },
    done() {
      if (stream.isTTY) stream.write('\n');
      else if (pending !== undefined) stream.write(`${progressLine(pending)}\n`);
    },
  };
}
