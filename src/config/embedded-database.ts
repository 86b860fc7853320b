import type { PGlite } from '@electric-sql/pglite';
import { MissingPeerError } from '../errors.js';

/**
 * Load the embedded database engine, an optional peer dependency: an application that uses
 * only the library, or a PostgreSQL server, never installs it. Missing, it is a
 * `MissingPeerError` naming the package and the `npm install` that fixes it, not a
 * module-resolution stack trace.
 *
 * @throws MissingPeerError (`ERR_MISSING_PEER`) when `@electric-sql/pglite` is not installed.
 * @internal
 */
export async function loadPGlite(): Promise<typeof PGlite> {
  try {
    return (await import('@electric-sql/pglite')).PGlite;
  } catch (cause) {
    const { code, message } = cause as NodeJS.ErrnoException;
    // Only the package itself missing; a broken install inside it stays its own error.
    if (code !== 'ERR_MODULE_NOT_FOUND' || !message.includes("'@electric-sql/pglite'")) throw cause;
    throw new MissingPeerError(
      'the embedded database needs the optional peer dependency @electric-sql/pglite: ' +
        'npm install @electric-sql/pglite (or configure a PostgreSQL server)',
      { cause, details: { reference: '@electric-sql/pglite' } },
    );
  }
}
