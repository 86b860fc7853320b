import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { KeyStoreUnavailableError } from '../errors.js';

/**
 * An exclusive lock on an embedded database directory. PGlite lets two instances open one
 * data directory without complaint and they then corrupt each other; this lock file (created
 * with O_EXCL, holding the owner's pid) refuses the second opener. A lock whose process is
 * gone is taken over.
 * @example
 * ```ts
 * const release = lockDataDir('.fieldseal/db');
 * try { ... } finally { release(); }
 * ```
 */
export function lockDataDir(dataDir: string): () => void {
  const lockPath = `${dataDir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          unlinkSync(lockPath);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(lockPath, 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) break;
      if (owner === process.pid) break;
      unlinkSync(lockPath); // stale: its process is gone
    }
  }
  throw new KeyStoreUnavailableError(
    `embedded database ${dataDir} is open in another process (lock ${lockPath})`,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
