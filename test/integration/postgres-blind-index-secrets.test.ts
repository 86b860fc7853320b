import { afterAll, beforeAll, describe, it } from 'vitest';
import { PostgresSealedSecretStorage } from '../../src/postgres/repository/tenant-index-secrets.js';
import { runSealedSecretStorageSuite } from '../../src/testing/index.js';
import { onBothBackends } from './repository-backends.js';

/** The PostgreSQL table of sealed blind-index secrets: PGlite always, the server with its URL. */
onBothBackends((backend, sql) => {
  describe(backend, () => {
    let created = false;
    runSealedSecretStorageSuite(
      { describe, it, beforeAll, afterAll },
      `PostgresSealedSecretStorage on ${backend}`,
      async () => {
        const storage = new PostgresSealedSecretStorage(sql(), 'conformance_bi_secrets');
        if (!created) await storage.createTable();
        created = true;
        return storage;
      },
    );
  });
});
