import { describe } from 'vitest';
import { PostgresSealedSecretStorage } from '../../src/postgres/repository/tenant-index-secrets.js';
import { runSealedSecretStorageSuite } from '../conformance/sealed-secret-storage-suite.js';
import { onBothBackends } from './repository-backends.js';

/** The PostgreSQL table of sealed blind-index secrets: PGlite always, the server with its URL. */
onBothBackends((backend, sql) => {
  describe(backend, () => {
    let created = false;
    runSealedSecretStorageSuite(`PostgresSealedSecretStorage on ${backend}`, async () => {
      const storage = new PostgresSealedSecretStorage(sql(), 'conformance_bi_secrets');
      if (!created) await storage.createTable();
      created = true;
      return storage;
    });
  });
});
