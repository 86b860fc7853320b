/**
 * Test helpers: a real in-memory key provider with fault injection, an in-memory key store, and
 * the repository contract every fieldseal repository or ORM integration must pass
 * (`runRepositoryContract`). Nothing here turns encryption off.
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
