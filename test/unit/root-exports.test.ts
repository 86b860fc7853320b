import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as config from '../../src/config/index.js';
import * as errors from '../../src/errors.js';
import * as root from '../../src/index.js';

/*
 * The run-time exports of `fieldseal`, `fieldseal/config` and `fieldseal/errors`, pinned: an
 * addition or a removal is a deliberate change to this list (and to the construction rule at
 * the top of src/index.ts), never a side effect of a re-export.
 */

/** `fieldseal/errors` (src/errors.ts); the root re-exports all of it. */
const ERRORS = [
  'AccessDeniedError',
  'AuditUnavailableError',
  'AuthenticationFailedError',
  'BackfillError',
  'BatchError',
  'ConditionFailedError',
  'ConfigNotFoundError',
  'FieldsealError',
  'InsecureKeyFileError',
  'InvalidContextError',
  'InvalidKeyMaterialError',
  'KeyCommitmentMismatchError',
  'KeyNotConfiguredError',
  'KeyNotFoundError',
  'KeyRetiredError',
  'KeyShreddedError',
  'KeyStoreUnavailableError',
  'KeyUnwrapFailedError',
  'KeyVersionActiveError',
  'KeyVersionInUseError',
  'MalformedCiphertextError',
  'MissingPeerError',
  'ModeForbiddenError',
  'PlaintextInEncryptedFieldError',
  'ProviderUnavailableError',
  'UnsupportedFormatError',
  'UnsupportedOptionError',
  'UnsupportedValueError',
  'ValueTooLargeError',
  'WrongKeyError',
  'isFieldsealError',
];

/** `fieldseal`, besides the errors: client, models, providers, secrets, redaction, ports. */
const ROOT_WITHOUT_ERRORS = [
  'DataKey',
  'EnvSecretSource',
  'FileSecretSource',
  'KeyProvider',
  'LocalKeyProvider',
  'MultiKeyProvider',
  'REDACTED',
  'SecretKey',
  'X25519KeyProvider',
  'callbackAuditSink',
  'createBlindIndexer',
  'createFieldseal',
  'decryptRecord',
  'decryptRecords',
  'decryptRecordsSettled',
  'defineModel',
  'defineModelFromSeedShape',
  'encryptRecord',
  'encryptRecords',
  'evaluateHealth',
  'field',
  'generateKeyFile',
  'generateX25519KeyPair',
  'guardKeyStore',
  'inspectEnvelope',
  'pinoRedactPaths',
  'readStatsSnapshot',
  'sensitive',
  'x25519PublicKey',
];

/** `fieldseal/config`: what the CLI runs on. */
const CONFIG = [
  'CONFIG_FILE',
  'initProject',
  'loadModel',
  'lockDataDir',
  'openDatabase',
  'openDynamoFromConfig',
  'openFromConfig',
  'providerFromConfig',
  'readConfig',
  'runDoctor',
  'validateConfig',
];

/** Names (values and types) that must not come back to the root. */
const NOT_AT_ROOT = [
  // fieldseal/config
  ...CONFIG,
  'DoctorCheck',
  'FieldsealConfig',
  'InitReport',
  'OpenDynamoOptions',
  'OpenedDatabase',
  'OpenedDynamo',
  'OpenedFieldseal',
  'ProviderConfig',
  // audit-chain internals
  'AUDIT_CHAIN_FORMAT',
  'AUDIT_GENESIS_HASH',
  'AuditChainKey',
  'AuditHead',
  'AuditRecordInput',
  'encodeAuditRecord',
  'hashAuditRecord',
  // the client's cache
  'CacheLease',
  'DataKeyCache',
];

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Every export name of the root entry point, types included, as the compiler sees it. */
function rootExportNames(): string[] {
  const entry = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  return checker.getExportsOfModule(module).map((s) => s.getName());
}

describe('the exports of the entry points', () => {
  it('fieldseal/errors exports exactly the error classes and isFieldsealError', () => {
    expect(Object.keys(errors).sort(byName)).toEqual([...ERRORS].sort(byName));
  });

  it('fieldseal exports exactly this list (the errors included)', () => {
    expect(Object.keys(root).sort(byName)).toEqual(
      [...ROOT_WITHOUT_ERRORS, ...ERRORS].sort(byName),
    );
  });

  it('fieldseal/config exports exactly this list', () => {
    expect(Object.keys(config).sort(byName)).toEqual([...CONFIG].sort(byName));
  });

  it('the root has none of the config/CLI functions, audit-chain internals or the cache', () => {
    const names = new Set(rootExportNames());
    expect(names.size).toBeGreaterThan(ROOT_WITHOUT_ERRORS.length + ERRORS.length);
    expect(NOT_AT_ROOT.filter((n) => names.has(n))).toEqual([]);
  }, 30_000);
});
