import { afterAll, beforeAll, describe, it } from 'vitest';
import { MemoryKeyStore, runKeyStoreSuite } from '../../src/testing/index.js';

runKeyStoreSuite(
  { describe, it, beforeAll, afterAll },
  'MemoryKeyStore',
  () => new MemoryKeyStore(),
);
