import { MemoryKeyStore } from '../../src/testing/index.js';
import { runKeyStoreSuite } from '../conformance/key-store-suite.js';

runKeyStoreSuite('MemoryKeyStore', () => new MemoryKeyStore());
