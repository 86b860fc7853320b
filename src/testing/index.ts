/**
 * Test helpers: a real in-memory key provider with fault injection, an in-memory key store, the
 * repository contract every fieldseal repository or ORM integration must pass
 * (`runRepositoryContract`), and the conformance suites of the plug points
 * (`runKeyProviderSuite`, `runKeyStoreSuite`, `runSecretSourceSuite`,
 * `runSealedSecretStorageSuite`). The suites and the contract take your runner's
 * `{ describe, it, beforeAll, afterAll }` and assert with `node:assert/strict`, so they run
 * under Vitest, Jest or `node:test`. Nothing here turns encryption off.
 *
 * @example
 * ```ts
 * import { MemoryKeyProvider, MemoryKeyStore, runRepositoryContract } from 'fieldseal/testing';
 * ```
 * @module
 */
export { MemoryKeyProvider, type InjectedFault } from './memory-key-provider.js';
export { MemoryKeyStore } from '../keys/memory-key-store.js';
export {
  runRepositoryContract,
  type ContractTestFunctions,
  type RepositoryContractAdapter,
  type RepositoryContractBackend,
  type RepositoryContractCapabilities,
  type RepositoryContractSetup,
  type RepositoryUnderTest,
  type StoredValueRef,
} from './repository-contract.js';
export {
  CONTRACT_INDEXED_FIELDS,
  RepositoryContractModel,
  type ContractIndexedField,
  type ContractJson,
  type RepositoryContractRecord,
} from './repository-contract-model.js';
export { runKeyProviderSuite, type KeyProviderSuiteSetup } from './key-provider-suite.js';
export { runKeyStoreSuite } from './key-store-suite.js';
export { runSecretSourceSuite, type SecretSourceSuiteSetup } from './secret-source-suite.js';
export { runSealedSecretStorageSuite } from './sealed-secret-storage-suite.js';
export {
  runBlindIndexSourceSuite,
  type BlindIndexSourceSuiteSetup,
} from './blind-index-source-suite.js';
