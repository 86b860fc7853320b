import { afterAll, beforeAll, describe, it } from 'vitest';
import { runRepositoryContract } from '../../src/testing/index.js';
import { postgresBackend } from './postgres-contract-backend.js';
import { onBothBackends } from './repository-backends.js';

/**
 * The repository contract (fieldseal/testing) against the PostgreSQL repository
 * (`createPostgresRepository`), on embedded PGlite and on the PostgreSQL server of
 * `FIELDSEAL_TEST_PG_URL`, with the PostgreSQL key store on the same database.
 */

onBothBackends((backend, sql) => {
  runRepositoryContract(
    { describe, it, beforeAll, afterAll },
    {
      ...postgresBackend(`PostgreSQL repository on ${backend}`, sql),
      capabilities: { findByAny: true, reencrypt: true },
    },
  );
});
