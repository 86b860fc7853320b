/**
 * `fieldseal/config`: what the `fieldseal` CLI runs on, for applications that share its
 * `fieldseal.config.json` — read and validate the file, open a client (and its database, or a
 * DynamoDB client) from it, scaffold a project, load a model file, run the doctor's checks.
 *
 * The optional peers (`pg`, `@electric-sql/pglite`, the AWS SDK, `commander`) are loaded only
 * by the functions that need them: importing this entry point needs none of them installed.
 * See docs/cli.md.
 *
 * @example
 * ```ts
 * import { openFromConfig, readConfig } from 'fieldseal/config';
 * const { fs, close } = await openFromConfig(readConfig('fieldseal.config.json'));
 * try {
 *   console.log(await fs.encrypt('x', { tenant: 'acme', table: 't', field: 'f', record: '1' }));
 * } finally {
 *   await close();
 * }
 * ```
 * @module
 */
export { CONFIG_FILE, readConfig, validateConfig, type FieldsealConfig } from './config-file.js';
export { lockDataDir } from './data-dir-lock.js';
export {
  openDatabase,
  openFromConfig,
  type OpenedDatabase,
  type OpenedFieldseal,
} from './open-from-config.js';
export {
  openDynamoFromConfig,
  type OpenDynamoOptions,
  type OpenedDynamo,
} from './open-dynamo-from-config.js';
export { initProject, type InitReport } from './init-project.js';
export { loadModel } from './load-model.js';
export { providerFromConfig, type ProviderConfig } from './provider-config.js';
export { runDoctor, type DoctorCheck } from './doctor.js';
