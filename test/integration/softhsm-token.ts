import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { available } from '../requirements-available.js';
import { DEFAULT_SOFTHSM_LIBRARY } from '../requirements.js';

/**
 * A throw-away SoftHSM2 token for the PKCS#11 suites (how it starts: `apt-get install -y
 * softhsm2`, which .ci/run does). Creates a temporary token directory and config, points
 * `SOFTHSM2_CONF` at it — before any provider initialises the library, which reads the
 * variable once in `C_Initialize` — and initialises one token by label.
 *
 * Without SoftHSM2 (`softhsm2-util` on PATH and the library file; detected once by
 * test/global-setup.ts) the suites are skipped and the run's summary says so;
 * `FIELDSEAL_SKIP_PKCS11=1` skips them explicitly. Under `FIELDSEAL_REQUIRE_ALL=1` (CI) a
 * missing SoftHSM2 fails the run instead.
 */
export const SOFTHSM_LIBRARY = process.env.FIELDSEAL_TEST_PKCS11_LIBRARY ?? DEFAULT_SOFTHSM_LIBRARY;
export const SKIP_PKCS11 = !available('softhsm2');

/** A token made by {@link createSoftHsmToken}. */
export interface SoftHsmToken {
  readonly label: string;
  readonly pin: string;
  readonly dir: string;
  /** Remove the token directory and restore `SOFTHSM2_CONF`. */
  cleanup(): void;
}

/**
 * Initialise fresh tokens (`label`, then each of `extraLabels`, all with `pin`) in one
 * temporary directory.
 * @throws Error telling how to install SoftHSM2 when `softhsm2-util` is missing.
 */
export function createSoftHsmToken(
  label = 'fieldseal-test',
  extraLabels: readonly string[] = [],
  pin = '71938402',
): SoftHsmToken {
  const dir = mkdtempSync(join(tmpdir(), 'fieldseal-softhsm-'));
  const tokens = join(dir, 'tokens');
  const conf = join(dir, 'softhsm2.conf');
  const previous = process.env.SOFTHSM2_CONF;
  try {
    mkdirSync(tokens);
    writeFileSync(
      conf,
      `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`,
    );
    process.env.SOFTHSM2_CONF = conf;
    try {
      for (const l of [label, ...extraLabels]) {
        execFileSync(
          'softhsm2-util',
          ['--init-token', '--free', '--label', l, '--pin', pin, '--so-pin', '58302917'],
          { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'pipe' },
        );
      }
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      throw new Error(
        missing
          ? 'softhsm2-util not found: install SoftHSM2 (apt-get install -y softhsm2) or set FIELDSEAL_SKIP_PKCS11=1'
          : 'softhsm2-util --init-token failed',
        { cause: err },
      );
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    restore(previous);
    throw err;
  }
  return {
    label,
    pin,
    dir,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      restore(previous);
    },
  };
}

function restore(previous: string | undefined): void {
  if (previous === undefined) delete process.env.SOFTHSM2_CONF;
  else process.env.SOFTHSM2_CONF = previous;
}
